#!/usr/bin/env bash
# libkvdclient against live servers: tests/check_client against kvd (also
# under valgrind when available), then against a real Redis when
# redis-server is installed, proving the library is a plain RESP client.
# Also the installed example built with pkg-config is checked by
# scripts/test; here examples/example runs against kvd.
. "$(dirname "$0")/lib.sh"

CHECK=$B/tests/check_client
[ -x "$CHECK" ] || { echo "skip: $CHECK not built"; exit 77; }

# ---- kvd ----
start_kvd main --unixsocket "$T/kvd.sock" --pidfile "$T/main.pid" || fail "start kvd"
MAINPORT=$PORT
# (The restart scripts wait up to 30 s for the old server to go and the
# new one to answer: a loaded machine is slow to do either.)
cat >"$T/restart-kvd" <<EOS
#!/usr/bin/env bash
pid=\$(cat "$T/main.pid")
kill -TERM "\$pid"
for i in \$(seq 1 600); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.05; done
"$KVD" --bind 127.0.0.1 --port $MAINPORT --dir "$T/main" --logfile "$T/main.log" \
    --unixsocket "$T/kvd.sock" --pidfile "$T/main.pid" --daemonize yes
for i in \$(seq 1 600); do
    # the new process's own listener (not another test's server on the port)
    ss -Hltnp "sport = :$MAINPORT" 2>/dev/null | grep -q "pid=\$(cat "$T/main.pid" 2>/dev/null)," &&
        [ "\$(redis-cli -p $MAINPORT ping 2>/dev/null)" == PONG ] && exit 0
    sleep 0.05
done
exit 1
EOS
chmod +x "$T/restart-kvd"
start_kvd auth --requirepass pw || fail "start kvd with a password"
AUTHPORT=$PORT

run_check() { # label [runner...]
    local label=$1; shift
    if KVD_PORT=$MAINPORT KVD_AUTH_PORT=$AUTHPORT KVD_SOCK=$SOCK KVD_RESTART=$RESTART "$@" "$CHECK" >"$T/check.out" 2>&1; then
        ok "$label: $(grep -o '[0-9]*%: Checks: [0-9]*, Failures: 0, Errors: 0' "$T/check.out")"
    else
        fail "$label:"; tail -20 "$T/check.out"
    fi
}
SOCK=$T/kvd.sock RESTART=$T/restart-kvd
run_check "libkvdclient against kvd"

out=$("$B/examples/example" 127.0.0.1 "$MAINPORT" 2>&1)
expect_eq "examples/example runs" "$(printf 'greeting has 11 bytes\nvisits: 1\nSET user:42 -> OK\nINCR user:42 -> error: ERR value is not an integer or out of range\nscan found 1000 item keys')" "$out"

if command -v valgrind >/dev/null && ! ldd "$B/src/kvd" 2>/dev/null | grep -q libasan; then
    CK_FORK=no KVD_UNDER_VALGRIND=1 run_check "libkvdclient under valgrind" "$B/libtool" --mode=execute \
        valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
fi
kill -TERM "$(cat "$T/main.pid")" 2>/dev/null

# ---- a real Redis ----
if command -v redis-server >/dev/null; then
    start_redis redis --appendonly yes --unixsocket "$T/redis.sock" || fail "start redis"
    RP=$RPORT
    start_redis redisauth --requirepass pw || fail "start redis with a password"
    RAP=$RPORT
    cat >"$T/restart-redis" <<EOS
#!/usr/bin/env bash
redis-cli -p $RP shutdown >/dev/null 2>&1
for i in \$(seq 1 600); do redis-cli -p $RP ping >/dev/null 2>&1 || break; sleep 0.05; done
redis-server --bind 127.0.0.1 --port $RP --dir "$T/redis" --save '' --logfile "$T/redis.log" \
    --daemonize yes --pidfile "$T/redis.pid" --appendonly yes --unixsocket "$T/redis.sock"
for i in \$(seq 1 600); do
    ss -Hltnp "sport = :$RP" 2>/dev/null | grep -q "pid=\$(cat "$T/redis.pid" 2>/dev/null)," &&
        [ "\$(redis-cli -p $RP ping 2>/dev/null)" == PONG ] && exit 0
    sleep 0.05
done
exit 1
EOS
    chmod +x "$T/restart-redis"
    MAINPORT=$RP AUTHPORT=$RAP SOCK=$T/redis.sock RESTART=$T/restart-redis
    run_check "libkvdclient against $(redis-server --version | grep -o 'v=[0-9.]*')"
    redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1
    redis-cli -p "$RAP" -a pw --no-auth-warning shutdown nosave >/dev/null 2>&1
else
    echo "skip [$NAME]: redis-server not installed, no run against Redis"
fi
finish
