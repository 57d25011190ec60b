#!/usr/bin/env bash
# Disk errors, injected with the LD_PRELOAD shim tests/faultfs.c:
# - a full disk (write ENOSPC) under everysec: the write that hit it gets
#   -MISCONF at once and is not applied (a read shows the old value),
#   later writes are refused with -MISCONF, reads keep working, and once
#   space is back writes resume by themselves, with nothing acknowledged
#   lost and nothing refused resurrected;
# - a failed fdatasync (EIO) under always: the waiting client is cut off
#   without an acknowledgement, writes are refused until restart, reads
#   keep working, nothing acknowledged is lost;
# - a full disk under always: the same, the write answered at once;
# - a compaction whose fork fails: automatic compaction backs off instead
#   of trying (and rotating to a new segment) at every cron tick;
# - a first start whose directory fsync fails leaves no segment behind;
# - a failed directory fsync right after a manifest rename (which of the
#   two manifests a crash leaves is unknown): no file either names is
#   deleted, so after kill -9 the data dir loads with every acknowledged
#   write; during a rotation writes are refused from then on.
. "$(dirname "$0")/lib.sh"

LOAD=$B/tests/kvdload
SHIM=$B/tests/.libs/libfaultfs.so
[ -f "$SHIM" ] || { echo "skip: $SHIM not built"; exit 77; }
FAULT=$T/fault
: >"$FAULT"
# Sanitizer builds must not insist on being first in the preload list.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
info() { cli info persistence | tr -d '\r' | grep "^$1:" | cut -d: -f2-; }
faulty() { LD_PRELOAD=$SHIM KVD_FAULT_FILE=$FAULT "$@"; }

# ---- everysec, full disk ----
faulty start_kvd e --appendfsync everysec || fail "start e"
"$LOAD" fill "$PORT" k: 500 40 >/dev/null || fail "fill"
cli set held old >/dev/null
echo "write ENOSPC" >"$FAULT"
out=$(timeout 30 redis-cli -p "$PORT" set held new 2>&1); hrc=$?
expect_eq "the write that hit the full disk is answered at once" 0 "$hrc"
expect_eq "... with an error" "MISCONF Errors writing to the WAL file: No space left on device" "$out"
expect_eq "... and not applied" old "$(cli get held)"
expect_eq "a write is refused" "MISCONF Errors writing to the WAL file: No space left on device" "$(cli set x y)"
expect_eq "reads keep working" 0 "$("$LOAD" verify "$PORT" k: 500 40 >/dev/null; echo $?)"
expect_eq "INFO: last write failed" err "$(info aof_last_write_status)"
expect_eq "INFO: the error" "No space left on device" "$(info wal_last_error)"
expect_match "logged" "WAL write failed: No space left on device" "$(cat "$T/e.log")"
: >"$FAULT"
wait_for 30 '[ "$(cli set x y)" == OK ]'
expect_eq "space back: writes resume" OK "$(cli set x y)"
expect_eq "INFO: ok again" ok "$(info aof_last_write_status)"
expect_match "recovery logged" "WAL write succeeded again" "$(cat "$T/e.log")"
stop_kvd; expect_eq "clean exit" 0 "$RC"
restart_kvd e --appendfsync everysec || fail "restart e"
expect_eq "after restart: every acknowledged write" 0 "$("$LOAD" verify "$PORT" k: 500 40 >/dev/null; echo $?)"
expect_eq "after restart: the write after recovery" y "$(cli get x)"
expect_eq "after restart: the refused write is not there" old "$(cli get held)"
stop_kvd

# ---- always, failed fsync ----
faulty start_kvd a --appendfsync always || fail "start a"
"$LOAD" fill "$PORT" k: 500 40 >/dev/null || fail "fill a"
echo "fsync EIO" >"$FAULT"
out=$(timeout 30 redis-cli -p "$PORT" set doomed v 2>&1); rc=$?
expect_match "the waiting client is disconnected, not acknowledged" "(closed|reset|Error)" "$out"
expect_eq "writes refused" "MISCONF Errors writing to the WAL file: Input/output error" "$(cli set y z)"
expect_eq "reads work" 0 "$("$LOAD" verify "$PORT" k: 500 40 >/dev/null; echo $?)"
expect_match "the failure is logged" "WAL fdatasync failed: Input/output error" "$(cat "$T/a.log")"
expect_match "INFO counts it" "^[1-9]" "$(info wal_fsync_failures)"
# A read of what the failed fsync covered cannot be shown (it may not be
# on disk) and must not wait forever either: an error, at once.
out=$(timeout 10 redis-cli -p "$PORT" get doomed 2>&1); rc=$?
expect_eq "a read of the unsynced key answers at once" 0 "$rc"
expect_match "... with an error" "^MISCONF .*may not be on disk" "$out"
expect_eq "DBSIZE too" 0 "$(timeout 10 redis-cli -p "$PORT" dbsize >/dev/null 2>&1; echo $?)"
expect_match "INFO still answers" "wal_fsync_failures" "$(timeout 10 redis-cli -p "$PORT" info)"
: >"$FAULT"
sleep 0.3
expect_eq "no silent retry: still refused once the disk is fine" "MISCONF Errors writing to the WAL file: Input/output error" "$(cli set y z)"
# Another fsync could prove nothing: SHUTDOWN does not wait for one.
timeout 10 redis-cli -p "$PORT" shutdown >/dev/null 2>&1
RC=0; wait "$KPID" || RC=$?
expect_eq "SHUTDOWN after a failed fsync exits, with 1" 1 "$RC"
expect_match "... saying why" "an fdatasync of the WAL failed earlier \(Input/output error\)" "$(cat "$T/a.log")"
restart_kvd a --appendfsync always || fail "restart a"
expect_eq "after restart: every acknowledged write" 0 "$("$LOAD" verify "$PORT" k: 500 40 >/dev/null; echo $?)"
expect_eq "after restart: writes work" OK "$(cli set y z)"
stop_kvd

# ---- everysec, failed fsync: never retried ----
faulty start_kvd s --appendfsync everysec || fail "start s"
cli set a 1 >/dev/null
wait_for 30 '[ "$(info wal_durable_seq)" == "$(info wal_written_seq)" ]'
echo "fsync EIO" >"$FAULT"
cli set b 2 >/dev/null
wait_for 30 '[ "$(info wal_fsync_failures)" -ge 1 ]'
durable=$(info wal_durable_seq)
: >"$FAULT"
sleep 3 # three everysec periods, at least
expect_eq "everysec: the failed fsync is not retried" 1 "$(info wal_fsync_failures)"
expect_eq "everysec: nor is the data reported durable by a later one" "$durable" "$(info wal_durable_seq)"
stop_kvd

# ---- always, full disk, then space again ----
faulty start_kvd w --appendfsync always || fail "start w"
cli set waits old >/dev/null
echo "write ENOSPC" >"$FAULT"
out=$(timeout 30 redis-cli -p "$PORT" set waits new 2>&1); rc=$?
expect_eq "always: the write is answered at once" 0 "$rc"
expect_eq "always: with an error" "MISCONF Errors writing to the WAL file: No space left on device" "$out"
# Writes are tried again a second after a failure (a lower bound: sleeping
# longer is always safe). A pipelined batch that then fails gets one error
# per command, the read of the key it set included: it saw a value that
# was taken back.
sleep 1.5
expect_eq "always: a failed pipelined batch gets one error per command" \
    "$(printf -- '-MISCONF Errors writing to the WAL file: No space left on device\r\n%.0s' 1 2 3)" \
    "$(raw 'SET a 1\r\nSET b 2\r\nGET a\r\n')"
# Commands that did not depend on the batch keep their replies (and took
# effect): an error means the command did not happen.
sleep 1.5
E='-MISCONF Errors writing to the WAL file: No space left on device\r\n'
expect_eq "always: other commands in the failed pipeline answer as usual" \
    "$(printf -- "$E+OK\r\n+PONG\r\n$E")" "$(raw 'SET a 1\r\nCONFIG SET maxmemory-samples 7\r\nPING\r\nSET b 2\r\n')"
expect_eq "always: ... and took effect" "$(printf 'maxmemory-samples\n7')" "$(cli config get maxmemory-samples)"
# A SHUTDOWN behind a batch that cannot be written is refused: the disk
# may take it later.
sleep 1.5
expect_eq "always: SHUTDOWN after a batch that cannot be written: refused" \
    "$(printf -- "$E-ERR Errors trying to SHUTDOWN. Check logs.\r\n")" "$(raw 'SET c 3\r\nSHUTDOWN\r\n')"
expect_eq "always: ... and kvd keeps running" PONG "$(cli ping)"
expect_match "always: ... saying how to go on" "SHUTDOWN again; SHUTDOWN FORCE or SIGTERM exits without it" "$(cat "$T/w.log")"
: >"$FAULT"
wait_for 30 '[ "$(cli set after v)" == OK ]'
expect_eq "always: writes work once there is space" OK "$(cli set after v)"
expect_eq "always: the refused write was never applied" old "$(cli get waits)"
expect_eq "always: nor the refused batch" "" "$(cli get a)"
expect_eq "always: nor the one before the refused SHUTDOWN" "" "$(cli get c)"
stop_kvd
restart_kvd w --appendfsync always || fail "restart w"
expect_eq "after a restart: the old value" old "$(cli get waits)"
expect_eq "after a restart: the write after recovery" v "$(cli get after)"
stop_kvd

# ---- a compaction that cannot fork ----
faulty start_kvd f --auto-aof-rewrite-percentage 1 --auto-aof-rewrite-min-size 1 || fail "start f"
echo "fork EAGAIN" >"$FAULT"
"$LOAD" fill "$PORT" k: 500 40 >/dev/null || fail "fill f"
wait_for 30 'grep -q "automatic compaction could not start: fork failed" "$T/f.log"'
expect_match "f: the failed fork is logged" "automatic compaction could not start: fork failed: Resource temporarily unavailable" \
    "$(cat "$T/f.log")"
# The cron runs 10 times a second; without a backoff it would try (and
# rotate) at each tick. Keep writing for 2 s (at least), then count.
t0=$(now_ms)
while [ $(( $(now_ms) - t0 )) -lt 2000 ]; do cli set more "$RANDOM" >/dev/null; done
expect_eq "f: one automatic try in that time, not one per cron tick" 1 \
    "$(grep -c 'automatic compaction could not start' "$T/f.log")"
expect_match "f: segments do not pile up" "^[12]$" "$(info wal_segments)"
expect_match "f: BGREWRITEAOF still tries at once, and says why it failed" "fork failed" "$(cli bgrewriteaof 2>&1)"
segs=$(info wal_segments)
cli bgrewriteaof >/dev/null 2>&1
expect_eq "f: a second try does not rotate away from the (empty) segment the first made" "$segs" "$(info wal_segments)"
expect_eq "f: INFO reports it" err "$(info aof_last_bgrewrite_status)"
: >"$FAULT"
expect_match "f: with fork working again, BGREWRITEAOF starts" "started" "$(cli bgrewriteaof)"
wait_for 30 '[ "$(info aof_last_bgrewrite_status)" == ok ] && [ "$(info aof_rewrite_in_progress)" == 0 ]'
expect_eq "f: and succeeds" ok "$(info aof_last_bgrewrite_status)"
stop_kvd
restart_kvd f || fail "restart f"
expect_eq "f: nothing lost" 0 "$("$LOAD" verify "$PORT" k: 500 40 >/dev/null; echo $?)"
stop_kvd

# ---- a failed directory fsync after a manifest rename ----
# Compaction fsyncs the directory: (1) before and (2) after the rotation's
# manifest rename, (3) after renaming the new base into place and (4)
# after the new manifest's rename. 2 and 4 leave the manifest uncertain.
for n in 2 4; do
    faulty start_kvd "d$n" --appendfsync always --compaction-cpu-percent 100 || fail "start d$n"
    "$LOAD" fill "$PORT" k: 2000 40 >/dev/null || fail "fill d$n"
    echo "dirsync $n" >"$FAULT"
    reply=$(cli bgrewriteaof 2>&1)
    wait_for 60 '[ "$(info aof_rewrite_in_progress)" == 0 ]'
    if [ $n = 2 ]; then
        expect_match "dirsync 2: the rotation fails and says why" "Input/output error" "$reply"
        expect_match "dirsync 2: writes are refused from then on" "^MISCONF" "$(cli set after v)"
    else
        expect_eq "dirsync 4: the compaction is reported failed" err "$(info aof_last_bgrewrite_status)"
        expect_eq "dirsync 4: writes go on" OK "$(cli set after v)"
    fi
    expect_eq "dirsync $n: reads work" 0 "$("$LOAD" verify "$PORT" k: 2000 40 >/dev/null; echo $?)"
    : >"$FAULT"
    kill9_kvd
    restart_kvd "d$n" --appendfsync always || fail "dirsync $n: restart"
    expect_eq "dirsync $n: after kill -9 every acknowledged write loads" 0 \
        "$("$LOAD" verify "$PORT" k: 2000 40 >/dev/null; echo $?)"
    [ $n = 4 ] && expect_eq "dirsync 4: and the write acknowledged after it" v "$(cli get after)"
    expect_eq "dirsync $n: kvd-check-wal DIR is clean" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
    stop_kvd
done

# ---- a first start that cannot make its data dir durable ----
# (the directory fsync after segment 1 is created fails, as on a full or
# failing disk): it exits 1 and leaves no segment without a manifest,
# which would refuse every later start.
echo "dirsync 1" >"$FAULT"
out=$(faulty timeout 30 "$KVD" --port 0 --unixsocket "$T/first.sock" --dir "$T/first" 2>&1); rc=$?
: >"$FAULT"
expect_eq "first start, dir fsync fails: exit 1" 1 $rc
expect_match "... saying so" "cannot sync $T/first" "$out"
expect_eq "... leaving no segment file" "" "$(ls "$T/first" | grep -v '^kvd.lock$')"
start_kvd first || fail "start first once the disk works"
expect_eq "... and the next start works" OK "$(cli set k v)"
stop_kvd
finish
