#!/usr/bin/env bash
# Runs one of the Python clients of this directory against apps/www:
# malformed.py (the hostile corpus) or slow_clients.py.
# Usage: py.sh socket|direct WWW_BINARY SCRIPT.py
set -euo pipefail
script=${3:?the client script}
source "$(dirname "$0")/lib.sh"
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 is not installed"

www_start
client /usr/bin/python3 "$(dirname "$0")/$script" "$HOST" "$PORT" || fail "$script failed"
www_stop
log PASS
