#!/usr/bin/env bash
# TLS (tls-port) against a throwaway CA made here with openssl: startup
# errors that name the file; verified connections from redis-cli,
# redis-benchmark, kvd-cli and libkvdclient (tests/check_client, its tls
# case) sharing data with the plain port; an untrusted server certificate
# refused; tls-auth-clients yes and optional; garbage, plain RESP, a
# truncated handshake and a silent client on the TLS port (closed, bounded
# by tls-handshake-timeout, no memory kept); QUIT and protocol errors
# (reply, close_notify, then FIN); requirepass, maxclients and the output
# limits for TLS clients; protocol versions.
. "$(dirname "$0")/lib.sh"

for tool in openssl redis-cli redis-benchmark nc; do
    command -v "$tool" >/dev/null || { echo "skip [$NAME]: $tool not installed"; exit 77; }
done
ASAN=0
ldd "$KVD" 2>/dev/null | grep -q libasan && ASAN=1

# ---- the PKI: a CA, a server certificate for 127.0.0.1 and localhost, a
# client certificate, and a CA that signed none of them ----
C=$T/pki
mkdir -p "$C"
newca() { # name cn
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
        -keyout "$C/$1.key" -out "$C/$1.crt" 2>>"$C/openssl.log"
}
newcert() { # name cn ca [extensions]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
        -keyout "$C/$1.key" -out "$C/$1.csr" 2>>"$C/openssl.log" &&
    printf '%s\n' "${4:-basicConstraints=CA:FALSE}" >"$C/$1.ext" &&
    openssl x509 -req -in "$C/$1.csr" -CA "$C/$3.crt" -CAkey "$C/$3.key" -CAcreateserial -days 2 \
        -extfile "$C/$1.ext" -out "$C/$1.crt" 2>>"$C/openssl.log"
}
newca ca "kvd test CA" && newca other-ca "kvd untrusted CA" &&
    newcert server localhost ca "subjectAltName=IP:127.0.0.1,DNS:localhost" &&
    newcert client "kvd test client" ca "extendedKeyUsage=clientAuth" &&
    newcert stranger "signed by the other CA" other-ca "extendedKeyUsage=clientAuth" ||
    { cat "$C/openssl.log"; fail "cannot make the certificates"; finish; }

TLS_ARGS=(--tls-cert-file "$C/server.crt" --tls-key-file "$C/server.key" --tls-ca-cert-file "$C/ca.crt")

# start_tls NAME [args]: kvd with a plain port (PORT) and a tls-port
# (TPORT), verbose log; another TLS port if that one was taken.
start_tls() {
    local name=$1 try; shift
    for try in 1 2 3 4 5; do
        TPORT=$(random_port)
        start_kvd "$name" --tls-port "$TPORT" "${TLS_ARGS[@]}" --loglevel verbose "$@" && return 0
        grep -qi "address already in use" "$T/$name.log" || return 1
    done
    return 1
}

tcli() { timeout 30 redis-cli --tls --cacert "$C/ca.crt" -p "$TPORT" "$@"; }
info_field() { cli info "${2:-tls}" | tr -d '\r' | grep "^$1:" | cut -d: -f2; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$KPID/status"; }

# ---- startup: what does not load stops kvd, naming the file ----
startup_err() { # what expected-regex args...
    local what=$1 re=$2 out rc; shift 2
    out=$("$KVD" --port 0 --dir "$T/never" --tls-port 1 "$@" 2>&1); rc=$?
    expect_eq "$what: exit 1" 1 "$rc"
    expect_match "$what: the message says why" "$re" "$out"
}
startup_err "missing certificate" "tls-cert-file $T/nosuch.crt: cannot load the certificate: No such file" \
    --tls-cert-file "$T/nosuch.crt" --tls-key-file "$C/server.key" --tls-auth-clients no
startup_err "not a certificate" "tls-cert-file $C/server.csr: cannot load the certificate" \
    --tls-cert-file "$C/server.csr" --tls-key-file "$C/server.key" --tls-auth-clients no
startup_err "the wrong key" "tls-key-file $C/client.key is not the key of tls-cert-file $C/server.crt" \
    --tls-cert-file "$C/server.crt" --tls-key-file "$C/client.key" --tls-auth-clients no
startup_err "no key" "tls-port 1 needs tls-cert-file and tls-key-file" --tls-cert-file "$C/server.crt"
startup_err "client certificates without a CA" "tls-auth-clients is yes, but there is no tls-ca-cert-file" \
    --tls-cert-file "$C/server.crt" --tls-key-file "$C/server.key"
startup_err "an unknown protocol" "tls-protocols: unknown protocol 'SSLv3'" "${TLS_ARGS[@]}" --tls-protocols "SSLv3 TLSv1.2"
startup_err "bad ciphers" "tls-ciphers 'NOSUCHCIPHER'" "${TLS_ARGS[@]}" --tls-ciphers NOSUCHCIPHER
out=$("$KVD" --test-config --tls-port 6390 "${TLS_ARGS[@]}" 2>&1)
expect_eq "--test-config loads the certificates" "configuration OK" "$out"
openssl pkey -in "$C/server.key" -aes256 -passout pass:abcd -out "$T/enc.key" 2>/dev/null
startup_err "an encrypted key (no prompt, even on a terminal)" "tls-key-file $T/enc.key is encrypted with a passphrase" \
    --tls-cert-file "$C/server.crt" --tls-key-file "$T/enc.key" --tls-auth-clients no
if command -v script >/dev/null; then
    out=$(timeout 20 script -qc "$KVD --test-config --tls-port 1 --tls-cert-file $C/server.crt --tls-key-file $T/enc.key --tls-auth-clients no" /dev/null); rc=$?
    expect_match "... and on a terminal it does not wait for a passphrase" "is encrypted with a passphrase" "$out"
fi
startup_err "a missing tls-ca-cert-dir" "tls-ca-cert-dir $T/nodir: No such file or directory" \
    --tls-cert-file "$C/server.crt" --tls-key-file "$C/server.key" --tls-ca-cert-dir "$T/nodir"
startup_err "a tls-ca-cert-dir that is a file" "tls-ca-cert-dir $C/ca.crt: not a directory" \
    --tls-cert-file "$C/server.crt" --tls-key-file "$C/server.key" --tls-ca-cert-dir "$C/ca.crt"

# ---- a kvd with client certificates optional, one with them required ----
start_tls strict --tls-auth-clients yes || fail "start the strict server"
SPORT=$PORT STPORT=$TPORT SKPID=$KPID
start_tls main --tls-auth-clients optional || fail "start the main server"
MPORT=$PORT MTPORT=$TPORT

expect_eq "redis-cli --tls, verified" PONG "$(tcli ping)"
expect_eq "SET over TLS" OK "$(tcli set shared "from tls")"
expect_eq "GET on the plain port" "from tls" "$(cli get shared)"
cli set plain "from plain" >/dev/null
expect_eq "and the other way" "from plain" "$(tcli get plain)"
expect_eq "a client certificate when optional" PONG \
    "$(tcli --cert "$C/client.crt" --key "$C/client.key" ping)"
expect_match "the log names it" "TLS client id=[0-9]+ addr=127.0.0.1:[0-9]+: TLSv1.3, .*client certificate /CN=kvd test client" \
    "$(cat "$T/main.log")"
head -c 2000000 /dev/urandom >"$T/big"
tcli -x set big <"$T/big" >/dev/null
expect_eq "a 2 MB value over TLS" 2000000 "$(cli strlen big)"
tcli --raw get big | head -c 2000000 >"$T/big.back"
expect_eq "and back" 0 "$(cmp -s "$T/big" "$T/big.back"; echo $?)"
out=$(tcli --cacert "$C/other-ca.crt" ping 2>&1)
expect_match "a server certificate from an untrusted CA is refused" "certificate verify failed" "$out"
expect_eq "INFO tls" "$MTPORT optional" "$(info_field tls_port) $(info_field tls_auth_clients)"

# ---- tls-auth-clients yes ----
PORT=$SPORT TPORT=$STPORT
out=$(tcli ping 2>&1)
expect_eq "no client certificate: refused" 0 "$(printf '%s' "$out" | grep -c PONG)"
expect_match "and logged" "TLS handshake failed: peer did not return a certificate" "$(cat "$T/strict.log")"
out=$(tcli --cert "$C/stranger.crt" --key "$C/stranger.key" ping 2>&1)
expect_eq "a client certificate from another CA: refused" 0 "$(printf '%s' "$out" | grep -c PONG)"
expect_match "and logged" "TLS handshake failed: certificate verify failed" "$(cat "$T/strict.log")"
expect_eq "a client certificate from the CA: served" PONG "$(tcli --cert "$C/client.crt" --key "$C/client.key" ping)"
out=$(timeout 120 redis-benchmark --tls --cacert "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" \
    -p "$TPORT" -n 2000 -c 10 -q -t set,get 2>&1)
expect_match "redis-benchmark --tls with a client certificate" "GET: [0-9.]+ requests per second" "$out"
PORT=$MPORT TPORT=$MTPORT

# ---- redis-benchmark and kvd-cli ----
out=$(timeout 120 redis-benchmark --tls --cacert "$C/ca.crt" -p "$TPORT" -n 20000 -c 20 -q -t ping,set,get,incr,mset 2>&1)
expect_match "redis-benchmark --tls SET" "SET: [0-9.]+ requests per second" "$out"
expect_match "redis-benchmark --tls MSET" "MSET \(10 keys\): [0-9.]+ requests per second" "$out"
expect_eq "redis-benchmark --tls saw no errors" 0 "$(printf '%s' "$out" | grep -ci error)"
out=$(timeout 120 redis-benchmark --tls --cacert "$C/ca.crt" -p "$TPORT" -n 20000 -c 20 -P 16 -q -t set,get 2>&1)
expect_match "redis-benchmark --tls -P 16" "GET: [0-9.]+ requests per second" "$out"
KCLI=(timeout 30 "$B/src/kvd-cli" --tls -p "$TPORT")
expect_eq "kvd-cli --tls --cacert" OK "$("${KCLI[@]}" --cacert "$C/ca.crt" set viacli 1)"
expect_eq "kvd-cli --sni localhost" 1 "$("${KCLI[@]}" --cacert "$C/ca.crt" --sni localhost get viacli)"
out=$("${KCLI[@]}" --cacert "$C/ca.crt" --sni db.example.com get viacli 2>&1)
expect_match "kvd-cli: a name the certificate is not for" "certificate verify failed \(hostname mismatch\)" "$out"
out=$("${KCLI[@]}" --cacert "$C/other-ca.crt" get viacli 2>&1); rc=$?
expect_match "kvd-cli: an untrusted server certificate" "TLS handshake: certificate verify failed" "$out"
expect_eq "kvd-cli: and exit 1" 1 "$rc"
expect_eq "kvd-cli --insecure" 1 "$("${KCLI[@]}" --insecure get viacli)"
expect_eq "kvd-cli --cert --key against tls-auth-clients yes" PONG \
    "$("${KCLI[@]}" -p "$STPORT" --cacert "$C/ca.crt" --cert "$C/client.crt" --key "$C/client.key" ping)"
out=$("${KCLI[@]}" -p "$STPORT" --cacert "$C/ca.crt" ping 2>&1)
expect_match "kvd-cli without one" "certificate required" "$out"

# ---- libkvdclient ----
CHECK=$B/tests/check_client
run_check() { # label [runner...]
    local label=$1; shift
    if KVD_PORT=$MPORT KVD_TLS_PORT=$MTPORT KVD_TLS_STRICT_PORT=$STPORT KVD_TLS_DIR=$C "$@" "$CHECK" >"$T/check.out" 2>&1; then
        ok "$label: $(grep -o '[0-9]*%: Checks: [0-9]*, Failures: 0, Errors: 0' "$T/check.out")"
    else
        fail "$label:"; tail -20 "$T/check.out"
    fi
}
if [ -x "$CHECK" ]; then
    run_check "libkvdclient over TLS"
    if command -v valgrind >/dev/null && [ $ASAN = 0 ] && [ ${#VG[@]} = 0 ]; then
        CK_FORK=no KVD_UNDER_VALGRIND=1 run_check "libkvdclient over TLS under valgrind" "$B/libtool" --mode=execute \
            valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
    fi
fi

# ---- QUIT and protocol errors: the reply, close_notify, then FIN ----
sclient() { timeout 30 openssl s_client -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" -ign_eof "$@" 2>/dev/null; }
# The reply lines of s_client's output, without the certificate it dumps
# (whose base64 lines may start with '+').
replies() { sed '/-----BEGIN/,/-----END/d' | tr -d '\r' | grep -E '^([+:$]|-[A-Z])' | xargs; }
out=$(printf 'SET q 1\r\nQUIT\r\nGET q\r\n' | sclient); rc=$?
expect_eq "QUIT over TLS: +OK, and nothing after it" "+OK +OK" "$(printf '%s' "$out" | replies)"
expect_eq "then close_notify (s_client: closed), and the connection ends" "0 1" "$rc $(printf '%s' "$out" | grep -cx closed)"
out=$(printf 'PING\r\n*x\r\nPING\r\n' | sclient); rc=$?
expect_eq "a protocol error over TLS" "+PONG -ERR Protocol error: invalid multibulk length" \
    "$(printf '%s' "$out" | replies)"
expect_eq "closes the same way" "0 1" "$rc $(printf '%s' "$out" | grep -cx closed)"

# ---- what is not TLS costs nothing and closes ----
out=$(printf 'PING\r\n' | timeout 20 nc -N 127.0.0.1 "$TPORT" 2>&1); rc=$?
expect_eq "plain RESP to the TLS port: no reply, closed" "0 0" "$rc $(printf '%s' "$out" | grep -c PONG)"
expect_match "and logged" "TLS handshake failed: (wrong version number|unknown protocol|packet length too long)" \
    "$(cat "$T/main.log")"
garbage() { # n
    local i
    for i in $(seq 1 "$1"); do
        head -c $((RANDOM % 3000 + 1)) /dev/urandom | timeout 20 nc -N 127.0.0.1 "$TPORT" >/dev/null 2>&1
    done
}
garbage 20
fails0=$(info_field tls_handshake_failures)
rss0=$(rss)
garbage 200
rss1=$(rss)
fails1=$(info_field tls_handshake_failures)
expect_eq "200 connections of garbage: each one a failed handshake" 200 "$((fails1 - fails0))"
expect_eq "none of them still open" "0 1" "$(info_field tls_clients_in_handshake) $(info_field connected_clients clients)"
echo "     garbage: VmRSS $rss0 kB before, $rss1 kB after"
# (ASan's quarantine and valgrind's keep freed memory in RSS: there it says little.)
[ $ASAN = 0 ] && [ ${#VG[@]} = 0 ] && expect_eq "RSS did not grow by more than 4 MiB" 1 "$((rss1 - rss0 < 4096))"
expect_eq "and kvd serves TLS as before" PONG "$(tcli ping)"

# ---- a silent client and a truncated handshake: closed at the deadline ----
expect_eq "tls-handshake-timeout is live" OK "$(cli config set tls-handshake-timeout 1000)"
t0=$(now_ms)
exec {silent}<>"/dev/tcp/127.0.0.1/$TPORT"
exec {half}<>"/dev/tcp/127.0.0.1/$TPORT"
# The first 11 bytes of a ClientHello: record header, handshake header,
# version; then nothing.
printf '\x16\x03\x01\x00\xf4\x01\x00\x00\xf0\x03\x03' >&"$half"
expect_eq "others are served meanwhile" PONG "$(tcli ping)"
out=$(timeout 60 cat <&"$half" 2>/dev/null); rc=$?
t1=$(now_ms)
expect_eq "the truncated handshake is closed, nothing sent" "0 []" "$rc [$out]"
expect_between "not before the 1 s deadline, not much after (ms)" 950 30000 $((t1 - t0))
out=$(timeout 60 cat <&"$silent" 2>/dev/null); rc=$?
expect_eq "the silent client too" "0 []" "$rc [$out]"
exec {silent}>&- {half}>&-
expect_match "both counted" "^([2-9]|[1-9][0-9]+)$" "$(info_field tls_handshake_timeouts)"
expect_match "and logged" "no TLS handshake within tls-handshake-timeout \(1000 ms\)" "$(cat "$T/main.log")"
cli config set tls-handshake-timeout 10000 >/dev/null

# ---- requirepass and maxclients apply to TLS clients ----
cli config set requirepass pw >/dev/null
expect_eq "requirepass: NOAUTH over TLS" "NOAUTH Authentication required." "$(tcli get shared)"
expect_eq "AUTH over TLS" "from tls" "$(tcli -a pw --no-auth-warning get shared)"
cli -a pw --no-auth-warning config set requirepass "" >/dev/null
rejected0=$(info_field rejected_connections stats)
cli config set maxclients 1 >/dev/null
exec {holder}<>"/dev/tcp/127.0.0.1/$PORT"
printf 'PING\r\n' >&"$holder"
IFS= read -r -t 30 line <&"$holder"
out=$(tcli ping 2>&1)
expect_eq "maxclients: a TLS client over it is refused" 0 "$(printf '%s' "$out" | grep -c PONG)"
exec {holder}>&-
wait_for 30 '[ "$(cli ping 2>/dev/null)" == PONG ]'
cli config set maxclients 10000 >/dev/null
expect_eq "and counted" 1 "$(( $(info_field rejected_connections stats) > rejected0 ))"

# ---- output limits: a TLS client that never reads is paused, then cut ----
cli set v "$(head -c 10240 /dev/zero | tr '\0' x)" >/dev/null
yes 'GET v' | head -n 200000 | sed 's/$/\r/' >"$T/slow.in"
# Its replies go to a pipe that we hold open and never read.
mkfifo "$T/slow.fifo"
exec {slowfd}<>"$T/slow.fifo"
timeout 120 openssl s_client -quiet -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" <"$T/slow.in" \
    >"$T/slow.fifo" 2>/dev/null &
SLOW=$!
PIDS+=("$SLOW")
slow_omem() { cli client list | grep -o 'omem=[0-9]* .*cmd=get' | cut -d' ' -f1 | cut -d= -f2; }
wait_for 60 '[ "$(slow_omem)" -ge 1048576 ] 2>/dev/null' || fail "the TLS client that does not read did not get going"
expect_match "it is paused, not dropped" "connected_clients:2" "$(cli info clients | tr -d '\r')"
cli config set client-output-buffer-limit "normal 1gb 1mb 1" >/dev/null
wait_for 30 'cli info clients | tr -d "\r" | grep -q connected_clients:1'
expect_match "over the soft limit too long: disconnected" "connected_clients:1" "$(cli info clients | tr -d '\r')"
kill "$SLOW" 2>/dev/null
wait "$SLOW" 2>/dev/null
exec {slowfd}>&-
cli config set client-output-buffer-limit "normal 1gb 64mb 0" >/dev/null

# ---- what TLS sends on its own counts against the output limits ----
# A client that asks for key updates without end and never reads: each
# makes kvd answer with one of its own. Before AUTH it is cut at 1 KiB
# of unread output; after, it is paused at the soft limit.
peak() { awk '/^VmHWM:/ {print $2}' "/proc/$KPID/status"; }
cli config set requirepass pw >/dev/null
before=$(peak)
sent=$(timeout 120 "$B/tests/tlsflood" "$TPORT" 3000000)
expect_match "unauthenticated key-update flood: cut off" "^[0-9]+$" "$sent"
expect_eq "... long before 3000000 updates" 1 "$([ "${sent:-3000000}" -lt 3000000 ] && echo 1 || echo 0)"
expect_match "... and logged" "bytes of output unread before AUTH" "$(cat "$T/main.log")"
cli -a pw --no-auth-warning config set requirepass "" >/dev/null
cli config set client-output-buffer-limit "normal 0 2mb 0" >/dev/null
timeout 120 "$B/tests/tlsflood" "$TPORT" 300000 >/dev/null
grow=$(( ($(peak) - before) / 1024 ))
bound=32
ldd "$KVD" 2>/dev/null | grep -q libasan && bound=256
[ ${#VG[@]} -gt 0 ] && bound=256
expect_between "key-update floods: peak RSS growth (MB)" -1000 "$bound" "$grow"
cli config set client-output-buffer-limit "normal 1gb 64mb 0" >/dev/null

# ---- protocol versions; protected mode ----
stop_kvd
expect_eq "clean exit with TLS clients gone" 0 "$RC"
start_tls v13 --tls-protocols TLSv1.3 --tls-auth-clients no --bind "127.0.0.1 127.0.0.2" || fail "start v13"
# (nc -d sends nothing: the refusal comes at accept.)
out=$(timeout 20 nc -d -s 127.0.0.2 127.0.0.2 "$TPORT" 2>&1); rc=$?
expect_eq "protected mode: a TLS client from 127.0.0.2 is closed at once" "0 []" "$rc [$out]"
expect_match "and logged" "protected mode: refused TLS client 127.0.0.2" "$(cat "$T/v13.log")"
if command -v python3 >/dev/null; then
    cli config set protected-mode no >/dev/null
    out=$(timeout 30 python3 - "$TPORT" "$C/ca.crt" <<'PY' 2>&1
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False  # the certificate names 127.0.0.1, not .2
raw = socket.create_connection(("127.0.0.2", int(sys.argv[1])), timeout=20, source_address=("127.0.0.2", 0))
s = ctx.wrap_socket(raw)
s.sendall(b"PING\r\n")
print(s.recv(100).decode().strip())
PY
    )
    expect_eq "protected-mode no: served over TLS from 127.0.0.2" "+PONG" "$out"
fi
out=$(printf 'PING\r\nQUIT\r\n' | timeout 30 openssl s_client -quiet -tls1_2 -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" 2>&1)
expect_eq "tls-protocols TLSv1.3: TLSv1.2 refused" 0 "$(printf '%s' "$out" | grep -c PONG)"
out=$(printf 'PING\r\nQUIT\r\n' | timeout 30 openssl s_client -quiet -tls1_3 -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" 2>/dev/null)
expect_eq "TLSv1.3 served" "+PONG +OK" "$(printf '%s' "$out" | tr -d '\r' | xargs)"
stop_kvd
start_tls v12 --tls-protocols TLSv1.2 --tls-auth-clients no --tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256 ||
    fail "start v12"
out=$(printf 'PING\r\nQUIT\r\n' | timeout 30 openssl s_client -quiet -tls1_2 -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" 2>/dev/null)
expect_eq "tls-protocols TLSv1.2 with tls-ciphers: served" "+PONG +OK" "$(printf '%s' "$out" | tr -d '\r' | xargs)"
# s_client renegotiates on a line "R"; its stdin stays open until it ends.
mkfifo "$T/reneg.fifo"
timeout 30 openssl s_client -tls1_2 -connect "127.0.0.1:$TPORT" -CAfile "$C/ca.crt" <"$T/reneg.fifo" \
    >"$T/reneg.out" 2>&1 &
RENEG=$!
exec {reneg}>"$T/reneg.fifo"
printf 'R\n' >&"$reneg"
wait "$RENEG"
exec {reneg}>&-
expect_match "a TLSv1.2 renegotiation is refused" "RENEGOTIATING[|].*no renegotiation" "$(tr '\n' '|' <"$T/reneg.out")"
stop_kvd
KPID=$SKPID
stop_kvd
finish
