/* The FIFO of waiting promises behind mutex, condition, mvar and stream.
 *
 * Each waiter is a task plus one node that is both the queue link and a
 * callback registered on the task. Serving a waiter unlinks it and wakes the
 * task; cancelling the task fires the callback while the waiter is still
 * queued, which unlinks it. Either way the callback frees the node.
 */
#include "lwt_waitq.h"

struct lwt__waiter {
    struct lwt__cb cb; /* registered on the waiter's task */
    struct lwt__waiter *prev, *next;
    struct lwt_waitq *queue; /* NULL once served */
    lwt_resolver_t *resolver;
    void *payload;
    uint8_t cls;
};

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

static void waiter_fire(struct lwt__cb *cb, struct lwt *src)
{
    (void)src;
    struct lwt__waiter *w = LWT__CONTAINER(cb, struct lwt__waiter, cb);
    if (w->queue) {
        /* Cancelled while queued: withdraw. */
        unlink_waiter(w);
        lwt_resolver_drop(w->resolver);
    }
    lwt__free(w, w->cls);
}

lwt_t *lwt__waitq_wait(struct lwt_waitq *q, void *payload)
{
    uint8_t cls;
    struct lwt__waiter *w = lwt__alloc(sizeof *w, &cls);
    lwt_t *p = lwt__wait(LWT__SITE, &w->resolver, true);
    w->cls = cls;
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
    lwt__add_cb(p, &w->cb);
    return p;
}

bool lwt__waitq_pop(struct lwt_waitq *q, lwt_resolver_t **resolver_out, void **payload_out)
{
    struct lwt__waiter *w = q->head;
    if (!w)
        return false;
    unlink_waiter(w);
    *resolver_out = w->resolver;
    if (payload_out)
        *payload_out = w->payload;
    /* w is freed by its callback when the caller settles the promise. */
    return true;
}

void lwt__waitq_fail_all(struct lwt_waitq *q, int err)
{
    /* Only those waiting now: waiters queued by the callbacks stay. */
    struct lwt_waitq now = *q;
    for (struct lwt__waiter *w = now.head; w; w = w->next)
        w->queue = &now;
    lwt__waitq_init(q);
    lwt_resolver_t *r;
    while (lwt__waitq_pop(&now, &r, NULL))
        lwt_wakeup_fail(r, err);
}

void lwt__waitq_wake_all(struct lwt_waitq *q, void *value)
{
    struct lwt_waitq now = *q;
    for (struct lwt__waiter *w = now.head; w; w = w->next)
        w->queue = &now;
    lwt__waitq_init(q);
    lwt_resolver_t *r;
    while (lwt__waitq_pop(&now, &r, NULL))
        lwt_wakeup(r, value);
}
