#!/usr/bin/env bash
# Crash durability. For appendfsync always and everysec: 8 clients write
# increasing values for a random 0.2-1.5 s, the server is killed with
# SIGKILL mid-stream and restarted, and every write that got +OK must be
# there with its value or a later one. Some cycles run a compaction that
# the kill interrupts. Every earlier cycle's writes are checked again each
# time. (A process kill cannot lose data the kernel already has, so
# everysec must lose nothing here either; its 2 s allowance is for power
# loss, and the check reports writes that relied on it.)
. "$(dirname "$0")/lib.sh"

LOAD=$B/tests/kvdload
CYCLES=${CRASH_CYCLES:-11}
cycles=0 acked_total=0 lost=0
now_ms() { date +%s%3N; }

for mode in always everysec; do
    name=crash-$mode
    start_kvd "$name" --appendfsync "$mode" || { fail "start $mode"; continue; }
    for cycle in $(seq 1 "$CYCLES"); do
        compact=$(( cycle % 3 == 0 ))
        if [ "$compact" == 1 ]; then
            # Restart with a slow compaction child so the kill lands inside it.
            kill9_kvd
            KVD_TEST_COMPACT_DELAY_MS=700 restart_kvd "$name" --appendfsync "$mode" || fail "restart slow"
        fi
        ms=$(( 200 + RANDOM % 1300 ))
        "$LOAD" stress "$PORT" "c$cycle:" 8 10000 "$T/acked.$mode.$cycle" >"$T/count" &
        LP=$!
        if [ "$compact" == 1 ]; then
            sleep "0.$(printf '%03d' $(( ms / 2 )))"
            cli bgrewriteaof >/dev/null
            sleep "0.$(printf '%03d' $(( ms / 2 )))"
        else
            sleep "$(( ms / 1000 )).$(printf '%03d' $(( ms % 1000 )))"
        fi
        kill9_kvd
        end=$(now_ms)
        wait "$LP"
        acked=$(cat "$T/count")
        acked_total=$(( acked_total + acked ))
        cycles=$(( cycles + 1 ))
        restart_kvd "$name" --appendfsync "$mode" || { fail "$mode cycle $cycle: restart"; break; }
        grace=0
        [ "$mode" == everysec ] && grace=2000
        for c in $(seq 1 "$cycle"); do
            out=$("$LOAD" check "$PORT" "$T/acked.$mode.$c" "$grace" "$end" 2>&1) || {
                lost=$(( lost + 1 )); fail "$mode cycle $cycle (writes of cycle $c): $out"; }
        done
    done
    expect_eq "$mode: kvd-check-wal DIR is clean at the end" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
    expect_eq "$mode: compactions ran in some cycles" 1 "$(( $(grep -c 'compaction started' "$T/$name.log") >= CYCLES / 3 ))"
    stop_kvd
done
echo "durability: $cycles cycles, $acked_total acked writes, $lost lost"
expect_eq "no acknowledged write lost" 0 "$lost"
expect_eq "at least 20 cycles" 1 "$(( cycles >= 20 ))"
finish
