#!/usr/bin/env bash
# No acknowledged write is lost or resurrected: the reproductions of the
# defects a hostile test found, each against the replies Redis gives.
# 1. Keys whose expiry passed before a restart: PERSIST, EXPIRE, RENAME
#    and APPEND that acted on them while they lived keep their effect.
# 2. Expiries at and above 2^53 ms are accepted and load again, also as
#    the last line, after a compaction, and through kvd-check-wal --fix.
# 3. SETRANGE and APPEND past proto-max-bulk-len, and SCAN COUNT near
#    LLONG_MAX, get errors or answers, never a dead server.
# 12. INCRBYFLOAT on a value with a NUL byte is not a float.
# 9. The compaction child dies with kvd, and a stale one is stopped at
#    the next start.
. "$(dirname "$0")/lib.sh"

# ---- 1: replay is the live semantics ----
start_kvd one --appendfsync always || fail "start"
# Each case: SET with a 3 s TTL and the command acting on it, pipelined;
# the reply shows it acted on the live key (a stall of 3 s between the
# two would show there, and the case is then tried again on a new key).
run_case() { # name key expected-reply command...
    local name=$1 want=$3 k=$2 try out; shift 3
    for try in 1 2 3; do
        out=$(printf '%s\n' "SET $k-$try v PX 3000" "$*" | sed "s/@K@/$k-$try/g" | cli | tail -n 1)
        [ "$out" == "$want" ] && { echo "$k-$try"; return; }
    done
    fail "$name: the command did not act on the live key ($out)"
}
p=$(run_case persist p 1 'PERSIST @K@')
x=$(run_case expire x 1 'EXPIRE @K@ 3600')
cli set a old >/dev/null
a=$(run_case rename b OK "RENAME @K@ a")
s=$(run_case append s 7 'APPEND @K@ ghijkl')
# Let the 3 s TTLs pass (sleeping longer is always safe), then a clean
# shutdown and a restart.
sleep 3.5
cli shutdown >/dev/null 2>&1
wait "$KPID"
restart_kvd one --appendfsync always || fail "restart"
expect_eq "1: PERSIST of a key that had a TTL survives its old expiry" v "$(cli get "$p")"
expect_eq "1: ... with no TTL" -1 "$(cli ttl "$p")"
expect_eq "1: EXPIRE 3600 after a short TTL survives" v "$(cli get "$x")"
expect_match "1: ... with the new TTL" "^3[56][0-9][0-9]$" "$(cli ttl "$x")"
expect_eq "1: RENAME over a key moved the volatile value, which then expired: the old value is not back" "" \
    "$(cli get a)"
expect_eq "1: APPEND kept the key's TTL, which passed: the key does not come back" "" "$(cli get "$s")"
expect_eq "1: the expired keys are deleted after the load" 2 "$(cli dbsize)"
expect_eq "1: kvd-check-wal agrees" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
stop_kvd

# ---- 2: expiries at and above 2^53 ms ----
start_redis ref || fail "start redis"
start_kvd two --appendfsync always || fail "start two"
now=$(date +%s)
cmds=(
    "SET e1 v" "EXPIREAT e1 9999999999999"
    "SET e2 v PXAT 9007199254740993"
    "SETEX e3 9007199254740 v"
    "SET e4 v" "EXPIRE e4 9007199254740"
    "SET e5 v" "GETEX e5 PXAT 9007199254740993"
    "SET e6 v" "PEXPIREAT e6 9223372036854775807"
    "SET e7 v PXAT 9223372036854775807"
    "SET e8 v EX 9223372036854775"
    "SETEX e9 9223372036854776 v"
)
for c in "${cmds[@]}"; do
    expect_eq "2: '$c' answers as Redis" "$(timeout 10 redis-cli -p "$RPORT" $c 2>&1)" "$(cli $c 2>&1)"
done
exact() { for k in e1 e2 e5 e6 e7; do printf '%s=%s ' "$k" "$(cli pexpiretime "$k")"; done; }
rel() { for k in e3 e4; do printf '%s=%s ' "$k" "$(cli pexpiretime "$k")"; done; }
before_exact=$(exact) before_rel=$(rel)
expect_eq "2: the absolute expiries" \
    "e1=9999999999999000 e2=9007199254740993 e5=9007199254740993 e6=9223372036854775807 e7=9223372036854775807 " \
    "$before_exact"
if command -v jq >/dev/null; then
    expect_eq "2: jq reads the big expiry exactly (written as a string)" '"9007199254740993"' \
        "$(jq -c 'select(.key=="e2") | .exp' "$DIR"/kvd.incr.1.jsonl)"
fi
# The last line before the shutdown is one of them.
stop_kvd
restart_kvd two --appendfsync always || fail "2: restart"
expect_eq "2: after a restart, every expiry is exactly there" "$before_exact$before_rel" "$(exact)$(rel)"
cli bgrewriteaof >/dev/null
for i in $(seq 1 400); do
    [ "$(cli info persistence | tr -d '\r' | grep -c '^aof_rewrite_in_progress:0')" == 1 ] &&
        [ "$(cli info persistence | tr -d '\r' | grep '^wal_compactions:' | cut -d: -f2)" -ge 1 ] && break
    sleep 0.05
done
expect_match "2: compacted" "^wal_compactions:[1-9]" "$(cli info persistence | tr -d '\r' | grep wal_compactions)"
stop_kvd
expect_eq "2: kvd-check-wal passes the base" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
"$CHECKWAL" --fix "$DIR" >/dev/null
restart_kvd two --appendfsync always || fail "2: restart after the compaction"
expect_eq "2: after the compaction and --fix, nothing dropped" "$before_exact$before_rel" "$(exact)$(rel)"
expect_eq "2: all seven keys Redis accepted" 7 "$(cli dbsize)"

# ---- 3: client numbers that meet arithmetic ----
for c in "SETRANGE big 9223372036854775807 x" "SETRANGE big 536870912 x" "SETRANGE big 536870911 xy" \
         "SETRANGE big -1 x" "GETRANGE e1 -9223372036854775808 9223372036854775807" \
         "INCRBY n 9223372036854775807" "INCRBY n 1" "DECRBY m -9223372036854775808" \
         "EXPIRE e1 -9223372036854775808" \
         "PEXPIRE e2 9223372036854775807" "SET ov v EX 9223372036854775807"; do
    expect_eq "3: '$c' answers as Redis" "$(timeout 10 redis-cli -p "$RPORT" $c 2>&1)" "$(cli $c 2>&1)"
done
expect_eq "3: SCAN with COUNT near LLONG_MAX walks the whole keyspace at once" "0 $(cli dbsize)" \
    "$(cli scan 0 count 9223372036854775807 | { read -r cur; echo "$cur $(wc -l)"; })"
expect_eq "3: the server is still there" PONG "$(cli ping)"
cli config set proto-max-bulk-len 1048576 >/dev/null
timeout 10 redis-cli -p "$RPORT" config set proto-max-bulk-len 1048576 >/dev/null
head -c 1048000 /dev/zero | tr '\0' a >"$T/big"
cli -x set grow <"$T/big" >/dev/null
timeout 10 redis-cli -p "$RPORT" -x set grow <"$T/big" >/dev/null
expect_eq "3: APPEND past proto-max-bulk-len answers as Redis" \
    "$(timeout 10 redis-cli -p "$RPORT" append grow "$(head -c 1000 "$T/big")" 2>&1)" \
    "$(cli append grow "$(head -c 1000 "$T/big")" 2>&1)"
expect_eq "3: proto-max-bulk-len cannot exceed what a value can hold" "ERR" \
    "$(cli config set proto-max-bulk-len 4gb 2>&1 | cut -c1-3)"

# ---- 12: INCRBYFLOAT looks at the whole value ----
for c in "SETRANGE f 5 12" "INCRBYFLOAT f 1.5" "GET f" "SET g 12" "SETRANGE g 2 x" "INCRBYFLOAT g 1"; do
    expect_eq "12: '$c' answers as Redis" "$(timeout 10 redis-cli -p "$RPORT" $c 2>&1)" "$(cli $c 2>&1)"
done
expect_eq "12: the binary value is kept" '"\x00\x00\x00\x00\x0012"' "$(cli --no-raw get f)"
stop_kvd

# ---- 9: the compaction child dies with kvd ----
KVD_TEST_COMPACT_DELAY_MS=30000 start_kvd nine --unixsocket "$T/nine.sock" --pidfile "$T/nine.pid" ||
    fail "start nine"
cli set k v >/dev/null
cli bgrewriteaof >/dev/null
child=
for i in $(seq 1 200); do child=$(pgrep -P "$KPID" -x kvd-compact) && break; sleep 0.05; done
expect_match "9: the compaction child runs, named kvd-compact" "^[0-9]+$" "$child"
expect_eq "9: its pid is kept in the data dir" "$child" "$(cut -d' ' -f1 "$DIR/kvd.compact.pid" 2>/dev/null)"
# A second kvd on the same data dir is refused by the dir's lock before
# it touches anything the running one has: its compaction child, its
# unix socket, its pidfile (the same paths given by mistake), and before
# a daemonize, so that the exit status says so.
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/nine.sock" --pidfile "$T/nine.pid" --dir "$DIR" 2>&1); rc=$?
expect_eq "9: a second kvd on the data dir exits 1" 1 $rc
expect_match "9: ... saying the dir is in use" "is in use by another process \\(pid $KPID" "$out"
expect_eq "9: ... and leaves the running kvd's unix socket" v "$(timeout 10 redis-cli -s "$T/nine.sock" get k)"
expect_eq "9: ... and its pidfile" "$KPID" "$(cat "$T/nine.pid" 2>/dev/null)"
out=$(timeout 20 "$KVD" --port 0 --daemonize yes --dir "$DIR" 2>&1); rc=$?
expect_eq "9: a second kvd with daemonize yes exits 1 too" 1 $rc
expect_match "9: ... and says why" "is in use by another process \\(pid $KPID" "$out"
expect_eq "9: the lock file still names the running kvd" "$KPID" "$(cat "$DIR/kvd.lock")"
expect_eq "9: ... and leaves the running kvd's compaction child alone" 0 "$(echo "$out" | grep -c "stopping compaction child")"
st=$(cut -d' ' -f3 "/proc/$child/stat" 2>/dev/null)
expect_match "9: ... which still runs (state $st)" "^[RSD]$" "$st"
expect_eq "9: ... and its pid file" "$child" "$(cut -d' ' -f1 "$DIR/kvd.compact.pid" 2>/dev/null)"
kill9_kvd
gone=0
for i in $(seq 1 200); do kill -0 "$child" 2>/dev/null || { gone=1; break; }; sleep 0.05; done
expect_eq "9: after kill -9 of kvd the child is gone" 1 "$gone"
# A child left running anyway (named kvd-compact, pid in the file) is
# stopped at the next start; a process with another name is not.
cp "$(command -v sleep)" "$T/kvd-compact"
"$T/kvd-compact" 60 & stale=$!
PIDS+=("$stale")
sleep 60 & other=$!
PIDS+=("$other")
starttime() { sed -E 's/^.*\) //' "/proc/$1/stat" | cut -d' ' -f20; }
for i in $(seq 1 100); do [ "$(cut -d' ' -f2 "/proc/$stale/stat" 2>/dev/null)" == "(kvd-compact)" ] && break; sleep 0.05; done
echo "$stale $(starttime "$stale")" >"$DIR/kvd.compact.pid"
restart_kvd nine || fail "restart nine"
gone=0
for i in $(seq 1 200); do kill -0 "$stale" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$stale/stat")" != Z ] || { gone=1; break; }; sleep 0.05; done
expect_eq "9: a stale compaction child is stopped at start" 1 "$gone"
expect_match "9: and that is logged" "stopping compaction child $stale left by an earlier kvd" "$(cat "$T/nine.log")"
expect_eq "9: the data is there" v "$(cli get k)"
stop_kvd
echo "$other $(starttime "$other")" >"$DIR/kvd.compact.pid"
restart_kvd nine || fail "restart nine again"
expect_eq "9: a process with another name is left alone" 0 "$(kill -0 "$other" 2>/dev/null; echo $?)"
stop_kvd
finish
