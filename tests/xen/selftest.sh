#!/usr/bin/env bash
# selftest.sh: the Xen harness tested against the real hypervisor, with the
# Linux PV guest dom0-assets.sh builds (no Tessera image needed). One boot
# of Xen in QEMU runs selftest-plan.sh; this script checks what came back:
#
#   - the guest that powers off by itself: its ready line in the console,
#     reason poweroff, and its stamps in causal order (xl create's start
#     first; first output <= first line <= ready);
#   - the guest deaf to `xl shutdown`: still running at its deadline, so
#     stopped-by-destroy, after asking (stop_requested <= stopped);
#   - the guest left running by the plan, which obeys `xl shutdown`:
#     finished by dom0's /init, stopped-by-shutdown, and it says so in its
#     console;
#   - the hotplug scripts of its vif and of the staged disk ran
#     ("connected").
#
# Usage: tests/xen/selftest.sh [RESULTS_DIR]
# Exit status: 0 passed, 1 failed, 77 QEMU cannot run here (xen-run.sh).
# The results stay in RESULTS_DIR (default: a new directory in /tmp, kept
# when the test fails).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-}
keep=0
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-selftest.XXXXXX")
else
    keep=1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-selftest-work.XXXXXX")
failed=0
cleanup() {
    rm -rf "$work"
    if ((failed || keep)); then echo "selftest: results kept in $out" >&2; else rm -rf "$out"; fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: selftest: $*" >&2
    failed=1
}

cache=$("$here/dom0-assets.sh") || { failed=1; echo "FAIL: selftest: dom0-assets.sh failed" >&2; exit 1; }
truncate -s 1M "$work/disk.img"

rc=0
"$here/xen-run.sh" -o "$out" -T 600 -g "$cache/linux-guest/linux-guest.xl" -f "$work/disk.img" \
    "$here/selftest-plan.sh" || rc=$?
if ((rc == 77)); then
    exit 77
fi
((rc == 0)) || fail "xen-run.sh exited $rc (plan log: $out/plan.log)"

# stamp ID NAME: the stamp's seconds, or "" when it is missing
stamp() { awk -v n="$2" '$1 == n { print $2 }' "$out/$1.times" 2>/dev/null || true; }
# in_order ID NAME...: each stamp present and none earlier than the one before
in_order() {
    local id=$1 prev='' name t
    shift
    for name in "$@"; do
        t=$(stamp "$id" "$name")
        [[ -n $t ]] || { fail "$id: no $name stamp in $id.times"; return; }
        if [[ -n $prev ]] && awk -v a="$prev" -v b="$t" 'BEGIN { exit !(b < a) }'; then
            fail "$id: $name ($t s) before the stamp before it ($prev s)"
        fi
        prev=$t
    done
}
reason_is() {
    local got
    got=$(cat "$out/$1.reason" 2>/dev/null || echo "(none)")
    [[ $got == "$2" ]] || fail "$1: reason '$got', expected '$2'"
}
console_has() {
    grep -qF -- "$2" "$out/$1.console" 2>/dev/null || fail "$1: no '$2' in $1.console"
    grep -qF -- "$2" "$out/$1.console.timed" 2>/dev/null || fail "$1: no '$2' in $1.console.timed"
}

# Only stamps that cause and effect put in order are compared: nothing
# about the guest comes before `xl create` starts; constamp's own stamps
# come in the order it sees the lines; stop_requested, end and stopped are
# taken one after the other by guest_stop. (The console and the shutdown
# are seen by two processes in dom0, xenconsoled and xenstored: which
# reports first depends on the load.)
reason_is ready poweroff
console_has ready "linux-guest: ready"
in_order ready create_start created
in_order ready create_start first_output first_line ready
in_order ready create_start end

reason_is deaf stopped-by-destroy
console_has deaf "linux-guest: hanging"
in_order deaf create_start created
in_order deaf create_start first_line stop_requested stopped

reason_is ack stopped-by-shutdown
console_has ack "linux-guest: hanging"
console_has ack "linux-guest: poweroff requested"
in_order ack create_start created
in_order ack create_start first_line stop_requested end stopped

for dev in vif disk; do
    got=$(cat "$out/hotplug.$dev" 2>/dev/null || echo "(none)")
    [[ $got == connected ]] || fail "$dev backend: hotplug-status '$got', expected 'connected'"
done
[[ $(cat "$out/plan.rc" 2>/dev/null) == 0 ]] || fail "plan.rc is not 0"

if ((failed)); then
    exit 1
fi
echo "selftest: passed (ready: first line at $(stamp ready first_line) s after xl create started)"
