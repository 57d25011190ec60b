#!/usr/bin/env bash
# kvd under valgrind memcheck: a mixed workload (every command in
# compat.cases, pipelining, protocol errors, large values, expiry, always
# fsync on the worker thread), then SHUTDOWN. Any memory error or
# definite leak fails. Skipped when valgrind is missing or the binary is
# built with sanitizers (they do not mix).
. "$(dirname "$0")/lib.sh"

if ! command -v valgrind >/dev/null; then
    echo "skip [$NAME]: valgrind not installed"; exit 77
fi
if ldd "$KVD" 2>/dev/null | grep -q libasan; then
    echo "skip [$NAME]: sanitizer build"; exit 77
fi
for try in 1 2 3 4 5; do
    PORT=$(random_port)
    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
        --log-file="$T/vg.log" "$KVD" --bind 127.0.0.1 --port "$PORT" --dir "$T/d" \
        --appendfsync always --hz 50 --logfile "$T/kvd.log" &
    KPID=$!
    PIDS+=("$KPID")
    wait_for 120 '{ listens "$PORT" "$KPID" && [ "$(timeout 2 redis-cli -p "$PORT" ping 2>/dev/null)" == PONG ]; } || ! kill -0 "$KPID" 2>/dev/null'
    kill -0 "$KPID" 2>/dev/null && break
done
# Every case but INCRBYFLOAT (valgrind computes long doubles with 64-bit
# precision, so those answers differ under it), compared byte for byte
# with the same binary running without valgrind.
grep -vi '^INCRBYFLOAT' "$S/tests/integration/compat.cases" >"$T/cases"
run_cases() { # port out
    while IFS= read -r line; do printf '%s\r\n' "$line"; done <"$T/cases" | timeout 120 nc -N 127.0.0.1 "$1" >"$2"
}
run_cases "$PORT" "$T/out"
VPORT=$PORT VPID=$KPID
start_kvd plain || fail "start kvd without valgrind"
run_cases "$PORT" "$T/plain.out"
kill -TERM "$KPID"
PORT=$VPORT KPID=$VPID
if cmp -s "$T/plain.out" "$T/out"; then
    ok "every case answered under valgrind as without it ($(grep -c . "$T/cases") commands)"
else
    fail "replies under valgrind differ:"
    diff <(cat -A "$T/plain.out") <(cat -A "$T/out") | head -20
fi
timeout 120 redis-benchmark -p "$PORT" -n 2000 -c 10 -q -t set,get,incr,mset >/dev/null 2>&1
timeout 60 redis-benchmark -p "$PORT" -n 2000 -c 5 -P 20 -q -t set,get >/dev/null 2>&1
head -c 300000 /dev/urandom >"$T/big"
cli -x set big <"$T/big" >/dev/null
expect_eq "large binary value" 300000 "$(cli strlen big)"
cli set t v px 50 >/dev/null
sleep 0.3
raw '*x\r\n' >/dev/null
raw 'SET "a\r\n' >/dev/null
cli shutdown >/dev/null 2>&1
RC=0
wait "$KPID" || RC=$?
expect_eq "valgrind: no errors, no definite leaks, clean exit" 0 "$RC"
[ "$RC" -ne 0 ] && head -40 "$T/vg.log"
finish
