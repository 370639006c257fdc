# net-plan.sh: the dom0 side of net.sh (run by xen-run.sh with dom0-lib.sh
# loaded): the network images against dom0's tools on the bridge, one
# guest after another in one boot. What dom0's clients saw goes back in
# client.log, one "CHECK ok" or "CHECK FAIL: why" line each; the guests'
# consoles and end reasons come back as usual. net.sh reads them all.
set -u

ip=192.0.2.2
site=/tmp/site
log=$(result_path client.log)
: >"$log"
pass() { echo "$1 ok" >>"$log"; }
fail() { echo "$1 FAIL: ${*:2}" >>"$log"; say "$1 FAIL: ${*:2}"; }
same() { [ "$(md5sum <"$1")" = "$(md5sum <"$2")" ]; }

tar -C /tmp -xf "$(staged_file site.tar)" # the archive holds site/...

# ---- tcp-echo: ping, 10 MiB echoed, xl shutdown during traffic ---------------
if guest_start echo tcp-echo 'extra="--ip 192.0.2.2/24"' &&
    guest_wait_line echo 'serving on port 7' 60; then
    if ping -c 3 -W 5 "$ip" >/tmp/ping.out 2>&1; then pass ping; else fail ping "$(tail -n 2 /tmp/ping.out)"; fi
    dd if=/dev/urandom of=/tmp/in bs=1048576 count=10 2>/dev/null
    t0=$EPOCHSECONDS
    timeout 240 nc "$ip" 7 </tmp/in >/tmp/out
    rc=$?
    say "echo: nc rc $rc, $(wc -c </tmp/out) of $(wc -c </tmp/in) bytes back in $((EPOCHSECONDS - t0)) s"
    if same /tmp/in /tmp/out; then pass echo; else fail echo "nc rc $rc, $(wc -c </tmp/out) bytes back, MD5 differs"; fi
    rm -f /tmp/in /tmp/out
    # Traffic in flight when the toolstack asks for a poweroff.
    (dd if=/dev/zero bs=1048576 count=200 2>/dev/null | timeout 60 nc "$ip" 7 >/dev/null 2>&1) &
    traffic=$!
    tx_sleep 2
    guest_stamp echo requested
    xl shutdown echo || say "xl shutdown echo failed"
    guest_wait_end echo 60 || say "echo: still running 60 s after xl shutdown"
    wait "$traffic" # only ours: dom0-lib.sh has children of its own
fi
guest_finish echo

# ---- www: the site, validators, ranges, malformed requests, xl shutdown -------
# req TEXT: sends TEXT (printf escapes) and prints the status line.
req() { printf "$1" | timeout 20 nc "$ip" 8080 >/tmp/resp; head -n 1 /tmp/resp | tr -d '\r'; }
if guest_start www www 'extra="--ip 192.0.2.2/24"' &&
    guest_wait_line www 'serving .* on port 8080' 60; then
    u=http://$ip:8080
    ok=1
    for f in index.html logo.png style.css docs/index.html; do
        rm -f /tmp/got
        timeout 20 wget -q -O /tmp/got "$u/$f" && same /tmp/got "$site/$f" || { ok=0; say "www: /$f differs"; }
    done
    rm -f /tmp/got
    timeout 20 wget -q -O /tmp/got "$u/" && same /tmp/got "$site/index.html" || { ok=0; say "www: / differs"; }
    timeout 20 wget -q -O /tmp/got "$u/nope" 2>/tmp/err
    grep -q 404 /tmp/err || { ok=0; say "www: no 404 for /nope: $(cat /tmp/err)"; }
    if ((ok)); then pass www_site; else fail www_site "see the plan's log"; fi

    req 'HEAD /index.html HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n' >/dev/null
    etag=$(grep -i '^etag:' /tmp/resp | cut -d' ' -f2- | tr -d '\r')
    ok=1
    # busybox wget sends the header and reports what is not a 200.
    timeout 20 wget -q -O /tmp/got --header "If-None-Match: $etag" "$u/index.html" 2>/tmp/err
    grep -q 'HTTP/1.1 304' /tmp/err || { ok=0; say "www: wget If-None-Match: $(cat /tmp/err)"; }
    timeout 20 wget -q -O /tmp/got --header "Range: bytes=10-19" "$u/index.html" 2>/tmp/err
    grep -q 'HTTP/1.1 206' /tmp/err || { ok=0; say "www: wget Range: $(cat /tmp/err)"; }
    s=$(req "GET /index.html HTTP/1.1\r\nHost: g\r\nIf-None-Match: $etag\r\nConnection: close\r\n\r\n")
    [ "$s" = "HTTP/1.1 304 Not Modified" ] || { ok=0; say "www: If-None-Match: $s"; }
    s=$(req "GET /index.html HTTP/1.1\r\nHost: g\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n")
    [ "$s" = "HTTP/1.1 206 Partial Content" ] || { ok=0; say "www: Range: $s"; }
    tail -c 10 /tmp/resp >/tmp/part
    dd if="$site/index.html" bs=1 skip=10 count=10 2>/dev/null >/tmp/want
    cmp -s /tmp/part /tmp/want || { ok=0; say "www: the 206's body is not bytes 10-19"; }
    if ((ok)); then pass www_conditional; else fail www_conditional "see the plan's log"; fi

    ok=1
    s=$(req 'GET /index.html HTTP/1.1\r\nHost: g\r\nBad Header Line\r\n\r\n')
    [ "$s" = "HTTP/1.1 400 Bad Request" ] || { ok=0; say "www: a header without a colon: $s"; }
    s=$(req 'G\001T / HTTP/1.1\r\n\r\n')
    case $s in "HTTP/1.1 400"*) ;; *) ok=0; say "www: a control byte in the method: $s" ;; esac
    rm -f /tmp/got
    timeout 20 wget -q -O /tmp/got "$u/docs/index.html" && same /tmp/got "$site/docs/index.html" ||
        { ok=0; say "www: no page after the 400s"; }
    if ((ok)); then pass www_malformed; else fail www_malformed "see the plan's log"; fi

    # Requests in flight when the toolstack asks for a poweroff.
    (n=0; while [ $n -lt 500 ]; do timeout 5 wget -q -O /dev/null "$u/index.html" || break; n=$((n + 1)); done) &
    traffic=$!
    tx_sleep 2
    guest_stamp www requested
    xl shutdown www || say "xl shutdown www failed"
    guest_wait_end www 60 || say "www: still running 60 s after xl shutdown"
    wait "$traffic" # only ours: dom0-lib.sh has children of its own
fi
guest_finish www

# ---- DHCP on the second of two vifs -------------------------------------------
printf 'start 192.0.2.100\nend 192.0.2.110\ninterface %s\nlease_file /tmp/udhcpd.leases\noption subnet 255.255.255.0\noption lease 600\n' \
    "$BRIDGE" >/tmp/udhcpd.conf
: >/tmp/udhcpd.leases
udhcpd -f /tmp/udhcpd.conf >/tmp/udhcpd.log 2>&1 &
dhcpd=$!
if guest_start dhcp tcp-echo 'vif=["bridge=xenbr0","bridge=xenbr0"]' 'extra="--vif 1 --dhcp"' &&
    guest_wait_line dhcp 'lease: address' 90; then
    leased=$(sed -n 's/.*lease: address \([0-9.]*\) .*/\1/p' "$(guest_console dhcp)" | head -n 1)
    guest_wait_line dhcp 'serving on port 7' 30
    if [ -n "$leased" ] && ping -c 2 -W 5 "$leased" >/dev/null 2>&1 &&
        [ "$( (echo leased; tx_sleep 2) | timeout 10 nc "$leased" 7)" = leased ]; then
        pass dhcp_vif1
    else
        fail dhcp_vif1 "address '$leased' does not answer"
    fi
    guest_stamp dhcp requested
    xl shutdown dhcp || say "xl shutdown dhcp failed"
    guest_wait_end dhcp 60 || say "dhcp: still running 60 s after xl shutdown"
fi
guest_finish dhcp
kill "$dhcpd" 2>/dev/null
exit 0
