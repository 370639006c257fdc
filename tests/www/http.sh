#!/usr/bin/env bash
# apps/www against curl: status codes, headers, HEAD, ranges, conditional
# requests, precompressed files, keep-alive, pipelining, the access log.
# Usage: http.sh socket|direct WWW_BINARY
set -euo pipefail
source "$(dirname "$0")/lib.sh"
www_require curl nc

www_start

# status URL-PATH [curl options]: the status code; headers in $WORK/h, body
# in $WORK/b.
get() {
    local path=$1
    shift
    rm -f "$WORK/b" "$WORK/h" # curl writes no file for an empty body
    client curl -sS -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' "$@" "$URL$path"
}
header() { # the value of header $1 in $WORK/h, without CR
    grep -i "^$1:" "$WORK/h" | head -n 1 | sed -e 's/^[^:]*: *//' -e 's/\r$//'
}
expect_status() { # want got what
    [[ "$2" == "$1" ]] || fail "$3: status $2, want $1"
}

# The index page, and what every answer carries.
expect_status 200 "$(get /)" "GET /"
grep -q '<title>Tessera' "$WORK/b" || fail "GET /: not the site's index page"
[[ "$(header Content-Type)" == text/html* ]] || fail "GET /: Content-Type '$(header Content-Type)'"
[[ "$(header Content-Length)" == "$(stat -c %s "$WORK/b")" ]] || fail "GET /: Content-Length differs from the body"
etag=$(header ETag)
last_modified=$(header Last-Modified)
[[ "$etag" =~ ^\"[^\"]+\"$ ]] || fail "GET /: ETag '$etag' is not a strong tag"
[[ -n "$last_modified" && -n "$(header Date)" ]] || fail "GET /: no Last-Modified or Date"
[[ "$(header Server)" == Tessera ]] || fail "GET /: Server '$(header Server)'"
cp "$WORK/b" "$WORK/index"
expect_status 200 "$(get /index.html)" "GET /index.html"
cmp -s "$WORK/b" "$WORK/index" || fail "/ and /index.html differ"
log "GET / and /index.html: 200, ETag $etag"

# HEAD: the same headers, no body.
expect_status 200 "$(get / -I)" "HEAD /"
[[ "$(header Content-Length)" == "$(stat -c %s "$WORK/index")" ]] || fail "HEAD /: Content-Length"
# (curl -I writes the head as its output: the same bytes as the dump.)
cmp -s "$WORK/b" "$WORK/h" || fail "HEAD /: a body came"
log "HEAD /: headers only"

# Not found, directories, methods.
expect_status 404 "$(get /no/such/page)" "GET /no/such/page"
[[ "$(header Content-Type)" == text/html* ]] || fail "404: not the site's 404 page"
expect_status 404 "$(get /../../etc/passwd --path-as-is)" "GET /../../etc/passwd"
expect_status 301 "$(get /docs)" "GET /docs"
[[ "$(header Location)" == /docs/ ]] || fail "GET /docs: Location '$(header Location)'"
expect_status 200 "$(get /docs/)" "GET /docs/"
expect_status 405 "$(get / -X POST -d x=1)" "POST /"
[[ "$(header Allow)" == "GET, HEAD" ]] || fail "405: Allow '$(header Allow)'"
log "404 page, directory redirect, 405: as expected"

# Ranges.
expect_status 200 "$(get /style.css)" "GET /style.css"
cp "$WORK/b" "$WORK/css"
len=$(stat -c %s "$WORK/css")
((len > 20)) || fail "style.css is too short for the range checks"
expect_status 206 "$(get /style.css -r 0-9)" "Range 0-9"
[[ "$(header Content-Range)" == "bytes 0-9/$len" ]] || fail "Range 0-9: Content-Range '$(header Content-Range)'"
cmp -s "$WORK/b" <(head -c 10 "$WORK/css") || fail "Range 0-9: wrong bytes"
expect_status 206 "$(get /style.css -H 'Range: bytes=-5')" "Range -5"
cmp -s "$WORK/b" <(tail -c 5 "$WORK/css") || fail "Range -5: wrong bytes"
expect_status 206 "$(get /style.css -r 10-)" "Range 10-"
cmp -s "$WORK/b" <(tail -c +11 "$WORK/css") || fail "Range 10-: wrong bytes"
expect_status 416 "$(get /style.css -r "$len-")" "Range past the end"
[[ "$(header Content-Range)" == "bytes */$len" ]] || fail "416: Content-Range '$(header Content-Range)'"
css_etag=$(grep -i '^etag:' "$WORK/h" | sed -e 's/^[^:]*: *//' -e 's/\r$//')
expect_status 200 "$(get /style.css -r 0-9 -H 'If-Range: "stale"')" "If-Range with another tag"
log "ranges: 206, suffix, open-ended, 416, If-Range"

# Conditional requests.
expect_status 304 "$(get / -H "If-None-Match: $etag")" "If-None-Match"
[[ ! -s "$WORK/b" ]] || fail "304 with a body"
[[ "$(header ETag)" == "$etag" ]] || fail "304 without the ETag"
expect_status 304 "$(get / -H "If-None-Match: \"x\", W/$etag")" "If-None-Match, a list with a weak tag"
expect_status 200 "$(get / -H 'If-None-Match: "other"')" "If-None-Match, another tag"
expect_status 304 "$(get / -H "If-Modified-Since: $last_modified")" "If-Modified-Since"
expect_status 200 "$(get / -H 'If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT')" "If-Modified-Since, older"
log "304 for If-None-Match and If-Modified-Since"

# Precompressed files.
expect_status 200 "$(get /style.css --compressed)" "gzip"
[[ "$(header Content-Encoding)" == gzip ]] || fail "Accept-Encoding: gzip: no Content-Encoding: gzip"
cmp -s "$WORK/b" "$WORK/css" || fail "the .gz variant does not decompress to the file"
[[ "$(header Vary)" == Accept-Encoding ]] || fail "gzip: no Vary: Accept-Encoding"
expect_status 200 "$(get /style.css -H 'Accept-Encoding: gzip;q=0')" "gzip;q=0"
[[ -z "$(header Content-Encoding)" ]] || fail "gzip;q=0 got Content-Encoding"
log "gzip variant served to those who accept it"

# Keep-alive: curl reuses the connection for the second URL.
connects=$(client curl -sS -o /dev/null -o /dev/null -w '%{num_connects} ' "$URL/" "$URL/style.css")
[[ "$connects" == "1 0 " ]] || fail "keep-alive: connections opened per request '$connects', want '1 0'"
log "keep-alive: the second request rode on the first's connection"

# Pipelining: two requests in one write, answered in order; the second
# asks to close.
printf 'GET /style.css HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
    client nc -w 10 "$HOST" "$PORT" >"$WORK/pipe" || true
statuses=$(grep -ac '^HTTP/1.1 200' "$WORK/pipe" || true)
[[ "$statuses" == 2 ]] || fail "pipelining: $statuses answers of 2"
grep -aq '<title>Tessera' "$WORK/pipe" || fail "pipelining: the second answer is not the index"
awk '/^HTTP\/1.1/{n++} /<title>Tessera/{ if (n != 2) bad = 1 } END { exit bad }' "$WORK/pipe" ||
    fail "pipelining: answers out of order"
log "pipelining: two answers, in order"

# The access log: common log format.
www_wait 5 grep -Eq '^[0-9.]+ - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET / HTTP/1.1" 200 [0-9]+$' \
    "$WWW_OUT" || fail "no common-log-format line for GET / on the console"
log "access log in common log format"

www_stop
log PASS
