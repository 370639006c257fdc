#!/bin/bash
# DHCP against dnsmasq: our udp-echo starts with --dhcp, gets a lease from
# dnsmasq on the Linux side, serves on the leased address (UDP echo and
# ping from Linux), renews the lease, and releases it when stopped.
# dnsmasq's shortest lease is 2 minutes; it is told to ask for renewal
# after 10 s (option 58), and a client that takes the usual half of the
# lease instead still renews within the wait below.
# Usage: dhcp.sh UDP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DNSMASQ=/usr/sbin/dnsmasq
PORT=7007
net_require root tun ip ping socat "$DNSMASQ"
NET_PERSISTENT_TAP=1 net_start "$1" --dhcp --port "$PORT"

# -d: foreground, no pid file, no change of user; --port=0: no DNS. Not
# through the ns function: ip execs dnsmasq, so $! is dnsmasq's own pid.
ip netns exec "$NS" "$DNSMASQ" -d --conf-file=/dev/null --port=0 --bind-interfaces --interface="$IF" --except-interface=lo \
    --dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,2m --dhcp-option=option:T1,10 \
    --dhcp-option=option:T2,100 --dhcp-leasefile="$WORK/leases" --log-dhcp \
    >"$WORK/dnsmasq.log" 2>&1 &
BG_PIDS+=($!)

dump_dnsmasq() {
    echo "---- dnsmasq log (last 30 lines)"
    tail -n 30 "$WORK/dnsmasq.log"
    echo "---- lease file"
    cat "$WORK/leases" 2>/dev/null || true
}

# The client backs off to at most 64 s between tries; the first DISCOVERs
# may have gone out before the link was up.
if ! wait_for 70 grep -q 'main: lease: address ' "$ECHO_LOG"; then
    dump_dnsmasq
    fail "no lease within 70 s"
fi
wait_log 'serving on'
line=$(grep 'main: lease: address ' "$ECHO_LOG" | head -n 1)
log "our log: $line"
leased=$(sed -n 's/.*lease: address \([0-9.]*\) .*/\1/p' <<<"$line")
[[ "$leased" =~ ^10\.77\.0\.(5[0-9]|60)$ ]] || fail "leased address '$leased' is outside dnsmasq's range"
grep -q "serving on $leased:$PORT" "$ECHO_LOG" || fail "udp-echo does not say it serves on $leased:$PORT"
grep -qi "$OUR_MAC $leased " "$WORK/leases" || {
    dump_dnsmasq
    fail "dnsmasq's lease file has no lease of $leased to $OUR_MAC"
}

# The lease is in use: Linux reaches us at the leased address.
ping_all "$leased" -c 20 -i 0.05 -W 2 -w 20
head -c 1200 /dev/urandom >"$WORK/payload"
ns timeout 20 socat -b 65536 -t 2 -T 5 - "UDP:$leased:$PORT" <"$WORK/payload" >"$WORK/reply" ||
    fail "socat to $leased:$PORT failed"
cmp "$WORK/payload" "$WORK/reply" || fail "UDP echo on the leased address differs"
log "UDP echo and ping on $leased work"

# Renewal: a second DHCPACK from dnsmasq. T1 is 10 s here, 60 s at worst.
acks_at_least() { (($(grep -c 'DHCPACK(' "$WORK/dnsmasq.log") >= $1)); }
if ! wait_for 80 acks_at_least 2; then
    dump_dnsmasq
    fail "the lease was not renewed within 80 s"
fi
log "dnsmasq acknowledged a renewal"
# Still reachable on the same address after the renewal.
ping_all "$leased" -c 5 -i 0.1 -W 2 -w 10

net_stop_echo
renewals=$(stat_of dhcp_renewals)
((renewals >= 1)) || fail "dhcp_renewals=$renewals after dnsmasq acknowledged a renewal"
# The client gives the address back on the way out.
if ! wait_for 5 grep -q "DHCPRELEASE.*$leased" "$WORK/dnsmasq.log"; then
    dump_dnsmasq
    fail "no DHCPRELEASE for $leased when udp-echo stopped"
fi
log "PASS"
