/* See netif_waiters.h. A waiter is linked in its queue as long as its
 * resolver is held (resolver non-NULL); the hook on its promise runs once it
 * settles, and unlinks it only if it was not woken by the queue, that is if
 * it was cancelled. */
#include "netif_waiters.h"

#include <stddef.h>

struct netif_waiter {
    struct lwt_hook hook; /* first: the hook is the waiter */
    struct netif_waiter *next, *prev;
    lwt_resolver_t *resolver; /* NULL once settled */
    struct netif_waiters *queue;
};

static void on_waiter_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct netif_waiter *w = (struct netif_waiter *)(void *)hook;
    if (!w->resolver)
        return;
    /* Cancelled while waiting: unlink it. */
    struct netif_waiters *q = w->queue;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    lwt_resolver_drop(w->resolver);
    w->resolver = NULL;
}

lwt_t *netif_waiters_wait(struct netif_waiters *q)
{
    lwt_resolver_t *r;
    struct netif_waiter *w;
    lwt_t *p = lwt_task_with(&r, sizeof *w, (void **)&w);
    *w = (struct netif_waiter){.resolver = r, .queue = q, .prev = q->tail};
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
    lwt_hook_attach(p, &w->hook, on_waiter_settled);
    return p;
}

void netif_waiters_wake_all(struct netif_waiters *q, int err)
{
    while (q->head) {
        struct netif_waiter *w = q->head;
        q->head = w->next;
        lwt_resolver_t *r = w->resolver;
        w->resolver = NULL;
        if (err)
            lwt_wakeup_fail_later(r, err);
        else
            lwt_wakeup_later(r, NULL);
    }
    q->tail = NULL;
}
