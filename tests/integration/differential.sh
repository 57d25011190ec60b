#!/usr/bin/env bash
# Differential test against Debian's redis-server 7: one seeded stream of
# string and keyspace commands (every write command with its options,
# binary keys and values, TTLs past, near, far and huge) goes to kvd and to
# Redis in lock-step batches, and every reply must be the same bytes (TTLs
# within a tolerance). Meanwhile kvd is restarted cleanly, killed with
# SIGKILL and restarted, and compacts its WAL; at the end both keyspaces
# are dumped and compared. The driver is differential.py (its docstring
# explains how it keeps expiries from racing); this script starts the
# servers and hands kvd's command line over to it.
#
#   DIFF_SEED=N        the seed (default: a fixed one, printed at the start)
#   DIFF_COMMANDS=N    commands to send (default 100000; 1000000 is the long form)
#   DIFF_RATE=N        commands a second (default 3500, so about 30 s; 0: unpaced)
#   DIFF_SKIP=a,b      leave out parts, to look past a known bug (see differential.py)
#   DIFF_COMPACT_DELAY_MS=N  how long each kvd compaction waits before writing
#                      its base (default 200), so batches run alongside it
#   DIFF_SUBJECT=redis the self-check: a second redis-server (appendonly,
#                      appendfsync always) in kvd's place, restarted and
#                      killed the same way; it must pass, proving the test
#                      has no races of its own
DIFF_COMMANDS=${DIFF_COMMANDS:-100000}
TEST_TIMEOUT=${TEST_TIMEOUT:-$((240 + DIFF_COMMANDS / 400))}
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
command -v redis-server >/dev/null || { echo "skip [$NAME]: redis-server not installed"; exit 77; }
[ -x "$PY" ] || { echo "skip [$NAME]: $PY not installed"; exit 77; }
# Under valgrind 100k commands would take far too long, and valgrind
# computes INCRBYFLOAT's long doubles in 64 bits (see compat.sh).
[ ${#VG[@]} -gt 0 ] && { echo "skip [$NAME]: not under valgrind"; exit 77; }

# The reference: never restarted.
start_redis ref --appendonly yes --appendfsync always || { fail "start redis-server"; finish; }
REF_PORT=$RPORT

# The subject: started here once to find a free port and check that it
# runs, then stopped; the driver starts it again on that port and dir.
case ${DIFF_SUBJECT:-kvd} in
kvd)
    SUBJECT_NAME=kvd
    start_kvd subject --appendfsync always || { fail "start kvd"; finish; }
    stop_kvd
    argv=(env KVD_TEST_COMPACT_DELAY_MS="${DIFF_COMPACT_DELAY_MS:-200}"
          "$KVD" --bind 127.0.0.1 --port "$PORT" --dir "$DIR" --logfile "$T/subject.log" --appendfsync always)
    ;;
redis)
    SUBJECT_NAME=redis2
    start_redis subject --appendonly yes --appendfsync always || { fail "start the second redis-server"; finish; }
    PORT=$RPORT
    kill -TERM "$RPID"; wait "$RPID" 2>/dev/null
    argv=(redis-server --bind 127.0.0.1 --port "$PORT" --dir "$T/subject" --save '' --logfile "$T/subject.log"
          --appendonly yes --appendfsync always)
    ;;
*)
    fail "DIFF_SUBJECT must be kvd or redis"; finish ;;
esac

# In the background, so the watchdog's TERM is not held up by it.
"$PY" "$S/tests/integration/differential.py" --ref-port "$REF_PORT" --subject-name "$SUBJECT_NAME" \
    --port "$PORT" --log "$T/subject.log" --stderr "$T/subject.stderr" --pidfile "$T/subject.pid" \
    -- "${argv[@]}" &
DPID=$!
PIDS+=("$DPID")
rc=0
wait "$DPID" || rc=$?
if [ "$rc" -eq 0 ]; then
    ok "every reply and the final keyspace agree with redis-server"
else
    fail "the differential run found a difference (driver exit status $rc)"
fi
finish
