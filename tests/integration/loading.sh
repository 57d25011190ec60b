#!/usr/bin/env bash
# A startup that talks. While kvd replays a WAL that takes seconds to load
# (KVD_TEST_LOAD_DELAY_MS slows the replay down, see src/loading.h), it
# accepts connections at once, answers INFO with loading:1 and a rising
# loading_loaded_perc, runs what Redis allows while loading and gives
# every other command -LOADING; the log shows its progress; a listener on
# NOTIFY_SOCKET (systemd's notify protocol, a path or an '@' abstract
# name) gets STATUS= lines, READY=1 only once the data is loaded, and
# STOPPING=1 at shutdown. Then all the data is there, and a connection
# made while loading works as any other. A SHUTDOWN or SIGTERM while
# loading exits 0 without writing to the data dir. kvd-cli (--wait-ready),
# redis-cli and redis-py see -LOADING as they would from Redis.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip [$NAME]: $PY not installed"; exit 77; }
"$PY" -c 'import redis' 2>/dev/null || { echo "skip [$NAME]: python3-redis not installed"; exit 77; }
CLI=$B/src/kvd-cli
N=100000   # SETs with 100-byte values: a WAL of about 17 MB
DELAY=250  # ms the replay waits before each MB it reads: over 4 s in all
LOADING="LOADING Redis is loading the dataset in memory"

# The data dir: made by kvd (manifest, segment 1), filled by walgen.
start_kvd d || { fail "start on an empty dir"; finish; }
stop_kvd
"$WALGEN" "$T/d/kvd.incr.1.jsonl" "$N" 100 >/dev/null || { fail "walgen"; finish; }
WALSIZE=$(stat -c %s "$T/d/kvd.incr.1.jsonl")

# A notify socket listener: one line per datagram (its lines joined by
# spaces) in OUT, until STOPPING=1 arrives or 120 s pass.
cat >"$T/listen.py" <<'PY'
import socket, sys
name, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + name[1:] if name.startswith("@") else name)
open(out, "w").close()
s.settimeout(120)
with open(out, "a") as f:
    while True:
        try:
            d = s.recv(4096).decode()
        except socket.timeout:
            break
        f.write(" ".join(d.split("\n")).strip() + "\n")
        f.flush()
        if "STOPPING=1" in d.split("\n"):
            break
PY
# listen NAME OUT: start a listener; wait until it is bound.
listen() {
    local out=$2
    rm -f "$out"
    "$PY" "$T/listen.py" "$1" "$out" &
    PIDS+=($!)
    wait_for 30 '[ -e "$out" ]' || fail "the notify listener did not start"
}

# start_loading LOG ENV... -- ARGS...: start kvd on $T/d with the slow
# replay and the environment ENV, on a free port; wait only until it
# listens (it does before the replay). Sets PORT and KPID.
start_loading() {
    local log=$1 env=() try; shift
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$(random_port)
        : >"$log"
        env KVD_TEST_LOAD_DELAY_MS=$DELAY "${env[@]}" "${VG[@]}" "$KVD" --bind 127.0.0.1 --port "$PORT" \
            --dir "$T/d" --logfile "$log" "$@" &
        KPID=$!
        PIDS+=("$KPID")
        wait_for 60 'listens "$PORT" "$KPID" || ! kill -0 "$KPID" 2>/dev/null'
        listens "$PORT" "$KPID" && return 0
        kill -9 "$KPID" 2>/dev/null
        wait "$KPID" 2>/dev/null
        grep -qi "address already in use" "$log" || break
    done
    echo "kvd did not start:"; tail -5 "$log"
    return 1
}

field() { sed -n "s/^$1://p" <<<"$2"; }
info_p() { cli info persistence | tr -d '\r'; }
# val I: walgen's value for key:I.
val() { "$PY" -c "import sys; i = int(sys.argv[1]); print(''.join(chr(97 + (i + j) % 26) for j in range(100)))" "$1"; }

# ---- a long start, watched by a client, the log and a notify socket ----
listen "$T/notify.sock" "$T/notify.out"
t_start=$(date +%s)
start_loading "$T/run1.log" NOTIFY_SOCKET="$T/notify.sock" -- --supervised auto || { fail "start"; finish; }
info=$(info_p)
expect_match "a client connects at once: INFO answers while loading" "^loading:1$" "$info"
for f in async_loading:0 loading_start_time:[0-9]+ loading_rdb_used_mem:0 loading_loaded_bytes:[0-9]+ \
    'loading_loaded_perc:[0-9]+\.[0-9]{2}' loading_eta_seconds:[0-9]+; do
    expect_match "INFO persistence while loading: ${f%%:*}" "^$f\$" "$info"
done
expect_eq "loading_total_bytes is the WAL's size" "$WALSIZE" "$(field loading_total_bytes "$info")"
expect_between "loading_start_time is when it started" "$t_start" "$(date +%s)" "$(field loading_start_time "$info")"
percs=("$(field loading_loaded_perc "$info")")
names_loading=$(sed -n 's/^\([a-z_0-9]*\):.*/\1/p' <<<"$info")

# A connection made while loading, used again once loaded.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\n' >&3
IFS= read -r -t 10 line <&3
expect_eq "PING while loading: -LOADING, as Redis" "-$LOADING" "${line%$'\r'}"

for c in "get key:1" "set k v" "del key:1" dbsize "scan 0" "watch key:1" bgrewriteaof "flushall"; do
    # shellcheck disable=SC2086  # the words of c are the command's
    expect_eq "$c: -LOADING" "$LOADING" "$(cli $c)"
done
expect_eq "ECHO runs while loading" "hi" "$(cli echo hi)"
expect_eq "SELECT 0 runs" "OK" "$(cli select 0)"
expect_eq "CONFIG GET runs" "$(printf 'appendfsync\neverysec')" "$(cli config get appendfsync)"
expect_eq "CONFIG SET maxmemory runs (applies once loaded)" "OK" "$(cli config set maxmemory 0)"
expect_eq "CONFIG SET requirepass runs" "OK" "$(cli config set requirepass loadpw)"
expect_match "... and applies at once" "^NOAUTH" "$(cli get key:1)"
expect_eq "AUTH runs while loading" "$LOADING" "$(cli -a loadpw --no-auth-warning get key:1)"
expect_eq "... and the password goes again" "OK" "$(cli -a loadpw --no-auth-warning config set requirepass '')"
expect_match "CLIENT LIST runs" "^id=" "$(cli client list)"
expect_match "TIME runs" "^[0-9]+$" "$(cli time | head -1)"
expect_match "COMMAND INFO shows the loading flag" "^loading$" "$(cli command info info)"
expect_eq "MULTI/EXEC of what may run" "$(printf '+OK\r\n+QUEUED\r\n*1\r\n$1\r\na\r\n')" \
    "$(raw 'MULTI\r\nECHO a\r\nEXEC\r\n')"
expect_eq "MULTI/EXEC with a refused command aborts, as Redis" \
    "$(printf '+OK\r\n-%s\r\n-EXECABORT Transaction discarded because of previous errors.\r\n' "$LOADING")" \
    "$(raw 'MULTI\r\nGET key:1\r\nEXEC\r\n')"

# The percentage rises; READY=1 has not come while INFO says loading:1.
early=0
deadline=$((SECONDS + 120))
while [ "$SECONDS" -lt "$deadline" ]; do
    ready=$(grep -c '^READY=1' "$T/notify.out")
    info=$(info_p)
    grep -q '^loading:1$' <<<"$info" || break
    [ "$ready" -eq 0 ] || early=1
    percs+=("$(field loading_loaded_perc "$info")")
    sleep 0.2
done
expect_eq "loading ended" "loading:0" "$(grep '^loading:' <<<"$info")"
expect_eq "no READY=1 while INFO said loading:1" 0 "$early"
rising=$(printf '%s\n' "${percs[@]}" | awk 'NR > 1 && $1 < prev { bad = 1 } { if (NR == 1) first = $1; prev = $1 }
    END { print (bad || NR < 2 || prev <= first) ? "no" : "yes" }')
expect_eq "loading_loaded_perc rises (${percs[*]})" yes "$rising"
wait_for 30 'grep -q "^READY=1" "$T/notify.out"' || fail "READY=1 did not arrive"
expect_eq "READY=1 says it is ready" "READY=1 STATUS=ready to accept connections" "$(grep '^READY=1' "$T/notify.out")"
expect_match "STATUS= lines while loading, with the percentage and ETA" \
    "^STATUS=loading: [0-9]+%, ETA [0-9]+ s$" "$(cat "$T/notify.out")"
expect_eq "STATUS lines come before READY=1" "READY=1" \
    "$(grep -v '^STATUS=loading' "$T/notify.out" | head -1 | cut -d' ' -f1)"
expect_eq "serving as soon as READY=1 arrived" "$(val 7)" "$(cli get key:7)"
names_loaded=$(info_p | sed -n 's/^\([a-z_0-9]*\):.*/\1/p')
expect_eq "INFO persistence while loading: every field it has once loaded, in order, then loading_*, as Redis" \
    "$names_loaded" "$(grep -v '^loading_' <<<"$names_loading")"
log=$(cat "$T/run1.log")
expect_match "the log says the load began" "loading the WAL in $T/d: [0-9.]+ MB; commands get -LOADING" "$log"
expect_match "the log shows progress" "loading: [0-9.]+ of [0-9.]+ MB \([0-9]+%\), [0-9]+ entries, [0-9.]+ s so far, ETA [0-9]+ s" "$log"
expect_match "... and the summary" "WAL in $T/d replayed: 1 file\(s\), $N entries applied, $WALSIZE bytes" "$log"
expect_match "... and says when it is ready" "ready to accept connections" "$log"

printf 'GET key:5\r\n' >&3
IFS= read -r -t 10 len <&3
IFS= read -r -t 10 body <&3
expect_eq "the connection made while loading works once loaded" \
    "\$100 $(val 5)" "${len%$'\r'} ${body%$'\r'}"
exec 3>&-

# Every key, with its value.
out=$("$PY" - "$PORT" "$N" <<'PY' 2>&1
import sys, redis
port, n = int(sys.argv[1]), int(sys.argv[2])
r = redis.Redis(port=port)
bad = 0
for start in range(0, n, 5000):
    keys = ["key:%d" % i for i in range(start, min(n, start + 5000))]
    for i, v in zip(range(start, start + len(keys)), r.mget(keys)):
        if v != "".join(chr(97 + (i + j) % 26) for j in range(100)).encode():
            bad += 1
print("dbsize %d, wrong %d" % (r.dbsize(), bad))
PY
)
expect_eq "all the data is there" "dbsize $N, wrong 0" "$out"
cli shutdown >/dev/null 2>&1
RC=0; wait "$KPID" || RC=$?
expect_eq "SHUTDOWN once loaded exits 0" 0 "$RC"
wait_for 30 'grep -q "^STOPPING=1" "$T/notify.out"' || fail "STOPPING=1 did not arrive"
expect_eq "STOPPING=1 at shutdown" "STOPPING=1 STATUS=shutting down" "$(grep '^STOPPING=1' "$T/notify.out")"

# ---- clients while loading: kvd-cli, redis-py; supervised no ----
listen "$T/notify2.sock" "$T/notify2.out"
start_loading "$T/run2.log" NOTIFY_SOCKET="$T/notify2.sock" -- --supervised no || { fail "start 2"; finish; }
expect_eq "kvd-cli prints -LOADING as it is" "$LOADING" "$("$CLI" -p "$PORT" get key:1)"
expect_eq "... on a terminal, as redis-cli" "(error) $LOADING" "$("$CLI" -p "$PORT" --no-raw get key:1)"
out=$("$CLI" -p "$PORT" --wait-ready 0.3 get key:1 2>&1); rc=$?
expect_eq "kvd-cli --wait-ready gives up after its deadline: exit 1" 1 "$rc"
expect_match "... and says why" "kvd at 127.0.0.1:$PORT is not ready after 0.3 s: $LOADING" "$out"
expect_match "ROLE answers while loading" "^master" "$(cli role | head -1)"
expect_eq "a subscribed RESP2 client gets the pub/sub refusal first, as Redis" \
    "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context" \
    "$(printf 'SUBSCRIBE c\r\nGET k\r\n' | timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r' | tail -1)"
out=$("$PY" - "$PORT" <<'PY' 2>&1
import sys, redis
from redis.backoff import ConstantBackoff
from redis.exceptions import BusyLoadingError
from redis.retry import Retry
port = int(sys.argv[1])
try:
    redis.Redis(port=port).get("key:1")
    print("no error")
except BusyLoadingError as e:
    print("BusyLoadingError: %s" % e)
# With a retry policy that covers it, redis-py waits the load out.
r = redis.Redis(port=port, retry=Retry(ConstantBackoff(0.1), 1200), retry_on_error=[BusyLoadingError])
print(len(r.get("key:99999")))
PY
)
expect_eq "redis-py raises BusyLoadingError by default; retries on it when asked" \
    "$(printf 'BusyLoadingError: Redis is loading the dataset in memory\n100')" "$out"
expect_eq "kvd-cli --wait-ready waits the load out" "$(val 3)" "$("$CLI" -p "$PORT" --wait-ready 120 get key:3)"
stop_kvd
expect_eq "SIGTERM once loaded exits 0" 0 "$RC"
expect_eq "supervised no: nothing sent to NOTIFY_SOCKET" "" "$(cat "$T/notify2.out")"

# --wait-ready keeps its deadline with a server that never answers, and a
# -NOAUTH (which says nothing about loading) is not taken for ready.
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/silent.port" &
SILENT=$!
wait_for 10 '[ -s "$T/silent.port" ]' || fail "no silent listener"
t0=$(now_ms)
out=$("$CLI" -p "$(cat "$T/silent.port")" --wait-ready 1 ping 2>&1); rc=$?
took=$(( $(now_ms) - t0 ))
kill "$SILENT" 2>/dev/null
expect_eq "--wait-ready 1 against a silent server: exit 1" 1 "$rc"
expect_eq "... within its deadline (${took} ms, 30 s allowed for a busy machine)" 1 "$(( took < 30000 ))"
start_loading "$T/run_pw.log" -- --requirepass secret || { fail "start pw"; finish; }
out=$("$CLI" -p "$PORT" --wait-ready 0.5 ping 2>&1); rc=$?
expect_eq "--wait-ready without the password while loading: not ready (exit 1)" 1 "$rc"
expect_match "... saying why" "NOAUTH" "$out"
expect_eq "... with it, waits the load out" PONG "$("$CLI" -p "$PORT" -a secret --wait-ready 120 ping 2>/dev/null)"
stop_kvd

# ---- SHUTDOWN and SIGTERM while loading: exit 0, nothing written ----
# The data dir's files, sizes, times and contents; not kvd.lock, which
# holds the pid of whoever locked the directory last.
snapshot() { (cd "$T/d" && ls -l --time-style=+%s.%N | grep -v ' kvd.lock$'; md5sum kvd.manifest kvd.incr.*); }
before=$(snapshot)
abstract="@kvd-test-$$-$RANDOM"
listen "$abstract" "$T/notify3.out"
start_loading "$T/run3.log" NOTIFY_SOCKET="$abstract" -- --supervised systemd || { fail "start 3"; finish; }
wait_for 60 '[ "$(field loading_loaded_bytes "$(info_p)")" -gt 0 ] 2>/dev/null' || fail "no progress seen"
expect_match "still loading" "^loading:1$" "$(info_p)"
cli shutdown >/dev/null 2>&1
RC=0; wait "$KPID" || RC=$?
expect_eq "SHUTDOWN while loading exits 0" 0 "$RC"
expect_match "... and says it wrote nothing" "SHUTDOWN command while loading the data: shutting down without writing anything" \
    "$(cat "$T/run3.log")"
expect_eq "... and wrote nothing" "$before" "$(snapshot)"
wait_for 30 'grep -q "^STOPPING=1" "$T/notify3.out"' || fail "STOPPING=1 did not arrive (abstract socket)"
expect_match "abstract NOTIFY_SOCKET: STATUS while loading" "^STATUS=loading: 0%$" "$(cat "$T/notify3.out")"
expect_eq "... no READY=1, and STOPPING=1" "STOPPING=1 STATUS=shutting down" "$(grep -v '^STATUS=' "$T/notify3.out")"

start_loading "$T/run4.log" -- || { fail "start 4"; finish; }
wait_for 60 '[ "$(field loading_loaded_bytes "$(info_p)")" -gt 0 ] 2>/dev/null' || fail "no progress seen"
stop_kvd
expect_eq "SIGTERM while loading exits 0" 0 "$RC"
expect_match "... says so" "received SIGTERM while loading the data: shutting down without writing anything" \
    "$(cat "$T/run4.log")"
expect_eq "... and wrote nothing" "$before" "$(snapshot)"

# The data dir still loads whole.
start_kvd d || fail "restart"
expect_eq "after both: every key loads" "$N" "$(cli dbsize)"
stop_kvd
finish
