#!/usr/bin/env bash
# WAL compaction: it keeps every key and bounds the log; BGREWRITEAOF and
# the automatic trigger; a kill -9 at every phase (before and while the
# base is written, before and after the manifest switch, while old files
# are deleted) leaves a data dir that loads everything acknowledged; bad
# manifests and damaged bases are refused with a clear message, and
# kvd-check-wal --fix salvages every good line of a damaged base.
. "$(dirname "$0")/lib.sh"

LOAD=$B/tests/kvdload
info_field() { cli info persistence | tr -d '\r' | grep "^$1:" | cut -d: -f2; }
wait_compaction() { # count
    local n=$1
    wait_for 60 '[ "$(info_field wal_compactions)" -ge "$n" ] 2>/dev/null && [ "$(info_field aof_rewrite_in_progress)" == 0 ]'
}
wal_files() { (cd "$DIR" && ls | sort | tr '\n' ' '); }

# ---- a compaction keeps the data and shrinks the log ----
start_kvd c || fail "start"
"$LOAD" fill "$PORT" k: 20000 150 >/dev/null || fail "fill"
"$LOAD" fill "$PORT" k: 20000 150 >/dev/null || fail "fill again"
"$LOAD" fill "$PORT" gone: 2000 10 >/dev/null
for i in $(seq 0 1999); do printf 'DEL gone:%d\r\n' "$i"; done | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
ttl_set=$(now_ms)
cli set ttl v ex 1000 >/dev/null
before=$(info_field aof_current_size)
expect_eq "BGREWRITEAOF" "Background append only file rewriting started" "$(cli bgrewriteaof)"
wait_compaction 1 || fail "compaction did not finish"
after=$(info_field aof_current_size)
echo "     WAL: $before bytes before, $after after"
expect_eq "the log shrank to about half" 1 "$(( after * 10 < before * 6 ))"
expect_eq "status ok" ok "$(info_field aof_last_bgrewrite_status)"
# (The old files go on a worker thread: wait for it.)
LISTED='^kvd\.base\.[0-9]+\.jsonl kvd\.incr\.[0-9]+\.jsonl kvd\.lock kvd\.manifest $'
wait_for 60 '[[ "$(wal_files)" =~ $LISTED ]]'
expect_match "only the manifest, a base and one segment remain (and the lock)" "$LISTED" "$(wal_files)"
expect_eq "kvd-check-wal agrees" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
expect_eq "data intact" 0 "$("$LOAD" verify "$PORT" k: 20000 150 >/dev/null; echo $?)"
expect_eq "deleted keys stay deleted" 0 "$(cli exists gone:5)"
ttl=$(cli ttl ttl)
cli set after v >/dev/null
stop_kvd; expect_eq "clean exit" 0 "$RC"
restart_kvd c || fail "restart"
expect_eq "after restart: every key" 0 "$("$LOAD" verify "$PORT" k: 20000 150 >/dev/null; echo $?)"
expect_eq "after restart: the write after compaction" v "$(cli get after)"
expect_eq "after restart: key count" 20002 "$(cli dbsize)"
ttl=$(cli ttl ttl)
expect_between "after restart: the TTL" $(ttl_bounds 1000 "$ttl_set") "$ttl"
stop_kvd

# ---- one at a time; the automatic trigger ----
# The child waits 3 s before it writes anything; the test stops it
# (SIGSTOP) within those, so it stays in progress for as long as the
# checks and writes below take, however slow the machine, then lets it go.
KVD_TEST_COMPACT_DELAY_MS=3000 restart_kvd c || fail "restart slow"
expect_eq "start" "Background append only file rewriting started" "$(cli bgrewriteaof)"
child=$(pgrep -P "$KPID" | head -1)
kill -STOP "$child" 2>/dev/null || fail "the compaction child was not found"
expect_eq "a second one is refused" "ERR Background append only file rewriting already in progress" "$(cli bgrewriteaof)"
expect_eq "COMPACT is the same command" "ERR Background append only file rewriting already in progress" "$(cli compact)"
expect_eq "in progress shows in INFO" 1 "$(info_field aof_rewrite_in_progress)"
"$LOAD" fill "$PORT" during: 5000 100 >/dev/null || fail "writes during compaction"
# Rewrite every existing key too: the pages holding them get copied.
"$LOAD" fill "$PORT" k: 20000 150 >/dev/null || fail "rewrites during compaction"
expect_eq "still in progress after the writes" 1 "$(info_field aof_rewrite_in_progress)"
kill -CONT "$child"
wait_compaction 1 || fail "slow compaction did not finish"
expect_eq "writes made during it are kept" 0 "$("$LOAD" verify "$PORT" during: 5000 100 >/dev/null; echo $?)"
cow=$(info_field aof_last_cow_size)
[ "$cow" -gt 2000000 ] && ok "INFO shows the copy-on-write of rewriting 20000 keys during it ($cow bytes)" ||
    fail "aof_last_cow_size is [$cow] after 20000 keys were rewritten during the compaction"
expect_match "and the log" "copy-on-write peak [0-9.]+ MB" "$(grep 'compaction done' "$T/c.log" | tail -1)"
cli config set auto-aof-rewrite-min-size 1mb auto-aof-rewrite-percentage 25 >/dev/null
n0=$(info_field wal_compactions)
"$LOAD" fill "$PORT" auto: 20000 150 >/dev/null
wait_compaction $((n0 + 1)) || true
expect_eq "growth past the percentage starts one by itself" 1 "$(( $(info_field wal_compactions) > n0 ))"
expect_match "and logs why" "compaction started \(auto: WAL" "$(cat "$T/c.log")"
stop_kvd

# ---- kill -9 at every phase ----
for phase in after-rotate mid-base before-manifest after-manifest during-delete; do
    KVD_TEST_CRASH_AT=$phase start_kvd "crash-$phase" || { fail "start for $phase"; continue; }
    "$LOAD" fill "$PORT" k: 20000 150 >/dev/null || fail "$phase: fill"
    "$LOAD" fill "$PORT" k: 20000 150 >/dev/null
    timeout 5 redis-cli -p "$PORT" bgrewriteaof >/dev/null 2>&1
    # (Up to 60 s: the paced child is slow under valgrind.)
    wait_for 60 '! kill -0 "$KPID" 2>/dev/null'
    expect_eq "$phase: the server died there" 1 "$(kill -0 "$KPID" 2>/dev/null && echo 0 || echo 1)"
    { wait "$KPID"; } 2>/dev/null
    # A child that outlived it finishes its write or dies: wait for that
    # (it runs with the parent's command line, which names this data dir).
    wait_for 60 '! pgrep -f -- "--dir $T/crash-$phase( |$)" >/dev/null' || fail "$phase: the child did not end"
    restart_kvd "crash-$phase" || { fail "$phase: restart"; continue; }
    expect_eq "$phase: every key after restart" 0 "$("$LOAD" verify "$PORT" k: 20000 150 >/dev/null; echo $?)"
    expect_eq "$phase: nothing else" 20000 "$(cli dbsize)"
    expect_eq "$phase: kvd-check-wal DIR is clean" 0 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
    expect_eq "$phase: no temp files left" "" "$(cd "$DIR" && ls | grep tmp)"
    cli bgrewriteaof >/dev/null
    wait_compaction 1 || fail "$phase: the next compaction"
    stop_kvd
    restart_kvd "crash-$phase" || fail "$phase: second restart"
    expect_eq "$phase: data after the next compaction" 0 "$("$LOAD" verify "$PORT" k: 20000 150 >/dev/null; echo $?)"
    stop_kvd
done

# The child dies alone: the compaction fails, the server keeps going.
KVD_TEST_CRASH_AT=child-start start_kvd child || fail "start child"
"$LOAD" fill "$PORT" k: 2000 50 >/dev/null
cli bgrewriteaof >/dev/null
wait_for 30 '[ "$(info_field aof_last_bgrewrite_status)" == err ]'
expect_eq "a dead child is reported" err "$(info_field aof_last_bgrewrite_status)"
expect_eq "the server still serves" 0 "$("$LOAD" verify "$PORT" k: 2000 50 >/dev/null; echo $?)"
expect_match "and logs it" "compaction failed: the child was killed by signal 9" "$(cat "$T/child.log")"
stop_kvd
restart_kvd child || fail "restart child"
expect_eq "nothing lost" 0 "$("$LOAD" verify "$PORT" k: 2000 50 >/dev/null; echo $?)"
stop_kvd

# ---- refusals ----
cp "$T/c/kvd.manifest" "$T/manifest.good"
printf 'this is not a manifest\n' >"$T/c/kvd.manifest"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$T/c" 2>&1); rc=$?
expect_eq "garbage manifest: exit 1" 1 $rc
expect_match "garbage manifest: a clear message" "kvd.manifest is not a valid kvd manifest: it does not start with" "$out"
head -c 30 "$T/manifest.good" >"$T/c/kvd.manifest"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$T/c" 2>&1)
expect_match "truncated manifest refused" "is not a valid kvd manifest" "$out"
rm "$T/c/kvd.manifest"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$T/c" 2>&1); rc=$?
expect_eq "segments without a manifest: exit 1" 1 $rc
expect_match "segments without a manifest: explained" "holds WAL segment files but no kvd.manifest" "$out"
cp "$T/manifest.good" "$T/c/kvd.manifest"
base=$(ls "$T/c"/kvd.base.*.jsonl)
nb=$(wc -l <"$base")
off=$(head -n 100 "$base" | wc -c)
printf 'X' | dd of="$base" bs=1 seek=$((off + 20)) conv=notrunc 2>/dev/null
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$T/c" 2>&1); rc=$?
expect_eq "damaged base: exit 1" 1 $rc
expect_match "damaged base: file, line and offset" "$base is damaged at line 101 \\(byte offset $off\\)" "$out"
expect_eq "kvd-check-wal DIR sees it" 2 "$("$CHECKWAL" "$T/c" >/dev/null; echo $?)"
fixout=$("$CHECKWAL" --fix "$T/c")
expect_match "--fix names the line lost" "lost: line 101 \\(byte offset $off\\)" "$fixout"
expect_eq "--fix keeps every other line of the base" $((nb - 1)) "$(wc -l <"$base")"
restart_kvd c || fail "start after --fix"
expect_eq "after --fix: every key of the base but one" 1 "$(( $(cli dbsize) >= nb - 1 ))"
stop_kvd
finish
