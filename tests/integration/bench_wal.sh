#!/usr/bin/env bash
# bench/bench_wal on a small input: the benchmark scripts/bench quotes
# runs, and what it measures holds: the pooled WAL encoder makes no
# allocation per entry (while the same loop with a malloc per entry counts
# one, so the counter itself works), and a replay loads every entry.
. "$(dirname "$0")/lib.sh"

BW=$B/bench/bench_wal
# It counts allocations by defining malloc itself, which a memory checker's
# own malloc does not allow.
if ldd "$BW" 2>/dev/null | grep -q libasan || [ ${#VG[@]} -gt 0 ]; then
    echo "skip [$NAME]: allocation counting under a memory checker"
    exit 77
fi
out=$(TMPDIR=$T timeout 120 "$BW" 20000 2>&1) || fail "bench_wal failed: $(printf '%s\n' "$out" | tail -3)"
expect_match "the pooled encoder: no allocation per entry" "^pooled +20000 ops .* 0\.00 allocs/op" \
    "$(printf '%s\n' "$out" | grep '^pooled')"
expect_match "the counter sees a malloc per entry" "^malloc-per-entry +20000 ops .* 1\.00 allocs/op" \
    "$(printf '%s\n' "$out" | grep '^malloc-per-entry')"
expect_match "replay loads every entry" "^== replay: 20000 entries" "$(printf '%s\n' "$out" | grep '^== replay')"
expect_match "the table holds every key" "^== table: 20000 keys" "$(printf '%s\n' "$out" | grep '^== table')"
finish
