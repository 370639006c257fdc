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

enum lwt__raw_state {
    LWT__PENDING = 0,
    LWT__FULFILLED = 1,
    LWT__REJECTED = 2,
    LWT__PROXY = 3,
};

/* How cancelling a pending promise acts (Lwt's how_to_cancel). */
enum lwt__cancel_mode {
    LWT__CANCEL_NONE = 0,  /* not cancelable */
    LWT__CANCEL_SELF = 1,  /* reject this promise with -ECANCELED */
    LWT__CANCEL_ONE = 2,   /* cancel the node's target promise */
    LWT__CANCEL_MULTI = 3, /* cancel every input of the node's target multi */
};

enum lwt__flags {
    LWT__F_NODE = 1,     /* embedded in a struct lwt__node */
    LWT__F_IMMORTAL = 2, /* static; reference counting is skipped */
    LWT__F_WAITER = 4,   /* plain promise made by wait/task (has a resolver) */
};

struct lwt__trace;

struct lwt {
    uint32_t rc;
    uint8_t state : 4;  /* enum lwt__raw_state */
    uint8_t cancel : 4; /* enum lwt__cancel_mode */
    uint8_t flags;      /* enum lwt__flags */
    uint8_t dead;       /* dead registrations awaiting a sweep (pending only) */
    uint8_t cls;        /* allocator size class (lwt_pool.c) */
    union {
        struct lwt__cb *cb_tail; /* pending: circular list, tail->next = head */
        void *value;             /* fulfilled */
        int err;                 /* rejected (negative) */
        struct lwt *target;      /* proxy: owned reference */
    } u;
#ifdef LWT_DEBUG
    const char *file; /* creation site */
    int line;
    struct lwt__trace *trace; /* rejected: bind sites passed, newest first */
    struct lwt *dbg_prev, *dbg_next; /* all live promises */
#endif
};

/* A callback registration on a pending promise. fire(cb, src) is called once
 * with src the settled (underlying) promise; it must release whatever the
 * registration holds. */
struct lwt__cb;
typedef void (*lwt__fire_fn)(struct lwt__cb *cb, struct lwt *src);
struct lwt__cb {
    struct lwt__cb *next;
    lwt__fire_fn fire;
};

/* The common head of every combinator node. */
struct lwt__node {
    struct lwt p;
    struct lwt *cancel_target; /* owned; meaningful for CANCEL_ONE / MULTI */
};

/* ---- Allocation (lwt_pool.c) ------------------------------------------ */

/* Every object records the class it was allocated from and gives it back. */
void *lwt__alloc(size_t size, uint8_t *cls_out);
void lwt__free(void *ptr, uint8_t cls);

/* ---- Core (lwt_core.c) ------------------------------------------------- */

extern unsigned lwt__depth; /* nesting depth of inline callbacks */

_Noreturn void lwt__panic(const char *msg);
void lwt__print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Initialises a freshly allocated promise header (rc 1, pending). */
void lwt__init(struct lwt *p, uint8_t flags, uint8_t cancel, const char *file, int line);
/* Allocates a node of `size` bytes whose promise is pending. */
struct lwt__node *lwt__node_new(size_t size, uint8_t cancel, const char *file, int line);
/* Allocates a settled plain promise. */
struct lwt *lwt__settled(const char *file, int line, bool fulfilled, void *value, int err);

/* Follows proxies (compressing the path) to the promise that holds state. */
struct lwt *lwt__underlying(struct lwt *p);

static inline void lwt__retain(struct lwt *p)
{
    if (!(p->flags & LWT__F_IMMORTAL))
        p->rc++;
}
void lwt__release(struct lwt *p);

/* Registers cb on pending underlying promise u (appends: FIFO order). */
void lwt__add_cb(struct lwt *u, struct lwt__cb *cb);

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
struct lwt__cb *lwt__cancel_now(struct lwt *u);
void lwt__dispatch(struct lwt *u, struct lwt__cb *tail);

/* Reports a rejection nobody handles through the platform output. */
void lwt__report_unhandled(struct lwt *u);

/* Queues cb to fire later with src (settled); takes a reference on src. */
void lwt__defer_cb(struct lwt__cb *cb, struct lwt *src);

/* Marks a registration dead (it will never do anything) and counts it on
 * the underlying promise it sits on; sweeps that list when enough are dead. */
void lwt__kill_cb(struct lwt *u, struct lwt__cb *cb);
/* The fire function of a dead multi registration; with src NULL it only
 * releases (used by the sweep). */
void lwt__multi_dead_fire(struct lwt__cb *cb, struct lwt *src);
/* The fire function of lwt_on_cancel nodes, which run first on cancel. */
void lwt__on_cancel_fire(struct lwt__cb *cb, struct lwt *src);

/* Runs cb now if the depth allows, else defers it (src is settled). */
void lwt__run_or_defer_cb(struct lwt__cb *cb, struct lwt *src);

static inline bool lwt__is_settled(const struct lwt *u)
{
    return u->state == LWT__FULFILLED || u->state == LWT__REJECTED;
}

#define LWT__CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Releases the cancel target of a node that is no longer pending. */
void lwt__node_drop_cancel_target(struct lwt *p);

/* Cancellation of a multi node's inputs (lwt_multi.c). */
void lwt__multi_visit_inputs(struct lwt *multi, void (*visit)(struct lwt *input, void *arg), void *arg);

/* Inline depth limit: 0 in LWT_DEFER_ALL builds, so everything defers. */
#ifdef LWT_DEFER_ALL
#define LWT__INLINE_LIMIT 0u
#else
#define LWT__INLINE_LIMIT ((unsigned)LWT_MAX_INLINE_DEPTH)
#endif

static inline bool lwt__may_inline(void)
{
    return lwt__depth < LWT__INLINE_LIMIT;
}

#endif
