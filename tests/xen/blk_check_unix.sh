#!/bin/sh
# blk-check on Unix, where its disk and its key/value store are files: the
# same program the Xen test boots, checked the same way from outside. The
# pattern on the disk (from a fresh seed) against blk_pattern.py's, the
# sectors around it untouched, each file read from the image against
# sha256sum of the file it was built from; and a corrupt image refused
# with its reason.
# Usage: blk_check_unix.sh BLK_CHECK KVIMG ASSETS_DIR
set -eu
BLK=$1 KVIMG=$2 ASSETS=$3
here=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/tessera-blk-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -c 8388608 /dev/urandom >"$WORK/disk.img"
"$KVIMG" -o "$WORK/kv.img" "$ASSETS"
seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
len=$((4194304 + 3 * 512))
before_head=$(head -c 1536 "$WORK/disk.img" | sha256sum | cut -d' ' -f1)
tail_at=$((1536 + len))
before_tail=$(tail -c +$((tail_at + 1)) "$WORK/disk.img" | sha256sum | cut -d' ' -f1)

"$BLK" --block "$WORK/disk.img" --kv-disk "$WORK/kv.img" "$seed" index.html img/Logo.PNG docs/index.html \
    >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; fail "blk-check failed"; }
cat "$WORK/out"
grep -qx "blk-check: all checks passed" "$WORK/out" || fail "no success line"

want=$(/usr/bin/python3 "$here/blk_pattern.py" "$seed" "$len")
grep -qx "pattern: $len bytes at sector 3 (512-byte sectors), sha256 $want" "$WORK/out" ||
    fail "the pattern line does not say $len bytes with sha256 $want"
got=$(dd if="$WORK/disk.img" bs=512 skip=3 count=$((len / 512)) 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "the disk holds $got at sector 3, not the pattern $want"
[ "$(head -c 1536 "$WORK/disk.img" | sha256sum | cut -d' ' -f1)" = "$before_head" ] || fail "sectors 0-2 changed"
[ "$(tail -c +$((tail_at + 1)) "$WORK/disk.img" | sha256sum | cut -d' ' -f1)" = "$before_tail" ] ||
    fail "the sectors after the pattern changed"

for key in index.html img/Logo.PNG docs/index.html; do
    sum=$(sha256sum "$ASSETS/$key" | cut -d' ' -f1)
    size=$(stat -c %s "$ASSETS/$key")
    etag=$(printf '%.16s' "$sum")
    grep -q "^kv $key: $size bytes, .*, etag \"$etag\", sha256 $sum\$" "$WORK/out" || fail "kv $key"
done

# A corrupt image: refused when the store opens, with the reason.
cp "$WORK/kv.img" "$WORK/bad.img"
printf 'X' | dd of="$WORK/bad.img" bs=1 seek=600 conv=notrunc 2>/dev/null
if "$BLK" --kv-disk "$WORK/bad.img" "$seed" index.html >"$WORK/out" 2>"$WORK/err"; then
    fail "a corrupt image was used"
fi
grep -q "not a usable key/value image: index checksum mismatch" "$WORK/err" || fail "reason: $(cat "$WORK/err")"
echo "blk-check on Unix: all checks passed"
