#!/bin/bash
# Malformed and truncated frames from Linux (malformed.py, with scapy): our
# stack drops each one and counts it, keeps answering ping after every
# batch, and exits cleanly on SIGTERM with its bad-packet counters at least
# where the batches put them.
# Usage: malformed.sh UDP_ECHO_BINARY STACK_HEADER (net/stack.h, for bounds)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

net_require root tun ip ping scapy
# The reassembly bound decides how many of a flood of fragments are dropped.
reasm_max=$(sed -n 's/^#define NET_REASM_MAX *\([0-9]*\).*/\1/p' "$2")
[[ -n "$reasm_max" ]] || fail "no NET_REASM_MAX in $2"

net_start "$1" --ip "$OUR_IP/24"
wait_log 'serving on'

rc=0
ns timeout 180 /usr/bin/python3 "$(dirname "$0")/malformed.py" --iface "$IF" --dst-mac "$OUR_MAC" \
    --dst-ip "$OUR_IP" --src-ip "$LINUX_IP" --reasm-max "$reasm_max" >"$WORK/malformed.out" 2>&1 || rc=$?
grep -v '^expect ' "$WORK/malformed.out" || true
((rc == 0)) || fail "malformed.py failed (status $rc)"
echo_alive || fail "udp-echo died under malformed frames"

net_stop_echo
grep '^stats: ' "$ECHO_LOG"
bad=0
while read -r _ counter want; do
    have=$(stat_of "$counter")
    if ((have < want)); then
        echo "FAIL: $counter=$have, expected at least $want" >&2
        bad=1
    else
        log "$counter=$have (at least $want)"
    fi
done < <(grep '^expect ' "$WORK/malformed.out")
((bad == 0)) || fail "counters below what the batches must have moved them to"
# Linux cannot hand a tap a frame shorter than an Ethernet header, so
# eth_bad stays out of reach here; it is reported, not checked.
log "eth_bad=$(stat_of eth_bad) (not reachable through a tap)"
log "PASS"
