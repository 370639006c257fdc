#!/bin/bash
# UDP echo against Linux: socat in the namespace sends one datagram of
# random bytes at a time and must get exactly the same bytes back, from one
# byte up to the largest datagram IPv4 can carry (fragmented both ways).
# Usage: udp_echo.sh UDP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"

net_require root tun ip ping socat cmp
net_start "$1" --ip "$OUR_IP/24"
wait_log 'serving on'
# Linux learns our MAC first, so the first datagram does not wait on ARP.
ping_all "$OUR_IP" -c 1 -W 2 -w 10

# Sends file $1 as one datagram to $2:$3 and checks the reply byte for byte.
# socat reads the file in one block (-b) and so sends one datagram; after
# end of input it waits up to -t seconds for the reply.
echo_check() {
    local payload=$1 dst=$2 port=$3 reply="$1.reply"
    ns timeout 20 socat -b 65536 -t 2 -T 5 - "UDP:$dst:$port" <"$payload" >"$reply" ||
        fail "socat to $dst:$port failed"
    cmp "$payload" "$reply" ||
        fail "echo of $(stat -c %s "$payload") bytes differs (reply: $(stat -c %s "$reply") bytes)"
    log "echoed $(stat -c %s "$payload") bytes intact"
}

sizes=(1 1000 1472 1473 8000 30000 65507)
for n in "${sizes[@]}"; do
    head -c "$n" /dev/urandom >"$WORK/p$n"
    echo_check "$WORK/p$n" "$OUR_IP" 7
done

net_stop_echo
echoed=$(stat_of udp_out)
((echoed == ${#sizes[@]})) || fail "udp_out=$echoed, expected ${#sizes[@]}"
grep -q "stopped after echoing ${#sizes[@]} datagrams" "$ECHO_LOG" || fail "no 'stopped after' line"
log "PASS"
