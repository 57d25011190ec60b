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

"$CHECKWAL" "$T/nope.wal" >/dev/null 2>&1; rc=$?
expect_eq "missing file exits 3" 3 $rc
"$CHECKWAL" >/dev/null 2>&1; rc=$?
expect_eq "no arguments exits 3" 3 $rc
finish
