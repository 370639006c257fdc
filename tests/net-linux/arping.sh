#!/bin/bash
# ARP against Linux: arping (Thomas Habets' arping, Debian's "arping"
# package; iputils' arping works too) gets our MAC for our address and
# nothing for an address we do not own, and after Linux has talked to us
# its neighbour table holds our MAC.
# Usage: arping.sh UDP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"

net_require root tun ip ping arping
net_start "$1" --ip "$OUR_IP/24"
wait_log 'serving on'

# Habets' arping names the interface with -i, iputils' with -I.
if arping --help 2>&1 | grep -q -- '-i <interface>'; then
    ifopt=-i
else
    ifopt=-I
fi

out=$(ns timeout 20 arping -c 3 -w 10 "$ifopt" "$IF" "$OUR_IP" 2>&1) || true
echo "$out"
replies=$(grep -ci "$OUR_MAC" <<<"$out" || true)
((replies == 3)) || fail "arping $OUR_IP: $replies replies from $OUR_MAC, expected 3"

# Not ours: no answer, whatever the stack has learnt.
out=$(ns timeout 20 arping -c 2 -w 4 "$ifopt" "$IF" 10.77.0.3 2>&1) || true
if grep -qi "$OUR_MAC" <<<"$out"; then
    echo "$out"
    fail "our stack answered ARP for 10.77.0.3, which is not its address"
fi

# Linux resolves us for its own traffic and keeps our MAC.
ping_all "$OUR_IP" -c 3 -i 0.2 -W 2 -w 10
neigh=$(ns ip neigh show "$OUR_IP" dev "$IF")
log "neighbour entry: $neigh"
grep -qi "lladdr $OUR_MAC" <<<"$neigh" || fail "Linux's neighbour entry for $OUR_IP is '$neigh', expected $OUR_MAC"

net_stop_echo
answered=$(stat_of arp_requests_answered)
((answered >= 3)) || fail "arp_requests_answered=$answered, expected at least the 3 arping requests"
log "PASS"
