#!/usr/bin/env bash
# The wire protocol with netcat: inline commands and quoting, LF or CRLF,
# RESP arrays, pipelining 100k commands, every protocol error (with the
# connection closed after it), the HTTP guard, and the size limits.
. "$(dirname "$0")/lib.sh"

start_kvd p --proto-max-bulk-len 2mb --client-query-buffer-limit 4mb || fail "start"

# An interactive-style netcat session: inline commands, quoting, LF only.
out=$(raw 'SET greeting "hello world"\r\nGET greeting\nset q "tab\\there \\x41\\x42"\r\nget q\r\nGET '"'"'greeting'"'"'\r\n   \r\nPING\r\n')
expect_eq "netcat session" "$(printf '+OK\r\n$11\r\nhello world\r\n+OK\r\n$11\r\ntab\there AB\r\n$11\r\nhello world\r\n+PONG\r\n')" "$out"

# RESP arrays, binary-safe.
out=$(raw '*3\r\n$3\r\nSET\r\n$3\r\nb\x00n\r\n$4\r\n\r\n\x00\xff\r\n*2\r\n$3\r\nGET\r\n$3\r\nb\x00n\r\n' | od -An -c | tr -s ' ')
expect_eq "RESP binary round trip" "$(printf '+OK\r\n$4\r\n\r\n\x00\xff\r\n' | od -An -c | tr -s ' ')" "$out"

# Pipelining: 100k commands in one stream, replies in order.
gen() { awk 'BEGIN { for (i = 1; i <= 50000; i++) printf "SET k%d %d\r\n", i, i;
                     for (i = 1; i <= 50000; i++) { k = "k" i; printf "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", length(k), k } }'; }
gen | timeout 60 nc -N 127.0.0.1 "$PORT" >"$T/pipe.out"
expect_eq "100k pipelined replies" 150000 "$(wc -l <"$T/pipe.out")"
expect_eq "SET replies" 50000 "$(head -n 50000 "$T/pipe.out" | grep -c '^+OK')"
expect_eq "GET replies in order" "$(printf '$5\r\n49999\r\n$5\r\n50000\r')" "$(tail -n 4 "$T/pipe.out")"
expect_eq "all keys there (and the 3 from before)" 50003 "$(cli dbsize)"

# Protocol errors: Redis's text, then the connection is closed (the PING
# after the bad request is never answered).
perr() { # what input expected-error
    local out
    out=$(raw "$2")
    expect_eq "$1" "$(printf -- "-ERR Protocol error: %s\r\n" "$3")" "$out"
}
perr "bad multibulk count" '*x\r\nPING\r\n' "invalid multibulk length"
perr "negative-ish multibulk count" '*-5x\r\nPING\r\n' "invalid multibulk length"
perr "multibulk count over the limit" '*1048577\r\nPING\r\n' "invalid multibulk length"
perr "bad bulk length" '*1\r\n$x\r\nPING\r\n' "invalid bulk length"
perr "negative bulk length" '*1\r\n$-1\r\nPING\r\n' "invalid bulk length"
perr "bulk over proto-max-bulk-len" '*1\r\n$3000000\r\nPING\r\n' "invalid bulk length"
perr "not a bulk" '*1\r\n+PING\r\nPING\r\n' "expected '\$', got '+'"
perr "unbalanced double quote" 'SET "a b\r\nPING\r\n' "unbalanced quotes in request"
perr "unbalanced single quote" "SET 'a\\r\\nPING\\r\\n" "unbalanced quotes in request"
perr "quote not followed by space" 'SET "a"b c\r\nPING\r\n' "unbalanced quotes in request"
# A pipeline with a bad request in the middle and megabytes behind it, as
# a client library writes it before reading anything: the whole write must
# succeed, and the replies before the error and the error itself must be
# there to read. (Closing with the rest unread would make the kernel reset
# the connection: the client's write fails with ECONNRESET or EPIPE, and a
# client that stops at that error never sees the replies. kvd sends FIN
# and drains the input instead.)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
wrc=0
(for i in $(seq 1 200); do printf 'PING\r\n'; done; printf '*x\r\n'
 head -c 4000000 /dev/zero | tr '\0' 'x') >&3 2>/dev/null || wrc=$?
expect_eq "a client can write its whole pipeline behind a protocol error" 0 "$wrc"
out=$(timeout 30 cat <&3 2>/dev/null | tr -d '\r') # (to the end: kvd closes it)
exec 3>&-
expect_eq "replies before a protocol error survive the input behind it" \
    "200 -ERR Protocol error: invalid multibulk length" \
    "$(printf '%s\n' "$out" | grep -c '^+PONG$') $(printf '%s\n' "$out" | tail -1)"
expect_eq "lingering connections are not clients" "1" "$(cli info clients | tr -d '\r' | grep '^connected_clients:' | cut -d: -f2)"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
out=$(printf 'GET %s' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT")
expect_eq "inline line over 64 KiB" "$(printf -- '-ERR Protocol error: too big inline request\r\n')" "$out"
out=$(printf '*1\r\n$%s' "$(head -c 70000 /dev/zero | tr '\0' '1')" | timeout 10 nc -N 127.0.0.1 "$PORT")
expect_eq "bulk count line over 64 KiB" "$(printf -- '-ERR Protocol error: too big bulk count string\r\n')" "$out"

# Requests that are fine: empty arrays and blank lines are skipped.
expect_eq "empty array and blank lines skipped" "$(printf '+PONG\r\n+PONG\r\n')" "$(raw '*0\r\n\r\n\r\nPING\r\n*-1\r\nPING\r\n')"

# Cross-protocol guard: an HTTP request closes the connection, no reply.
expect_eq "POST closes silently" "" "$(raw 'POST / HTTP/1.1\r\nHost: x\r\n\r\nPING\r\n')"
expect_eq "Host: closes silently" "" "$(raw 'Host: example.com\r\nPING\r\n')"
expect_match "the attack is logged" "HTTP request" "$(cat "$T/p.log")"

# Unknown commands and arity.
expect_eq "unknown command" "$(printf -- "-ERR unknown command 'foo', with args beginning with: 'a' 'b c' \r\n")" "$(raw 'foo a "b c"\r\n')"
expect_eq "wrong arity" "$(printf -- "-ERR wrong number of arguments for 'get' command\r\n")" "$(raw 'GET\r\n')"

# A value just under proto-max-bulk-len is fine; the query buffer limit
# cuts off a client that sends more than it allows.
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'v' >"$T/val"
expect_eq "2 MiB value accepted" OK "$(cli -x set bigval <"$T/val")"
expect_eq "2 MiB value read back" "$((2 * 1024 * 1024))" "$(cli strlen bigval)"
# One MSET whose arguments add up to more than the 4 MiB query buffer
# limit, never finished: the client is cut off before it completes.
{ printf '*7\r\n$4\r\nMSET\r\n'
  for k in 1 2 3; do printf '$2\r\nk%d\r\n$1900000\r\n' $k; head -c 1900000 /dev/zero; printf '\r\n'; done
  sleep 1; } | timeout 20 nc -N 127.0.0.1 "$PORT" >"$T/qb.out"
expect_eq "no reply to a half-sent command over the query limit" 0 "$(wc -c <"$T/qb.out")"
expect_match "query buffer limit logged" "client-query-buffer-limit" "$(cat "$T/p.log")"
expect_eq "server still serves others" PONG "$(cli ping)"
finish
