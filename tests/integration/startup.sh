#!/usr/bin/env bash
# kvd's command line and startup: --version, --help, config errors, the
# banner, loading a data directory (repairing a torn tail, refusing
# mid-file corruption until kvd-check-wal --fix), exit codes, daemonize
# with a pidfile, SIGTERM and SIGHUP.
. "$(dirname "$0")/lib.sh"

expect_match "--version" "^kvd v=[0-9]+\.[0-9]+\.[0-9]+" "$("$KVD" --version)"
expect_match "--help" "Usage: kvd" "$("$KVD" --help)"

printf 'dir %s/d\nappendfsync sometimes\n' "$T" >"$T/bad.conf"
out=$("$KVD" --test-config "$T/bad.conf" 2>&1); rc=$?
expect_eq "bad config exits 1" 1 $rc
expect_match "bad config names the line" "bad.conf line 2: 'appendfsync'" "$out"
out=$("$KVD" --test-config --nosuch 1 2>&1); rc=$?
expect_eq "unknown option exits 1" 1 $rc
expect_match "unknown option named" "unknown directive 'nosuch'" "$out"
out=$("$KVD" --test-config "$S/conf/kvd.conf" --dir "$T/d" --appendfsync always 2>&1); rc=$?
expect_eq "shipped conf/kvd.conf plus overrides accepted" 0 $rc

# A fresh data dir is created 0700; the WAL 0600.
start_kvd d || fail "start on an empty dir"
expect_eq "empty dir: no keys" 0 "$(cli dbsize)"
expect_match "banner: version, pid, port" "kvd [0-9.]+ starting: pid $KPID, port $PORT" "$(cat "$T/d.log")"
expect_eq "data dir is 0700" 700 "$(stat -c %a "$T/d")"
expect_eq "WAL is 0600" 600 "$(stat -c %a "$T/d/kvd.incr.1.jsonl")"
stop_kvd; expect_eq "SIGTERM exits 0" 0 "$RC"
expect_match "shutdown logged" "received SIGTERM: shutting down" "$(cat "$T/d.log")"

# Load 1000 entries with a torn last line.
"$WALGEN" "$T/d/kvd.incr.1.jsonl" 1000 100
good=$(stat -c %s "$T/d/kvd.incr.1.jsonl")
printf '{"seq":1001,"op":"set","ke' >>"$T/d/kvd.incr.1.jsonl"
restart_kvd d || fail "restart with a torn tail"
expect_eq "all complete entries loaded" 1000 "$(cli dbsize)"
expect_eq "a loaded value" "$(printf 'hijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefg' | head -c 100)" "$(cli get key:7)"
log=$(cat "$T/d.log")
expect_match "replay figures logged" "1000 entries applied.* 1000 keys loaded" "$log"
expect_match "torn tail cut and logged" "cut a torn tail of 26 bytes at offset $good" "$log"
expect_eq "file cut back to the last good line" "$good" "$(stat -c %s "$T/d/kvd.incr.1.jsonl")"
expect_eq "INFO reports the cut" "wal_truncated_bytes_at_load:26" "$(cli info persistence | tr -d '\r' | grep wal_truncated)"
stop_kvd; expect_eq "SIGTERM exits 0" 0 "$RC"

# Corruption before the end: refuse to start, name the place, point at the tool.
off=$(head -n 10 "$T/d/kvd.incr.1.jsonl" | wc -c)
printf 'Z' | dd of="$T/d/kvd.incr.1.jsonl" bs=1 seek=$((off + 5)) conv=notrunc 2>/dev/null
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/d" 2>&1); rc=$?
expect_eq "mid-file corruption refuses to start (exit 1)" 1 $rc
expect_match "error names file, line and offset" "$T/d/kvd.incr.1.jsonl is damaged at line 11 \\(byte offset $off\\)" "$out"
expect_match "error points at the repair tool" "kvd-check-wal --fix" "$out"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/d" --daemonize yes --logfile "$T/dd.log" 2>&1); rc=$?
expect_eq "daemonized, the same refusal: the parent exits 1" 1 $rc
expect_match "... saying the daemon stopped, and where to look" "stopped before it was ready to accept connections: see $T/dd.log" "$out"
wait_for 20 "grep -q 'is damaged at line 11' '$T/dd.log'"
expect_match "... and the log says why" "is damaged at line 11" "$(cat "$T/dd.log")"
"$CHECKWAL" --fix "$T/d/kvd.incr.1.jsonl" >/dev/null
restart_kvd d || fail "start after --fix"
expect_eq "keeps the lines before the damage" 10 "$(cli dbsize)"
stop_kvd; expect_eq "SIGTERM exits 0" 0 "$RC"

# A logfile or pidfile that is one of the data dir's own files: refused
# before anything is written (a refused start wrote its refusal there).
man=$(md5sum <"$T/d/kvd.manifest")
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/d" --logfile "$T/d/kvd.manifest" 2>&1); rc=$?
expect_eq "logfile = the manifest: exit 1" 1 $rc
expect_match "... saying so" "logfile $T/d/kvd.manifest is one of the files kvd keeps in the data directory" "$out"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/d" --pidfile "$T/d/../d/kvd.incr.1.jsonl" 2>&1); rc=$?
expect_eq "pidfile = a segment (another spelling): exit 1" 1 $rc
expect_eq "... the manifest untouched" "$man" "$(md5sum <"$T/d/kvd.manifest")"
# ... by any other name: a hard link elsewhere (checked by inode), and a
# file that holds another kvd's WAL; a unix socket path that is a file.
seg=$(md5sum <"$T/d/kvd.incr.1.jsonl")
ln -f "$T/d/kvd.incr.1.jsonl" "$T/seg-link"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/d" --pidfile "$T/seg-link" 2>&1); rc=$?
expect_eq "pidfile = a hard link to a segment: exit 1" 1 $rc
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/s.sock" --dir "$T/other" --logfile "$T/seg-link" 2>&1); rc=$?
expect_eq "logfile = another dir's segment: exit 1" 1 $rc
expect_match "... saying so" "holds a kvd WAL or manifest" "$out"
rm -f "$T/seg-link"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/d/kvd.incr.1.jsonl" --dir "$T/other" 2>&1); rc=$?
expect_eq "unixsocket = a file that is not a socket: exit 1" 1 $rc
expect_match "... saying so" "is not a socket" "$out"
expect_eq "... the segment untouched" "$seg" "$(md5sum <"$T/d/kvd.incr.1.jsonl")"
start_kvd u --unixsocket "$T/u.sock" || fail "start u"
out=$(timeout 20 "$KVD" --port 0 --unixsocket "$T/u.sock" --dir "$T/other" 2>&1); rc=$?
expect_eq "unixsocket = another server's live socket: exit 1" 1 $rc
expect_match "... saying so" "another server is listening there" "$out"
expect_eq "... and that server still answers on it" PONG "$(timeout 10 redis-cli -s "$T/u.sock" ping)"
stop_kvd

# Cannot listen: exit 1.
start_kvd e || fail "start e"
out=$(timeout 20 "$KVD" --port "$PORT" --dir "$T/f" --pidfile "$T/f.pid" 2>&1); rc=$?
expect_eq "port in use exits 1" 1 $rc
expect_match "port in use explained" "cannot listen on 127.0.0.1:$PORT" "$out"
expect_eq "a kvd that cannot listen removes its pidfile" 0 "$([ -e "$T/f.pid" ] && echo 1 || echo 0)"
# Daemonized without a logfile, the failure (after the fork) is still told
# on the terminal, and the parent exits 1.
out=$(timeout 20 "$KVD" --port "$PORT" --dir "$T/f" --daemonize yes 2>&1); rc=$?
expect_eq "daemonized, no logfile, port in use: the parent exits 1" 1 $rc
expect_match "... and the daemon's log says why on the terminal" "cannot listen on 127.0.0.1:$PORT" "$out"
expect_match "... and that it stopped" "stopped before it was ready to accept connections$" "$out"
stop_kvd
# ... and a start that succeeds says nothing there, as Redis's.
for try in 1 2 3 4 5; do
    P=$(random_port)
    out=$(timeout 60 "$KVD" --port "$P" --dir "$T/h" --daemonize yes --pidfile "$T/h.pid" 2>&1); rc=$?
    [[ "$out" == *"address already in use"* ]] || break
done
[ -s "$T/h.pid" ] && PIDS+=("$(cat "$T/h.pid")")
expect_eq "daemonized, no logfile, started: the parent exits 0" 0 $rc
expect_eq "... printing nothing" "" "$out"
expect_eq "... and the daemon answers" PONG "$(timeout 10 redis-cli -p "$P" ping)"
timeout 10 redis-cli -p "$P" shutdown >/dev/null 2>&1
wait_for 60 '[ ! -e "$T/h.pid" ]'
expect_eq "... and its shutdown removes its pidfile" 0 "$([ -e "$T/h.pid" ] && echo 1 || echo 0)"

# Daemonize with a pidfile; SIGHUP reopens the log; SIGTERM removes the pidfile.
for try in 1 2 3 4 5; do
    P=$(random_port)
    rm -f "$T/g.log"
    "$KVD" --port "$P" --dir "$T/g" --daemonize yes --pidfile "$T/kvd.pid" --logfile "$T/g.log"; rc=$?
    wait_for 60 '{ [ -s "$T/kvd.pid" ] && listens "$P" "$(cat "$T/kvd.pid")" && [ "$(timeout 2 redis-cli -p $P ping 2>/dev/null)" == PONG ]; } || grep -q "cannot listen" "$T/g.log" 2>/dev/null'
    grep -q "address already in use" "$T/g.log" 2>/dev/null || break
    wait_for 30 '[ ! -e "$T/kvd.pid" ]'
done
expect_eq "daemonize: the parent exits 0" 0 $rc
wait_for 60 '[ -s "$T/kvd.pid" ]'
dpid=$(cat "$T/kvd.pid" 2>/dev/null)
PIDS+=("$dpid")
expect_eq "daemon answers" PONG "$(timeout 2 redis-cli -p $P ping)"
expect_match "pidfile holds the daemon's pid" "^[0-9]+$" "$dpid"
expect_eq "the data dir's lock file names the daemon, not its parent" "$dpid" "$(cat "$T/g/kvd.lock" 2>/dev/null)"
expect_eq "the daemon is not our child" 0 "$([ "$(ps -o ppid= -p "$dpid" | tr -d " ")" == "$$" ] && echo 1 || echo 0)"
mv "$T/g.log" "$T/g.log.1"
kill -HUP "$dpid"
wait_for 30 '[ -s "$T/g.log" ]'
expect_match "SIGHUP reopened the log file" "log file reopened" "$(cat "$T/g.log" 2>/dev/null)"
kill -TERM "$dpid"
wait_for 60 '! kill -0 "$dpid" 2>/dev/null'
expect_eq "daemon exited on SIGTERM" 1 "$(kill -0 "$dpid" 2>/dev/null && echo 0 || echo 1)"
expect_eq "pidfile removed" 0 "$([ -e "$T/kvd.pid" ] && echo 1 || echo 0)"
# CONFIG REWRITE: the file says what CONFIG SET and ACL SETUSER changed,
# keeps its comments and the way it wrote what did not change, and loads.
cp "$S/conf/kvd.conf" "$T/rw.conf"
chmod 640 "$T/rw.conf"
# (start_kvd puts its directives before the file: started by hand.)
P2=$(random_port)
"$KVD" "$T/rw.conf" --bind 127.0.0.1 --port "$P2" --dir "$T/rwd" --logfile "$T/rw.log" &
KPID=$!
PIDS+=("$KPID")
wait_ready "$P2" "$KPID" || fail "start with a conf file"
expect_eq "CONFIG SET" "OK" "$(timeout 10 redis-cli -p "$P2" config set maxmemory 100mb hz 20)"
timeout 10 redis-cli -p "$P2" acl setuser app on '>pw' '~app:*' +@read >/dev/null
expect_eq "CONFIG REWRITE" "OK" "$(timeout 10 redis-cli -p "$P2" config rewrite)"
expect_eq "the comments are all there" "$(grep -c '^#' "$S/conf/kvd.conf")" "$(grep -c '^#' "$T/rw.conf" | awk '{print $1 - 1}')"
expect_match "maxmemory rewritten in place, in Redis's units" "^maxmemory 100mb$" "$(grep '^maxmemory ' "$T/rw.conf")"
expect_eq "unchanged lines kept as written" "proto-max-bulk-len 512mb" "$(grep '^proto-max-bulk-len' "$T/rw.conf")"
expect_match "the users written" "^user app on #[0-9a-f]{64} ~app:\* resetchannels -@all \+@read$" "$(grep '^user app' "$T/rw.conf")"
expect_eq "the file's mode kept" "640" "$(stat -c %a "$T/rw.conf")"
cp "$T/rw.conf" "$T/rw.conf.saved"
rm "$T/rw.conf"
expect_eq "CONFIG REWRITE after the file was deleted: written anew" "OK" "$(timeout 10 redis-cli -p "$P2" config rewrite)"
expect_match "... with what differs from the defaults" "^maxmemory 100mb$" "$(grep '^maxmemory ' "$T/rw.conf")"
cp "$T/rw.conf.saved" "$T/rw.conf"
stop_kvd
expect_eq "the rewritten file is valid" "configuration OK" "$("$KVD" --test-config "$T/rw.conf" 2>&1)"
"$KVD" "$T/rw.conf" --bind 127.0.0.1 --logfile "$T/rw2.log" &
KPID=$!
PIDS+=("$KPID")
wait_ready "$P2" "$KPID" || fail "restart from the rewritten file"
expect_eq "... with the values" "104857600" "$(timeout 10 redis-cli -p "$P2" config get maxmemory | tail -1)"
expect_match "... and the users" "user app" "$(timeout 10 redis-cli -p "$P2" acl list)"
stop_kvd
expect_eq "CONFIG REWRITE without a conf file" "ERR The server is running without a config file" \
    "$(start_kvd norw >/dev/null 2>&1; cli config rewrite; stop_kvd)"
finish
