#!/usr/bin/env bash
# Durability: every write command's effect (values and TTLs) survives a
# restart exactly; the WAL logs results (INCR as the value, expiries as
# absolute times); and with appendfsync always, kill -9 loses no write
# that was acknowledged.
. "$(dirname "$0")/lib.sh"

# dump: every key with its value and absolute expiry, sorted. Keys travel
# in redis-cli's quoted form, which its stdin mode parses back, so binary
# keys work too.
dump() {
    cli --no-raw keys '*' | sed -E 's/^ *[0-9]+\) //' | sort >"$T/keys"
    while IFS= read -r q; do printf 'GET %s\nPEXPIRETIME %s\n' "$q" "$q"; done <"$T/keys" |
        cli --no-raw | paste - - | paste "$T/keys" -
}

start_kvd w || fail "start"
run() { cli "$@" >/dev/null; }
future=$(( $(date +%s) + 3600 ))
run set s1 v1
run set s2 v2 ex 1000
run set s3 v3 px 2000000
run set s4 v4 exat "$future"
run set s5 v5 pxat "$((future * 1000 + 123))"
run set s2 v2b keepttl
run set s1 nope nx
run set s1 v1b xx get
run set gone v px 1
run setnx n1 x
run setex se 500 sv
run psetex pse 500000 psv
run getset s3 v3b
run set gd 1; run getdel gd
run set ge 1; run getex ge ex 700
run set gp 1 ex 100; run getex gp persist
run mset m1 a m2 b m3 c
run msetnx m4 d m5 e
run incr i1; run incr i1; run decr i2; run incrby i3 100; run decrby i3 7
run set i4 5 ex 900; run incr i4
run incrbyfloat f1 2.5; run incrbyfloat f1 0.25
run append ap hello; run append ap " world"
run setrange sr 3 xyz; run setrange ap 0 J
run set d1 1; run set d2 2; run set d3 3; run del d1 d2 nosuch; run unlink d3
run set e1 1; run expire e1 300
run set e2 1; run pexpire e2 400000
run set e3 1; run expireat e3 "$future"
run set e4 1; run pexpireat e4 "$((future * 1000 + 5))"
run set e5 1; run expire e5 -1
run set e6 1 ex 100; run expire e6 50 lt; run expire e6 500 gt
run set p1 1 ex 100; run persist p1
run set r1 1 ex 800; run rename r1 r2
run set r3 1; run renamenx r3 r4
run set c1 cv px 600000; run copy c1 c2; run copy c1 m1 replace
# (nc ends when kvd has answered and closed: both SETs are done then.)
printf 'SET bin "\\x00\\x01\\xff\\r\\n" \r\nSET "k\\x00ey" "\\xe2\\x82\\xac"\r\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
# DBSIZE counts an expired key until it is reclaimed; reclaim "gone" (its
# 1 ms are long past) now rather than rely on the active cycle's timing.
run get gone
before=$(dump)
expect_match "the state has the keys we expect" '"s1"	"v1b"	\(integer\) -1' "$before"
expect_eq "key count before restart" 34 "$(cli dbsize)"
stop_kvd; expect_eq "SIGTERM exits 0" 0 "$RC"
restart_kvd w || fail "restart"
after=$(dump)
if [ "$before" == "$after" ]; then
    ok "every key, value and expiry is the same after a restart ($(printf '%s\n' "$after" | wc -l) keys)"
else
    fail "state differs after restart:"
    diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -20
fi

# Now the WAL itself, read with jq.
W=$DIR/kvd.incr.1.jsonl
if command -v jq >/dev/null; then
    expect_eq "INCR is logged as its result" '"2"' "$(jq -c 'select(.key=="i1") | .val' "$W" | tail -1)"
    expect_eq "INCRBYFLOAT is logged as its result" '"2.75"' "$(jq -c 'select(.key=="f1") | .val' "$W" | tail -1)"
    expect_eq "EXPIRE is logged as an absolute time" "$(cli pexpiretime e1)" "$(jq -c 'select(.key=="e1" and .op=="expire") | .exp' "$W")"
    expect_eq "a past EXPIRE is logged as a delete" '"del"' "$(jq -c 'select(.key=="e5") | .op' "$W" | tail -1)"
    expect_eq "MSET is one group" 3 "$(jq -c 'select(.key=="m1" and .op=="set") | .grp' "$W" | head -1)"
    expect_eq "APPEND is logged as an append" '"append"' "$(jq -c 'select(.key=="ap") | .op' "$W" | sed -n 2p)"
    expect_eq "SETRANGE is logged as the range it writes" '{"op":"setrange","off":3,"val":"xyz"}' \
        "$(jq -c 'select(.key=="sr") | {op, off, val}' "$W")"
    expect_eq "binary keys go base64" '"awBleQ=="' "$(jq -c 'select(.key64) | .key64' "$W")"
fi
expect_eq "kvd-check-wal agrees" 0 "$("$CHECKWAL" "$W" >/dev/null; echo $?)"
stop_kvd

# kill -9 under appendfsync always: every acknowledged SET survives.
start_kvd a --appendfsync always || fail "start always"
writer() { # id: SET a:<id>:<n> <n> until killed; log each n that got +OK
    local id=$1 n=0 line
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || return
    exec 2>/dev/null
    while :; do
        n=$((n + 1))
        printf 'SET a:%s:%d %d\r\n' "$id" "$n" "$n" >&3 || break
        IFS= read -r -t 5 line <&3 || break
        [ "$line" == $'+OK\r' ] || break
        echo "$n" >>"$T/acked.$id"
    done
}
for id in 1 2 3 4; do writer "$id" & WPIDS+=($!); done
# Every writer has had writes acknowledged, then some more time.
wait_for 60 '[ -s "$T/acked.1" ] && [ -s "$T/acked.2" ] && [ -s "$T/acked.3" ] && [ -s "$T/acked.4" ]'
sleep 1
kill9_kvd
wait "${WPIDS[@]}" 2>/dev/null
restart_kvd a --appendfsync always || fail "restart after kill -9"
total=0 lost=0
for id in 1 2 3 4; do
    [ -f "$T/acked.$id" ] || continue
    last=$(tail -n 1 "$T/acked.$id")
    total=$((total + last))
    # Each writer's keys 1..last were all acknowledged.
    have=$(cli --no-raw keys "a:$id:*" | wc -l)
    [ "$have" -ge "$last" ] || lost=$((lost + last - have))
    [ "$(cli get "a:$id:$last")" == "$last" ] || lost=$((lost + 1))
done
expect_match "writers got acknowledgements before the kill" "^[1-9][0-9]*$" "$total"
expect_eq "no acknowledged write lost after kill -9 ($total acked)" 0 "$lost"
finish
