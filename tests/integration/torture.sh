#!/usr/bin/env bash
# Protocol torture: malformed and extreme requests, each checked for the
# right reply (or a silent close), with the server alive and serving
# another client after every one, and its memory bounded at the end.
. "$(dirname "$0")/lib.sh"

start_kvd t --proto-max-bulk-len 512mb || fail "start"
rss() { awk '/VmRSS/ {print $2}' "/proc/$KPID/status"; }
rss0=$(rss)
exec {watch}<>"/dev/tcp/127.0.0.1/$PORT"
N=0

# send INPUT: the bytes (a printf format), then half-close: kvd answers
# what it got and closes. Prints the replies.
send() { printf "$1" | timeout 10 nc -N 127.0.0.1 "$PORT"; }
sendraw() { send "$@"; }

alive() {
    printf 'PING\r\n' >&"$watch"
    local line
    IFS= read -r -t 5 line <&"$watch"
    [ "$line" == $'+PONG\r' ] || fail "after [$1]: the other client got [$line]"
    kill -0 "$KPID" 2>/dev/null || { fail "after [$1]: kvd died"; finish; }
}
# case NAME EXPECTED OUTPUT: exact match
case_eq() { N=$((N + 1)); expect_eq "$1" "$(printf -- "$2")" "$3"; alive "$1"; }
# case_re NAME REGEX OUTPUT
case_re() { N=$((N + 1)); expect_match "$1" "$2" "$3"; alive "$1"; }
perr() { case_eq "$1" "-ERR Protocol error: $2\r\n" "$(send "$3")"; }

# Array and bulk headers.
case_eq "*-1 is skipped" '+PONG\r\n' "$(send '*-1\r\nPING\r\n')"
case_eq "*0 is skipped" '+PONG\r\n' "$(send '*0\r\nPING\r\n')"
case_eq "*-2 is skipped" '+PONG\r\n' "$(send '*-2\r\nPING\r\n')"
perr "count not a number" "invalid multibulk length" '*abc\r\n'
perr "count over the limit" "invalid multibulk length" '*1048577\r\n'
perr "count overflows 64 bits" "invalid multibulk length" '*99999999999999999999\r\n'
perr "count with a plus sign" "invalid multibulk length" '*+1\r\n'
perr "count with leading zero" "invalid multibulk length" '*01\r\n'
perr "negative bulk length" "invalid bulk length" '*1\r\n$-5\r\n'
perr "bulk length not a number" "invalid bulk length" '*1\r\n$abc\r\n'
perr "bulk length overflows" "invalid bulk length" '*1\r\n$99999999999999999999\r\n'
perr "bulk over 512 MiB" "invalid bulk length" '*1\r\n$536870913\r\n'
perr "element is not a bulk (inline)" "expected '\$', got 'P'" '*1\r\nPING\r\n'
perr "element is an integer" "expected '\$', got ':'" '*2\r\n$3\r\nGET\r\n:1\r\n'
perr "element is an array" "expected '\$', got '*'" '*2\r\n*1\r\n$1\r\nx\r\n'
perr "error after a good command stops the rest" "invalid multibulk length" '*x\r\nPING\r\nPING\r\n'
big=$(head -c 70000 /dev/zero | tr '\0' '7')
case_eq "bulk count line over 64 KiB" '-ERR Protocol error: too big bulk count string\r\n' "$(printf '*1\r\n$%s' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT")"
case_eq "array count line over 64 KiB" '-ERR Protocol error: too big mbulk count string\r\n' "$(printf '*%s' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT")"

# Inline commands.
case_eq "LF only" '+PONG\r\n' "$(send 'PING\n')"
case_eq "CR CR LF" '+PONG\r\n' "$(send 'PING\r\r\n')"
case_eq "tabs and spaces" '$1\r\nx\r\n' "$(send ' \t ECHO \t x \t\r\n')"
perr "unterminated double quote" "unbalanced quotes in request" 'GET "abc\r\n'
perr "unterminated single quote" "unbalanced quotes in request" "GET 'abc\r\n"
perr "closing quote not followed by space" "unbalanced quotes in request" 'GET "a"b\r\n'
case_eq "NUL through \\\\x00" "$(printf '$3\r\na\x00b\r\n' | od -An -tx1 | tr -d ' \n')" "$(send 'ECHO "a\\x00b"\r\n' | od -An -tx1 | tr -d ' \n')"
case_eq "bad \\\\x escape is literal" '$3\r\nxzz\r\n' "$(send 'ECHO "\\xzz"\r\n')"
case_eq "raw NUL bytes as a command" "-ERR unknown command '', with args beginning with: \r\n" "$(send '\x00\x00\x00\r\n')"
case_eq "binary garbage as a command" "-ERR unknown command '\xff\xfe\xfd', with args beginning with: \r\n" "$(send '\xff\xfe\xfd\r\n')"
case_eq "inline line over 64 KiB" '-ERR Protocol error: too big inline request\r\n' "$(printf 'GET %s' "$big" | timeout 10 nc -N 127.0.0.1 "$PORT")"
long=$(head -c 1000 /dev/zero | tr '\0' 'a')
case_re "a 1000-byte command name is cut to 128" "^-ERR unknown command 'a{128}', with" "$(send "$long"'\r\n')"

# Framing quirks (as Redis: the CRLF after a bulk is not checked).
case_eq "junk instead of CRLF after a bulk" '+PONG\r\n+PONG\r\n' "$(send '*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n')"
case_eq "empty bulk as the command" "-ERR unknown command '', with args beginning with: \r\n" "$(send '*1\r\n$0\r\n\r\n')"
case_eq "empty key and value" '+OK\r\n$0\r\n\r\n' "$(send '*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n')"

# Half a request, then the client goes away: nothing runs.
case_eq "half a RESP request then close" '' "$(sendraw '*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$5\r\nval')"
case_eq "half an inline request then close" '' "$(sendraw 'SET half2 va')"
case_eq "neither was executed" '$-1\r\n$-1\r\n' "$(send 'GET half\r\nGET half2\r\n')"
case_eq "a 400 MB bulk announced, 10 bytes sent, close" '' "$(sendraw '*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$400000000\r\n0123456789')"

# Byte at a time.
N=$((N + 1))
exec {slow}<>"/dev/tcp/127.0.0.1/$PORT"
req=$'*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n'
for ((i = 0; i < ${#req}; i++)); do printf '%s' "${req:i:1}" >&"$slow"; done
IFS= read -r -t 5 l1 <&"$slow"; IFS= read -r -t 5 l2 <&"$slow"
expect_eq "a request sent one byte at a time" $'$5\r hello\r' "$l1 $l2"
exec {slow}>&-
alive "byte at a time"

# Big arrays and many commands.
case_re "100k-element array" "^-ERR unknown command 'x', with args beginning with: 'x' 'x' " \
    "$(awk 'BEGIN { printf "*100000\r\n"; for (i = 0; i < 100000; i++) printf "$1\r\nx\r\n"; }' | timeout 20 nc -N 127.0.0.1 "$PORT" | head -c 200)"
N=$((N + 1))
out=$(awk 'BEGIN { printf "*100001\r\n$4\r\nMGET\r\n"; for (i = 0; i < 100000; i++) printf "$3\r\nk%02d\r\n", i % 100 }' |
      timeout 20 nc -N 127.0.0.1 "$PORT" | head -n 2 | tr -d '\r' | tr '\n' ' ')
expect_eq "MGET of 100k keys" '*100000 $-1 ' "$out"
alive "MGET 100k"
case_eq "10000 pipelined PINGs" "10000" "$(awk 'BEGIN { for (i = 0; i < 10000; i++) printf "PING\r\n" }' | timeout 20 nc -N 127.0.0.1 "$PORT" | grep -c PONG)"

# Extreme arguments to commands.
case_eq "SET without value" "-ERR wrong number of arguments for 'set' command\r\n" "$(send 'SET k\r\n')"
case_eq "GET with too many" "-ERR wrong number of arguments for 'get' command\r\n" "$(send 'GET a b c\r\n')"
case_eq "SET EX without a number" '-ERR syntax error\r\n' "$(send 'SET k v EX\r\n')"
case_eq "EX overflows" '-ERR value is not an integer or out of range\r\n' "$(send 'SET k v EX 99999999999999999999\r\n')"
case_eq "EX near the limit" "-ERR invalid expire time in 'set' command\r\n" "$(send 'SET k v EX 9223372036854775807\r\n')"
case_eq "INCRBY past 64 bits" '-ERR value is not an integer or out of range\r\n' "$(send 'INCRBY k 9223372036854775808\r\n')"
case_eq "INCR past the maximum" '+OK\r\n-ERR increment or decrement would overflow\r\n' "$(send 'SET n 9223372036854775807\r\nINCR n\r\n')"
case_eq "SETRANGE past 512 MiB" '-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n' "$(send 'SETRANGE k 536870912 x\r\n')"
case_eq "SETRANGE negative" '-ERR offset is out of range\r\n' "$(send 'SETRANGE k -1 x\r\n')"
case_eq "GETRANGE extreme bounds" '$0\r\n\r\n' "$(send 'GETRANGE nosuch -9223372036854775808 9223372036854775807\r\n')"
case_eq "EXPIRE overflow" "-ERR invalid expire time in 'expire' command\r\n" "$(send 'SET k v\r\nEXPIRE k 9223372036854775807\r\n' | tail -n 1)"
case_eq "SCAN cursor past 64 bits" '-ERR invalid cursor\r\n' "$(send 'SCAN 18446744073709551616\r\n')"
# Redis reads the cursor with strtoul: "-1" is the largest cursor, not an error.
case_eq "SCAN negative cursor (strtoul's wrap, as Redis)" '*2\r\n' "$(send 'SCAN -1\r\n' | head -n 1)"
case_eq "SCAN cursor with a space" '-ERR invalid cursor\r\n' "$(send 'SCAN " 1"\r\n')"
case_eq "SCAN COUNT 0" '-ERR syntax error\r\n' "$(send 'SCAN 0 COUNT 0\r\n')"
case_eq "KEYS with an unterminated class" '*0\r\n' "$(send 'KEYS [\r\n')"
case_eq "KEYS with a pathological pattern" '*0\r\n' "$(send 'KEYS *a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\r\n')"
case_eq "HELLO with a huge version" '-ERR Protocol version is not an integer or out of range\r\n' "$(send 'HELLO 99999999999999999999\r\n')"
case_eq "CONFIG SET out of range" "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 1000000 inclusive\r\n" "$(send 'CONFIG SET maxclients -5\r\n')"
case_eq "QUIT stops the pipeline" '+OK\r\n' "$(sendraw 'QUIT\r\nPING\r\n')"

expect_eq "at least 50 cases" 1 "$(( N >= 50 ))"
echo "     $N torture cases"
rss1=$(rss)
echo "     server RSS: $((rss0 / 1024)) MiB before, $((rss1 / 1024)) MiB after"
expect_eq "memory bounded (< 100 MiB growth)" 1 "$(( (rss1 - rss0) < 100 * 1024 ))"
exec {watch}>&-
stop_kvd
expect_eq "clean exit after all that" 0 "$RC"
finish
