/* See xen_control.h. Also announces, under control/, which requests this
 * guest understands (feature-poweroff, feature-reboot), as PV guests do. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/sched.h>

#include "log.h"
#include "lwt.h"
#include "xen_control.h"
#include "xen_store.h"
#include "xenstore.h"

#define SHUTDOWN_NODE "control/shutdown"

static struct log_source control_log = LOG_SOURCE("xen");

static void (*on_request_fn)(unsigned code);
/* The watch's first event has been read: the start-up is over. */
static bool first_read_done;

bool xen_control_settled(void)
{
    return first_read_done;
}

static void log_failure(int err, void *ctx)
{
    if (err == -LWT_ECANCELED)
        return; /* the connection was closed at shutdown */
    log_warn(&control_log, "%s: %s", *(const char **)ctx, lwt_strerror(err));
}

/* Runs p on its own; a failure is logged with `what`. */
static void async_logged(lwt_t *p, const char *what)
{
    lwt_async(p, log_failure, LWT_CTX(what));
}

static lwt_t *on_value(void *v, void *ctx)
{
    (void)ctx;
    char *value = v;
    int code = -1;
    first_read_done = true;
    if (!value)
        return lwt_return(NULL); /* no such node yet */
    if (strcmp(value, "poweroff") == 0 || strcmp(value, "halt") == 0)
        code = SHUTDOWN_poweroff;
    else if (strcmp(value, "reboot") == 0)
        code = SHUTDOWN_reboot;
    else if (value[0])
        log_warn(&control_log, SHUTDOWN_NODE ": '%s' is not supported", value);
    free(value);
    if (code < 0)
        return lwt_return(NULL);
    log_info(&control_log, "the toolstack asks for %s", code == SHUTDOWN_reboot ? "a reboot" : "a poweroff");
    on_request_fn((unsigned)code);
    /* Acknowledge, so that the same request is not seen again. */
    return xenstore_write(xen_store(), 0, SHUTDOWN_NODE, "");
}

static lwt_t *on_read_error(int err, void *ctx)
{
    (void)ctx;
    first_read_done = true;
    /* The node may not exist until the toolstack writes it. */
    return err == -LWT_ENOENT ? lwt_return(NULL) : lwt_fail(err);
}

static void on_watch(const char *path, const char *token, void *ctx)
{
    (void)path, (void)token, (void)ctx;
    struct xenstore *xs = xen_store();
    if (!xs)
        return;
    async_logged(lwt_try_bind(xenstore_read(xs, 0, SHUTDOWN_NODE), on_value, on_read_error, NULL, 0),
                 "read " SHUTDOWN_NODE);
}

int xen_control_start(void (*on_request)(unsigned code))
{
    struct xenstore *xs = xen_store();
    if (!xs)
        return -LWT_ENODEV;
    on_request_fn = on_request;
    async_logged(xenstore_write(xs, 0, "control/feature-poweroff", "1"), "write control/feature-poweroff");
    async_logged(xenstore_write(xs, 0, "control/feature-reboot", "1"), "write control/feature-reboot");
    async_logged(xenstore_watch(xs, SHUTDOWN_NODE, "shutdown", on_watch, NULL), "watch " SHUTDOWN_NODE);
    return 0;
}
