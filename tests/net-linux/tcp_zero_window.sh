#!/bin/bash
# Zero window and recovery: Linux sends a few MiB to our sink, which has a
# small receive buffer and first reads slowly (a short read, then a sleep),
# so its window closes; then it reads at full speed. The window must close
# (a capture in the namespace sees our zero-window ACKs), reopen, and every
# byte arrive (SHA-256).
# Usage: tcp_zero_window.sh TCP_BULK_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"

BYTES=$((4 * 1024 * 1024))
RCVBUF=64K
READ_SIZE=16K
DELAY_MS=200
SLOW_BYTES=256K # 16 slow reads: about 3 s of a closed window

net_require root tun ip nc sha256sum tshark
random_file "$WORK/data" "$BYTES"
want_sha=$(sha256sum "$WORK/data" | cut -d' ' -f1)

net_start "$1" --ip "$OUR_IP/24" -- sink "$BULK_PORT" --rcvbuf "$RCVBUF" --read-size "$READ_SIZE" \
    --read-delay-ms "$DELAY_MS" --slow-bytes "$SLOW_BYTES"
wait_log 'listening on'

# Captures only our segments that advertise a zero window (the window field
# is at offset 14 of the TCP header), without SYN or RST.
ns_bg tshark -n -i "$IF" -w "$WORK/zero.pcap" \
    -f "tcp and src host $OUR_IP and tcp[14:2] = 0 and tcp[tcpflags] & (tcp-syn|tcp-rst) = 0" 2>"$WORK/tshark.log"
tshark_pid=${BG_PIDS[-1]}
wait_for "$WAIT_S" grep -q 'Capturing on' "$WORK/tshark.log" || {
    cat "$WORK/tshark.log" >&2
    fail "tshark did not start capturing"
}

ns timeout 120 nc -N -w 30 "$OUR_IP" "$BULK_PORT" <"$WORK/data" >/dev/null &
nc_pid=$!
BG_PIDS+=("$nc_pid")
# While the reader is slow, Linux's sender sees the closed window.
sleep 1
ns ss -tin "dst $OUR_IP" >"$WORK/ss.txt" 2>&1 || true
log "Linux's sender while we read slowly: $(grep -o 'snd_wnd:[0-9]*\|backoff:[0-9]*\|notsent:[0-9]*' "$WORK/ss.txt" |
    tr '\n' ' ')"

rc=0
wait "$nc_pid" || rc=$?
[[ $rc -eq 0 ]] || fail "nc to our sink failed (status $rc)"
wait_our_exit "$WAIT_S"

kill -INT "$tshark_pid" 2>/dev/null || true
wait_gone "$tshark_pid" "$WAIT_S" || fail "tshark did not stop"
zero=$(tshark -n -r "$WORK/zero.pcap" 2>/dev/null | wc -l)
((zero > 0)) || fail "no zero-window segment from us: the window never closed"
log "we advertised a zero window $zero times; the window reopened and the transfer finished"

got_bytes=$(result_field bytes)
got_sha=$(result_field sha256)
[[ "$got_bytes" == "$BYTES" ]] || fail "our sink read $got_bytes bytes of $BYTES"
[[ "$got_sha" == "$want_sha" ]] || fail "SHA-256 differs: ours $got_sha, the file's $want_sha"
log "$got_bytes bytes, SHA-256 matches, $(result_field seconds) s"
probes=$(ns nstat -asz TcpExtTCPWinProbe 2>/dev/null | awk '/TcpExtTCPWinProbe/ { print $2 }')
[[ -z "$probes" ]] || log "Linux sent $probes zero-window probes"
log "PASS"
