#!/usr/bin/env bash
# xen-run.sh: boots the real Xen hypervisor (Debian 12's Xen 4.17) with a
# Linux dom0 inside QEMU, once, and runs a plan there: a bash script that
# creates guests from the staged images (one after another, or several at
# once) with the functions of dom0-lib.sh, and each guest's console, the
# way it ended and its timing stamps come back to the host.
#
# Usage:
#   tests/xen/xen-run.sh [-o DIR] [-g IMAGE.xl]... [-f FILE]... [-T SECONDS]
#                        [-G SECONDS] [-v] PLAN [ARG...]
#
#   -g IMAGE.xl  stage a guest image: the xl config and the files its
#                `kernel = "..."` and `ramdisk = "..."` name relative to
#                it (the build puts NAME.xen next to NAME.xl). The plan
#                refers to it as NAME (the file name without .xl); in dom0
#                it lives in /tessera/run/images/NAME/, where `xl create`
#                runs.
#   -f FILE      stage a file (a disk image, say) as
#                /tessera/run/files/BASENAME (plans: `staged_file BASENAME`).
#                Staged files sit in dom0's memory: keep them small.
#   -o DIR       the results directory (created; default: a new directory
#                under ${TMPDIR:-/tmp}, printed at the end). Result files
#                an earlier run left there are removed.
#   -T SECONDS   the plan's time limit in dom0 (default
#                $TESSERA_XEN_PLAN_TIMEOUT, or 300); QEMU as a whole gets
#                that plus $TESSERA_XEN_BOOT_TIMEOUT (default 240) for
#                booting and powering off.
#   -G SECONDS   $GUEST_TIMEOUT in the plan, the default time a guest may
#                run (default $TESSERA_XEN_GUEST_TIMEOUT, or 60).
#   -v           echo the whole serial console (Xen, dom0's kernel) here;
#                by default only dom0's and the plan's lines and panics.
#   PLAN ARG...  run in dom0 by bash, in /tessera/run, with dom0-lib.sh
#                loaded and ARGs as "$@"; see dom0-lib.sh for what it can
#                call.
#
# Results (DIR): for each guest ID, ID.console, ID.console.timed,
# ID.reason, ID.times and ID.xl.log (see dom0-lib.sh); plan.log and
# plan.rc; dom0.status; serial.log (the whole serial console, with the
# host's seconds since QEMU started); xl-info.log, xen-dmesg.log,
# toolstack.log; qemu-cmd.sh (the exact QEMU command line).
#
# Exit status:
#   0    the plan ran and exited 0
#   1    the plan exited non-zero (its status is in DIR/plan.rc)
#   2    usage error, or a file to stage is missing
#   3    the dom0 assets could not be built (dom0-assets.sh)
#   4    dom0 could not start Xen's toolstack (DIR/dom0.status, serial.log)
#   5    no result came back: Xen or dom0 died (read DIR/serial.log), or
#        another run kept QEMU for longer than TESSERA_XEN_LOCK_WAIT
#   77   QEMU cannot run on this machine (not installed, or it cannot start)
#   124  the plan ran past -T (it was stopped; what it had finished is in
#        DIR), or QEMU ran past its whole time limit
#
# Environment: TESSERA_XEN_CACHE (see dom0-assets.sh), TESSERA_XEN_QEMU
# (default qemu-system-x86_64), TESSERA_XEN_ACCEL (tcg, the default, or
# kvm where /dev/kvm can run Xen), TESSERA_XEN_DOM0_MEM (default 512M),
# TESSERA_XEN_XEN_ARGS / TESSERA_XEN_DOM0_ARGS (appended to Xen's and
# dom0's command lines), TESSERA_XEN_LOCK_WAIT (seconds to wait for another
# run to end: one QEMU at a time per cache, default 600),
# TESSERA_XEN_KEEP=1 (keep the work directory with the initrd).
#
# Under TCG (software emulation) QEMU needs `-cpu max,-smap`: with SMAP,
# QEMU 7.2 raises spurious page faults when a 64-bit PV kernel returns to
# user mode and dom0 dies early. dom0 gets one vCPU: with two, under TCG, a
# few per cent of the processes it starts die at once, and it is slower.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=xen-run
log() { echo "$prog: $*" >&2; }
die() { local rc=$1; shift; log "$*"; exit "$rc"; }
usage() {
    sed -n '/^# Usage:/,/^#   PLAN ARG/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

out='' plan_timeout=${TESSERA_XEN_PLAN_TIMEOUT:-300} guest_timeout=${TESSERA_XEN_GUEST_TIMEOUT:-60}
verbose=0 images=() files=()
while getopts o:g:f:T:G:vh opt; do
    case $opt in
        o) out=$OPTARG ;;
        g) images+=("$OPTARG") ;;
        f) files+=("$OPTARG") ;;
        T) plan_timeout=$OPTARG ;;
        G) guest_timeout=$OPTARG ;;
        v) verbose=1 ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
(($# >= 1)) || usage
plan=$1
shift
boot_timeout=${TESSERA_XEN_BOOT_TIMEOUT:-240}
for n in plan_timeout guest_timeout boot_timeout; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die 2 "$n must be a positive number of seconds, not '${!n}'"
done
[[ -f $plan && -r $plan ]] || die 2 "no plan file '$plan'"

# --- QEMU: the only reason to skip.
qemu=${TESSERA_XEN_QEMU:-qemu-system-x86_64}
accel=${TESSERA_XEN_ACCEL:-tcg}
command -v "$qemu" >/dev/null ||
    die 77 "SKIP: $qemu is not installed (Debian: qemu-system-x86, in scripts/deps.sh's TESSERA_TEST_PACKAGES)"
if ! echo quit | timeout 60 "$qemu" -machine none -accel "$accel" -nodefaults -display none \
    -monitor stdio -serial none >/dev/null 2>&1; then
    die 77 "SKIP: $qemu cannot start a machine with -accel $accel here"
fi

# --- What to stage, checked before anything is built.
work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-run.XXXXXX")
qemu_pidfile=$work/qemu.pid
cleanup() {
    local pid
    pid=$(cat "$qemu_pidfile" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [[ -n ${TESSERA_XEN_KEEP:-} ]]; then log "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

stage=$work/stage/tessera/run
mkdir -p "$stage/images" "$stage/files"
cp "$plan" "$stage/plan.sh"
staged_bytes=0
add_bytes() { staged_bytes=$((staged_bytes + $(stat -c %s "$1"))); }

for xl in "${images[@]}"; do
    [[ -f $xl && $xl == *.xl ]] || die 2 "-g $xl: not an .xl file"
    name=$(basename "$xl" .xl)
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die 2 "-g $xl: image names are [A-Za-z0-9_.-]+"
    [[ ! -e $stage/images/$name ]] || die 2 "-g $xl: an image named $name is already staged"
    mkdir "$stage/images/$name"
    cp "$xl" "$stage/images/$name/$name.xl"
    xldir=$(cd "$(dirname "$xl")" && pwd)
    # The files the config loads, named relative to it.
    while IFS= read -r ref; do
        case $ref in
            /*) log "-g $xl: $ref is an absolute path: it must exist in dom0" ; continue ;;
            *..*) die 2 "-g $xl: $ref: only paths below the config's directory can be staged" ;;
        esac
        [[ -f $xldir/$ref ]] || die 2 "-g $xl: it names $ref, which is not in $xldir"
        mkdir -p "$stage/images/$name/$(dirname "$ref")"
        cp "$xldir/$ref" "$stage/images/$name/$ref"
        add_bytes "$xldir/$ref"
    done < <(sed -n -E 's/^[[:space:]]*(kernel|ramdisk)[[:space:]]*=[[:space:]]*"([^"]+)".*/\2/p' "$xl")
done
for f in "${files[@]}"; do
    [[ -f $f && -r $f ]] || die 2 "-f $f: no such file"
    [[ ! -e $stage/files/$(basename "$f") ]] || die 2 "-f $f: a file named $(basename "$f") is already staged"
    cp "$f" "$stage/files/"
    add_bytes "$f"
done
((staged_bytes < 256 * 1024 * 1024)) ||
    die 2 "$((staged_bytes / 1048576)) MiB to stage: more than dom0's memory can hold"
{
    echo "PLAN_TIMEOUT=$plan_timeout"
    echo "GUEST_TIMEOUT=$guest_timeout"
    printf 'PLAN_ARGS=('
    (($#)) && printf ' %q' "$@"
    printf ' )\n'
} >"$stage/params"

# --- The results directory.
if [[ -z $out ]]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/tessera-xen-results.XXXXXX")
else
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    # what an earlier run left (nothing else is touched)
    (cd "$out" && rm -f -- *.console *.console.timed *.reason *.times *.xl.log plan.log plan.rc \
        dom0.status serial.log xl-info.log xen-dmesg.log toolstack.log qemu-cmd.sh)
fi

# --- The assets (cached).
cache=${TESSERA_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/xen}
assets=$("$here/dom0-assets.sh") || die 3 "could not build the dom0 assets (dom0-assets.sh)"
[[ $work != *[,\ ]* ]] || die 2 "$work: QEMU's multiboot module list cannot take a path with a comma or a space"
# Our own copies, taken while nothing in the cache can be rebuilt or
# pruned (dom0-assets.sh takes the lock exclusively).
exec 8<"$cache/.lock"
flock -s -w 900 8 || die 3 "the dom0 assets stayed locked for 15 minutes"
cp "$assets/xen" "$assets/vmlinuz" "$work/"
(cd "$work/stage" && find . | LC_ALL=C sort | "$assets/root/bin/busybox" cpio -o -H newc 2>/dev/null |
    gzip -1 >"$work/run.cpio.gz")
cat "$assets/dom0.cpio.gz" "$work/run.cpio.gz" >"$work/initrd.cpio.gz"
exec 8<&-

# --- One QEMU at a time per cache: the machine is small.
exec 9>"$cache/qemu.lock"
if ! flock -n 9; then
    log "waiting for another Xen run to end (at most ${TESSERA_XEN_LOCK_WAIT:-600} s)"
    flock -w "${TESSERA_XEN_LOCK_WAIT:-600}" 9 || die 5 "another Xen run held $cache/qemu.lock too long"
fi

dom0_mem=${TESSERA_XEN_DOM0_MEM:-512M}
xen_cmd="console=com1 com1=115200,8n1 console_timestamps=boot serial_tx_buffer=256k"
xen_cmd+=" dom0_mem=$dom0_mem,max:$dom0_mem dom0_max_vcpus=1 bootscrub=false loglvl=all guest_loglvl=all"
xen_cmd+=" ${TESSERA_XEN_XEN_ARGS:-}"
dom0_cmd="console=hvc0 earlyprintk=xen loglevel=5 ${TESSERA_XEN_DOM0_ARGS:-}"
if [[ $accel == tcg ]]; then cpu=max,-smap; else cpu=host; fi
results=$work/results.tar
: >"$results"
# shellcheck disable=SC2054 # (the commas are QEMU's)
qemu_cmd=("$qemu" -accel "$accel" -cpu "$cpu" -m 2048 -smp 2
    -nodefaults -display none -monitor none -serial stdio -no-reboot
    -kernel "$work/xen" -append "$xen_cmd"
    -initrd "$work/vmlinuz $dom0_cmd,$work/initrd.cpio.gz"
    -device virtio-serial-pci,id=vser
    -chardev "file,id=results,path=$results"
    -device virtserialport,bus=vser.0,chardev=results,name=org.tessera.results
    -pidfile "$qemu_pidfile")
total_timeout=$((plan_timeout + boot_timeout))
printf '%q ' timeout "$total_timeout" "${qemu_cmd[@]}" >"$out/qemu-cmd.sh"
echo >>"$out/qemu-cmd.sh"

log "booting Xen in QEMU ($accel), plan $(basename "$plan") (at most ${plan_timeout} s; QEMU ${total_timeout} s)"
start=${EPOCHREALTIME/./}
qemu_rc=
while IFS= read -r line; do
    line=${line//$'\r'/}
    case $line in
        tessera-qemu-rc=*) qemu_rc=${line#tessera-qemu-rc=}; continue ;;
    esac
    us=$((${EPOCHREALTIME/./} - start))
    printf -v t '%4d.%03d' $((us / 1000000)) $(((us % 1000000) / 1000))
    printf '[%s] %s\n' "$t" "$line" >>"$out/serial.log"
    if ((verbose)); then
        printf '[%s] %s\n' "$t" "$line" >&2
    else
        case $line in
            tessera-*|*"Panic on CPU"*|*"Kernel panic"*|*"FATAL"*) printf '[%s] %s\n' "$t" "$line" >&2 ;;
        esac
    fi
done < <(
    rc=0
    timeout -k 10 "$total_timeout" "${qemu_cmd[@]}" </dev/null 2>&1 || rc=$?
    echo "tessera-qemu-rc=$rc"
)
us=$((${EPOCHREALTIME/./} - start))
printf -v elapsed '%d.%01d' $((us / 1000000)) $(((us % 1000000) / 100000))

# --- Results: the tar archives dom0 sent, one after another.
if [[ -s $results ]]; then
    tar -x --ignore-zeros -f "$results" -C "$out" 2>"$work/tar.err" ||
        log "the results stream ends early (QEMU stopped while dom0 was sending): $(head -c 300 "$work/tar.err")"
fi
for r in "$out"/*.reason; do
    [[ -e $r ]] || continue
    id=$(basename "$r" .reason)
    stamps=$(awk '$1 == "first_line" || $1 == "ready" || $1 == "end" { printf " %s %s s", $1, $2 }' \
        "$out/$id.times" 2>/dev/null || true)
    log "guest $id: $(cat "$r");$stamps"
done
log "QEMU ran ${elapsed} s (status ${qemu_rc:-?}); results in $out"

plan_rc=$(cat "$out/plan.rc" 2>/dev/null || true)
status=$(cat "$out/dom0.status" 2>/dev/null || true)
if [[ $plan_rc =~ ^[0-9]+$ ]]; then
    case $plan_rc in
        0) exit 0 ;;
        124) log "the plan ran past ${plan_timeout} s and was stopped"; exit 124 ;;
        *) log "the plan failed (status $plan_rc): $out/plan.log"; exit 1 ;;
    esac
fi
if [[ $status == failed* ]]; then
    die 4 "dom0 could not start Xen's toolstack ($status): $out/serial.log"
fi
if [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
    die 124 "QEMU ran past ${total_timeout} s and was stopped: $out/serial.log"
fi
die 5 "no result came back from dom0 (QEMU status ${qemu_rc:-?}): $out/serial.log"
