/* hello: a greeting four times, one second apart (the Mirage tutorial's
 * first unikernel), written as a promise chain. */
#include "app.h"
#include "scheduler.h"

struct greet {
    const struct app_devices *dev;
    int n;
};

static lwt_t *greet(void *v, void *ctx)
{
    (void)v;
    struct greet g = *(struct greet *)ctx;
    if (g.n == 4)
        return lwt_return(NULL);
    app_print(g.dev, "hello from Tessera (%d of 4)", ++g.n);
    if (g.n == 4)
        return lwt_return(NULL);
    return lwt_bind(sched_sleep(SCHED_NS_PER_S), greet, LWT_CTX(g));
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct greet g = {dev, 0};
    return lwt_bind(lwt_return(NULL), greet, LWT_CTX(g));
}
