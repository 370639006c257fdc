/* Private: the layout of a promise, exposed only so that the hottest paths
 * (lwt_return of NULL, lwt_bind on a fulfilled promise, lwt_unref) inline
 * into callers. Nothing outside lwt/ may touch these fields; use lwt.h.
 * Included by lwt.h. */
#ifndef TESSERA_LWT_PROMISE_H
#define TESSERA_LWT_PROMISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The low bits of struct lwt's flags byte; the high five bits count dead
 * registrations awaiting a sweep (pending promises only). */
enum lwt__flags {
    LWT__F_NODE = 1,    /* embedded in a struct lwt__node */
    LWT__F_STORAGE = 2, /* a task with its caller's storage (lwt_task_with) */
    LWT__F_QUEUED = 4,  /* the task of a waitq waiter (lwt_waitq.c) */
};
#define LWT__DEAD_SHIFT 3
#define LWT__DEAD_MAX   31u

/* The immortal promise (lwt__return_null, known by its address)'s count
 * starts here: far from zero, so releases need no special case for it. */
#define LWT__IMMORTAL_RC (1u << 30)

struct lwt__trace;

struct lwt {
    uint32_t rc;
    uint8_t state;  /* enum lwt__raw_state */
    uint8_t cancel; /* enum lwt__cancel_mode */
    uint8_t flags;  /* enum lwt__flags, and the dead count */
    uint8_t cls;    /* allocator size class (lwt_pool.c) */
    union {
        struct lwt_hook *cb_tail; /* pending: circular list, tail->next = head */
        void *value;              /* fulfilled */
        int err;                  /* rejected (negative) */
        struct lwt *target;       /* proxy: owned reference */
    } u;
#ifdef LWT_DEBUG
    const char *file; /* creation site */
    int line;
    struct lwt__trace *trace;        /* rejected: bind sites passed, newest first */
    struct lwt *dbg_prev, *dbg_next; /* all live promises */
#endif
};

extern unsigned lwt__depth;         /* nesting depth of inline callbacks */
extern struct lwt lwt__return_null; /* the immortal lwt_return(NULL) */

/* Whether a callback may run now, on this stack. Never in LWT_DEFER_ALL
 * builds, so that everything goes through the deferred queue. */
static inline bool lwt__may_inline(void)
{
#ifdef LWT_DEFER_ALL
    return false;
#else
    return lwt__depth < (unsigned)LWT_MAX_INLINE_DEPTH;
#endif
}

/* Frees p, whose count reached zero, and releases what it held. */
void lwt__destroy(struct lwt *p);

/* Releases one reference; NULL is ignored. */
static inline void lwt_unref(lwt_t *p)
{
    if (p && --p->rc == 0)
        lwt__destroy(p);
}

static inline lwt_t *lwt__return_inline(const char *file, int line, void *value)
{
    if (value)
        return lwt__return(file, line, value);
    lwt__return_null.rc++; /* counted like any other, so it stays balanced */
    return &lwt__return_null;
}

/* bind on a fulfilled promise within the depth limit calls f directly;
 * everything else takes the general path. */
static inline lwt_t *lwt__bind_inline(const char *file, int line, lwt_t *p, lwt_bind_fn f, const void *ctx,
                                      size_t ctx_size)
{
    if (p->state == LWT__FULFILLED && lwt__may_inline() && ctx_size <= 64) {
        /* f gets its own copy of the context, as on every other path. */
        max_align_t copy[64 / sizeof(max_align_t)];
        if (ctx_size)
            __builtin_memcpy(copy, ctx, ctx_size);
        void *v = p->u.value;
        lwt_unref(p);
        lwt__depth++;
        lwt_t *q = f(v, ctx_size ? (void *)copy : (void *)ctx);
        lwt__depth--;
        return q;
    }
    return lwt__bind(file, line, p, f, ctx, ctx_size);
}

#endif
