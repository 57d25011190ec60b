#!/usr/bin/env bash
# kvd-check-wal: summary, jq readability, --dump, exit codes, --fix.
. "$(dirname "$0")/lib.sh"

W=$T/kvd.wal
"$WALGEN" "$W" 100 20 || fail "walgen"
out=$("$CHECKWAL" "$W"); rc=$?
expect_eq "valid file exits 0" 0 $rc
expect_match "summary counts entries" "100 entries" "$out"
expect_match "summary shows seq range" "seq 1\.\.100" "$out"
expect_match "summary shows ops" "set=100 del=0" "$out"
expect_match "status OK" "status: OK" "$out"

if command -v jq >/dev/null; then
    expect_eq "jq reads every line" 100 "$(jq -c . "$W" | wc -l)"
    expect_eq "jq sees the key" '"key:7"' "$(jq -c 'select(.seq==8) | .key' "$W")"
fi

"$WALGEN" "$T/bin.wal" 3 4 binary
dump=$("$CHECKWAL" --dump "$T/bin.wal")
expect_match "dump shows binary keys quoted" '^1 set "\\xffkey:0" "\\x00\\x01\\x02\\x03"$' "$dump"
if command -v jq >/dev/null; then
    expect_eq "binary goes as base64" '"/2tleTow"' "$(jq -c 'select(.seq==1) | .key64' "$T/bin.wal")"
fi

# A torn tail: exit 1, and --fix cuts it.
cp "$W" "$T/tail.wal"
printf '{"seq":101,"op":"set","key":"x"' >>"$T/tail.wal"
out=$("$CHECKWAL" "$T/tail.wal"); rc=$?
expect_eq "torn tail exits 1" 1 $rc
expect_match "torn tail reported" "BAD TAIL" "$out"
expect_match "bad line numbered" "first bad line: 101 at byte offset $(stat -c %s "$W")" "$out"

# Corruption in the middle: exit 2; --fix cuts there and keeps the bytes
# it cut in .broken.
cp "$W" "$T/mid.wal"
off=$(head -n 49 "$W" | wc -c)
printf 'X' | dd of="$T/mid.wal" bs=1 seek=$((off + 3)) conv=notrunc 2>/dev/null
out=$("$CHECKWAL" "$T/mid.wal"); rc=$?
expect_eq "mid-file corruption exits 2" 2 $rc
expect_match "corruption names line and offset" "first bad line: 50 at byte offset $off" "$out"
cp "$T/mid.wal" "$T/mid.wal.orig"
out=$("$CHECKWAL" --fix "$T/mid.wal"); rc=$?
expect_eq "--fix exits 0" 0 $rc
expect_eq ".broken keeps the bytes cut" "$(tail -c +$((off + 1)) "$T/mid.wal.orig" | md5sum)" "$(md5sum <"$T/mid.wal.broken")"
expect_eq "fixed file cut at the bad line" "$off" "$(stat -c %s "$T/mid.wal")"
"$CHECKWAL" "$T/mid.wal" >/dev/null; rc=$?
expect_eq "fixed file is valid" 0 $rc

# ---- data directories: the server's rules, and --fix that makes them load ----
LOAD=$B/tests/kvdload
start_kvd dir || fail "start dir"
"$LOAD" fill "$PORT" k: 300 20 >/dev/null || fail "fill"
stop_kvd
SEG=$DIR/kvd.incr.1.jsonl
cp "$SEG" "$T/seg.good"

# A line deleted from the middle: a gap kvd refuses and the tool names.
sed -i 151d "$SEG"
out=$("$CHECKWAL" "$DIR"); rc=$?
expect_eq "gap: exit 2" 2 $rc
expect_match "gap: the missing entry is named" "seq 152 where 151 was expected: entries 151..151 are missing" "$out"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$DIR" 2>&1); rc=$?
expect_eq "gap: kvd refuses to start" 1 $rc
expect_match "gap: and says where" "kvd.incr.1.jsonl is damaged at line 151" "$out"
out=$("$CHECKWAL" --fix "$DIR"); rc=$?
expect_eq "gap: --fix exits 0" 0 $rc
expect_match "gap: --fix cuts at the gap" "fixed: cut $SEG at byte" "$out"
restart_kvd dir || fail "gap: start after --fix"
expect_eq "gap: the 150 entries before it load" 150 "$(cli dbsize)"
stop_kvd

# Every line turned into CRLF: damage, not a torn tail; never wiped.
sed 's/$/\r/' "$T/seg.good" >"$SEG"
sum=$(md5sum <"$SEG")
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$DIR" 2>&1); rc=$?
expect_eq "CRLF: kvd refuses to start" 1 $rc
expect_match "CRLF: not a crash's doing" "line 2 is damaged too, and a crash leaves at most one damaged line" "$out"
expect_eq "CRLF: the file is left alone" "$sum" "$(md5sum <"$SEG")"
expect_eq "CRLF: kvd-check-wal exits 2" 2 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
out=$("$CHECKWAL" --fix "$DIR"); rc=$?
expect_eq "CRLF: --fix mends it" 0 $rc
expect_match "CRLF: ... without loss" "removed 0 line\\(s\\) written twice and 300 carriage return\\(s\\); nothing lost" "$out"
restart_kvd dir || fail "CRLF: start after --fix"
expect_eq "CRLF: every key loads" 300 "$(cli dbsize)"
stop_kvd
rm -f "$SEG".broken*

# A line written twice in a row: dropped, nothing lost.
sed '10p' "$T/seg.good" >"$SEG"
expect_eq "dup: kvd-check-wal exits 2" 2 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
out=$("$CHECKWAL" --fix "$DIR"); rc=$?
expect_eq "dup: --fix exits 0" 0 $rc
expect_match "dup: the copy is dropped, nothing lost" "removed 1 line\\(s\\) written twice" "$out"
restart_kvd dir || fail "dup: start after --fix"
expect_eq "dup: every key loads" 300 "$(cli dbsize)"

# One writer per directory: a second kvd, and --fix, refuse while it runs.
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/y.sock" --dir "$DIR" 2>&1); rc=$?
expect_eq "lock: a second kvd on the directory refuses to start" 1 $rc
expect_match "lock: ... and says why" "is in use by another process \\(pid $KPID" "$out"
out=$("$CHECKWAL" --fix "$DIR" 2>&1); rc=$?
expect_eq "lock: --fix refuses while kvd runs" 3 $rc
expect_match "lock: a check says kvd is running" "kvd \\(pid $KPID\\) is running on it" "$("$CHECKWAL" "$DIR")"
# ... and so does --fix of one of its files (a write caught half-done
# would otherwise be cut under the running kvd), and nothing of the data
# dir that is not a WAL file is taken for one (the manifest is no torn log).
sum=$(md5sum <"$SEG")
out=$("$CHECKWAL" --fix "$SEG" 2>&1); rc=$?
expect_eq "lock: --fix SEGMENT refuses while kvd runs" 3 $rc
expect_match "lock: ... saying why" "not repaired: .*in use by another process \\(pid $KPID" "$out"
expect_eq "lock: ... and leaves the segment alone" "$sum" "$(md5sum <"$SEG")"
expect_match "lock: a check of the segment says kvd is running" "kvd \\(pid $KPID\\) is running on its directory" \
    "$("$CHECKWAL" "$SEG")"
man=$(md5sum <"$DIR/kvd.manifest")
out=$("$CHECKWAL" --fix "$DIR/kvd.manifest" 2>&1); rc=$?
expect_eq "the manifest is not a WAL file to check or fix: exit 3" 3 $rc
out2=$("$CHECKWAL" --fix "$DIR/kvd.replid" "$DIR/kvd.incr.1.jsonl.x" 2>&1); rc=$?
expect_eq "nor is another file of the data dir: exit 3" 3 $rc
expect_match "... saying what to check instead" "a manifest, not a WAL file; .* kvd-check-wal $DIR" "$out"
expect_eq "... and it is left alone" "$man" "$(md5sum <"$DIR/kvd.manifest")"
# Other ways to name the live files: a symlink (even under a WAL file's
# name), a hard link elsewhere, a copy of the manifest outside any data dir.
mkdir -p "$T/links"
ln -sf "$SEG" "$T/links/seg.jsonl"
ln -sf "$DIR/kvd.manifest" "$T/links/kvd.incr.7.jsonl"
ln -f "$SEG" "$T/links/hard.jsonl" 2>/dev/null
cp "$DIR/kvd.manifest" "$T/links/kvd.manifest"
cp "$DIR/kvd.manifest" "$T/links/copy.jsonl"
broken=$(ls "$DIR" "$T/links" | grep -c broken)
for f in seg.jsonl kvd.incr.7.jsonl hard.jsonl kvd.manifest copy.jsonl; do
    [ -e "$T/links/$f" ] || continue
    out=$("$CHECKWAL" --fix "$T/links/$f" 2>&1); rc=$?
    expect_eq "lock: --fix $f (a link to or a copy of a live file) is refused" 3 $rc
done
# A hard link, in a directory of its own under a WAL file's name: only the
# lock kvd holds on the file itself says it is live.
mkdir -p "$T/hard"
if ln -f "$SEG" "$T/hard/kvd.incr.1.jsonl" 2>/dev/null; then
    out=$("$CHECKWAL" --fix "$T/hard/kvd.incr.1.jsonl" 2>&1); rc=$?
    expect_eq "lock: --fix of a hard link to the live segment is refused" 3 $rc
    expect_match "lock: ... saying kvd is writing to it" "a running kvd is writing to this file" "$out"
    rm -f "$T/hard/kvd.incr.1.jsonl"
fi
expect_eq "lock: ... the segment untouched" "$sum" "$(md5sum <"$SEG")"
expect_eq "lock: ... the manifest untouched" "$man" "$(md5sum <"$DIR/kvd.manifest")"
expect_eq "lock: ... and no .broken file made" "$broken" "$(ls "$DIR" "$T/links" | grep -c broken)"
# The lock is on the directory, not on kvd.lock: removing the file (a
# "stale lock") does not let a second kvd in.
rm -f "$DIR/kvd.lock"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/y.sock" --dir "$DIR" 2>&1); rc=$?
expect_eq "lock: with kvd.lock removed, a second kvd still refuses to start" 1 $rc
out=$("$CHECKWAL" --fix "$DIR" 2>&1); rc=$?
expect_eq "lock: ... and --fix still refuses" 3 $rc
stop_kvd
rm -f "$SEG".broken*

# A segment with data the manifest does not list: refused, not deleted.
printf '{"seq":1,"op":"set","key":"x","val":"y","crc":"00000000"}\n' >"$DIR/kvd.incr.9.jsonl"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/x.sock" --dir "$DIR" 2>&1); rc=$?
expect_eq "stray: kvd refuses to start" 1 $rc
expect_match "stray: and names the file" "does not list: kvd.incr.9.jsonl" "$out"
expect_eq "stray: the file is still there" 1 "$([ -s "$DIR/kvd.incr.9.jsonl" ] && echo 1)"
out=$("$CHECKWAL" --fix "$DIR"); rc=$?
expect_eq "stray: --fix moves it away" 0 $rc
expect_eq "stray: kept as .broken" 1 "$([ -s "$DIR/kvd.incr.9.jsonl.broken" ] && echo 1)"
rm -f "$DIR/kvd.incr.9.jsonl.broken"
cp "$T/seg.good" "$SEG"

# A damaged base: every good line is kept and the lost key named.
restart_kvd dir || fail "start for a base"
cli bgrewriteaof >/dev/null
wait_for 60 'ls "$DIR"/kvd.base.*.jsonl >/dev/null 2>&1 && [ "$(cli info persistence | tr -d "\r" | grep ^aof_rewrite_in_progress: | cut -d: -f2)" == 0 ]'
stop_kvd
base=$(ls "$DIR"/kvd.base.*.jsonl)
expect_eq "base: 300 lines" 300 "$(wc -l <"$base")"
key152=$(sed -n 152p "$base" | jq -r .key)
off=$(head -n 151 "$base" | wc -c)
printf "Z" | dd of="$base" bs=1 seek=$((off + 45)) conv=notrunc 2>/dev/null
expect_eq "base: kvd-check-wal exits 2" 2 "$("$CHECKWAL" "$DIR" >/dev/null; echo $?)"
out=$("$CHECKWAL" --fix "$DIR"); rc=$?
expect_eq "base: --fix exits 0" 0 $rc
expect_match "base: the line lost and its key are named" "lost: line 152 \\(byte offset $off\\): .*its key reads as \"$key152\"" "$out"
expect_match "base: 299 kept" "with the 299 good entries; 1 lost" "$out"
expect_eq "base: the original is kept" 300 "$(wc -l <"$base.broken")"
restart_kvd dir || fail "base: start after --fix"
expect_eq "base: every other key loads" 299 "$(cli dbsize)"
expect_eq "base: not the lost one" "" "$(cli get "$key152")"
stop_kvd

"$CHECKWAL" "$T/nope.wal" >/dev/null 2>&1; rc=$?
expect_eq "missing file exits 3" 3 $rc
"$CHECKWAL" >/dev/null 2>&1; rc=$?
expect_eq "no arguments exits 3" 3 $rc
finish
