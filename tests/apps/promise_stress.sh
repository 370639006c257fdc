#!/bin/sh
# promise-stress must succeed (it checks its own results and exits with 1
# if any check fails) and print exactly the expected lines: its output
# depends on nothing but the program, so any difference on a platform, an
# engine or a build is a bug.
# Usage: promise_stress.sh PROMISE_STRESS_BINARY EXPECTED_OUTPUT
set -u

BIN=$1
EXPECTED=$2
WORK=$(mktemp -d "/tmp/tessera-app_promise_stress.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

rc=0
timeout 300 "$BIN" >"$WORK/out" 2>"$WORK/err" || rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: promise-stress: exit status $rc" >&2
    cat "$WORK/out" "$WORK/err" >&2
    exit 1
fi
if ! diff -u "$EXPECTED" "$WORK/out" >&2; then
    echo "FAIL: promise-stress: the output differs from $EXPECTED" >&2
    exit 1
fi
cat "$WORK/out"
