# selftest-plan.sh: the dom0 side of selftest.sh (run by xen-run.sh with
# dom0-lib.sh loaded). Three Linux PV guests from the one staged image
# linux-guest, in one boot:
#
#   ready  boots, prints its ready line, powers off by itself (guest_run)
#   ack    rdinit=/hang-ack, with a vif on the bridge; started first, left
#          running when the plan ends, so dom0's /init finishes it: it
#          obeys `xl shutdown`
#   deaf   rdinit=/hang, with the staged disk image; runs past its time in
#          guest_run, ignores `xl shutdown` and is destroyed
#
# ack and deaf run at the same time. What it checks itself goes to the
# result files hotplug.vif and hotplug.disk (the backends' hotplug status);
# selftest.sh checks the rest on the host.
set -u
ready='linux-guest: ready'

guest_start ack linux-guest 'extra="console=hvc0 quiet rdinit=/hang-ack"' "vif=['bridge=$BRIDGE']" ||
    exit 1
say "ack started; now ready, while ack boots"
guest_run -r "$ready" -t 120 ready linux-guest || { say "ready did not power off by itself"; exit 1; }

disk=$(staged_file disk.img)
guest_start deaf linux-guest 'extra="console=hvc0 quiet rdinit=/hang"' \
    "disk=['format=raw,vdev=xvda,access=rw,target=$disk']" || exit 1
guest_wait_line deaf 'linux-guest: hanging' 120 || { say "deaf never said it hangs"; exit 1; }
# the backends' view, while the guests run: the hotplug scripts ran
xenstore-read "/local/domain/0/backend/vbd/$(guest_domid deaf)/51712/hotplug-status" \
    >"$(result_path hotplug.disk)" 2>&1
xenstore-read "/local/domain/0/backend/vif/$(guest_domid ack)/0/hotplug-status" \
    >"$(result_path hotplug.vif)" 2>&1
# deaf: still running after 3 s of guest_wait_end, so guest_run's way:
# xl shutdown, which it ignores for 5 s, then xl destroy
if guest_wait_end deaf 3; then
    say "deaf ended by itself"
    exit 1
fi
guest_stop deaf 5
guest_finish deaf

guest_wait_line ack 'linux-guest: hanging' 120 || { say "ack never said it hangs"; exit 1; }
say "leaving ack running"
exit 0
