/* Cancellation: lwt_cancel, lwt_protected, lwt_no_cancel.
 *
 * As in Lwt, cancel walks backwards from p through each pending promise's
 * cancel behaviour (bind -> its source, join/choose -> their inputs) to the
 * cancelable promises at the roots (tasks), and rejects those with
 * -LWT_ECANCELED. The walk only changes states; the callbacks of the cancelled
 * promises run afterwards, and the rejection then flows forward through the
 * ordinary callbacks. The walk uses an explicit stack: Xen stacks are small
 * and a dependency graph can be deep.
 */
#include "lwt_internal.h"

struct grow_array {
    void **items;
    size_t len, cap;
    uint8_t cls;
    void *inline_items[16];
};

static void ga_init(struct grow_array *a)
{
    a->items = a->inline_items;
    a->len = 0;
    a->cap = sizeof a->inline_items / sizeof a->inline_items[0];
}

static void ga_push(struct grow_array *a, void *item)
{
    if (a->len == a->cap) {
        uint8_t cls;
        void **grown = lwt__alloc(2 * a->cap * sizeof *grown, &cls);
        for (size_t i = 0; i < a->len; i++)
            grown[i] = a->items[i];
        if (a->items != a->inline_items)
            lwt__free(a->items, a->cls);
        a->items = grown;
        a->cls = cls;
        a->cap *= 2;
    }
    a->items[a->len++] = item;
}

static void ga_destroy(struct grow_array *a)
{
    if (a->items != a->inline_items)
        lwt__free(a->items, a->cls);
}

static void push_input(struct lwt *input, void *arg)
{
    ga_push(arg, input);
}

void lwt_cancel(lwt_t *p)
{
    /* Most often p is itself the task to cancel: no walk needed. */
    struct lwt *root = lwt__underlying(p);
    if (root->state != LWT__PENDING || root->cancel == LWT__CANCEL_NONE)
        return;
    if (root->cancel == LWT__CANCEL_SELF) {
        lwt__retain(root);
        lwt__dispatch(root, lwt__cancel_now(root));
        lwt__release(root);
        return;
    }
    struct grow_array work, cancelled; /* cancelled: (promise, tail) pairs */
    ga_init(&work);
    ga_init(&cancelled);
    ga_push(&work, p);
    while (work.len) {
        struct lwt *u = lwt__underlying(work.items[--work.len]);
        if (u->state != LWT__PENDING)
            continue;
        struct lwt__node *n = (struct lwt__node *)u;
        switch (u->cancel) {
        case LWT__CANCEL_NONE:
            break;
        case LWT__CANCEL_SELF:
            lwt__retain(u);
            ga_push(&cancelled, u);
            ga_push(&cancelled, lwt__cancel_now(u));
            break;
        case LWT__CANCEL_ONE:
            ga_push(&work, n->cancel_target);
            break;
        case LWT__CANCEL_MULTI: {
            size_t first = work.len;
            lwt__multi_visit_inputs(n->cancel_target ? n->cancel_target : u, push_input, &work);
            /* Visit inputs in list order, depth first, as Lwt does. */
            for (size_t i = first, j = work.len; i + 1 < j; i++, j--) {
                void *t = work.items[i];
                work.items[i] = work.items[j - 1];
                work.items[j - 1] = t;
            }
            break;
        }
        }
    }
    /* Lwt runs the most recently found first. */
    while (cancelled.len) {
        struct lwt_hook *tail = cancelled.items[--cancelled.len];
        struct lwt *u = cancelled.items[--cancelled.len];
        lwt__dispatch(u, tail);
        lwt__release(u);
    }
    ga_destroy(&work);
    ga_destroy(&cancelled);
}

/* ---- protected and no_cancel ------------------------------------------ */

/* A promise that settles like its source. A protected one can also be
 * cancelled on its own (or through a bind it was merged into); its
 * registration on the source is then dead, and is marked so for the sweep,
 * as Lwt removes it: protecting a long-lived promise again and again must
 * not grow that promise's callback list. */
struct forward_node {
    struct lwt__node n;
    struct lwt_hook cb;      /* on the source */
    struct lwt_hook on_self; /* protected: on this promise */
    struct lwt *source;      /* protected: owned while cb is live */
};

static void forward_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct forward_node *f = LWT__CONTAINER(cb, struct forward_node, cb);
    lwt__release(f->source);
    f->source = NULL;
    struct lwt *outer = lwt__underlying(&f->n.p);
    if (outer->state == LWT__PENDING)
        lwt__settle_like(outer, src, NULL);
    lwt__release(&f->n.p);
}

void lwt__forward_dead_fire(struct lwt_hook *cb, struct lwt *src)
{
    (void)src;
    lwt__release(&LWT__CONTAINER(cb, struct forward_node, cb)->n.p);
}

/* The protected promise has settled. If that was not through its source
 * (so it was cancelled), its registration on the source is dead. */
static void forward_self_fire(struct lwt_hook *cb, struct lwt *src)
{
    (void)src;
    struct forward_node *f = LWT__CONTAINER(cb, struct forward_node, on_self);
    if (f->source) {
        if (lwt__kill_cb(lwt__underlying(f->source), &f->cb, lwt__forward_dead_fire))
            f->n.p.rc--; /* this callback's registration still holds f */
        lwt__release(f->source);
        f->source = NULL;
    }
    lwt__release(&f->n.p);
}

static lwt_t *forward(const char *file, int line, lwt_t *p, uint8_t cancel)
{
    struct lwt *u = lwt__underlying(p);
    if (u->state != LWT__PENDING)
        return p;
    struct forward_node *f = (struct forward_node *)lwt__node_new(sizeof *f, cancel, file, line);
    f->cb.fire = forward_fire;
    f->n.p.rc = 2; /* the caller's reference and the registration */
    f->source = NULL;
    if (cancel == LWT__CANCEL_SELF) {
        f->source = p; /* keeps the caller's reference */
        f->on_self.fire = forward_self_fire;
        f->n.p.rc++;
        lwt__add_cb(&f->n.p, &f->on_self);
    } else {
        lwt__release(p);
    }
    lwt__add_cb(u, &f->cb);
    return &f->n.p;
}

lwt_t *lwt__protected(const char *file, int line, lwt_t *p)
{
    return forward(file, line, p, LWT__CANCEL_SELF);
}

lwt_t *lwt__no_cancel(const char *file, int line, lwt_t *p)
{
    return forward(file, line, p, LWT__CANCEL_NONE);
}
