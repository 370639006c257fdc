/* main() for an app that needs no network (tessera_add_app): start the
 * platform (engine from $TESSERA_ENGINE), run app_main with the console and
 * the wall clock to completion, stop. Exit status: 0 when the main promise
 * is fulfilled; 1 when it is rejected (reported on stderr, with its chain
 * of bind sites in debug builds) or the platform fails. Linked into each
 * app's executable (it is not part of the os_unix library, which has no
 * main). */
#include <stdio.h>

#include "app.h"
#include "log.h"
#include "scheduler.h"
#include "unix_console.h"
#include "unix_platform.h"
#include "unix_wallclock.h"

static struct log_source app_log = LOG_SOURCE("app");

int main(int argc, char **argv)
{
    int rc = unix_platform_start(NULL);
    if (rc < 0) {
        fprintf(stderr, "cannot start the platform: %s\n", lwt_strerror(rc));
        return 1;
    }
    struct app_devices dev = {.console = unix_console_stdout(), .clock = unix_wallclock()};
    rc = sched_run_main(app_main(&dev, argc, argv), NULL);
    if (rc < 0)
        log_error(&app_log, "stopped: %s", lwt_strerror(rc));
    unix_platform_stop();
    return rc < 0 ? 1 : 0;
}
