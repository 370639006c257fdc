/* Concurrent composition: join, all, both, choose, pick, nchoose, npick.
 *
 * One node per call holds the result promise and one registration slot per
 * input. choose-like nodes settle on the first input; the registrations left
 * on the other inputs are marked dead and swept from those inputs' lists in
 * batches, so repeatedly choosing against a long-lived promise (a shutdown
 * signal, say) does not grow its callback list.
 */
#include "lwt_internal.h"

enum multi_kind { M_JOIN, M_CHOOSE, M_NCHOOSE };

struct multi;

struct multi_slot {
    struct lwt_hook cb;
    struct lwt *input; /* owned until the node is done; NULL once released */
    struct multi *owner;
};

struct multi {
    struct lwt__node n;
    uint8_t kind;
    bool cancel_others;
    bool done;
    size_t count;
    size_t pending;             /* registrations still expected (join) */
    struct lwt *first_rejected; /* join: owned */
    void **values;              /* all / nchoose: caller's array */
    struct multi_slot slots[];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void lwt_set_random_seed(uint64_t seed)
{
    rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static size_t random_below(size_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (size_t)((rng_state * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static void release_inputs(lwt_t *const *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lwt__release(ps[i]);
}

static void cancel_pending_inputs(lwt_t *const *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lwt__underlying(ps[i])->state == LWT__PENDING)
            lwt_cancel(ps[i]);
}

static struct multi *multi_new(const char *file, int line, uint8_t kind, size_t n, void **values)
{
    struct multi *m = (struct multi *)lwt__node_new(sizeof *m + n * sizeof m->slots[0], LWT__CANCEL_MULTI, file, line);
    m->kind = kind;
    m->cancel_others = false;
    m->done = false;
    m->count = n;
    m->pending = 0;
    m->first_rejected = NULL;
    m->values = values;
    return m;
}

static void register_slot(struct multi *m, size_t i, struct lwt *input, lwt__fire_fn fire)
{
    struct multi_slot *s = &m->slots[i];
    s->owner = m;
    s->input = input;
    s->cb.fire = fire;
    if (!input)
        return;
    m->n.p.rc++;
    m->pending++;
    lwt__add_cb(lwt__underlying(input), &s->cb);
}

/* The node has its answer: let go of the inputs. */
static void multi_finish_inputs(struct multi *m)
{
    m->done = true;
    for (size_t i = 0; i < m->count; i++) {
        lwt__release(m->slots[i].input);
        m->slots[i].input = NULL;
    }
}

void lwt__multi_visit_inputs(struct lwt *multi, void (*visit)(struct lwt *input, void *arg), void *arg)
{
    struct multi *m = (struct multi *)multi;
    if (m->done)
        return;
    for (size_t i = 0; i < m->count; i++)
        if (m->slots[i].input)
            visit(m->slots[i].input, arg);
}

void lwt__multi_dead_fire(struct lwt_hook *cb, struct lwt *src)
{
    (void)src;
    struct multi_slot *s = LWT__CONTAINER(cb, struct multi_slot, cb);
    lwt__release(&s->owner->n.p);
}

/* ---- join, all, both --------------------------------------------------- */

static void join_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct multi_slot *s = LWT__CONTAINER(cb, struct multi_slot, cb);
    struct multi *m = s->owner;
    if (src->state == LWT__REJECTED) {
        if (!m->first_rejected)
            m->first_rejected = lwt_ref(src);
    } else if (m->values) {
        m->values[s - m->slots] = src->u.value;
    }
    lwt__release(s->input);
    s->input = NULL;
    if (--m->pending == 0) {
        m->done = true;
        struct lwt *outer = lwt__underlying(&m->n.p);
        if (outer->state == LWT__PENDING) {
            if (m->first_rejected)
                lwt__settle_like(outer, m->first_rejected, NULL);
            else
                lwt__fulfil(outer, m->values);
        }
        lwt__release(m->first_rejected);
        m->first_rejected = NULL;
    }
    lwt__release(&m->n.p);
}

lwt_t *lwt__all(const char *file, int line, lwt_t *const *ps, size_t n, void **values)
{
    struct lwt *first_rejected = NULL;
    size_t pending = 0;
    for (size_t i = 0; i < n; i++) {
        struct lwt *u = lwt__underlying(ps[i]);
        if (u->state == LWT__PENDING)
            pending++;
        else if (u->state == LWT__REJECTED && !first_rejected)
            first_rejected = u;
        else if (u->state == LWT__FULFILLED && values)
            values[i] = u->u.value;
    }
    if (pending == 0) {
        lwt_t *r = first_rejected ? lwt_ref(first_rejected) : lwt__return(file, line, values);
        release_inputs(ps, n);
        return r;
    }
    struct multi *m = multi_new(file, line, M_JOIN, n, values);
    if (first_rejected)
        m->first_rejected = lwt_ref(first_rejected);
    for (size_t i = 0; i < n; i++) {
        if (lwt__underlying(ps[i])->state == LWT__PENDING) {
            register_slot(m, i, ps[i], join_fire);
        } else {
            register_slot(m, i, NULL, join_fire);
            lwt__release(ps[i]);
        }
    }
    return &m->n.p;
}

lwt_t *lwt__join(const char *file, int line, lwt_t *const *ps, size_t n)
{
    return lwt__all(file, line, ps, n, NULL);
}

lwt_t *lwt__both(const char *file, int line, lwt_t *p1, lwt_t *p2, void **values)
{
    lwt_t *ps[2] = {p1, p2};
    return lwt__all(file, line, ps, 2, values);
}

/* ---- choose, pick, nchoose, npick ------------------------------------- */

/* The first input has settled: silence the other registrations. */
static void kill_others(struct multi *m, struct multi_slot *winner)
{
    for (size_t i = 0; i < m->count; i++) {
        struct multi_slot *s = &m->slots[i];
        /* The winner's registration still holds m: no need to check for
         * zero when dropping the others'. */
        if (s != winner && s->input && lwt__kill_cb(lwt__underlying(s->input), &s->cb, lwt__multi_dead_fire))
            m->n.p.rc--;
    }
}

/* nchoose's answer once something has settled: the first rejection in list
 * order (returned with a reference), else NULL with the fulfilled values
 * stored in list order and counted in *k. */
static struct lwt *nchoose_collect(struct multi *m, size_t *k)
{
    *k = 0;
    for (size_t i = 0; i < m->count; i++) {
        struct lwt *u = lwt__underlying(m->slots[i].input);
        if (u->state == LWT__REJECTED)
            return lwt_ref(u);
        if (u->state == LWT__FULFILLED)
            m->values[(*k)++] = u->u.value;
    }
    return NULL;
}

static void choose_fire(struct lwt_hook *cb, struct lwt *src)
{
    struct multi_slot *s = LWT__CONTAINER(cb, struct multi_slot, cb);
    struct multi *m = s->owner;
    kill_others(m, s);
    /* As in Lwt: nchoose collects what has settled before the others are
     * cancelled, and pick/npick cancel them before the result settles, so
     * the result's callbacks see the losers cancelled. */
    struct lwt *rejected = NULL;
    size_t k = 0;
    if (m->kind == M_NCHOOSE)
        rejected = nchoose_collect(m, &k);
    if (m->cancel_others)
        for (size_t i = 0; i < m->count; i++)
            if (&m->slots[i] != s)
                lwt_cancel(m->slots[i].input); /* no-op once settled */
    struct lwt *outer = lwt__underlying(&m->n.p);
    if (outer->state == LWT__PENDING) {
        if (m->kind == M_CHOOSE)
            lwt__settle_like(outer, src, NULL);
        else if (rejected)
            lwt__settle_like(outer, rejected, NULL);
        else
            lwt__fulfil(outer, LWT_INT(k));
    }
    lwt__release(rejected);
    multi_finish_inputs(m);
    lwt__release(&m->n.p);
}

static lwt_t *choose_pending(const char *file, int line, uint8_t kind, lwt_t *const *ps, size_t n, void **values,
                             bool cancel_others)
{
    struct multi *m = multi_new(file, line, kind, n, values);
    m->cancel_others = cancel_others;
    for (size_t i = 0; i < n; i++)
        register_slot(m, i, ps[i], choose_fire);
    return &m->n.p;
}

lwt_t *lwt__choose(const char *file, int line, lwt_t *const *ps, size_t n, bool cancel_others)
{
    if (n == 0)
        lwt__panic("lwt_choose/lwt_pick on no promises would never settle");
    size_t fulfilled = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        struct lwt *u = lwt__underlying(ps[i]);
        fulfilled += u->state == LWT__FULFILLED;
        rejected += u->state == LWT__REJECTED;
    }
    if (fulfilled + rejected == 0)
        return choose_pending(file, line, M_CHOOSE, ps, n, NULL, cancel_others);
    /* Several already settled: one at random, rejected ones first (Lwt). */
    uint8_t want = rejected ? LWT__REJECTED : LWT__FULFILLED;
    size_t pick = random_below(rejected ? rejected : fulfilled);
    lwt_t *chosen = NULL;
    for (size_t i = 0; i < n && !chosen; i++)
        if (lwt__underlying(ps[i])->state == want && pick-- == 0)
            chosen = lwt_ref(ps[i]);
    if (cancel_others)
        cancel_pending_inputs(ps, n);
    release_inputs(ps, n);
    return chosen;
}

lwt_t *lwt__nchoose(const char *file, int line, lwt_t *const *ps, size_t n, void **values, bool cancel_others)
{
    if (n == 0)
        lwt__panic("lwt_nchoose/lwt_npick on no promises would never settle");
    size_t k = 0;
    lwt_t *result = NULL;
    for (size_t i = 0; i < n && !result; i++) {
        struct lwt *u = lwt__underlying(ps[i]);
        if (u->state == LWT__REJECTED)
            result = lwt_ref(u);
        else if (u->state == LWT__FULFILLED)
            values[k++] = u->u.value;
    }
    if (!result && k == 0)
        return choose_pending(file, line, M_NCHOOSE, ps, n, values, cancel_others);
    if (!result)
        result = lwt__return(file, line, LWT_INT(k));
    if (cancel_others)
        cancel_pending_inputs(ps, n);
    release_inputs(ps, n);
    return result;
}
