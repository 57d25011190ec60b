# Shared helpers for the black-box tests: a temp dir cleaned up by trap,
# the built binaries, kvd servers on free loopback ports, and assertions.
# Every server is started here, on 127.0.0.1 only, and killed on exit; the
# whole script is bounded by a watchdog. Source it.
# shellcheck shell=bash
set -u

B=${KVD_BUILDDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
S=${KVD_SRCDIR:-$B}
KVD=$B/src/kvd
CHECKWAL=$B/src/kvd-check-wal
WALGEN=$B/tests/walgen
NAME=$(basename "$0" .sh)
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

T=$(mktemp -d "${TMPDIR:-/tmp}/kvd-it-XXXXXX")
PIDS=()
cleanup() {
    exec 2>/dev/null  # no "Killed" notices for the servers we stop
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    # Daemonized servers leave their pid in a pidfile under $T.
    for p in "$T"/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done
    [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
# A hung test must not hang CI: kill the whole script after TEST_TIMEOUT s.
# (The trap kills the sleep too, so no stray process holds our output open.)
(trap 'kill $s 2>/dev/null; exit 0' TERM
 sleep "$TEST_TIMEOUT" & s=$!
 wait $s && { echo "FAIL [$NAME]: timed out after ${TEST_TIMEOUT}s" >&2; kill -TERM $$; }) 2>/dev/null &
WATCHDOG=$!

# KVD_VALGRIND=1 runs every server these tests start under valgrind
# memcheck; finish() then fails the test on any error valgrind logged.
VG=()
if [ -n "${KVD_VALGRIND:-}" ] && ! ldd "$KVD" 2>/dev/null | grep -q libasan; then
    VG=(valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
        --log-file="$T/vg.%p.log")
fi

FAILS=0
fail() { echo "FAIL [$NAME]: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok   [$NAME]: $*"; }

# ---- time ----
# Tests must not depend on how fast the machine is: a loaded CI box can
# stall any process for a second or more. Wait for what the server is
# expected to do with wait_for (a deadline, never a fixed sleep), and
# check times against what the test itself measured around the request.

# wait_for SECONDS CONDITION: evaluate the shell CONDITION every 50 ms
# until it holds (return 0) or SECONDS have passed (return 1).
wait_for() {
    local deadline=$((SECONDS + $1))
    until eval "$2"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

now_ms() { date +%s%3N; }

# ttl_bounds SECONDS SET_MS: "LOW HIGH", the TTLs a key given SECONDS by a
# request sent at SET_MS (from now_ms) may report now.
ttl_bounds() { echo "$(( ($1 * 1000 - ($(now_ms) - $2)) / 1000 )) $1"; }

# expect_between WHAT LOW HIGH ACTUAL: LOW <= ACTUAL <= HIGH (integers).
expect_between() {
    if [[ "$4" =~ ^-?[0-9]+$ ]] && [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
        ok "$1 ($4)"
    else
        fail "$1: expected $2..$3, got [$4]"
    fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# expect_match WHAT REGEX TEXT
expect_match() {
    if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else fail "$1: [$3] does not match /$2/"; fi
}

finish() {
    if [ ${#VG[@]} -gt 0 ]; then
        local f
        for f in "$T"/vg.*.log; do
            [ -s "$f" ] && { fail "valgrind reported errors:"; head -30 "$f"; }
        done
    fi
    if [ "$FAILS" -ne 0 ]; then
        echo "$NAME: $FAILS failure(s) (${SECONDS} s)"
        exit 1
    fi
    echo "$NAME: all passed (${SECONDS} s)"
    exit 0
}

# ---- servers ----
# random_port: a loopback port to try, below the kernel's ephemeral range
# (ip_local_port_range), so that no client socket of this or another test
# can be holding it.
random_port() {
    local lo=32768 hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
    [ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
    echo $((10000 + RANDOM % (lo - 10000)))
}

# on_free_port WHAT LOG CMD...: run CMD in the background on a random
# loopback port (each @PORT@ in CMD becomes it) and wait until it answers
# PING; another port if that one was taken, else the end of LOG on
# failure. Sets FREE_PORT and FREE_PID; the process is killed on exit.
on_free_port() {
    local what=$1 log=$2 try a; shift 2
    for try in 1 2 3 4 5 6 7 8; do
        FREE_PORT=$(random_port)
        local cmd=()
        for a in "$@"; do cmd+=("${a//@PORT@/$FREE_PORT}"); done
        "${cmd[@]}" &
        FREE_PID=$!
        PIDS+=("$FREE_PID")
        wait_ready "$FREE_PORT" "$FREE_PID" && return 0
        kill -9 "$FREE_PID" 2>/dev/null
        grep -qi "address already in use" "$log" 2>/dev/null || break
    done
    echo "$what did not start:"; tail -5 "$log"
    return 1
}

# start_kvd NAME [--directive value ...]: start kvd with data dir $T/NAME
# on a free port; sets PORT, KPID and DIR.
start_kvd() {
    local name=$1; shift
    DIR=$T/$name
    on_free_port "kvd $name" "$T/$name.log" "${VG[@]}" "$KVD" --bind 127.0.0.1 --port @PORT@ --dir "$DIR" \
        --logfile "$T/$name.log" "$@" || return 1
    PORT=$FREE_PORT KPID=$FREE_PID
}

# wait_ready PORT PID: wait until the process PID listens on PORT and
# answers PING (or dies), up to 60 s (a replay under valgrind on a loaded
# machine is slow). The listener must be PID's own: another test's server
# may hold the port while this one fails to bind, and must not be taken
# for it (it would then get this test's commands, SHUTDOWN included).
wait_ready() {
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$2" 2>/dev/null || return 1
        if listens "$1" "$2"; then
            case "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" in
                PONG | NOAUTH*) return 0 ;;
            esac
        fi
        sleep 0.05
    done
    return 1
}

# listens PORT PID: PID has a listening TCP socket on PORT.
listens() {
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}

# start_redis NAME [args]: start Debian's redis-server (the reference peer)
# with data dir $T/NAME on a free port; sets RPORT and RPID.
start_redis() {
    local name=$1; shift
    mkdir -p "$T/$name"
    on_free_port "redis-server $name" "$T/$name.log" redis-server --bind 127.0.0.1 --port @PORT@ \
        --dir "$T/$name" --save '' --logfile "$T/$name.log" "$@" || return 1
    RPORT=$FREE_PORT RPID=$FREE_PID
}

# restart_kvd NAME [args]: start again on the same data dir and port.
restart_kvd() {
    local name=$1; shift
    "${VG[@]}" "$KVD" --bind 127.0.0.1 --port "$PORT" --dir "$T/$name" --logfile "$T/$name.log" "$@" &
    KPID=$!
    PIDS+=("$KPID")
    wait_ready "$PORT" "$KPID"
}

# stop_kvd: SIGTERM and wait; the exit status is left in RC.
stop_kvd() {
    kill -TERM "$KPID" 2>/dev/null
    RC=0
    wait "$KPID" || RC=$?
}

kill9_kvd() {
    kill -9 "$KPID" 2>/dev/null
    wait "$KPID" 2>/dev/null
    return 0
}

# ---- scenarios compared with Redis ----
# Tests that run the same scripted scenarios on kvd and on redis-server
# write them to $T/scenarios.py (tests/integration/respconn.py is on its
# path) and compare what each prints.

# need_redis_and_python: skip the test (exit 77) without both.
need_redis_and_python() {
    PY=/usr/bin/python3
    command -v redis-server >/dev/null || { echo "skip [$NAME]: redis-server not installed"; exit 77; }
    [ -x "$PY" ] || { echo "skip [$NAME]: $PY not installed"; exit 77; }
}

# run_scenarios PORT NAME: run $T/scenarios.py against PORT, its output
# in $T/NAME.out.
run_scenarios() {
    PYTHONPATH="$S/tests/integration" "$PY" "$T/scenarios.py" "$1" >"$T/$2.out" 2>"$T/$2.err" ||
        fail "scenarios on $2: $(tail -12 "$T/$2.err")"
}

# cli ARGS: redis-cli against the current server, bounded in time.
cli() { timeout 10 redis-cli -p "$PORT" "$@"; }

# raw BYTES: send bytes with nc and print everything the server answers
# until it closes or goes quiet for a second.
raw() { printf "$1" | timeout 10 nc -N 127.0.0.1 "$PORT"; }
