#!/bin/bash
# Bulk TCP between Linux's stack and ours, every byte checked by SHA-256.
#   in:  Linux connects to our listener (nc sends a file; our tcp-bulk sink
#        hashes what it reads)
#   out: we connect to Linux's listener (our tcp-bulk send; socat on Linux
#        pipes what it reads into sha256sum)
# With "faults": 5% loss each way (nftables on Linux's side for what it
# receives, our fault-injecting netif for what we receive), and 1%
# duplication, 25% reordering and 20 ms delay from our fault-injecting netif
# (TCP_FAULT_BYTES, default 2 MiB; the optimised build's tests ask for
# 100 MiB). Without faults, the tap offers TSO and checksum offload and our
# sender uses them; the fault wrapper offers neither.
# Usage: tcp_bulk.sh TCP_BULK_BINARY in|out [faults]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"

bin=$1
dir=$2
faults=${3:-}
[[ "$dir" == in || "$dir" == out ]] || fail "direction must be 'in' or 'out', not '$dir'"

net_require root tun ip socat nc sha256sum
our_args=()
if [[ "$faults" == faults ]]; then
    net_require nft
    require_faults_option "$bin"
    our_args=("${FAULT_ARGS[@]}")
    bytes=${TCP_FAULT_BYTES:-$((2 * 1024 * 1024))}
    wait_s=${TCP_FAULT_WAIT_S:-240}
else
    bytes=${TCP_BULK_BYTES:-$((100 * 1024 * 1024))}
    wait_s=${TCP_BULK_WAIT_S:-240}
fi

# Turns on the loss once Linux's side is set up.
start_loss() {
    if [[ "$faults" == faults ]]; then
        nft_loss "$FAULT_LOSS_PERCENT"
        log "nftables drops ${FAULT_LOSS_PERCENT}% of the TCP segments Linux receives; ours: ${FAULT_ARGS[*]}"
    fi
}

# Checks our transfer's line against what Linux saw: $1 bytes, $2 SHA-256.
check_result() {
    local want_bytes=$1 want_sha=$2 got_bytes got_sha
    got_bytes=$(result_field bytes)
    got_sha=$(result_field sha256)
    [[ "$got_bytes" == "$want_bytes" ]] || fail "ours counted $got_bytes bytes, Linux $want_bytes"
    [[ "$got_sha" == "$want_sha" ]] || fail "SHA-256 differs: ours $got_sha, Linux's $want_sha"
    log "$got_bytes bytes, SHA-256 $got_sha on both sides, $(result_field seconds) s," \
        "$(result_field mbit_per_s) Mbit/s"
}

if [[ "$dir" == in ]]; then
    # Linux client -> our listener.
    random_file "$WORK/data" "$bytes"
    want_sha=$(sha256sum "$WORK/data" | cut -d' ' -f1)
    net_start "$bin" --ip "$OUR_IP/24" "${our_args[@]}" -- sink "$BULK_PORT"
    wait_log 'listening on'
    start_loss
    # -N: shut down our side after the file, then wait for the peer's FIN.
    # A bounded wait: -w ends a connection idle that long.
    ns timeout "$wait_s" nc -N -w 30 "$OUR_IP" "$BULK_PORT" <"$WORK/data" >"$WORK/nc.out" ||
        fail "nc to our sink failed or took over ${wait_s}s"
    wait_our_exit "$WAIT_S"
    [[ ! -s "$WORK/nc.out" ]] || fail "our sink sent data back"
    check_result "$bytes" "$want_sha"
    log "Linux client to our listener: PASS"
else
    # Our client -> Linux listener. Ours starts first (it owns the tap) and
    # retries its connect until Linux listens.
    net_start "$bin" --ip "$OUR_IP/24" "${our_args[@]}" -- send "$LINUX_IP" "$BULK_PORT" "$bytes" \
        --retry-ms $((WAIT_S * 1000))
    start_loss
    # socat closes after the end of our stream, which is what our sender
    # waits for; the pipe's result goes to a file.
    (ns socat -u "TCP-LISTEN:$BULK_PORT,reuseaddr" STDOUT | tee >(wc -c >"$WORK/linux.bytes") |
        sha256sum | cut -d' ' -f1 >"$WORK/linux.sha") &
    BG_PIDS+=($!)
    wait_our_exit "$wait_s"
    wait_for "$WAIT_S" test -s "$WORK/linux.sha" || fail "Linux's side gave no SHA-256"
    wait_for "$WAIT_S" test -s "$WORK/linux.bytes" || fail "Linux's side gave no byte count"
    linux_bytes=$(tr -d ' ' <"$WORK/linux.bytes")
    [[ "$linux_bytes" == "$bytes" ]] || fail "Linux received $linux_bytes bytes, we were to send $bytes"
    check_result "$bytes" "$(cat "$WORK/linux.sha")"
    if [[ "$faults" != faults ]]; then
        # TSO: several segments for each frame we wrote, on average.
        grep -q 'TSO and checksum offload' "$ECHO_LOG" || fail "our tap did not offer offload"
        segs=$(stat_maybe tcp_segs_out) frames=$(stat_maybe tx_frames)
        ((segs > 2 * frames)) || fail "TCP sent $segs segments in $frames frames: no TSO"
        log "TSO: $segs segments in $frames frames"
    fi
    log "our client to Linux's listener: PASS"
fi

if [[ "$faults" == faults ]]; then
    dropped=$(nft_dropped)
    ((dropped > 0)) || fail "nftables dropped nothing: the loss was not in effect"
    log "nftables dropped $dropped segments"
    rx_lost=$(stat_maybe faults_rx_lost)
    [[ "${rx_lost:-0}" -gt 0 ]] || fail "our netif lost nothing it received: the loss was not in effect"
    # Our side's counters, where the build prints them.
    for c in faults_tx_duplicated faults_tx_reordered faults_rx_duplicated faults_rx_reordered tcp_retransmits tcp_repairs_lost tcp_tlp_probes tcp_undos \
        tcp_fast_retransmits tcp_timeouts; do
        v=$(stat_maybe "$c")
        [[ -z "$v" ]] || log "$c=$v"
    done
fi
log "PASS"
