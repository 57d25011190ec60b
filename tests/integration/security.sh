#!/usr/bin/env bash
# What an unauthenticated client can cost, and a password that means what
# it says: with requirepass set, a client that has not authenticated gets
# Redis's small limits (10 arguments of 16 KiB, 1 KiB of unread replies)
# and kvd's memory does not move however it tries; a NUL byte in a
# password is refused rather than cutting it short; a failed AUTH keeps
# an authenticated connection authenticated; the password on kvd's
# command line does not stay readable in /proc/PID/cmdline.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip [$NAME]: $PY not installed"; exit 77; }

# The peak resident set: what the attack took at its worst, not after.
peak_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

start_kvd a --requirepass 'Str0ng-pw' --maxclients 1000 || { fail "start a"; finish; }

# ---- unauthenticated limits, with exact errors ----
expect_eq "a huge array header before AUTH" "-ERR Protocol error: unauthenticated multibulk length" \
    "$(raw '*1000000\r\n' | tr -d '\r')"
expect_eq "a huge bulk before AUTH" "-ERR Protocol error: unauthenticated bulk length" \
    "$(raw '*2\r\n$4\r\nAUTH\r\n$100000000\r\nxx' | tr -d '\r')"
expect_eq "10 arguments are still fine" "-WRONGPASS invalid username-password pair or user is disabled." \
    "$(raw '*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$4\r\npass\r\n' | tr -d '\r')"
big=$(head -c 20000 /dev/zero | tr '\0' x)
expect_eq "a 20 KB inline line before AUTH: NOAUTH (as Redis)" "-NOAUTH Authentication required." \
    "$(printf 'PING %s\r\n' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r')"
big=$(head -c 70000 /dev/zero | tr '\0' x)
expect_eq "a 70 KB inline line before AUTH" "-ERR Protocol error: too big inline request" \
    "$(printf '%s\r\n' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r')"
# After AUTH the normal limits apply on the same connection.
out=$(printf 'AUTH Str0ng-pw\r\n*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$100000\r\n%s\r\nSTRLEN big\r\n' \
    "$(head -c 100000 /dev/zero | tr '\0' v)" | timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r' | tr '\n' ' ')
expect_eq "authenticated: a 100 KB value" "+OK +OK :100000 " "$out"

# ---- memory: hostile unauthenticated clients ----
before=$(peak_kb "$KPID")
cat >"$T/hostile.py" <<'EOF'
import socket, sys, threading
port = int(sys.argv[1])
results = []

def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s

def pump(s, header, total, chunk=1 << 20):
    """Send header then up to total bytes; report how far it got."""
    sent = 0
    try:
        s.sendall(header)
        block = b"x" * chunk
        while sent < total:
            s.sendall(block)
            sent += chunk
    except OSError:
        pass
    return sent

def bulk_client(i):
    s = conn()
    sent = pump(s, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$262144000\r\n", 250 << 20)
    results.append(("bulk", sent))
    s.close()

def array_client(i):
    s = conn()
    sent = pump(s, b"*1000000\r\n", 100 << 20)
    results.append(("array", sent))
    s.close()

def deaf_client(i):
    # Never reads its NOAUTH errors.
    s = conn()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    line = b"GET k\r\n" * 10000
    sent = 0
    try:
        while sent < (64 << 20):
            s.sendall(line)
            sent += len(line)
    except OSError:
        pass
    results.append(("deaf", sent))
    s.close()

held = []
def wordy_client(i):
    # One inline line of 8000 words (under the inline limit), then stay
    # connected: what the connection keeps must not grow with the words.
    s = conn()
    s.sendall(b"a " * 8000 + b"\r\n")
    s.recv(100)
    held.append(s)
    results.append(("wordy", 0))

threads = [threading.Thread(target=f, args=(i,)) for i in range(4) for f in (bulk_client, array_client, deaf_client)]
threads += [threading.Thread(target=wordy_client, args=(i,)) for i in range(200)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
for kind, sent in sorted(results):
    print(kind, sent)
print("ready")
sys.stdout.flush()
# Keep the wordy connections open while the shell reads the peak RSS.
import os, time
deadline = time.time() + 120
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.05)
EOF
"$PY" "$T/hostile.py" "$PORT" "$T/done" >"$T/hostile.out" 2>&1 &
hostile=$!
wait_for 200 'grep -q ready "$T/hostile.out"' || fail "the hostile clients did not finish: $(tail -3 "$T/hostile.out")"
after=$(peak_kb "$KPID")
expect_eq "200 connections holding an 8000-word request's worth of parser" 200 "$(grep -c '^wordy' "$T/hostile.out")"
touch "$T/done"
wait "$hostile"
grow=$(( (after - before) / 1024 ))
# The deaf clients are closed once 1 KiB of replies waits for them; the
# others got their protocol error at once, and what they sent after it
# was read and dropped (kvd lingers so that the error is not lost).
expect_eq "the clients that never read were closed" 4 "$(awk '$1 == "deaf" && $2 < 64 * 1048576 {n++} END {print n+0}' "$T/hostile.out")"
# (Under ASan freed buffers sit in its quarantine: a wider bound there.
# Without the limits the growth is over 1000 MB.)
bound=16
ldd "$KVD" 2>/dev/null | grep -q libasan && bound=128
[ ${#VG[@]} -gt 0 ] && bound=128
expect_between "peak RSS growth from 212 hostile unauthenticated clients sending 1.4 GB (MB)" 0 "$bound" "$grow"
expect_eq "kvd still answers" PONG "$(cli -a Str0ng-pw --no-auth-warning ping)"
expect_eq "and kept nothing of theirs" "" "$(cli -a Str0ng-pw --no-auth-warning get k)"

# ---- a failed AUTH keeps the connection authenticated (as Redis) ----
out=$(printf 'AUTH Str0ng-pw\r\nAUTH wrong\r\nPING\r\nHELLO 2 AUTH default wrong\r\nPING\r\n' |
    timeout 10 nc -N 127.0.0.1 "$PORT" | tr -d '\r' | tr '\n' ' ')
expect_eq "AUTH right, AUTH wrong, PING" \
    "+OK -WRONGPASS invalid username-password pair or user is disabled. +PONG -WRONGPASS invalid username-password pair or user is disabled. +PONG " "$out"

# ---- the password does not stay on the command line ----
if [ ${#VG[@]} -eq 0 ]; then
    cmdline=$(tr '\0' ' ' <"/proc/$KPID/cmdline")
    expect_eq "cmdline does not show the password" 0 "$(grep -c 'Str0ng-pw' <<<"$cmdline")"
    expect_match "cmdline shows kvd and where it listens" "^kvd 127\\.0\\.0\\.1:$PORT *$" "$cmdline"
    expect_match "ps shows the title" "kvd 127\\.0\\.0\\.1:$PORT" "$(ps -o args= -p "$KPID")"
fi
expect_eq "--help does not suggest a password on the command line" 0 "$("$KVD" --help | grep -c -- '--requirepass')"
stop_kvd

# ---- NUL bytes in a password: refused, never cut short ----
printf 'port 0\nrequirepass "\\x00Str0ngRandomPassword"\n' >"$T/nul.conf"
out=$("$KVD" --test-config "$T/nul.conf" 2>&1); rc=$?
expect_eq "--test-config refuses a NUL in requirepass" 1 "$rc"
expect_match "and says why" "nul.conf line 2: 'requirepass': the value holds a NUL byte" "$out"
out=$(timeout 20 "$KVD" "$T/nul.conf" --dir "$T/n" 2>&1); rc=$?
expect_eq "kvd does not start with it" 1 "$rc"
start_kvd b || fail "start b"
out=$(raw '*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$5\r\n\0abcd\r\n' | tr -d '\r')
expect_match "CONFIG SET requirepass with a NUL is refused" "^-ERR CONFIG SET failed \\(possibly related to argument 'requirepass'\\) - the value holds a NUL byte" "$out"
expect_eq "and nothing changed" "" "$(cli config get requirepass | tail -1)"
# ACL passwords are binary-safe: a NUL is part of the password.
expect_eq "ACL SETUSER with a NUL in the password" "+OK" \
    "$(raw '*5\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n$3\r\nnul\r\n$2\r\non\r\n$5\r\n>a\0bc\r\n' | tr -d '\r')"
cli acl setuser nul '+@all' '~*' >/dev/null
expect_eq "AUTH with the whole password" "+OK" \
    "$(raw '*3\r\n$4\r\nAUTH\r\n$3\r\nnul\r\n$4\r\na\0bc\r\n' | tr -d '\r')"
expect_eq "AUTH with the part before the NUL fails" "-WRONGPASS invalid username-password pair or user is disabled." \
    "$(raw '*3\r\n$4\r\nAUTH\r\n$3\r\nnul\r\n$1\r\na\r\n' | tr -d '\r')"
stop_kvd
finish
