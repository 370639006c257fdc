#!/bin/sh
# oom under an address-space limit (ulimit -v): with 32 MiB, 16 MiB still
# fit (so the limit leaves the program room to start and work), and 64 MiB
# do not: malloc returns NULL, and the app must say so, give up cleanly with
# -LWT_ENOMEM and exit with status 1, never crash. Not for sanitizer builds,
# whose shadow memory does not fit under such a limit.
# Usage: oom_limit.sh OOM_BINARY
set -u

BIN=$1
LIMIT_KIB=32768
WORK=$(mktemp -d "/tmp/tessera-app_oom_limit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "FAIL: app_oom_limit: $*" >&2
    cat "$WORK/out" "$WORK/err" >&2
    exit 1
}

# run MIB: the app under the limit, in a shell of its own.
run() {
    sh -c 'ulimit -v "$1" && exec "$2" "$3"' sh "$LIMIT_KIB" "$BIN" "$1" >"$WORK/out" 2>"$WORK/err"
}

run 16
rc=$?
[ $rc -eq 0 ] || fail "oom 16 under ulimit -v $LIMIT_KIB: status $rc, expected 0"
grep -qx 'oom: allocated 16 MiB, freed' "$WORK/out" || fail "oom 16: no 'allocated 16 MiB, freed' line"

run 64
rc=$?
[ $rc -eq 1 ] || fail "oom 64 under ulimit -v $LIMIT_KIB: status $rc, expected 1 (above 128: a signal)"
line=$(grep -x 'oom: out of memory: malloc of 1 MiB returned NULL after [0-9]* MiB of 64' "$WORK/out") ||
    fail "oom 64: no 'out of memory' line"
got=$(echo "$line" | sed 's/.* after \([0-9]*\) MiB.*/\1/')
# It failed in its own allocations, past the first progress report, not
# while starting.
[ "$got" -ge 8 ] && [ "$got" -lt 64 ] || fail "oom 64: gave up after $got MiB"
grep -q 'oom: 8 MiB allocated' "$WORK/out" || fail "oom 64: no progress before the failure"
grep -q 'main promise rejected: error -12 (out of memory)' "$WORK/err" || fail "oom 64: no report of -LWT_ENOMEM"
! grep -q 'allocated 64 MiB' "$WORK/out" || fail "oom 64: claims to have allocated it all"
echo "app_oom_limit: PASS: $line"
