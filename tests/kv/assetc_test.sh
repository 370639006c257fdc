#!/bin/sh
# The asset compiler on a directory made here, checked with other tools:
# each ETag against sha256sum, the .gz variants against gzip, the order
# against sort, SOURCE_DATE_EPOCH, identical output from identical input,
# and a clear message with a nonzero status for each kind of error.
# Usage: assetc_test.sh PATH/TO/assetc
set -eu
ASSETC=$1
WORK=$(mktemp -d /tmp/tessera-assetc-XXXXXX)
trap 'chmod -R u+rwx "$WORK"; rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

D=$WORK/site
mkdir -p "$D/docs" "$D/img" "$D/.git" "$WORK/gz/docs"
printf 'body { margin: 0; }\n%.0s' $(seq 40) >"$D/style.css"
printf '<p>docs</p>\n' >"$D/docs/index.html"
printf 'x' >"$D/docs.txt"
printf '\000\001\002"\\?7\n' >"$D/img/b.bin"
printf 'pre' >"$D/pre.js"
printf 'not gzip, the one shipped with the site\n' >"$D/pre.js.gz"
printf 'hidden' >"$D/.env"
printf 'hidden' >"$D/.git/config"
: >"$D/empty.txt"
# Variants as the build makes them; one for a file that is gone (stale).
gzip -9 -n -c "$D/style.css" >"$WORK/gz/style.css.gz"
gzip -9 -n -c "$D/docs/index.html" >"$WORK/gz/docs/index.html.gz"
gzip -9 -n -c "$D/pre.js" >"$WORK/gz/pre.js.gz"
echo stale | gzip -9 -n >"$WORK/gz/gone.html.gz"

SOURCE_DATE_EPOCH=1700000000 "$ASSETC" --gz "$WORK/gz" -o "$WORK/a.c" "$D" || fail "assetc failed"
[ ! -e "$WORK/a.c.tmp" ] || fail "temporary file left behind"

# One line per entry: {"key", asset_N, LEN, "type", "\"etag\"", INT64_C(mtime)},
entries=$(grep '^    {"' "$WORK/a.c")
keys=$(printf '%s\n' "$entries" | sed 's/^    {"\([^"]*\)".*/\1/')
want='docs.txt
docs/index.html
empty.txt
img/b.bin
pre.js
pre.js.gz
style.css
style.css.gz'
[ "$keys" = "$want" ] || fail "keys: $keys"
[ "$(printf '%s\n' "$keys" | LC_ALL=C sort)" = "$keys" ] || fail "not sorted"

field() { printf '%s\n' "$entries" | grep "^    {\"$1\"" | sed "s/^    {\"[^\"]*\", asset_[0-9]*, \([0-9]*\), \"\([^\"]*\)\", \"\\\\\"\([0-9a-f]*\)\\\\\"\", INT64_C(\([0-9-]*\))},\$/$2/"; }
check() { # key file type
    len=$(field "$1" '\1'); type=$(field "$1" '\2'); etag=$(field "$1" '\3'); mtime=$(field "$1" '\4')
    [ "$len" = "$(wc -c <"$2" | tr -d ' ')" ] || fail "$1: length $len"
    [ "$type" = "$3" ] || fail "$1: type $type"
    [ "$etag" = "$(sha256sum "$2" | cut -c1-16)" ] || fail "$1: etag $etag"
    [ "$mtime" = 1700000000 ] || fail "$1: mtime $mtime"
}
check docs.txt "$D/docs.txt" "text/plain; charset=utf-8"
check docs/index.html "$D/docs/index.html" "text/html; charset=utf-8"
check empty.txt "$D/empty.txt" "text/plain; charset=utf-8"
check img/b.bin "$D/img/b.bin" "application/octet-stream"
check pre.js "$D/pre.js" "text/javascript; charset=utf-8"
check pre.js.gz "$D/pre.js.gz" "text/javascript; charset=utf-8"
check style.css "$D/style.css" "text/css; charset=utf-8"
check style.css.gz "$WORK/gz/style.css.gz" "text/css; charset=utf-8"

# The bytes: compile the table with a main that writes an entry out.
cat >"$WORK/dump.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "kv_assets.h"
int main(int argc, char **argv)
{
    for (size_t i = 0; i < tessera_assets.count; i++)
        if (strcmp(tessera_assets.assets[i].key, argv[argc - 1]) == 0)
            return fwrite(tessera_assets.assets[i].data, 1, tessera_assets.assets[i].len, stdout) !=
                   tessera_assets.assets[i].len;
    return 1;
}
C
KV=$(dirname "$0")/../../kv
LWT=$(dirname "$0")/../../lwt
if cc -std=gnu11 -Wall -Wextra -Werror -I"$KV" -I"$LWT" -o "$WORK/dump" "$WORK/dump.c" "$WORK/a.c"; then
    for k in docs.txt docs/index.html img/b.bin style.css pre.js.gz; do
        "$WORK/dump" "$k" | cmp -s - "$D/$k" || fail "$k: bytes differ"
    done
    "$WORK/dump" style.css.gz | gzip -dc | cmp -s - "$D/style.css" || fail "style.css.gz does not decompress to style.css"
else
    fail "the generated table does not compile"
fi

# Same input, same output; without SOURCE_DATE_EPOCH the files' mtimes.
SOURCE_DATE_EPOCH=1700000000 "$ASSETC" --gz "$WORK/gz" -o "$WORK/b.c" "$D"
cmp -s "$WORK/a.c" "$WORK/b.c" || fail "output not deterministic"
touch -d @1600000000 "$D/docs.txt"
env -u SOURCE_DATE_EPOCH "$ASSETC" -o "$WORK/c.c" "$D"
entries=$(grep '^    {"' "$WORK/c.c")
[ "$(field docs.txt '\4')" = 1600000000 ] || fail "mtime not the file's"
! grep -q '"style.css.gz"' "$WORK/c.c" || fail "a .gz variant without --gz"

# An empty directory is an empty table.
mkdir "$WORK/none"
"$ASSETC" -o "$WORK/none.c" "$WORK/none"
grep -q 'tessera_assets = {NULL, 0}' "$WORK/none.c" || fail "empty table"

# Errors: a message naming the problem and status 1, no output file.
expect_error() { # pattern, then the command
    pattern=$1
    shift
    rm -f "$WORK/e.c"
    if "$@" 2>"$WORK/err"; then fail "no error for: $*"; fi
    grep -q "$pattern" "$WORK/err" || fail "message for $*: $(cat "$WORK/err")"
    [ ! -e "$WORK/e.c" ] && [ ! -e "$WORK/e.c.tmp" ] || fail "output left by: $*"
}
expect_error usage "$ASSETC"
expect_error usage "$ASSETC" -o "$WORK/e.c"
expect_error usage "$ASSETC" --bogus -o "$WORK/e.c" "$D"
expect_error "No such file" "$ASSETC" -o "$WORK/e.c" "$WORK/missing"
expect_error "not a directory" "$ASSETC" -o "$WORK/e.c" "$D/docs.txt"
expect_error "SOURCE_DATE_EPOCH" env SOURCE_DATE_EPOCH=soon "$ASSETC" -o "$WORK/e.c" "$D"
mkfifo "$D/fifo"
expect_error "fifo: not a regular file" "$ASSETC" -o "$WORK/e.c" "$D"
rm "$D/fifo"
if [ "$(id -u)" != 0 ]; then
    chmod 000 "$D/docs.txt"
    expect_error "docs.txt: Permission denied" "$ASSETC" -o "$WORK/e.c" "$D"
    chmod 644 "$D/docs.txt"
fi
ln -s nowhere "$D/dangling.txt"
expect_error "dangling.txt: No such file" "$ASSETC" -o "$WORK/e.c" "$D"
rm "$D/dangling.txt"
truncate -s 300M "$D/huge.bin"
expect_error "huge.bin: too big" "$ASSETC" -o "$WORK/e.c" "$D"
rm "$D/huge.bin"
echo "assetc: all checks passed"
