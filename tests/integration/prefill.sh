#!/usr/bin/env bash
# The prefilled tail of the newest WAL segment under appendfsync always
# (docs/WAL.md): the file runs past the log in blank lines, which jq and
# kvd-check-wal read as nothing; kill -9 leaves it there and the restart
# loads every write without cutting anything; a replica catching up from
# the live segment gets the log and not the tail; a shutdown cuts it off,
# leaving the file exactly the log; under everysec it is not extended.
. "$(dirname "$0")/lib.sh"

LOAD=$B/tests/kvdload
STEP=1048576
seg() { find "$1" -name 'kvd.incr.*.jsonl' | sort -V | tail -n 1; }
fsize() { stat -c %s "$1"; }
pinfo() { timeout 10 redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

start_kvd p --appendfsync always || exit 1
P=$PORT PDIR=$DIR PK=$KPID
"$LOAD" fill "$P" k: 3000 100 || fail "fill the primary"
s=$(seg "$PDIR")
log=$(pinfo "$P" persistence wal_size)
file=$(fsize "$s")
expect_eq "the segment runs 1-2 MiB past the log (file $file, log $log)" 1 \
    "$(( file >= log + STEP && file <= log + 2 * STEP ))"
expect_eq "past the log, the file is only newlines" 0 "$(tail -c +$((log + 1)) "$s" | tr -d '\n' | wc -c)"
expect_eq "jq reads the segment as the 3000 entries" 3000 "$(jq -c .seq "$s" | wc -l)"
out=$("$CHECKWAL" "$PDIR" 2>&1)
expect_match "kvd-check-wal: OK, naming the tail" "prefilled tail of $((file - log)) " "$out"
expect_match "kvd-check-wal: status OK" "status: OK" "$out"

# A replica catching up from the live segment (seq 1 is in it, so no
# base is sent): the log only.
start_kvd r --replicaof "127.0.0.1 $P" || exit 1
R=$PORT RDIR=$DIR
wait_for 60 "[ \"\$(pinfo $R replication master_link_status)\" = up ] && [ \"\$(pinfo $R replication slave_repl_offset)\" = \"\$(pinfo $P replication master_repl_offset)\" ]" ||
    fail "the replica did not catch up"
"$LOAD" verify "$R" k: 3000 100 || fail "the replica's data"
expect_eq "the replica has no more keys than the primary" 3000 "$(timeout 10 redis-cli -p "$R" dbsize)"
expect_match "the replica's WAL checks clean" "status: OK" "$("$CHECKWAL" "$RDIR" 2>&1)"
timeout 10 redis-cli -p "$R" shutdown >/dev/null 2>&1

# kill -9: the tail stays, and the restart cuts nothing.
"$LOAD" fill "$P" j: 500 100 || fail "fill more"
log=$(pinfo "$P" persistence wal_size)
PORT=$P KPID=$PK
kill9_kvd
file=$(fsize "$s")
expect_eq "after kill -9 the tail is still there" 1 "$(( file >= log + STEP ))"
restart_kvd p --appendfsync always || fail "restart after kill -9"
"$LOAD" verify "$P" k: 3000 100 || fail "the k: keys after kill -9"
"$LOAD" verify "$P" j: 500 100 || fail "the j: keys after kill -9"
expect_eq "nothing cut at load" 0 "$(pinfo "$P" persistence wal_truncated_bytes_at_load)"
expect_eq "the log continues where it ended" "$log" "$(pinfo "$P" persistence wal_size)"
expect_eq "no .broken file kept" "" "$(find "$PDIR" -name '*.broken*')"
timeout 10 redis-cli -p "$P" set after kill >/dev/null
expect_match "a write after the restart goes where the log ended, over the tail" '"key":"after"' \
    "$(tail -c +$((log + 1)) "$s" | head -n 1)"

# Under everysec the tail is not extended.
timeout 10 redis-cli -p "$P" config set appendfsync everysec >/dev/null
"$LOAD" fill "$P" e: 30000 100 || fail "fill under everysec"
log=$(pinfo "$P" persistence wal_size)
expect_eq "under everysec the file grows only with the log" "$log" "$(fsize "$s")"

# A shutdown leaves exactly the log.
timeout 10 redis-cli -p "$P" config set appendfsync always >/dev/null
timeout 10 redis-cli -p "$P" set again always >/dev/null
expect_eq "under always again, a tail" 1 "$(( $(fsize "$s") > $(pinfo "$P" persistence wal_size) ))"
log=$(pinfo "$P" persistence wal_size)
stop_kvd
expect_eq "SIGTERM exits 0" 0 "$RC"
expect_eq "after a shutdown the file is the log" "$log" "$(fsize "$s")"
expect_eq "and its last byte ends a line" "}" "$(tail -c 2 "$s" | head -c 1)"
finish
