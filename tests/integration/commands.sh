#!/usr/bin/env bash
# Commands through redis-cli, for what compat.cases cannot pin down byte
# for byte: HELLO, CLIENT, CONFIG, INFO, COMMAND,
# TIME, SCAN over many keys, KEYS, RANDOMKEY, and expiry (lazy and active).
. "$(dirname "$0")/lib.sh"

start_kvd k || fail "start"

# Server and connection commands.
expect_eq "PING" PONG "$(cli ping)"
expect_eq "SELECT 0" OK "$(cli select 0)"
expect_eq "SELECT 16 is out of range" "ERR DB index is out of range" "$(cli select 16)"
expect_eq "HELLO 4 is refused" "NOPROTO unsupported protocol version" "$(cli hello 4)"
hello=$(cli hello 2 | tr '\n' ' ')
expect_match "HELLO 2 answers the handshake" "^server kvd version 7\.0\.0 proto 2 id [0-9]+ mode standalone role master modules" "$hello"
out=$(printf 'CLIENT SETNAME me\r\nCLIENT GETNAME\r\nCLIENT ID\r\nCLIENT INFO\r\n' | timeout 5 nc -N 127.0.0.1 "$PORT" | tr -d '\r')
expect_match "CLIENT GETNAME in the same connection" $'\\$2\nme' "$out"
expect_match "CLIENT ID is an integer" $'\n:[0-9]+\n' "$out"
expect_match "CLIENT INFO describes the connection" "id=[0-9]+ addr=127.0.0.1:[0-9]+ laddr=127.0.0.1:$PORT .*name=me .*cmd=client" "$out"
expect_match "CLIENT LIST lists connections" "id=[0-9]+ addr=127\.0\.0\.1:[0-9]+ .*cmd=client" "$(cli client list)"
# In connection order (ids ascending), whichever was active last, as Redis.
exec {c1}<>"/dev/tcp/127.0.0.1/$PORT" {c2}<>"/dev/tcp/127.0.0.1/$PORT" {c3}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\n' >&"$c2"
printf 'PING\r\n' >&"$c1"
ids=$(cli client list | sed 's/^id=\([0-9]*\) .*/\1/')
expect_eq "CLIENT LIST in connection order" "$(sort -n <<<"$ids")" "$ids"
exec {c1}>&- {c2}>&- {c3}>&-
expect_eq "CLIENT LIST TYPE pubsub is empty" "" "$(cli client list type pubsub)"
expect_eq "CLIENT SETINFO" OK "$(cli client setinfo lib-name mylib)"

# CONFIG.
expect_eq "CONFIG GET port" "$(printf 'port\n%s' "$PORT")" "$(cli config get port)"
expect_eq "CONFIG GET several patterns" "$(printf 'appendfsync\neverysec\nhz\n10')" "$(cli config get appendfsync hz)"
expect_eq "CONFIG GET glob" 2 "$(cli config get 'pool-*' | grep -c pool-)"
expect_eq "CONFIG GET for Redis tools" "$(printf 'appendonly\nyes\nsave\n')" "$(cli config get appendonly save)"
expect_eq "CONFIG SET live" OK "$(cli config set hz 20 appendfsync always)"
expect_eq "CONFIG SET took effect" "$(printf 'hz\n20')" "$(cli config get hz)"
expect_eq "CONFIG SET immutable" "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set immutable config" "$(cli config set dir /tmp)"
expect_eq "CONFIG SET bad value" "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer" "$(cli config set hz abc)"
expect_eq "CONFIG SET is all or nothing" "$(printf 'hz\n20')" "$(cli config set hz 30 maxclients 0 >/dev/null; cli config get hz)"
# busy-poll-us: the loop polls for a while after traffic, then sleeps, so
# an idle server uses no CPU (a spinning one would use 200 ticks in 2 s).
expect_eq "CONFIG GET busy-poll-us" "$(printf 'busy-poll-us\n50')" "$(cli config get busy-poll-us)"
expect_eq "CONFIG SET busy-poll-us out of range" "ERR CONFIG SET failed (possibly related to argument 'busy-poll-us') - argument must be between 0 and 100000 inclusive" "$(cli config set busy-poll-us 100001)"
expect_eq "CONFIG SET busy-poll-us" OK "$(cli config set busy-poll-us 100000)"
redis-benchmark -p "$PORT" -t ping -n 20000 -c 5 -q >/dev/null 2>&1
sleep 0.5
ticks() { awk '{ print $14 + $15 }' "/proc/$KPID/stat"; }
t0=$(ticks); sleep 2; t1=$(ticks)
expect_between "idle after traffic: no busy polling (CPU ticks in 2 s)" 0 29 $((t1 - t0))
# Turned off right after traffic, while it polls: it stops polling.
redis-benchmark -p "$PORT" -t ping -n 20000 -c 5 -q >/dev/null 2>&1
cli config set busy-poll-us 0 >/dev/null
t0=$(ticks); sleep 2; t1=$(ticks)
expect_between "busy-poll-us 0 set while polling: no busy polling (CPU ticks in 2 s)" 0 29 $((t1 - t0))
cli config set busy-poll-us 50 >/dev/null
# Sharing its CPU with a busy process, the loop stops polling (it waits
# for the CPU most of the time; the kernel's schedstat says so).
bp() { cli info stats | tr -d '\r' | sed -n 's/^busy_polling://p'; }
expect_match "INFO busy_polling" "^(on|paused)$" "$(bp)"
cli config set busy-poll-us 0 >/dev/null
expect_eq "INFO busy_polling with busy-poll-us 0" off "$(bp)"
cli config set busy-poll-us 50 >/dev/null
if [ -r /proc/thread-self/schedstat ] && command -v taskset >/dev/null; then
    cpus=$(taskset -p -c "$KPID" | sed 's/.*: //')
    taskset -a -p -c 0 "$KPID" >/dev/null
    taskset -c 0 sh -c 'while :; do :; done' &
    spinner=$!
    PIDS+=("$spinner")
    paused() {
        redis-benchmark -p "$PORT" -t ping -n 20000 -c 5 -q >/dev/null 2>&1
        [ "$(bp)" = paused ]
    }
    if wait_for 60 paused; then ok "busy polling pauses on a CPU shared with a busy process"
    else fail "busy polling did not pause on a CPU shared with a busy process"; fi
    kill "$spinner"
    taskset -a -p -c "$cpus" "$KPID" >/dev/null
else
    echo "note [$NAME]: no schedstat or taskset: busy polling's back-off not checked"
fi
cli config set requirepass 'not-in-the-log' >/dev/null
cli -a not-in-the-log --no-auth-warning config set requirepass '' >/dev/null
expect_match "CONFIG SET logs a change" "CONFIG SET hz 20" "$(cat "$T/k.log")"
expect_eq "... but never a password" 0 "$(grep -c not-in-the-log "$T/k.log")"
expect_eq "CONFIG SET memory units" "$(printf 'client-query-buffer-limit\n2097152')" "$(cli config set client-query-buffer-limit 2mb >/dev/null; cli config get client-query-buffer-limit)"
expect_eq "CONFIG SET output limits" "$(printf 'client-output-buffer-limit\nnormal 1073741824 10000000 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60')" "$(cli config set client-output-buffer-limit 'normal 1gb 10m 0' >/dev/null; cli config get client-output-buffer-limit)"
expect_eq "CONFIG RESETSTAT" OK "$(cli config resetstat)"
expect_eq "stats zeroed" "total_commands_processed:1" "$(cli info stats | tr -d '\r' | grep total_commands_processed)"
cli set statkey 1 >/dev/null

# INFO: Redis's sections and fields, plus pool and WAL fields.
info=$(cli info | tr -d '\r')
for f in redis_version kvd_version process_id tcp_port uptime_in_seconds connected_clients maxclients \
         used_memory used_memory_rss loading aof_enabled aof_last_write_status wal_size wal_last_fsync_time \
         wal_last_fsync_usec wal_pending_bytes wal_fsync_failures total_connections_received \
         total_commands_processed instantaneous_ops_per_sec expired_keys keyspace_hits keyspace_misses \
         role pool_gets pool_hits pool_cached_bytes pool_class_256; do
    expect_match "INFO has $f" "^$f:" "$(printf '%s\n' "$info" | grep "^$f:")"
done
expect_match "INFO keyspace" "^db0:keys=1,expires=0" "$(cli info keyspace | tr -d '\r' | grep db0)"
expect_eq "INFO one section" "# Pool" "$(cli info pool | head -1 | tr -d '\r')"
expect_match "INFO commandstats" "cmdstat_set:calls=1," "$(cli info commandstats | tr -d '\r')"
expect_eq "DBSIZE" 1 "$(cli dbsize)"

# COMMAND.
count=$(cli command count)
expect_match "COMMAND COUNT" "^[0-9]+$" "$count"
expect_eq "COMMAND lists every command" "*$count" "$(raw 'COMMAND\r\n' | head -1 | tr -d '\r')"
expect_eq "COMMAND INFO get" "$(printf 'get\n2\nreadonly\nfast\n1\n1\n1\n@read\n@string\n@fast')" "$(cli command info get | head -10)"
expect_match "COMMAND DOCS get" "summary" "$(cli command docs get)"
expect_eq "COMMAND INFO unknown" "" "$(cli command info nosuchcmd)"

# TIME, LASTSAVE, BGREWRITEAOF.
t0=$(date +%s)
t=$(cli time | head -1)
expect_between "TIME is now" "$t0" "$(date +%s)" "$t"
expect_match "LASTSAVE" "^[0-9]{10}$" "$(cli lastsave)"
expect_eq "BGREWRITEAOF starts a compaction" "Background append only file rewriting started" "$(cli bgrewriteaof)"

# SCAN returns every key exactly as KEYS does, with MATCH/COUNT/TYPE.
cli flushall >/dev/null
awk 'BEGIN { for (i = 0; i < 2000; i++) printf "SET user:%d %d\r\nSET item:%d %d\r\n", i, i, i, i }' |
    timeout 20 nc -N 127.0.0.1 "$PORT" >/dev/null
expect_eq "4000 keys" 4000 "$(cli dbsize)"
scan_all() { # extra args
    local cursor=0 out
    while :; do
        out=$(cli scan "$cursor" "$@")
        cursor=$(printf '%s\n' "$out" | head -1)
        printf '%s\n' "$out" | tail -n +2
        [ "$cursor" == 0 ] && break
    done
}
expect_eq "SCAN visits every key" 4000 "$(scan_all COUNT 100 | sort -u | grep -c .)"
expect_eq "SCAN MATCH" 2000 "$(scan_all MATCH 'user:*' COUNT 50 | sort -u | grep -c '^user:')"
expect_eq "SCAN TYPE string" 4000 "$(scan_all TYPE string COUNT 1000 | sort -u | grep -c .)"
expect_eq "SCAN TYPE list finds none" 0 "$(scan_all TYPE list COUNT 1000 | grep -c .)"
expect_eq "KEYS pattern" 10 "$(cli keys 'user:1?' | grep -c . ; true)"
expect_eq "KEYS with a class" "user:15" "$(cli keys 'user:1[5]')"
expect_match "RANDOMKEY" "^(user|item):[0-9]+$" "$(cli randomkey)"

# Expiry: lazy on access, and the active cycle removes keys nobody reads.
# The keys are set and counted in one pipeline, so INFO runs right after
# the SETs however loaded the machine is, with a second of margin before
# the first TTL; the GET waits until that TTL has surely passed.
cli flushall >/dev/null
t0=$(now_ms)
out=$({ for i in $(seq 1 200); do printf 'SET t%d v PX 2000\r\n' "$i"; done
        printf 'SET lazy v PX 1000\r\nSET keep v\r\nINFO keyspace\r\n'; } |
      timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r')
t1=$(now_ms)
expect_eq "keys with TTLs counted (the pipeline took $((t1 - t0)) ms)" "$(printf 'db0:keys=202,expires=201')" \
    "$(printf '%s\n' "$out" | grep db0 | cut -d, -f1,2)"
wait_for 30 '[ "$(now_ms)" -gt $((t1 + 1010)) ]'
expect_eq "lazy expiry on GET" "" "$(cli get lazy)"
wait_for 60 '[ "$(cli dbsize)" == 1 ]'
expect_eq "active expiry removed the rest" 1 "$(cli dbsize)"
expect_eq "expired_keys counted" "expired_keys:201" "$(cli info stats | tr -d '\r' | grep expired_keys)"
expect_eq "expiry deletions are logged" 201 "$(cat "$DIR"/kvd.incr.*.jsonl | grep -c '"op":"del"')"
# INFO keyspace estimates the mean TTL from the keys active expiry samples.
for i in $(seq 1 20); do printf 'SET avg%d v EX 1000\r\n' "$i"; done | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
wait_for 30 '[ "$(cli info keyspace | tr -d "\r" | grep -o "avg_ttl=[0-9]*" | cut -d= -f2)" -gt 0 ]'
avg=$(cli info keyspace | tr -d '\r' | grep -o 'avg_ttl=[0-9]*' | cut -d= -f2)
expect_eq "avg_ttl estimates the TTLs (1000 s; got $avg ms)" 1 "$(( avg > 900000 && avg <= 1000000 ))"
mem() { cli info memory | tr -d '\r' | grep "^$1:" | cut -d: -f2; }
expect_eq "used_memory_peak is at least used_memory" 1 "$(( $(mem used_memory_peak) >= $(mem used_memory) ))"
# COMMAND LIST / GETKEYS, INFO's errorstats and commandstats' rejected calls
expect_eq "COMMAND LIST FILTERBY ACLCAT bitmap" "bitcount bitfield bitfield_ro bitop bitpos getbit setbit" \
    "$(cli command list filterby aclcat bitmap | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "COMMAND LIST FILTERBY PATTERN config*" "config config|get config|help config|resetstat config|rewrite config|set" \
    "$(cli command list filterby pattern 'config*' | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "COMMAND GETKEYS mset" "a b" "$(cli command getkeys mset a 1 b 2 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "COMMAND GETKEYS bitop" "d a b" "$(cli command getkeys bitop and d a b | tr '\n' ' ' | sed 's/ $//')"
expect_eq "COMMAND GETKEYS of no keys" "ERR The command has no key arguments" "$(cli command getkeys ping x)"
expect_eq "COMMAND GETKEYS bad arity" "ERR Invalid number of arguments specified for command" "$(cli command getkeys set a)"
cli config resetstat >/dev/null
cli get >/dev/null; cli set s abc >/dev/null; cli incr s >/dev/null
expect_match "commandstats: rejected and failed calls apart" "cmdstat_get:calls=0,.*rejected_calls=1,failed_calls=0" "$(cli info commandstats | tr -d '\r')"
expect_match "commandstats: a failed call" "cmdstat_incr:calls=1,.*rejected_calls=0,failed_calls=1" "$(cli info commandstats | tr -d '\r')"
expect_match "errorstats" "errorstat_ERR:count=2" "$(cli info errorstats | tr -d '\r')"
expect_match "INFO replication: master_replid" "master_replid:[0-9a-f]{40}" "$(cli info replication | tr -d '\r')"
expect_match "INFO memory: total_system_memory" "total_system_memory:[1-9][0-9]*" "$(cli info memory | tr -d '\r')"
# SLOWLOG: every command over the threshold, arguments cut at 32 and 128
# bytes as Redis, passwords redacted
cli config set slowlog-log-slower-than 0 >/dev/null
cli slowlog reset >/dev/null
cli set slowkey "$(head -c 200 /dev/zero | tr '\0' a)" >/dev/null
cli auth default s3cr3t >/dev/null 2>&1
cli mset $(seq 1 40) >/dev/null
log=$(cli slowlog get 3)
expect_match "SLOWLOG: 33 arguments cut to 32" "\.\.\. \(10 more arguments\)" "$log"
expect_match "SLOWLOG: AUTH's arguments redacted" "auth\.\(redacted\)\.\(redacted\)" "$(tr '\n' '.' <<<"$log")"
expect_match "SLOWLOG: a long value cut" "a{128}\.\.\. \(72 more bytes\)" "$log"
cli config set slowlog-log-slower-than -1 >/dev/null
expect_eq "SLOWLOG GET -1 and LEN agree" "$(cli slowlog len)" "$(cli slowlog get -1 | grep -c '^127.0.0.1:')"
cli slowlog reset >/dev/null
cli get k >/dev/null
expect_eq "slowlog-log-slower-than -1: nothing logged" "0" "$(cli slowlog len)"
cli config set slowlog-log-slower-than 10000 >/dev/null
expect_eq "SLOWLOG GET -2" "ERR count should be greater than or equal to -1" "$(cli slowlog get -2)"
# LATENCY: off by default, as Redis
expect_eq "LATENCY LATEST with the monitor off" "" "$(cli latency latest)"
expect_match "LATENCY DOCTOR says it is off" "latency-monitor-threshold is 0" "$(cli latency doctor)"
cli config set latency-monitor-threshold 1 >/dev/null
expect_match "LATENCY DOCTOR with the monitor on" "or more since kvd started" "$(cli latency doctor)"
expect_eq "LATENCY RESET" "$(cli latency latest | grep -c '^[a-z]')" "$(cli latency reset)"
expect_eq "LATENCY HISTORY of no event" "" "$(cli latency history nosuchevent)"
cli config set latency-monitor-threshold 0 >/dev/null
# CLIENT KILL by ID, USER and MAXAGE; the killed connection is closed
exec {kfd}<>/dev/tcp/127.0.0.1/"$PORT"
printf 'CLIENT ID\r\n' >&"$kfd"
IFS= read -r -t 10 kid <&"$kfd"
kid=${kid#:}; kid=${kid%$'\r'}
expect_eq "CLIENT KILL ID of another connection" "1" "$(cli client kill id "$kid")"
printf 'PING\r\n' >&"$kfd" 2>/dev/null
line=
IFS= read -r -t 10 line <&"$kfd"
expect_eq "... it is closed" "" "$line"
exec {kfd}>&-
expect_eq "CLIENT KILL USER default SKIPME yes: nobody else" "0" "$(cli client kill user default skipme yes)"
expect_eq "CLIENT KILL MAXAGE far: nobody" "0" "$(cli client kill maxage 100000)"
expect_eq "CLIENT KILL addr: no such client" "ERR No such client" "$(cli client kill 10.9.8.7:6)"
exec {kfd}<>/dev/tcp/127.0.0.1/"$PORT"
printf 'CLIENT ID\r\n' >&"$kfd"
IFS= read -r -t 10 kid <&"$kfd"
kid=${kid#:}; kid=${kid%$'\r'}
printf 'CLIENT KILL ID %s SKIPME no\r\nPING\r\n' "$kid" >&"$kfd"
IFS= read -r -t 10 line <&"$kfd"
expect_eq "CLIENT KILL of itself (SKIPME no): the reply, then closed" $':1\r' "$line"
line=
IFS= read -r -t 10 line <&"$kfd"
expect_eq "... no reply to what follows" "" "$line"
exec {kfd}>&-
# MEMORY STATS / DOCTOR
stats=$(cli memory stats | paste - - | tr '\t' ' ')
expect_match "MEMORY STATS: total.allocated" "^total\.allocated [1-9][0-9]*$" "$(grep '^total.allocated' <<<"$stats")"
expect_eq "MEMORY STATS: keys.count is DBSIZE" "keys.count $(cli dbsize)" "$(grep '^keys.count' <<<"$stats")"
expect_match "MEMORY STATS: dataset.percentage is a number" "^dataset\.percentage [0-9.]+$" "$(grep '^dataset.percentage' <<<"$stats")"
expect_match "MEMORY DOCTOR answers in words" "[a-z]" "$(cli memory doctor)"
finish
