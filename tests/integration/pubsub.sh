#!/usr/bin/env bash
# Pub/sub (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
# PUBSUB) against Debian's redis-server 7.0: scripted scenarios with a
# subscriber and a publisher, in RESP2 and RESP3, with ACL channel rules,
# go to both servers and every reply and message must be the same. Then
# what kvd alone must show: CLIENT LIST/KILL TYPE pubsub, INFO counts, a
# subscriber that does not read is cut at the pubsub output limit, a user
# whose channel rules shrink loses its subscribed connections, and
# redis-py's PubSub and redis-cli SUBSCRIBE work.
. "$(dirname "$0")/lib.sh"
need_redis_and_python

start_kvd a || fail "start a"
start_redis r || fail "start redis"

cat >"$T/scenarios.py" <<'EOF'
import sys
from respconn import Conn

port = int(sys.argv[1])
out = []

def say(tag, v):
    out.append("%s: %r" % (tag, v))

def fresh():
    c = Conn(port)
    return c

def run(name, steps):
    conns = {"s": fresh(), "p": fresh(), "t": fresh()}
    for who, *cmd in steps:
        c = conns[who]
        if cmd[0] == "READ":          # a message that must arrive
            say(name + " " + who + " reads", c.read())
        elif cmd[0] == "QUIET":       # nothing more may arrive
            say(name + " " + who + " quiet", not c.pending())
        elif cmd[0] == "SEND":        # send without waiting for a reply
            c.s.sendall(("*%d\r\n" % (len(cmd) - 1) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in cmd[1:])).encode())
        else:
            r = c.send(*cmd)
            if cmd[0] == "PUBSUB" and len(cmd) > 1 and cmd[1] == "CHANNELS":
                r = sorted(r)
            say(name + " " + who + " " + " ".join(map(str, cmd)), r)
    for c in conns.values():
        c.close()

run("resp2 basics", [
    ("s", "SUBSCRIBE", "a", "b"), ("s", "READ"),
    ("p", "PUBLISH", "a", "m1"), ("s", "READ"), ("p", "PUBLISH", "c", "x"), ("s", "QUIET"),
    ("p", "PUBSUB", "NUMSUB", "a", "b", "c"), ("p", "PUBSUB", "CHANNELS"), ("p", "PUBSUB", "CHANNELS", "a*"),
    ("s", "PSUBSCRIBE", "h*", "h?llo"), ("s", "READ"), ("p", "PUBSUB", "NUMPAT"),
    ("p", "PUBLISH", "hello", "x"), ("s", "READ"), ("s", "READ"),
    ("s", "SUBSCRIBE", "hello"), ("p", "PUBLISH", "hello", "y"), ("s", "READ"), ("s", "READ"), ("s", "READ"),
    ("s", "SUBSCRIBE", "a"), ("s", "GET", "x"), ("s", "SET", "x", "1"), ("s", "CLIENT", "ID"),
    ("s", "PING"), ("s", "PING", "hi"), ("s", "UNSUBSCRIBE", "b"), ("s", "UNSUBSCRIBE", "nope"),
    ("s", "PUNSUBSCRIBE", "h*"), ("s", "PUNSUBSCRIBE", "h?llo"), ("s", "UNSUBSCRIBE", "a"),
    ("s", "UNSUBSCRIBE", "hello"), ("s", "GET", "x"), ("s", "UNSUBSCRIBE"), ("s", "PUNSUBSCRIBE"),
    ("p", "PUBSUB", "NUMSUB", "a"), ("p", "PUBSUB", "NUMPAT"), ("p", "PUBLISH", "a", "z"),
])
# "*" does not match the empty channel in Redis: one message, not two.
run("binary and empty", [
    ("s", "SUBSCRIBE", ""), ("s", "PSUBSCRIBE", "*"), ("p", "PUBLISH", "", "bin\x00ary"),
    ("s", "READ"), ("s", "QUIET"), ("p", "PUBLISH", "x y", ""), ("s", "READ"),
])
run("errors", [
    ("p", "SUBSCRIBE"), ("p", "PSUBSCRIBE"), ("p", "PUBLISH", "a"), ("p", "PUBLISH", "a", "b", "c"),
    ("p", "PUBSUB"), ("p", "PUBSUB", "FOO"), ("p", "PUBSUB", "NUMPAT", "x"), ("p", "PUBSUB", "CHANNELS", "a", "b"),
    ("p", "PUBSUB", "SHARDCHANNELS"), ("p", "PUBSUB", "SHARDNUMSUB", "a"), ("p", "PUBSUB", "HELP"),
])
run("many subscribers", [
    ("s", "SUBSCRIBE", "k"), ("t", "SUBSCRIBE", "k"), ("t", "PSUBSCRIBE", "k*"),
    ("p", "PUBLISH", "k", "v"), ("s", "READ"), ("t", "READ"), ("t", "READ"), ("p", "PUBSUB", "NUMSUB", "k"),
    ("p", "CLIENT", "KILL", "TYPE", "pubsub"), ("p", "PUBSUB", "NUMSUB", "k"), ("p", "PUBSUB", "NUMPAT"),
    ("p", "PUBLISH", "k", "gone"),
])
run("reset and multi", [
    ("s", "SUBSCRIBE", "a"), ("s", "RESET"), ("s", "GET", "x"), ("p", "PUBLISH", "a", "m"), ("s", "QUIET"),
    ("s", "MULTI"), ("s", "SUBSCRIBE", "m"), ("s", "PUBLISH", "m", "inside"), ("s", "EXEC"), ("s", "READ"),
    ("s", "UNSUBSCRIBE"),
])
run("resp3", [
    ("s", "HELLO", "3"), ("s", "SUBSCRIBE", "a"), ("s", "GET", "x"), ("s", "PING"), ("p", "PUBLISH", "a", "m"),
    ("s", "READ"), ("s", "PUBLISH", "a", "self"), ("s", "READ"), ("s", "PSUBSCRIBE", "*"),
    ("p", "PUBLISH", "a", "two"), ("s", "READ"), ("s", "READ"), ("s", "PUNSUBSCRIBE", "*"),
    ("s", "UNSUBSCRIBE", "a"), ("s", "UNSUBSCRIBE"), ("s", "PUNSUBSCRIBE"),
    ("s", "PUBSUB", "NUMSUB", "a"), ("s", "SET", "k", "1"),
])
run("acl channels", [
    ("p", "ACL", "SETUSER", "ch", "on", "nopass", "+@all", "~*", "resetchannels", "&news.*", "&exact"),
    ("t", "AUTH", "ch", "x"), ("t", "PUBLISH", "news.1", "ok"), ("t", "PUBLISH", "sport", "no"),
    ("t", "SUBSCRIBE", "news.2", "sport"), ("t", "SUBSCRIBE", "exact"),
    ("t", "PSUBSCRIBE", "news.*"), ("t", "PSUBSCRIBE", "news.x*"), ("t", "PSUBSCRIBE", "exact"),
    ("p", "ACL", "DRYRUN", "ch", "PUBLISH", "sport", "x"), ("p", "ACL", "DRYRUN", "ch", "PUBLISH", "news.9", "x"),
    ("p", "ACL", "DRYRUN", "ch", "PSUBSCRIBE", "news*"),
    ("p", "ACL", "SETUSER", "ch", "resetchannels", "&news.*"), ("p", "PUBSUB", "NUMSUB", "exact"),
    ("p", "ACL", "DELUSER", "ch"),
])
for l in out:
    print(l)
EOF
run_scenarios "$PORT" kvd
run_scenarios "$RPORT" redis
# HELLO's own reply names the server: the only lines allowed to differ.
expect_eq "$(wc -l <"$T/redis.out") pub/sub replies and messages: kvd's lines that differ from Redis's" "" \
    "$(diff <(grep -v ' HELLO 3:' "$T/redis.out") <(grep -v ' HELLO 3:' "$T/kvd.out") | head -20)"
expect_match "ACL LOG names the channel" "reason channel .*object sport|reason.channel" \
    "$(cli acl log | tr '\n' ' ' | sed 's/  */ /g')"

# CLIENT LIST / INFO while one client subscribes.
exec {sub}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'SUBSCRIBE c1 c2\r\nPSUBSCRIBE p*\r\n' >&"$sub"
wait_for 30 "cli client list type pubsub | grep -q 'sub=2 psub=1'" || fail "no subscriber listed"
expect_match "CLIENT LIST TYPE pubsub: flags P, sub and psub" "flags=P .*sub=2 psub=1" "$(cli client list type pubsub)"
expect_eq "CLIENT LIST TYPE normal leaves it out" 0 "$(cli client list type normal | grep -c 'flags=P')"
expect_match "INFO counts channels and patterns" $'pubsub_channels:2\r\npubsub_patterns:1' "$(cli info stats)"
exec {sub}>&-
wait_for 30 "[ \"\$(cli pubsub numpat)\" = 0 ]" || fail "a closed subscriber still counts"

# A subscriber that never reads is disconnected at the pubsub class's hard
# limit, whatever the normal class allows; memory stays bounded.
expect_eq "CONFIG SET pubsub limits" OK "$(cli config set client-output-buffer-limit 'pubsub 2mb 1mb 60')"
expect_match "CONFIG GET shows every class" "normal 1073741824 67108864 0 slave 268435456 67108864 60 pubsub 2097152 1048576 60" \
    "$(cli config get client-output-buffer-limit | tr '\n' ' ')"
"$PY" - "$PORT" <<'EOF' >"$T/slow.out" 2>&1 || fail "slow subscriber: $(tail -3 "$T/slow.out")"
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"SUBSCRIBE flood\r\n")
time.sleep(0.3)
p = socket.create_connection(("127.0.0.1", port))
msg = b"x" * 65536
cmd = b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nflood\r\n$%d\r\n%s\r\n" % (len(msg), msg)
got = b""
for i in range(400):                     # 26 MB, far past the 2 MB limit
    p.sendall(cmd)
    while got.count(b"\r\n") < i + 1:
        got += p.recv(65536)
replies = got.split(b"\r\n")[:-1]
print("receivers at start", replies[0].decode(), "at end", replies[-1].decode())
EOF
expect_eq "a subscriber that does not read is cut at the pubsub limit" "receivers at start :1 at end :0" "$(cat "$T/slow.out")"
expect_match "... and the log says why" "over the hard limit" "$(cat "$T/a.log")"

# Shrinking a user's channel rules disconnects its subscribed clients.
cli acl setuser sub on nopass +@all '~*' resetchannels '&keep' '&drop' >/dev/null
exec {sub}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'AUTH sub x\r\nSUBSCRIBE keep drop\r\n' >&"$sub"
wait_for 30 "[ \"\$(cli pubsub numsub drop | tail -1)\" = 1 ]" || fail "sub did not subscribe"
cli acl setuser sub resetchannels '&keep' >/dev/null
wait_for 30 "[ \"\$(cli pubsub numsub keep | tail -1)\" = 0 ]" || fail "a client whose channel was revoked stays subscribed"
exec {sub}>&-
ok "a client whose channel was revoked is disconnected"

# Real clients: redis-py's PubSub, redis-cli SUBSCRIBE.
out=$("$PY" - "$PORT" <<'EOF' 2>&1
import sys, time, redis
r = redis.Redis(port=int(sys.argv[1]))
p = r.pubsub()
p.subscribe("news")
p.psubscribe("ne*")
msgs = []
deadline = time.time() + 20
while len(msgs) < 2 and time.time() < deadline:
    m = p.get_message(timeout=1.0)
    if m:
        msgs.append(m["type"])
n = r.publish("news", "hi")
got = []
while len(got) < 2 and time.time() < deadline:
    m = p.get_message(timeout=1.0)
    if m:
        got.append((m["type"], m["channel"], m["data"]))
p.close()
print(msgs, n, sorted(got))
EOF
)
expect_eq "redis-py PubSub" "['subscribe', 'psubscribe'] 2 [('message', b'news', b'hi'), ('pmessage', b'news', b'hi')]" "$out"
timeout 20 redis-cli -p "$PORT" subscribe cli >"$T/cli.out" 2>&1 &
clipid=$!
wait_for 30 "[ \"\$(cli pubsub numsub cli | tail -1)\" = 1 ]" || fail "redis-cli did not subscribe"
cli publish cli "hello there" >/dev/null
wait_for 30 "grep -q 'hello there' '$T/cli.out'" || fail "redis-cli got no message"
kill "$clipid" 2>/dev/null
expect_eq "redis-cli SUBSCRIBE prints the message" "$(printf 'subscribe\ncli\n1\nmessage\ncli\nhello there')" "$(cat "$T/cli.out")"

finish
