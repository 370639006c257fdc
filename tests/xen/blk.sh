#!/usr/bin/env bash
# blk.sh: blkfront and the key/value store on disk images, on the real
# hypervisor (in QEMU), with blk-check (tests/xen/apps/blk_check.c). One
# boot runs every guest of blk-plan.sh; each check then reads what came
# back, so that each is a test of its own:
#
#   blk.sh boot RESULTS BUILD_DIR SOURCE_DIR   boots, leaves the results in RESULTS
#   blk.sh check RESULTS BUILD_DIR SOURCE_DIR NAME
#
# Checks: rw (a pattern from a fresh seed written over more requests than
# the ring holds, flushed and read back by the guest; then, after it has
# powered off, the disk image hashed in dom0 against the pattern computed
# here by blk_pattern.py, and the sectors around it unchanged; the disks
# disconnected with no grant left), kv (files read from a disk image built
# by tessera_kvimg, against sha256sum of the files it was built from),
# corrupt (an image with a corrupt index refused with
# its reason, the app never started), nodisk (a disk the domain does not
# have: a clear error), www (www serving files from a disk image, with
# --kv-disk, to busybox wget on the bridge: each file against sha256sum of
# its source, the ETag, a 404; the disk and the vif disconnected with no
# grant left).
# Exit status: 0 passed, 1 failed, 77 QEMU cannot run here.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/check-lib.sh"
[[ $# -ge 4 ]] || { echo "usage: $0 boot|check RESULTS BUILD_DIR SOURCE_DIR [NAME]" >&2; exit 2; }
mode=$1 out=$2 build=$3 src=$4
assets=$src/tests/kv/assets
disk_sectors=16384                       # 8 MiB
pattern_len=$((4194304 + 3 * 512))       # what blk-check writes with 512-byte sectors
pattern_sectors=$((pattern_len / 512))

if [[ $mode == boot ]]; then
    mkdir -p "$out"
    rm -f "$out"/*.img
    head -c $((disk_sectors * 512)) /dev/urandom >"$out/disk.img"
    "$build/kv/tessera_kvimg" -o "$out/kv.img" "$assets"
    cp "$out/kv.img" "$out/bad.img"
    cp "$build/tests/kv/assets.img" "$out/site.img" # with the .gz variants
    printf 'X' | dd of="$out/bad.img" bs=1 seek=600 conv=notrunc 2>/dev/null
    seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
    echo "$seed" >"$out/seed"
    after=$((3 + pattern_sectors))
    {
        echo "head $(dd if="$out/disk.img" bs=512 count=3 2>/dev/null | sha256sum | cut -d' ' -f1)"
        echo "tail $(dd if="$out/disk.img" bs=512 skip="$after" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    } >"$out/disk.before"
    trap 'rm -f "$out"/*.img' EXIT
    xen_boot "$out" -T 600 -g "$build/tests/xen/apps/blk-check.xl" \
        -g "$build/apps/www.xl" -f "$out/disk.img" -f "$out/kv.img" -f "$out/bad.img" -f "$out/site.img" \
        "$here/blk-plan.sh" "$seed" "$pattern_sectors" "$disk_sectors"
fi

[[ $mode == check && $# -eq 5 ]] || { echo "usage: $0 check RESULTS BUILD_DIR SOURCE_DIR NAME" >&2; exit 2; }
xen_check_start "$out" "$5"
field() { awk -v k="$1" '$1 == k { print $2 }' "$2" 2>/dev/null; }

case $name in
rw)
    reason_is rw poweroff
    console_has rw "blk-check: all checks passed"
    console_has rw "disk xvda: $disk_sectors sectors of 512 bytes, read-write"
    seed=$(cat "$out/seed")
    want=$(/usr/bin/python3 "$here/blk_pattern.py" "$seed" "$pattern_len")
    console_has rw "pattern: $pattern_len bytes at sector 3 (512-byte sectors), sha256 $want"
    console_has rw "read back: $pattern_len bytes verified, sha256 $want"
    console_has rw "concurrent reads: 8 pieces verified"
    got=$(field pattern "$out/rw.disk")
    [[ $got == "$want" ]] || fail "the disk image in dom0 holds $got at sector 3, not the pattern $want"
    for part in head tail; do
        [[ $(field $part "$out/rw.disk") == "$(field $part "$out/disk.before")" ]] ||
            fail "the disk's $part (outside the pattern) changed"
    done
    console_has rw "blkfront: xvda: connected: $disk_sectors sectors of 512 bytes, read-write"
    console_has rw "blkfront: xvdb: connected:"
    console_has rw "read-only"
    # Both disks disconnected, the last one leaving no grant in use.
    console_has rw "blkfront: xvdb: disconnected"
    console_has rw "blkfront: xvda: disconnected (grants in use in the domain: 0)"
    ;;
kv)
    reason_is rw poweroff
    for key in index.html img/Logo.PNG docs/index.html; do
        sum=$(sha256sum "$src/tests/kv/assets/$key" | cut -d' ' -f1)
        size=$(stat -c %s "$src/tests/kv/assets/$key")
        grep -q "^kv $key: $size bytes, .*, etag \"${sum:0:16}\", sha256 $sum" "$out/rw.console" ||
            fail "kv $key: not $size bytes with sha256 $sum"
    done
    console_has rw "kv-disk: xvdb: $(find "$src/tests/kv/assets" -type f ! -name '.*' | wc -l | tr -d ' ')"
    ;;
corrupt)
    reason_is corrupt crash
    console_has corrupt "kv-disk: xvdb: not a usable key/value image: index checksum mismatch"
    if grep -q "blk-check:" "$out/corrupt.console"; then fail "the app ran on a corrupt image"; fi
    console_has corrupt "blkfront: xvdb: disconnected (grants in use in the domain: 0)"
    ;;
nodisk)
    reason_is nodisk crash
    console_has nodisk "blkfront: xvdc: no such virtual disk"
    ;;
www)
    reason_is web stopped-by-shutdown
    console_has web "kv-disk: xvdb: "
    console_has web "www: serving disk on port 8080"
    for key in a.txt index.html img/Logo.PNG docs/index.html; do
        sum=$(sha256sum "$assets/$key" | cut -d' ' -f1)
        [[ $(field "$key" "$out/www.fetched") == "$sum" ]] || fail "GET /$key: not the file (sha256 $sum)"
    done
    sum=$(sha256sum "$assets/index.html" | cut -d' ' -f1)
    [[ $(field etag "$out/www.fetched") == "\"${sum:0:16}\"" ]] || fail "the ETag of /index.html is not \"${sum:0:16}\""
    [[ $(field notfound "$out/www.fetched") == 404 ]] || fail "no 404 for a file not in the image"
    console_has web "blkfront: xvdb: disconnected"
    console_has web "main: grants in use: 0"
    ;;
*)
    echo "unknown check '$name'" >&2
    exit 2
    ;;
esac
if ((failed)); then
    for g in rw corrupt nodisk web; do
        echo "--- $g's console:"
        cat "$out/$g.console" 2>/dev/null || echo "(none)"
    done
fi
((failed == 0))
