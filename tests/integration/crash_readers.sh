#!/usr/bin/env bash
# Power loss with concurrent readers. Under appendfsync always a reply
# must never show state that a crash could undo: not the +OK of a write,
# and not a value a GET returns either.
# kvd runs under the volatile mode of tests/faultfs.c, in which WAL bytes
# reach the file only when kvd fsyncs them, so kill -9 is a power loss for
# its WAL. Writers (one per key, values only grow) and readers (GETs of
# random keys of that small set) run for a random 0.5-2 s; then kvd is
# killed and restarted with the shim off, and:
#   (a) every acknowledged write is there (the value is >= the last acked);
#   (b) every value a reader saw is there (the value is >= the value seen).
# Every earlier cycle's acknowledged writes are checked again each time.
# A few everysec cycles follow, for information only: there a power loss
# may take the last second of acknowledged writes, and that is allowed.
. "$(dirname "$0")/lib.sh"

LOAD=$B/tests/kvdload
SHIM=$B/tests/.libs/libfaultfs.so
[ -f "$SHIM" ] || { echo "skip: $SHIM not built"; exit 77; }
CYCLES=${CRASH_READERS_CYCLES:-8}
EVERYSEC_CYCLES=${CRASH_READERS_EVERYSEC_CYCLES:-3}
WRITERS=4 READERS=4
FAULT=$T/fault
: >"$FAULT"
# Sanitizer builds must not insist on being first in the preload list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
faulty() { LD_PRELOAD=$SHIM KVD_FAULT_FILE=$FAULT "$@"; }
# last_numbers TEXT: the numbers on TEXT's last line, space separated.
last_numbers() { printf '%s\n' "$1" | tail -1 | grep -oE '[0-9]+' | paste -sd' '; }

# cycles MODE N: N kill -9 cycles under appendfsync MODE, adding to the
# totals below: C cycles, W acknowledged writes, LOST keys whose last
# acknowledged write was lost, R reads checked, X of them showing a value
# that was lost. Under always a loss of
# either kind fails the test; under everysec both are only counted.
declare -A C W LOST R X
cycles() {
    local mode=$1 n=$2 cycle c ms acked reads out rc keys lost
    local name=readers-$mode
    C[$mode]=0 W[$mode]=0 LOST[$mode]=0 R[$mode]=0 X[$mode]=0
    faulty start_kvd "$name" --appendfsync "$mode" || { fail "$mode: start"; return; }
    for cycle in $(seq 1 "$n"); do
        echo volatile >"$FAULT"
        ms=$(( 500 + RANDOM % 1501 ))
        "$LOAD" race "$PORT" "c$cycle:" "$WRITERS" "$READERS" 20000 \
            "$T/acked.$mode.$cycle" "$T/seen.$mode.$cycle" >"$T/count" &
        local lp=$!
        sleep "$(( ms / 1000 )).$(printf '%03d' $(( ms % 1000 )))"
        kill9_kvd
        wait "$lp"
        read -r acked reads <"$T/count"
        : >"$FAULT" # the power is back: from now on writes reach the disk
        faulty restart_kvd "$name" --appendfsync "$mode" || { fail "$mode cycle $cycle: restart"; return; }
        C[$mode]=$(( C[$mode] + 1 ))
        W[$mode]=$(( W[$mode] + acked ))
        # (a) acknowledged writes: under always this cycle's and every
        # earlier one's ("K keys, L lost, 0 within the grace period").
        for c in $(seq 1 "$cycle"); do
            [ "$mode" == always ] || [ "$c" == "$cycle" ] || continue
            out=$("$LOAD" check "$PORT" "$T/acked.$mode.$c" 2>&1); rc=$?
            read -r keys lost _ <<<"$(last_numbers "$out")"; lost=${lost:-0}
            [ "$c" == "$cycle" ] && LOST[$mode]=$(( LOST[$mode] + lost ))
            [ "$mode" == always ] && [ $rc -ne 0 ] && fail "$mode cycle $cycle (writes of cycle $c): $out"
        done
        # (b) what the readers saw ("R reads of K keys, X of values lost").
        out=$("$LOAD" check-reads "$PORT" "$T/seen.$mode.$cycle" 2>&1)
        read -r reads keys lost <<<"$(last_numbers "$out")"; reads=${reads:-0} lost=${lost:-0}
        R[$mode]=$(( R[$mode] + reads ))
        X[$mode]=$(( X[$mode] + lost ))
        if [ "$mode" == always ] && [ "$lost" != 0 ]; then
            echo "     $mode cycle $cycle, killed after $ms ms: $(printf '%s\n' "$out" | tail -1), e.g.:"
            printf '%s\n' "$out" | grep 'a reader saw' | sort -u | head -3 | sed 's/^kvdload check-reads: /       /'
        fi
    done
    expect_eq "$mode: kvd-check-wal DIR is clean at the end" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
    stop_kvd
}

cycles always "$CYCLES"
echo "readers: ${C[always]} cycles, ${W[always]} acked writes, ${R[always]} reads checked, ${X[always]} reads of values lost"
expect_eq "always: at least $CYCLES cycles ran" "$CYCLES" "${C[always]}"
expect_eq "always: writers got acknowledgements" 1 "$(( W[always] > 0 ))"
expect_eq "always: readers saw values" 1 "$(( R[always] > 0 ))"
expect_eq "always: no acknowledged write lost" 0 "${LOST[always]}"
expect_eq "always: no read showed a value the crash then lost" 0 "${X[always]}"

# everysec: for information. A power loss may take about the last second
# of acknowledged writes there, and reads of them, so neither fails.
cycles everysec "$EVERYSEC_CYCLES"
echo "readers, everysec (losses allowed): ${C[everysec]} cycles, ${W[everysec]} acked writes," \
    "${LOST[everysec]} keys lost their last acked write to the power cut, ${R[everysec]} reads checked, ${X[everysec]} reads of values lost"
finish
