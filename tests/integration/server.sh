#!/usr/bin/env bash
# Serving: 1000 concurrent clients, maxclients, requirepass/AUTH/HELLO,
# protected mode, idle timeout, the unix socket, a client that never reads
# its replies (memory stays bounded), and redis-benchmark running clean.
. "$(dirname "$0")/lib.sh"

ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---- 1000 concurrent connections, each served ----
start_kvd c || fail "start"
fds=()
for i in $(seq 1 1000); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || { fail "connection $i refused"; break; }
    fds+=("$fd")
done
# (The kernel completes the handshakes; kvd accepts them when it runs.)
clients() { cli info clients | tr -d '\r' | grep connected_clients; }
wait_for 60 '[ "$(clients)" == "connected_clients:1001" ]'
expect_eq "1000 clients connected" "connected_clients:1001" "$(clients)"
for fd in "${fds[@]}"; do printf 'PING\r\n' >&"$fd"; done
good=0
for fd in "${fds[@]}"; do IFS= read -r -t 5 line <&"$fd" && [ "$line" == $'+PONG\r' ] && good=$((good + 1)); done
expect_eq "every one of them answered" 1000 "$good"
for fd in "${fds[@]}"; do exec {fd}>&-; done
wait_for 60 '[ "$(clients)" == "connected_clients:1" ]'
expect_eq "closed connections are gone" "connected_clients:1" "$(clients)"

# ---- redis-benchmark, small counts: no errors ----
out=$(timeout 120 redis-benchmark -p "$PORT" -n 20000 -c 50 -q -t ping,set,get,incr,mset 2>&1)
expect_match "redis-benchmark SET" "SET: [0-9.]+ requests per second" "$out"
expect_match "redis-benchmark MSET" "MSET \(10 keys\): [0-9.]+ requests per second" "$out"
expect_eq "redis-benchmark saw no errors" 0 "$(printf '%s' "$out" | grep -ci error)"
out=$(timeout 120 redis-benchmark -p "$PORT" -n 20000 -c 20 -P 16 -q -t set,get 2>&1)
expect_match "redis-benchmark pipelined" "GET: [0-9.]+ requests per second" "$out"
stop_kvd

# ---- maxclients ----
start_kvd m --maxclients 10 || fail "start m"
fds=()
# Each of the 10 answers a PING: kvd has accepted all of them.
for i in $(seq 1 10); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
    fds+=("$fd")
    printf 'PING\r\n' >&"$fd"
    IFS= read -r -t 30 line <&"$fd"
    [ "$line" == $'+PONG\r' ] || fail "client $i of 10 got [$line]"
done
expect_eq "over maxclients" "ERR max number of clients reached" "$(cli ping)"
for fd in "${fds[@]}"; do exec {fd}>&-; done
wait_for 30 '[ "$(cli ping)" == PONG ]'
expect_match "rejections counted" "rejected_connections:[1-9]" "$(cli info stats | tr -d '\r')"
stop_kvd

# ---- requirepass, AUTH, HELLO AUTH ----
start_kvd p --requirepass 's3cr3t' || fail "start p"
expect_eq "commands need AUTH" "NOAUTH Authentication required." "$(cli get k)"
expect_eq "wrong password" "WRONGPASS invalid username-password pair or user is disabled." "$(cli auth nope)"
out=$(printf 'AUTH s3cr3t\r\nSET k v\r\nGET k\r\nAUTH default s3cr3t\r\nAUTH bob s3cr3t\r\nGET k\r\n' | timeout 5 nc -N 127.0.0.1 "$PORT" | tr -d '\r')
# A failed AUTH leaves an authenticated connection authenticated, as in Redis.
expect_eq "AUTH then commands" "$(printf '+OK\n+OK\n$1\nv\n+OK\n-WRONGPASS invalid username-password pair or user is disabled.\n$1\nv')" "$out"
expect_eq "redis-cli -a" v "$(cli -a s3cr3t --no-auth-warning get k)"
out=$(printf 'HELLO 2 AUTH default s3cr3t SETNAME x\r\nCLIENT GETNAME\r\n' | timeout 5 nc -N 127.0.0.1 "$PORT" | tr -d '\r' | tail -2)
expect_eq "HELLO AUTH authenticates" "$(printf '$1\nx')" "$out"
expect_match "HELLO without auth" "^-NOAUTH HELLO must be called" "$(raw 'HELLO 2\r\n')"
expect_eq "QUIT without auth" "+OK" "$(raw 'QUIT\r\nPING\r\n' | tr -d '\r')"
stop_kvd

# ---- protected mode: no password, a client that is not 127.0.0.1/::1 ----
start_kvd pm --bind "127.0.0.1 127.0.0.2" || fail "start pm"
# (nc -d sends nothing: the refusal comes on connect, and data sent to a
# socket that is already closing would only provoke a reset.)
out=$(timeout 5 nc -d -s 127.0.0.2 127.0.0.2 "$PORT")
expect_match "non-loopback client denied" "^-DENIED kvd is running in protected mode" "$out"
expect_eq "loopback client served" PONG "$(cli ping)"
expect_eq "CONFIG SET protected-mode no" OK "$(cli config set protected-mode no)"
expect_eq "then it is served" "+PONG" "$(printf 'PING\r\n' | timeout 5 nc -N -s 127.0.0.2 127.0.0.2 "$PORT" | tr -d '\r')"
stop_kvd

# ---- idle timeout, unix socket ----
start_kvd t --timeout 1 --unixsocket "$T/kvd.sock" --unixsocketperm 700 || fail "start t"
expect_eq "unix socket serves" PONG "$(timeout 5 redis-cli -s "$T/kvd.sock" ping)"
expect_eq "unix socket mode" 700 "$(stat -c %a "$T/kvd.sock")"
# Read from an idle connection until kvd closes it (EOF, nothing sent),
# which it must not do before the 1 s timeout.
t0=$(now_ms)
exec {idle}<>"/dev/tcp/127.0.0.1/$PORT"
out=$(timeout 30 cat <&"$idle" 2>/dev/null); rc=$?
t1=$(now_ms)
expect_eq "idle client closed after timeout" "0 []" "$rc [$out]"
expect_between "and not before the 1 s timeout (ms after connecting)" 1000 30000 $((t1 - t0))
exec {idle}>&-
stop_kvd
expect_eq "unix socket removed on exit" 0 "$([ -e "$T/kvd.sock" ] && echo 1 || echo 0)"

# ---- a client that pipelines 1M GETs of a 10 KiB value and never reads ----
start_kvd s || fail "start s"
head -c 10240 /dev/zero | tr '\0' 'x' >"$T/v"
cli -x set big <"$T/v" >/dev/null
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$KPID/status")
( exec 3<>"/dev/tcp/127.0.0.1/$PORT"; yes 'GET big' | head -n 1000000 | sed 's/$/\r/' >&3; sleep 30 ) 2>/dev/null &
SLOW=$!
PIDS+=("$SLOW")
# Wait until it floods: connected, and megabytes of replies it does not
# read queued for it; then give it some more time.
slow_omem() { cli client list | grep -o 'omem=[0-9]* .*cmd=get' | cut -d' ' -f1 | cut -d= -f2; }
wait_for 60 '[ "$(slow_omem)" -ge 1048576 ] 2>/dev/null' || fail "the slow reader did not get going"
sleep 3
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$KPID/status")
expect_eq "others are served meanwhile" PONG "$(cli ping)"
grown=$(( (rss1 - rss0) / 1024 ))
echo "     slow reader: server RSS grew by ${grown} MiB"
used=$(cli info memory | tr -d '\r' | grep '^used_memory:' | cut -d: -f2)
echo "     slow reader: kvd accounts for $((used / 1048576)) MiB"
expect_eq "kvd's own memory stays bounded (< 200 MiB)" 1 "$(( used < 200 * 1048576 ))"
# (ASan keeps freed memory in quarantine, so RSS says little under it.)
if ! ldd "$KVD" 2>/dev/null | grep -q libasan; then
    expect_eq "server RSS stays bounded (< 200 MiB growth)" 1 "$(( grown < 200 ))"
fi
expect_match "the slow client is paused, not dropped" "connected_clients:2" "$(cli info clients | tr -d '\r')"
# With soft-seconds set, a client stuck over the soft limit is cut off.
cli config set client-output-buffer-limit "normal 1gb 1mb 1" >/dev/null
wait_for 30 'cli info clients | tr -d "\r" | grep -q connected_clients:1'
expect_match "over the soft limit too long: disconnected" "connected_clients:1" "$(cli info clients | tr -d '\r')"
expect_match "and logged" "over the soft limit for more than 1 s" "$(cat "$T/s.log")"
kill "$SLOW" 2>/dev/null
stop_kvd
finish
