/* A one-shot timer on the scheduler whose callback never runs once it has
 * been stopped, even if the deadline had already passed and the wake-up is
 * sitting in the deferred queue; so the object it points at may be freed
 * right after net_timer_stop. The protocol layers' retransmission, expiry
 * and retry timers are these. */
#ifndef TESSERA_NET_TIMER_H
#define TESSERA_NET_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "lwt.h"

struct net_timer_ref;

struct net_timer {
    lwt_t *p;                  /* private */
    struct net_timer_ref *ref; /* private */
    uint64_t deadline;         /* ro: while armed */
};

typedef void (*net_timer_fn)(void *arg);

/* A stopped timer. */
static inline void net_timer_init(struct net_timer *t)
{
    t->p = NULL;
    t->ref = NULL;
    t->deadline = 0;
}
static inline bool net_timer_armed(const struct net_timer *t)
{
    return t->ref != NULL;
}
/* Arms t for the scheduler's clock reaching deadline (re-arming replaces
 * an earlier setting). fn(arg) runs once then, from the scheduler; t is
 * stopped when it runs, so fn may arm it again. 0, or -LWT_ENOMEM. */
int net_timer_start(struct net_timer *t, uint64_t deadline, net_timer_fn fn, void *arg);
void net_timer_stop(struct net_timer *t);

#endif
