#!/bin/bash
# fail: an app whose main promise is rejected from three binds deep. It must
# exit with status 1, run up to the failure and no further, and the
# platform must report the rejection on stderr: the error's name and, in
# debug builds, where it began and the binds it came out through, newest
# first, at the lines of fail.c marked "chain:" (none in other builds).
# Usage: fail.sh FAIL_BINARY FAIL_SOURCE DEBUG(0|1)
set -euo pipefail

BIN=$1
SRC=$2
DEBUG=$3
NAME=app_fail
WORK=$(mktemp -d "/tmp/tessera-$NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
    printf 'FAIL: %s: %s\n' "$NAME" "$*" >&2
    printf -- '--- stdout\n' >&2
    cat "$WORK/out" >&2
    printf -- '--- stderr\n' >&2
    cat "$WORK/err" >&2
    exit 1
}

rc=0
timeout 60 "$BIN" >"$WORK/out" 2>"$WORK/err" || rc=$?
[[ $rc -eq 1 ]] || fail "exit status $rc, expected 1"

expected=$'fail: sending the request\nfail: waiting for the reply\nfail: the reply is malformed'
[[ $(cat "$WORK/out") == "$expected" ]] || fail "stdout is not the three expected lines"

report=$(grep -F 'lwt: main promise rejected: ' "$WORK/err") || fail "no report of the rejected main"
[[ $(grep -c -F 'lwt: main promise rejected: ' "$WORK/err") -eq 1 ]] || fail "more than one report"
[[ $report == *"error -71 (protocol error)"* ]] || fail "the report does not name the error: $report"

# The line of fail.c that carries a mark.
line_of() {
    local n
    n=$(grep -n -F "/* chain: $1 */" "$SRC" | cut -d: -f1)
    [[ $n =~ ^[0-9]+$ ]] || fail "no single '/* chain: $1 */' in $SRC"
    echo "$n"
}

if [[ $DEBUG == 1 ]]; then
    want="rejected at [^ ]*/fail\\.c:$(line_of origin); through bind at [^ ]*/fail\\.c:$(line_of finish)"
    for mark in send read check; do
        want+=" <- bind at [^ ]*/fail\\.c:$(line_of "$mark")"
    done
    # Nothing more: the sleeps' own promises are not binds of fail.c.
    [[ $report =~ $want$ ]] || fail "the chain is not the expected one: want /$want\$/, got: $report"
else
    [[ $report != *fail.c* ]] || fail "a release build reports sites: $report"
fi
echo "$NAME: PASS: $report"
