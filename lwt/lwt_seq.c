/* Sequential composition: bind, map, catch, try_bind, finalize, the on_*
 * callbacks and async.
 *
 * On a settled promise the continuation runs at once (within the inline depth
 * limit) and nothing is allocated beyond its result. On a pending one, the
 * result promise, the registration, the function and the caller's context
 * share one node: one allocation per step.
 */
#include <string.h>

#include "lwt_debug.h"
#include "lwt_internal.h"

union seq_fn {
    lwt_bind_fn bind;
    lwt_map_fn map;
    lwt_catch_fn catch_;
};

/* bind, map, catch: 48 bytes before the context. try_bind keeps its error
 * handler at the start of the context area so bind stays that small. */
struct seq_node {
    struct lwt__node n;
    struct lwt_hook cb;
    union seq_fn fn;
    max_align_t ctx[];
};

struct try_ctx {
    lwt_catch_fn on_error;
    max_align_t user[];
};

static struct seq_node *seq_of(struct lwt_hook *cb)
{
    return LWT__CONTAINER(cb, struct seq_node, cb);
}

/* A callback gets its own copy of the context (lwt.h) also when it runs at
 * once: it may write to it, and the caller's is const. Small contexts are
 * copied on the stack, larger ones to the heap, so that nested inline
 * callbacks do not use up a small stack. */
#define STACK_CTX_BYTES 64

struct ctx_copy {
    max_align_t small[(STACK_CTX_BYTES + sizeof(max_align_t) - 1) / sizeof(max_align_t)];
    void *ptr;
    uint8_t cls;
};

static void *ctx_copy(struct ctx_copy *c, const void *ctx, size_t ctx_size)
{
    c->ptr = (void *)ctx;
    if (ctx_size) {
        c->ptr = ctx_size <= sizeof c->small ? (void *)c->small : lwt__alloc(ctx_size, &c->cls);
        memcpy(c->ptr, ctx, ctx_size);
    }
    return c->ptr;
}

static void ctx_copy_done(struct ctx_copy *c, size_t ctx_size)
{
    if (ctx_size > sizeof c->small)
        lwt__free(c->ptr, c->cls);
}

/* A fresh node whose promise follows u (settled or pending; consumes p,
 * whose underlying promise u is). */
static struct seq_node *seq_attach(const char *file, int line, struct lwt *p, struct lwt *u, lwt__fire_fn fire,
                                   union seq_fn fn, size_t ctx_bytes)
{
    struct seq_node *s = (struct seq_node *)lwt__node_new(sizeof *s + ctx_bytes, LWT__CANCEL_ONE, file, line);
    s->fn = fn;
    s->cb.fire = fire;
    /* The node keeps u for cancellation until it settles. */
    s->n.cancel_target = lwt_ref(u);
    lwt__release(p);
    s->n.p.rc = 2; /* the caller's reference and the registration */
    if (u->state == LWT__PENDING)
        lwt__add_cb(u, &s->cb);
    else
        lwt__defer_cb(&s->cb, u); /* too deep to run now */
    return s;
}

/* A rejection passing through a continuation that does not handle it. */
static struct lwt *pass_rejection(const char *file, int line, struct lwt *p, struct lwt *u)
{
#ifdef LWT_DEBUG
    struct lwt *r = lwt__settled(file, line, false, NULL, u->u.err);
    lwt__debug_set_trace(r, u, r);
    lwt__release(p);
    return r;
#else
    (void)file, (void)line, (void)u;
    return p;
#endif
}

/* outer follows q, the promise a continuation returned. */
static void follow_result(struct lwt *outer, struct lwt *q)
{
    /* The callback may have settled outer (e.g. through a cancel). */
    outer = lwt__underlying(outer);
    if (outer->state == LWT__PENDING)
        lwt__follow(outer, q);
    else
        lwt__release(q);
}

static void bind_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct seq_node *s = seq_of(cb);
    struct lwt *self = &s->n.p;
    struct lwt *outer = lwt__underlying(self);
    if (outer->state == LWT__PENDING) {
        if (src->state == LWT__FULFILLED)
            follow_result(outer, s->fn.bind(src->u.value, s->ctx));
        else
            lwt__settle_like(outer, src, self);
    }
    lwt__release(self);
}

lwt_t *lwt__bind(const char *file, int line, lwt_t *p, lwt_bind_fn f, const void *ctx, size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__REJECTED)
        return pass_rejection(file, line, p, u);
    if (u->state == LWT__FULFILLED && lwt__may_inline()) {
        void *v = u->u.value;
        lwt__release(p);
        struct ctx_copy c;
        lwt__depth++;
        lwt_t *q = f(v, ctx_copy(&c, ctx, ctx_size));
        lwt__depth--;
        ctx_copy_done(&c, ctx_size);
        return q;
    }
    struct seq_node *s = seq_attach(file, line, p, u, bind_fire, (union seq_fn){.bind = f}, ctx_size);
    if (ctx_size)
        memcpy(s->ctx, ctx, ctx_size);
    return &s->n.p;
}

static void map_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct seq_node *s = seq_of(cb);
    struct lwt *self = &s->n.p;
    struct lwt *outer = lwt__underlying(self);
    if (outer->state == LWT__PENDING) {
        if (src->state == LWT__FULFILLED) {
            void *v = s->fn.map(src->u.value, s->ctx);
            outer = lwt__underlying(self);
            if (outer->state == LWT__PENDING)
                lwt__fulfil(outer, v);
        } else {
            lwt__settle_like(outer, src, self);
        }
    }
    lwt__release(self);
}

lwt_t *lwt__map(const char *file, int line, lwt_t *p, lwt_map_fn f, const void *ctx, size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__REJECTED)
        return pass_rejection(file, line, p, u);
    if (u->state == LWT__FULFILLED && lwt__may_inline()) {
        void *v = u->u.value;
        lwt__release(p);
        struct ctx_copy c;
        lwt__depth++;
        void *w = f(v, ctx_copy(&c, ctx, ctx_size));
        lwt__depth--;
        ctx_copy_done(&c, ctx_size);
        return lwt__return(file, line, w);
    }
    struct seq_node *s = seq_attach(file, line, p, u, map_fire, (union seq_fn){.map = f}, ctx_size);
    if (ctx_size)
        memcpy(s->ctx, ctx, ctx_size);
    return &s->n.p;
}

static void catch_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct seq_node *s = seq_of(cb);
    struct lwt *self = &s->n.p;
    struct lwt *outer = lwt__underlying(self);
    if (outer->state == LWT__PENDING) {
        if (src->state == LWT__REJECTED)
            follow_result(outer, s->fn.catch_(src->u.err, s->ctx));
        else
            lwt__fulfil(outer, src->u.value);
    }
    lwt__release(self);
}

lwt_t *lwt__catch(const char *file, int line, lwt_t *p, lwt_catch_fn h, const void *ctx, size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__FULFILLED)
        return p;
    if (u->state == LWT__REJECTED && lwt__may_inline()) {
        int err = u->u.err;
        lwt__release(p);
        struct ctx_copy c;
        lwt__depth++;
        lwt_t *q = h(err, ctx_copy(&c, ctx, ctx_size));
        lwt__depth--;
        ctx_copy_done(&c, ctx_size);
        return q;
    }
    struct seq_node *s = seq_attach(file, line, p, u, catch_fire, (union seq_fn){.catch_ = h}, ctx_size);
    if (ctx_size)
        memcpy(s->ctx, ctx, ctx_size);
    return &s->n.p;
}

static void try_bind_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct seq_node *s = seq_of(cb);
    struct try_ctx *t = (struct try_ctx *)s->ctx;
    struct lwt *self = &s->n.p;
    struct lwt *outer = lwt__underlying(self);
    if (outer->state == LWT__PENDING) {
        if (src->state == LWT__FULFILLED)
            follow_result(outer, s->fn.bind(src->u.value, t->user));
        else
            follow_result(outer, t->on_error(src->u.err, t->user));
    }
    lwt__release(self);
}

lwt_t *lwt__try_bind(const char *file, int line, lwt_t *p, lwt_bind_fn f, lwt_catch_fn h, const void *ctx,
                     size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state != LWT__PENDING && lwt__may_inline()) {
        bool ok = u->state == LWT__FULFILLED;
        void *v = u->u.value;
        int err = u->u.err;
        lwt__release(p);
        struct ctx_copy c;
        void *copy = ctx_copy(&c, ctx, ctx_size);
        lwt__depth++;
        lwt_t *q = ok ? f(v, copy) : h(err, copy);
        lwt__depth--;
        ctx_copy_done(&c, ctx_size);
        return q;
    }
    struct seq_node *s =
        seq_attach(file, line, p, u, try_bind_fire, (union seq_fn){.bind = f}, sizeof(struct try_ctx) + ctx_size);
    struct try_ctx *t = (struct try_ctx *)s->ctx;
    t->on_error = h;
    if (ctx_size)
        memcpy(t->user, ctx, ctx_size);
    return &s->n.p;
}

/* ---- finalize ---------------------------------------------------------- */

/* Two stages: p settles -> run fin; fin's promise settles -> settle like p
 * (or like fin's promise if that was rejected). */
struct fin_node {
    struct lwt__node n;
    struct lwt_hook on_source;
    struct lwt_hook on_cleanup;
    lwt_thunk_fn fin;
    struct lwt *source; /* owned while fin's promise is pending */
    max_align_t ctx[];
};

static void fin_finish(struct fin_node *f, struct lwt *source, struct lwt *cleanup)
{
    struct lwt *self = &f->n.p;
    struct lwt *outer = lwt__underlying(self);
    if (outer->state != LWT__PENDING)
        return;
    if (cleanup->state == LWT__REJECTED)
        lwt__settle_like(outer, cleanup, self);
    else
        lwt__settle_like(outer, source, self);
}

static void fin_cleanup_fire(struct lwt_hook *cb, struct lwt *cleanup)
{
    struct fin_node *f = LWT__CONTAINER(cb, struct fin_node, on_cleanup);
    fin_finish(f, f->source, cleanup);
    lwt__release(f->source);
    f->source = NULL;
    lwt__release(&f->n.p);
}

static void fin_source_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct fin_node *f = LWT__CONTAINER(cb, struct fin_node, on_source);
    struct lwt *self = &f->n.p;
    if (lwt__underlying(self)->state == LWT__PENDING) {
        lwt_t *q = f->fin(f->ctx);
        struct lwt *uq = lwt__underlying(q);
        struct lwt *outer = lwt__underlying(self);
        if (uq->state != LWT__PENDING) {
            fin_finish(f, src, uq);
        } else if (outer->state == LWT__PENDING) {
            /* Wait for the cleanup; cancelling now reaches the cleanup. */
            lwt__node_drop_cancel_target(outer);
            if (outer->flags & LWT__F_NODE) {
                outer->cancel = LWT__CANCEL_ONE;
                ((struct lwt__node *)outer)->cancel_target = lwt_ref(uq);
            }
            f->source = lwt_ref(src);
            self->rc++; /* the second registration */
            lwt__add_cb(uq, &f->on_cleanup);
        }
        lwt__release(q);
    }
    lwt__release(self);
}

lwt_t *lwt__finalize(const char *file, int line, lwt_t *p, lwt_thunk_fn fin, const void *ctx, size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    struct fin_node *f = (struct fin_node *)lwt__node_new(sizeof *f + ctx_size, LWT__CANCEL_ONE, file, line);
    f->fin = fin;
    f->source = NULL;
    f->on_source.fire = fin_source_fire;
    f->on_cleanup.fire = fin_cleanup_fire;
    if (ctx_size)
        memcpy(f->ctx, ctx, ctx_size);
    f->n.cancel_target = lwt_ref(u);
    f->n.p.rc = 2;
    if (u->state == LWT__PENDING)
        lwt__add_cb(u, &f->on_source);
    else
        lwt__run_or_defer_cb(&f->on_source, u);
    lwt__release(p);
    return &f->n.p;
}

/* ---- on_* and async ---------------------------------------------------- */

enum on_kind { ON_ANY, ON_TERMINATION, ON_CANCEL, ON_ASYNC };

struct on_node {
    struct lwt_hook cb;
    union {
        lwt_value_cb value;
        lwt_unit_cb unit;
    } ok;
    lwt_error_cb fail;
    uint8_t kind;
    uint8_t cls;
    max_align_t ctx[];
};

static void on_free(struct on_node *o)
{
    lwt__free(o, o->cls);
}

static void on_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct on_node *o = LWT__CONTAINER(cb, struct on_node, cb);
    bool ok = src->state == LWT__FULFILLED;
    switch (o->kind) {
    case ON_ANY:
        if (ok && o->ok.value)
            o->ok.value(src->u.value, o->ctx);
        else if (!ok && o->fail)
            o->fail(src->u.err, o->ctx);
        break;
    case ON_TERMINATION:
        o->ok.unit(o->ctx);
        break;
    case ON_ASYNC:
        if (!ok) {
            if (o->fail)
                o->fail(src->u.err, o->ctx);
            else
                lwt_report_rejection(src, "unhandled rejection");
        }
        break;
    }
    on_free(o);
}

void lwt__on_cancel_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct on_node *o = LWT__CONTAINER(cb, struct on_node, cb);
    if (src->state == LWT__REJECTED && src->u.err == -LWT_ECANCELED)
        o->ok.unit(o->ctx);
    on_free(o);
}

static void on_attach(lwt_t *p, uint8_t kind, lwt__fire_fn fire, lwt_value_cb ok, lwt_unit_cb unit, lwt_error_cb fail,
                      const void *ctx, size_t ctx_size)
{
    uint8_t cls;
    struct on_node *o = lwt__alloc(sizeof *o + ctx_size, &cls);
    o->cls = cls;
    o->kind = kind;
    o->cb.fire = fire;
    if (unit)
        o->ok.unit = unit;
    else
        o->ok.value = ok;
    o->fail = fail;
    if (ctx_size)
        memcpy(o->ctx, ctx, ctx_size);
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__PENDING)
        lwt__add_cb(u, &o->cb);
    else
        lwt__run_or_defer_cb(&o->cb, u);
}

void lwt_on_success(lwt_t *p, lwt_value_cb f, const void *ctx, size_t ctx_size)
{
    on_attach(p, ON_ANY, on_fire, f, NULL, NULL, ctx, ctx_size);
}

void lwt_on_failure(lwt_t *p, lwt_error_cb f, const void *ctx, size_t ctx_size)
{
    on_attach(p, ON_ANY, on_fire, NULL, NULL, f, ctx, ctx_size);
}

void lwt_on_any(lwt_t *p, lwt_value_cb ok, lwt_error_cb fail, const void *ctx, size_t ctx_size)
{
    on_attach(p, ON_ANY, on_fire, ok, NULL, fail, ctx, ctx_size);
}

void lwt_on_termination(lwt_t *p, lwt_unit_cb f, const void *ctx, size_t ctx_size)
{
    on_attach(p, ON_TERMINATION, on_fire, NULL, f, NULL, ctx, ctx_size);
}

void lwt_on_cancel(lwt_t *p, lwt_unit_cb f, const void *ctx, size_t ctx_size)
{
    struct lwt *u = lwt__underlying(p);
    /* Settled otherwise than by cancellation: f can never run. */
    if (u->state == LWT__FULFILLED || (u->state == LWT__REJECTED && u->u.err != -LWT_ECANCELED))
        return;
    on_attach(p, ON_CANCEL, lwt__on_cancel_fire, NULL, f, NULL, ctx, ctx_size);
}

void lwt_async(lwt_t *p, lwt_error_cb on_error, const void *ctx, size_t ctx_size)
{
    on_attach(p, ON_ASYNC, on_fire, NULL, NULL, on_error, ctx, ctx_size);
    lwt__release(p);
}

/* ---- Hooks ------------------------------------------------------------- */

void lwt_hook_attach(lwt_t *p, struct lwt_hook *hook, lwt_hook_fn fn)
{
    hook->fire = fn;
    struct lwt *u = lwt__underlying(p);
    if (u->state == LWT__PENDING)
        lwt__add_cb(u, hook);
    else
        lwt__run_or_defer_cb(hook, u);
}
