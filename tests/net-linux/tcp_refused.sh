#!/bin/bash
# A connection to a port we do not listen on is refused with a RST at once
# ("connection refused", never a timeout), and the listener next to it
# keeps working. Linux's side also gets RSTs for segments of no connection.
# Usage: tcp_refused.sh TCP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"

net_require root tun ip nc /usr/bin/python3
net_start "$1" --ip "$OUR_IP/24" -- --port 7
wait_log 'serving on'

# Each attempt has a generous timeout, so a dropped SYN shows as a timeout
# and not as the refusal we want; no timing is asserted.
cat >"$WORK/refused.py" <<'EOF'
import socket, sys

host, attempts = sys.argv[1], int(sys.argv[2])
bad = 0
for i in range(attempts):
    port = 9 + i  # none of these is ours (we listen on 7)
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect((host, port))
        print("port %d: connected?!" % port)
        bad += 1
    except ConnectionRefusedError:
        pass
    except Exception as e:
        print("port %d: %r instead of connection refused" % (port, e))
        bad += 1
    finally:
        s.close()
# The listener still answers.
with socket.create_connection((host, 7), timeout=10) as s:
    s.sendall(b"still here\n")
    got = b""
    while len(got) < 11:
        d = s.recv(64)
        if not d:
            break
        got += d
    if got != b"still here\n":
        print("echo after the refusals: %r" % got)
        bad += 1
print("refused %d of %d" % (attempts - bad, attempts))
sys.exit(1 if bad else 0)
EOF

ns timeout 120 /usr/bin/python3 "$WORK/refused.py" "$OUR_IP" 20 >"$WORK/refused.out" 2>&1 || {
    cat "$WORK/refused.out" >&2
    fail "a connection to a closed port was not refused"
}
log "$(tail -n 1 "$WORK/refused.out")"

# nc agrees, in its own words.
if ns timeout 20 nc -v -w 10 "$OUR_IP" 1 </dev/null >"$WORK/nc.out" 2>&1; then
    fail "nc connected to port 1"
fi
grep -qi 'refused' "$WORK/nc.out" || {
    cat "$WORK/nc.out" >&2
    fail "nc's failure is not 'connection refused'"
}
log "nc: $(head -n 1 "$WORK/nc.out")"

net_stop_echo
rst=$(stat_maybe tcp_rst_sent)
if [[ -n "$rst" ]]; then
    ((rst >= 21)) || fail "tcp_rst_sent=$rst, expected at least 21"
    log "tcp_rst_sent=$rst"
fi
log "PASS"
