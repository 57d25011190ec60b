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
# DEST: a trailing slash is the same place; a missing parent is refused
# and nothing is created; three backups to one DEST at once: one copy.
"$BACKUP" "$LIVE_DIR" "$T/slash/" >"$T/backup.out" 2>&1 && [ -f "$T/slash/kvd.manifest" ] &&
    ok "DEST with a trailing slash" || fail "DEST with a trailing slash: $(cat "$T/backup.out")"
expect_eq "refuses a DEST whose parent is missing, creating nothing" "1 no" \
    "$("$BACKUP" "$LIVE_DIR" "$T/no/such/copy" >/dev/null 2>&1; echo $?) $([ -e "$T/no" ] && echo yes || echo no)"
for i in 1 2 3; do ("$BACKUP" "$LIVE_DIR" "$T/same" >"$T/same.$i.out" 2>&1; echo $? >"$T/same.$i.rc") & done
wait_for 120 '[ -f "$T/same.1.rc" ] && [ -f "$T/same.2.rc" ] && [ -f "$T/same.3.rc" ]' || fail "parallel backups did not end"
expect_eq "three backups to one DEST at once: one succeeds" "0 1 1" "$(cat "$T"/same.*.rc | sort | paste -sd' ')"
expect_eq "... and DEST holds one copy, nothing nested" "" "$(ls -A "$T/same" | grep -v '^kvd\.')"
# Not a data dir kvd wrote: refused at once, with the reason.
mkdir "$T/junk" "$T/holed"
echo hello >"$T/junk/kvd.manifest"
expect_match "refuses a manifest that names no file" "names no WAL file" "$("$BACKUP" "$T/junk" "$T/c-junk" 2>&1)"
printf 'kvd-manifest 1\nincr 7\ncrc 00000000\n' >"$T/holed/kvd.manifest"
expect_match "a named file missing: refused at once as damage" "named by the manifest but missing" \
    "$("$BACKUP" "$T/holed" "$T/c-holed" 2>&1)"
expect_eq "... leaving no DEST" "no" "$([ -e "$T/c-junk" ] || [ -e "$T/c-holed" ] && echo yes || echo no)"
kill "$STRESS" 2>/dev/null

# ---- a file retired while it is copied ----
# kvd frees a retired file's blocks in steps before unlinking it, so a cp
# that opened it before the manifest switched reads it short, and says
# nothing. Made to happen every time: a cp that, on the first copy of the
# file the compaction retires, switches the manifest and copies half.
start_kvd cut --appendfsync always || fail "start cut"
"$LOAD" fill "$PORT" c: 3000 200 >/dev/null || fail "cut: fill"
stop_kvd
cp -a "$DIR" "$T/before" # the old manifest and the file it names
restart_kvd cut || fail "cut: restart"
cli bgrewriteaof >/dev/null
wait_for 60 '[ "$(cli info persistence | tr -d "\r" | grep ^wal_compactions: | cut -d: -f2)" = 1 ] &&
    [ "$(cli info persistence | tr -d "\r" | grep ^aof_rewrite_in_progress: | cut -d: -f2)" = 0 ]' ||
    fail "cut: the compaction did not finish"
"$LOAD" fill "$PORT" d: 100 200 >/dev/null || fail "cut: fill after"
stop_kvd
mkdir "$T/mix" "$T/fakebin"
cp "$T/before"/kvd.*.jsonl "$DIR"/kvd.*.jsonl "$T/mix"/
cp "$T/before/kvd.manifest" "$T/mix/kvd.manifest"
cp "$DIR/kvd.manifest" "$T/m2"
retired=$(cd "$T/before" && ls kvd.incr.*.jsonl)
# (Its copy of a manifest fails as GNU cp does when kvd renames a new
# one over it meanwhile: kvd-backup must not need cp for the manifest.)
cat >"$T/fakebin/cp" <<EOS
#!/bin/sh
if [ "\$(basename "\$1")" = kvd.manifest ]; then
    echo "cp: skipping file '\$1', as it was replaced while being copied" >&2
    exit 1
fi
if [ "\$(basename "\$1")" = "$retired" ] && [ ! -e "$T/switched" ]; then
    touch "$T/switched"
    /bin/cp "$T/m2" "\$(dirname "\$1")/kvd.manifest"
    head -c \$((\$(stat -c %s "\$1") / 2)) "\$1" >"\$2"
    exit 0
fi
exec /bin/cp "\$@"
EOS
chmod +x "$T/fakebin/cp"
PATH="$T/fakebin:$PATH" "$BACKUP" "$T/mix" "$T/cutcopy" >"$T/backup.out" 2>&1 || fail "cut: kvd-backup: $(cat "$T/backup.out")"
expect_eq "cut: the fake cp did cut a retired file" 1 "$([ -e "$T/switched" ] && echo 1)"
expect_eq "cut: the copy is of the manifest after the switch" "$(cat "$T/m2")" "$(cat "$T/cutcopy/kvd.manifest" 2>/dev/null)"
expect_eq "cut: the copy checks out" 0 "$("$B/src/kvd-check-wal" "$T/cutcopy" >/dev/null 2>&1; echo $?)"
if start_kvd cutcopy --dir "$T/cutcopy"; then
    expect_eq "cut: the copy holds every write" 0 \
        "$("$LOAD" verify "$PORT" c: 3000 200 >/dev/null && "$LOAD" verify "$PORT" d: 100 200 >/dev/null; echo $?)"
    stop_kvd
else
    fail "cut: the copy does not load"
fi
# A backup stopped by SIGTERM part way (its cp held up by a fake one)
# exits non-zero and leaves neither DEST nor its partial copy.
mkdir "$T/slowbin"
cat >"$T/slowbin/cp" <<EOS
#!/bin/sh
touch "$T/cp-started"
exec sleep 60
EOS
chmod +x "$T/slowbin/cp"
PATH="$T/slowbin:$PATH" "$BACKUP" "$T/cutcopy" "$T/stopped" >/dev/null 2>&1 &
BK=$!
wait_for 30 '[ -e "$T/cp-started" ]' || fail "stopped: the copy did not start"
kill -TERM "$BK"
rc=0; wait "$BK" || rc=$?
expect_eq "stopped by SIGTERM: exits non-zero, leaves nothing" "yes no" \
    "$([ $rc -ne 0 ] && echo yes || echo no) $(ls -d "$T"/stopped* 2>/dev/null | grep -q . && echo yes || echo no)"
finish
