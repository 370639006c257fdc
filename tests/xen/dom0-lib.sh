# dom0-lib.sh: what a plan run by xen-run.sh can call in dom0 (bash).
#
# xen-run.sh boots Xen and dom0 once and runs a plan script there; the plan
# creates guests from the staged images, one after another or several at
# once, and this library hands each guest's results back to the host, in
# the results directory:
#
#   ID.console         the guest's whole PV console, as xenconsoled logged it
#   ID.console.timed   the same lines, carriage returns dropped, each after
#                      "SECONDS<TAB>", seconds since its `xl create` started
#   ID.reason          one word: how the guest ended (see guest_finish)
#   ID.times           "NAME SECONDS" lines, seconds since `xl create` started:
#                      created (xl create returned), first_output,
#                      first_line, ready, end (shutdown seen), stop_requested,
#                      stopped, and the plan's own guest_stamp names;
#                      epoch_create_start is the wall clock at 0
#   ID.xl.log          what `xl create` printed, and xl's log of the domain
#
# Console stamps come from constamp (inotify on xenconsoled's log, wall
# clock in microseconds, so good to a wake-up of dom0, well under a
# millisecond when dom0 is idle). `end` is when dom0 saw the shutdown: on
# xenstored's @releaseDomain event, so good to a few milliseconds.
#
# The functions (ID: [A-Za-z0-9_.-]+, unique in a run; it is also the domain
# name; IMAGE: the name of an image staged with xen-run.sh -g, or a path to
# an .xl file; XL_OVERRIDE: KEY=VALUE in xl's syntax, as `xl create` takes
# it, e.g. 'extra="console=hvc0"' or "memory=64"):
#
#   guest_start [-r ERE] ID IMAGE [XL_OVERRIDE...]
#       runs `xl create` in the image's directory with name="ID",
#       on_poweroff, on_reboot and on_crash "preserve" (so that the reason
#       can be read) and the overrides; ERE (POSIX extended) marks the
#       ready line. Returns 0 once `xl create` has returned, 1 if it
#       failed (the guest is then finished with reason create-failed), 2
#       for a usage error.
#   guest_wait_line ID ERE [SECONDS]
#       0 once a console line matches ERE, 1 if none did in time
#       (default $GUEST_TIMEOUT) or the guest ended without one.
#   guest_wait_end ID [SECONDS]
#       0 once the guest has shut down by itself (or vanished), 1 if it is
#       still running after SECONDS (default $GUEST_TIMEOUT).
#   guest_stop ID [GRACE]
#       stops a running guest: `xl shutdown`, GRACE seconds (default 10)
#       for it to act, then `xl destroy`.
#   guest_finish ID
#       stops the guest if it still runs, writes and sends its results to
#       the host, destroys the domain. Idempotent. Reasons: poweroff,
#       reboot, suspend, crash, watchdog, soft_reset (it shut down by
#       itself), stopped-by-shutdown, stopped-by-destroy (it was still
#       running: guest_stop), vanished, create-failed.
#   guest_run [-r ERE] [-t SECONDS] ID IMAGE [XL_OVERRIDE...]
#       guest_start, guest_wait_end SECONDS, guest_finish: 0 if the guest
#       shut down by itself in time, 1 otherwise.
#   guest_domid ID / guest_console ID / guest_reason ID
#       print the domain id / the path of its console log / its reason
#       (after guest_finish)
#   guest_stamp ID NAME        records "NAME now" in ID.times
#   staged_file NAME           prints the dom0 path of a file staged with -f
#   result_path NAME           prints the path of an extra result file NAME
#                              (in the results directory; sent when the
#                              plan has ended)
#   say MESSAGE...             one line to the plan's log (and the serial)
#   tx_sleep SECONDS           sleeps without forking (fractions allowed)
#
# Guests the plan leaves running are finished by dom0's /init when the plan
# ends (or is killed at its deadline). The environment has GUEST_TIMEOUT
# (seconds) and BRIDGE (xenbr0, 192.0.2.1/24 in dom0; use
# vif=['bridge=xenbr0'] and an address in 192.0.2.0/24 in the guest).

TX_RUN=/tessera/run
TX_IMAGES=$TX_RUN/images
TX_FILES=$TX_RUN/files
TX_OUT=/tessera/out
TX_GUESTS=/run/tessera/guests
TX_CONSOLE_DIR=/var/log/xen/console
: "${GUEST_TIMEOUT:=60}"

# A fifo nobody writes: `read -t` on it is a sleep without a fork.
exec {__tx_sleep_fd}<>/run/tessera/sleep.fifo

tx_sleep() {
    read -r -t "$1" -u "$__tx_sleep_fd" _ || true
}

say() {
    local up
    read -r up _ </proc/uptime
    printf '[%8s] %s\n' "$up" "$*" >&2
}

# Sets __tx_us to the wall clock in microseconds ($1: an $EPOCHREALTIME).
__tx_us() {
    local t=${1:-$EPOCHREALTIME}
    __tx_us=$((${t%.*} * 1000000 + 10#${t#*.}))
}

# Prints microseconds as seconds with six decimals.
__tx_secs() {
    local us=$1 sign=
    ((us < 0)) && sign=- us=$((-us))
    printf '%s%d.%06d' "$sign" $((us / 1000000)) $((us % 1000000))
}

__tx_check_id() {
    [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || { say "bad guest id '$1'"; return 2; }
}

__tx_dir() {
    __tx_check_id "$1" || return 2
    __tx_d=$TX_GUESTS/$1
    [[ -d $__tx_d ]] || { say "guest $1: not started"; return 2; }
}

# Records stamp NAME (now, or $3 an $EPOCHREALTIME) for guest dir $1.
__tx_stamp() {
    echo "$2 ${3:-$EPOCHREALTIME}" >>"$1/stamps"
}

# __tx_domstate ID: sets __tx_st to running, shutdown (and __tx_code to the
# shutdown reason code) or gone.
__tx_domstate() {
    local out name state code
    out=$(xl list -v "$1" 2>/dev/null)
    out=${out##*$'\n'}
    read -r name _ _ _ state _ _ code _ <<<"$out"
    if [[ $name != "$1" ]]; then
        __tx_st=gone
    elif [[ $state == *s* || $state == *c* ]]; then
        __tx_st=shutdown __tx_code=$((16#${code:-ff}))
    elif [[ $state == *d* ]]; then
        __tx_st=gone
    else
        __tx_st=running
    fi
}

__tx_reason_name() {
    case $1 in
        0) echo poweroff ;; 1) echo reboot ;; 2) echo suspend ;; 3) echo crash ;;
        4) echo watchdog ;; 5) echo soft_reset ;; *) echo "shutdown-code-$1" ;;
    esac
}

# Sends files (names in $TX_OUT) to the host: one tar archive each time, on
# the results port that /init opened as fd 7, one sender at a time.
__tx_send() {
    [[ -e /proc/self/fd/7 ]] || { say "no results port: $* not sent"; return 1; }
    flock -w 120 /run/tessera/send.lock tar -C "$TX_OUT" -cf - "$@" >&7
    printf '%s\n' "$@" >>/run/tessera/sent
}

guest_start() {
    local ready='' opt OPTIND=1
    while getopts r: opt; do
        case $opt in
            r) ready=$OPTARG ;;
            *) say "usage: guest_start [-r ERE] ID IMAGE [XL_OVERRIDE...]"; return 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    (($# >= 2)) || { say "usage: guest_start [-r ERE] ID IMAGE [XL_OVERRIDE...]"; return 2; }
    local id=$1 image=$2 xlfile
    shift 2
    __tx_check_id "$id" || return 2
    if [[ $image == */* ]]; then xlfile=$image; else xlfile=$TX_IMAGES/$image/$image.xl; fi
    [[ -f $xlfile ]] || { say "guest $id: no image '$image' ($xlfile)"; return 2; }
    local d=$TX_GUESTS/$id
    mkdir "$d" 2>/dev/null || { say "guest $id: that id was already used in this run"; return 2; }
    echo "$image" >"$d/image"

    # constamp first, and only then the clock starts: its own start-up is
    # not the guest's.
    local log=$TX_CONSOLE_DIR/guest-$id.log i
    rm -f "$log"
    # (a session of its own: it outlives a plan that is stopped, until
    # guest_finish stops it)
    setsid constamp "$log" "$d" "$ready" 86400 </dev/null >/dev/null 2>"$d/constamp.err" &
    echo $! >"$d/constamp.pid"
    renice -n -10 -p $! >/dev/null # as xenconsoled: ahead of xl create
    for ((i = 0; i < 500; i++)); do
        [[ -e $d/watching ]] && break
        tx_sleep 0.01
    done
    [[ -e $d/watching ]] || say "guest $id: constamp did not start ($(cat "$d/constamp.err")): no console stamps"

    local t0 t1 rc
    t0=$EPOCHREALTIME
    # preserve: a domain that shut down stays until guest_finish has read
    # how (an image's own on_poweroff = "destroy" would lose that)
    (cd "${xlfile%/*}" && exec xl create "${xlfile##*/}" "name=\"$id\"" 'on_poweroff="preserve"' \
        'on_reboot="preserve"' 'on_crash="preserve"' "$@") >"$d/xl-create.log" 2>&1
    rc=$?
    t1=$EPOCHREALTIME
    __tx_stamp "$d" create_start "$t0"
    if ((rc != 0)); then
        __tx_stamp "$d" create_failed "$t1"
        echo create-failed >"$d/reason"
        say "guest $id: xl create failed (rc $rc):"
        sed 's/^/    /' "$d/xl-create.log" >&2
        guest_finish "$id"
        return 1
    fi
    __tx_stamp "$d" created "$t1"
    xl domid "$id" >"$d/domid" 2>/dev/null
    __tx_us "$t0"; local us0=$__tx_us
    __tx_us "$t1"
    say "guest $id: created from $image, domid $(cat "$d/domid"), xl create took $(__tx_secs $((__tx_us - us0))) s"
}

# A watch on @releaseDomain, which xenstored fires whenever a domain shuts
# down or goes away: waiting on it instead of polling `xl list` leaves dom0
# idle while the guests boot. Sets __tx_w (its output) and __tx_wpid.
__tx_watch_open() {
    exec {__tx_w}< <(exec xenstore-watch @releaseDomain 2>/dev/null)
    __tx_wpid=$!
    # its first line says the watch is set; events after that are new
    read -r -t 10 -u "$__tx_w" _ || true
}

__tx_watch_close() {
    kill "$__tx_wpid" 2>/dev/null
    exec {__tx_w}<&-
}

guest_wait_line() {
    local id=$1 ere=$2 secs=${3:-$GUEST_TIMEOUT}
    __tx_dir "$id" || return 2
    local d=$__tx_d fd line end last=0 rc=1
    __tx_us; end=$((__tx_us + secs * 1000000))
    exec {fd}<"$d/console.timed" || return 1
    __tx_watch_open
    while :; do
        # console.timed only ever gets whole lines, so read never sees a
        # half one
        while IFS= read -r line <&$fd; do
            [[ ${line#*$'\t'} =~ $ere ]] && { rc=0; break 2; }
        done
        ((last)) && break
        # ended (or never created): one more look at what it wrote
        [[ -e $d/reason || -e $d/code ]] && { last=1; continue; }
        __tx_us
        ((__tx_us < end)) || break
        # the sleep between looks at the console, cut short by a domain event
        if read -r -t 0.02 -u "$__tx_w" _; then
            # once the guest has ended it writes no more: a last look, and done
            __tx_domstate "$id"
            [[ $__tx_st == running ]] || { last=1; tx_sleep 0.2; }
        elif (($? <= 128)); then
            tx_sleep 0.02 # (the watch is gone: plain polling)
        fi
    done
    __tx_watch_close
    exec {fd}<&-
    return $rc
}

guest_wait_end() {
    local id=$1 secs=${2:-$GUEST_TIMEOUT}
    __tx_dir "$id" || return 2
    local d=$__tx_d end t left rc=1
    [[ -e $d/code || -e $d/reason ]] && return 0
    __tx_us; end=$((__tx_us + secs * 1000000))
    ((secs > 0)) && __tx_watch_open
    while :; do
        t=$EPOCHREALTIME
        __tx_domstate "$id"
        case $__tx_st in
            shutdown)
                __tx_stamp "$d" end "$t"
                echo "$__tx_code" >"$d/code"
                rc=0
                break ;;
            gone)
                __tx_stamp "$d" end "$t"
                echo vanished >"$d/reason"
                rc=0
                break ;;
        esac
        __tx_us
        left=$((end - __tx_us))
        ((left > 0)) || break
        # the next domain event, or a look every 5 s all the same (`xl list`
        # costs dom0 about 0.25 s of CPU under TCG: no polling)
        ((left > 5000000)) && left=5000000
        read -r -t "$(__tx_secs "$left")" -u "$__tx_w" _ || (($? > 128)) || tx_sleep 0.2
    done
    ((secs > 0)) && __tx_watch_close
    return $rc
}

guest_stop() {
    local id=$1 grace=${2:-10}
    __tx_dir "$id" || return 2
    local d=$__tx_d
    __tx_domstate "$id"
    [[ $__tx_st == running ]] || return 0
    say "guest $id: still running: xl shutdown (${grace} s), then xl destroy"
    __tx_stamp "$d" stop_requested
    timeout 30 xl shutdown "$id" >>"$d/xl-create.log" 2>&1
    if guest_wait_end "$id" "$grace"; then
        echo shutdown >"$d/stopped"
    else
        timeout 60 xl destroy "$id" >>"$d/xl-create.log" 2>&1
        echo destroy >"$d/stopped"
    fi
    __tx_stamp "$d" stopped
}

guest_finish() {
    local id=$1
    __tx_dir "$id" || return 2
    local d=$__tx_d reason
    [[ -e $d/finished ]] && return 0
    # (a plan stopped during xl create leaves a domain it never looked up)
    if [[ ! -s $d/domid && ! -e $d/reason ]]; then
        xl domid "$id" >"$d/domid" 2>/dev/null || rm -f "$d/domid"
    fi
    if [[ -s $d/domid && ! -e $d/reason ]]; then
        if [[ ! -e $d/code && ! -e $d/stopped ]]; then
            guest_wait_end "$id" 0 || guest_stop "$id"
        fi
        if [[ -e $d/stopped ]]; then
            reason=stopped-by-$(cat "$d/stopped")
        elif [[ -e $d/code ]]; then
            reason=$(__tx_reason_name "$(cat "$d/code")")
        fi
        [[ -n $reason ]] && echo "$reason" >"$d/reason"
    fi
    reason=$(cat "$d/reason" 2>/dev/null)
    : "${reason:=vanished}"

    # let constamp read the rest, then stop it
    local pid i
    pid=$(cat "$d/constamp.pid" 2>/dev/null)
    if [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            tx_sleep 0.02
        done
        kill -KILL "$pid" 2>/dev/null
    fi

    # results, times relative to the start of xl create
    local t0 us0 name t line
    t0=$(awk '$1 == "create_start" { print $2; exit }' "$d/stamps")
    __tx_us "$t0"; us0=$__tx_us
    {
        echo "epoch_create_start $t0"
        while read -r name t; do
            __tx_us "$t"
            echo "$name $(__tx_secs $((__tx_us - us0)))"
        done <"$d/stamps" | sort -s -n -k2,2
    } >"$TX_OUT/$id.times"
    while IFS=$'\t' read -r t line; do
        __tx_us "$t"
        printf '%s\t%s\n' "$(__tx_secs $((__tx_us - us0)))" "$line"
    done <"$d/console.timed" >"$TX_OUT/$id.console.timed"
    cp "$TX_CONSOLE_DIR/guest-$id.log" "$TX_OUT/$id.console" 2>/dev/null || : >"$TX_OUT/$id.console"
    {
        echo "== xl create"
        cat "$d/xl-create.log"
        echo "== /var/log/xen/xl-$id.log"
        cat "/var/log/xen/xl-$id.log" 2>/dev/null
    } >"$TX_OUT/$id.xl.log"
    echo "$reason" >"$TX_OUT/$id.reason"
    [[ -n $(xl domid "$id" 2>/dev/null) ]] && timeout 60 xl destroy "$id" >/dev/null 2>&1
    touch "$d/finished"
    __tx_send "$id.times" "$id.console.timed" "$id.console" "$id.xl.log" "$id.reason"

    local stamps
    stamps=$(awk '$1 == "first_line" || $1 == "ready" || $1 == "end" { printf " %s %s s", $1, $2 }' \
        "$TX_OUT/$id.times")
    say "guest $id: $reason;${stamps:- no console output}"
}

guest_run() {
    local ready='' secs=$GUEST_TIMEOUT opt OPTIND=1
    while getopts r:t: opt; do
        case $opt in
            r) ready=$OPTARG ;;
            t) secs=$OPTARG ;;
            *) say "usage: guest_run [-r ERE] [-t SECONDS] ID IMAGE [XL_OVERRIDE...]"; return 2 ;;
        esac
    done
    shift $((OPTIND - 1))
    guest_start -r "$ready" "$@" || return 1
    local rc=0
    guest_wait_end "$1" "$secs" || rc=1
    guest_finish "$1"
    return $rc
}

guest_domid() {
    __tx_dir "$1" || return 2
    cat "$__tx_d/domid"
}

guest_console() {
    __tx_check_id "$1" || return 2
    echo "$TX_CONSOLE_DIR/guest-$1.log"
}

guest_reason() {
    __tx_check_id "$1" || return 2
    cat "$TX_OUT/$1.reason"
}

guest_stamp() {
    __tx_dir "$1" || return 2
    __tx_stamp "$__tx_d" "$2"
}

staged_file() {
    echo "$TX_FILES/$1"
}

result_path() {
    echo "$TX_OUT/$1"
}
