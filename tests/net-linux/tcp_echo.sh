#!/bin/bash
# Our tcp-echo against Linux clients: 1,000 short connections in a row,
# then 200 at once (each sends a line, reads it back, half-closes and must
# see our FIN), then a shutdown with connections still open, which must
# reset them and exit cleanly.
# Usage: tcp_echo.sh TCP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"

SEQUENTIAL=${TCP_ECHO_SEQUENTIAL:-1000}
CONCURRENT=${TCP_ECHO_CONCURRENT:-200}
IDLE=5

net_require root tun ip /usr/bin/python3
net_start "$1" --ip "$OUR_IP/24" -- --port 7
wait_log 'serving on'

# The clients: one mode per run, every connection checked; prints one
# summary line and exits non-zero if any connection failed.
cat >"$WORK/clients.py" <<'EOF'
import socket, sys, threading

host, port, mode, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
TIMEOUT = 20  # seconds, per socket operation: bounded, generous for SYN retries


def exchange(i, sock, barrier=None):
    line = ("%s %d %s\n" % (mode, i, "x" * (i % 97))).encode()
    if barrier:
        barrier.wait()  # every connection open before any talks
    sock.sendall(line)
    got = b""
    while len(got) < len(line):
        d = sock.recv(4096)
        if not d:
            raise RuntimeError("connection %d: EOF after %d of %d bytes" % (i, len(got), len(line)))
        got += d
    if got != line:
        raise RuntimeError("connection %d: sent %r, got back %r" % (i, line, got))
    # Our half-close: the server must answer with its own FIN.
    sock.shutdown(socket.SHUT_WR)
    rest = sock.recv(1)
    if rest != b"":
        raise RuntimeError("connection %d: %r after the echo instead of EOF" % (i, rest))


def connect():
    return socket.create_connection((host, port), timeout=TIMEOUT)


errors = []

if mode == "sequential":
    for i in range(n):
        try:
            with connect() as s:
                exchange(i, s)
        except Exception as e:
            errors.append("connection %d: %r" % (i, e))
elif mode == "concurrent":
    barrier = threading.Barrier(n, timeout=60)
    lock = threading.Lock()

    def run(i):
        try:
            with connect() as s:
                exchange(i, s, barrier)
        except Exception as e:
            with lock:
                errors.append("connection %d: %r" % (i, e))
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
elif mode == "idle":
    # Holds n connections open until the server goes away; each must end
    # with a reset (or, at least, an end of stream), not hang.
    socks = [connect() for _ in range(n)]
    for s in socks:
        s.sendall(b"ping\n")
        if s.recv(16) != b"ping\n":
            errors.append("no echo on an idle connection")
    print("open", flush=True)
    for i, s in enumerate(socks):
        s.settimeout(60)
        try:
            d = s.recv(16)
            print("eof" if d == b"" else "data %r" % d, flush=True)
        except ConnectionResetError:
            print("reset", flush=True)
        except Exception as e:
            errors.append("idle connection %d: %r" % (i, e))

for e in errors[:20]:
    print(e, file=sys.stderr)
print("%s: %d ok, %d failed" % (mode, n - len(errors), len(errors)), flush=True)
sys.exit(1 if errors else 0)
EOF

run_clients() {
    local mode=$1 n=$2 out="$WORK/$1.out"
    ns timeout 120 /usr/bin/python3 "$WORK/clients.py" "$OUR_IP" 7 "$mode" "$n" >"$out" 2>&1 || {
        cat "$out" >&2
        fail "$mode clients failed"
    }
    grep -q "^$mode: $n ok, 0 failed\$" "$out" || {
        cat "$out" >&2
        fail "$mode clients: no clean summary"
    }
    log "$(tail -n 1 "$out")"
}

run_clients sequential "$SEQUENTIAL"
run_clients concurrent "$CONCURRENT"

# Shutdown with open connections: ours resets them and exits with 0.
ns_bg timeout 120 /usr/bin/python3 "$WORK/clients.py" "$OUR_IP" 7 idle "$IDLE" >"$WORK/idle.out" 2>&1
idle_pid=${BG_PIDS[-1]}
wait_for "$WAIT_S" grep -q '^open$' "$WORK/idle.out" || {
    cat "$WORK/idle.out" >&2
    fail "the idle connections did not open"
}
net_stop_echo
wait_gone "$idle_pid" "$WAIT_S" || fail "the idle clients did not see the end of their connections"
resets=$(grep -c '^reset$' "$WORK/idle.out" || true)
((resets == IDLE)) || {
    cat "$WORK/idle.out" >&2
    fail "$resets of $IDLE open connections were reset at shutdown"
}
log "shutdown reset all $IDLE open connections"

total=$((SEQUENTIAL + CONCURRENT + IDLE))
grep -Eq "stopped after $total connections, [0-9]+ bytes echoed, 0 failed" "$ECHO_LOG" ||
    fail "expected 'stopped after $total connections, ... 0 failed' in our log"
log "PASS"
