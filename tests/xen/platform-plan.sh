# platform-plan.sh: the dom0 side of platform.sh (run by xen-run.sh with
# dom0-lib.sh loaded): the Xen platform's checks, one guest after another
# in one boot. Each guest's console and end reason go back to the host,
# where platform.sh checks them; the plan itself only drives the guests.
set -u

# Ends by itself: hello, heads-tails, the clock, the promise-heavy program.
guest_run -r 'hello from Tessera \(1 of 4\)' -t 60 hello hello
guest_run -t 60 heads heads-tails
guest_run -t 60 clock clock-check
guest_run -t 300 stress promise-stress

# Waits for the toolstack: xl shutdown, then xl reboot.
for request in shutdown reboot; do
    guest_start "$request" until-shutdown || continue
    if guest_wait_line "$request" 'waiting for shutdown' 60; then
        guest_stamp "$request" requested
        xl "$request" "$request" || say "xl $request failed"
    fi
    guest_wait_end "$request" 30 || say "$request: still running 30 s after xl $request"
    guest_finish "$request"
done

# Fails: a rejected main, memory exhausted, a page fault.
guest_run -t 60 fail fail
guest_run -t 120 oom oom 'extra="64"'
guest_run -t 60 fault fault
exit 0
