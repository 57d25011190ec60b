#!/usr/bin/env bash
# Scale-out: three kvd behind twemproxy (Debian's nutcracker), as in
# conf/nutcracker.yml. Keys written through the proxy read back through it
# and spread over the backends; MSET/MGET/DEL across shards work;
# redis-benchmark runs clean through it; a killed backend is ejected while
# the others keep serving, and once restarted its keys are back from its WAL.
. "$(dirname "$0")/lib.sh"

if ! command -v nutcracker >/dev/null; then
    echo "skip [$NAME]: nutcracker not installed (scripts/test installs it)"
    exit 77
fi
LOAD=$B/tests/kvdload
N=10000

declare -a P K
for i in 1 2 3; do
    start_kvd "kvd$i" || { fail "start kvd$i"; finish; }
    P[$i]=$PORT K[$i]=$KPID
done

# The example config with this test's ports (and nothing else changed).
start_proxy() {
    # (nutcracker answers PING itself; preconnect has reached the backends.)
    on_free_port nutcracker "$T/nutcracker.log" sh -c "sed -e 's/127.0.0.1:22121/127.0.0.1:@PORT@/' \
        -e 's/:7379:/:${P[1]}:/' -e 's/:7380:/:${P[2]}:/' -e 's/:7381:/:${P[3]}:/' \
        '$S/conf/nutcracker.yml' >'$T/nutcracker.yml' &&
        exec nutcracker -c '$T/nutcracker.yml' -s \$((@PORT@ + 1)) -a 127.0.0.1 \
        -o '$T/nutcracker.log' -p '$T/nutcracker.pid'" || return 1
    PP=$FREE_PORT
}
start_proxy || { fail "start nutcracker"; finish; }
ok "nutcracker proxies to 3 kvd (ports ${P[*]})"
px() { timeout 20 redis-cli -p "$PP" "$@"; }

# ---- 10k keys through the proxy ----
"$LOAD" fill "$PP" key: $N 100 >/dev/null && ok "wrote $N keys through the proxy" || fail "fill through the proxy"
"$LOAD" verify "$PP" key: $N 100 >/dev/null && ok "read all $N back through the proxy" || fail "verify through the proxy"
total=0
for i in 1 2 3; do
    n=$(timeout 10 redis-cli -p "${P[$i]}" dbsize)
    total=$((total + n))
    timeout 10 redis-cli -p "${P[$i]}" --scan --pattern 'key:*' | sort >"$T/keys$i"
    pct=$((100 * n / N))
    [ $pct -ge 15 ] && [ $pct -le 55 ] && ok "kvd$i holds $n keys ($pct%)" || fail "kvd$i holds $n keys ($pct%)"
done
expect_eq "each key is on exactly one backend" "$N" "$total"

# ---- multi-key commands across shards ----
args=() ; for i in $(seq 1 30); do args+=("m$i" "val$i"); done
expect_eq "MSET across shards" "OK" "$(px mset "${args[@]}")"
shards=0
for i in 1 2 3; do
    n=$(for k in $(seq 1 30); do echo "EXISTS m$k"; done | timeout 10 redis-cli -p "${P[$i]}" | grep -c '^1$')
    [ "$n" -gt 0 ] && shards=$((shards + 1))
done
expect_eq "MSET's keys went to all 3 backends" "3" "$shards"
expect_eq "MGET across shards, in order" "$(seq 1 30 | sed 's/^/val/' | paste -sd' ')" \
    "$(px mget $(seq 1 30 | sed 's/^/m/') | paste -sd' ')"
expect_eq "MGET with missing keys" "val1  val2" "$(px mget m1 nosuch m2 | paste -sd' ')"
expect_eq "DEL across shards counts every key" "30" "$(px del $(seq 1 30 | sed 's/^/m/') nosuch)"
expect_eq "the keys are gone" "" "$(px mget m1 m15 m30 | tr -d '\n')"
ttl_set=$(now_ms)
expect_eq "SET with EX through the proxy" "OK" "$(px set ttlkey v EX 100)"
ttl=$(px ttl ttlkey)
expect_between "TTL through the proxy" $(ttl_bounds 100 "$ttl_set") "$ttl"
expect_eq "INCR through the proxy" "5" "$(px incrby counter 5)"

# ---- redis-benchmark through the proxy ----
if redis-benchmark -p "$PP" -t set,get -n 20000 -c 20 -r 100000 -d 100 -q >"$T/bench" 2>"$T/bench.err"; then
    sets=$(tr '\r' '\n' <"$T/bench" | grep -o 'SET: [0-9.]* requests' | cut -d' ' -f2)
    gets=$(tr '\r' '\n' <"$T/bench" | grep -o 'GET: [0-9.]* requests' | cut -d' ' -f2)
    [ -n "$sets" ] && [ -n "$gets" ] && ok "redis-benchmark through the proxy: SET $sets/s, GET $gets/s" ||
        fail "redis-benchmark printed: $(cat "$T/bench" "$T/bench.err")"
else
    fail "redis-benchmark through the proxy failed: $(tail -3 "$T/bench.err")"
fi
for i in 1 2 3; do
    timeout 10 redis-cli -p "${P[$i]}" ping >/dev/null || fail "kvd$i died during the benchmark"
done

# ---- a backend dies: ejected, the others keep serving ----
n3=$(timeout 10 redis-cli -p "${P[3]}" dbsize)
kill -9 "${K[3]}"; wait "${K[3]}" 2>/dev/null
# Requests for its keys fail until the proxy has counted enough failures;
# then it is out of the ring and they map to the others (as misses).
k3=$(head -1 "$T/keys3") r=
wait_for 30 'r=$(px get "$k3" 2>&1); [ -z "$r" ]'
expect_eq "the proxy ejects the dead backend (its keys read as misses, not errors)" "" "$r"
live=$(cat "$T/keys1" "$T/keys2" | sed 's/^/GET /' | px | grep -c '^v')
expect_eq "with kvd3 dead, every key on kvd1 and kvd2 is served" "$(cat "$T/keys1" "$T/keys2" | wc -l)" "$live"

# ---- restarted, its keys are back (from its WAL) ----
PORT=${P[3]}
restart_kvd kvd3 || fail "restart kvd3"
expect_eq "kvd3 reloaded its keys" "$n3" "$(timeout 10 redis-cli -p "${P[3]}" dbsize)"
back=0  # the proxy retries it after server_retry_timeout
wait_for 60 'back=$(sed "s/^/GET /" "$T/keys3" | px 2>/dev/null | grep -c "^v"); [ "$back" -eq "$(wc -l <"$T/keys3")" ]'
expect_eq "after the restart its keys are served through the proxy" "$(wc -l <"$T/keys3")" "$back"
"$LOAD" verify "$PP" key: $N 100 >/dev/null && ok "all $N keys read back through the proxy" ||
    fail "verify through the proxy after the restart"
finish
