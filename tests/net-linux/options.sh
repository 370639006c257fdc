#!/bin/bash
# The network main's command line: bad options exit with status 2 and say
# what is wrong; a tap that cannot be opened exits with 1 and says so.
# Needs no network namespace; the tap case needs root.
# Usage: options.sh UDP_ECHO_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin=$1
# Runs the binary with the given options; checks its status and that what
# it printed matches a regex. Bounded: a mistake must not leave it serving.
expect_exit() {
    local want=$1 pattern=$2 rc=0
    shift 2
    timeout 10 "$bin" "$@" >"$WORK/err" 2>&1 || rc=$?
    if [[ $rc -ne $want ]] || ! grep -Eq -- "$pattern" "$WORK/err"; then
        cat "$WORK/err" >&2
        fail "'$*': status $rc (expected $want), output should match '$pattern'"
    fi
    log "'$*': status $rc, $(grep -Em1 -- "$pattern" "$WORK/err")"
}

expect_exit 2 'tap IFNAME is required' --ip 10.0.0.2/24
expect_exit 2 'exactly one of' --tap t0
expect_exit 2 'exactly one of' --tap t0 --ip 10.0.0.2/24 --dhcp
expect_exit 2 "--ip '10.0.0.2': expected" --tap t0 --ip 10.0.0.2
expect_exit 2 "--ip '10.0.0.300/24': expected" --tap t0 --ip 10.0.0.300/24
expect_exit 2 "--ip '10.0.0.2/33': expected" --tap t0 --ip 10.0.0.2/33
expect_exit 2 'gateway must be on' --tap t0 --ip 10.0.0.2/24 --gateway 10.0.1.1
expect_exit 2 'gateway goes with --ip' --tap t0 --dhcp --gateway 10.0.0.1
expect_exit 2 "--mac 'zz:00:00:00:00:01'" --tap t0 --dhcp --mac zz:00:00:00:00:01
expect_exit 2 "--mac '01:00:00:00:00:01'" --tap t0 --dhcp --mac 01:00:00:00:00:01
expect_exit 2 "--mtu '20': expected" --tap t0 --dhcp --mtu 20
expect_exit 2 'needs a value' --tap
expect_exit 2 'interface name has 1 to 15' --tap this-name-is-too-long --dhcp
expect_exit 0 'usage:' --help
if [[ $(id -u) -eq 0 && -c /dev/net/tun ]]; then
    # "lo" exists and is no tap.
    expect_exit 1 "cannot open tap 'lo'" --tap lo --ip 10.0.0.2/24
    # The app refuses its own bad option: a usage error too.
    expect_exit 2 "unexpected '--bogus'" --tap "$IF" --ip 10.0.0.2/24 --bogus
    expect_exit 2 'cannot use this address' --tap "$IF" --ip 10.0.0.255/24
else
    log "not root: the tap cases are skipped"
fi
log "PASS"
