#!/usr/bin/env bash
# apps/www serving its site from a disk image (--kv-disk, the file the
# image builder wrote from apps/www/site) rather than from the files
# compiled in: the same bytes, the same ETags (both come from the files'
# SHA-256), the precompressed variants, the 404 page and the directory
# redirect. And a corrupt image is refused at start, with its reason.
# Usage: disk.sh socket WWW_BINARY IMAGE SITE_DIR
set -euo pipefail
IMAGE=${3:?the disk image} SITE=${4:?the site directory}
WWW_MAIN_ARGS=(--kv-disk "$IMAGE")
source "$(dirname "$0")/lib.sh"
www_require curl cmp sha256sum

www_start
grep -q "files from the disk image $IMAGE" "$WWW_LOG" || fail "the log does not say the files come from the image"

get() { # path, curl options: the status; body in $WORK/b, headers in $WORK/h
    local path=$1
    shift
    rm -f "$WORK/b" "$WORK/h"
    client curl -sS -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' "$@" "$URL$path"
}
header() { grep -i "^$1:" "$WORK/h" | head -n 1 | sed -e 's/^[^:]*: *//' -e 's/\r$//'; }

for f in index.html style.css logo.png docs/index.html; do
    [[ $(get "/$f") == 200 ]] || fail "GET /$f: not 200"
    cmp -s "$WORK/b" "$SITE/$f" || fail "GET /$f: not the file's bytes"
    sum=$(sha256sum "$SITE/$f" | cut -d' ' -f1)
    [[ $(header ETag) == "\"${sum:0:16}\"" ]] || fail "GET /$f: ETag $(header ETag), want \"${sum:0:16}\""
done
log "files served from the image, with the ETags of their SHA-256"
[[ $(get /style.css --compressed) == 200 ]] || fail "GET /style.css, gzip"
[[ $(header Content-Encoding) == gzip ]] || fail "no gzip variant in the image"
cmp -s "$WORK/b" "$SITE/style.css" || fail "the gzip variant does not decompress to the file"
[[ $(get /no/such/page) == 404 ]] || fail "not found: not 404"
[[ $(get /docs) == 301 ]] || fail "GET /docs: not a redirect"
log "gzip variant, 404, directory redirect"
www_stop

# A corrupt image: the server does not start.
cp "$IMAGE" "$WORK/bad.img"
printf 'X' | dd of="$WORK/bad.img" bs=1 seek=700 conv=notrunc 2>/dev/null
rc=0
"$WWW_BIN" --kv-disk "$WORK/bad.img" -- --port 0 >"$WORK/bad.out" 2>"$WORK/bad.log" || rc=$?
((rc != 0)) || fail "www started on a corrupt image"
grep -q "not a usable key/value image: index checksum mismatch" "$WORK/bad.log" ||
    fail "no reason given for the corrupt image: $(cat "$WORK/bad.log")"
log "a corrupt image is refused: $(grep -o 'not a usable.*' "$WORK/bad.log")"
log PASS
