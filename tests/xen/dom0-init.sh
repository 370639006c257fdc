#!/bin/bash
# dom0-init.sh: /init of the dom0 that xen-run.sh boots under Xen in QEMU.
#
# Starts Xen's toolstack (xenstored, xenconsoled with every guest's console
# logged, the xl tools), makes the bridge xenbr0 (192.0.2.1/24, for vif
# guests; nothing leaves QEMU, which has no network device), runs the plan
# staged in /tessera/run with dom0-lib.sh loaded, finishes the guests the
# plan left running, and powers off.
#
# Results go to the host as tar archives on a virtio serial port (the
# first port named org.tessera.results), which xen-run.sh unpacks into the
# results directory: dom0.status ("ok", or "failed: STEP" when the
# toolstack could not start), each guest's files (dom0-lib.sh), and at the
# end plan.log, plan.rc (124: killed at its deadline), xl-info.log,
# xen-dmesg.log and toolstack.log. Progress lines go to the console (hvc0,
# which Xen puts on the serial port) as "tessera-dom0 [UPTIME] ...".
#
# /tessera/run/params (from xen-run.sh) sets PLAN_TIMEOUT, GUEST_TIMEOUT
# and PLAN_ARGS.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# /dev/fd and /dev/std* (udev's work elsewhere): the hotplug scripts'
# locking stats /dev/stdin and loops until libxl kills the script without it
ln -sfn /proc/self/fd /dev/fd
ln -sfn /proc/self/fd/0 /dev/stdin
ln -sfn /proc/self/fd/1 /dev/stdout
ln -sfn /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1

note() {
    local up
    read -r up _ </proc/uptime
    echo "tessera-dom0 [$up] $*"
}
OUT=/tessera/out
mkdir -p "$OUT" /run/tessera/guests
mkfifo /run/tessera/sleep.fifo

# end: sends what is left and powers off (Xen then powers off the machine
# and QEMU exits).
end() {
    note "powering off"
    exec 7>&-
    sync
    poweroff -f
    sleep 5
    echo o >/proc/sysrq-trigger
}

send() {
    [[ -e /proc/self/fd/7 ]] || return 1
    flock -w 120 /run/tessera/send.lock tar -C "$OUT" -cf - "$@" >&7
    printf '%s\n' "$@" >>/run/tessera/sent
}

fail() {
    note "FAILED: $*"
    echo "failed: $*" >"$OUT/dom0.status"
    for f in /var/log/xen/*.log; do [[ -e $f ]] && { echo "== $f"; cat "$f"; }; done >"$OUT/toolstack.log"
    send dom0.status toolstack.log
    end
}

note "init: kernel $(uname -r)"
PLAN_TIMEOUT=600 GUEST_TIMEOUT=60 PLAN_ARGS=()
[[ -f /tessera/run/params ]] && . /tessera/run/params
export GUEST_TIMEOUT BRIDGE=xenbr0

# --- The results port first: without it nothing can come back.
for m in virtio_pci virtio_console; do modprobe "$m" || note "modprobe $m failed"; done
port=
for ((i = 0; i < 100; i++)); do
    for p in /sys/class/virtio-ports/*; do
        [[ $(cat "$p/name" 2>/dev/null) == org.tessera.results ]] && port=/dev/${p##*/}
    done
    [[ -n $port && -c $port ]] && break
    port=
    sleep 0.1
done
if [[ -n $port ]] && exec 7>"$port"; then
    note "results port: $port"
else
    note "FAILED: no results port (virtio serial port org.tessera.results): results cannot reach the host"
fi

# --- Xen's toolstack.
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback bridge loop; do
    modprobe "$m" || note "modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
mkdir -p /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen /var/log/xen/console /run/lock
ln -sfn /run/lock /var/lock
xenstored --pid-file /run/xen/xenstored.pid || fail xenstored
for ((i = 0; i < 100; i++)); do
    xenstore-ls / >/dev/null 2>&1 && break
    sleep 0.05
done
xenstore-ls / >/dev/null 2>&1 || fail "xenstored does not answer"
xen-init-dom0 || fail xen-init-dom0
xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
    fail xenconsoled
# dom0 has one vCPU: when a guest writes while `xl create` still runs there,
# xenconsoled should get to the ring first, or the line is logged late
renice -n -10 -p "$(cat /run/xen/xenconsoled.pid)" >/dev/null || note "renice xenconsoled failed"
{ ip link add name xenbr0 type bridge stp_state 0 forward_delay 0 &&
    ip addr add 192.0.2.1/24 dev xenbr0 && ip link set xenbr0 up; } || fail "bridge xenbr0"
xl info >"$OUT/xl-info.log" 2>&1
note "toolstack up: $(awk '/^free_memory/ { print $3 " MiB free for guests" }' "$OUT/xl-info.log")"
echo ok >"$OUT/dom0.status"
send dom0.status

# --- The plan: its own session (so that all it started can be stopped), its
# output to plan.log and to the console, bounded by PLAN_TIMEOUT.
cd /tessera/run || fail "nothing staged in /tessera/run"
mkfifo /run/tessera/plan.fifo
while IFS= read -r l || [[ -n $l ]]; do
    echo "tessera-plan $l"
    echo "$l" >>"$OUT/plan.log"
done </run/tessera/plan.fifo &
reader=$!
note "plan: ${PLAN_ARGS[*]:-(no arguments)}, at most ${PLAN_TIMEOUT} s"
setsid bash -c '. /tessera/lib.sh || exit 125; . /tessera/run/plan.sh "$@"' plan "${PLAN_ARGS[@]}" \
    </dev/null >/run/tessera/plan.fifo 2>&1 &
plan=$!
(
    sleep "$PLAN_TIMEOUT"
    touch /run/tessera/plan-killed
    echo "tessera-dom0 plan still running after ${PLAN_TIMEOUT} s: stopping it"
    kill -TERM -- -"$plan"
    sleep 2
    kill -KILL -- -"$plan"
) 2>/dev/null &
watchdog=$!
wait "$plan"
rc=$?
kill "$watchdog" 2>/dev/null
kill -KILL -- -"$plan" 2>/dev/null # what the plan left behind
for ((i = 0; i < 50; i++)); do
    kill -0 "$reader" 2>/dev/null || break
    sleep 0.1
done
kill "$reader" 2>/dev/null
[[ -e /run/tessera/plan-killed ]] && rc=124
note "plan ended: rc $rc"

# --- Guests the plan left: stopped and sent like the others.
. /tessera/lib.sh
for d in /run/tessera/guests/*/; do
    [[ -d $d && ! -e $d/finished ]] || continue
    id=${d%/}
    id=${id##*/}
    note "guest $id: left by the plan: finishing it"
    guest_finish "$id" 2>&1 | sed 's/^/tessera-dom0 /'
done

xl dmesg >"$OUT/xen-dmesg.log" 2>&1
for f in /var/log/xen/*.log; do [[ -e $f ]] && { echo "== $f"; cat "$f"; }; done >"$OUT/toolstack.log"
touch "$OUT/plan.log"
echo "$rc" >"$OUT/plan.rc"
# everything not sent yet (the plan's own result files too), plan.rc last
(cd "$OUT" && for f in *; do
    [[ -f $f && $f != plan.rc ]] && ! grep -qxF -- "$f" /run/tessera/sent 2>/dev/null && echo "$f"
done) >/run/tessera/unsent
mapfile -t unsent </run/tessera/unsent
send "${unsent[@]}" plan.rc
end
