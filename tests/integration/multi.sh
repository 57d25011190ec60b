#!/usr/bin/env bash
# MULTI/EXEC/DISCARD/WATCH against Debian's redis-server 7.0: scripted
# scenarios with two connections (a watcher and a meddler) go to both
# servers and every reply must be the same bytes; then a transaction's WAL
# group is checked in the file, and kill -9 during a stream of
# transactions must leave each of them all there or not there at all.
. "$(dirname "$0")/lib.sh"
need_redis_and_python

start_kvd a --hz 100 || fail "start a"
start_redis r --hz 100 || fail "start redis"

cat >"$T/scenarios.py" <<'EOF'
import sys, time
from respconn import Conn

port = int(sys.argv[1])
a, b = Conn(port), Conn(port)
out = []
def say(tag, v):
    out.append("%s: %r" % (tag, v))

def run(name, steps):
    a.send("FLUSHALL")
    a.send("UNWATCH")
    for who, *cmd in steps:
        c = a if who == "a" else b
        if who == "sleep":
            time.sleep(cmd[0])
            continue
        say(name + " " + who + " " + " ".join(map(str, cmd)), c.send(*cmd))

run("untouched", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("a", "MULTI"), ("a", "INCR", "k"), ("a", "GET", "k"), ("a", "EXEC")])
run("touched by another", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "INCR", "k"), ("a", "EXEC"), ("a", "GET", "k")])
run("touched by itself", [("a", "WATCH", "k"), ("a", "SET", "k", "2"), ("a", "MULTI"), ("a", "INCR", "k"), ("a", "EXEC")])
run("missing key created", [("a", "WATCH", "k"), ("b", "SET", "k", "x"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("DEL of a missing key", [("a", "WATCH", "k"), ("b", "DEL", "k"), ("a", "MULTI"), ("a", "SET", "k", "1"), ("a", "EXEC")])
run("DEL of the key", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "DEL", "k"), ("a", "MULTI"), ("a", "SET", "k", "1"), ("a", "EXEC")])
run("EXPIRE", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "EXPIRE", "k", "100"), ("a", "MULTI"), ("a", "TTL", "k"), ("a", "EXEC")])
run("PERSIST without a TTL", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "PERSIST", "k"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("RENAME onto it", [("a", "SET", "k", "1"), ("a", "SET", "src", "2"), ("a", "WATCH", "k"), ("b", "RENAME", "src", "k"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("RENAME away", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "RENAME", "k", "dst"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("FLUSHALL, key existed", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "FLUSHALL"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("FLUSHALL, key missing", [("a", "SET", "other", "1"), ("a", "WATCH", "k"), ("b", "FLUSHALL"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
# (WATCH must come before the key expires: 3 s for two commands on a
# loaded machine; then EXEC after it surely has.)
run("expires while watched", [("a", "SET", "k", "1", "PX", "3000"), ("a", "WATCH", "k"), ("sleep", 3.5), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("UNWATCH", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SET", "k", "2"), ("a", "UNWATCH"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("DISCARD unwatches", [("a", "WATCH", "k"), ("a", "MULTI"), ("a", "DISCARD"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("EXEC unwatches", [("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("a", "MULTI"), ("a", "EXEC"), ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("errors inside", [("a", "SET", "s", "abc"), ("a", "MULTI"), ("a", "INCR", "s"), ("a", "SET", "t", "1"), ("a", "GETRANGE", "s", "x", "1"), ("a", "EXEC"), ("a", "GET", "t")])
run("queue-time errors", [("a", "MULTI"), ("a", "SET", "t", "1"), ("a", "NOSUCH"), ("a", "EXEC"), ("a", "GET", "t")])
run("arity error", [("a", "MULTI"), ("a", "SET", "t"), ("a", "SET", "t", "1"), ("a", "EXEC"), ("a", "GET", "t")])
run("nested", [("a", "MULTI"), ("a", "MULTI"), ("a", "SET", "t", "1"), ("a", "EXEC")])
run("watch inside", [("a", "MULTI"), ("a", "WATCH", "t"), ("a", "SET", "t", "1"), ("a", "EXEC")])
run("without multi", [("a", "EXEC"), ("a", "DISCARD"), ("a", "UNWATCH")])
run("shutdown inside", [("a", "MULTI"), ("a", "SHUTDOWN"), ("a", "EXEC")])
run("many", [("a", "MULTI")] + [("a", "INCR", "n")] * 50 + [("a", "MSET", "x", "1", "y", "2"), ("a", "DEL", "x", "nope"), ("a", "EXEC")])
run("MSETNX, COPY, GETDEL inside", [("a", "MULTI"), ("a", "MSETNX", "p", "1", "q", "2"), ("a", "COPY", "p", "p2"), ("a", "GETDEL", "q"), ("a", "EXEC"), ("a", "MGET", "p", "p2", "q")])
run("reads see the transaction", [("a", "MULTI"), ("a", "SET", "r", "1"), ("a", "APPEND", "r", "2"), ("a", "GET", "r"), ("a", "EXEC")])
run("FLUSHALL of a key expired when watched", [("a", "SET", "w", "1", "PX", "2"), ("sleep", 0.05), ("a", "WATCH", "w"), ("b", "FLUSHALL"), ("a", "MULTI"), ("a", "SET", "r", "1"), ("a", "EXEC")])
run("over maxmemory inside MULTI", [("a", "SET", "big", "x" * 1000), ("a", "CONFIG", "SET", "maxmemory", "1"), ("a", "MULTI"), ("a", "GET", "big"), ("a", "DEL", "big"), ("a", "EXEC"), ("a", "CONFIG", "SET", "maxmemory", "0"), ("a", "EXISTS", "big")])
run("EXEC refused by ACL", [("a", "ACL", "SETUSER", "tx", "on", "nopass", "~*", "+multi", "+get"), ("a", "AUTH", "tx", "x"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC"), ("a", "AUTH", "default", "x"), ("a", "ACL", "DELUSER", "tx")])
run("ACL changed before EXEC", [("a", "ACL", "SETUSER", "tx", "on", "nopass", "~*", "+@all"), ("a", "AUTH", "tx", "x"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "SET", "k", "v"), ("b", "ACL", "SETUSER", "tx", "-set"), ("a", "EXEC"), ("a", "AUTH", "default", "x"), ("b", "ACL", "DELUSER", "tx")])
run("client in multi", [("a", "MULTI"), ("a", "CLIENT", "SETNAME", "tx"), ("a", "CLIENT", "GETNAME"), ("a", "EXEC")])
for l in out:
    print(l)
EOF
run_scenarios "$PORT" kvd
run_scenarios "$RPORT" redis
expect_eq "$(wc -l <"$T/redis.out") transaction replies: kvd's lines that differ from Redis's" "" \
    "$(diff "$T/redis.out" "$T/kvd.out" | head -20)"

# MONITOR: the same lines as Redis (times and addresses aside): commands
# after they ran, EXEC after its commands, passwords redacted, admin and
# refused commands not shown.
monitor_lines() { # port
    local out=$T/monitor.$1 m reader
    exec {m}<>"/dev/tcp/127.0.0.1/$1"
    printf 'MONITOR\r\n' >&"$m"
    cat <&"$m" >"$out" &
    reader=$!
    wait_for 30 "timeout 5 redis-cli -p $1 client list | grep -q 'flags=O'"
    timeout 10 redis-cli -p "$1" set "k y" "$(printf 'v"z\001')" >/dev/null
    timeout 10 redis-cli -p "$1" auth default x >/dev/null 2>&1
    timeout 10 redis-cli -p "$1" config get port >/dev/null
    printf 'MULTI\r\nSET a 1\r\nEXEC\r\nNOSUCH\r\nGET\r\n' | timeout 10 nc -N 127.0.0.1 "$1" >/dev/null
    timeout 10 redis-cli -p "$1" hello 3 auth default x >/dev/null 2>&1
    # The last line, however late it comes on a busy machine.
    wait_for 30 "grep -q '\"hello\"' '$out'"
    exec {m}>&-
    kill "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
    tr -d '\r' <"$out" | sed 's/^+[0-9.]* \[0 [^]]*\]/+T [0 A]/'
}
expect_eq "MONITOR lines" "$(monitor_lines "$RPORT")" "$(monitor_lines "$PORT")"

# One transaction is one WAL group: its first line says how many lines.
cli flushall >/dev/null
printf 'MULTI\r\nSET g1 a\r\nMSET g2 b g3 c\r\nDEL nope\r\nINCR g4\r\nEXEC\r\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
seg=$(ls "$DIR"/kvd.incr.*.jsonl | sort -V | tail -1)
sed -n '/"key":"g1"/,$p' "$seg" >"$T/group"
expect_eq "the transaction's lines: a group of as many as there are" "$(wc -l <"$T/group") set g1" \
    "$(head -1 "$T/group" | jq -r '"\(.grp) \(.op) \(.key)"')"
expect_eq "inner MSET is not a group of its own" "1" "$(jq -s '[.[] | select(.grp != null)] | length' "$T/group")"
stop_kvd

# kill -9 in the middle of a stream of transactions: after the restart
# every transaction is there whole (its 4 keys) or not at all.
restart_kvd a --appendfsync always || fail "restart"
cat >"$T/txstream.py" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
f = s.makefile("rb")
acked = 0
try:
    for t in range(n):
        s.sendall(("MULTI\r\nSET tx%d:a 1\r\nMSET tx%d:b 1 tx%d:c 1\r\nINCR tx%d:d\r\nEXEC\r\n" % (t, t, t, t)).encode())
        for _ in range(4):
            f.readline()
        if f.readline() != b"*3\r\n":
            break
        for _ in range(3):
            f.readline()
        acked = t + 1
except Exception:
    pass
print(acked)
EOF
"$PY" "$T/txstream.py" "$PORT" 1000000 >"$T/acked" 2>&1 &
writer=$!
wait_for 60 '[ "$(cli dbsize)" -gt 400 ] 2>/dev/null'
kill9_kvd
wait "$writer"
acked=$(cat "$T/acked")
restart_kvd a || fail "restart after kill -9"
cli --scan --pattern 'tx*' | sed 's/:.*//' | sort | uniq -c | awk '{print $1}' | sort | uniq -c >"$T/groups"
expect_eq "every transaction whole or absent after kill -9 ($acked acknowledged)" "4" "$(awk '{print $2}' "$T/groups" | sort -u | tr '\n' ' ' | sed 's/ $//')"
present=$(cli --scan --pattern 'tx*:a' | wc -l)
expect_between "acknowledged transactions survived" "$acked" 100000000 "$present"
stop_kvd
finish
