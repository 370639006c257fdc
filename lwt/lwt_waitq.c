/* The FIFO of waiting promises behind mutex, condition, mvar and stream.
 *
 * A waiter is a task whose allocation also holds its queue links: one
 * allocation per wait. Serving a waiter unlinks it and hands its resolver to
 * the caller, who wakes it. A cancelled waiter leaves the queue at once
 * (lwt__waitq_withdraw, called as the task is cancelled). If the task has
 * been merged into another promise (returned from a bind callback), that
 * promise may be cancelled instead; for that case alone a callback is
 * registered at merge time, and it withdraws the waiter when the merged
 * promise settles. pop also skips a settled waiter whose callback has not
 * run yet (it may be deferred).
 *
 * References on the task: the caller's, the resolver (held by the queue until
 * served or withdrawn) and, once merged, the callback registration.
 */
#include "lwt_debug.h"
#include "lwt_waitq.h"

struct lwt__waiter {
    struct lwt p;       /* the waiting task itself */
    struct lwt_hook cb; /* registered once p is merged into another promise */
    struct lwt__waiter *prev, *next;
    struct lwt_waitq *queue; /* NULL once served or withdrawn */
    void *payload;
};

static lwt_resolver_t *resolver_of(struct lwt__waiter *w)
{
    return (lwt_resolver_t *)&w->p;
}

void lwt__waitq_init(struct lwt_waitq *q)
{
    q->head = q->tail = NULL;
    q->len = 0;
}

static void unlink_waiter(struct lwt__waiter *w)
{
    struct lwt_waitq *q = w->queue;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    q->len--;
    w->queue = NULL;
}

static void waiter_fire(struct lwt_hook *cb, struct lwt *src)
{
    (void)src;
    struct lwt__waiter *w = LWT__CONTAINER(cb, struct lwt__waiter, cb);
    if (w->queue) {
        /* Cancelled while queued: withdraw. */
        unlink_waiter(w);
        lwt_resolver_drop(resolver_of(w));
    }
    lwt__release(&w->p);
}

lwt_t *lwt__waitq_wait(struct lwt_waitq *q, void *payload)
{
    uint8_t cls;
    struct lwt__waiter *w = lwt__alloc(sizeof *w, &cls);
    lwt__init(&w->p, LWT__F_QUEUED, LWT__CANCEL_SELF, LWT__SITE);
    w->p.cls = cls;
    w->p.rc = 2; /* the caller's and the resolver's */
    w->cb.fire = waiter_fire;
    w->payload = payload;
    w->queue = q;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    q->len++;
    return &w->p;
}

void lwt__waitq_withdraw(struct lwt *p)
{
    struct lwt__waiter *w = (struct lwt__waiter *)p;
    if (!w->queue)
        return;
    unlink_waiter(w);
    lwt__release(p); /* the resolver the queue held */
}

void lwt__waitq_watch_merge(struct lwt *p)
{
    struct lwt__waiter *w = (struct lwt__waiter *)p;
    if (!w->queue)
        return;
    p->rc++; /* the registration's */
    lwt__add_cb(p, &w->cb);
}

/* A waiter cancelled while its withdrawal callback is still deferred is
 * settled but queued: skip it, or it would swallow what it is handed. Rare,
 * so kept out of line to keep pop's fast path small. */
__attribute__((cold, noinline)) static struct lwt__waiter *skip_withdrawn(struct lwt_waitq *q)
{
    struct lwt__waiter *w;
    while ((w = q->head) && lwt__underlying(&w->p)->state != LWT__PENDING) {
        unlink_waiter(w);
        lwt_resolver_drop(resolver_of(w)); /* settled: only releases */
    }
    return w;
}

bool lwt__waitq_pop(struct lwt_waitq *q, lwt_resolver_t **resolver_out, void **payload_out)
{
    struct lwt__waiter *w = q->head;
    if (w && lwt__underlying(&w->p)->state != LWT__PENDING)
        w = skip_withdrawn(q);
    if (!w)
        return false;
    unlink_waiter(w);
    *resolver_out = resolver_of(w);
    if (payload_out)
        *payload_out = w->payload;
    return true;
}

/* Moves everyone waiting now into `now`, so that waiters queued by the
 * callbacks that waking them runs stay in q for next time. */
static void take_all(struct lwt_waitq *q, struct lwt_waitq *now)
{
    *now = *q;
    for (struct lwt__waiter *w = now->head; w; w = w->next)
        w->queue = now;
    lwt__waitq_init(q);
}

void lwt__waitq_fail_all(struct lwt_waitq *q, int err)
{
    struct lwt_waitq now;
    take_all(q, &now);
    lwt_resolver_t *r;
    while (lwt__waitq_pop(&now, &r, NULL))
        lwt_wakeup_fail(r, err);
}

void lwt__waitq_wake_all(struct lwt_waitq *q, void *value)
{
    struct lwt_waitq now;
    take_all(q, &now);
    lwt_resolver_t *r;
    while (lwt__waitq_pop(&now, &r, NULL))
        lwt_wakeup(r, value);
}
