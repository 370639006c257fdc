/* promise-stress: many promises, timers and cancellations, with output that
 * is the same on every platform, engine and machine speed (it is compared
 * with tests/apps/promise-stress.expected), and checked by the program
 * itself against what it computes on its own, so that a wrong expected file
 * cannot hide a bug. Phases, one after the other:
 *
 *  - timers: 100,000 sleeps in waves, with deadlines drawn by a fixed-seed
 *    generator from a few hundred 1 ms slots (so many share one), some
 *    cancelled at once; each firing must come in deadline order, ties in
 *    creation order (the timer heap's rule), and lwt_all must give each
 *    timer's value at its place;
 *  - races: pick, choose and sched_with_timeout between short and very long
 *    timers, whose winner therefore does not depend on speed; the losers
 *    are cancelled and must leave no timer behind;
 *  - mvar: 10,000 values through a two-stage mvar pipeline;
 *  - cancellations: mvar takers, a join of sleepers, a protected sleep.
 *
 * Between phases no timer may be left, and the number of live promises
 * must be what it was before the first one. Any failed check is printed
 * and rejects the main promise (-LWT_EIO). The state is one malloc'd
 * struct stress, owned by the main chain and freed when it settles.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "lwt_sync.h"
#include "scheduler.h"

#define WAVES         5
#define WAVE_TIMERS   20000 /* in the heap at once */
#define SLOTS         300
#define SLOT_NS       SCHED_NS_PER_MS
#define FAR_NS        (3600 * SCHED_NS_PER_S) /* never reached: only cancelled */
#define RACES         3000
#define RACE_MS       100
#define RACE_LOSER_NS (60 * SCHED_NS_PER_S)
#define MVAR_VALUES   10000
#define TAKERS        64
#define SLEEPERS      100
#define MAX_REPORTS   10 /* failed checks printed; the rest only counted */

/* ---- Checks, numbers ------------------------------------------------------ */

struct wave {
    lwt_t **ps;
    void **values;
    uint16_t *slot;  /* deadline: base + slot * SLOT_NS */
    uint8_t *cancel; /* 0 kept; 1 cancelled; 2 cancelled, far deadline */
    uint32_t *order; /* the kept timers in the order they must fire */
    size_t kept, next;
};

struct race {
    uint8_t kind;
    uint8_t outcome; /* 0 not yet; 1 the operation won; 2 timed out */
};

struct stress {
    const struct app_devices *dev;
    uint64_t rng;
    unsigned failures;
    size_t live_mark; /* live promises before the first phase */
    /* timers */
    struct wave wave;
    unsigned wave_no;
    size_t armed, cancelled, fired;
    uint64_t timer_sum, timer_expected;
    /* races */
    struct race *races;
    /* mvar */
    struct lwt_mvar a, b;
    uint64_t mvar_sum;
    /* cancellations */
    struct lwt_mvar box;
    lwt_t *takers[TAKERS];
    lwt_t *sleepers, *protected_sleep, *protector;
    unsigned on_cancel_runs;
};

static uint64_t next_rand(struct stress *st)
{
    st->rng = st->rng * 6364136223846793005ull + 1442695040888963407ull;
    return st->rng >> 16;
}

/* FNV-1a over 64-bit words: order-sensitive. */
#define SUM_INIT 0xcbf29ce484222325ull
static uint64_t mix(uint64_t h, uint64_t x)
{
    for (int i = 0; i < 8; i++, x >>= 8)
        h = (h ^ (x & 0xff)) * 0x100000001b3ull;
    return h;
}

static void say(struct stress *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct stress *st, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    app_print(st->dev, "promise-stress: %s", line);
}

/* Counts a failed check and prints the first few. */
static bool expect(struct stress *st, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool expect(struct stress *st, bool ok, const char *fmt, ...)
{
    if (ok)
        return true;
    if (st->failures++ < MAX_REPORTS) {
        char line[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        say(st, "check failed: %s", line);
    }
    return false;
}

static lwt_t *pause_then(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return sched_pause();
}

/* ---- Timers --------------------------------------------------------------- */

struct timer_ctx {
    struct stress *st;
    uint32_t i;
};

static void *timer_fired(void *v, void *ctx)
{
    (void)v;
    struct timer_ctx *t = ctx;
    struct stress *st = t->st;
    struct wave *w = &st->wave;
    expect(st, w->cancel[t->i] == 0, "cancelled timer %u of wave %u fired", t->i, st->wave_no);
    expect(st, w->next < w->kept && w->order[w->next] == t->i, "wave %u: timer %u fired as number %zu, expected %u",
           st->wave_no, t->i, w->next, w->next < w->kept ? w->order[w->next] : 0);
    w->next++;
    st->fired++;
    st->timer_sum = mix(st->timer_sum, (uint64_t)st->wave_no * WAVE_TIMERS + t->i);
    return LWT_INT(t->i + 1);
}

static lwt_t *timer_cancelled(int err, void *ctx)
{
    struct timer_ctx *t = ctx;
    expect(t->st, err == -LWT_ECANCELED, "timer %u: %s", t->i, lwt_strerror(err));
    return lwt_return(LWT_INT(-(intptr_t)t->i - 1));
}

static void wave_free(struct wave *w)
{
    free(w->ps);
    free(w->values);
    free(w->slot);
    free(w->cancel);
    free(w->order);
    *w = (struct wave){0};
}

/* The kept timers by slot, then by index: a counting sort, independent of
 * the heap; and their checksum. */
static void wave_expect(struct stress *st)
{
    struct wave *w = &st->wave;
    size_t start[SLOTS + 1] = {0};
    for (size_t i = 0; i < WAVE_TIMERS; i++)
        if (!w->cancel[i])
            start[w->slot[i] + 1]++;
    for (size_t s = 0; s < SLOTS; s++)
        start[s + 1] += start[s];
    w->kept = start[SLOTS];
    for (size_t i = 0; i < WAVE_TIMERS; i++)
        if (!w->cancel[i])
            w->order[start[w->slot[i]]++] = (uint32_t)i;
    for (size_t k = 0; k < w->kept; k++)
        st->timer_expected = mix(st->timer_expected, (uint64_t)st->wave_no * WAVE_TIMERS + w->order[k]);
}

static lwt_t *wave_done(void *v, void *ctx);

static lwt_t *wave_start(struct stress *st)
{
    struct wave *w = &st->wave;
    w->ps = malloc(WAVE_TIMERS * sizeof *w->ps);
    w->values = malloc(WAVE_TIMERS * sizeof *w->values);
    w->slot = malloc(WAVE_TIMERS * sizeof *w->slot);
    w->cancel = malloc(WAVE_TIMERS * sizeof *w->cancel);
    w->order = malloc(WAVE_TIMERS * sizeof *w->order);
    if (!w->ps || !w->values || !w->slot || !w->cancel || !w->order) {
        wave_free(w);
        return lwt_fail(LWT_ENOMEM);
    }
    for (size_t i = 0; i < WAVE_TIMERS; i++) {
        uint64_t r = next_rand(st);
        w->slot[i] = (uint16_t)(r % SLOTS);
        w->cancel[i] = (r >> 12) % 8 == 0 ? 1 + ((r >> 16) & 1) : 0;
    }
    wave_expect(st);
    w->next = 0;
    /* One base for the whole wave, so that equal slots are equal deadlines
     * however long arming takes. */
    uint64_t base = sched_now();
    for (uint32_t i = 0; i < WAVE_TIMERS; i++) {
        uint64_t deadline = base + w->slot[i] * SLOT_NS + (w->cancel[i] == 2 ? FAR_NS : 0);
        struct timer_ctx t = {st, i};
        lwt_t *p = lwt_map(sched_sleep_until(deadline), timer_fired, LWT_CTX(t));
        if (w->cancel[i]) {
            lwt_cancel(p);
            st->cancelled++;
        }
        w->ps[i] = lwt_catch(p, timer_cancelled, LWT_CTX(t));
    }
    st->armed += WAVE_TIMERS;
    lwt_t *all = lwt_all(w->ps, WAVE_TIMERS, w->values);
    return lwt_bind(all, wave_done, LWT_CTX(st));
}

static lwt_t *wave_done(void *v, void *ctx)
{
    (void)v;
    struct stress *st = *(struct stress **)ctx;
    struct wave *w = &st->wave;
    expect(st, w->next == w->kept, "wave %u: %zu of %zu timers fired", st->wave_no, w->next, w->kept);
    for (size_t i = 0; i < WAVE_TIMERS; i++) {
        intptr_t want = w->cancel[i] ? -(intptr_t)i - 1 : (intptr_t)i + 1;
        if (!expect(st, LWT_TO_INT(w->values[i]) == want, "wave %u: lwt_all gave %ld for timer %zu", st->wave_no,
                    (long)LWT_TO_INT(w->values[i]), i))
            break;
    }
    /* The cancelled far ones too: cancelling took them out of the heap. */
    expect(st, sched_timer_count() == 0, "wave %u: %zu timers left", st->wave_no, sched_timer_count());
    wave_free(w);
    if (++st->wave_no < WAVES)
        return wave_start(st);
    expect(st, st->timer_sum == st->timer_expected, "timers: checksum %016llx, expected %016llx",
           (unsigned long long)st->timer_sum, (unsigned long long)st->timer_expected);
    say(st, "timers: %zu armed, %zu cancelled, %zu fired in deadline order (ties in creation order), checksum %016llx",
        st->armed, st->cancelled, st->fired, (unsigned long long)st->timer_sum);
    return lwt_return(NULL);
}

static lwt_t *phase_timers(struct stress *st)
{
    st->timer_sum = st->timer_expected = SUM_INIT;
    return wave_start(st);
}

/* ---- Races ---------------------------------------------------------------- */

enum race_kind {
    RACE_PICK_OPERATION, /* pick: a short sleep against a long timeout */
    RACE_PICK_TIMEOUT,   /* pick: a short timeout against a far sleep */
    RACE_WITH_TIMEOUT,   /* sched_with_timeout of a far sleep */
    RACE_CHOOSE,         /* choose: a short sleep against a far one,
                            cancelled by hand afterwards */
    RACE_KINDS
};

struct race_ctx {
    struct stress *st;
    uint32_t r;
    lwt_t *loser; /* RACE_CHOOSE: the far sleep, ours to cancel */
};

static void *race_tag(void *v, void *ctx)
{
    (void)v;
    return LWT_INT(*(uint32_t *)ctx + 1);
}

static void race_end(struct race_ctx *c, uint8_t outcome)
{
    c->st->races[c->r].outcome = outcome;
    if (c->loser) {
        lwt_cancel(c->loser);
        lwt_unref(c->loser);
    }
}

static lwt_t *race_won(void *v, void *ctx)
{
    struct race_ctx *c = ctx;
    uint8_t kind = c->st->races[c->r].kind;
    expect(c->st, kind == RACE_PICK_OPERATION || kind == RACE_CHOOSE, "race %u (kind %u): the operation won", c->r,
           kind);
    expect(c->st, LWT_TO_INT(v) == (intptr_t)c->r + 1, "race %u: value %ld", c->r, (long)LWT_TO_INT(v));
    race_end(c, 1);
    return lwt_return(NULL);
}

static lwt_t *race_lost(int err, void *ctx)
{
    struct race_ctx *c = ctx;
    uint8_t kind = c->st->races[c->r].kind;
    expect(c->st, kind == RACE_PICK_TIMEOUT || kind == RACE_WITH_TIMEOUT, "race %u (kind %u): %s", c->r, kind,
           lwt_strerror(err));
    expect(c->st, err == -LWT_ETIMEDOUT, "race %u: %s", c->r, lwt_strerror(err));
    race_end(c, 2);
    return lwt_return(NULL);
}

static lwt_t *races_done(void *v, void *ctx)
{
    (void)v;
    struct stress *st = *(struct stress **)ctx;
    size_t count[RACE_KINDS] = {0};
    uint64_t sum = SUM_INIT;
    for (uint32_t r = 0; r < RACES; r++) {
        struct race *x = &st->races[r];
        uint8_t want = x->kind == RACE_PICK_OPERATION || x->kind == RACE_CHOOSE ? 1 : 2;
        expect(st, x->outcome == want, "race %u (kind %u): outcome %u", r, x->kind, x->outcome);
        count[x->kind]++;
        sum = mix(sum, (uint64_t)r << 8 | (uint64_t)x->kind << 4 | x->outcome);
    }
    free(st->races);
    st->races = NULL;
    say(st,
        "races: %u (pick: %zu won by the operation, %zu timed out; with_timeout: %zu timed out; choose: %zu), "
        "checksum %016llx",
        RACES, count[RACE_PICK_OPERATION], count[RACE_PICK_TIMEOUT], count[RACE_WITH_TIMEOUT], count[RACE_CHOOSE],
        (unsigned long long)sum);
    return lwt_return(NULL);
}

static lwt_t *phase_races(struct stress *st)
{
    st->races = malloc(RACES * sizeof *st->races);
    lwt_t **ps = malloc(RACES * sizeof *ps);
    if (!st->races || !ps) {
        free(st->races);
        st->races = NULL;
        free(ps);
        return lwt_fail(LWT_ENOMEM);
    }
    uint64_t base = sched_now();
    for (uint32_t r = 0; r < RACES; r++) {
        uint64_t x = next_rand(st);
        uint8_t kind = x % RACE_KINDS;
        uint64_t short_ns = (x >> 8) % RACE_MS * SCHED_NS_PER_MS;
        st->races[r] = (struct race){.kind = kind};
        struct race_ctx c = {st, r, NULL};
        lwt_t *two[2], *p;
        switch (kind) {
        case RACE_PICK_OPERATION:
            two[0] = lwt_map(sched_sleep_until(base + short_ns), race_tag, LWT_CTX(r));
            two[1] = sched_timeout(RACE_LOSER_NS);
            p = lwt_pick(two, 2);
            break;
        case RACE_PICK_TIMEOUT:
            two[0] = sched_sleep(FAR_NS);
            two[1] = sched_timeout(short_ns);
            p = lwt_pick(two, 2);
            break;
        case RACE_WITH_TIMEOUT:
            p = sched_with_timeout(sched_sleep(FAR_NS), short_ns);
            break;
        default:
            two[0] = lwt_map(sched_sleep_until(base + short_ns), race_tag, LWT_CTX(r));
            two[1] = sched_sleep(FAR_NS);
            c.loser = lwt_ref(two[1]);
            p = lwt_choose(two, 2);
            break;
        }
        ps[r] = lwt_try_bind(p, race_won, race_lost, LWT_CTX(c));
    }
    lwt_t *all = lwt_join(ps, RACES);
    free(ps);
    return lwt_bind(all, races_done, LWT_CTX(st));
}

/* ---- MVar pipeline -------------------------------------------------------- */

struct pipe_ctx {
    struct stress *st;
    uint32_t i; /* values done */
};

/* What the middle stage makes of value v. */
static intptr_t transform(intptr_t v)
{
    return v * v % 65521 + v;
}

static lwt_t *produce(void *v, void *ctx)
{
    (void)v;
    struct pipe_ctx c = *(struct pipe_ctx *)ctx;
    if (c.i == MVAR_VALUES)
        return lwt_return(NULL);
    lwt_t *put = lwt_mvar_put(&c.st->a, LWT_INT(c.i + 1));
    c.i++;
    return lwt_bind(put, produce, LWT_CTX(c));
}

static lwt_t *stage_take(void *v, void *ctx);

static lwt_t *stage_put(void *v, void *ctx)
{
    struct pipe_ctx c = *(struct pipe_ctx *)ctx;
    lwt_t *put = lwt_mvar_put(&c.st->b, LWT_INT(transform(LWT_TO_INT(v))));
    c.i++;
    return lwt_bind(put, stage_take, LWT_CTX(c));
}

static lwt_t *stage_take(void *v, void *ctx)
{
    (void)v;
    struct pipe_ctx *c = ctx;
    if (c->i == MVAR_VALUES)
        return lwt_return(NULL);
    return lwt_bind(lwt_mvar_take(&c->st->a), stage_put, ctx, sizeof *c);
}

static lwt_t *consume(void *v, void *ctx)
{
    struct pipe_ctx c = *(struct pipe_ctx *)ctx;
    if (c.i > 0) {
        /* The value the previous take gave. */
        intptr_t want = transform((intptr_t)c.i);
        expect(c.st, LWT_TO_INT(v) == want, "mvar: value %u is %ld, expected %ld", c.i, (long)LWT_TO_INT(v),
               (long)want);
        c.st->mvar_sum = mix(c.st->mvar_sum, (uint64_t)LWT_TO_INT(v));
    }
    if (c.i == MVAR_VALUES)
        return lwt_return(NULL);
    c.i++;
    return lwt_bind(lwt_mvar_take(&c.st->b), consume, LWT_CTX(c));
}

static lwt_t *mvar_done(void *v, void *ctx)
{
    (void)v;
    struct stress *st = *(struct stress **)ctx;
    uint64_t want = SUM_INIT;
    for (intptr_t i = 1; i <= MVAR_VALUES; i++)
        want = mix(want, (uint64_t)transform(i));
    expect(st, st->mvar_sum == want, "mvar: checksum %016llx, expected %016llx", (unsigned long long)st->mvar_sum,
           (unsigned long long)want);
    expect(st, lwt_mvar_is_empty(&st->a) && lwt_mvar_is_empty(&st->b), "mvar: a box is not empty");
    lwt_mvar_destroy(&st->a);
    lwt_mvar_destroy(&st->b);
    say(st, "mvar: %u values through 2 stages, checksum %016llx", MVAR_VALUES, (unsigned long long)st->mvar_sum);
    return lwt_return(NULL);
}

static lwt_t *phase_mvar(struct stress *st)
{
    lwt_mvar_init(&st->a);
    lwt_mvar_init(&st->b);
    st->mvar_sum = SUM_INIT;
    struct pipe_ctx c = {st, 0};
    /* The consumer and the stage wait first, the producer fills. */
    lwt_t *three[3] = {
        lwt_bind(lwt_return(NULL), consume, LWT_CTX(c)),
        lwt_bind(lwt_return(NULL), stage_take, LWT_CTX(c)),
        lwt_bind(lwt_return(NULL), produce, LWT_CTX(c)),
    };
    return lwt_bind(lwt_join(three, 3), mvar_done, LWT_CTX(st));
}

/* ---- Cancellations -------------------------------------------------------- */

static void count_on_cancel(void *ctx)
{
    (*(struct stress **)ctx)->on_cancel_runs++;
}

static lwt_t *cancel_done(void *v, void *ctx)
{
    (void)v;
    struct stress *st = *(struct stress **)ctx;
    unsigned served = 0, cancelled = 0;
    for (unsigned j = 0; j < TAKERS; j++) {
        lwt_t *t = st->takers[j];
        if (j % 2) {
            cancelled += lwt_error(t) == -LWT_ECANCELED;
        } else {
            /* Served in queue order, the cancelled ones skipped. */
            served += lwt_state(t) == LWT_FULFILLED && LWT_TO_INT(lwt_value(t)) == 1000 + j / 2;
        }
        lwt_unref(t);
        st->takers[j] = NULL;
    }
    expect(st, served == TAKERS / 2 && cancelled == TAKERS / 2, "takers: %u served, %u cancelled", served, cancelled);
    expect(st, st->on_cancel_runs == TAKERS / 2, "takers: on_cancel ran %u times", st->on_cancel_runs);
    expect(st, lwt_mvar_is_empty(&st->box), "takers: the box is not empty");
    lwt_mvar_destroy(&st->box);
    expect(st, lwt_error(st->sleepers) == -LWT_ECANCELED, "sleepers: the join is %s",
           lwt_strerror(lwt_error(st->sleepers)));
    expect(st, lwt_error(st->protector) == -LWT_ECANCELED, "protected: the wrapper is %s",
           lwt_strerror(lwt_error(st->protector)));
    expect(st, lwt_state(st->protected_sleep) == LWT_FULFILLED, "protected: the sleep did not complete");
    lwt_unref(st->sleepers);
    lwt_unref(st->protector);
    lwt_unref(st->protected_sleep);
    st->sleepers = st->protector = st->protected_sleep = NULL;
    say(st,
        "cancellations: %u of %u mvar takers (%u on_cancel callbacks), a join of %u sleepers, a protected sleep "
        "that completed",
        cancelled, TAKERS, st->on_cancel_runs, SLEEPERS);
    return lwt_return(NULL);
}

static lwt_t *phase_cancel(struct stress *st)
{
    /* Takers: every other one cancelled; the puts go to the rest. */
    lwt_mvar_init(&st->box);
    st->on_cancel_runs = 0;
    for (unsigned j = 0; j < TAKERS; j++) {
        st->takers[j] = lwt_mvar_take(&st->box);
        if (j % 2) {
            lwt_on_cancel(st->takers[j], count_on_cancel, LWT_CTX(st));
            lwt_cancel(st->takers[j]);
        }
    }
    lwt_t *puts[TAKERS / 2];
    for (unsigned k = 0; k < TAKERS / 2; k++)
        puts[k] = lwt_mvar_put(&st->box, LWT_INT(1000 + k));

    /* A join of far sleepers, cancelled as a whole. */
    lwt_t *sleepers[SLEEPERS];
    for (unsigned j = 0; j < SLEEPERS; j++)
        sleepers[j] = sched_sleep(FAR_NS);
    st->sleepers = lwt_join(sleepers, SLEEPERS);
    lwt_cancel(st->sleepers);

    /* A protected sleep: cancelling the wrapper leaves the sleep running. */
    st->protected_sleep = sched_sleep(5 * SCHED_NS_PER_MS);
    st->protector = lwt_protected(lwt_ref(st->protected_sleep));
    lwt_cancel(st->protector);

    lwt_t *wait[2] = {lwt_join(puts, TAKERS / 2), lwt_ref(st->protected_sleep)};
    /* A turn more, for cancellations' deferred callbacks. */
    return lwt_bind(lwt_bind(lwt_join(wait, 2), pause_then, LWT_NOCTX), cancel_done, LWT_CTX(st));
}

/* ---- The phases in turn --------------------------------------------------- */

typedef lwt_t *(*phase_fn)(struct stress *st);

static lwt_t *nothing(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return lwt_return(NULL);
}

/* Shaped like the other phases (a bind whose continuation ends it), so that
 * the chain back to run_next is the same after each. */
static lwt_t *phase_warm_up(struct stress *st)
{
    (void)st;
    return lwt_bind(sched_pause(), nothing, LWT_NOCTX);
}

/* Two warm-ups: the first run_next is the root's own continuation, the
 * others are those of steps merged into it, which the count sees too. */
static const struct {
    const char *name;
    phase_fn run;
} phases[] = {
    {"warm-up", phase_warm_up}, {"warm-up", phase_warm_up}, {"timers", phase_timers},
    {"races", phase_races},     {"mvar", phase_mvar},       {"cancellations", phase_cancel},
};
#define WARM_UPS 2
#define PHASES   (sizeof phases / sizeof phases[0])

struct runner {
    struct stress *st;
    unsigned next;
};

static lwt_t *finish(struct stress *st)
{
    say(st, "timers left: %zu", sched_timer_count());
    say(st, "live promises left behind by the phases: %ld", (long)lwt_live_count() - (long)st->live_mark);
    if (st->failures) {
        say(st, "FAILED: %u checks", st->failures);
        return lwt_fail(LWT_EIO);
    }
    say(st, "ok");
    return lwt_return(NULL);
}

/* Each phase ends a turn later (what cancellation defers has run by then),
 * back here in the same place of the chain: the live count must come back
 * to the same number every time. */
static lwt_t *run_next(void *v, void *ctx)
{
    (void)v;
    struct runner r = *(struct runner *)ctx;
    struct stress *st = r.st;
    size_t live = lwt_live_count();
    if (r.next == WARM_UPS)
        st->live_mark = live;
    else if (r.next > WARM_UPS)
        expect(st, live == st->live_mark, "after %s: %zu live promises, %zu before", phases[r.next - 1].name, live,
               st->live_mark);
    if (r.next > 0)
        expect(st, sched_timer_count() == 0, "after %s: %zu timers left", phases[r.next - 1].name, sched_timer_count());
    if (r.next == PHASES)
        return finish(st);
    lwt_t *p = phases[r.next++].run(st);
    return lwt_bind(lwt_bind(p, pause_then, LWT_NOCTX), run_next, LWT_CTX(r));
}

static lwt_t *release(void *ctx)
{
    free(*(struct stress **)ctx);
    return lwt_return(NULL);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct stress *st = malloc(sizeof *st);
    if (!st)
        return lwt_fail(LWT_ENOMEM);
    *st = (struct stress){.dev = dev, .rng = 20240229};
    struct runner r = {st, 0};
    lwt_t *run = lwt_bind(lwt_return(NULL), run_next, LWT_CTX(r));
    return lwt_finalize(run, release, LWT_CTX(st));
}
