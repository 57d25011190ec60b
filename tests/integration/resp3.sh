#!/usr/bin/env bash
# RESP3: after HELLO 3 every reply comes in its RESP3 type (maps, sets,
# nulls, verbatim strings) as redis-server 7.0 sends it. The same command
# stream goes to kvd and to Debian's redis-server, raw over a socket and
# through `redis-cli -3`, and the replies must be the same bytes apart
# from the fields that name the server (server, version, id) and the
# client lines' counters.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null || { echo "skip [$NAME]: redis-server not installed"; exit 77; }

start_kvd a || fail "start kvd"
start_redis r || fail "start redis"
cat >"$T/cmds" <<'CMDS'
HELLO 3
GET nokey
SET k v
GET k
MGET k nokey
CONFIG GET maxmemory
CONFIG GET maxmemory-policy
MULTI
SET t 1
EXEC
WATCH t
SET t 2
MULTI
GET t
EXEC
COMMAND INFO nosuchcommand
COMMAND INFO get set lcs object|encoding
COMMAND DOCS set getset client|kill
COMMAND GETKEYSANDFLAGS bitop and d a b
ACL GETUSER default
ACL GETUSER nosuchuser
ACL SETUSER u1 on >p ~* +@all
ACL GETUSER u1
SET l1 ohmytext
SET l2 mynewtext
LCS l1 l2 IDX MINMATCHLEN 2 WITHMATCHLEN
TTL nokey
OBJECT ENCODING nokey
MEMORY USAGE nokey
GETEX nokey
GETDEL nokey
SET k v GET
SET nk v NX GET
INCRBYFLOAT f 1.5
SCAN 0 MATCH nomatch*
BITFIELD bf OVERFLOW FAIL INCRBY u2 0 9
HELLO 2
GET nokey
HELLO 3 SETNAME me
CLIENT GETNAME
HELLO 4
CMDS
# Bulk headers go (their lengths differ with the names); the values of
# server, version and id go.
strip() {
    tr -d '\r' | sed -e '/^\$[0-9]*$/d' |
        awk 'skip { skip = 0; next } /^(server|version|id)$/ { print; skip = 1; next } { print }'
}
send() { while IFS= read -r l; do printf '%s\r\n' "$l"; done <"$T/cmds" | timeout 20 nc -N 127.0.0.1 "$1"; }
send "$PORT" | strip >"$T/kvd.raw"
send "$RPORT" | strip >"$T/redis.raw"
expect_eq "raw RESP3 replies: lines that differ from Redis's" "" "$(diff "$T/redis.raw" "$T/kvd.raw" | head -20)"
for t in '%' '~' '_'; do
    expect_match "RESP3 type $t was sent" "^[$t]" "$(grep -a "^[$t]" "$T/kvd.raw" | head -1)"
done
expect_match "INFO is a verbatim txt string" "^=[0-9]+txt:# Server" \
    "$(printf 'HELLO 3\r\nINFO server\r\n' | timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r\n' | grep -ao '=[0-9]*txt:# Server')"
expect_match "CLIENT INFO says resp=3" "resp=3" "$(printf 'HELLO 3\r\nCLIENT INFO\r\n' | timeout 10 nc -N 127.0.0.1 "$PORT")"
# redis-cli -3 renders what it parses: the same on both.
for cmd in "GET nokey" "CONFIG GET maxmemory" "ACL GETUSER default" "LCS l1 l2 IDX" "MGET k nokey" "COMMAND DOCS get" \
    "COMMAND DOCS set" "COMMAND INFO set" "COMMAND GETKEYSANDFLAGS set k v get"; do
    # shellcheck disable=SC2086
    k=$(timeout 10 redis-cli -3 -p "$PORT" $cmd 2>&1)
    # shellcheck disable=SC2086
    r=$(timeout 10 redis-cli -3 -p "$RPORT" $cmd 2>&1)
    expect_eq "redis-cli -3 $cmd" "$r" "$k"
done
# kvd-cli -3 (libkvdclient's RESP3 parser) renders as redis-cli -3 does,
# raw and on a terminal.
KCLI=$B/src/kvd-cli
cli set l1 ohmytext >/dev/null; cli set l2 mynewtext >/dev/null
for cmd in "CONFIG GET maxmemory" "ACL GETUSER default" "LCS l1 l2 IDX" "MGET l1 nokey" "GET nokey" "COMMAND DOCS get" \
    "COMMAND INFO set" "INFO keyspace"; do
    # shellcheck disable=SC2086
    expect_eq "kvd-cli -3 $cmd (raw)" "$(timeout 10 redis-cli -3 -p "$PORT" $cmd 2>&1)" "$(timeout 10 "$KCLI" -3 -p "$PORT" $cmd 2>&1)"
    if command -v script >/dev/null; then
        expect_eq "kvd-cli -3 $cmd (terminal)" "$(timeout 10 script -qc "redis-cli -3 -p $PORT $cmd" /dev/null)" \
            "$(timeout 10 script -qc "$KCLI -3 -p $PORT $cmd" /dev/null)"
    fi
done
stop_kvd
finish
