#!/usr/bin/env bash
# Failover with Redis Sentinel (Debian's redis-sentinel): one kvd primary,
# two kvd replicas, each with its own conf file, and three sentinels
# watching them with quorum 2. A redis-py Sentinel client writes w:<i>
# with WAIT 1 1000 after each write. The primary is killed with -9:
# Sentinel promotes a replica and points the other at it (REPLICAOF,
# CONFIG REWRITE, CLIENT KILL in one MULTI/EXEC), the client follows and
# keeps writing; the old primary, restarted from its conf file as a
# primary, is turned into a replica of the new one by Sentinel. At the
# end every write WAIT confirmed is on the new primary and the three
# kvds hold the same data; the conf files say who follows whom. Then
# SENTINEL FAILOVER moves the primary once more, all nodes up.
: "${TEST_TIMEOUT:=240}"
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
for b in redis-sentinel redis-server redis-cli; do
    command -v "$b" >/dev/null 2>&1 || { echo "skip [$NAME]: no $b"; exit 77; }
done
{ [ -x "$PY" ] && "$PY" -c 'import redis.sentinel' 2>/dev/null; } ||
    { echo "skip [$NAME]: no python3 with redis-py (python3-redis)"; exit 77; }
W="$S/tests/integration/sentinel_writer.py"
H="$S/tests/integration/repl_load.py"

# start_conf NAME LOG CONFLINES BIN...: write $T/NAME.conf (its port line
# first, then CONFLINES) and run BIN... $T/NAME.conf on a free port until
# it answers PING. Sets PORT and SPID.
start_conf() {
    local name=$1 log=$2 lines=$3 try; shift 3
    for try in 1 2 3 4 5 6 7 8; do
        PORT=$(random_port)
        printf 'port %s\n%s\n' "$PORT" "$lines" >"$T/$name.conf"
        : >"$log"
        "$@" "$T/$name.conf" &
        SPID=$!
        PIDS+=("$SPID")
        wait_ready "$PORT" "$SPID" && return 0
        kill -9 "$SPID" 2>/dev/null
        grep -qi "address already in use" "$log" || break
    done
    echo "$name did not start:"; tail -5 "$log"
    return 1
}

# start_node NAME [LINE...]: a kvd with data dir $T/NAME and conf file
# $T/NAME.conf, which CONFIG REWRITE (sent by Sentinel) rewrites.
start_node() {
    local name=$1; shift
    local lines
    lines=$(printf 'bind 127.0.0.1\ndir %s\nlogfile %s\nappendfsync everysec\n' "$T/$name" "$T/$name.log"
        [ $# -gt 0 ] && printf '%s\n' "$@")
    start_conf "$name" "$T/$name.log" "$lines" "${VG[@]}" "$KVD"
}

start_sentinel() {
    start_conf "$1" "$T/$1.log" "bind 127.0.0.1
dir $T
logfile $T/$1.log
sentinel monitor kvd 127.0.0.1 $P 2
sentinel down-after-milliseconds kvd 3000
sentinel failover-timeout kvd 6000" redis-sentinel
}

info() { timeout 10 redis-cli -p "$1" info replication 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
# sfield SPORT FIELD: a field of SENTINEL MASTER kvd.
sfield() { timeout 10 redis-cli -p "$1" sentinel master kvd 2>/dev/null | paste - - | awk -F'\t' -v f="$2" '$1 == f { print $2 }'; }
# smaster SPORT: the port of the primary that sentinel names.
smaster() { timeout 10 redis-cli -p "$1" sentinel get-master-addr-by-name kvd 2>/dev/null | sed -n 2p; }
# follows R P: R is a replica of P with its link up.
follows() { [ "$(info "$1" role)" = slave ] && [ "$(info "$1" master_port)" = "$2" ] && [ "$(info "$1" master_link_status)" = up ]; }
synced() { follows "$2" "$1" && [ "$(info "$1" master_repl_offset)" = "$(info "$2" slave_repl_offset)" ]; }
confirmed() { [ -f "$T/w.confirmed" ] && wc -l <"$T/w.confirmed" || echo 0; }
dump() { timeout 120 "$PY" "$H" dump "$1"; }

# ---- the primary, its replicas, the sentinels ----
start_node n1 || exit 1
P=$PORT PPID_=$SPID
start_node n2 "replicaof 127.0.0.1 $P" || exit 1
R1=$PORT
start_node n3 "replicaof 127.0.0.1 $P" || exit 1
R2=$PORT
wait_for 60 "follows $R1 $P && follows $R2 $P" && ok "two replicas follow the primary" || fail "the replicas did not connect"

SP=()
for s in s1 s2 s3; do
    start_sentinel "$s" || exit 1
    SP+=("$PORT")
done
all_see() {
    local s
    for s in "${SP[@]}"; do
        [ "$(sfield "$s" num-slaves)" = 2 ] && [ "$(sfield "$s" num-other-sentinels)" = 2 ] || return 1
    done
}
if wait_for 60 all_see; then
    ok "each sentinel found both replicas (INFO) and the other sentinels (__sentinel__:hello)"
else
    fail "the sentinels did not find each other and the replicas:" \
        "$(for s in "${SP[@]}"; do echo "$s: $(sfield "$s" num-slaves) $(sfield "$s" num-other-sentinels)"; done)"
    finish
fi
expect_eq "Sentinel sees the primary's run_id" "$(timeout 10 redis-cli -p "$P" info server | tr -d '\r' | sed -n 's/^run_id://p')" \
    "$(sfield "${SP[0]}" runid)"
expect_eq "SCRIPT KILL" "NOTBUSY No scripts in execution right now." "$(timeout 10 redis-cli -p "$P" script kill)"

# ---- the writer; kill -9 the primary ----
"$PY" "$W" write "$(IFS=,; echo "${SP[*]}")" "$T/w" "$T/stop" 2>"$T/writer.err" &
WPID=$!
PIDS+=("$WPID")
wait_for 60 '[ "$(confirmed)" -ge 200 ]' && ok "the writer writes, WAIT confirms" ||
    { fail "the writer did not get going: $(confirmed) confirmed; $(tail -3 "$T/w.errors" "$T/writer.err" 2>/dev/null)"; finish; }
kill -9 "$PPID_"
wait "$PPID_" 2>/dev/null
at_kill=$(confirmed) t_kill=$SECONDS

# new_primary OLD: all sentinels name the same primary, not OLD, and it
# says it is one; sets NEW.
new_primary() {
    local s m
    m=$(smaster "${SP[0]}")
    [ -n "$m" ] && [ "$m" != "$1" ] || return 1
    for s in "${SP[@]}"; do [ "$(smaster "$s")" = "$m" ] || return 1; done
    [ "$(info "$m" role)" = master ] || return 1
    NEW=$m
}
if wait_for 60 "new_primary $P"; then
    ok "Sentinel promoted the replica on port $NEW (all three sentinels agree), $((SECONDS - t_kill)) s after the kill"
else
    fail "no failover within 60 s: sentinels name $(for s in "${SP[@]}"; do printf '%s ' "$(smaster "$s")"; done)"
    grep -h '[#*] [+-]' "$T"/s?.log | tail -20
    finish
fi
OTHER=$R1
[ "$NEW" = "$R1" ] && OTHER=$R2
wait_for 60 "follows $OTHER $NEW" && ok "Sentinel pointed the other replica at the new primary" ||
    fail "the other replica does not follow the new primary: role $(info "$OTHER" role), port $(info "$OTHER" master_port)"
after=$(confirmed)
wait_for 60 '[ "$(confirmed)" -ge $((after + 100)) ]' &&
    ok "the writer follows the new primary ($at_kill confirmed at the kill, $(confirmed) now)" ||
    fail "the writer is stuck at $(confirmed) confirmed writes: $(tail -3 "$T/w.errors")"

# ---- the conf files, as Sentinel's CONFIG REWRITE left them ----
new_name=n2
[ "$NEW" = "$R2" ] && new_name=n3
other_name=n3
[ "$new_name" = n3 ] && other_name=n2
expect_eq "the new primary's conf file has no replicaof" "" "$(grep '^replicaof' "$T/$new_name.conf")"
expect_eq "the other replica's conf file follows the new primary" "replicaof 127.0.0.1 $NEW" \
    "$(grep '^replicaof' "$T/$other_name.conf")"

# ---- the old primary comes back from its conf file, as a primary ----
PORT=$P t_restart=$SECONDS
"${VG[@]}" "$KVD" "$T/n1.conf" &
PPID_=$!
PIDS+=("$PPID_")
wait_ready "$P" "$PPID_" || { fail "the old primary did not restart"; tail -5 "$T/n1.log"; finish; }
# On a loaded machine a sentinel may time a slow node out and fail over
# once more: from here on the primary is whichever all sentinels name.
# agreed: they all name one primary, which says it is one; sets CUR.
agreed() {
    local s m
    m=$(smaster "${SP[0]}")
    [ -n "$m" ] || return 1
    for s in "${SP[@]}"; do [ "$(smaster "$s")" = "$m" ] || return 1; done
    [ "$(info "$m" role)" = master ] || return 1
    CUR=$m
}
if wait_for 90 'agreed && [ "$CUR" != "$P" ] && follows $P $CUR'; then
    ok "Sentinel turned the restarted old primary into a replica of the primary ($((SECONDS - t_restart)) s)"
    [ "$CUR" != "$NEW" ] && echo "     (a second failover on this busy machine: the primary is now $CUR, was $NEW)"
    NEW=$CUR
    OTHER=$R1
    [ "$NEW" = "$R1" ] && OTHER=$R2
else
    fail "the old primary is not a replica of the primary: role $(info "$P" role), port $(info "$P" master_port)"
    grep -h "convert-to-slave\|$P" "$T"/s?.log | tail -5
fi
expect_eq "its conf file now says so" "replicaof 127.0.0.1 $NEW" "$(grep '^replicaof' "$T/n1.conf")"
# healthy: flags exactly "slave" (no s_down, no disconnected)
healthy() { timeout 10 redis-cli -p "${SP[0]}" sentinel replicas kvd | grep -A1 '^flags$' | grep -c '^slave$'; }
wait_for 60 '[ "$(healthy)" = 2 ]' &&
    ok "Sentinel lists two healthy replicas" ||
    fail "Sentinel's replicas: $(timeout 10 redis-cli -p "${SP[0]}" sentinel replicas kvd | grep -A1 '^flags$' | tr '\n' ' ')"

# ---- stop writing; what WAIT confirmed is there, everybody agrees ----
touch "$T/stop"
wait_for 30 "! kill -0 $WPID 2>/dev/null" || fail "the writer did not stop"
wait "$WPID" 2>/dev/null
if out=$(timeout 60 "$PY" "$W" check "$NEW" "$T/w.confirmed"); then ok "$out"; else fail "$out"; fi
wait_for 60 "synced $NEW $OTHER && synced $NEW $P" || fail "the replicas did not catch up"
dump "$NEW" >"$T/d.new"
dump "$OTHER" >"$T/d.other"
dump "$P" >"$T/d.old"
if cmp -s "$T/d.new" "$T/d.other" && cmp -s "$T/d.new" "$T/d.old"; then
    ok "all three kvds hold the same $(wc -l <"$T/d.new") keys"
else
    fail "the kvds differ"; diff "$T/d.new" "$T/d.other" | head -5; diff "$T/d.new" "$T/d.old" | head -5
fi
echo "     ($(confirmed) writes confirmed by WAIT, $(wc -l <"$T/w.written" 2>/dev/null || echo 0) not," \
    "$(wc -l <"$T/w.errors" 2>/dev/null || echo 0) retried errors)"

# ---- a manual failover (SENTINEL FAILOVER), every node up ----
# Sentinel may refuse while it still settles (-INPROG, -NOGOODSLAVE).
# all_synced: the two nodes other than NEW hold all it wrote.
all_synced() {
    local n
    for n in "$P" "$R1" "$R2"; do [ "$n" = "$NEW" ] || synced "$NEW" "$n" || return 1; done
}
OLD=$NEW
wait_for 60 '[ "$(timeout 10 redis-cli -p "${SP[1]}" sentinel failover kvd)" = OK ]' ||
    fail "SENTINEL FAILOVER: $(timeout 10 redis-cli -p "${SP[1]}" sentinel failover kvd)"
if wait_for 60 "new_primary $OLD"; then
    ok "SENTINEL FAILOVER moved the primary from $OLD to $NEW"
    for n in "$P" "$R1" "$R2"; do
        [ "$n" = "$NEW" ] && continue
        wait_for 60 "follows $n $NEW" || fail "$n does not follow $NEW after SENTINEL FAILOVER: role $(info "$n" role)"
    done
    timeout 10 redis-cli -p "$NEW" set after-manual-failover 1 >/dev/null
    if wait_for 60 all_synced; then
        dump "$NEW" >"$T/d.2"
        same=1
        for n in "$P" "$R1" "$R2"; do [ "$n" = "$NEW" ] || { dump "$n" | cmp -s - "$T/d.2" || same=0; }; done
        [ $same = 1 ] && ok "all three agree after the manual failover ($(wc -l <"$T/d.2") keys)" ||
            fail "the kvds differ after the manual failover"
    else
        fail "the replicas did not catch up after the manual failover"
    fi
else
    fail "SENTINEL FAILOVER did not move the primary: sentinels name $(smaster "${SP[0]}")"
fi
finish
