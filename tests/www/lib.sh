# Shared by the web server's tests; sourced, not run.
# shellcheck shell=bash disable=SC2034 # variables for the scripts that source this
#
# Starts apps/www on one of two targets and gives the test a URL and a way
# to reach it:
#
#   www_start socket BIN   kernel sockets on 127.0.0.1, no privileges
#   www_start direct BIN   Tessera's own TCP/IP over a tap whose kernel side
#                          is in a namespace of the test's own (needs root
#                          and /dev/net/tun); clients run in the namespace
#
# Then: $URL (http://HOST:PORT), $HOST, $PORT, and `client CMD...` runs a
# client command where it can reach the server (in the namespace for
# direct). The server's console (the access log) is $WWW_OUT, its log
# $WWW_LOG. Everything is undone on exit.
WWW_TARGET=${1:?target: socket or direct}
WWW_BIN=${2:?the www executable}
TEST_NAME=$(basename "$0" .sh)-$WWW_TARGET

if [[ "$WWW_TARGET" == direct ]]; then
    # The namespace, tap and process handling of the tests against Linux.
    source "$(dirname "${BASH_SOURCE[0]}")/../net-linux/lib.sh"
    TEST_NAME=$(basename "$0" .sh)-$WWW_TARGET
    WWW_LOG=$ECHO_LOG
    WWW_OUT=$WORK/echo.out
else
    SKIP_CODE=77
    WORK=$(mktemp -d "/tmp/tessera-${TEST_NAME}.XXXXXX")
    WWW_LOG=$WORK/www.log
    WWW_OUT=$WORK/www.out
    WWW_PID=
    log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }
    skip() {
        printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"
        exit "$SKIP_CODE"
    }
    fail() {
        printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
        if [[ -s "$WWW_LOG" ]]; then
            echo "---- www log (last 30 lines)" >&2
            tail -n 30 "$WWW_LOG" >&2
        fi
        exit 1
    }
    [[ -v WWW_MAIN_ARGS ]] || WWW_MAIN_ARGS=()
    www_cleanup() {
        local rc=$?
        [[ -z "$WWW_PID" ]] || kill -KILL "$WWW_PID" 2>/dev/null || true
        if [[ $rc -ne 0 && $rc -ne $SKIP_CODE ]]; then
            echo "$TEST_NAME: failed (status $rc); logs kept in $WORK" >&2
        else
            rm -rf "$WORK"
        fi
        exit "$rc"
    }
    trap www_cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
fi

# Runs a client command where the server can be reached.
client() {
    if [[ "$WWW_TARGET" == direct ]]; then
        ns "$@"
    else
        "$@"
    fi
}

# Skips unless each named program is installed.
www_require() {
    local r
    for r in "$@"; do
        command -v "$r" >/dev/null 2>&1 || skip "$r is not installed"
    done
}

# Waits up to $1 seconds for "$2..." to succeed.
www_wait() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}

# Starts the server with the app arguments given ($@ after the target's
# own, and after the main's options in the array WWW_MAIN_ARGS, if set);
# sets URL, HOST, PORT.
www_start() {
    [[ -x "$WWW_BIN" ]] || fail "no www executable at '$WWW_BIN'"
    if [[ "$WWW_TARGET" == direct ]]; then
        net_require root tun ip
        PORT=80
        HOST=$OUR_IP
        net_start "$WWW_BIN" --ip "$OUR_IP/24" -- --port "$PORT" "$@"
    else
        # Port 0: the kernel picks a free one, which the log line names.
        "$WWW_BIN" "${WWW_MAIN_ARGS[@]}" -- --port 0 "$@" >"$WWW_OUT" 2>"$WWW_LOG" &
        WWW_PID=$!
        HOST=127.0.0.1
    fi
    www_wait 10 grep -Eq 'serving .* on port [0-9]+' "$WWW_LOG" "$WWW_OUT" ||
        fail "the server did not say it was serving within 10 s"
    if [[ "$WWW_TARGET" != direct ]]; then
        PORT=$(grep -Eho 'on port [0-9]+' "$WWW_LOG" "$WWW_OUT" | head -n 1 | grep -Eo '[0-9]+$')
    fi
    URL="http://$HOST:$PORT"
    log "serving at $URL ($WWW_TARGET)"
}

# Stops the server with SIGTERM; fails unless it exits with status 0.
www_stop() {
    if [[ "$WWW_TARGET" == direct ]]; then
        net_stop_echo
        return
    fi
    kill -TERM "$WWW_PID"
    local rc=0
    www_wait 10 bash -c "! kill -0 $WWW_PID 2>/dev/null" || fail "the server did not stop within 10 s of SIGTERM"
    wait "$WWW_PID" || rc=$?
    WWW_PID=
    [[ $rc -eq 0 ]] || fail "the server exited with status $rc after SIGTERM"
}
