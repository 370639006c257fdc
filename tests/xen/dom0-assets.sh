#!/usr/bin/env bash
# dom0-assets.sh: builds, once, what booting Tessera's Xen images under QEMU
# needs, from Debian 12's own packages (fetched with `apt-get download` and
# unpacked, never installed):
#
#   xen                     Xen 4.17's hypervisor, gunzipped (an ELF that
#                           QEMU's -kernel boots through multiboot)
#   vmlinuz                 Debian's current kernel, dom0's
#   dom0.cpio.gz            dom0's initramfs: busybox, bash, flock, the xl
#                           toolstack (xenstored, xenconsoled, xl, hotplug
#                           scripts), the kernel modules dom0 needs,
#                           dom0-init.sh as /init, dom0-lib.sh and constamp
#   linux-guest/            a minimal Linux PV guest in the image interface
#                           of the Xen target (linux-guest.xl next to the
#                           files it names): the same kernel, and an
#                           initramfs whose /init prints a ready line and
#                           powers off (see linux-guest.xl for more);
#                           linux-guest-elf.xl, the same with the kernel
#                           decompressed beforehand (vmlinux, with xz); and
#                           linux-guest-net.xl, the same with a vif and
#                           busybox's httpd (its files are yours to add)
#
# Usage:
#   tests/xen/dom0-assets.sh            build what is missing or stale, then
#                                       print the directory that holds the
#                                       files above
#   TESSERA_XEN_REBUILD=1 tests/xen/dom0-assets.sh   rebuild from scratch
#
# The cache is ${TESSERA_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/xen}
# (about 550 MB: the .debs, their unpacked tree, and the builds, each in
# builds/KEY/, the three most recently used kept). A build is made only when
# its key is new: the kernel version apt names, and the contents of this
# script, dom0-init.sh, dom0-lib.sh and constamp.c (compiled here, static,
# with ${CC:-cc}). Network is needed on the first run only (apt-get
# download; as root it runs `apt-get update` first when apt has no package
# lists). Runs that share the cache wait for each other (flock on
# CACHE/.lock, at most 15 minutes; xen-run.sh holds it shared while it
# copies a build).
#
# Needs: a Debian 12 (bookworm) amd64 host with its apt sources, a C
# compiler with a static libc (gcc, libc6-dev), and bash, flock, gzip and
# ldd on it (their binaries, bash's and flock's, go into
# dom0 with their libraries).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TESSERA_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/xen}

log() { echo "dom0-assets: $*" >&2; }
die() { log "$*"; exit 1; }

cc=${CC:-cc}
for t in apt-get apt-cache dpkg-deb gzip ldd flock sha256sum "$cc"; do
    command -v "$t" >/dev/null || die "'$t' is missing: this needs a Debian 12 host"
done
[[ $(uname -m) == x86_64 ]] || die "needs an x86_64 host (the images and dom0 are x86_64)"

mkdir -p "$cache"
exec 8>"$cache/.lock"
flock -w 900 8 || die "another run has held $cache/.lock for 15 minutes"

# --- The kernel: whatever linux-image-amd64 depends on today.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ && !n++ { print $2 }'
}
kpkg=$(kernel_package || true)
if [[ -z $kpkg ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        log "apt knows no linux-image-amd64: apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed"
        kpkg=$(kernel_package || true)
    fi
    [[ -n $kpkg ]] || die "apt knows no linux-image-amd64 (run apt-get update as root)"
fi
kver=${kpkg#linux-image-}

key=$( {
    echo "$kpkg"
    cat "$here/dom0-assets.sh" "$here/dom0-init.sh" "$here/dom0-lib.sh" "$here/constamp.c"
} | sha256sum | cut -d' ' -f1)
build=$cache/builds/${key:0:16}
if [[ -z ${TESSERA_XEN_REBUILD:-} && -e $build/complete ]]; then
    touch "$build/complete" # (the most recently used builds are kept)
    echo "$build"
    exit 0
fi
SECONDS=0

# --- 1. Download and unpack (only when the kernel changed: the rest of the
# set is fixed for bookworm).
packages=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
          libxenmisc4.17 libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1
          libxengnttab1 libxenstore4 libxentoolcore1 libxentoollog1 libxenhypfs1 libyajl2
          busybox-static "$kpkg")
if [[ -n ${TESSERA_XEN_REBUILD:-} || ! -e $cache/root/.unpacked-$kver ]]; then
    rm -rf "$cache/debs" "$cache/root"
    mkdir -p "$cache/debs" "$cache/root"
    log "apt-get download ${packages[*]}"
    (cd "$cache/debs" && apt-get download -q "${packages[@]}" >"$cache/download.log" 2>&1) || {
        tail -n 20 "$cache/download.log" >&2
        die "apt-get download failed (network? apt-get update?)"
    }
    for d in "$cache"/debs/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
    touch "$cache/root/.unpacked-$kver"
    log "unpacked $(du -sh "$cache/debs" | cut -f1) of packages (${SECONDS}s)"
fi

root=$cache/root
bb=$root/bin/busybox
# what the kernel's xz stream decompresses to (see linux-guest-elf below),
# made once per kernel
vmlinux=$root/.vmlinux-$kver
out=$build.new
rm -rf "$build" "$out"
mkdir -p "$out"
# hard links where the files are the same for every build (cp elsewhere)
link() { ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"; }
[[ -x $bb ]] || die "no busybox in $root"
xbin=usr/lib/xen-4.17/bin
xlibs=$root/usr/lib/x86_64-linux-gnu

# --- 2. The hypervisor and the kernel.
zcat "$root/boot/xen-4.17-amd64.gz" >"$out/xen"
link "$root/boot/vmlinuz-$kver" "$out/vmlinuz"

# cpio_dir DIR OUT: a newc archive of DIR, gzipped (busybox's cpio: the host
# need not have one).
cpio_dir() {
    (cd "$1" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null | gzip -1 >"$2.tmp")
    mv "$2.tmp" "$2"
}

# --- 3. dom0's initramfs.
s=$out/dom0-tree
rm -rf "$s"
mkdir -p "$s"/{bin,sbin,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,$xbin,etc/xen,proc,sys,dev,run,tmp,root,var/lib,var/log/xen,tessera}
ln -s ../run "$s/var/run"
cp "$bb" "$s/bin/busybox"
for a in $("$bb" --list-full); do
    [[ -e $s/$a || -L $s/$a ]] || ln -s /bin/busybox "$s/$a"
done

# copy_with_libs SRC DEST: a binary and the shared libraries it loads.
copy_with_libs() {
    cp -L "$1" "$s/$2"
    local lib
    LD_LIBRARY_PATH=$xlibs ldd "$1" | awk '/=>/ { print $3 } $1 ~ /^\/lib64\// { print $1 }' |
        while read -r lib; do
            [[ -n $lib && -e $lib ]] || continue
            case $lib in
                */ld-linux-x86-64.so.2) cp -L -n "$lib" "$s/lib64/ld-linux-x86-64.so.2" ;;
                *) cp -L -n "$lib" "$s/lib/x86_64-linux-gnu/${lib##*/}" ;;
            esac
        done
}
for b in xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper xenstore-control; do
    copy_with_libs "$root/$xbin/$b" "$xbin/$b"
done
for b in xl xenstored xenconsoled xen-init-dom0; do ln -sf "/$xbin/$b" "$s/usr/sbin/$b"; done
copy_with_libs "$root/usr/bin/xenstore" usr/bin/xenstore
for b in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm xenstore-exists \
         xenstore-chmod xenstore-watch; do
    ln -sf xenstore "$s/usr/bin/$b"
done
# bash: dom0's /init, the plans and the stock hotplug scripts. flock: the
# hotplug scripts' locking (busybox-static has none; without it the `block`
# script fails and `xl create` of a guest with a disk gives up).
rm -f "$s/bin/bash" "$s/usr/bin/flock"
copy_with_libs "$(command -v bash)" bin/bash
copy_with_libs "$(command -v flock)" usr/bin/flock
# glibc loads libgcc_s for pthread_cancel (libxl uses it): without it
# `xl create` aborts.
libgcc=$(ldconfig -p 2>/dev/null | awk '/libgcc_s\.so\.1 .*x86-64/ && !n++ { print $NF }' || true)
[[ -n $libgcc ]] || libgcc=/lib/x86_64-linux-gnu/libgcc_s.so.1
[[ -e $libgcc ]] || die "libgcc_s.so.1 not found on the host"
cp -L "$libgcc" "$s/lib/x86_64-linux-gnu/"

cp "$root/etc/xen/xl.conf" "$s/etc/xen/"
cp -a "$root/etc/xen/scripts" "$s/etc/xen/"
echo "root:x:0:0:root:/root:/bin/sh" >"$s/etc/passwd"
echo "root:x:0:" >"$s/etc/group"

# copy_modules TREE MODULE...: the kernel modules and those they depend on,
# into TREE's /lib/modules, with a modules.dep for busybox's modprobe. A
# module built into the kernel is skipped.
md=lib/modules/$kver
[[ -s $root/$md/modules.dep ]] || "$bb" depmod -b "$root" "$kver"
copy_modules() {
    local t=$1 m pat line f
    shift
    mkdir -p "$t/$md"
    for m in "$@"; do
        pat=${m//[-_]/[-_]}
        line=$(grep -E "/$pat\.ko(\.xz|\.zst)?:" "$root/$md/modules.dep" || true)
        if [[ -z $line ]]; then
            grep -qE "/$pat\.ko" "$root/$md/modules.builtin" && continue
            die "kernel module $m not found in $kpkg"
        fi
        for f in ${line%%:*} ${line#*:}; do
            mkdir -p "$t/$md/$(dirname "$f")"
            cp -n "$root/$md/$f" "$t/$md/$f"
        done
    done
    cp "$root/$md/modules.builtin" "$root/$md/modules.order" "$t/$md/"
    "$bb" depmod -b "$t" "$kver"
}

# Kernel modules: the Xen backends and devices, the bridge and loop devices
# for vif and disk guests, and virtio's serial port, the channel on which
# dom0 sends the results to the host.
copy_modules "$s" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback bridge \
    loop virtio_pci virtio_console

"$cc" -O2 -static -Wall -Wextra -o "$s/usr/bin/constamp" "$here/constamp.c" ||
    die "could not build constamp.c statically with $cc (libc6-dev?)"
install -m 755 "$here/dom0-init.sh" "$s/init"
install -m 644 "$here/dom0-lib.sh" "$s/tessera/lib.sh"
cpio_dir "$s" "$out/dom0.cpio.gz"
rm -rf "$s"

# --- 4. The Linux PV guest: the same kernel, busybox, and three /init
# scripts. The kernel's built-in initramfs provides /dev/console.
#   /init       prints the ready line and powers off (the benchmark's guest)
#   /hang       prints a line, then sleeps for ever, deaf to `xl shutdown`
#               (Linux runs /sbin/poweroff, which signals init, and a shell
#               as init ignores the signal): only `xl destroy` stops it
#   /hang-ack   the same, but acts on `xl shutdown` (poweroff's SIGUSR2)
# Pick one with rdinit= in extra=.
g=$out/linux-guest
gt=$out/linux-guest-tree
rm -rf "$g" "$gt"
mkdir -p "$g" "$gt"/{bin,sbin,usr/bin,usr/sbin,proc,sys,tmp}
cp "$bb" "$gt/bin/busybox"
for a in $("$bb" --list-full); do
    [[ -e $gt/$a || -L $gt/$a ]] || ln -s /bin/busybox "$gt/$a"
done
printf '#!/bin/sh\necho "linux-guest: ready"; exec poweroff -f\n' >"$gt/init"
printf '#!/bin/sh\necho "linux-guest: hanging"; while :; do sleep 1; done\n' >"$gt/hang"
printf '#!/bin/sh\ntrap '\''echo "linux-guest: poweroff requested"; poweroff -f'\'' USR2\necho "linux-guest: hanging"; while :; do sleep 1; done\n' >"$gt/hang-ack"
chmod 755 "$gt/init" "$gt/hang" "$gt/hang-ack"
cpio_dir "$gt" "$g/linux-guest.cpio.gz"

# The networked variant (linux-guest-net.cpio.gz): the same tree, plus
# xen-netfront (a module in Debian's kernel) and /httpd, busybox's web
# server on eth0. Its directory is empty: append a gzipped cpio archive of
# your own files under srv/www to the initramfs (the kernel unpacks
# concatenated archives one after the other), as bench/xen-www does with
# the www app's site. Kernel command-line words NAME=VALUE that the kernel
# does not know reach /init as variables: net_ip= (default 192.0.2.2/24)
# and www_dir= (default /srv/www). It obeys `xl shutdown`; the loop at its
# end is init's, which never returns.
copy_modules "$gt" xen-netfront
mkdir -p "$gt/srv/www"
cat >"$gt/httpd" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
modprobe xen-netfront || echo "linux-guest: modprobe xen-netfront failed"
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 250 ]; do usleep 20000; i=$((i + 1)); done
{ ip addr add "${net_ip:-192.0.2.2/24}" dev eth0 && ip link set eth0 up; } || echo "linux-guest: no eth0"
trap 'echo "linux-guest: poweroff requested"; poweroff -f' USR2
httpd -f -p 80 -h "${www_dir:-/srv/www}" &
echo "linux-guest: serving ${www_dir:-/srv/www} on port 80 at ${net_ip:-192.0.2.2/24}"
while :; do wait; sleep 1; done
EOF
chmod 755 "$gt/httpd"
cpio_dir "$gt" "$g/linux-guest-net.cpio.gz"
rm -rf "$gt"
link "$out/vmlinuz" "$g/vmlinuz"
# linux_xl NAME KERNEL RAMDISK EXTRA COMMENT [XL_LINE...]: the guest's xl
# config. The command line: the console on the PV console ring (hvc0; the
# release hypervisor refuses a domU's console_io writes, so nothing earlier
# can show), and `quiet`, as a production guest boots, so that the kernel's
# boot messages do not hold it up on the console ring. Everything else is
# Debian's default. 128 MiB: the decompressed kernel alone needs about 60,
# and libxenguest refuses 64.
linux_xl() {
    local l
    printf '%s\n' "$5" | sed 's/^/# /'
    cat <<EOF
name = "$1"
type = "pv"
kernel = "$2"
ramdisk = "$3"
extra = "$4"
memory = 128
vcpus = 1
on_poweroff = "preserve"
on_reboot = "preserve"
on_crash = "preserve"
EOF
    for l in "${@:6}"; do echo "$l"; done
}
what_base='/init prints "linux-guest: ready" and powers off; rdinit=/hang (deaf to
xl shutdown) or rdinit=/hang-ack (obeys it) never stop by themselves.'
what_net="/httpd serves /srv/www (empty here: see tests/xen/dom0-assets.sh) on
port 80 at net_ip= (default 192.0.2.2/24), on a vif on xenbr0."
linux_xl linux-guest vmlinuz linux-guest.cpio.gz "console=hvc0 quiet" \
    "A minimal Linux PV guest: Debian's kernel (dom0's) and busybox.
$what_base" >"$g/linux-guest.xl"
linux_xl linux-guest-net vmlinuz linux-guest-net.cpio.gz "console=hvc0 quiet rdinit=/httpd" \
    "linux-guest with a vif and busybox's httpd.
$what_net" "vif = ['bridge=xenbr0']" >"$g/linux-guest-net.xl"

# The same guest with its kernel decompressed beforehand (vmlinux, an ELF
# image, 66 MB): `xl create` then only loads it, where with the bzImage
# libxenguest first decompresses the kernel in dom0 (seconds under
# emulation). Debian's kernel is xz-compressed; xz reads the stream from its
# magic and complains about what follows it, which is not xz.
if [[ ! -s $vmlinux ]] && command -v xz >/dev/null; then
    off=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$g/vmlinuz" | head -n 1 | cut -d: -f1 || true)
    if [[ -n $off ]]; then
        tail -c +$((off + 1)) "$g/vmlinuz" | xz -dc >"$vmlinux" 2>/dev/null || true
    fi
fi
if [[ -s $vmlinux && $(head -c 4 "$vmlinux" | od -An -c | tr -d ' ') == 177ELF ]]; then
    link "$vmlinux" "$g/vmlinux"
    linux_xl linux-guest-elf vmlinux linux-guest.cpio.gz "console=hvc0 quiet" \
        "linux-guest with its kernel decompressed beforehand (an ELF image).
$what_base" >"$g/linux-guest-elf.xl"
else
    rm -f "$vmlinux"
    log "no xz stream in the kernel (or no xz here): no linux-guest-elf"
fi

# --- Done: the build, with the unpacked packages at hand (busybox), and
# only the three most recently used builds kept (scripts of other versions,
# in other work trees, have theirs).
ln -s ../../root "$out/root"
touch "$out/complete"
mv "$out" "$build"
ls -1dt "$cache"/builds/*/complete 2>/dev/null | tail -n +4 | while read -r old; do
    rm -rf "${old%/complete}"
done || true
log "built in ${SECONDS}s: $build ($(du -sh "$build/dom0.cpio.gz" | cut -f1) dom0 initramfs)"
echo "$build"
