/* timeout: two slow operations given two seconds each; the one that takes
 * one second finishes, the one that takes three is cancelled when its time
 * is up. */
#include "app.h"
#include "scheduler.h"

struct job {
    const struct app_devices *dev;
    const char *name;
};

static lwt_t *report_ok(void *v, void *ctx)
{
    struct job *j = ctx;
    app_print(j->dev, "%s: finished in time", j->name);
    return lwt_return(v);
}

static lwt_t *report_err(int err, void *ctx)
{
    struct job *j = ctx;
    app_print(j->dev, "%s: %s", j->name, err == -LWT_ETIMEDOUT ? "timed out, cancelled" : lwt_strerror(err));
    return lwt_return(NULL);
}

static lwt_t *attempt(const struct app_devices *dev, const char *name, uint64_t takes)
{
    struct job j = {dev, name};
    lwt_t *op = sched_with_timeout(sched_sleep(takes), 2 * SCHED_NS_PER_S);
    return lwt_try_bind(op, report_ok, report_err, LWT_CTX(j));
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    lwt_t *both[2] = {
        attempt(dev, "quick job", SCHED_NS_PER_S),
        attempt(dev, "slow job", 3 * SCHED_NS_PER_S),
    };
    return lwt_join(both, 2);
}
