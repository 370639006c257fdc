# plan.sh: the dom0 side of bench/xen-boot/run (run there by
# tests/xen/xen-run.sh, with tests/xen/dom0-lib.sh loaded).
#
# Usage (as xen-run.sh's PLAN):
#   plan.sh ROUNDS IMAGE READY_ERE LINUX_IMAGE LINUX_EXTRA
#
# ROUNDS rounds; each boots the Tessera image IMAGE once (as tessera-N) and
# the Linux guest LINUX_IMAGE once (as linux-N, with extra="LINUX_EXTRA"),
# one after the other, never both at once; which goes first alternates. A
# boot is: xl create (the clock starts just before it), wait for the ready
# line, wait for the guest to power off (or stop it), destroy it, so each
# boot starts from the same idle dom0. The stamps are in ID.times.
set -u
rounds=$1 image=$2 ready=$3 linux_image=$4 linux_extra=$5
linux_ready='^linux-guest: ready'
failed=0

# boot ID IMAGE READY_ERE [XL_OVERRIDE...]
boot() {
    local id=$1 img=$2 re=$3
    shift 3
    guest_start -r "$re" "$id" "$img" "$@" || return 1
    if ! guest_wait_line "$id" "$re" 120; then
        say "$id: no line matching '$re' within 120 s"
        guest_finish "$id"
        return 1
    fi
    guest_wait_end "$id" 30 || say "$id: still running 30 s after its ready line"
    guest_finish "$id"
    # what destroying it started in dom0 (the xl process that watched the
    # domain, hotplug scripts) settles before the next boot
    tx_sleep 1
}

for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then order="tessera linux"; else order="linux tessera"; fi
    for who in $order; do
        if [[ $who == tessera ]]; then
            boot "tessera-$r" "$image" "$ready" || failed=1
        else
            boot "linux-$r" "$linux_image" "$linux_ready" "extra=\"$linux_extra\"" || failed=1
        fi
    done
done
exit $failed
