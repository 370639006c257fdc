/* The promise itself: allocation, references, proxies, settling, callback
 * lists and the deferred queue. */
#include <string.h>

#include "lwt_debug.h"
#include "lwt_internal.h"

unsigned lwt__depth;
static size_t live_count;

/* lwt_return(NULL) is by far the most common resolved promise. */
struct lwt lwt__return_null = {
    .rc = LWT__IMMORTAL_RC,
    .state = LWT__FULFILLED,
};

size_t lwt_live_count(void)
{
    return live_count;
}

/* ---- Allocation and release ------------------------------------------ */

void lwt__init(struct lwt *p, uint8_t flags, uint8_t cancel, const char *file, int line)
{
    p->rc = 1;
    p->state = LWT__PENDING;
    p->cancel = cancel;
    p->flags = flags;
    p->u.cb_tail = NULL;
    live_count++;
    lwt__debug_track(p, file, line);
}

static struct lwt *plain_new(const char *file, int line, uint8_t flags, uint8_t cancel)
{
    uint8_t cls;
    struct lwt *p = lwt__alloc(sizeof *p, &cls);
    lwt__init(p, flags, cancel, file, line);
    p->cls = cls;
    return p;
}

struct lwt__node *lwt__node_new(size_t size, uint8_t cancel, const char *file, int line)
{
    uint8_t cls;
    struct lwt__node *n = lwt__alloc(size, &cls);
    lwt__init(&n->p, LWT__F_NODE, cancel, file, line);
    n->p.cls = cls;
    n->cancel_target = NULL;
    return n;
}

struct lwt *lwt__settled(const char *file, int line, bool fulfilled, void *value, int err)
{
    struct lwt *p = plain_new(file, line, 0, LWT__CANCEL_NONE);
    if (fulfilled) {
        p->state = LWT__FULFILLED;
        p->u.value = value;
    } else {
        p->state = LWT__REJECTED;
        p->u.err = err;
    }
    return p;
}

__attribute__((cold, noreturn)) static void destroy_refused(const struct lwt *p)
{
    lwt__panic(p->state == LWT__PENDING ? "internal: a pending promise was freed"
                                        : "lwt_return(NULL) released more often than returned");
}

/* A proxy being freed releases its target, which may be freed in turn:
 * iterative, so a chain of proxies held only by each other costs no stack. */
__attribute__((noinline)) static void destroy_chain(struct lwt *p)
{
    for (;;) {
        if (p->state == LWT__PENDING || p == &lwt__return_null)
            destroy_refused(p);
        struct lwt *next = p->state == LWT__PROXY ? p->u.target : NULL;
        lwt__debug_untrack(p);
        live_count--;
        lwt__free(p, p->cls);
        if (!next || --next->rc != 0)
            return;
        p = next;
    }
}

/* Not inlined: callers stay small, and the compiler cannot see the
 * immortal promise flow into free (which never happens: it is refused). */
__attribute__((noinline)) void lwt__destroy(struct lwt *p)
{
    /* The common case, a settled promise that holds nothing, needs no frame:
     * it ends in the free. */
    if (__builtin_expect((p->state == LWT__FULFILLED || p->state == LWT__REJECTED) && p != &lwt__return_null, 1)) {
        lwt__debug_untrack(p);
        live_count--;
        lwt__free(p, p->cls);
        return;
    }
    /* A merged bind step, freed once it has fired: its target lives on. */
    if (p->state == LWT__PROXY && p->u.target->rc > 1) {
        p->u.target->rc--;
        lwt__debug_untrack(p);
        live_count--;
        lwt__free(p, p->cls);
        return;
    }
    destroy_chain(p);
}

lwt_t *lwt_ref(lwt_t *p)
{
    lwt__retain(p);
    return p;
}

/* ---- Proxies ---------------------------------------------------------- */

struct lwt *lwt__underlying_slow(struct lwt *p)
{
    struct lwt *root = p->u.target;
    if (root->state != LWT__PROXY)
        return root;
    while (root->state == LWT__PROXY)
        root = root->u.target;
    /* Point p straight at the root; intermediate proxies that nobody else
     * holds are freed by the release. */
    struct lwt *old = p->u.target;
    lwt__retain(root);
    p->u.target = root;
    lwt__release(old);
    return root;
}

/* ---- Callback lists --------------------------------------------------- */

void lwt__add_cb(struct lwt *u, struct lwt_hook *cb)
{
    struct lwt_hook *tail = u->u.cb_tail;
    if (tail) {
        cb->next = tail->next;
        tail->next = cb;
    } else {
        cb->next = cb;
    }
    u->u.cb_tail = cb;
}

/* Joins circular list b after circular list a; returns the new tail. */
static struct lwt_hook *concat(struct lwt_hook *a, struct lwt_hook *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    struct lwt_hook *a_head = a->next;
    a->next = b->next;
    b->next = a_head;
    return b;
}

/* Runs a detached circular list in order. On cancellation, lwt_on_cancel
 * callbacks go first (as in Lwt). */
static void run_list(struct lwt_hook *tail, struct lwt *src)
{
    if (src->state == LWT__REJECTED && src->u.err == -LWT_ECANCELED) {
        struct lwt_hook *cancel_tail = NULL, *rest_tail = NULL;
        struct lwt_hook *cb = tail->next;
        tail->next = NULL;
        while (cb) {
            struct lwt_hook *next = cb->next;
            if (cb->fire == lwt__on_cancel_fire)
                cancel_tail = concat(cancel_tail, (cb->next = cb));
            else
                rest_tail = concat(rest_tail, (cb->next = cb));
            cb = next;
        }
        tail = concat(cancel_tail, rest_tail);
    }
    struct lwt_hook *cb = tail->next;
    tail->next = NULL;
    while (cb) {
        struct lwt_hook *next = cb->next;
        cb->fire(cb, src);
        cb = next;
    }
}

/* ---- The deferred queue ----------------------------------------------- */

struct deferred {
    struct lwt_hook *tail;
    struct lwt *src; /* owned */
};

/* The ring starts in static storage, big enough for a typical turn, so
 * that an event loop deferring a wakeup or two per turn never allocates;
 * it moves to the heap only while a burst needs more. */
#define DQ_STATIC_CAP 64
static struct deferred dq_static[DQ_STATIC_CAP];
static struct deferred *dq = dq_static; /* ring of dq_cap entries, a power of two */
static size_t dq_head, dq_len, dq_cap = DQ_STATIC_CAP;
static uint8_t dq_cls;

static void defer_list(struct lwt_hook *tail, struct lwt *src)
{
    if (dq_len == dq_cap) {
        size_t cap = dq_cap * 2;
        uint8_t cls;
        struct deferred *grown = lwt__alloc(cap * sizeof *grown, &cls);
        for (size_t i = 0; i < dq_len; i++)
            grown[i] = dq[(dq_head + i) & (dq_cap - 1)];
        if (dq != dq_static)
            lwt__free(dq, dq_cls);
        dq_cls = cls;
        dq = grown;
        dq_cap = cap;
        dq_head = 0;
    }
    lwt__retain(src);
    dq[(dq_head + dq_len) & (dq_cap - 1)] = (struct deferred){tail, src};
    dq_len++;
}

void lwt__defer_cb(struct lwt_hook *cb, struct lwt *src)
{
    cb->next = cb;
    defer_list(cb, src);
}

bool lwt_has_deferred(void)
{
    return dq_len != 0;
}

static size_t run_deferred(size_t budget);

size_t lwt_run_deferred(size_t budget)
{
    /* The scheduler asks every turn; usually there is nothing. */
    return dq_len ? run_deferred(budget) : 0;
}

static size_t run_deferred(size_t budget)
{
    size_t ran = 0;
    while (ran < budget && dq_len) {
        struct deferred d = dq[dq_head];
        dq_head = (dq_head + 1) & (dq_cap - 1);
        dq_len--;
        lwt__depth++;
        run_list(d.tail, d.src);
        lwt__depth--;
        lwt__release(d.src);
        ran++;
    }
    if (dq_len == 0 && dq != dq_static) {
        /* Give a grown ring back when idle so an empty program holds nothing. */
        lwt__free(dq, dq_cls);
        dq = dq_static;
        dq_cap = DQ_STATIC_CAP;
        dq_head = 0;
    }
    return ran;
}

static void dispatch(struct lwt *u, struct lwt_hook *tail)
{
    if (!tail)
        return;
    if (!lwt__may_inline()) {
        defer_list(tail, u);
        return;
    }
    lwt__retain(u);
    lwt__depth++;
    run_list(tail, u);
    lwt__depth--;
    lwt__release(u);
}

void lwt__run_or_defer_cb(struct lwt_hook *cb, struct lwt *src)
{
    cb->next = cb;
    dispatch(src, cb);
}

/* ---- Settling --------------------------------------------------------- */

void lwt__node_drop_cancel_target(struct lwt *p)
{
    if (p->flags & LWT__F_NODE) {
        struct lwt__node *n = (struct lwt__node *)p;
        struct lwt *t = n->cancel_target;
        n->cancel_target = NULL;
        lwt__release(t);
    }
    p->cancel = LWT__CANCEL_NONE;
}

/* Detaches u's callbacks and its cancel behaviour before it takes a state. */
static struct lwt_hook *take_pending(struct lwt *u)
{
    if (u->state != LWT__PENDING)
        lwt__panic("internal: settling a promise that is not pending");
    struct lwt_hook *tail = u->u.cb_tail;
    lwt__node_drop_cancel_target(u);
    lwt__set_dead(u, 0);
    return tail;
}

/* Gives pending u its result (a rejection inherits src's bind-site trace,
 * plus via's site, in debug builds) and returns its detached callbacks. */
static inline __attribute__((always_inline)) struct lwt_hook *
set_result(struct lwt *u, bool fulfilled, void *value, int err, const struct lwt *src, const struct lwt *via)
{
    struct lwt_hook *tail = take_pending(u);
    if (fulfilled) {
        u->state = LWT__FULFILLED;
        u->u.value = value;
    } else {
        u->state = LWT__REJECTED;
        u->u.err = err;
        lwt__debug_set_trace(u, src, via);
    }
    return tail;
}

void lwt__fulfil(struct lwt *u, void *value)
{
    dispatch(u, set_result(u, true, value, 0, NULL, NULL));
}

void lwt__reject(struct lwt *u, int err)
{
    dispatch(u, set_result(u, false, NULL, err, NULL, NULL));
}

void lwt__settle_like(struct lwt *u, struct lwt *src, const struct lwt *via)
{
    if (src->state == LWT__FULFILLED)
        dispatch(u, set_result(u, true, src->u.value, 0, NULL, NULL));
    else
        dispatch(u, set_result(u, false, NULL, src->u.err, src, via));
}

/* Settles pending u from within lwt_cancel's first phase: state only; the
 * caller runs the returned callbacks later. */
struct lwt_hook *lwt__cancel_now(struct lwt *u)
{
    struct lwt_hook *tail = set_result(u, false, NULL, -LWT_ECANCELED, NULL, NULL);
    if (u->flags & LWT__F_QUEUED)
        lwt__waitq_withdraw(u);
    return tail;
}

void lwt__dispatch(struct lwt *u, struct lwt_hook *tail)
{
    dispatch(u, tail);
}

/* A task with storage merged into another promise: the hooks its storage
 * holds (a timer's, an I/O operation's) go over to the other promise's list
 * and run when it settles, which may be after the task's last reference
 * (its resolver) is gone. A registration behind them keeps the task until
 * they have run. Only for this rare merge: a bind loop's steps are nodes. */
struct keep_alive {
    struct lwt_hook cb;
    struct lwt *task; /* owned */
    uint8_t cls;
};

static void keep_alive_fire(struct lwt_hook *cb, struct lwt *src)
{
    (void)src;
    struct keep_alive *k = LWT__CONTAINER(cb, struct keep_alive, cb);
    struct lwt *task = k->task;
    lwt__free(k, k->cls);
    lwt__release(task);
}

static void keep_alive(struct lwt *task)
{
    uint8_t cls;
    struct keep_alive *k = lwt__alloc(sizeof *k, &cls);
    k->cls = cls;
    k->cb.fire = keep_alive_fire;
    k->task = lwt_ref(task);
    lwt__add_cb(task, &k->cb);
}

void lwt__follow(struct lwt *outer, struct lwt *inner)
{
    struct lwt *u = lwt__underlying(inner);
    if (u == outer) {
        /* The callback returned its own result: it can never settle, as
         * in Lwt. */
        lwt__release(inner);
        return;
    }
    if (lwt__is_settled(u)) {
        /* A rejection travelled through outer's continuation. */
        lwt__settle_like(outer, u, outer);
        lwt__release(inner);
        return;
    }
    /* Merge: the user's promise becomes a proxy of outer, which takes over
     * its callbacks and its way of being cancelled. Keeping outer as the
     * survivor is what makes a recursive bind loop run in constant memory:
     * each step's promise is folded into the first one and then freed. */
    lwt__node_drop_cancel_target(outer);
    outer->cancel = u->cancel;
    if (u->cancel == LWT__CANCEL_ONE || u->cancel == LWT__CANCEL_MULTI) {
        struct lwt__node *un = (struct lwt__node *)u;
        struct lwt__node *on = (struct lwt__node *)outer;
        /* A multi node's own target is NULL, meaning "my inputs". */
        on->cancel_target = un->cancel_target ? un->cancel_target : lwt_ref(u);
        un->cancel_target = NULL;
    }
    u->cancel = LWT__CANCEL_NONE;
    if (u->flags & LWT__F_QUEUED)
        lwt__waitq_watch_merge(u);
    if (u->flags & LWT__F_STORAGE)
        keep_alive(u);
    outer->u.cb_tail = concat(outer->u.cb_tail, u->u.cb_tail);
    lwt__set_dead(outer, lwt__dead(outer) + lwt__dead(u));
    lwt__debug_merge(outer, u);
    u->state = LWT__PROXY;
    u->u.target = lwt_ref(outer);
    lwt__release(inner);
}

/* ---- Dead registrations ----------------------------------------------- */

void lwt__sweep_dead(struct lwt *u)
{
    lwt__set_dead(u, 0);
    struct lwt_hook *tail = u->u.cb_tail;
    struct lwt_hook *cur = tail->next, *kept = NULL;
    tail->next = NULL;
    while (cur) {
        struct lwt_hook *next = cur->next;
        if (cur->fire == lwt__multi_dead_fire || cur->fire == lwt__forward_dead_fire) {
            cur->fire(cur, NULL);
        } else {
            cur->next = cur;
            kept = concat(kept, cur);
        }
        cur = next;
    }
    u->u.cb_tail = kept;
}

/* ---- Creation and resolvers ------------------------------------------- */

/* Errors are negative; a positive code is taken as its negation and 0 as a
 * caller's mistake. */
static int error_code(int err)
{
    if (err > 0)
        err = -err;
    return err ? err : -LWT_EINVAL;
}

lwt_t *lwt__return(const char *file, int line, void *value)
{
    if (!value) {
        lwt__return_null.rc++;
        return &lwt__return_null;
    }
    return lwt__settled(file, line, true, value, 0);
}

lwt_t *lwt__fail(const char *file, int line, int err)
{
    return lwt__settled(file, line, false, NULL, error_code(err));
}

lwt_t *lwt__wait(const char *file, int line, lwt_resolver_t **resolver_out, bool cancelable)
{
    struct lwt *p = plain_new(file, line, 0, cancelable ? LWT__CANCEL_SELF : LWT__CANCEL_NONE);
    p->rc = 2; /* the promise and its resolver */
    *resolver_out = (lwt_resolver_t *)p;
    return p;
}

/* A task and its caller's storage, in one allocation. */
struct task_with {
    struct lwt p;
    max_align_t storage[];
};

lwt_t *lwt__task_with(const char *file, int line, lwt_resolver_t **resolver_out, size_t size, void **storage_out)
{
    uint8_t cls;
    struct task_with *t = lwt__alloc(sizeof *t + size, &cls);
    lwt__init(&t->p, LWT__F_STORAGE, LWT__CANCEL_SELF, file, line);
    t->p.cls = cls;
    t->p.rc = 2; /* the promise and its resolver */
    *resolver_out = (lwt_resolver_t *)&t->p;
    *storage_out = t->storage;
    return &t->p;
}

lwt_t *lwt_resolver_promise(lwt_resolver_t *r)
{
    return (struct lwt *)r;
}

/* Where a resolver's promise stands: true if it may be settled now. */
static bool resolvable(struct lwt *u, const char *what)
{
    if (u->state == LWT__PENDING)
        return true;
    if (u->state == LWT__REJECTED && u->u.err == -LWT_ECANCELED)
        return false;
    lwt__print("lwt: %s on a promise that is already settled\n", what);
    lwt__panic(what);
}

/* The four wakeups: settle the resolver's promise unless it was cancelled,
 * run its callbacks now or queue them, and consume the resolver. */
/* Inlined into each wakeup, so that each is specialised (they are hot). */
static inline __attribute__((always_inline)) void wake(lwt_resolver_t *r, const char *what, bool fulfilled, void *value,
                                                       int err, bool later)
{
    struct lwt *p = (struct lwt *)r;
    struct lwt *u = lwt__underlying(p);
    if (resolvable(u, what)) {
        struct lwt_hook *tail = set_result(u, fulfilled, value, err, NULL, NULL);
        if (!later)
            dispatch(u, tail);
        else if (tail)
            defer_list(tail, u);
    }
    lwt__release(p);
}

void lwt_wakeup(lwt_resolver_t *r, void *value)
{
    wake(r, "lwt_wakeup", true, value, 0, false);
}

void lwt_wakeup_fail(lwt_resolver_t *r, int err)
{
    wake(r, "lwt_wakeup_fail", false, NULL, error_code(err), false);
}

void lwt_wakeup_later(lwt_resolver_t *r, void *value)
{
    wake(r, "lwt_wakeup_later", true, value, 0, true);
}

void lwt_wakeup_fail_later(lwt_resolver_t *r, int err)
{
    wake(r, "lwt_wakeup_fail_later", false, NULL, error_code(err), true);
}

void lwt_resolver_drop(lwt_resolver_t *r)
{
    struct lwt *p = (struct lwt *)r;
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__PENDING)
        lwt__reject(u, -LWT_EBROKEN);
    lwt__release(p);
}

/* ---- Inspection ------------------------------------------------------- */

enum lwt_state lwt_state(lwt_t *p)
{
    struct lwt *u = lwt__underlying(p);
    return u->state == LWT__FULFILLED ? LWT_FULFILLED : u->state == LWT__REJECTED ? LWT_REJECTED : LWT_PENDING;
}

void *lwt_value(lwt_t *p)
{
    struct lwt *u = lwt__underlying(p);
    return u->state == LWT__FULFILLED ? u->u.value : NULL;
}

int lwt_error(lwt_t *p)
{
    struct lwt *u = lwt__underlying(p);
    return u->state == LWT__REJECTED ? u->u.err : 0;
}
