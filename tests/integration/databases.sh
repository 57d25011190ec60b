#!/usr/bin/env bash
# Databases (SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB, FLUSHALL, DBSIZE,
# INFO keyspace) against Debian's redis-server 7.0: scripted scenarios
# with two connections go to both servers and every reply must be the same
# bytes, WATCH across databases included. Then what kvd alone must do:
# every database survives restarts, compaction and kill -9; the WAL names
# each line's database; a data dir that needs more databases than
# configured is refused, untouched; and real clients (python3-redis with
# db=N and a redis:// URL, redis-benchmark --dbnum) use them.
. "$(dirname "$0")/lib.sh"
need_redis_and_python

start_kvd a || fail "start a"
start_redis r || fail "start redis"

cat >"$T/scenarios.py" <<'EOF'
import sys
from respconn import Conn

port = int(sys.argv[1])
a, b = Conn(port), Conn(port)
out = []

def run(name, steps):
    for c in (a, b):
        c.send("SELECT", 0)
    a.send("FLUSHALL")
    a.send("UNWATCH")
    for who, *cmd in steps:
        c = a if who == "a" else b
        r = c.send(*cmd)
        if cmd[0] in ("KEYS", "SCAN"):  # the order is the hash table's
            r = sorted(r) if cmd[0] == "KEYS" else [r[0], sorted(r[1])]
        if cmd[0] == "RANDOMKEY" and r != "(nil)":
            r = "a key"
        out.append("%s %s %s: %r" % (name, who, " ".join(map(str, cmd)), r))

run("select", [("a", "SET", "k", "0"), ("a", "SELECT", 1), ("a", "GET", "k"), ("a", "SET", "k", "1"),
               ("b", "GET", "k"), ("a", "SELECT", 15), ("a", "SELECT", 16), ("a", "SELECT", -1),
               ("a", "SELECT", "x"), ("a", "SELECT", "2147483648"), ("a", "SELECT", "1.5"), ("a", "GET", "k"),
               ("a", "SELECT", 1), ("a", "GET", "k"), ("a", "DBSIZE"), ("b", "DBSIZE")])
run("move", [("a", "SET", "k", "v"), ("a", "EXPIRE", "k", 1000), ("a", "MOVE", "k", 3), ("a", "EXISTS", "k"),
             ("b", "SELECT", 3), ("b", "GET", "k"), ("b", "TTL", "k"), ("a", "SET", "k", "w"), ("a", "MOVE", "k", 3),
             ("a", "GET", "k"), ("a", "MOVE", "k", 0), ("a", "MOVE", "nope", 3), ("a", "MOVE", "k", 16),
             ("a", "MOVE", "k", "x"), ("a", "MOVE", "k", "-1"), ("a", "MOVE", "k", "99999999999")])
run("swapdb", [("a", "SET", "x", "in0"), ("a", "SELECT", 2), ("a", "SET", "x", "in2"), ("a", "SET", "y", "only2"),
               ("b", "GET", "x"), ("b", "SWAPDB", 0, 2), ("b", "GET", "x"), ("b", "GET", "y"), ("a", "GET", "x"),
               ("a", "DBSIZE"), ("b", "DBSIZE"), ("b", "SWAPDB", 0, 0), ("b", "SWAPDB", 0, 16),
               ("b", "SWAPDB", "x", 1), ("b", "SWAPDB", 1, "y"), ("b", "SWAPDB", "-1", 1),
               ("b", "SWAPDB", "2147483648", 1), ("b", "SWAPDB", 5, 6)])
run("copy db", [("a", "SET", "s", "v"), ("a", "PEXPIRE", "s", 500000), ("a", "COPY", "s", "s", "DB", 4),
                ("a", "COPY", "s", "s", "DB", 4), ("a", "COPY", "s", "s", "DB", 4, "REPLACE"),
                ("a", "COPY", "s", "s"), ("a", "COPY", "s", "s", "DB", 0), ("a", "COPY", "s", "t", "DB", 16),
                ("a", "COPY", "s", "t", "DB", "x"), ("a", "COPY", "s", "t", "DB"), ("b", "SELECT", 4),
                ("b", "GET", "s"), ("b", "EXISTS", "t")])
run("flushdb", [("a", "SET", "k", "0"), ("a", "SELECT", 5), ("a", "SET", "k", "5"), ("a", "FLUSHDB"),
                ("a", "DBSIZE"), ("b", "GET", "k"), ("a", "SET", "k", "5"), ("b", "FLUSHALL"), ("a", "DBSIZE"),
                ("b", "DBSIZE")])
run("keyspace commands", [("a", "SELECT", 6), ("a", "MSET", "a1", 1, "a2", 2), ("b", "SET", "b1", 1),
                          ("a", "KEYS", "*"), ("a", "SCAN", 0, "COUNT", 100), ("a", "RANDOMKEY"), ("a", "DBSIZE"),
                          ("a", "RENAME", "a1", "a3"), ("a", "EXISTS", "a1", "a2", "a3", "b1"), ("b", "KEYS", "*"),
                          ("a", "SWAPDB", 0, 6), ("a", "KEYS", "*"), ("b", "KEYS", "*")])
run("watch: write in another db", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SELECT", 1),
                                   ("b", "SET", "k", "2"), ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("watch: flushdb of another db", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SELECT", 1),
                                     ("b", "SET", "k", "2"), ("b", "FLUSHDB"), ("a", "MULTI"), ("a", "GET", "k"),
                                     ("a", "EXEC")])
run("watch: flushall", [("a", "SELECT", 3), ("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "FLUSHALL"),
                        ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("watch: move away", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "MOVE", "k", 2), ("a", "MULTI"),
                         ("a", "GET", "k"), ("a", "EXEC")])
run("watch: move in", [("a", "SELECT", 2), ("a", "WATCH", "k"), ("b", "SET", "k", "1"), ("b", "MOVE", "k", 2),
                       ("a", "MULTI"), ("a", "GET", "k"), ("a", "EXEC")])
run("watch: swapdb changes it", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SELECT", 1),
                                 ("b", "SET", "k", "2"), ("b", "SWAPDB", 0, 1), ("a", "MULTI"), ("a", "GET", "k"),
                                 ("a", "EXEC")])
run("watch: swapdb of missing keys", [("a", "WATCH", "k"), ("b", "SELECT", 1), ("b", "SET", "other", "2"),
                                      ("b", "SWAPDB", 0, 1), ("a", "MULTI"), ("a", "GET", "other"), ("a", "EXEC")])
run("watch: swapdb of other dbs", [("a", "SET", "k", "1"), ("a", "WATCH", "k"), ("b", "SELECT", 1),
                                   ("b", "SET", "k", "2"), ("b", "SWAPDB", 1, 2), ("a", "MULTI"), ("a", "GET", "k"),
                                   ("a", "EXEC")])
run("select inside multi", [("a", "MULTI"), ("a", "SET", "k", "0"), ("a", "SELECT", 7), ("a", "SET", "k", "7"),
                            ("a", "GET", "k"), ("a", "EXEC"), ("a", "GET", "k"), ("b", "GET", "k"),
                            ("b", "SELECT", 7), ("b", "GET", "k")])
run("select refused inside multi", [("a", "MULTI"), ("a", "SELECT", 99), ("a", "SET", "k", "1"), ("a", "EXEC"),
                                    ("a", "GET", "k")])
run("reset selects 0", [("a", "SELECT", 8), ("a", "SET", "k", "8"), ("a", "RESET"), ("a", "GET", "k")])
run("info keyspace", [("a", "SET", "k", "0"), ("a", "SELECT", 9), ("a", "SET", "k", "9"), ("a", "SET", "t", "9"),
                      ("a", "SELECT", 12), ("a", "SET", "k", "12")])
out.append("keyspace: %r" % [l for l in a.send("INFO", "keyspace")[1:].split("\r\n") if l.startswith("db")])
for l in out:
    print(l)
EOF
run_scenarios "$PORT" kvd
run_scenarios "$RPORT" redis
expect_eq "$(wc -l <"$T/redis.out") database replies: kvd's lines that differ from Redis's" "" \
    "$(diff "$T/redis.out" "$T/kvd.out" | head -20)"

# CLIENT LIST and MONITOR show the selected database.
expect_match "CLIENT LIST db=" " db=11 " "$(printf 'SELECT 11\r\nCLIENT INFO\r\n' | timeout 5 nc -N 127.0.0.1 "$PORT")"
exec {m}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'MONITOR\r\n' >&"$m"
cat <&"$m" >"$T/monitor" &
reader=$!
wait_for 30 "cli client list | grep -q 'flags=O'" || fail "no monitor"
printf 'SELECT 4\r\nSET mk 1\r\n' | timeout 5 nc -N 127.0.0.1 "$PORT" >/dev/null
wait_for 30 "grep -q '\"mk\"' '$T/monitor'" || fail "no MONITOR line"
exec {m}>&-
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
expect_match "MONITOR names the database" '\[4 127\.0\.0\.1:[0-9]+\] "SET" "mk" "1"' "$(cat "$T/monitor")"

# ---- durability: every database as it was, through restarts, compaction and kill -9 ----
cli flushall >/dev/null
dump() { # every database's keys, values and expiries (sorted)
    local d k
    for d in $(seq 0 15); do
        for k in $(cli -n "$d" --scan | sort); do
            printf '%s %s %s %s\n' "$d" "$k" "$(cli -n "$d" get "$k")" "$(cli -n "$d" pexpiretime "$k")"
        done
    done
}
{
    for d in 0 1 2 3 5 15; do
        echo "SELECT $d"
        for i in $(seq 1 30); do echo "SET k$i d$d-$i"; done
        echo "PEXPIREAT k1 9999999999999"
    done
    echo "SELECT 1"
    echo "MOVE k2 4"
    echo "MOVE k3 0"
    echo "COPY k4 copied DB 6"
    echo "SWAPDB 2 7"
    echo "SELECT 3"
    echo "FLUSHDB"
    echo "SET after flush"
    echo "SELECT 0"
    echo "MULTI"
    echo "SELECT 8"
    echo "SET intx 1"
    echo "MOVE intx 9"
    echo "SWAPDB 9 10"
    echo "EXEC"
} | cli >/dev/null
before=$(dump)
expect_eq "keys spread over databases" "0 1 3 4 5 6 7 10 15" \
    "$(echo "$before" | cut -d' ' -f1 | sort -nu | tr '\n' ' ' | sed 's/ $//')"
stop_kvd
restart_kvd a || fail "restart"
expect_eq "every database after a restart" "$before" "$(dump)"
expect_match "WAL lines carry db" '"op":"swapdb","db":2,"to":7' "$(cat "$DIR"/kvd.incr.*.jsonl)"
expect_eq "... and database 0 has no db field" 0 "$(grep -h '"db":0' "$DIR"/kvd.incr.*.jsonl | wc -l)"
expect_match "... readable with jq" '^1 k2 4$' "$(jq -r 'select(.op=="move") | "\(.db) \(.key) \(.to)"' "$DIR"/kvd.incr.*.jsonl)"
expect_eq "BGREWRITEAOF" "Background append only file rewriting started" "$(cli bgrewriteaof)"
wait_for 60 "cli info persistence | grep -q 'aof_rewrite_in_progress:0'" || fail "compaction did not end"
wait_for 60 "ls '$DIR'/kvd.base.*.jsonl >/dev/null 2>&1" || fail "no base"
expect_match "the base names databases" '"db":15' "$(cat "$DIR"/kvd.base.*.jsonl)"
kill9_kvd
restart_kvd a || fail "restart after compaction and kill -9"
expect_eq "every database after compaction and kill -9" "$before" "$(dump)"
expect_eq "kvd-check-wal accepts the data dir" 0 "$("$CHECKWAL" "$DIR" >/dev/null 2>&1; echo $?)"

# A data dir that uses database 15 cannot start with databases 8; nothing changes.
stop_kvd
wal_sum() { cat "$DIR"/kvd.manifest "$DIR"/kvd.base.* "$DIR"/kvd.incr.* 2>/dev/null | md5sum; }
sum_before=$(wal_sum)
"$KVD" --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --databases 8 >"$T/refused.log" 2>&1
expect_eq "databases 8 refuses a WAL using 15 (exit)" 1 "$?"
expect_match "... saying why, and how many the whole log needs" \
    "the WAL uses database 15 \\(entry [0-9]+\\) but there are only 8 databases: raise 'databases' .* to at least 16" \
    "$(cat "$T/refused.log")"
expect_eq "... and leaves the files alone" "$sum_before" "$(wal_sum)"
restart_kvd a --databases 32 || fail "restart with 32"
expect_eq "databases 32 loads it" "$before" "$(dump)"
expect_eq "SELECT 31" OK "$(cli select 31)"
expect_eq "CONFIG GET databases" "$(printf 'databases\n32')" "$(cli config get databases)"

# ---- real clients ----
out=$("$PY" - "$PORT" <<'EOF' 2>&1
import sys, redis
port = int(sys.argv[1])
r3 = redis.Redis(port=port, db=3)
r3.flushdb()
r3.set("py", "three")
r0 = redis.Redis(port=port)
u = redis.Redis.from_url("redis://127.0.0.1:%d/3" % port)
p = r3.pipeline()                       # transactional: MULTI/EXEC in db 3
p.set("a", 1).incr("a").get("a")
res = p.execute()
print(r3.get("py"), r0.get("py"), u.get("py"), u.get("a"), res, r3.dbsize())
print(sorted(r3.scan_iter("*")), r3.move("py", 4), redis.Redis(port=port, db=4).get("py"))
EOF
)
expect_eq "python3-redis with db=3 and a URL" "b'three' None b'three' b'2' [True, 2, b'2'] 2
[b'a', b'py'] True b'three'" "$out"
if redis-benchmark --help 2>&1 | grep -q -- --dbnum; then
    cli -n 5 flushdb >/dev/null
    timeout 60 redis-benchmark -p "$PORT" --dbnum 5 -t set -n 2000 -r 100 -q >/dev/null 2>&1 ||
        fail "redis-benchmark --dbnum 5"
    expect_match "redis-benchmark --dbnum 5 wrote to database 5" '^[1-9][0-9]*$' "$(cli -n 5 dbsize)"
fi

finish
