#!/usr/bin/env bash
# kvd-cli: one-shot commands with raw output (stdout not a terminal) and
# redis-cli-style output on a terminal (run under script(1) for a pty),
# commands from a pipe, -x, -a, -s, -n, the interactive mode with history,
# and --pipe bulk loading with its summary.
. "$(dirname "$0")/lib.sh"

CLI=$B/src/kvd-cli
start_kvd k --unixsocket "$T/k.sock" || fail "start"
kc() { timeout 10 "$CLI" -p "$PORT" "$@"; }
# On a terminal (a pty from script); the pty turns \n into \r\n.
tty() { timeout 10 script -qec "$(printf '%q ' "$CLI" -p "$PORT" "$@")" /dev/null | tr -d '\r'; }

expect_eq "one-shot status" OK "$(kc set k v)"
expect_eq "one-shot bulk (raw)" v "$(kc get k)"
expect_eq "one-shot integer (raw)" 1 "$(kc exists k)"
expect_eq "nil (raw) is an empty line" "" "$(kc get nosuch)"
expect_eq "error (raw)" "ERR value is not an integer or out of range" "$(kc incr k)"
expect_eq "array (raw)" "$(printf 'v\n\nv')" "$(kc mget k nosuch k)"
expect_eq "nested arrays (raw)" "$(printf 'echo\n2\nloading\nstale\nfast\n0\n0\n0\n@fast\n@connection\n\n\n')" "$(kc command info echo)"
expect_eq "binary value (raw) is byte exact" "$(printf 'a\001\377b' | od -An -tx1)" "$(printf 'a\001\377b' | kc -x set bin >/dev/null; kc get bin | head -c 4 | od -An -tx1)"

expect_eq "status (tty)" "OK" "$(tty set q 'a"b')"
expect_eq "bulk (tty) is quoted" '"a\"b"' "$(tty get q)"
expect_eq "binary (tty) escaped" '"a\x01\xffb"' "$(tty get bin)"
expect_eq "integer (tty)" "(integer) 1" "$(tty exists q)"
expect_eq "nil (tty)" "(nil)" "$(tty get nosuch)"
expect_eq "error (tty)" "(error) ERR value is not an integer or out of range" "$(tty incr q)"
expect_eq "empty array (tty)" "(empty array)" "$(tty keys nomatch)"
expect_eq "numbered array (tty)" "$(printf '1) "v"\n2) (nil)\n3) "a\\"b"')" "$(tty mget k nosuch q)"
expect_eq "nested arrays (tty)" "$(printf '1)  1) "echo"\n    2) (integer) 2\n    3) 1) loading\n       2) stale\n       3) fast\n    4) (integer) 0\n    5) (integer) 0\n    6) (integer) 0\n    7) 1) @fast\n       2) @connection\n    8) (empty array)\n    9) (empty array)\n   10) (empty array)')" "$(tty command info echo)"
expect_eq "--raw on a terminal" "v" "$(tty --raw get k)"
expect_eq "--no-raw off a terminal" '"v"' "$(kc --no-raw get k)"

expect_eq "commands from a pipe" "$(printf 'OK\na b\n2')" "$(printf 'set x "a b"\nget x\nexists x k\n' | timeout 10 "$CLI" -p "$PORT")"
expect_eq "unix socket" PONG "$(timeout 10 "$CLI" -s "$T/k.sock" ping)"
expect_eq "-n 0" PONG "$(kc -n 0 ping)"
expect_eq "-n 3 selects database 3" "$(printf 'OK\n1\n0')" "$(kc -n 3 set dbkey v; kc -n 3 exists dbkey; kc exists dbkey)"
expect_eq "-n 16 warns" "SELECT 16 failed: ERR DB index is out of range" "$(kc -n 16 ping 2>&1 >/dev/null)"

# Interactive: a pty, line editing and history through libedit.
out=$(printf 'set "hello world" 42\nget "hello world"\nquit\n' |
      KVDCLI_HISTFILE="$T/hist" timeout 10 script -qec "$CLI -p $PORT" /dev/null | tr -d '\r')
expect_match "interactive prompt and replies" "127\.0\.0\.1:$PORT> get \"hello world\".*\"42\"" "$(printf '%s' "$out" | tr '\n' ' ')"
expect_match "history saved" 'get\\040"hello\\040world"' "$(cat "$T/hist" 2>/dev/null)"

# --pipe: RESP and inline mixed, summary on stderr, exit 1 when errors.
{ awk 'BEGIN { for (i = 0; i < 20000; i++) { k = "p" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", length(k), k } }'
  printf 'SET inline 1\r\nINCR inline\r\n'; } | timeout 60 "$CLI" -p "$PORT" --pipe >"$T/pipe.out" 2>"$T/pipe.err"
expect_eq "--pipe exit 0" 0 $?
expect_eq "--pipe summary" "$(printf 'All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 0, replies: 20002')" "$(cat "$T/pipe.err")"
expect_eq "--pipe loaded everything" 2 "$(kc get inline)"
printf 'SET a 1\r\nINCR k\r\nGET a\r\n' | timeout 10 "$CLI" -p "$PORT" --pipe >"$T/pipe.out" 2>"$T/pipe.err"
expect_eq "--pipe exit 1 on error replies" 1 $?
expect_eq "--pipe prints the errors" "ERR value is not an integer or out of range" "$(cat "$T/pipe.out")"
expect_eq "--pipe counts them" "errors: 1, replies: 3" "$(tail -1 "$T/pipe.err")"
stop_kvd

# Passwords, and a server that is not there.
start_kvd a --requirepass pw || fail "start a"
expect_eq "-a" PONG "$(kc -a pw ping)"
expect_match "-a wrong" "WRONGPASS" "$(kc -a nope ping 2>&1)"
expect_eq "-a wrong exits 1" 1 "$(kc -a nope ping >/dev/null 2>&1; echo $?)"
expect_eq "no password: NOAUTH" "NOAUTH Authentication required." "$(kc ping)"
stop_kvd
expect_match "server down" "Could not connect to kvd at 127.0.0.1:$PORT" "$(kc ping 2>&1)"
expect_eq "server down exits 1" 1 "$(kc ping >/dev/null 2>&1; echo $?)"
finish
