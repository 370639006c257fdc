#!/bin/bash
# tcp-echo on the unix-socket target (the kernel's sockets, no privileges)
# against socat on 127.0.0.1: bad options refused, a line and 1 MiB echoed,
# 100 connections in a row and 20 at once, then a shutdown with a
# connection still open, which must be reset while we exit with status 0.
# Usage: tcp_echo_socket.sh TCP_ECHO_BINARY
set -euo pipefail

BIN=$1
NAME=tcp_echo_socket
WORK=$(mktemp -d "/tmp/tessera-$NAME.XXXXXX")
LOG="$WORK/echo.log"
PID=
CLIENTS=()

log() { printf '%s: %s\n' "$NAME" "$*"; }
fail() {
    printf 'FAIL: %s: %s\n' "$NAME" "$*" >&2
    [[ -s "$LOG" ]] && tail -n 40 "$LOG" >&2
    exit 1
}
cleanup() {
    local rc=$? p
    trap - EXIT
    for p in "${CLIENTS[@]}" $PID; do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [[ $rc -eq 0 || $rc -eq 77 ]]; then rm -rf "$WORK"; else echo "$NAME: logs kept in $WORK" >&2; fi
    exit "$rc"
}
trap cleanup EXIT

for tool in socat python3; do
    command -v "$tool" >/dev/null || {
        echo "SKIP: $NAME: $tool is not installed"
        exit 77
    }
done

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# Options: ours are checked, the app's come after them.
rc=0
"$BIN" --listen-addr 1.2.3 -- --port 7 2>"$WORK/bad.log" || rc=$?
((rc == 2)) || fail "a bad --listen-addr: status $rc, expected 2"
rc=0
"$BIN" --port 99999 2>"$WORK/bad.log" || rc=$?
((rc == 2)) || fail "a bad --port for the app: status $rc, expected 2"

# Port 0: the kernel picks one, and the log says which.
"$BIN" --listen-addr 127.0.0.1 -- --port 0 2>"$LOG" &
PID=$!
wait_for 10 grep -q 'serving on port [1-9]' "$LOG" || fail "tcp-echo is not serving"
grep -q 'serving on port [0-9]* (unix-socket)' "$LOG" || fail "tcp-echo does not serve on the unix-socket flows"
PORT=$(sed -n 's/.*serving on port \([0-9]*\) .*/\1/p' "$LOG" | head -n 1)
log "serving on 127.0.0.1:$PORT"

# socat half-closes when its input ends and waits (-t) for our FIN.
echo_through() { socat -t 10 -T 20 - "TCP:127.0.0.1:$PORT"; }

[[ "$(printf 'hello\n' | echo_through)" == hello ]] || fail "no echo of one line"

head -c 1048576 /dev/urandom >"$WORK/big"
echo_through <"$WORK/big" >"$WORK/big.back"
cmp -s "$WORK/big" "$WORK/big.back" || fail "1 MiB came back different ($(stat -c %s "$WORK/big.back") bytes)"
log "1 MiB echoed"

for ((i = 0; i < 100; i++)); do
    [[ "$(printf 'line %d\n' "$i" | echo_through)" == "line $i" ]] || fail "connection $i of 100 in a row"
done
log "100 connections in a row"

for ((i = 0; i < 20; i++)); do
    (printf 'at once %d\n' "$i" | echo_through >"$WORK/c$i.out") &
    CLIENTS+=($!)
done
for ((i = 0; i < 20; i++)); do
    wait "${CLIENTS[$i]}" || fail "concurrent client $i failed"
    [[ "$(cat "$WORK/c$i.out")" == "at once $i" ]] || fail "concurrent client $i got '$(cat "$WORK/c$i.out")'"
done
CLIENTS=()
log "20 connections at once"

# An idle connection when we are asked to stop: ours resets it.
python3 - "$PORT" >"$WORK/idle.out" 2>&1 <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"ping\n")
assert s.recv(16) == b"ping\n"
print("open", flush=True)
try:
    print("eof" if s.recv(16) == b"" else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
PY
idle=$!
CLIENTS+=("$idle")
wait_for 10 grep -q '^open$' "$WORK/idle.out" || fail "the idle connection did not open: $(cat "$WORK/idle.out")"
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
((rc == 0)) || fail "tcp-echo exited with status $rc after SIGTERM"
wait "$idle" || fail "the idle client failed: $(cat "$WORK/idle.out")"
grep -q '^reset$' "$WORK/idle.out" || fail "the idle connection was not reset: $(cat "$WORK/idle.out")"
log "shutdown reset the open connection"

total=$((2 + 100 + 20 + 1))
grep -Eq "stopped after $total connections, [0-9]+ bytes echoed, 0 failed" "$LOG" ||
    fail "expected 'stopped after $total connections, ... 0 failed' in our log"
log "PASS"
