# boot-plan.sh: the dom0 side of boot.sh (run by xen-run.sh with
# dom0-lib.sh loaded): boots one staged image and waits for it to shut
# down by itself.
#
# Usage (as xen-run.sh's PLAN): boot-plan.sh IMAGE SECONDS [XL_OVERRIDE...]
# Exit status: 0 if the guest shut down by itself within SECONDS, 1 if it
# had to be stopped or could not be created.
image=$1 secs=$2
shift 2
guest_run -t "$secs" "$image" "$image" "$@"
