#!/usr/bin/env bash
# net.sh: the network images on the real hypervisor (in QEMU), against
# dom0's busybox on the bridge. One boot runs the three guests of
# net-plan.sh; each check then reads what came back, so that each is a
# test of its own:
#
#   net.sh boot RESULTS BUILD_DIR    boots, leaves the results in RESULTS
#   net.sh check RESULTS BUILD_DIR NAME
#
# Checks: ping (dom0 pings tcp-echo), echo (10 MiB through tcp-echo and
# back, the same MD5), echo_shutdown (xl shutdown during a transfer: a
# poweroff, the vif disconnected, every grant back), www_site (busybox
# wget gets the site, byte for byte, and a 404), www_conditional (304 for
# If-None-Match, 206 with the right bytes for a Range, by wget and by nc),
# www_malformed (400 for malformed requests, then the next page served),
# www_shutdown (xl shutdown with requests in flight: as for echo),
# dhcp_vif1 (two vifs, --vif 1 --dhcp: a lease from dom0's udhcpd, and
# the leased address pings and echoes).
# Exit status: 0 passed, 1 failed, 77 QEMU cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/check-lib.sh"
[[ $# -ge 3 ]] || { echo "usage: $0 boot|check RESULTS BUILD_DIR [NAME]" >&2; exit 2; }
mode=$1 out=$2 build=$3
apps=$build/apps

if [[ $mode == boot ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    tar -C "$here/../../apps/www" -cf "$tmp/site.tar" site
    xen_boot "$out" -T 600 -g "$apps/tcp-echo.xl" -g "$apps/www.xl" -f "$tmp/site.tar" "$here/net-plan.sh"
fi

[[ $mode == check && $# -eq 4 ]] || { echo "usage: $0 check RESULTS BUILD_DIR NAME" >&2; exit 2; }
xen_check_start "$out" "$4"
client_ok() {
    grep -qx "$1 ok" "$out/client.log" 2>/dev/null ||
        fail "dom0's client: $(grep "^$1 " "$out/client.log" 2>/dev/null || echo "no result for $1")"
}
# A clean stop: the app saw the request, the vif came apart with every
# grant back, the domain powered off.
clean_stop() {
    reason_is "$1" poweroff
    console_matches "$1" 'the toolstack asks for a poweroff'
    console_matches "$1" '^stats: rx_frames=[1-9]'
    console_matches "$1" 'vif[0-9]+: disconnected; grants in use 0 '
    console_matches "$1" 'main: grants in use: 0$'
}

case $name in
ping) client_ok ping ;;
echo) client_ok echo ;;
echo_shutdown)
    clean_stop echo
    console_matches echo 'vif0: connected to backend domain 0'
    ;;
www_site) client_ok www_site ;;
www_conditional) client_ok www_conditional ;;
www_malformed) client_ok www_malformed ;;
www_shutdown)
    clean_stop www
    console_matches www 'www: stopping: finishing the requests in progress'
    ;;
dhcp_vif1)
    client_ok dhcp_vif1
    console_matches dhcp 'vif1: connected to backend domain 0'
    console_matches dhcp 'lease: address 192\.0\.2\.1(0[0-9]|10) '
    clean_stop dhcp
    ;;
*)
    echo "unknown check '$name'" >&2
    exit 2
    ;;
esac
if ((failed)); then
    for g in echo www dhcp; do
        echo "--- $g's console:"
        cat "$out/$g.console" 2>/dev/null || echo "(none)"
    done
    echo "--- dom0's client.log:"
    cat "$out/client.log" 2>/dev/null || echo "(none)"
    exit 1
fi
echo "ok: $name"
