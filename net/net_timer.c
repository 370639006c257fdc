/* See net_timer.h. The reference between the sleep's callback and the
 * timer is a small object of its own: stopping cuts it (fn = NULL), and
 * whichever way the sleep ends, its callback frees it. */
#include <stdlib.h>

#include "lwt_errno.h"
#include "net_timer.h"
#include "scheduler.h"

struct net_timer_ref {
    struct net_timer *owner; /* NULL once stopped */
    net_timer_fn fn;
    void *arg;
};

static lwt_t *fired(void *v, void *ctx)
{
    (void)v;
    struct net_timer_ref *r = *(struct net_timer_ref **)ctx;
    struct net_timer *t = r->owner;
    if (t) {
        /* Still armed: disarm (the chain finishes without our reference),
         * then run. */
        net_timer_fn fn = r->fn;
        void *arg = r->arg;
        lwt_unref(t->p);
        net_timer_init(t);
        free(r);
        fn(arg);
    } else {
        free(r);
    }
    return lwt_return(NULL);
}

static lwt_t *cancelled(int err, void *ctx)
{
    free(*(struct net_timer_ref **)ctx);
    return lwt_fail(err);
}

int net_timer_start(struct net_timer *t, uint64_t deadline, net_timer_fn fn, void *arg)
{
    net_timer_stop(t);
    struct net_timer_ref *r = malloc(sizeof *r);
    if (!r)
        return -LWT_ENOMEM;
    *r = (struct net_timer_ref){t, fn, arg};
    t->ref = r;
    t->deadline = deadline;
    t->p = lwt_try_bind(sched_sleep_until(deadline), fired, cancelled, LWT_CTX(r));
    return 0;
}

void net_timer_stop(struct net_timer *t)
{
    if (!t->ref)
        return;
    t->ref->owner = NULL;
    lwt_t *p = t->p;
    net_timer_init(t);
    lwt_cancel(p);
    lwt_unref(p);
}
