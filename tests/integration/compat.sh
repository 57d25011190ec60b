#!/usr/bin/env bash
# Byte-for-byte replies for ~500 commands covering every string and key
# command's options and error texts (compat.cases), against the golden
# compat.expected. When redis-server is installed, the same cases run
# against a real Redis, which must answer exactly the same bytes, and so
# must COMMAND INFO/DOCS/GETKEYS for every command (command_docs.py).
. "$(dirname "$0")/lib.sh"

CASES=$S/tests/integration/compat.cases
EXPECTED=$S/tests/integration/compat.expected

# Valgrind computes long double in 64 bits, so under KVD_VALGRIND the
# INCRBYFLOAT cases (which Redis and kvd compute in long double) are left
# out, and the live Redis is the reference instead of the golden file.
if [ ${#VG[@]} -gt 0 ]; then
    grep -vi '^INCRBYFLOAT' "$CASES" >"$T/cases"
    CASES=$T/cases
    command -v redis-server >/dev/null || { echo "skip [$NAME]: no redis-server to compare with under valgrind"; exit 77; }
fi
run_cases() { # port out
    while IFS= read -r line; do printf '%s\r\n' "$line"; done <"$CASES" |
        timeout 60 nc -N 127.0.0.1 "$1" >"$2"
}
# COMMAND INFO, DOCS, GETKEYS and GETKEYSANDFLAGS of every command kvd and
# Redis both have, in RESP2 and RESP3, and python3-redis's parsing of them
# (command_docs.py says how): kvd on $PORT against Redis on $RPORT.
command_docs() {
    local out rc=0
    [ -x /usr/bin/python3 ] || { echo "skip [$NAME]: no python3 for command_docs.py"; return; }
    out=$(timeout 120 /usr/bin/python3 "$S/tests/integration/command_docs.py" "$PORT" "$RPORT" 2>&1) || rc=$?
    printf '%s\n' "$out" | sed "s/^\(ok  \|skip\|FAIL\) /\1 [$NAME]: /"
    [ $rc -eq 0 ] || fail "command_docs.py: kvd's COMMAND replies differ from redis-server's (above)"
}

start_kvd c || fail "start kvd"
run_cases "$PORT" "$T/kvd.out"
# The last case is a protocol error that closes the connection: a reply to
# it proves every case before it ran (a case that closes the connection
# early would silently cut the comparison short).
expect_eq "every case ran (the last reply is the last case's)" "-ERR Protocol error: unbalanced quotes in request" \
    "$(tail -n 1 "$T/kvd.out" | tr -d '\r')"
if [ ${#VG[@]} -gt 0 ]; then
    start_redis redis --appendonly no || fail "start redis-server"
    run_cases "$RPORT" "$T/redis.out"
    if cmp -s "$T/redis.out" "$T/kvd.out"; then
        ok "kvd under valgrind: $(grep -c . "$CASES") commands answered as redis-server does"
    else
        fail "kvd under valgrind answers differently from redis-server:"
        diff <(cat -A "$T/redis.out") <(cat -A "$T/kvd.out") | head -40
    fi
    command_docs
    finish
fi
if cmp -s "$EXPECTED" "$T/kvd.out"; then
    ok "kvd: $(grep -c . "$CASES") commands answered byte for byte as expected"
else
    fail "kvd replies differ from compat.expected:"
    diff <(cat -A "$EXPECTED") <(cat -A "$T/kvd.out") | head -40
fi

if command -v redis-server >/dev/null; then
    start_redis redis --appendonly no || fail "start redis-server"
    run_cases "$RPORT" "$T/redis.out"
    if cmp -s "$EXPECTED" "$T/redis.out"; then
        ok "redis-server $(redis-server --version | grep -o 'v=[0-9.]*') answers the same bytes"
    else
        fail "a real Redis answers differently:"
        diff <(cat -A "$EXPECTED") <(cat -A "$T/redis.out") | head -40
    fi
    command_docs
else
    echo "skip [$NAME]: redis-server not installed, no comparison with Redis"
fi
finish
