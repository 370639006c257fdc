/* See xen_platform.h.
 *
 * The scheduler's engine (DESIGN.md §3): with events masked, nothing is
 * delivered behind our back; if no port is pending and the deadline is
 * still ahead, arm the one-shot timer and SCHEDOP_block, which unmasks and
 * sleeps in one step (no lost wake-up), and mask again when it returns.
 * Then run the handlers of the ports that fired, from here, never from an
 * upcall.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <xen/sched.h>
#include <xen/xen.h>

#include "log.h"
#include "lwt.h"
#include "scheduler.h"
#include "xen_arch.h"
#include "xen_console.h"
#include "xen_control.h"
#include "xen_events.h"
#include "xen_hypercall.h"
#include "xen_platform.h"
#include "xen_store.h"
#include "xen_time.h"
#include "xenstore.h"

static struct log_source xen_log = LOG_SOURCE("xen");

static struct {
    bool started;
    int requested_reason; /* -1: none */
} P = {.requested_reason = -1};

static uint64_t plat_now(void *ctx)
{
    (void)ctx;
    return xen_time_monotonic();
}

static int plat_block(void *ctx, uint64_t deadline)
{
    (void)ctx;
    vcpu_info_t *v = xen_vcpu();
    v->evtchn_upcall_mask = 1;
    xen_barrier();
    if (!xen_events_pending() && deadline > xen_time_monotonic()) {
        xen_time_set_deadline(deadline);
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        v->evtchn_upcall_mask = 1;
        xen_barrier();
    }
    xen_events_dispatch();
    return 0;
}

static const struct sched_platform sched_hooks = {.now = plat_now, .block = plat_block, .ctx = NULL};

static void lwt_write(const char *text, size_t len)
{
    xen_console_write(text, len);
}

static void lwt_panic(const char *msg)
{
    xen_crash(msg);
}

static const struct lwt_platform lwt_hooks = {.write = lwt_write, .panic = lwt_panic};

/* Lets the start-up's xenstore conversation (the feature nodes, the watch
 * and the read of its first event) finish before the app starts, so that
 * the app begins on a quiet platform: no promise of ours settles under it.
 * Bounded: a xenstored that does not answer delays the app by a second. */
static void settle(void)
{
    struct xenstore *xs = xen_store();
    for (int i = 0; i < 1000 && xs && (!xen_control_settled() || xenstore_outstanding(xs) || lwt_has_deferred()); i++)
        sched_run(sched_sleep(SCHED_NS_PER_MS), NULL);
}

static void on_shutdown_request(unsigned code)
{
    P.requested_reason = (int)code;
    sched_request_shutdown(XEN_SHUTDOWN_REQUEST(code));
}

int xen_platform_start(void)
{
    if (P.started)
        return -LWT_EBUSY;
    lwt_set_platform(&lwt_hooks);
    log_set_output(xen_console_write);
    sched_init(&sched_hooks);
    P.started = true;
    /* Without xenstore the app still runs; it just cannot be asked to
     * stop. */
    int rc = xen_store_start();
    if (rc == 0)
        rc = xen_control_start(on_shutdown_request);
    if (rc < 0)
        log_warn(&xen_log, "xenstore: %s: xl shutdown will not reach the app", lwt_strerror(rc));
    settle();
    return 0;
}

void xen_platform_stop(void)
{
    if (!P.started)
        return;
    xen_store_stop();
    /* What the teardown rejected settles before the scheduler goes. */
    lwt_run_deferred(SCHED_BATCH_BUDGET);
    sched_destroy();
    xen_time_set_deadline(UINT64_MAX);
    xen_console_flush();
    P.started = false;
}

unsigned xen_platform_exit_reason(int rc)
{
    if (rc < 0)
        return SHUTDOWN_crash;
    if (P.requested_reason >= 0)
        return (unsigned)P.requested_reason;
    return SHUTDOWN_poweroff;
}

int xen_platform_args(const char *name, char ***argv_out)
{
    enum { MAX_ARGS = 64 };
    static char line[MAX_GUEST_CMDLINE];
    static char *argv[MAX_ARGS + 1];
    int argc = 0;
    argv[argc++] = (char *)name;
    memcpy(line, xen_start_info->cmd_line, sizeof line);
    line[sizeof line - 1] = 0;
    char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        if (argc == MAX_ARGS) {
            log_warn(&xen_log, "command line: more than %d words, the rest ignored", MAX_ARGS - 1);
            break;
        }
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    *argv_out = argv;
    return argc;
}
