/* main for an app on Xen (the xen target of tessera_add_app): the app gets
 * the PV console and the wall clock, its arguments from the command line
 * (xl's extra=), and runs to completion; the domain then powers off (or
 * reboots, if that is what the toolstack asked for), or crashes if the app
 * failed. Linked into each image, like unix_app_main.c on Unix. */
#include "app.h"
#include "log.h"
#include "scheduler.h"
#include "xen_console.h"
#include "xen_platform.h"
#include "xen_time.h"

#ifndef TESSERA_APP_NAME
#define TESSERA_APP_NAME "app"
#endif

static struct log_source app_log = LOG_SOURCE("app");

unsigned xen_main(void);

unsigned xen_main(void)
{
    int rc = xen_platform_start();
    if (rc < 0)
        return xen_platform_exit_reason(rc);
    char **argv;
    int argc = xen_platform_args(TESSERA_APP_NAME, &argv);
    struct app_devices dev = {.console = xen_console(), .clock = xen_wallclock()};
    rc = sched_run_main(app_main(&dev, argc, argv), NULL);
    if (rc < 0)
        log_error(&app_log, "stopped: %s", lwt_strerror(rc));
    xen_platform_stop();
    return xen_platform_exit_reason(rc);
}
