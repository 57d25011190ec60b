#!/usr/bin/env bash
# maxmemory: -OOM under noeviction, each eviction policy evicting the keys
# it should, evictions logged to the WAL as deletes (so they stay evicted
# after a restart) and counted in INFO, CONFIG SET changing limit and
# policy live, and used_memory tracking RSS.
. "$(dirname "$0")/lib.sh"

info() { cli info "${2:-all}" | tr -d '\r' | grep "^$1:" | cut -d: -f2; }
LOAD=$B/tests/kvdload
OOM="OOM command not allowed when used memory > 'maxmemory'."

# ---- noeviction: the default ----
start_kvd ne --maxmemory 2mb || fail "start"
expect_eq "policy defaults to noeviction" "noeviction" "$(info maxmemory_policy memory)"
expect_eq "maxmemory in INFO" "2097152" "$(info maxmemory memory)"
# Fill until refused: about 2 MB of 100-byte values.
i=0
while [ $i -lt 40000 ]; do
    seq $i $((i + 999)) | sed 's/^/SET key:/; s/$/ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' |
        cli >"$T/out" 2>&1
    grep -q OOM "$T/out" && break
    i=$((i + 1000))
done
expect_match "writes are refused once full" "^$OOM" "$(grep -m1 OOM "$T/out")"
# Client buffers count too, so the filling connection's close frees what
# its input buffer held (up to a whole 1000-command batch when the server
# is slow, under a memory checker or a loaded machine): check the exact
# error at the end of a pipeline on one connection long enough to fill
# that back up several times over.
out=$(raw "$(for i in $(seq 1 2000); do printf 'SET more:%d %0100d\\r\\n' $i 0; done)INCR counter\\r\\n" | tr -d '\r')
expect_eq "the exact Redis error, by raw protocol" "-$OOM" "$(printf '%s\n' "$out" | tail -2 | head -1)"
expect_eq "INCR is refused too (it may grow memory)" "-$OOM" "$(printf '%s\n' "$out" | tail -1)"
expect_eq "reads still work" "xxxxxxxxxx" "$(cli get key:0 | cut -c1-10)"
expect_eq "nothing was evicted" "0" "$(info evicted_keys stats)"
expect_eq "DEL is allowed (it frees memory)" "1" "$(cli del key:1)"
# Raising the limit live lets writes in again.
expect_eq "CONFIG SET maxmemory" "OK" "$(cli config set maxmemory 4mb)"
expect_eq "SET after raising the limit" "OK" "$(cli set one more)"
expect_eq "CONFIG GET maxmemory" "maxmemory 4194304" "$(cli config get maxmemory | paste -sd' ')"
# Lowering it with an evicting policy evicts at once.
cli config set maxmemory-policy allkeys-random >/dev/null
cli config set maxmemory 1mb >/dev/null
used=$(info used_memory_dataset memory)
[ "$used" -le 1048576 ] && ok "CONFIG SET maxmemory 1mb evicts down to it (dataset $used bytes)" ||
    fail "dataset $used > 1mb after lowering maxmemory"
ev=$(info evicted_keys stats)
[ "$ev" -gt 0 ] && ok "evicted_keys counts ($ev)" || fail "evicted_keys is $ev"
left=$(cli dbsize)
stop_kvd
# (A little headroom: the restarted process need not lay out memory
# byte for byte as before, and this checks the WAL, not the limit.)
restart_kvd ne --maxmemory 2mb --maxmemory-policy allkeys-random || fail "restart"
expect_eq "evicted keys stay evicted after a restart" "$left" "$(cli dbsize)"
ndel=$(cat "$DIR"/kvd.incr.*.jsonl | jq -c 'select(.op == "del")' | wc -l)
[ "$ndel" -ge "$ev" ] && ok "evictions are in the WAL as deletes ($ndel)" || fail "$ndel deletes in the WAL, $ev evictions"
stop_kvd

# ---- allkeys-lru: keys in use survive ----
start_kvd lru --maxmemory 2mb --maxmemory-policy allkeys-lru || fail "start lru"
"$LOAD" fill "$PORT" hot: 2000 100 >/dev/null || fail "load hot keys"
hot_gets() { seq 0 1999 | sed 's/^/GET hot:/' | cli >/dev/null; }
for round in $(seq 1 10); do
    sleep 0.12 # a tick of the LRU clock (100 ms) between the reads and the writes around them
    hot_gets
    sleep 0.12
    "$LOAD" fill "$PORT" "cold$round:" 2000 100 >/dev/null || fail "load cold keys"
done
hot=$(seq 0 1999 | sed 's/^/EXISTS hot:/' | cli | grep -c '^1$')
cold=$(for r in $(seq 1 10); do seq 0 1999 | sed "s/^/EXISTS cold$r:/"; done | cli | grep -c '^1$')
ev=$(info evicted_keys stats)
echo "lru: $hot of 2000 hot keys and $cold of 20000 cold keys left, $ev evicted"
[ "$ev" -gt 3000 ] && ok "allkeys-lru evicted ($ev keys)" || fail "allkeys-lru evicted only $ev"
[ "$hot" -ge 1800 ] && ok "allkeys-lru keeps the keys in use ($hot/2000 hot keys left)" ||
    fail "allkeys-lru kept only $hot/2000 hot keys"
stop_kvd

# ---- allkeys-lfu: keys used often survive keys used once ----
# No decay here: with lfu-decay-time 1 (the default) a minute boundary that
# falls between the reads and the fills (the wall clock's, so likelier on a
# slow machine) takes one off every hot key's count, and a hot key read six
# times counts 6 or 7, a fresh one 5. Decay is checked in check_evict with
# a controlled clock.
start_kvd lfu --maxmemory 2mb --maxmemory-policy allkeys-lfu --lfu-decay-time 0 || fail "start lfu"
"$LOAD" fill "$PORT" hot: 2000 100 >/dev/null || fail "load hot keys"
for round in 1 2 3 4 5; do seq 0 1999 | sed 's/^/GET hot:/' | cli >/dev/null; done
freq=$(cli object freq hot:7)
[ "$freq" -gt 5 ] && ok "OBJECT FREQ counts uses under LFU ($freq after 6)" || fail "OBJECT FREQ is [$freq]"
expect_match "OBJECT IDLETIME is Redis's error under LFU" "^ERR An LFU maxmemory policy is selected" "$(cli object idletime hot:7 2>&1)"
for round in $(seq 1 10); do
    "$LOAD" fill "$PORT" "once$round:" 2000 100 >/dev/null || fail "load keys used once"
done
hot=$(seq 0 1999 | sed 's/^/EXISTS hot:/' | cli | grep -c '^1$')
ev=$(info evicted_keys stats)
echo "lfu: $hot of 2000 hot keys left, $ev evicted"
[ "$ev" -gt 3000 ] && [ "$hot" -ge 1800 ] && ok "allkeys-lfu keeps the keys used often ($hot/2000, $ev evicted)" ||
    fail "allkeys-lfu kept $hot/2000 hot keys with $ev evicted"
stop_kvd

# ---- volatile-*: only keys with a TTL go ----
for policy in volatile-lru volatile-random volatile-ttl volatile-lfu; do
    start_kvd "$policy" --maxmemory 2mb --maxmemory-policy "$policy" || fail "start $policy"
    "$LOAD" fill "$PORT" keep: 3000 100 >/dev/null
    # Keys with TTLs: far ones first, then near ones.
    seq 0 999 | sed 's/.*/SET far:& xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx EX 100000/' | cli >/dev/null
    sleep 0.15 # every near key's LRU stamp (100 ms ticks) is later than every far key's
    seq 0 999 | sed 's/.*/SET near:& xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx EX 1000/' | cli >/dev/null
    # More, in steps, until about a third of the keys with a TTL are gone.
    for step in $(seq 0 100); do
        [ "$(info evicted_keys stats)" -ge 600 ] && break
        seq $((step * 200)) $((step * 200 + 199)) | sed 's/^/SET more:/; s/$/ '"$(printf '%0100d' 0)"'/' | cli >/dev/null
    done
    near=$(seq 0 999 | sed 's/^/EXISTS near:/' | cli | grep -c '^1$')
    far=$(seq 0 999 | sed 's/^/EXISTS far:/' | cli | grep -c '^1$')
    echo "$policy: far $far/1000, near $near/1000 left, evicted $(info evicted_keys stats)"
    [ $((near + far)) -lt 2000 ] && ok "$policy evicted keys with a TTL" || fail "$policy evicted nothing"
    case $policy in
    volatile-ttl)
        [ "$near" -lt "$far" ] && ok "volatile-ttl evicts the nearest expiries first (near $near, far $far left)" ||
            fail "volatile-ttl: near $near, far $far left" ;;
    volatile-lru)
        [ "$far" -lt "$near" ] && ok "volatile-lru evicts the least recently used first (far $far, near $near left)" ||
            fail "volatile-lru: far $far, near $near left" ;;
    esac
    # Far more than fits: every key with a TTL goes, then writes get -OOM.
    seq 0 29999 | sed 's/.*/SET more2:& xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/' | cli >"$T/out"
    keep=$(seq 0 2999 | sed 's/^/EXISTS keep:/' | cli | grep -c '^1$')
    expect_eq "$policy never evicts keys without a TTL" "3000" "$keep"
    # Once no key has a TTL, writes get -OOM.
    expect_match "$policy with no TTL left to evict refuses writes" "$OOM" "$(grep -m1 OOM "$T/out")"
    stop_kvd
done

# ---- OBJECT IDLETIME and MEMORY USAGE (what LRU tooling reads) ----
# Idle times are whole seconds of 10 ms ticks. Each is checked against
# what the test measured around the requests: exactly 1 and 0 on an idle
# machine, and no false failure on a loaded one, where a request may stall.
# idle_bounds USED_FROM USED_TO ASKED_FROM ASKED_TO: "LOW HIGH", the idle
# times of a key last used between the first two times (ms) when asked
# between the last two.
idle_bounds() { echo "$(( ($3 - $2 - 10) / 1000 )) $(( ($4 - $1 + 10) / 1000 ))"; }
start_kvd obj || fail "start obj"
t0=$(now_ms)
cli set idle "$(printf '%0100d' 7)" >/dev/null
cli set busy v >/dev/null
t1=$(now_ms)
sleep 1.3
t2=$(now_ms)
cli get busy >/dev/null
t3=$(now_ms)
# Both in one request, so they are answered at the same moment.
out=$(raw 'OBJECT IDLETIME idle\r\nOBJECT IDLETIME busy\r\n' | tr -d '\r:')
t4=$(now_ms)
idle=$(printf '%s\n' "$out" | sed -n 1p) busy=$(printf '%s\n' "$out" | sed -n 2p)
# (LOW is at least 1 for idle: 1.3 s passed since its SET.)
expect_between "OBJECT IDLETIME counts seconds since the last use" $(idle_bounds "$t0" "$t1" "$t3" "$t4") "$idle"
# A GET is a use: at the same moment, busy was used 1.3 s after idle.
read -r lo hi <<<"$(idle_bounds "$t2" "$t3" "$t3" "$t4")"
expect_between "OBJECT IDLETIME of a key read since" "$lo" "$(( hi < idle - 1 ? hi : idle - 1 ))" "$busy"
idle=$(cli object idletime idle)
t5=$(now_ms)
expect_between "OBJECT itself does not count as a use" $(idle_bounds "$t0" "$t1" "$t4" "$t5") "$idle"
mu=$(cli memory usage idle)
[ "$mu" -gt 100 ] && [ "$mu" -lt 300 ] && ok "MEMORY USAGE of a 100-byte value: $mu bytes" || fail "MEMORY USAGE gave [$mu]"
"$LOAD" fill "$PORT" mk: 200 50 >/dev/null
expect_match "redis-cli --memkeys reads sizes" "202 strings with [1-9][0-9]* bytes" "$(timeout 20 redis-cli -p "$PORT" --memkeys 2>&1)"
stop_kvd

# ---- bad settings ----
start_kvd bad || fail "start bad"
expect_match "unknown policy refused" "^ERR" "$(cli config set maxmemory-policy allkeys-mru 2>&1)"
expect_match "bad size refused" "^ERR" "$(cli config set maxmemory lots 2>&1)"
expect_eq "policy unchanged" "maxmemory-policy noeviction" "$(cli config get maxmemory-policy | paste -sd' ')"
expect_eq "CONFIG SET maxmemory-samples" "OK" "$(cli config set maxmemory-samples 10)"
stop_kvd

# ---- accounting: used_memory within 20% of RSS for 1M small keys ----
# (Not under ASan or valgrind: their shadow memory and redzones are RSS
# that no allocator accounting sees.)
if ldd "$KVD" 2>/dev/null | grep -q libasan || [ ${#VG[@]} -gt 0 ]; then
    echo "skip [$NAME]: RSS comparison under a memory checker"
    finish
fi
start_kvd acct || fail "start acct"
"$LOAD" fill "$PORT" key: 1000000 10 >/dev/null || fail "load 1M keys"
used=$(info used_memory memory)
rss=$(info used_memory_rss memory)
pct=$((100 * used / rss))
echo "accounting: used_memory $used, RSS $rss ($pct%)"
[ $pct -ge 80 ] && [ $pct -le 120 ] && ok "used_memory is within 20% of RSS for 1M keys ($pct%)" ||
    fail "used_memory $used is $pct% of RSS $rss"
stop_kvd
finish
