#!/usr/bin/env bash
# Replication: a replica (REPLICAOF over kvd's WAL stream) equals its
# primary after a full sync of tens of thousands of keys in several
# databases and after random write streams (several seeds); it survives
# kill -9 and restarts (partial sync), broken links both ways, a primary
# restart, a compaction during its catch-up; it refuses writes
# (READONLY) and, with replica-serve-stale-data no, reads while the link
# is down (MASTERDOWN); WAIT counts its acknowledgements; min-replicas-*
# refuse writes; REPLICAOF NO ONE promotes it and the old primary then
# follows it with a partial sync; a chained replica follows; INFO and
# ROLE say so; its WAL files replay to the same data; a redis-server
# primary is recognised as not kvd.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip [$NAME]: no python3"; exit 77; }
H="$S/tests/integration/repl_load.py"

# info PORT FIELD: a field of INFO replication.
info() { timeout 10 redis-cli -p "$1" info replication | tr -d '\r' | sed -n "s/^$2://p"; }
# synced P R: R's link is up and it holds everything P wrote.
synced() {
    local po ro
    [ "$(info "$2" master_link_status)" = up ] || return 1
    po=$(info "$1" master_repl_offset)
    ro=$(info "$2" slave_repl_offset)
    [ -n "$po" ] && [ "$po" = "$ro" ]
}
dump() { timeout 120 "$PY" "$H" dump "$1"; }
# same P R WHAT: wait until R has caught up with P, then compare dumps.
same() {
    if ! wait_for 60 "synced $1 $2"; then
        fail "$3: the replica did not catch up (primary at $(info "$1" master_repl_offset), replica at" \
            "$(info "$2" slave_repl_offset), link $(info "$2" master_link_status))"
        return 1
    fi
    dump "$1" >"$T/dump.p"
    dump "$2" >"$T/dump.r"
    if cmp -s "$T/dump.p" "$T/dump.r"; then
        ok "$3: replica equals primary ($(wc -l <"$T/dump.p") keys)"
    else
        fail "$3: replica differs from primary"
        diff "$T/dump.p" "$T/dump.r" | head -10
        return 1
    fi
}

# ---- the primary, with data, and a replica that full-syncs it ----
start_kvd primary --appendfsync everysec || exit 1
P=$PORT PPID_=$KPID
timeout 120 "$PY" "$H" load "$P" 30000 1 || fail "loading the primary"
timeout 120 "$PY" "$H" writes "$P" 2000 1 || fail "writes before the sync"

# (A base of several MB, over auto-aof-rewrite-min-size: see below.)
start_kvd replica --replicaof "127.0.0.1 $P" --auto-aof-rewrite-min-size 1mb || exit 1
R=$PORT RPID_=$KPID
same "$P" "$R" "full sync of 30000 keys in 4 databases" || true
grep -q "full sync done" "$T/replica.log" && ok "it was a full sync" || fail "no full sync in the replica's log"
# The received base is already compact: the automatic trigger counts the
# WAL's growth from it, not from zero (which compacted it again at once).
expect_eq "no automatic compaction of the base just received" "0" \
    "$(timeout 10 redis-cli -p "$R" info persistence | tr -d '\r' | sed -n 's/^wal_compactions://p')"

# ---- INFO and ROLE ----
expect_eq "replica role" slave "$(info "$R" role)"
expect_eq "replica master_port" "$P" "$(info "$R" master_port)"
expect_eq "replica master_sync_in_progress" 0 "$(info "$R" master_sync_in_progress)"
expect_eq "replica slave_read_only" 1 "$(info "$R" slave_read_only)"
expect_eq "replica slave_priority" 100 "$(info "$R" slave_priority)"
expect_eq "same replication id" "$(info "$P" master_replid)" "$(info "$R" master_replid)"
expect_match "primary's slave0" "^ip=127.0.0.1,port=$R,state=online,offset=[0-9]+,lag=[0-9]+$" \
    "$(info "$P" slave0)"
expect_eq "connected_slaves" 1 "$(info "$P" connected_slaves)"
role=$(timeout 10 redis-cli -p "$R" role | tr '\n' ' ')
expect_match "ROLE on the replica" "^slave 127.0.0.1 $P connected [0-9]+ $" "$role"
role=$(timeout 10 redis-cli -p "$P" role | tr '\n' ' ')
expect_match "ROLE on the primary" "^master [0-9]+ 127.0.0.1 $R [0-9]+ $" "$role"
expect_match "CLIENT LIST flags S" "flags=S " "$(timeout 10 redis-cli -p "$P" client list type replica)"
expect_match "CLIENT LIST flags M" "^id=[0-9]+ addr=127.0.0.1:$P laddr=127.0.0.1:[0-9]+ .*flags=M " \
    "$(timeout 10 redis-cli -p "$R" client list type master)"
expect_eq "CLIENT LIST lists the master link once" 1 "$(timeout 10 redis-cli -p "$R" client list | grep -c 'flags=M ')"

# ---- READONLY ----
expect_eq "SET on the replica" "READONLY You can't write against a read only replica." \
    "$(timeout 10 redis-cli -p "$R" set x 1)"
expect_match "MULTI with a write on the replica" "EXECABORT" \
    "$(printf 'MULTI\nSET x 1\nEXEC\n' | timeout 10 redis-cli -p "$R")"

# ---- live random write streams, several seeds ----
for seed in 2 3 4; do
    timeout 120 "$PY" "$H" writes "$P" 4000 "$seed" || fail "writes (seed $seed)"
    same "$P" "$R" "live stream, seed $seed" || true
done

# ---- WAIT ----
out=$(printf 'SET w 1\nWAIT 1 5000\n' | timeout 10 redis-cli -p "$P" | tail -1)
expect_eq "WAIT 1 5000 after a write" 1 "$out"
out=$(printf 'WAIT 0 0\n' | timeout 10 redis-cli -p "$P")
expect_eq "WAIT 0 0" 1 "$out"
expect_match "WAIT on a replica" "ERR WAIT cannot be used with replica instances" \
    "$(timeout 10 redis-cli -p "$R" wait 1 10)"
expect_eq "WAIT with a negative timeout" "ERR timeout is negative" "$(timeout 10 redis-cli -p "$P" wait 1 -1)"
kill -STOP "$RPID_"
t0=$(now_ms)
out=$(printf 'SET w 2\nWAIT 1 500\n' | timeout 10 redis-cli -p "$P" | tail -1)
took=$(($(now_ms) - t0))
kill -CONT "$RPID_"
expect_eq "WAIT 1 500 with the replica stopped" 0 "$out"
expect_between "WAIT 1 500 took (ms)" 500 9000 "$took"

# ---- min-replicas-to-write ----
timeout 10 redis-cli -p "$P" config set min-replicas-to-write 2 >/dev/null
expect_eq "min-replicas-to-write 2 with one replica" "NOREPLICAS Not enough good replicas to write." \
    "$(timeout 10 redis-cli -p "$P" set x 1)"
timeout 10 redis-cli -p "$P" config set min-replicas-to-write 1 >/dev/null
expect_eq "min-replicas-to-write 1" OK "$(timeout 10 redis-cli -p "$P" set x 1)"
timeout 10 redis-cli -p "$P" config set min-replicas-to-write 0 >/dev/null

# ---- kill -9 the replica mid-stream, restart it: a partial sync ----
timeout 120 "$PY" "$H" writes "$P" 15000 5 &
W=$!
sleep 0.3
PORT=$R KPID=$RPID_
kill9_kvd
restart_kvd replica --replicaof "127.0.0.1 $P" || fail "the replica did not restart"
RPID_=$KPID
wait $W || fail "writes during the replica's kill -9"
same "$P" "$R" "after kill -9 of the replica mid-stream" || true
grep -q "up (partial sync)" "$T/replica.log" && ok "the restarted replica continued (partial sync)" ||
    fail "no partial sync after the restart"
$CHECKWAL "$T/replica" >/dev/null 2>&1
rc=$?
[ "$rc" -le 1 ] && ok "kvd-check-wal accepts the live replica's WAL (exit $rc)" || fail "kvd-check-wal: exit $rc"

# ---- kill -9 the replica again and again, at random moments ----
# Each time mid-stream, half under appendfsync always and half everysec
# (its WAL then ends up to a second behind what it had received): every
# restart continues from what its own WAL holds, and in the end it
# equals the primary.
for round in 1 2 3 4 5 6; do
    fsync=everysec
    [ $((round % 2)) -eq 0 ] && fsync=always
    timeout 120 "$PY" "$H" writes "$P" 3000 "3$round" &
    W=$!
    sleep "0.$((RANDOM % 9 + 1))"
    PORT=$R KPID=$RPID_
    kill9_kvd
    restart_kvd replica --replicaof "127.0.0.1 $P" --appendfsync "$fsync" || fail "round $round: no restart"
    RPID_=$KPID
    wait $W || fail "round $round: writes during the replica's kill -9"
done
same "$P" "$R" "after 6 more kill -9s of the replica, at random moments" || true
echo "note [$NAME]: the restarted replica's links: $(grep -o 'up ([a-z ]*sync)' "$T/replica.log" | tail -6 | sort | uniq -c | tr -s ' \n' ' ')"

# ---- broken links: CLIENT KILL on either side ----
n0=$(grep -c "up (partial sync)" "$T/replica.log")
expect_eq "CLIENT KILL TYPE master" 1 "$(timeout 10 redis-cli -p "$R" client kill type master)"
wait_for 30 "[ \$(grep -c 'up (partial sync)' $T/replica.log) -gt $n0 ]" &&
    ok "reconnected after CLIENT KILL TYPE master" || fail "no reconnection after CLIENT KILL TYPE master"
n0=$(grep -c "up (partial sync)" "$T/replica.log")
expect_eq "CLIENT KILL TYPE replica" 1 "$(timeout 10 redis-cli -p "$P" client kill type replica)"
wait_for 30 "[ \$(grep -c 'up (partial sync)' $T/replica.log) -gt $n0 ]" &&
    ok "reconnected after CLIENT KILL TYPE replica" || fail "no reconnection after CLIENT KILL TYPE replica"
timeout 120 "$PY" "$H" writes "$P" 1000 6 || fail "writes after the kills"
same "$P" "$R" "after broken links" || true

# ---- MASTERDOWN, and a primary restart ----
timeout 10 redis-cli -p "$P" set stale yes >/dev/null
wait_for 30 "synced $P $R" || fail "the replica did not catch up before the primary's stop"
timeout 10 redis-cli -p "$R" config set replica-serve-stale-data no >/dev/null
PORT=$P KPID=$PPID_
stop_kvd
wait_for 30 "[ \"\$(info $R master_link_status)\" = down ]" || fail "the link did not go down"
expect_eq "GET with the link down, serve-stale-data no" \
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'." \
    "$(timeout 10 redis-cli -p "$R" get k1)"
expect_eq "INFO still answers" slave "$(info "$R" role)"
timeout 10 redis-cli -p "$R" config set replica-serve-stale-data yes >/dev/null
expect_eq "GET with the link down, serve-stale-data yes" yes "$(timeout 10 redis-cli -p "$R" get stale)"
restart_kvd primary --appendfsync everysec || fail "the primary did not restart"
PPID_=$KPID
timeout 120 "$PY" "$H" writes "$P" 1000 7 || fail "writes after the primary's restart"
same "$P" "$R" "after a restart of the primary" || true
grep -q "not a clean shutdown" "$T/primary.log" && fail "a clean stop counted as unclean" ||
    ok "a clean stop keeps the replication id"

# ---- kill -9 of the primary: a new id, the old one valid up to its replay's end ----
old_id=$(info "$P" master_replid)
# Counted before the kill: the replica may reconnect as soon as the
# restarted primary listens, before this script looks (the log appends).
n0=$(grep -c "continues from seq" "$T/primary.log")
PORT=$P KPID=$PPID_
kill9_kvd
restart_kvd primary --appendfsync everysec || fail "the primary did not restart after kill -9"
PPID_=$KPID
expect_eq "after kill -9 the old id is replid2" "$old_id" "$(info "$P" master_replid2)"
timeout 120 "$PY" "$H" writes "$P" 1000 11 || fail "writes after the primary's kill -9"
same "$P" "$R" "after kill -9 of the primary" || true
[ "$(grep -c "continues from seq" "$T/primary.log")" -gt "$n0" ] &&
    ok "the replica continued through replid2" || fail "the replica did not continue after the primary's kill -9"

# ---- a compaction on the primary during the replica's catch-up ----
PORT=$R KPID=$RPID_
stop_kvd
timeout 120 "$PY" "$H" writes "$P" 20000 8 || fail "writes while the replica is down"
restart_kvd replica --replicaof "127.0.0.1 $P" || fail "the replica did not restart"
RPID_=$KPID
timeout 10 redis-cli -p "$P" bgrewriteaof >/dev/null
timeout 120 "$PY" "$H" writes "$P" 2000 9 || fail "writes during the compaction"
wait_for 240 "[ \"\$(timeout 10 redis-cli -p $P info persistence | tr -d '\r' | sed -n 's/^aof_rewrite_in_progress://p')\" = 0 ]" ||
    fail "the compaction did not finish"
same "$P" "$R" "compaction during the catch-up" || true

# A compaction that retires segments while the replica is still reading
# them (it is stopped mid-catch-up): they stay open for it.
if command -v redis-benchmark >/dev/null; then
    PORT=$R KPID=$RPID_
    stop_kvd
    timeout 120 redis-benchmark -p "$P" -t set -n 200000 -r 100000 -d 300 -P 16 -q >/dev/null 2>&1
    "$KVD" --bind 127.0.0.1 --port "$R" --dir "$T/replica" --logfile "$T/replica.log" --replicaof "127.0.0.1 $P" &
    RPID_=$!
    PIDS+=("$RPID_")
    # As soon as it is a replica link (no sleep: its catch-up is quick).
    deadline=$((SECONDS + 30))
    until timeout 5 redis-cli -p "$P" info replication | grep -q '^slave0:' || [ $SECONDS -gt $deadline ]; do :; done
    # A replica silent for repl-timeout is dropped (and then takes a full
    # sync); on a slow machine this section can outlast the default 60 s.
    timeout 10 redis-cli -p "$P" config set repl-timeout 3600 >/dev/null
    kill -STOP "$RPID_" 2>/dev/null
    # Two compactions: the first rotates away from the segment it reads
    # (its descriptor stays open), the second retires the one after it.
    for round in 1 2; do
        timeout 120 "$PY" "$H" writes "$P" 1000 "1$round" || fail "writes before compaction $round"
        timeout 10 redis-cli -p "$P" bgrewriteaof >/dev/null
        wait_for 240 "[ \"\$(timeout 10 redis-cli -p $P info persistence | tr -d '\r' | sed -n 's/^aof_rewrite_in_progress://p')\" = 0 ]" ||
            fail "compaction $round did not finish"
    done
    nfull=$(grep -c "full sync, child" "$T/primary.log")
    kill -CONT "$RPID_" 2>/dev/null
    wait_ready "$R" "$RPID_" || fail "the replica did not restart"
    same "$P" "$R" "a compaction retiring segments the replica was reading" || true
    if grep -q "kept open for it past the compaction" "$T/primary.log"; then
        ok "the retired segments were kept open for the replica"
        # Read whole from the kept descriptors: no gap, so no full sync.
        expect_eq "and it read them to the end (no full sync)" "$nfull" "$(grep -c "full sync, child" "$T/primary.log")"
    else
        echo "note [$NAME]: the replica caught up before the compaction: the kept-open path was not exercised"
    fi
fi

# ---- a chained replica ----
# (behind a NAT, as it were: it gives the address its primary lists)
start_kvd chained --replicaof "127.0.0.1 $R" --replica-announce-ip 10.9.8.7 --replica-announce-port 7777 || exit 1
C=$PORT CPID_=$KPID
timeout 120 "$PY" "$H" writes "$P" 2000 10 || fail "writes with a chained replica"
same "$P" "$R" "primary and replica, chained below" || true
same "$R" "$C" "the chained replica" || true
expect_match "replica-announce-ip/port in INFO" "^ip=10\.9\.8\.7,port=7777,state=online," "$(info "$R" slave0)"

# ---- the replica's files replay to the same data ----
PORT=$C KPID=$CPID_
stop_kvd
$CHECKWAL "$T/chained" >"$T/check.out" 2>&1 && ok "kvd-check-wal accepts the chained replica's WAL" ||
    { fail "kvd-check-wal refuses the chained replica's WAL"; tail -5 "$T/check.out"; }
dump "$P" >"$T/dump.p"
start_kvd chained || fail "the chained replica's dir does not start standalone"
C=$PORT CPID_=$KPID
dump "$C" >"$T/dump.c"
cmp -s "$T/dump.p" "$T/dump.c" && ok "the replica's WAL replays to the primary's data" ||
    { fail "the replica's WAL replays to other data"; diff "$T/dump.p" "$T/dump.c" | head -5; }
PORT=$C KPID=$CPID_
stop_kvd

# ---- kvd-cli --replica: the stream as a change feed ----
timeout 30 "$B/src/kvd-cli" -p "$P" --replica >"$T/feed.out" 2>"$T/feed.err" &
FEED=$!
wait_for 10 "grep -q '^+CONTINUE' $T/feed.err" || fail "kvd-cli --replica did not start: $(cat "$T/feed.err")"
for i in 1 2 3; do timeout 10 redis-cli -p "$P" set "feed$i" "v$i" >/dev/null; done
if wait_for 10 "[ \$(grep -c '\"key\":\"feed' $T/feed.out) -eq 3 ]"; then
    ok "kvd-cli --replica prints the lines as they come"
else
    fail "kvd-cli --replica printed: $(head -c 300 "$T/feed.out")"
fi
expect_match "a feed line" '^\{"seq":[0-9]+,"op":"set","key":"feed1","val":"v1","crc":"[0-9a-f]{8}"\}$' \
    "$(grep feed1 "$T/feed.out")"
kill "$FEED" 2>/dev/null
wait "$FEED" 2>/dev/null
out=$(timeout 10 "$B/src/kvd-cli" -p "$P" --replica-all 2>/dev/null | head -3 | wc -l)
expect_eq "kvd-cli --replica-all starts with the base" 3 "$out"

# ---- REPLICAOF NO ONE, and the old primary follows the new one ----
old_id=$(info "$R" master_replid)
expect_eq "REPLICAOF NO ONE" OK "$(timeout 10 redis-cli -p "$R" replicaof no one)"
expect_eq "promoted role" master "$(info "$R" role)"
expect_eq "replid2 is the old id" "$old_id" "$(info "$R" master_replid2)"
expect_eq "the promoted server takes writes" OK "$(timeout 10 redis-cli -p "$R" set promoted yes)"
# As Sentinel reconfigures a server: REPLICAOF inside MULTI/EXEC.
out=$(printf 'MULTI\nREPLICAOF 127.0.0.1 %s\nEXEC\n' "$R" | timeout 10 redis-cli -p "$P" | tr '\n' ' ')
expect_eq "MULTI / REPLICAOF / EXEC on the old primary" "OK QUEUED OK " "$out"
same "$R" "$P" "the old primary follows the promoted one" || true
grep -q "continues from seq" "$T/replica.log" && ok "it continued (partial sync through replid2)" ||
    fail "the old primary needed a full sync"
expect_eq "the old primary is read-only" "READONLY You can't write against a read only replica." \
    "$(timeout 10 redis-cli -p "$P" set x 1)"
expect_eq "SLAVEOF NO ONE" OK "$(timeout 10 redis-cli -p "$P" slaveof no one)"
# Both take writes now: histories diverge. Following again means a full
# sync, and P's own write is gone.
timeout 10 redis-cli -p "$P" set diverged p >/dev/null
timeout 10 redis-cli -p "$R" set other r >/dev/null
n0=$(grep -c "full sync done" "$T/primary.log")
timeout 10 redis-cli -p "$P" replicaof 127.0.0.1 "$R" >/dev/null
same "$R" "$P" "a diverged server following again" || true
[ "$(grep -c "full sync done" "$T/primary.log")" -gt "$n0" ] && ok "the diverged server did a full sync" ||
    fail "the diverged server continued from a history it does not share"
expect_eq "its own write is gone" "" "$(timeout 10 redis-cli -p "$P" get diverged)"
timeout 10 redis-cli -p "$P" replicaof no one >/dev/null

# ---- masterauth / masteruser ----
start_kvd authprimary --requirepass secret --user repl on '>rpass' '~*' +@all || exit 1
AP=$PORT
timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning set authed yes >/dev/null
start_kvd authreplica --replicaof "127.0.0.1 $AP" --masteruser repl --masterauth rpass || exit 1
AR=$PORT
wait_for 30 "[ \"\$(info $AR master_link_status)\" = up ]" && ok "masteruser/masterauth: the link is up" ||
    fail "masteruser/masterauth: the link did not come up: $(tail -2 "$T/authreplica.log")"
expect_eq "masteruser/masterauth: the data came" yes "$(timeout 10 redis-cli -p "$AR" get authed)"
start_kvd badauth --replicaof "127.0.0.1 $AP" --masterauth wrong || exit 1
wait_for 30 "grep -q 'refused AUTH' $T/badauth.log" && ok "a wrong masterauth is logged" ||
    fail "no log line for a wrong masterauth"
expect_eq "a wrong masterauth: link down" down "$(info "$PORT" master_link_status)"

# ---- hostile cases (review of this issue) ----
# A replica with fewer databases than the primary's data refuses the full
# sync (link down, a reason in the log) rather than load part of it and
# claim to be in sync.
timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning -n 9 set in9 x >/dev/null
start_kvd fewdbs --databases 4 --replicaof "127.0.0.1 $AP" --masteruser repl --masterauth rpass || exit 1
FEW=$PORT
wait_for 30 "grep -q \"raise 'databases'\" $T/fewdbs.log" && ok "a replica with fewer databases says why it cannot sync" ||
    fail "no log line for a replica with fewer databases"
expect_eq "... and its link is down" down "$(info "$FEW" master_link_status)"
# REPLICAOF to itself: SYNCWAL is refused while its own link is down
# (-NOMASTERLINK), so it never reports a live link or a replica.
timeout 10 redis-cli -p "$FEW" replicaof 127.0.0.1 "$FEW" >/dev/null
# (once it has tried, as its log says)
wait_for 30 "grep -q 'link with primary 127.0.0.1:$FEW not up' $T/fewdbs.log" ||
    fail "REPLICAOF itself: no attempt in the log"
expect_eq "REPLICAOF itself: the link stays down" down "$(info "$FEW" master_link_status)"
expect_eq "REPLICAOF itself: no replica of itself" 0 "$(info "$FEW" connected_slaves)"
timeout 10 redis-cli -p "$FEW" replicaof no one >/dev/null
# An ACK past what the primary wrote is not believed.
exec {fake}<>"/dev/tcp/127.0.0.1/$AP"
printf 'AUTH repl rpass\r\nSYNCWAL 0000000000000000000000000000000000000000 1\r\n' >&"$fake"
cat <&"$fake" >/dev/null &
drain=$!
wait_for 30 "timeout 10 redis-cli -p $AP -a secret --no-auth-warning info replication | grep -q 'port=0,'" ||
    fail "the hand-made replica link did not show up"
printf 'REPLCONF ACK 9223372036854775807\r\n' >&"$fake"
acked() {
    local out
    out=$(timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning info replication | tr -d '\r')
    sed -n 's/^slave[0-9]*:.*port=0,.*offset=\([0-9]*\).*/\1/p' <<<"$out"
}
wait_for 30 '[ -n "$(acked)" ] && [ "$(acked)" -gt 0 ]' || true
expect_eq "an ACK past the primary's offset is capped at it" \
    "$(timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning info replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')" \
    "$(acked)"
exec {fake}>&-
kill "$drain" 2>/dev/null
# WAIT with the largest timeout waits (it used to overflow: an immediate 0,
# or UBSan's abort).
timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning set w 1 >/dev/null
timeout 2 redis-cli -p "$AP" -a secret --no-auth-warning wait 9 9223372036854775807 >/dev/null 2>&1
expect_eq "WAIT 9 <INT64_MAX> blocks (killed by timeout 2 s)" 124 "$?"
expect_eq "... and the server is alive" PONG "$(timeout 10 redis-cli -p "$AP" -a secret --no-auth-warning ping)"

# ---- a redis-server primary is not kvd ----
if command -v redis-server >/dev/null; then
    start_redis redisprimary || exit 1
    timeout 10 redis-cli -p "$R" replicaof 127.0.0.1 "$RPORT" >/dev/null
    wait_for 30 "grep -q 'primary is not kvd' $T/replica.log" && ok "a redis-server primary is recognised" ||
        fail "no 'not kvd' message for a redis-server primary"
    timeout 10 redis-cli -p "$R" replicaof no one >/dev/null
fi

finish
