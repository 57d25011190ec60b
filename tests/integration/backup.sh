#!/usr/bin/env bash
# scripts/kvd-backup copies a live data dir while writes and compactions
# run; every copy loads, holds every write acknowledged before the copy
# began, and passes kvd-check-wal.
. "$(dirname "$0")/lib.sh"

BACKUP=$S/scripts/kvd-backup
LOAD=$B/tests/kvdload
export PATH="$B/src:$PATH" # kvd-backup checks the copy with kvd-check-wal

start_kvd live --appendfsync always || { fail "start"; finish; }
LIVE_PORT=$PORT LIVE_PID=$KPID LIVE_DIR=$DIR
# Writers and back-to-back compactions for the whole test.
"$LOAD" stress "$LIVE_PORT" bg: 4 60000 "$T/stress.out" >/dev/null 2>&1 &
STRESS=$!
PIDS+=("$STRESS")
(while :; do timeout 5 redis-cli -p "$LIVE_PORT" bgrewriteaof >/dev/null 2>&1; sleep 0.1; done) &
PIDS+=("$!")

during=0
for round in 1 2 3 4 5; do
    "$LOAD" fill "$LIVE_PORT" "r$round:" 2000 200 >/dev/null || fail "round $round: fill"
    # Copy while a compaction runs (the loop above starts one every 0.1 s).
    wait_for 60 'timeout 5 redis-cli -p "$LIVE_PORT" info persistence | tr -d "\r" | grep -q "^aof_rewrite_in_progress:1"' &&
        during=$((during + 1))
    "$BACKUP" "$LIVE_DIR" "$T/copy$round" >"$T/backup.out" 2>&1 || { fail "round $round: kvd-backup: $(cat "$T/backup.out")"; continue; }
    ok "round $round: $(cat "$T/backup.out")"
    rc=0; "$B/src/kvd-check-wal" "$T/copy$round" >/dev/null 2>&1 || rc=$?
    [ $rc -le 1 ] && ok "round $round: the copy checks out (kvd-check-wal exit $rc)" || fail "round $round: kvd-check-wal exit $rc"
    # Bring the copy up on its own.
    start_kvd "copy$round" --dir "$T/copy$round" || { fail "round $round: the copy does not load"; continue; }
    for r in $(seq 1 "$round"); do
        "$LOAD" verify "$PORT" "r$r:" 2000 200 >/dev/null || fail "round $round: writes of round $r missing"
    done
    ok "round $round: the copy holds every write acknowledged before it (rounds 1..$round)"
    stop_kvd
done
expect_eq "every copy began while a compaction ran" 5 "$during"
expect_eq "refuses an existing destination" "1" "$("$BACKUP" "$LIVE_DIR" "$T/copy1" >/dev/null 2>&1; echo $?)"
expect_eq "refuses a dir without a manifest" "1" "$("$BACKUP" "$T" "$T/nope" >/dev/null 2>&1; echo $?)"
kill "$STRESS" 2>/dev/null
finish
