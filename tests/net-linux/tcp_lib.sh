# Shared by the TCP tests against Linux; sourced after lib.sh, not run.
# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
#
# Our process (tcp-echo or tcp-bulk) runs as lib.sh's "echo" process: its
# log (stderr) is $ECHO_LOG, what it prints on its console (stdout) is
# $WORK/echo.out, where tcp-bulk writes its result lines:
#
#     bytes=N seconds=S mbit_per_s=R sha256=HEX

OUT_FILE="$WORK/echo.out"
BULK_PORT=5001
# The fault mix of DESIGN.md §7: loss of what Linux receives from nftables
# on Linux's side; loss of what Linux sends, and the rest, from our
# process's fault-injecting netif. (Linux's TCP hands its output hook GSO
# bursts of up to 64 KiB even with the device's offloads off, so a drop
# there would take a whole burst; our netif sees single segments.)
FAULT_LOSS_PERCENT=${FAULT_LOSS_PERCENT:-5}
FAULT_ARGS=(--faults "tx:dup=1%,reorder=25%,delay=20ms" --faults "rx:loss=${FAULT_LOSS_PERCENT}%,dup=1%,reorder=25%")

# Skips unless our binary ($1) has the fault-injecting netif option.
require_faults_option() {
    "$1" --help 2>&1 | grep -q -- '--faults' ||
        skip "$(basename "$1") has no --faults option (the fault-injecting netif in unix_net_main.c)"
}

# Waits up to $1 seconds for our process to end by itself; fails unless it
# exits with status 0 and printed its stats line.
wait_our_exit() {
    local secs=$1 rc=0
    wait_gone "$ECHO_PID" "$secs" || fail "our process did not finish within ${secs}s"
    wait "$ECHO_PID" || rc=$?
    ECHO_PID=
    [[ $rc -eq 0 ]] || fail "our process exited with status $rc"
    grep -q '^stats: ' "$ECHO_LOG" || fail "our process printed no stats line"
}

# Field $1 (bytes, seconds, mbit_per_s, sha256) of result line $2 (1: the
# first) in our output.
result_field() {
    local line
    line=$(grep '^bytes=' "$OUT_FILE" | sed -n "${2:-1}p")
    [[ -n "$line" ]] || fail "no result line ${2:-1} in our output"
    tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"
}

# A counter from our stats line, or empty if the line has none of that name
# (for counters that only some builds print).
stat_maybe() {
    grep '^stats: ' "$ECHO_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# Drops $1 percent of the TCP segments that arrive on the tap's kernel side
# (nftables; this kernel has no netem).
nft_loss() {
    local pct=$1
    ns nft add table inet tessera || fail "nft: cannot add a table"
    ns nft add chain inet tessera in '{ type filter hook input priority 0; policy accept; }'
    ns nft add rule inet tessera in iifname "$IF" meta l4proto tcp numgen random mod 100 '<' "$pct" counter drop
}

# Packets the nft_loss rule dropped so far.
nft_dropped() {
    ns nft list table inet tessera | sed -n 's/.*counter packets \([0-9]*\) bytes.*/\1/p' |
        awk '{ n += $1 } END { print n + 0 }'
}

# Writes $2 bytes of random data to file $1.
random_file() {
    head -c "$2" /dev/urandom >"$1" || fail "cannot write $2 random bytes to $1"
}

# Runs a command in the namespace in the background; it is ended on exit.
ns_bg() {
    ns "$@" &
    BG_PIDS+=($!)
}
