# Shared by the tests against Linux's own TCP/IP stack; sourced, not run.
#
# Each test gets a network namespace of its own (the Linux side, 10.77.0.1)
# and runs our udp-echo in the root namespace, where it owns the tap's file
# descriptor. The tap's kernel interface is moved into the namespace, so
# all traffic stays between the two and nothing else on the machine sees
# it. Everything is undone on exit, whatever happens.
#
#     source lib.sh
#     net_require root tun ping          # or SKIP (exit 77)
#     net_start "$ECHO_BIN" --ip 10.77.0.2/24
#     ns ping -c 1 10.77.0.2
#     net_stop_echo                      # SIGTERM, expects status 0
#     stat_of icmp_echo_answered

SKIP_CODE=77
LINUX_IP=10.77.0.1
OUR_IP=10.77.0.2
OUR_MAC=02:00:00:77:00:02
WAIT_S=${NET_WAIT_S:-10} # the longest any single wait may take, unless a test says otherwise

TEST_NAME=$(basename "$0" .sh)
# Names are unique per run ($$), so tests can run in parallel; interface
# names have at most 15 characters.
# A failed test keeps its logs in $WORK; TESSERA_KEEP_LOGS=1 keeps those of
# a passing one too.
NS="tessera-${TEST_NAME}-$$"
IF="tst$$"
WORK=$(mktemp -d "/tmp/tessera-${TEST_NAME}.XXXXXX")
ECHO_LOG="$WORK/echo.log"
ECHO_PID=
BG_PIDS=()
TAP_PERSISTENT=

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

skip() {
    printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"
    exit "$SKIP_CODE"
}

# Prints what our process said (the tail of its log), then fails.
fail() {
    printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
    dump_echo_log >&2
    exit 1
}

dump_echo_log() {
    if [[ -s "$ECHO_LOG" ]]; then
        echo "---- udp-echo log (last 40 lines): $ECHO_LOG"
        tail -n 40 "$ECHO_LOG"
        echo "----"
    fi
}

# Skips unless we are root and every named requirement is met: "root",
# "tun", or a program (a path or a name on PATH), or "scapy".
net_require() {
    local r
    for r in "$@"; do
        case "$r" in
        root) [[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces and a tap device)" ;;
        tun) [[ -c /dev/net/tun ]] || skip "/dev/net/tun is missing (modprobe tun)" ;;
        scapy) /usr/bin/python3 -c 'import scapy.all' 2>/dev/null ||
            skip "/usr/bin/python3 has no scapy (apt-get install python3-scapy)" ;;
        *) command -v "$r" >/dev/null 2>&1 || skip "$r is not installed" ;;
        esac
    done
}

# Runs a command in the Linux side's namespace.
ns() { ip netns exec "$NS" "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT
    # Our process first: it holds the tap, whose interface lives in the
    # namespace.
    if [[ -n "$ECHO_PID" ]] && kill -0 "$ECHO_PID" 2>/dev/null; then
        kill -TERM "$ECHO_PID" 2>/dev/null || true
        wait_gone "$ECHO_PID" 5 || kill -KILL "$ECHO_PID" 2>/dev/null || true
    fi
    local p
    for p in "${BG_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${BG_PIDS[@]}"; do
        wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null || true
    done
    if [[ -n "$TAP_PERSISTENT" ]]; then
        ip -n "$NS" link del "$IF" 2>/dev/null || ip link del "$IF" 2>/dev/null || true
    fi
    # Anything else still running in the namespace is ours too.
    if ip netns pids "$NS" >/dev/null 2>&1; then
        for p in $(ip netns pids "$NS"); do
            kill -KILL "$p" 2>/dev/null || true
        done
    fi
    ip netns del "$NS" 2>/dev/null || true
    if [[ $rc -ne 0 && $rc -ne $SKIP_CODE ]]; then
        echo "$TEST_NAME: failed (status $rc); logs kept in $WORK" >&2
    else
        [[ -n "${TESSERA_KEEP_LOGS:-}" ]] || rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
# A signal (ctest's timeout, ^C) ends the script through the same cleanup.
trap 'exit 143' TERM
trap 'exit 130' INT

# Waits up to $2 seconds for process $1 to end.
wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

echo_alive() { kill -0 "$ECHO_PID" 2>/dev/null; }

# Whether our process has attached to the tap: its descriptor then names
# the interface (what `ip tuntap` reads too).
tap_attached() {
    echo_alive || return 0 # no use waiting: the caller checks
    grep -qs "^iff:[[:space:]]*$IF\$" /proc/"$ECHO_PID"/fdinfo/*
}

# Creates the namespace, starts our udp-echo ($1, then its options) on the
# tap, moves the tap's kernel side into the namespace and gives Linux
# LINUX_IP/24 there.
net_start() {
    local bin=$1
    shift
    [[ -x "$bin" ]] || fail "no udp-echo executable at '$bin'"
    ip netns add "$NS" || fail "cannot create network namespace $NS"
    # No IPv6 chatter on the link: only what a test sends.
    ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ns ip link set lo up

    # NET_PERSISTENT_TAP=1: the interface is made beforehand and outlives
    # our process, so what it sent last (a DHCP release) is still read.
    if [[ "${NET_PERSISTENT_TAP:-0}" == 1 ]]; then
        ip tuntap add dev "$IF" mode tap || fail "cannot create tap $IF"
        TAP_PERSISTENT=1
    fi
    # NET_ECHO_WRAPPER runs it under a tool, e.g. "valgrind --error-exitcode=9
    # --leak-check=full" (which keeps the pid); split on spaces.
    local wrapper
    read -r -a wrapper <<<"${NET_ECHO_WRAPPER:-}"
    "${wrapper[@]}" "$bin" --tap "$IF" --mac "$OUR_MAC" "$@" >"$WORK/echo.out" 2>"$ECHO_LOG" &
    ECHO_PID=$!
    wait_for "$WAIT_S" tap_attached || fail "udp-echo did not open tap $IF within ${WAIT_S}s"
    echo_alive || fail "udp-echo exited before opening the tap"
    ip link set dev "$IF" netns "$NS" || fail "cannot move $IF into $NS"
    ns ip addr add "$LINUX_IP/24" dev "$IF"
    ns ip link set dev "$IF" up
    echo_alive || fail "udp-echo died while the link was set up"
}

# Waits (bounded) until our log has a line matching the regex $1.
wait_log() {
    local secs=${2:-$WAIT_S}
    wait_for "$secs" grep -Eq -- "$1" "$ECHO_LOG" || fail "no log line matching '$1' within ${secs}s"
}

# Stops our process with SIGTERM; fails unless it exits with status 0.
net_stop_echo() {
    echo_alive || fail "udp-echo is no longer running"
    kill -TERM "$ECHO_PID"
    wait_gone "$ECHO_PID" "$WAIT_S" || fail "udp-echo did not stop within ${WAIT_S}s of SIGTERM"
    local rc=0
    wait "$ECHO_PID" || rc=$?
    ECHO_PID=
    [[ $rc -eq 0 ]] || fail "udp-echo exited with status $rc after SIGTERM"
    grep -q '^stats: ' "$ECHO_LOG" || fail "udp-echo printed no stats line"
}

# A counter from our final stats line.
stat_of() {
    local v
    v=$(grep '^stats: ' "$ECHO_LOG" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p")
    [[ -n "$v" ]] || fail "no counter '$1' in the stats line"
    echo "$v"
}

# ping from the namespace to $1 with the rest as ping's options; fails
# unless every echo request is answered. Bounded by ping's own deadline.
ping_all() {
    local dst=$1 out
    shift
    out=$(ns ping -n -q "$@" "$dst" 2>&1) || true
    local sent recv
    sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
    recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
    if [[ -z "$sent" || "$sent" == 0 || "$sent" != "$recv" ]]; then
        echo "$out" >&2
        fail "ping $* $dst: $sent sent, ${recv:-0} answered"
    fi
    log "ping $* $dst: $sent/$recv answered"
}
