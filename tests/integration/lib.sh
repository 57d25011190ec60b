# Shared helpers for the black-box tests: a temp dir cleaned up by trap,
# the built binaries, free loopback ports, and assertions. Source it.
# shellcheck shell=bash
set -u

B=${KVD_BUILDDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
S=${KVD_SRCDIR:-$B}
KVD=$B/src/kvd
CHECKWAL=$B/src/kvd-check-wal
WALGEN=$B/tests/walgen

T=$(mktemp -d "${TMPDIR:-/tmp}/kvd-it-XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

FAILS=0
NAME=$(basename "$0" .sh)
fail() { echo "FAIL [$NAME]: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok   [$NAME]: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# expect_match WHAT REGEX TEXT
expect_match() {
    if printf '%s' "$3" | grep -qE -- "$2"; then ok "$1"; else fail "$1: [$3] does not match /$2/"; fi
}

finish() {
    if [ "$FAILS" -ne 0 ]; then
        echo "$NAME: $FAILS failure(s)"
        exit 1
    fi
    exit 0
}
