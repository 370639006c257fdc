#!/bin/sh
# The image builder on a directory made here, checked from outside with
# od and cmp: the header's magic, version, count and sizes, the index at
# 512 and the data at multiples of 512 (each file's bytes found where its
# record says), SOURCE_DATE_EPOCH in every record, identical images from
# identical input, an empty directory, and a clear message with a nonzero
# status (and no image left behind) for each kind of error. What the store
# makes of an image is tested in test_kv_disk.c.
# Usage: kvimg_test.sh PATH/TO/kvimg
set -eu
KVIMG=$1
WORK=$(mktemp -d /tmp/tessera-kvimg-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

D=$WORK/site
mkdir -p "$D/docs" "$D/.git"
printf '<p>home</p>\n' >"$D/index.html"
printf 'second file, a bit longer than the first one\n' >"$D/docs/a.txt"
printf 'hidden' >"$D/.git/config"
: >"$D/empty"

SOURCE_DATE_EPOCH=1700000000 "$KVIMG" -o "$WORK/a.img" "$D" || fail "kvimg failed"
[ ! -e "$WORK/a.img.tmp" ] || fail "temporary file left behind"

# u64 OFFSET FILE / u32 OFFSET FILE: little-endian integers, in decimal.
u64() { od -An -j "$1" -N 8 -t u8 --endian=little "$2" | tr -d ' '; }
u32() { od -An -j "$1" -N 4 -t u4 --endian=little "$2" | tr -d ' '; }
u16() { od -An -j "$1" -N 2 -t u2 --endian=little "$2" | tr -d ' '; }
u8() { od -An -j "$1" -N 1 -t u1 "$2" | tr -d ' '; }

[ "$(head -c 8 "$WORK/a.img")" = TESSERKV ] || fail "magic"
[ "$(u32 8 "$WORK/a.img")" = 1 ] || fail "version"
[ "$(u32 16 "$WORK/a.img")" = 3 ] || fail "count: dotfiles left out, empty file kept"
[ "$(u64 24 "$WORK/a.img")" = 512 ] || fail "index offset"
size=$(stat -c %s "$WORK/a.img")
[ "$(u64 40 "$WORK/a.img")" = "$size" ] || fail "image size in the header ($size bytes written)"
[ $((size % 4096)) = 0 ] || fail "image size not a multiple of 4096"

# Walk the records: keys in order, each file's bytes where its record says.
pos=512
end=$((512 + $(u64 32 "$WORK/a.img")))
keys=
while [ "$pos" -lt "$end" ]; do
    off=$(u64 "$pos" "$WORK/a.img")
    len=$(u64 $((pos + 8)) "$WORK/a.img")
    mtime=$(u64 $((pos + 16)) "$WORK/a.img")
    kl=$(u16 $((pos + 56)) "$WORK/a.img")
    tl=$(u8 $((pos + 58)) "$WORK/a.img")
    el=$(u8 $((pos + 59)) "$WORK/a.img")
    key=$(dd if="$WORK/a.img" bs=1 skip=$((pos + 60)) count="$kl" 2>/dev/null)
    keys="$keys$key "
    [ $((off % 512)) = 0 ] || fail "$key: data at $off, not a multiple of 512"
    [ "$mtime" = 1700000000 ] || fail "$key: mtime $mtime"
    [ "$len" = "$(stat -c %s "$D/$key")" ] || fail "$key: length $len"
    if [ "$len" -gt 0 ]; then
        cmp -s -i "$off:0" -n "$len" "$WORK/a.img" "$D/$key" || fail "$key: data differs"
    fi
    rec=$((60 + kl + 1 + tl + 1 + el + 1))
    pos=$((pos + (rec + 7) / 8 * 8))
done
[ "$pos" = "$end" ] || fail "records do not end where the index does"
[ "$keys" = "docs/a.txt empty index.html " ] || fail "keys: $keys"

# The same input gives the same image.
SOURCE_DATE_EPOCH=1700000000 "$KVIMG" -o "$WORK/b.img" "$D" || fail "second run"
cmp -s "$WORK/a.img" "$WORK/b.img" || fail "two runs differ"

mkdir "$WORK/none"
"$KVIMG" -o "$WORK/none.img" "$WORK/none" || fail "empty directory"
[ "$(stat -c %s "$WORK/none.img")" = 4096 ] || fail "empty image size"
[ "$(u32 16 "$WORK/none.img")" = 0 ] || fail "empty image count"

expect_error() { # pattern, then the command
    pattern=$1
    shift
    rm -f "$WORK/e.img"
    if "$@" 2>"$WORK/err"; then fail "no error for: $*"; fi
    grep -q "$pattern" "$WORK/err" || fail "message for $*: $(cat "$WORK/err")"
    [ ! -e "$WORK/e.img" ] && [ ! -e "$WORK/e.img.tmp" ] || fail "output left by: $*"
}
expect_error usage "$KVIMG"
expect_error usage "$KVIMG" -o "$WORK/e.img"
expect_error "kvimg: .*missing: No such file" "$KVIMG" -o "$WORK/e.img" "$WORK/missing"
expect_error "not a directory" "$KVIMG" -o "$WORK/e.img" "$D/index.html"
mkfifo "$D/fifo"
expect_error "fifo: not a regular file" "$KVIMG" -o "$WORK/e.img" "$D"
rm "$D/fifo"
expect_error "kvimg: .*No such file" "$KVIMG" -o "$WORK/nodir/e.img" "$D"
echo "kvimg: all checks passed"
