# shellcheck shell=bash disable=SC2154,SC2034
# (sourced: here is the caller's, and the caller reads failed, out, name)
# check-lib.sh: what the Xen checks (platform.sh, net.sh, blk.sh) share,
# sourced by them. Each runs one boot (boot mode) and then one check per
# test (check mode) on the results it left.
#
#   xen_boot OUT XEN_RUN_ARGS...   runs xen-run.sh; when QEMU cannot run,
#                                  marks OUT skipped and exits 77; else
#                                  exits with xen-run.sh's status
#   xen_check_start OUT NAME       for check mode: exits 77 if the boot was
#                                  skipped; sets out, name, failed=0
#   fail MSG / reason_is ID WORD / console_has ID TEXT (fixed string) /
#   console_matches ID ERE         record a failure in $failed
#   show_console ID

xen_boot() {
    local dir=$1 rc=0
    shift
    mkdir -p "$dir"
    rm -f "$dir/skipped"
    "$here/xen-run.sh" -o "$dir" "$@" || rc=$?
    if ((rc == 77)); then
        touch "$dir/skipped"
        exit 77
    fi
    exit "$rc"
}

xen_check_start() {
    out=$1 name=$2 failed=0
    if [[ -e $out/skipped ]]; then
        echo "skipped: QEMU cannot run on this machine (see the boot test)"
        exit 77
    fi
}

fail() {
    echo "FAIL: $name: $*" >&2
    failed=1
}

reason_is() {
    local got
    got=$(cat "$out/$1.reason" 2>/dev/null || echo "(no result)")
    [[ $got == "$2" ]] || fail "$1 ended with '$got', expected '$2'"
}

console_has() {
    grep -qF -- "$2" "$out/$1.console" 2>/dev/null || fail "no '$2' in $1's console"
}

console_matches() {
    grep -qE -- "$2" "$out/$1.console" 2>/dev/null || fail "no line matching '$2' in $1's console"
}

show_console() {
    echo "--- $1's console:"
    cat "$out/$1.console" 2>/dev/null || echo "(none)"
}
