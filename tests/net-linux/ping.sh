#!/bin/bash
# Linux pings our stack over the tap: 1000 echo requests at the default
# size and at the largest unfragmented one, then fragmented ones (our
# stack reassembles the request and fragments its reply), all answered.
# Usage: ping.sh UDP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"

net_require root tun ip ping
net_start "$1" --ip "$OUR_IP/24"
wait_log 'serving on'

# -w bounds each run; root may ping every 2 ms.
ping_all "$OUR_IP" -c 1000 -i 0.002 -W 2 -w 60 -s 56
ping_all "$OUR_IP" -c 1000 -i 0.002 -W 2 -w 60 -s 1472
ping_all "$OUR_IP" -c 200 -i 0.005 -W 2 -w 60 -s 3000
ping_all "$OUR_IP" -c 200 -i 0.005 -W 2 -w 60 -s 8000
# The largest ICMP echo IPv4 can carry: 45 fragments each way.
ping_all "$OUR_IP" -c 20 -i 0.05 -W 2 -w 60 -s 65507

net_stop_echo
answered=$(stat_of icmp_echo_answered)
reasm=$(stat_of reasm_ok)
frags=$(stat_of ip_out_fragments)
log "stats: icmp_echo_answered=$answered reasm_ok=$reasm ip_out_fragments=$frags"
((answered >= 2420)) || fail "icmp_echo_answered=$answered, expected at least 2420"
((reasm >= 420)) || fail "reasm_ok=$reasm, expected at least 420 reassembled requests"
((frags >= 420 * 2)) || fail "ip_out_fragments=$frags, expected the big replies to be fragmented"
log "PASS"
