# shellcheck shell=bash
# plan.sh: the dom0 side of bench/xen-www/run (run there by
# tests/xen/xen-run.sh, with tests/xen/dom0-lib.sh loaded).
#
# Usage (as xen-run.sh's PLAN, with the site staged as -f site.tar):
#   plan.sh ROUNDS REQUESTS POLL_MS IMAGE IMAGE_EXTRA LINUX_IMAGE
#
# ROUNDS rounds; each first times REQUESTS busybox wget in dom0 against a
# closed port of dom0's own (the client's floor: fork, exec, a refused
# connection), then serves the site from the Tessera image IMAGE (as
# tessera-N, with extra="IMAGE_EXTRA") and from the Linux guest LINUX_IMAGE
# (as linux-N), one after the other, never both at once, at the same
# address; which goes first alternates. For each guest:
#
#   1. a poller started just before `xl create` tries every POLL_MS
#      milliseconds until a busybox wget of http://192.0.2.2/ succeeds
#      (see poll), and stamps first_response in ID.times (seconds since
#      xl create started);
#   2. index.html and logo.png must come back byte for byte;
#   3. REQUESTS wget of index.html, then of logo.png, to /dev/null, one
#      after another, timed with $EPOCHREALTIME;
#   4. xl shutdown (both obey it), xl destroy after 20 s, one second's
#      pause.
#
# What dom0 saw goes back in www-bench.log, one line per measure:
#   ID poll attempts=N wgets=W window_us=U  (U: from the start of the
#                                     last failed attempt to the first
#                                     success; each attempt in ID.poll)
#   ID index|logo ok=N fail=F us=U min_us=.. p50_us=.. p90_us=.. max_us=..
#                                    (U: the whole loop; then per request)
#   floor-N floor (the same)
# and "ID FAIL: why" lines; the plan exits 1 if anything failed.
set -u
rounds=$1 requests=$2 poll_ms=$3 image=$4 image_extra=$5 linux_image=$6
ip=192.0.2.2
url=http://$ip
site=/tmp/site
log=$(result_path www-bench.log)
: >"$log"
failed=0
printf -v poll_s '%d.%03d' $((poll_ms / 1000)) $((poll_ms % 1000))
# one loop of requests may take 30 s plus 200 ms a request
loop_limit=$((30 + requests / 5))

tar -C /tmp -xf "$(staged_file site.tar)" # the archive holds site/...

fail() {
    echo "$1 FAIL: ${*:2}" >>"$log"
    say "$1 FAIL: ${*:2}"
    failed=1
}
same() { [ "$(md5sum <"$1")" = "$(md5sum <"$2")" ]; }

# A request to an address nobody answers yet fails once ARP gives up:
# after 3 probes 1 s apart by default, which would make the poll's
# resolution a second; 10 ms apart, it fails in about 30 ms. The error
# reaches the client as an ICMP message from dom0 to itself, on the
# loopback device, which dom0's /init leaves down (and connections to
# dom0's own addresses, the floor's, need it too).
echo 10 >"/proc/sys/net/ipv4/neigh/$BRIDGE/retrans_time_ms" || say "could not shorten ARP's retries"
ip link set lo up || say "could not bring lo up"
# A bridge takes the lowest MAC address of its ports unless it was given
# one: each guest's vif joining xenbr0 would change its address, which
# flushes dom0's ARP entries, and a connection waiting for ARP then loses
# its SYN without an error (a second until TCP sends it again).
ip link set "$BRIDGE" address 02:00:c0:00:02:01 || say "could not fix $BRIDGE's MAC address"

# fetch_loop N URL [floor]: N busybox wget of URL to /dev/null, one after
# another; prints "ok=N fail=F us=U min_us=.. p50_us=.. p90_us=.. max_us=.."
# (the whole loop, then each request's time). It stops after 5 failures in
# a row, unless every request is meant to fail (floor). Run it under
# timeout.
# shellcheck disable=SC2317 # (called by `bash -c`, through export -f)
fetch_loop() {
    local n=$1 u=$2 floor=${3:-} i ok=0 fail=0 run=0 t0 t1 a b times=()
    t0=$EPOCHREALTIME
    b=$t0
    for ((i = 0; i < n; i++)); do
        a=$b
        if wget -q -O /dev/null "$u" 2>/dev/null; then
            ok=$((ok + 1)) run=0
        else
            fail=$((fail + 1)) run=$((run + 1))
        fi
        b=$EPOCHREALTIME
        times+=($(((${b%.*} - ${a%.*}) * 1000000 + 10#${b#*.} - 10#${a#*.})))
        [[ -z $floor && $run -ge 5 ]] && break
    done
    t1=$b
    printf 'ok=%d fail=%d us=%d ' "$ok" "$fail" \
        $(((${t1%.*} - ${t0%.*}) * 1000000 + 10#${t1#*.} - 10#${t0#*.}))
    printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        printf "min_us=%d p50_us=%d p90_us=%d max_us=%d\n", v[1], v[int((NR + 1) / 2)], v[int((NR * 9 + 9) / 10)], v[NR] }'
}
export -f fetch_loop

# timed ID WHAT N URL [floor]: one fetch_loop, bounded, into the log.
timed() {
    local r
    r=$(timeout "$loop_limit" bash -c 'fetch_loop "$@"' fetch_loop "${@:3}")
    if [[ $r == ok=* ]]; then
        echo "$1 $2 $r" >>"$log"
    else
        fail "$1" "$2: no result in $loop_limit s"
    fi
}

# poll ID: until a wget of / succeeds (at most 120 s, 10000 attempts),
# stamps first_response and writes "attempts=N wgets=W window_us=U" to
# /tmp/poll-ID, and one line per attempt to the result ID.poll. An
# attempt is first a connection by bash itself (`: <>/dev/tcp/...`), which
# costs dom0 no fork while `xl create` needs its one vCPU: it fails in
# about 30 ms (ARP) or at once (refused); once one is accepted, a busybox
# wget (bounded by `timeout 2`) is the attempt, and the first that gets
# the page ends the poll. The window runs from the start of the last
# attempt that failed to that success. (A connection whose SYN is lost
# waits for TCP's own retries, about two minutes at most.)
poll() {
    local id=$1 n=0 w=0 t end res start_us=0 conn_us us fail_us=-1 t0_us trace
    trace=$(result_path "$id.poll")
    echo "# attempt start_us connected_us end_us result (us since the poll began; result" \
        "0: no connection, 1: connected but wget failed, 2: wget got the page)" >"$trace"
    t=$EPOCHREALTIME
    end=$((${t%.*} + 120))
    t0_us=$((${t%.*} * 1000000 + 10#${t#*.}))
    while ((n < 10000 && ${t%.*} < end)); do
        start_us=$((${t%.*} * 1000000 + 10#${t#*.}))
        n=$((n + 1))
        res=0
        conn_us=-
        if : 2>/dev/null <>"/dev/tcp/$ip/80"; then
            t=$EPOCHREALTIME
            conn_us=$((${t%.*} * 1000000 + 10#${t#*.} - t0_us))
            w=$((w + 1))
            if timeout 2 wget -q -O /dev/null "$url/" 2>/dev/null; then res=2; else res=1; fi
        fi
        t=$EPOCHREALTIME
        us=$((${t%.*} * 1000000 + 10#${t#*.}))
        echo "$n $((start_us - t0_us)) $conn_us $((us - t0_us)) $res" >>"$trace"
        if ((res == 2)); then
            # (a guest that was not created yet cannot be stamped: then the
            # address answered for something else)
            guest_stamp "$id" first_response || return 1
            ((fail_us >= 0)) || fail_us=$start_us
            echo "attempts=$n wgets=$w window_us=$((us - fail_us))" >"/tmp/poll-$id"
            return 0
        fi
        fail_us=$start_us
        tx_sleep "$poll_s"
        t=$EPOCHREALTIME
    done
    return 1
}

# serve ID IMAGE READY_ERE [XL_OVERRIDE...]
serve() {
    local id=$1 img=$2 re=$3 poller f
    shift 3
    # the previous guest had the same address and another MAC
    ip neigh flush dev "$BRIDGE" >/dev/null 2>&1
    rm -f "/tmp/poll-$id"
    poll "$id" &
    poller=$!
    if ! guest_start -r "$re" "$id" "$img" "$@"; then
        kill "$poller" 2>/dev/null
        wait "$poller"
        fail "$id" "xl create failed"
        return 1
    fi
    if ! wait "$poller" || [[ ! -s /tmp/poll-$id ]]; then
        fail "$id" "no HTTP response within 120 s"
        guest_finish "$id"
        return 1
    fi
    echo "$id poll $(cat "/tmp/poll-$id")" >>"$log"
    guest_wait_line "$id" "$re" 30 || fail "$id" "no line matching '$re'"
    for f in index.html logo.png; do
        rm -f /tmp/got
        if ! timeout 20 wget -q -O /tmp/got "$url/$f" || ! same /tmp/got "$site/$f"; then
            fail "$id" "/$f differs"
        fi
    done
    timed "$id" index "$requests" "$url/index.html"
    timed "$id" logo "$requests" "$url/logo.png"
    guest_stop "$id" 20
    guest_finish "$id"
    # what destroying it started in dom0 (the xl process that watched the
    # domain, hotplug scripts) settles before the next guest
    tx_sleep 1
}

for ((r = 1; r <= rounds; r++)); do
    timed "floor-$r" floor "$requests" "http://127.0.0.1:1/" floor
    if ((r % 2)); then order="tessera linux"; else order="linux tessera"; fi
    for who in $order; do
        if [[ $who == tessera ]]; then
            serve "tessera-$r" "$image" 'serving .* on port 80 ' "extra=\"$image_extra\""
        else
            serve "linux-$r" "$linux_image" '^linux-guest: serving'
        fi
    done
done
exit $failed
