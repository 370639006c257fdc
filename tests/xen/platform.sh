#!/usr/bin/env bash
# platform.sh: the Xen platform on the real hypervisor (in QEMU). One boot
# runs every guest of platform-plan.sh; each check then reads what came
# back, so that each is a test of its own:
#
#   platform.sh boot RESULTS BUILD_DIR    boots, leaves the results in RESULTS
#   platform.sh check RESULTS BUILD_DIR NAME
#
# Checks: hello and heads (the console of hello and heads-tails is exactly
# what the Unix build prints),
# clock (a 1 s sleep measures 1 s within 10% by the guest's clock; the wall
# clock has today's date), stress (promise-stress prints what it prints
# on Unix), shutdown and reboot (xl shutdown / xl reboot reach the app,
# which stops; the domain ends with poweroff / reboot), fail (a rejected
# main: crash, and the rejection with its bind-site chain), oom (memory
# exhausted: crash with a message), fault (a page fault: crash with the
# registers, a backtrace into the app's code, the early log).
# Exit status: 0 passed, 1 failed, 77 QEMU cannot run here (the boot
# said so; the checks then skip too).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/check-lib.sh"
[[ $# -ge 3 ]] || { echo "usage: $0 boot|check RESULTS BUILD_DIR [NAME]" >&2; exit 2; }
mode=$1 out=$2 build=$3
apps=$build/apps
testapps=$build/tests/xen/apps

if [[ $mode == boot ]]; then
    xen_boot "$out" -T 900 \
        -g "$apps/hello.xl" -g "$apps/heads-tails.xl" -g "$apps/promise-stress.xl" -g "$apps/fail.xl" -g "$apps/oom.xl" \
        -g "$testapps/clock-check.xl" -g "$testapps/until-shutdown.xl" -g "$testapps/fault.xl" \
        "$here/platform-plan.sh"
fi

[[ $mode == check && $# -eq 4 ]] || { echo "usage: $0 check RESULTS BUILD_DIR NAME" >&2; exit 2; }
xen_check_start "$out" "$4"

case $name in
hello | heads)
    exe=hello
    [[ $name == heads ]] && exe=heads-tails
    reason_is "$name" poweroff
    if ! diff <("$apps/$exe") "$out/$name.console"; then
        fail "the console differs from the Unix output (diff above: < Unix, > Xen)"
    fi
    ;;
clock)
    reason_is clock poweroff
    ms=$(sed -n 's/^slept: \([0-9]*\) ms by the monotonic clock$/\1/p' "$out/clock.console")
    if [[ -z $ms ]]; then
        fail "no 'slept: N ms' line"
    elif ((ms < 900 || ms > 1100)); then
        fail "a 1 s sleep measured $ms ms (more than 10% off)"
    else
        echo "a 1 s sleep measured $ms ms by the guest's clock"
    fi
    date=$(sed -n 's/^wall clock date: //p' "$out/clock.console")
    today=$(date -u +%F) yesterday=$(date -u -d yesterday +%F)
    [[ $date == "$today" || $date == "$yesterday" ]] || fail "wall clock date '$date', expected $today"
    ;;
stress)
    reason_is stress poweroff
    if ! diff <("$apps/promise-stress") "$out/stress.console"; then
        fail "the console differs from the Unix output (diff above: < Unix, > Xen)"
    fi
    ;;
shutdown | reboot)
    code=1
    [[ $name == reboot ]] && code=2
    console_has "$name" "waiting for shutdown"
    console_has "$name" "shutdown requested: reason $code"
    reason_is "$name" "$([[ $name == reboot ]] && echo reboot || echo poweroff)"
    ;;
fail)
    reason_is fail crash
    console_has fail "fail: the reply is malformed"
    console_has fail "lwt: main promise rejected: error -71 (protocol error), rejected at apps/fail/fail.c:"
    console_has fail "; through bind at apps/fail/fail.c:"
    ;;
oom)
    reason_is oom crash
    console_has oom "oom: 16 MiB allocated"
    console_has oom "fatal: out of memory: malloc(1048576) failed"
    console_has oom "backtrace:"
    ;;
fault)
    reason_is fault crash
    console_has fault "faulting now"
    console_has fault "fatal: page fault (vector 14"
    console_has fault "page fault address: 0x7ff000000000"
    for reg in rax rbx rsp rip r15; do
        grep -qE "(^| )$reg +[0-9a-f]{4,16}( |$)" "$out/fault.console" || fail "no register $reg in the report"
    done
    console_has fault "early log (last lines logged):"
    console_has fault "[info] fault: about to write to an unmapped address"
    # The backtrace leads back into the app: its frames, resolved with
    # the unstripped image, name fault.c's functions.
    addrs=$(sed -n 's/^  \(#[0-9]*\|?\) *\(0x[0-9a-f]*\)$/\2/p' "$out/fault.console")
    if [[ -z $addrs ]]; then
        fail "no backtrace frames"
    else
        # shellcheck disable=SC2086 # one argument per address
        resolved=$(addr2line -f -i -e "$testapps/fault.xen.debug" $addrs)
        echo "backtrace:" && echo "$resolved" | paste - - | sed 's/^/  /'
        grep -q '^write_to_nowhere' <<<"$resolved" || fail "the backtrace does not start in write_to_nowhere"
        grep -q '^app_main$' <<<"$resolved" || fail "the backtrace does not pass through app_main"
    fi
    ;;
*)
    echo "unknown check '$name'" >&2
    exit 2
    ;;
esac
((failed == 0)) || show_console "$name"
((failed == 0))
