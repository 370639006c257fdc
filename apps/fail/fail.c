/* fail: an app that fails on purpose. A pretend exchange (send a request,
 * wait for the reply, check it) finds the reply malformed after a short
 * sleep, and its main promise is rejected with -LWT_EPROTO from three binds
 * deep. The platform reports the rejected main: the error and, in debug
 * builds, where the rejection began and the binds it came out through,
 * which tests/apps/fail.sh finds by the "chain:" marks below. */
#include "app.h"
#include "scheduler.h"

struct exchange {
    const struct app_devices *dev;
};

static lwt_t *check_reply(void *v, void *ctx)
{
    (void)v;
    struct exchange *x = ctx;
    app_print(x->dev, "fail: the reply is malformed");
    return lwt_fail(LWT_EPROTO); /* chain: origin */
}

static lwt_t *read_reply(void *v, void *ctx)
{
    (void)v;
    struct exchange *x = ctx;
    app_print(x->dev, "fail: waiting for the reply");
    return lwt_bind(sched_sleep(20 * SCHED_NS_PER_MS), check_reply, LWT_CTX(*x)); /* chain: check */
}

static lwt_t *send_request(void *v, void *ctx)
{
    (void)v;
    struct exchange *x = ctx;
    app_print(x->dev, "fail: sending the request");
    return lwt_bind(sched_sleep(10 * SCHED_NS_PER_MS), read_reply, LWT_CTX(*x)); /* chain: read */
}

/* Never runs: the exchange is rejected first. */
static lwt_t *finish(void *v, void *ctx)
{
    struct exchange *x = ctx;
    app_print(x->dev, "fail: finished (it should not have)");
    return lwt_return(v);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct exchange x = {dev};
    lwt_t *sent = lwt_bind(sched_sleep(10 * SCHED_NS_PER_MS), send_request, LWT_CTX(x)); /* chain: send */
    return lwt_bind(sent, finish, LWT_CTX(x));                                           /* chain: finish */
}
