#!/usr/bin/env bash
# Headless Chromium loads the site from apps/www: the page's title as the
# browser parsed it, a screenshot, and in it the site's image as the browser
# decoded and drew it; the access log shows the browser fetched it all.
# Usage: chromium.sh socket|direct WWW_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
www_require chromium curl
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 is not installed"

www_start
# Root needs --no-sandbox; the profile lives in the test's directory.
browser=(chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
    --user-data-dir="$WORK/profile" --window-size=1024,768 --force-device-scale-factor=1)
# Chromium is slow to start here; bounded all the same.
client timeout 120 "${browser[@]}" --dump-dom "$URL/" >"$WORK/dom.html" 2>"$WORK/chromium.log" ||
    fail "chromium --dump-dom failed: $(tail -n 5 "$WORK/chromium.log")"
title=$(sed -n 's:.*<title>\(.*\)</title>.*:\1:p' "$WORK/dom.html" | head -n 1)
[[ "$title" == Tessera* ]] || fail "the page's title in the browser is '$title'"
log "title: $title"
client timeout 120 "${browser[@]}" --screenshot="$WORK/shot.png" "$URL/" >>"$WORK/chromium.log" 2>&1 ||
    fail "chromium --screenshot failed: $(tail -n 5 "$WORK/chromium.log")"
[[ -s "$WORK/shot.png" ]] || fail "no screenshot"
img=$(grep -o '<img[^>]*src="[^"]*"' "$WORK/dom.html" | head -n 1 | sed 's/.*src="\([^"]*\)"/\1/')
[[ -n "$img" ]] || fail "the page has no image"
[[ "$img" == /* ]] || img="/$img"
client curl -sS -o "$WORK/image.png" "$URL$img" || fail "cannot fetch $img"
/usr/bin/python3 "$(dirname "$0")/png_colors.py" "$WORK/image.png" "$WORK/shot.png" ||
    fail "the screenshot does not show the image $img"
grep -q "\"GET $img HTTP/1.1\" 200" "$WWW_OUT" || fail "the access log has no GET $img by the browser"
log "screenshot shows $img; the browser fetched it"
www_stop
log PASS
