#!/usr/bin/env bash
# kvd's command line and startup: --version, --help, config errors, and
# loading a data directory (including repairing a torn tail and refusing
# mid-file corruption).
. "$(dirname "$0")/lib.sh"

expect_match "--version" "^kvd v=[0-9]+\.[0-9]+\.[0-9]+" "$("$KVD" --version)"
expect_match "--help" "Usage: kvd" "$("$KVD" --help)"

printf 'dir %s/d\nappendfsync sometimes\n' "$T" >"$T/bad.conf"
out=$("$KVD" --test-config "$T/bad.conf" 2>&1); rc=$?
expect_eq "bad config exits 1" 1 $rc
expect_match "bad config names the line" "bad.conf line 2: 'appendfsync'" "$out"
out=$("$KVD" --test-config --nosuch 1 2>&1); rc=$?
expect_eq "unknown option exits 1" 1 $rc
expect_match "unknown option named" "unknown directive 'nosuch'" "$out"
out=$("$KVD" --test-config --dir "$T/d" --appendfsync always 2>&1); rc=$?
expect_eq "good config accepted" 0 $rc

out=$("$KVD" --dir "$T/d" 2>&1); rc=$?
expect_eq "starts on an empty data dir" 0 $rc
expect_match "empty dir: nothing loaded" " 0 keys loaded" "$out"
"$WALGEN" "$T/d/kvd.wal" 1000 100
good=$(stat -c %s "$T/d/kvd.wal")
printf '{"seq":1001,"op":"set","ke' >>"$T/d/kvd.wal"
out=$("$KVD" --dir "$T/d" 2>&1); rc=$?
expect_eq "loads a data dir" 0 $rc
expect_match "replay figures logged" "1000 entries applied .* 1000 keys loaded" "$out"
expect_match "torn tail cut and logged" "cut a torn tail of 26 bytes at offset $good" "$out"
expect_eq "file cut back to the last good line" "$good" "$(stat -c %s "$T/d/kvd.wal")"

off=$(head -n 10 "$T/d/kvd.wal" | wc -c)
printf 'Z' | dd of="$T/d/kvd.wal" bs=1 seek=$((off + 5)) conv=notrunc 2>/dev/null
out=$("$KVD" --dir "$T/d" 2>&1); rc=$?
expect_eq "mid-file corruption refuses to start" 1 $rc
expect_match "error names file, line and offset" "$T/d/kvd.wal is corrupt at line 11 \\(byte offset $off\\)" "$out"
expect_match "error points at the repair tool" "kvd-check-wal --fix" "$out"
"$CHECKWAL" --fix "$T/d/kvd.wal" >/dev/null
out=$("$KVD" --dir "$T/d" 2>&1); rc=$?
expect_eq "starts after --fix" 0 $rc
expect_match "keeps the lines before the damage" " 10 keys loaded" "$out"
expect_eq "data dir is 0700" 700 "$(stat -c %a "$T/d")"
expect_eq "WAL is 0600" 600 "$(stat -c %a "$T/d/kvd.wal")"
finish
