/* Private to lwt/: the promise representation and the machinery the
 * combinators share. Nothing outside lwt/ includes this.
 *
 * Memory layout. A promise is 16 bytes (plus debug fields). Promises made by
 * combinators are embedded at the start of a "node" that also holds the
 * combinator's callback registration, its function and the caller's context,
 * so a bind on a pending promise is exactly one allocation. Only node
 * promises carry a cancel target, and only node promises ever become the
 * "outer" promise of a proxy merge (which is when a promise adopts another's
 * cancel behaviour), so plain promises never need the slot.
 *
 * Reference counts. A node promise counts one reference for each registration
 * it has on another promise's callback list (or in the deferred queue), so a
 * node is never freed while a callback may still fire into it. A pending
 * promise is never freed: it is kept alive by its resolver or by its
 * registration, and dropping a resolver rejects it first.
 */
#ifndef TESSERA_LWT_INTERNAL_H
#define TESSERA_LWT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"

/* A callback registration on a pending promise is a struct lwt_hook (lwt.h):
 * fire(cb, src) is called once with src the settled (underlying) promise; it
 * must release whatever the registration holds. */
typedef lwt_hook_fn lwt__fire_fn;

/* The common head of every combinator node. */
struct lwt__node {
    struct lwt p;
    struct lwt *cancel_target; /* owned; meaningful for CANCEL_ONE / MULTI */
};

/* ---- Allocation (lwt_pool.c) ------------------------------------------ */

/* Every object records the size class it was allocated from (0 for large
 * ones) and gives it back to lwt__free. Classes are 16 bytes apart, up to
 * 512 bytes. */
#define LWT__CLASS_BYTES 16u
#define LWT__CLASS_COUNT 32u
void *lwt__alloc_slow(size_t size, uint8_t *cls_out);
void lwt__free(void *ptr, uint8_t cls);

#if LWT_POOL
struct lwt__free_slot {
    struct lwt__free_slot *next;
};
extern struct lwt__free_slot *lwt__free_lists[];
extern size_t lwt__bytes_in_use;
#endif

/* Inline so that a constant size folds to its class and a hit on the pool's
 * free list is a few instructions. */
static inline void *lwt__alloc(size_t size, uint8_t *cls_out)
{
#if LWT_POOL
    size_t cls = (size + LWT__CLASS_BYTES - 1) / LWT__CLASS_BYTES;
    struct lwt__free_slot *s;
    if (cls != 0 && cls <= LWT__CLASS_COUNT && (s = lwt__free_lists[cls])) {
        lwt__free_lists[cls] = s->next;
        lwt__bytes_in_use += cls * LWT__CLASS_BYTES;
        *cls_out = (uint8_t)cls;
        return s;
    }
#endif
    return lwt__alloc_slow(size, cls_out);
}

/* ---- Core (lwt_core.c) ------------------------------------------------- */

_Noreturn __attribute__((cold)) void lwt__panic(const char *msg);
void lwt__print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Initialises a freshly allocated promise header (rc 1, pending). */
void lwt__init(struct lwt *p, uint8_t flags, uint8_t cancel, const char *file, int line);
/* Allocates a node of `size` bytes whose promise is pending. */
struct lwt__node *lwt__node_new(size_t size, uint8_t cancel, const char *file, int line);
/* Allocates a settled plain promise. */
struct lwt *lwt__settled(const char *file, int line, bool fulfilled, void *value, int err);

/* Follows proxies (compressing the path) to the promise that holds state. */
struct lwt *lwt__underlying_slow(struct lwt *p);
static inline struct lwt *lwt__underlying(struct lwt *p)
{
    return p->state != LWT__PROXY ? p : lwt__underlying_slow(p);
}

static inline void lwt__retain(struct lwt *p)
{
    p->rc++;
}

static inline unsigned lwt__dead(const struct lwt *p)
{
    return p->flags >> LWT__DEAD_SHIFT;
}

static inline void lwt__set_dead(struct lwt *p, unsigned dead)
{
    if (dead > LWT__DEAD_MAX)
        dead = LWT__DEAD_MAX;
    p->flags = (uint8_t)((p->flags & ((1u << LWT__DEAD_SHIFT) - 1)) | (dead << LWT__DEAD_SHIFT));
}

static inline void lwt__release(struct lwt *p)
{
    lwt_unref(p);
}

/* Registers cb on pending underlying promise u (appends: FIFO order). */
void lwt__add_cb(struct lwt *u, struct lwt_hook *cb);

/* Settles pending underlying promise u and runs or defers its callbacks. */
void lwt__fulfil(struct lwt *u, void *value);
void lwt__reject(struct lwt *u, int err);
/* Settles pending u like settled src (debug: with src's trace, and `via` as
 * an extra bind site when non-NULL). */
void lwt__settle_like(struct lwt *u, struct lwt *src, const struct lwt *via);

/* Makes outer (a pending node promise, underlying) follow `inner`, a promise
 * returned by user code: settles outer now if inner is settled, else merges
 * inner into outer (inner becomes a proxy of outer). Consumes inner. */
void lwt__follow(struct lwt *outer, struct lwt *inner);

/* lwt_cancel's first phase: settles u as cancelled without running its
 * callbacks, which it returns for lwt__dispatch to run afterwards. */
struct lwt_hook *lwt__cancel_now(struct lwt *u);
void lwt__dispatch(struct lwt *u, struct lwt_hook *tail);

/* A queued waiter's task (LWT__F_QUEUED) has been cancelled: leave the
 * queue at once (lwt_waitq.c). The caller holds a reference on p. */
void lwt__waitq_withdraw(struct lwt *p);
/* A queued waiter's task is about to be merged into another promise, which
 * can then be settled (cancelled) without p itself: watch for that. */
void lwt__waitq_watch_merge(struct lwt *p);

/* Queues cb to fire later with src (settled); takes a reference on src. */
void lwt__defer_cb(struct lwt_hook *cb, struct lwt *src);

/* Marks a registration dead (it will never do anything): its fire becomes
 * dead_fire, one of the two below. If cb is first on u's list (the usual
 * case) it comes out at once and true is returned: the caller then releases
 * what the registration held. Otherwise it is counted on u, whose list is
 * swept when enough are dead. */
#define LWT__SWEEP_AT 32u
void lwt__sweep_dead(struct lwt *u);
static inline bool lwt__kill_cb(struct lwt *u, struct lwt_hook *cb, lwt__fire_fn dead_fire)
{
    cb->fire = dead_fire;
    /* A settled u has already detached its list (its callbacks are queued
     * to run): the dead callback just releases when it gets there. */
    if (u->state != LWT__PENDING)
        return false;
    struct lwt_hook *last = u->u.cb_tail;
    if (last->next == cb) {
        if (last == cb)
            u->u.cb_tail = NULL;
        else
            last->next = cb->next;
        return true;
    }
    if (lwt__dead(u) + 1 < LWT__SWEEP_AT)
        lwt__set_dead(u, lwt__dead(u) + 1);
    else
        lwt__sweep_dead(u);
    return false;
}

/* The fire functions of dead multi and protected registrations; with src
 * NULL they only release (used by the sweep). */
void lwt__multi_dead_fire(struct lwt_hook *cb, struct lwt *src);
void lwt__forward_dead_fire(struct lwt_hook *cb, struct lwt *src);
/* The fire function of lwt_on_cancel nodes, which run first on cancel. */
void lwt__on_cancel_fire(struct lwt_hook *cb, struct lwt *src);

/* Runs cb now if the depth allows, else defers it (src is settled). */
void lwt__run_or_defer_cb(struct lwt_hook *cb, struct lwt *src);

static inline bool lwt__is_settled(const struct lwt *u)
{
    return u->state == LWT__FULFILLED || u->state == LWT__REJECTED;
}

#define LWT__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Releases the cancel target of a node that is no longer pending. */
void lwt__node_drop_cancel_target(struct lwt *p);

/* Cancellation of a multi node's inputs (lwt_multi.c). */
void lwt__multi_visit_inputs(struct lwt *multi, void (*visit)(struct lwt *input, void *arg), void *arg);

#endif
