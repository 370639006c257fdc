/* The queue of wait_writable promises a netif device keeps while it cannot
 * take a frame (netif.h). The device owns the queue (embedded in its state)
 * and decides when it is writable, closed or broken; the queue only holds
 * the waiters, oldest first, and settles them when told.
 *
 * Each waiter lives in its promise's own storage (one allocation per wait).
 * A waiter cancelled while queued leaves the queue at once. The caller owns
 * the promise netif_waiters_wait returns. Before the device frees its
 * state, it must settle every waiter (netif_waiters_wake_all).
 */
#ifndef TESSERA_NET_NETIF_WAITERS_H
#define TESSERA_NET_NETIF_WAITERS_H

#include <stdbool.h>

#include "lwt.h"

struct netif_waiter;

/* Zero-initialised is empty. */
struct netif_waiters {
    struct netif_waiter *head; /* oldest first */
    struct netif_waiter *tail;
};

/* A new pending, cancelable promise at the back of q. */
lwt_t *netif_waiters_wait(struct netif_waiters *q);

static inline bool netif_waiters_empty(const struct netif_waiters *q)
{
    return q->head == NULL;
}

/* Settles everyone in q, oldest first: fulfilled with NULL when err is 0,
 * else rejected with err. The callbacks are deferred (lwt_wakeup_later), so
 * nothing runs on this stack and q is empty on return. */
void netif_waiters_wake_all(struct netif_waiters *q, int err);

#endif
