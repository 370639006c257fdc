#!/usr/bin/env bash
# selftest-timeout.sh: the Xen harness's time limit on a plan. A plan that
# writes a result file and then never ends must be stopped in dom0 at its
# deadline (-T), with what it wrote still sent to the host, and xen-run.sh
# must exit 124 with plan.rc 124. No guest: nothing here depends on how
# fast the machine is.
#
# Usage: tests/xen/selftest-timeout.sh
# Exit status: 0 passed, 1 failed, 77 QEMU cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-timeout.XXXXXX")
failed=0
cleanup() {
    if ((failed)); then echo "selftest-timeout: results kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
    echo "FAIL: selftest-timeout: $*" >&2
    failed=1
}

token=$$-$RANDOM
cat >"$work/plan.sh" <<PLAN
echo "$token" >"\$(result_path token)"
say "plan: written, now waiting for ever"
while :; do sleep 1; done
PLAN

rc=0
"$here/xen-run.sh" -o "$work/out" -T 15 "$work/plan.sh" || rc=$?
((rc == 77)) && exit 77
((rc == 124)) || fail "xen-run.sh exited $rc, expected 124"
[[ $(cat "$work/out/plan.rc" 2>/dev/null) == 124 ]] || fail "plan.rc is not 124"
[[ $(cat "$work/out/token" 2>/dev/null) == "$token" ]] || fail "the plan's result file did not come back"
grep -q "plan: written, now waiting for ever" "$work/out/plan.log" 2>/dev/null || fail "plan.log lacks the plan's line"
[[ $(cat "$work/out/dom0.status" 2>/dev/null) == ok ]] || fail "dom0.status is not ok"
((failed)) && exit 1
echo "selftest-timeout: passed"
