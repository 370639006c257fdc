#!/usr/bin/env bash
# boot.sh: boots one Xen PV image on the real Xen hypervisor (in QEMU,
# through xen-run.sh) and prints its console with each line's time since
# `xl create` started, then how it ended.
#
# Usage: tests/xen/boot.sh [-t SECONDS] [-o DIR] IMAGE.xl [XL_OVERRIDE...]
#   e.g. tests/xen/boot.sh build/xen/apps/hello.xl
#        tests/xen/boot.sh -t 20 build/xen/apps/timeout.xl 'extra="5"'
#
#   -t SECONDS  how long the guest may run before it is stopped (`xl
#               shutdown`, then `xl destroy`); default 60
#   -o DIR      keep all results there (see xen-run.sh); default: a
#               temporary directory, removed unless the run fails
#
# Exit status: 0 the guest shut down by itself (its reason, poweroff or
# another, is printed), 1 it had to be stopped or could not be created,
# else xen-run.sh's (2 usage, 3-5 harness trouble, 77 no QEMU, 124 time).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
secs=60 out='' keep=1
while getopts t:o:h opt; do
    case $opt in
        t) secs=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '/^# Usage:/,/^#               temporary/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
(($# >= 1)) || { echo "usage: boot.sh [-t SECONDS] [-o DIR] IMAGE.xl [XL_OVERRIDE...]" >&2; exit 2; }
xl=$1
shift
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "boot.sh: -t takes a number of seconds" >&2; exit 2; }
name=$(basename "$xl" .xl)
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-boot.XXXXXX")
    keep=0
fi

rc=0
"$here/xen-run.sh" -o "$out" -T $((secs + 120)) -g "$xl" "$here/boot-plan.sh" "$name" "$secs" "$@" || rc=$?
if [[ -e $out/$name.reason ]]; then
    echo "---- $name: console (seconds since xl create started)"
    cat "$out/$name.console.timed"
    echo "---- $name: $(cat "$out/$name.reason")"
fi
if ((rc == 0 && !keep)); then rm -rf "$out"; else echo "results: $out" >&2; fi
exit "$rc"
