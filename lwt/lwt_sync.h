/* Synchronisation between promise chains: mutex, condition variable, mvar.
 *
 * These coordinate cooperative "threads" (promise chains) on the one loop
 * thread; they are not for OS threads. Each object is caller-allocated and
 * caller-owned; the library allocates one small node per waiter, freed when
 * the waiter is served or cancelled.
 *
 * Every promise returned here is a task: cancelling it removes the waiter from
 * the queue (nothing is acquired, taken or put) and rejects it with
 * -LWT_ECANCELED. Destroying an object rejects its remaining waiters with
 * -LWT_EPIPE.
 */
#ifndef TESSERA_LWT_SYNC_H
#define TESSERA_LWT_SYNC_H

#include "lwt.h"

/* A FIFO queue of waiting resolvers (private to the library). */
struct lwt_waitq {
    struct lwt__waiter *head; /* private */
    struct lwt__waiter *tail; /* private */
    size_t len;               /* ro */
};

/* ---- Mutex: FIFO hand-off -------------------------------------------- */

struct lwt_mutex {
    bool locked;            /* ro */
    struct lwt_waitq queue; /* private */
};

void lwt_mutex_init(struct lwt_mutex *m);
/* Fulfilled (with NULL) once the caller holds the mutex. */
lwt_t *lwt_mutex_lock(struct lwt_mutex *m);
/* Hands the mutex to the oldest waiter, or unlocks it. Unlocking an unlocked
 * mutex is a programming error. */
void lwt_mutex_unlock(struct lwt_mutex *m);
bool lwt_mutex_is_locked(const struct lwt_mutex *m);
/* Runs f(ctx) while holding m; the result is f's, and m is released however
 * f's promise settles. */
lwt_t *lwt_mutex_with_lock(struct lwt_mutex *m, lwt_thunk_fn f, const void *ctx, size_t ctx_size);
void lwt_mutex_destroy(struct lwt_mutex *m);

/* ---- Condition variable (Lwt_condition) ------------------------------- */

struct lwt_condition {
    struct lwt_waitq queue; /* private */
};

void lwt_condition_init(struct lwt_condition *c);
/* Waits for a signal and is fulfilled with its value. With a mutex (held by
 * the caller), the mutex is released while waiting and re-acquired before
 * the promise settles. */
lwt_t *lwt_condition_wait(struct lwt_condition *c, struct lwt_mutex *m);
/* Wakes the oldest waiter with value (no-op when nobody waits). */
void lwt_condition_signal(struct lwt_condition *c, void *value);
/* Wakes every waiter with value. */
void lwt_condition_broadcast(struct lwt_condition *c, void *value);
/* Rejects every waiter with err. */
void lwt_condition_broadcast_fail(struct lwt_condition *c, int err);
void lwt_condition_destroy(struct lwt_condition *c);

/* ---- MVar: a box holding at most one value (Lwt_mvar) ----------------- */

struct lwt_mvar {
    bool full;                /* ro */
    void *value;              /* private */
    struct lwt_waitq takers;  /* private */
    struct lwt_waitq putters; /* private: each carries the value to put */
};

void lwt_mvar_init(struct lwt_mvar *mv);
void lwt_mvar_init_full(struct lwt_mvar *mv, void *value);
/* Puts value, waiting while the box is full. Fulfilled (NULL) once stored or
 * handed to a taker. */
lwt_t *lwt_mvar_put(struct lwt_mvar *mv, void *value);
/* Takes the value, waiting while the box is empty. */
lwt_t *lwt_mvar_take(struct lwt_mvar *mv);
/* Takes the value now if there is one; returns false otherwise. */
bool lwt_mvar_take_available(struct lwt_mvar *mv, void **value_out);
bool lwt_mvar_is_empty(const struct lwt_mvar *mv);
void lwt_mvar_destroy(struct lwt_mvar *mv);

#endif
