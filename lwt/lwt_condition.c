/* Condition variable between promise chains (Lwt_condition). */
#include "lwt_waitq.h"

void lwt_condition_init(struct lwt_condition *c)
{
    lwt__waitq_init(&c->queue);
}

struct relock {
    struct lwt_mutex *m;
    void *value;
    int err;
};

static void *give_value(void *v, void *ctx)
{
    (void)v;
    return ((struct relock *)ctx)->value;
}

static lwt_t *give_error(void *v, void *ctx)
{
    (void)v;
    return lwt_fail(((struct relock *)ctx)->err);
}

/* Whatever ended the wait, the caller holds the mutex again afterwards. */
static lwt_t *relock_ok(void *value, void *ctx)
{
    struct relock r = {*(struct lwt_mutex **)ctx, value, 0};
    return lwt_map(lwt_mutex_lock(r.m), give_value, LWT_CTX(r));
}

static lwt_t *relock_err(int err, void *ctx)
{
    struct relock r = {*(struct lwt_mutex **)ctx, NULL, err};
    return lwt_bind(lwt_mutex_lock(r.m), give_error, LWT_CTX(r));
}

lwt_t *lwt_condition_wait(struct lwt_condition *c, struct lwt_mutex *m)
{
    lwt_t *p = lwt__waitq_wait(&c->queue, NULL);
    if (!m)
        return p;
    lwt_mutex_unlock(m);
    return lwt_try_bind(p, relock_ok, relock_err, LWT_CTX(m));
}

void lwt_condition_signal(struct lwt_condition *c, void *value)
{
    lwt_resolver_t *r;
    if (lwt__waitq_pop(&c->queue, &r, NULL))
        lwt_wakeup(r, value);
}

void lwt_condition_broadcast(struct lwt_condition *c, void *value)
{
    lwt__waitq_wake_all(&c->queue, value);
}

void lwt_condition_broadcast_fail(struct lwt_condition *c, int err)
{
    lwt__waitq_fail_all(&c->queue, err);
}

void lwt_condition_destroy(struct lwt_condition *c)
{
    lwt__waitq_fail_all(&c->queue, -LWT_EPIPE);
}
