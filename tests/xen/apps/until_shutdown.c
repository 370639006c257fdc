/* until-shutdown (a test program): says it is ready, then waits until the
 * platform is asked to stop (a signal on Unix, xl shutdown or xl reboot on
 * Xen) and reports the reason. */
#include "app.h"
#include "scheduler.h"

struct waiter {
    const struct app_devices *dev;
};

static lwt_t *stopped(void *v, void *ctx)
{
    struct waiter *w = ctx;
    app_print(w->dev, "shutdown requested: reason %d", (int)(intptr_t)v);
    return lwt_return(NULL);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct waiter w = {dev};
    app_print(dev, "waiting for shutdown");
    return lwt_bind(sched_shutdown_requested(), stopped, LWT_CTX(w));
}
