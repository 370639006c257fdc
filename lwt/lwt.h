/* Tessera promises, modelled on OCaml's Lwt.
 *
 * A promise (lwt_t) is pending, fulfilled with a `void *` value, or rejected
 * with a negative error code (lwt_errno.h). Internally a pending promise can
 * also be merged into another one (a proxy); that is invisible here except
 * that it keeps recursive bind loops in constant memory.
 *
 * OWNERSHIP -- the same rule everywhere:
 *  - A function that returns an lwt_t * returns one owned reference.
 *  - Combinators (bind, map, catch, join, choose, async, ...) consume the
 *    references they are given, whether they succeed or not.
 *  - lwt_cancel, lwt_state, lwt_value, lwt_error and the lwt_on_* functions
 *    borrow: the caller keeps its reference.
 *  - Callbacks borrow what they are passed; a bind-style callback returns one
 *    owned reference, which the library consumes.
 *  - A resolver (lwt_resolver_t) is a second, separate owned reference: it is
 *    consumed by exactly one of lwt_wakeup, lwt_wakeup_fail or
 *    lwt_resolver_drop. Dropping it while the promise is pending rejects the
 *    promise with -LWT_EBROKEN, so that nothing waits forever on a promise
 *    nobody can resolve.
 *  - The value carried by a fulfilled promise is not owned by the promise:
 *    the library never frees or copies what it points to.
 *
 * CONTEXT FOR CONTINUATIONS: C has no closures, so every continuation takes a
 * (ctx, ctx_size) pair. The library copies ctx_size bytes inline into the
 * continuation's own node (no extra malloc; a callback that runs at once gets
 * a temporary copy instead) and passes the callback a pointer to its copy,
 * which it may modify and which lives until it returns. LWT_CTX(x) expands
 * to `&(x), sizeof(x)`; LWT_NOCTX to `NULL, 0`.
 *
 *     struct step { int left; };
 *     static lwt_t *again(void *v, void *c) {
 *         struct step *s = c;
 *         if (s->left == 0) return lwt_return(v);
 *         struct step next = { s->left - 1 };
 *         return lwt_bind(lwt_return(v), again, LWT_CTX(next));
 *     }
 *
 * CALLBACK DEPTH: callbacks run inline, on the resolver's stack, up to
 * LWT_MAX_INLINE_DEPTH nested resolutions (bind on a resolved promise counts
 * too). Deeper work goes to the deferred queue, which the scheduler drains
 * with lwt_run_deferred(). Built with LWT_DEFER_ALL, every callback is
 * deferred. Code that needs a dependent promise to have settled must
 * therefore drain the queue (the scheduler does this every turn).
 *
 * THREADS: none. All functions must be called from the one loop thread.
 */
#ifndef TESSERA_LWT_H
#define TESSERA_LWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt_errno.h"

typedef struct lwt lwt_t;
typedef struct lwt_resolver lwt_resolver_t;

enum lwt_state {
    LWT_PENDING = 0,
    LWT_FULFILLED = 1,
    LWT_REJECTED = 2,
};

#ifndef LWT_MAX_INLINE_DEPTH
#define LWT_MAX_INLINE_DEPTH 42
#endif

#define LWT_CTX(x) (const void *)&(x), sizeof(x)
#define LWT_NOCTX  NULL, 0

/* Carry small integers as values. */
#define LWT_INT(i)    ((void *)(intptr_t)(i))
#define LWT_TO_INT(v) ((intptr_t)(v))

/* Call sites are recorded in debug builds (LWT_DEBUG); release builds pass
 * NULL and 0, so the ABI is the same in both. */
#ifdef LWT_DEBUG
#define LWT__SITE __FILE__, __LINE__
#else
#define LWT__SITE NULL, 0
#endif

/* ---- Callback types ---------------------------------------------------- */

typedef lwt_t *(*lwt_bind_fn)(void *value, void *ctx);
typedef void *(*lwt_map_fn)(void *value, void *ctx);
typedef lwt_t *(*lwt_catch_fn)(int err, void *ctx);
typedef lwt_t *(*lwt_thunk_fn)(void *ctx);
typedef void (*lwt_value_cb)(void *value, void *ctx);
typedef void (*lwt_error_cb)(int err, void *ctx);
typedef void (*lwt_unit_cb)(void *ctx);

/* ---- Resolved and pending promises ------------------------------------- */

/* A fulfilled promise. lwt_return(NULL) allocates nothing. */
#define lwt_return(value) lwt__return_inline(LWT__SITE, (value))
lwt_t *lwt__return(const char *file, int line, void *value);

/* A rejected promise; err is negative (a positive code is negated). */
#define lwt_fail(err) lwt__fail(LWT__SITE, (err))
lwt_t *lwt__fail(const char *file, int line, int err);

/* A pending promise and its resolver. Cancelling it has no effect. */
#define lwt_wait(resolver_out) lwt__wait(LWT__SITE, (resolver_out), false)
/* A pending promise and its resolver; lwt_cancel rejects it with
 * -LWT_ECANCELED (and a later wakeup is then a no-op). */
#define lwt_task(resolver_out) lwt__wait(LWT__SITE, (resolver_out), true)
lwt_t *lwt__wait(const char *file, int line, lwt_resolver_t **resolver_out, bool cancelable);

/* A task with `size` bytes of the caller's own storage allocated with it
 * (*storage_out, aligned for any type): for platform code that keeps one
 * object per pending operation (a timer, a watcher) and wants one
 * allocation. The storage lives exactly as long as the promise; the caller
 * must not use it after its last reference to the promise (or the
 * resolver) is gone, which a hook (lwt_hook_attach) makes easy to track.
 * A hook attached to the task always runs before the storage goes, also
 * when the task is returned from a continuation and merged into another
 * promise. */
#define lwt_task_with(resolver_out, size, storage_out) lwt__task_with(LWT__SITE, (resolver_out), (size), (storage_out))
lwt_t *lwt__task_with(const char *file, int line, lwt_resolver_t **resolver_out, size_t size, void **storage_out);

/* Fulfil / reject the promise of a resolver, running its callbacks. Consumes
 * the resolver. If the promise was cancelled, this is a no-op; if it was
 * otherwise already resolved, it is a programming error (panic). */
void lwt_wakeup(lwt_resolver_t *r, void *value);
void lwt_wakeup_fail(lwt_resolver_t *r, int err);
/* Like lwt_wakeup and lwt_wakeup_fail, but the callbacks never run on this
 * stack: they are queued for lwt_run_deferred. For event sources (I/O
 * readiness, timers fired by the scheduler), which only ever enqueue. */
void lwt_wakeup_later(lwt_resolver_t *r, void *value);
void lwt_wakeup_fail_later(lwt_resolver_t *r, int err);
/* Give up a resolver without resolving: see OWNERSHIP above. */
void lwt_resolver_drop(lwt_resolver_t *r);
/* Borrow the promise a resolver resolves (for inspection or lwt_ref). */
lwt_t *lwt_resolver_promise(lwt_resolver_t *r);

/* ---- References and inspection ----------------------------------------- */

lwt_t *lwt_ref(lwt_t *p); /* returns p with one more reference */
/* lwt_unref(p): releases one reference; NULL is ignored (lwt_promise.h). */

enum lwt_state lwt_state(lwt_t *p);
/* The value of a fulfilled promise; NULL otherwise. */
void *lwt_value(lwt_t *p);
/* The (negative) error of a rejected promise; 0 otherwise. */
int lwt_error(lwt_t *p);

/* ---- Sequential composition (each consumes p) -------------------------- */

/* When p fulfils with v, the result follows f(v, ctx); a rejection of p
 * passes through without calling f. */
#define lwt_bind(p, f, ...) lwt__bind_inline(LWT__SITE, (p), (f), __VA_ARGS__)
lwt_t *lwt__bind(const char *file, int line, lwt_t *p, lwt_bind_fn f, const void *ctx, size_t ctx_size);

/* When p fulfils with v, the result is fulfilled with f(v, ctx). */
#define lwt_map(p, f, ...) lwt__map(LWT__SITE, (p), (f), __VA_ARGS__)
lwt_t *lwt__map(const char *file, int line, lwt_t *p, lwt_map_fn f, const void *ctx, size_t ctx_size);

/* When p is rejected with e, the result follows h(e, ctx); a fulfilment
 * passes through. Cancellation is a rejection like any other. */
#define lwt_catch(p, h, ...) lwt__catch(LWT__SITE, (p), (h), __VA_ARGS__)
lwt_t *lwt__catch(const char *file, int line, lwt_t *p, lwt_catch_fn h, const void *ctx, size_t ctx_size);

/* f on fulfilment, h on rejection; both share one context copy. */
#define lwt_try_bind(p, f, h, ...) lwt__try_bind(LWT__SITE, (p), (f), (h), __VA_ARGS__)
lwt_t *lwt__try_bind(const char *file, int line, lwt_t *p, lwt_bind_fn f, lwt_catch_fn h, const void *ctx,
                     size_t ctx_size);

/* Once p settles, run fin(ctx) and wait for the promise it returns; the
 * result is then p's result, unless fin's promise is rejected, whose error
 * wins (as in Lwt). */
#define lwt_finalize(p, fin, ...) lwt__finalize(LWT__SITE, (p), (fin), __VA_ARGS__)
lwt_t *lwt__finalize(const char *file, int line, lwt_t *p, lwt_thunk_fn fin, const void *ctx, size_t ctx_size);

/* ---- Plain callbacks (borrow p; nothing is returned) ------------------- */

void lwt_on_success(lwt_t *p, lwt_value_cb f, const void *ctx, size_t ctx_size);
void lwt_on_failure(lwt_t *p, lwt_error_cb f, const void *ctx, size_t ctx_size);
void lwt_on_termination(lwt_t *p, lwt_unit_cb f, const void *ctx, size_t ctx_size);
void lwt_on_any(lwt_t *p, lwt_value_cb ok, lwt_error_cb fail, const void *ctx, size_t ctx_size);
/* f runs if p is cancelled (rejected with -LWT_ECANCELED), before p's other
 * callbacks; at once if p already is. */
void lwt_on_cancel(lwt_t *p, lwt_unit_cb f, const void *ctx, size_t ctx_size);

/* ---- Concurrent composition (each consumes every ps[i]) ---------------- */

/* Fulfilled with NULL once every ps[i] is fulfilled; if some are rejected,
 * rejected -- after all have settled -- with the first error (in list order
 * for those already settled, then in time order). Cancel propagates to all.
 * The ps array itself is borrowed for the duration of the call only. */
#define lwt_join(ps, n) lwt__join(LWT__SITE, (ps), (n))
lwt_t *lwt__join(const char *file, int line, lwt_t *const *ps, size_t n);

/* Like join (same waiting and error rules), and values[i] receives ps[i]'s
 * value. values is borrowed until the result settles; the result is
 * fulfilled with values. */
#define lwt_all(ps, n, values) lwt__all(LWT__SITE, (ps), (n), (values))
lwt_t *lwt__all(const char *file, int line, lwt_t *const *ps, size_t n, void **values);

/* lwt_all of two: values[0] and values[1]. */
#define lwt_both(p1, p2, values) lwt__both(LWT__SITE, (p1), (p2), (values))
lwt_t *lwt__both(const char *file, int line, lwt_t *p1, lwt_t *p2, void **values);

/* Settles like the first of ps to settle; if several are already settled one
 * is taken at random (as in Lwt; rejected ones first). n must be > 0. The
 * others are left running. Cancel propagates to all. */
#define lwt_choose(ps, n) lwt__choose(LWT__SITE, (ps), (n), false)
/* Like choose, and cancels the others once one has settled. */
#define lwt_pick(ps, n) lwt__choose(LWT__SITE, (ps), (n), true)
lwt_t *lwt__choose(const char *file, int line, lwt_t *const *ps, size_t n, bool cancel_others);

/* Waits for at least one of ps to settle; then fulfilled with the count of
 * fulfilled inputs, whose values are stored, in input order, in values[0..]
 * (borrowed until the result settles; room for n). Rejected if the first to
 * settle is rejected (or, at call time, the first rejected in list order). */
#define lwt_nchoose(ps, n, values) lwt__nchoose(LWT__SITE, (ps), (n), (values), false)
/* Like nchoose, and cancels the ones still pending. */
#define lwt_npick(ps, n, values) lwt__nchoose(LWT__SITE, (ps), (n), (values), true)
lwt_t *lwt__nchoose(const char *file, int line, lwt_t *const *ps, size_t n, void **values, bool cancel_others);

/* ---- Cancellation ------------------------------------------------------ */

/* Cancels the cancelable promises p depends on (tasks reached through bind,
 * join, choose...), which are rejected with -LWT_ECANCELED; the rejection then
 * flows forward through the normal callbacks. Borrows p. */
void lwt_cancel(lwt_t *p);

/* A promise that settles like p, but whose cancellation rejects only itself
 * and does not reach p. Consumes p. */
#define lwt_protected(p) lwt__protected(LWT__SITE, (p))
lwt_t *lwt__protected(const char *file, int line, lwt_t *p);

/* A promise that settles like p and that cannot be cancelled. Consumes p. */
#define lwt_no_cancel(p) lwt__no_cancel(LWT__SITE, (p))
lwt_t *lwt__no_cancel(const char *file, int line, lwt_t *p);

/* ---- Hooks: intrusive settle callbacks ------------------------------- */

/* For platform code that owns an object per pending operation (a timer, an
 * I/O watcher): the hook is embedded in that object, attached to a promise
 * without allocating, and called exactly once when the promise settles,
 * however it settles (check lwt_error(settled) == -LWT_ECANCELED to see a
 * cancellation). It borrows `settled`. The object must stay alive until the
 * hook has run; the hook may free it. Hooks run with the other callbacks, in
 * registration order, inline or deferred like them. */
struct lwt_hook;
typedef void (*lwt_hook_fn)(struct lwt_hook *hook, lwt_t *settled);
/* Two words: it is also the library's own callback registration (a list
 * link and the function to call). */
struct lwt_hook {
    struct lwt_hook *next; /* private */
    lwt_hook_fn fire;      /* private */
};
/* Attaches hook to p (borrowed); runs it now if p is already settled. */
void lwt_hook_attach(lwt_t *p, struct lwt_hook *hook, lwt_hook_fn fn);

/* ---- Detaching --------------------------------------------------------- */

/* Lets p run on its own. If it is rejected, on_error(err, ctx) runs; with
 * on_error NULL the rejection is reported through the platform's output
 * (with its bind-site chain in debug builds). Consumes p. */
void lwt_async(lwt_t *p, lwt_error_cb on_error, const void *ctx, size_t ctx_size);

/* ---- The deferred queue and the platform ------------------------------- */

/* Runs up to `budget` deferred callback batches (including ones they
 * enqueue); returns how many ran. The scheduler calls this every turn. */
size_t lwt_run_deferred(size_t budget);
/* Whether deferred work is waiting. */
bool lwt_has_deferred(void);

/* What the platform provides to the promise library. Both may be NULL:
 * output is then discarded and a panic traps. panic must not return. */
struct lwt_platform {
    void (*write)(const char *text, size_t len);
    void (*panic)(const char *msg);
};
void lwt_set_platform(const struct lwt_platform *platform);

/* ---- Accounting and debugging ------------------------------------------ */

/* Number of promises allocated and not yet freed (immortal ones excluded).
 * Tests assert it returns to zero. */
size_t lwt_live_count(void);

/* Bytes the library holds for live promises, callback nodes and the deferred
 * queue, counted by allocation size class (what the allocator hands out,
 * without malloc's own overhead). Back to zero when nothing is alive. Stream
 * rings and timer-heap arrays belong to their objects and are not counted. */
size_t lwt_memory_in_use(void);

/* Debug builds: writes every pending promise and its creation site to the
 * platform output; returns the number of pending promises. Release builds
 * print a one-line note and return 0. */
size_t lwt_dump_pending(void);

/* Writes into buf (always NUL-terminated when size > 0) a description of a
 * rejected promise: its error, where it was created, and in debug builds the
 * bind sites the rejection travelled through, newest first. Returns the
 * length it needed, as snprintf does. */
size_t lwt_describe_error(lwt_t *p, char *buf, size_t size);

/* Writes one line through the platform output: "lwt: WHAT: " and what
 * lwt_describe_error says of p (the error; in debug builds also where it
 * was rejected and the bind sites it travelled through), never cut short
 * by a long chain. Nothing if p is not rejected. Borrows p. This is how
 * lwt_async reports an unhandled rejection ("unhandled rejection"), and
 * how the platform reports a program's rejected main promise. */
void lwt_report_rejection(lwt_t *p, const char *what);

/* Seeds the generator choose/pick use among already-settled inputs. */
void lwt_set_random_seed(uint64_t seed);

#include "lwt_promise.h"

#endif
