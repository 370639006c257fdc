/* Cancellation: lwt_cancel, lwt_protected, lwt_no_cancel, lwt_on_cancel.
 *
 * Expected behaviour follows Lwt 5's cancel: a backwards walk from the
 * cancelled promise through bind/join/choose to the tasks at the roots,
 * which are all rejected with -LWT_ECANCELED first; their callbacks then run,
 * most recently found first, on_cancel callbacks ahead of the others. A bind
 * whose callback has returned a pending promise cancels the way that promise
 * does (Lwt's make_into_proxy). Tests drain the deferred queue before looking
 * at dependent promises so that they also hold with every callback deferred.
 */
#include "test_support.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------ */

/* What callbacks saw, in order: one character per call. */
static char trail[128];
static size_t trail_len;

static void trail_reset(void)
{
    trail_len = 0;
    trail[0] = '\0';
}

static void trail_add(char c)
{
    if (trail_len + 1 < sizeof trail) {
        trail[trail_len++] = c;
        trail[trail_len] = '\0';
    }
}

struct mark {
    char c;
};

static void mark_unit(void *ctx)
{
    trail_add(((struct mark *)ctx)->c);
}

static void mark_err(int err, void *ctx)
{
    (void)err;
    trail_add(((struct mark *)ctx)->c);
}

static void mark_val(void *v, void *ctx)
{
    (void)v;
    trail_add(((struct mark *)ctx)->c);
}

static void on_cancel_mark(lwt_t *p, char c)
{
    struct mark m = {c};
    lwt_on_cancel(p, mark_unit, LWT_CTX(m));
}

/* Counts calls through an int pointer carried in the context. */
struct counter {
    int *n;
};

static void count_unit(void *ctx)
{
    (*((struct counter *)ctx)->n)++;
}

static void count_val(void *v, void *ctx)
{
    (void)v;
    (*((struct counter *)ctx)->n)++;
}

static void count_err(int err, void *ctx)
{
    (void)err;
    (*((struct counter *)ctx)->n)++;
}

/* Continuations that cancellation must prevent from running. */
static int unexpected_calls;

static lwt_t *not_called(void *v, void *ctx)
{
    (void)ctx;
    unexpected_calls++;
    return lwt_return(v);
}

static void *not_called_map(void *v, void *ctx)
{
    (void)ctx;
    unexpected_calls++;
    return v;
}

static void *identity(void *v, void *ctx)
{
    (void)ctx;
    return v;
}

/* A catch handler that records the error and recovers with 99. */
struct seen_err {
    int *err;
};

static lwt_t *record_err(int err, void *ctx)
{
    *((struct seen_err *)ctx)->err = err;
    return lwt_return(LWT_INT(99));
}

/* Bind callbacks that return a pending promise, handing its resolver (and a
 * reference to it, for inspection) to the test. */
struct stash {
    lwt_resolver_t **r;
    lwt_t **t;
};

static lwt_t *return_task(void *v, void *ctx)
{
    (void)v;
    struct stash *s = ctx;
    lwt_t *t = lwt_task(s->r);
    *s->t = lwt_ref(t);
    return t;
}

static lwt_t *return_wait(void *v, void *ctx)
{
    (void)v;
    struct stash *s = ctx;
    lwt_t *w = lwt_wait(s->r);
    *s->t = lwt_ref(w);
    return w;
}

static lwt_t *return_bind_on_task(void *v, void *ctx)
{
    (void)v;
    struct stash *s = ctx;
    lwt_t *t = lwt_task(s->r);
    *s->t = lwt_ref(t);
    return lwt_bind(t, not_called, LWT_NOCTX);
}

static lwt_t *return_protected_task(void *v, void *ctx)
{
    (void)v;
    struct stash *s = ctx;
    lwt_t *t = lwt_task(s->r);
    *s->t = lwt_ref(t);
    return lwt_protected(t);
}

static lwt_t *catch_return_task(int err, void *ctx)
{
    (void)err;
    return return_task(NULL, ctx);
}

/* Returns a join of two fresh tasks. */
struct stash2 {
    lwt_resolver_t **r; /* two */
    lwt_t **t;          /* two */
};

static lwt_t *return_join_of_tasks(void *v, void *ctx)
{
    (void)v;
    struct stash2 *s = ctx;
    lwt_t *ps[2];
    for (int i = 0; i < 2; i++) {
        s->t[i] = lwt_task(&s->r[i]);
        ps[i] = lwt_ref(s->t[i]);
    }
    return lwt_join(ps, 2);
}

/* ---- Basic cancel ------------------------------------------------------- */

static void cancel_task_rejects_ecanceled(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_cancel(t);
    drain();
    assert_rejected(t);
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
}

static void cancel_task_runs_its_failure_callbacks(void **state)
{
    (void)state;
    int errors = 0;
    int err = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    struct counter c = {&errors};
    lwt_on_failure(t, count_err, LWT_CTX(c));
    struct seen_err s = {&err};
    lwt_t *handled = lwt_catch(lwt_ref(t), record_err, LWT_CTX(s));
    lwt_cancel(t);
    drain();
    assert_int_equal(errors, 1);
    assert_int_equal(err, -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(handled)), 99);
    lwt_wakeup(r, NULL);
    lwt_unref(handled);
    lwt_unref(t);
}

static void cancel_wait_does_nothing(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *w = lwt_wait(&r);
    lwt_cancel(w);
    drain();
    assert_pending(w);
    lwt_wakeup(r, LWT_INT(3));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(w)), 3);
    lwt_unref(w);
}

static void cancel_settled_is_noop(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_t *ok = lwt_return(LWT_INT(1));
    lwt_t *bad = lwt_fail(LWT_EIO);
    lwt_t *nul = lwt_return(NULL);
    lwt_resolver_t *r;
    lwt_t *done = lwt_task(&r);
    lwt_on_cancel(done, count_unit, LWT_CTX(c));
    lwt_wakeup(r, LWT_INT(2));
    drain();
    lwt_cancel(ok);
    lwt_cancel(bad);
    lwt_cancel(nul);
    lwt_cancel(done);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(ok)), 1);
    assert_int_equal(lwt_error(bad), -LWT_EIO);
    assert_fulfilled(nul);
    assert_int_equal(LWT_TO_INT(lwt_value(done)), 2);
    assert_int_equal(cancels, 0);
    lwt_unref(ok);
    lwt_unref(bad);
    lwt_unref(nul);
    lwt_unref(done);
}

static void cancel_twice_is_noop(void **state)
{
    (void)state;
    int errors = 0;
    struct counter c = {&errors};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_failure(t, count_err, LWT_CTX(c));
    lwt_cancel(t);
    drain();
    lwt_cancel(t);
    drain();
    assert_int_equal(errors, 1);
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    lwt_resolver_drop(r);
    lwt_unref(t);
}

static void wakeup_after_cancel_is_noop(void **state)
{
    (void)state;
    int calls = 0;
    struct counter c = {&calls};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_any(t, count_val, count_err, LWT_CTX(c));
    lwt_cancel(t);
    drain();
    lwt_wakeup(r, LWT_INT(5));
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_null(lwt_value(t));
    assert_int_equal(calls, 1);
    lwt_unref(t);
}

static void wakeup_fail_after_cancel_is_noop(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_cancel(t);
    drain();
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    lwt_unref(t);
}

static void resolver_drop_after_cancel_keeps_ecanceled(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_cancel(t);
    drain();
    lwt_resolver_drop(r);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    lwt_unref(t);
}

#ifndef LWT_DEFER_ALL
static void cancel_settles_dependents_before_returning(void **state)
{
    (void)state;
    /* Lwt's cancel runs the cancelled tasks' callbacks on the spot: with
     * inline callbacks the dependents are settled when it returns. */
    int err = 0;
    struct seen_err s = {&err};
    lwt_resolver_t *r;
    lwt_t *p = lwt_catch(lwt_map(lwt_task(&r), identity, LWT_NOCTX), record_err, LWT_CTX(s));
    lwt_cancel(p);
    assert_int_equal(err, -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 99);
    lwt_wakeup(r, NULL);
    lwt_unref(p);
}
#endif

/* ---- Propagation backwards ---------------------------------------------- */

static void cancel_propagates_through_bind(void **state)
{
    (void)state;
    unexpected_calls = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_bind(lwt_ref(t), not_called, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(unexpected_calls, 0);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static void cancel_propagates_through_bind_chain(void **state)
{
    (void)state;
    unexpected_calls = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_ref(t);
    for (int i = 0; i < 5; i++)
        p = lwt_bind(p, not_called, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(unexpected_calls, 0);
    lwt_resolver_drop(r);
    lwt_unref(t);
    lwt_unref(p);
}

static void cancel_propagates_through_map(void **state)
{
    (void)state;
    unexpected_calls = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_map(lwt_ref(t), not_called_map, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(unexpected_calls, 0);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static void cancel_propagates_through_catch_which_sees_ecanceled(void **state)
{
    (void)state;
    int err = 0;
    struct seen_err s = {&err};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_catch(lwt_map(lwt_ref(t), identity, LWT_NOCTX), record_err, LWT_CTX(s));
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(err, -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 99);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static void cancel_propagates_through_try_bind(void **state)
{
    (void)state;
    unexpected_calls = 0;
    int err = 0;
    struct seen_err s = {&err};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_try_bind(lwt_ref(t), not_called, record_err, LWT_CTX(s));
    lwt_cancel(p);
    drain();
    assert_int_equal(err, -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 99);
    assert_int_equal(unexpected_calls, 0);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static int fin_calls;

static lwt_t *count_fin(void *ctx)
{
    (void)ctx;
    fin_calls++;
    return lwt_return(NULL);
}

static void cancel_propagates_through_finalize(void **state)
{
    (void)state;
    fin_calls = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_finalize(lwt_ref(t), count_fin, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(fin_calls, 1);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static lwt_resolver_t *cleanup_resolver;

static lwt_t *pending_cleanup(void *ctx)
{
    (void)ctx;
    return lwt_task(&cleanup_resolver);
}

static void cancel_reaches_pending_finalize_cleanup(void **state)
{
    (void)state;
    cleanup_resolver = NULL;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_task(&r), pending_cleanup, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(5));
    drain();
    assert_non_null(cleanup_resolver);
    assert_pending(p);
    lwt_t *cleanup = lwt_ref(lwt_resolver_promise(cleanup_resolver));
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(cleanup), -LWT_ECANCELED);
    /* The cleanup's rejection wins over the source's value. */
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_wakeup(cleanup_resolver, NULL);
    lwt_unref(cleanup);
    lwt_unref(p);
}

static void cancel_bind_on_wait_does_nothing(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_map(lwt_wait(&r), identity, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(8));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 8);
    lwt_unref(p);
}

static void cancel_shared_task_cancels_all_dependents(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *a = lwt_map(lwt_ref(t), identity, LWT_NOCTX);
    lwt_t *b = lwt_map(lwt_ref(t), identity, LWT_NOCTX);
    lwt_cancel(a);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(a);
    lwt_unref(b);
}

static void cancel_reaches_a_task_once_through_two_paths(void **state)
{
    (void)state;
    int cancels = 0, failures = 0;
    struct counter cc = {&cancels}, cf = {&failures};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_cancel(t, count_unit, LWT_CTX(cc));
    lwt_on_failure(t, count_err, LWT_CTX(cf));
    lwt_t *ps[2] = {lwt_map(lwt_ref(t), identity, LWT_NOCTX), lwt_map(lwt_ref(t), identity, LWT_NOCTX)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_int_equal(cancels, 1);
    assert_int_equal(failures, 1);
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(j);
}

/* ---- Through the concurrent combinators --------------------------------- */

static void cancel_join_cancels_every_input(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    lwt_t *ps[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lwt_task(&r[i]);
        ps[i] = i == 1 ? lwt_map(lwt_ref(t[i]), identity, LWT_NOCTX) : lwt_ref(t[i]);
    }
    lwt_t *j = lwt_join(ps, 3);
    lwt_cancel(j);
    drain();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lwt_error(t[i]), -LWT_ECANCELED);
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_unref(j);
}

static void cancel_join_waits_for_non_cancelable_input(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *t = lwt_task(&r[0]);
    lwt_t *ps[2] = {lwt_ref(t), lwt_wait(&r[1])};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    /* join still waits for every input before it settles. */
    assert_pending(j);
    lwt_wakeup(r[1], LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_unref(t);
    lwt_unref(j);
}

static void cancel_join_skips_settled_inputs(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    lwt_cancel(j);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 1);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_resolver_drop(r[1]);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(j);
}

static void cancel_choose_cancels_every_input(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *c = lwt_choose(ps, 2);
    lwt_cancel(c);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_int_equal(lwt_error(c), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(c);
}

static void cancel_choose_with_a_wait_input(void **state)
{
    (void)state;
    /* The task's cancellation settles the choose; the wait input is left
     * pending. */
    lwt_resolver_t *r[2];
    lwt_t *w = lwt_wait(&r[1]);
    lwt_t *ps[2] = {lwt_ref(w), lwt_task(&r[0])};
    lwt_t *c = lwt_choose(ps, 2);
    lwt_cancel(c);
    drain();
    assert_int_equal(lwt_error(c), -LWT_ECANCELED);
    assert_pending(w);
    lwt_wakeup(r[1], NULL);
    lwt_wakeup(r[0], NULL);
    drain();
    assert_int_equal(lwt_error(c), -LWT_ECANCELED);
    lwt_unref(w);
    lwt_unref(c);
}

static void cancel_pick_and_nchoose_reach_inputs(void **state)
{
    (void)state;
    void *values[2];
    lwt_resolver_t *r[4];
    lwt_t *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lwt_task(&r[i]);
    lwt_t *ps1[2] = {lwt_ref(t[0]), lwt_ref(t[1])};
    lwt_t *pk = lwt_pick(ps1, 2);
    lwt_t *ps2[2] = {lwt_ref(t[2]), lwt_ref(t[3])};
    lwt_t *nc = lwt_nchoose(ps2, 2, values);
    lwt_cancel(pk);
    lwt_cancel(nc);
    drain();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(lwt_error(t[i]), -LWT_ECANCELED);
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    assert_int_equal(lwt_error(pk), -LWT_ECANCELED);
    assert_int_equal(lwt_error(nc), -LWT_ECANCELED);
    lwt_unref(pk);
    lwt_unref(nc);
}

static void cancel_join_of_100k_tasks(void **state)
{
    (void)state;
    /* More inputs than the walk's inline work array holds. */
    size_t n = test_scale(100000, 10000);
    lwt_resolver_t **r = malloc(n * sizeof *r);
    lwt_t **t = malloc(n * sizeof *t);
    lwt_t **ps = malloc(n * sizeof *ps);
    assert_non_null(r);
    assert_non_null(t);
    assert_non_null(ps);
    for (size_t i = 0; i < n; i++) {
        t[i] = lwt_task(&r[i]);
        ps[i] = lwt_ref(t[i]);
    }
    lwt_t *j = lwt_join(ps, n);
    lwt_cancel(j);
    drain();
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lwt_error(t[i]), -LWT_ECANCELED);
        lwt_resolver_drop(r[i]);
        lwt_unref(t[i]);
    }
    lwt_unref(j);
    free(r);
    free(t);
    free(ps);
}

/* ---- After the bind's callback returned a promise ----------------------- */

static void cancel_after_bind_returned_task_cancels_it(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *inner = NULL;
    struct stash s = {&r1, &inner};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_task, LWT_CTX(s));
    lwt_wakeup(r0, NULL);
    drain();
    assert_non_null(inner);
    assert_pending(p);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(lwt_error(inner), -LWT_ECANCELED);
    /* The inner task was cancelled: waking it does nothing. */
    lwt_wakeup(r1, LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(inner);
    lwt_unref(p);
}

static void cancel_after_bind_returned_task_runs_its_on_cancel(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *inner = NULL;
    struct stash s = {&r1, &inner};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_task, LWT_CTX(s));
    lwt_on_cancel(p, count_unit, LWT_CTX(c));
    lwt_wakeup(r0, NULL);
    drain();
    lwt_on_cancel(inner, count_unit, LWT_CTX(c));
    lwt_cancel(p);
    drain();
    assert_int_equal(cancels, 2);
    lwt_resolver_drop(r1);
    lwt_unref(inner);
    lwt_unref(p);
}

static void cancel_after_bind_returned_join_cancels_its_inputs(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r[2];
    lwt_t *t[2] = {NULL, NULL};
    struct stash2 s = {r, t};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_join_of_tasks, LWT_CTX(s));
    lwt_wakeup(r0, NULL);
    drain();
    assert_non_null(t[0]);
    assert_pending(p);
    lwt_cancel(p);
    drain();
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lwt_error(t[i]), -LWT_ECANCELED);
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);
}

static void cancel_after_bind_returned_bind_reaches_its_task(void **state)
{
    (void)state;
    unexpected_calls = 0;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *t1 = NULL;
    struct stash s = {&r1, &t1};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_bind_on_task, LWT_CTX(s));
    lwt_wakeup(r0, NULL);
    drain();
    assert_non_null(t1);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t1), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(unexpected_calls, 0);
    lwt_wakeup(r1, NULL);
    lwt_unref(t1);
    lwt_unref(p);
}

static void cancel_after_bind_returned_wait_does_nothing(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *w = NULL;
    struct stash s = {&r1, &w};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_wait, LWT_CTX(s));
    lwt_wakeup(r0, NULL);
    drain();
    lwt_cancel(p);
    drain();
    assert_pending(p);
    lwt_wakeup(r1, LWT_INT(4));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 4);
    lwt_unref(w);
    lwt_unref(p);
}

static void cancel_after_bind_returned_protected_spares_the_task(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *t1 = NULL;
    struct stash s = {&r1, &t1};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_protected_task, LWT_CTX(s));
    lwt_wakeup(r0, NULL);
    drain();
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_pending(t1);
    lwt_wakeup(r1, LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t1)), 1);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(t1);
    lwt_unref(p);
}

static void cancel_after_catch_returned_task_cancels_it(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *inner = NULL;
    struct stash s = {&r1, &inner};
    lwt_t *p = lwt_catch(lwt_task(&r0), catch_return_task, LWT_CTX(s));
    lwt_wakeup_fail(r0, LWT_EIO);
    drain();
    assert_pending(p);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(inner), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_wakeup(r1, NULL);
    lwt_unref(inner);
    lwt_unref(p);
}

static void cancel_before_bind_callback_reaches_source(void **state)
{
    (void)state;
    lwt_resolver_t *r0, *r1 = NULL;
    lwt_t *inner = NULL;
    lwt_t *t0 = lwt_task(&r0);
    struct stash s = {&r1, &inner};
    lwt_t *p = lwt_bind(lwt_ref(t0), return_task, LWT_CTX(s));
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t0), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    /* The callback never ran, so it created nothing. */
    assert_null(inner);
    assert_null(r1);
    lwt_wakeup(r0, NULL);
    lwt_unref(t0);
    lwt_unref(p);
}

/* ---- protected and no_cancel -------------------------------------------- */

static void protected_cancel_rejects_only_itself(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *pp = lwt_protected(lwt_ref(t));
    lwt_cancel(pp);
    drain();
    assert_int_equal(lwt_error(pp), -LWT_ECANCELED);
    assert_pending(t);
    /* The underlying task can still be woken; the protected promise stays
     * cancelled. */
    lwt_wakeup(r, LWT_INT(5));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t)), 5);
    assert_int_equal(lwt_error(pp), -LWT_ECANCELED);
    lwt_unref(t);
    lwt_unref(pp);
}

static void protected_follows_its_source(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_protected(lwt_task(&r[0]));
    lwt_t *b = lwt_protected(lwt_wait(&r[1]));
    lwt_wakeup(r[0], LWT_INT(1));
    lwt_wakeup_fail(r[1], LWT_EIO);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 1);
    assert_int_equal(lwt_error(b), -LWT_EIO);
    lwt_unref(a);
    lwt_unref(b);
}

static void protected_stops_cancel_through_bind(void **state)
{
    (void)state;
    unexpected_calls = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_bind(lwt_protected(lwt_ref(t)), not_called, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_pending(t);
    assert_int_equal(unexpected_calls, 0);
    lwt_wakeup(r, NULL);
    drain();
    assert_fulfilled(t);
    assert_int_equal(unexpected_calls, 0);
    lwt_unref(t);
    lwt_unref(p);
}

static void protected_of_wait_is_cancelable(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *w = lwt_wait(&r);
    lwt_t *pp = lwt_protected(lwt_ref(w));
    lwt_cancel(pp);
    drain();
    assert_int_equal(lwt_error(pp), -LWT_ECANCELED);
    assert_pending(w);
    lwt_wakeup(r, NULL);
    drain();
    assert_fulfilled(w);
    lwt_unref(w);
    lwt_unref(pp);
}

static void protected_is_cancelled_with_its_source(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *pp = lwt_protected(lwt_ref(t));
    lwt_cancel(t);
    drain();
    assert_int_equal(lwt_error(pp), -LWT_ECANCELED);
    lwt_resolver_drop(r);
    lwt_unref(t);
    lwt_unref(pp);
}

static void protected_of_settled_keeps_its_state(void **state)
{
    (void)state;
    lwt_t *a = lwt_protected(lwt_return(LWT_INT(3)));
    lwt_t *b = lwt_protected(lwt_fail(LWT_EIO));
    lwt_cancel(a);
    lwt_cancel(b);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 3);
    assert_int_equal(lwt_error(b), -LWT_EIO);
    lwt_unref(a);
    lwt_unref(b);
}

static void protected_input_of_join_is_spared(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *kept = lwt_task(&r[0]);
    lwt_t *lost = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_protected(lwt_ref(kept)), lwt_ref(lost)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_pending(kept);
    assert_int_equal(lwt_error(lost), -LWT_ECANCELED);
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(kept);
    lwt_unref(lost);
    lwt_unref(j);
}

/* How many promises may be alive at most while dead registrations wait for
 * their sweep. */
#define SWEEP_BOUND 64

static void protected_cancelled_repeatedly_stays_bounded(void **state)
{
    (void)state;
    /* Lwt removes a cancelled protected promise's callback from its source,
     * so protecting a long-lived promise over and over (a shutdown signal
     * raced against work) does not grow the source's callback list. */
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_wait(&rl);
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        lwt_t *pp = lwt_protected(lwt_ref(longp));
        lwt_cancel(pp);
        drain();
        assert_int_equal(lwt_error(pp), -LWT_ECANCELED);
        lwt_unref(pp);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    lwt_wakeup(rl, NULL);
    drain();
    lwt_unref(longp);
}

static void pick_against_protected_signal_stays_bounded(void **state)
{
    (void)state;
    lwt_resolver_t *rl;
    lwt_t *signal = lwt_task(&rl);
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_protected(lwt_ref(signal)), lwt_task(&r)};
        lwt_t *p = lwt_pick(ps, 2);
        lwt_wakeup(r, LWT_INT(i + 1));
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(p)), i + 1);
        lwt_unref(p);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    /* pick only cancelled the protected copies, never the signal itself. */
    assert_pending(signal);
    lwt_wakeup(rl, NULL);
    drain();
    assert_fulfilled(signal);
    lwt_unref(signal);
}

/* Returns a task made before the bind ran (its on_cancel already set). */
struct given {
    lwt_t *t;
};

static lwt_t *return_given(void *v, void *ctx)
{
    (void)v;
    return lwt_ref(((struct given *)ctx)->t);
}

static void on_cancel_set_before_merge_runs_when_bind_cancelled(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r0, *r1;
    lwt_t *t1 = lwt_task(&r1);
    lwt_on_cancel(t1, count_unit, LWT_CTX(c));
    struct given g = {t1};
    lwt_t *p = lwt_bind(lwt_task(&r0), return_given, LWT_CTX(g));
    lwt_wakeup(r0, NULL);
    drain();
    assert_int_equal(cancels, 0);
    lwt_cancel(p);
    drain();
    assert_int_equal(cancels, 1);
    assert_int_equal(lwt_error(t1), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_wakeup(r1, NULL);
    lwt_unref(t1);
    lwt_unref(p);
}

static lwt_t *return_protected_given(void *v, void *ctx)
{
    (void)v;
    return lwt_protected(lwt_ref(((struct given *)ctx)->t));
}

static void protected_merged_into_bind_cancelled_repeatedly_stays_bounded(void **state)
{
    (void)state;
    /* The protected promise is adopted by the bind's result, which is what
     * gets cancelled; its registration on the source must still go. */
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_wait(&rl);
    struct given g = {longp};
    size_t base = lwt_live_count();
    for (int i = 0; i < 5000; i++) {
        lwt_resolver_t *r0;
        lwt_t *p = lwt_bind(lwt_task(&r0), return_protected_given, LWT_CTX(g));
        lwt_wakeup(r0, NULL);
        drain();
        assert_pending(p);
        lwt_cancel(p);
        drain();
        assert_int_equal(lwt_error(p), -LWT_ECANCELED);
        lwt_unref(p);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    assert_pending(longp);
    lwt_wakeup(rl, LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(longp)), 1);
    lwt_unref(longp);
}

static void protected_of_protected(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *inner = lwt_protected(lwt_ref(t));
    lwt_t *outer = lwt_protected(lwt_ref(inner));
    lwt_cancel(outer);
    drain();
    assert_int_equal(lwt_error(outer), -LWT_ECANCELED);
    assert_pending(inner);
    assert_pending(t);
    lwt_wakeup(r, LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(inner)), 2);
    assert_int_equal(lwt_error(outer), -LWT_ECANCELED);
    lwt_unref(t);
    lwt_unref(inner);
    lwt_unref(outer);
}

static void no_cancel_ignores_cancel(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *nc = lwt_no_cancel(lwt_ref(t));
    lwt_cancel(nc);
    drain();
    assert_pending(nc);
    assert_pending(t);
    lwt_wakeup(r, LWT_INT(6));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(nc)), 6);
    lwt_unref(t);
    lwt_unref(nc);
}

static void no_cancel_follows_cancelled_source(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *nc = lwt_no_cancel(lwt_ref(t));
    lwt_cancel(t);
    drain();
    assert_int_equal(lwt_error(nc), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(nc);
}

static void no_cancel_shields_through_bind(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_map(lwt_no_cancel(lwt_ref(t)), identity, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_pending(p);
    assert_pending(t);
    lwt_wakeup(r, LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    lwt_unref(t);
    lwt_unref(p);
}

static void no_cancel_input_of_join_is_spared(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *kept = lwt_task(&r[0]);
    lwt_t *lost = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_no_cancel(lwt_ref(kept)), lwt_ref(lost)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_pending(kept);
    assert_int_equal(lwt_error(lost), -LWT_ECANCELED);
    /* The shielded input is still pending, so the join waits for it. */
    assert_pending(j);
    lwt_wakeup(r[0], NULL);
    drain();
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_wakeup(r[1], NULL);
    lwt_unref(kept);
    lwt_unref(lost);
    lwt_unref(j);
}

static void no_cancel_of_settled_keeps_its_state(void **state)
{
    (void)state;
    lwt_t *a = lwt_no_cancel(lwt_return(LWT_INT(3)));
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 3);
    lwt_unref(a);
}

/* ---- on_cancel ---------------------------------------------------------- */

static void on_cancel_runs_on_cancel(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    drain();
    assert_int_equal(cancels, 0);
    lwt_cancel(t);
    drain();
    assert_int_equal(cancels, 1);
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(cancels, 1);
    lwt_unref(t);
}

static void on_cancel_every_registration_runs_once(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    for (int i = 0; i < 3; i++)
        lwt_on_cancel(t, count_unit, LWT_CTX(c));
    lwt_cancel(t);
    drain();
    lwt_cancel(t);
    drain();
    assert_int_equal(cancels, 3);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
}

#ifndef LWT_DEFER_ALL
static void on_cancel_runs_at_once_if_already_cancelled(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_cancel(t);
    drain();
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    /* No drain: it ran inside lwt_on_cancel. */
    assert_int_equal(cancels, 1);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
}
#endif

static void on_cancel_on_cancelled_promise_runs(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_cancel(t);
    drain();
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    drain();
    assert_int_equal(cancels, 1);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
}

static void on_cancel_not_run_on_fulfilment(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    lwt_wakeup(r, LWT_INT(1));
    drain();
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    lwt_cancel(t);
    drain();
    assert_int_equal(cancels, 0);
    lwt_unref(t);
}

static void on_cancel_not_run_on_other_rejection(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    lwt_on_cancel(t, count_unit, LWT_CTX(c));
    lwt_t *f = lwt_fail(LWT_ETIMEDOUT);
    lwt_on_cancel(f, count_unit, LWT_CTX(c));
    drain();
    assert_int_equal(cancels, 0);
    lwt_unref(t);
    lwt_unref(f);
}

static void on_cancel_runs_on_manual_ecanceled_rejection(void **state)
{
    (void)state;
    /* As in Lwt: on_cancel is about the promise ending up cancelled, not
     * about how. */
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *w = lwt_wait(&r);
    lwt_on_cancel(w, count_unit, LWT_CTX(c));
    lwt_wakeup_fail(r, LWT_ECANCELED);
    drain();
    assert_int_equal(cancels, 1);
    lwt_t *f = lwt_fail(LWT_ECANCELED);
    lwt_on_cancel(f, count_unit, LWT_CTX(c));
    drain();
    assert_int_equal(cancels, 2);
    lwt_unref(w);
    lwt_unref(f);
}

static void on_cancel_runs_before_other_callbacks(void **state)
{
    (void)state;
    trail_reset();
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    struct mark f = {'f'}, a = {'a'}, o = {'o'};
    lwt_on_failure(t, mark_err, LWT_CTX(f));
    lwt_on_any(t, mark_val, mark_err, LWT_CTX(a));
    on_cancel_mark(t, 'c');
    lwt_on_termination(t, mark_unit, LWT_CTX(o));
    on_cancel_mark(t, 'd');
    lwt_cancel(t);
    drain();
    assert_int_equal(trail_len, 5);
    /* Both on_cancel callbacks come first, whatever the registration order. */
    assert_non_null(strchr("cd", trail[0]));
    assert_non_null(strchr("cd", trail[1]));
    assert_true(trail[0] != trail[1]);
    for (size_t i = 2; i < 5; i++)
        assert_non_null(strchr("fao", trail[i]));
    lwt_wakeup(r, NULL);
    lwt_unref(t);
}

struct observe {
    lwt_t *p;
    int *state_seen;
};

static void observe_state(void *ctx)
{
    struct observe *o = ctx;
    *o->state_seen = (int)lwt_state(o->p);
}

static void on_cancel_runs_before_dependents_settle(void **state)
{
    (void)state;
    /* The bind registered on t is one of t's other callbacks: when the
     * on_cancel callback runs, the bind's result has not moved yet. */
    int seen = -1;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_map(lwt_ref(t), identity, LWT_NOCTX);
    struct observe o = {p, &seen};
    lwt_on_cancel(t, observe_state, LWT_CTX(o));
    lwt_cancel(p);
    drain();
    assert_int_equal(seen, LWT_PENDING);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
}

static void on_cancel_on_bind_result_runs(void **state)
{
    (void)state;
    int cancels = 0;
    struct counter c = {&cancels};
    lwt_resolver_t *r;
    lwt_t *p = lwt_map(lwt_task(&r), identity, LWT_NOCTX);
    lwt_on_cancel(p, count_unit, LWT_CTX(c));
    lwt_cancel(p);
    drain();
    assert_int_equal(cancels, 1);
    lwt_wakeup(r, NULL);
    lwt_unref(p);
}

/* ---- Order of the cancellation walk ------------------------------------- */

static void cancel_runs_callbacks_most_recently_found_first(void **state)
{
    (void)state;
    /* join [A (behind a map); join [B; C]; D]: Lwt's walk finds A, B, C, D
     * in that order and runs their callbacks in reverse. */
    trail_reset();
    lwt_resolver_t *r[4];
    lwt_t *t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = lwt_task(&r[i]);
        on_cancel_mark(t[i], (char)('A' + i));
    }
    lwt_t *inner[2] = {lwt_ref(t[1]), lwt_ref(t[2])};
    lwt_t *outer[3] = {lwt_map(lwt_ref(t[0]), identity, LWT_NOCTX), lwt_join(inner, 2), lwt_ref(t[3])};
    lwt_t *j = lwt_join(outer, 3);
    lwt_cancel(j);
    drain();
    assert_string_equal(trail, "DCBA");
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    for (int i = 0; i < 4; i++) {
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    lwt_unref(j);
}

static void cancel_order_through_choose_and_binds(void **state)
{
    (void)state;
    /* choose [map (join [A; B]); C]: found A, B, C; run C, B, A. */
    trail_reset();
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lwt_task(&r[i]);
        on_cancel_mark(t[i], (char)('A' + i));
    }
    lwt_t *ab[2] = {lwt_ref(t[0]), lwt_ref(t[1])};
    lwt_t *ps[2] = {lwt_map(lwt_join(ab, 2), identity, LWT_NOCTX), lwt_ref(t[2])};
    lwt_t *c = lwt_choose(ps, 2);
    lwt_cancel(c);
    drain();
    assert_string_equal(trail, "CBA");
    assert_int_equal(lwt_error(c), -LWT_ECANCELED);
    for (int i = 0; i < 3; i++) {
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    lwt_unref(c);
}

struct sibling {
    lwt_t *other;
    int *err_seen;
};

static void record_sibling_error(void *ctx)
{
    struct sibling *s = ctx;
    *s->err_seen = lwt_error(s->other);
}

static void cancel_settles_every_task_before_any_callback(void **state)
{
    (void)state;
    /* Each task's on_cancel looks at the other: whichever runs first must
     * already see its sibling cancelled. */
    int seen_by_a = 0, seen_by_b = 0;
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    struct sibling sa = {b, &seen_by_a}, sb = {a, &seen_by_b};
    lwt_on_cancel(a, record_sibling_error, LWT_CTX(sa));
    lwt_on_cancel(b, record_sibling_error, LWT_CTX(sb));
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_int_equal(seen_by_a, -LWT_ECANCELED);
    assert_int_equal(seen_by_b, -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(j);
}

/* ---- Cancelling from inside callbacks ----------------------------------- */

struct target {
    lwt_t *p;
};

static void cancel_target_unit(void *ctx)
{
    lwt_cancel(((struct target *)ctx)->p);
}

static void cancel_inside_on_cancel_callback(void **state)
{
    (void)state;
    trail_reset();
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *pb = lwt_map(lwt_ref(b), identity, LWT_NOCTX);
    struct target tg = {pb};
    lwt_on_cancel(a, cancel_target_unit, LWT_CTX(tg));
    on_cancel_mark(b, 'b');
    lwt_cancel(a);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_int_equal(lwt_error(pb), -LWT_ECANCELED);
    assert_string_equal(trail, "b");
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(pb);
}

static lwt_t *cancel_target_then_return(void *v, void *ctx)
{
    lwt_cancel(((struct target *)ctx)->p);
    return lwt_return(v);
}

static void cancel_inside_bind_callback(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *b = lwt_task(&r[1]);
    lwt_t *pb = lwt_map(lwt_ref(b), identity, LWT_NOCTX);
    struct target tg = {pb};
    lwt_t *pa = lwt_bind(lwt_task(&r[0]), cancel_target_then_return, LWT_CTX(tg));
    lwt_wakeup(r[0], LWT_INT(7));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(pa)), 7);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_int_equal(lwt_error(pb), -LWT_ECANCELED);
    lwt_wakeup(r[1], NULL);
    lwt_unref(b);
    lwt_unref(pb);
    lwt_unref(pa);
}

static lwt_t *cancel_target_in_handler(int err, void *ctx)
{
    lwt_cancel(((struct target *)ctx)->p);
    return lwt_fail(err);
}

static void cancel_cascades_through_catch_handlers(void **state)
{
    (void)state;
    /* Cancelling a makes its handler cancel b, whose handler cancels c. */
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = lwt_task(&r[i]);
    struct target to_c = {t[2]}, to_b = {t[1]};
    lwt_t *hb = lwt_catch(lwt_ref(t[1]), cancel_target_in_handler, LWT_CTX(to_c));
    lwt_t *ha = lwt_catch(lwt_ref(t[0]), cancel_target_in_handler, LWT_CTX(to_b));
    lwt_cancel(ha);
    drain();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lwt_error(t[i]), -LWT_ECANCELED);
        lwt_wakeup(r[i], NULL);
        lwt_unref(t[i]);
    }
    assert_int_equal(lwt_error(ha), -LWT_ECANCELED);
    assert_int_equal(lwt_error(hb), -LWT_ECANCELED);
    lwt_unref(ha);
    lwt_unref(hb);
}

static void cancel_same_promise_again_from_its_callbacks(void **state)
{
    (void)state;
    /* While the first cancel's callbacks run, cancelling the same join again
     * finds nothing left to cancel. */
    int cancels = 0, failures = 0;
    struct counter cc = {&cancels}, cf = {&failures};
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *j = lwt_join(ps, 2);
    struct target tg = {j};
    lwt_on_cancel(a, cancel_target_unit, LWT_CTX(tg));
    lwt_on_cancel(b, cancel_target_unit, LWT_CTX(tg));
    lwt_on_cancel(a, count_unit, LWT_CTX(cc));
    lwt_on_cancel(b, count_unit, LWT_CTX(cc));
    lwt_on_failure(j, count_err, LWT_CTX(cf));
    lwt_cancel(j);
    drain();
    assert_int_equal(cancels, 2);
    assert_int_equal(failures, 1);
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(j);
}

struct wake_other {
    lwt_resolver_t *r;
};

static void wake_other_unit(void *ctx)
{
    lwt_wakeup(((struct wake_other *)ctx)->r, LWT_INT(1));
}

static void wakeup_of_sibling_from_on_cancel_is_noop(void **state)
{
    (void)state;
    /* Both tasks are cancelled before either's callbacks run, so waking the
     * other one from an on_cancel callback does nothing. */
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    struct wake_other wa = {r[1]}, wb = {r[0]};
    lwt_on_cancel(a, wake_other_unit, LWT_CTX(wa));
    lwt_on_cancel(b, wake_other_unit, LWT_CTX(wb));
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_cancel(j);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_int_equal(lwt_error(j), -LWT_ECANCELED);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(j);
}

/* ---- A deep dependency chain -------------------------------------------- */

static int deep_unexpected;

static lwt_t *deep_step(void *v, void *ctx)
{
    (void)ctx;
    deep_unexpected++;
    return lwt_return(v);
}

struct deep {
    size_t n;
    int ok;
};

static void *run_deep_cancel(void *arg)
{
    struct deep *d = arg;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_ref(t);
    for (size_t i = 0; i < d->n; i++)
        p = lwt_bind(p, deep_step, LWT_NOCTX);
    lwt_cancel(p);
    while (lwt_run_deferred(SIZE_MAX))
        ;
    d->ok = lwt_error(t) == -LWT_ECANCELED && lwt_error(p) == -LWT_ECANCELED && deep_unexpected == 0;
    lwt_wakeup(r, NULL);
    lwt_unref(t);
    lwt_unref(p);
    return NULL;
}

static void cancel_deep_bind_chain_on_small_stack(void **state)
{
    (void)state;
    /* The walk back to the task must not recurse per step: run it on a
     * 64 KiB stack, the size of a Xen stack. */
    deep_unexpected = 0;
    struct deep d = {test_scale(100000, 10000), 0};
    pthread_attr_t attr;
    pthread_t thread;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    assert_int_equal(pthread_create(&thread, &attr, run_deep_cancel, &d), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    pthread_attr_destroy(&attr);
    assert_true(d.ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(cancel_task_rejects_ecanceled),
        TEST(cancel_task_runs_its_failure_callbacks),
        TEST(cancel_wait_does_nothing),
        TEST(cancel_settled_is_noop),
        TEST(cancel_twice_is_noop),
        TEST(wakeup_after_cancel_is_noop),
        TEST(wakeup_fail_after_cancel_is_noop),
        TEST(resolver_drop_after_cancel_keeps_ecanceled),
#ifndef LWT_DEFER_ALL
        TEST(cancel_settles_dependents_before_returning),
#endif
        TEST(cancel_propagates_through_bind),
        TEST(cancel_propagates_through_bind_chain),
        TEST(cancel_propagates_through_map),
        TEST(cancel_propagates_through_catch_which_sees_ecanceled),
        TEST(cancel_propagates_through_try_bind),
        TEST(cancel_propagates_through_finalize),
        TEST(cancel_reaches_pending_finalize_cleanup),
        TEST(cancel_bind_on_wait_does_nothing),
        TEST(cancel_shared_task_cancels_all_dependents),
        TEST(cancel_reaches_a_task_once_through_two_paths),
        TEST(cancel_join_cancels_every_input),
        TEST(cancel_join_waits_for_non_cancelable_input),
        TEST(cancel_join_skips_settled_inputs),
        TEST(cancel_choose_cancels_every_input),
        TEST(cancel_choose_with_a_wait_input),
        TEST(cancel_pick_and_nchoose_reach_inputs),
        TEST(cancel_join_of_100k_tasks),
        TEST(cancel_after_bind_returned_task_cancels_it),
        TEST(cancel_after_bind_returned_task_runs_its_on_cancel),
        TEST(cancel_after_bind_returned_join_cancels_its_inputs),
        TEST(cancel_after_bind_returned_bind_reaches_its_task),
        TEST(cancel_after_bind_returned_wait_does_nothing),
        TEST(cancel_after_bind_returned_protected_spares_the_task),
        TEST(cancel_after_catch_returned_task_cancels_it),
        TEST(cancel_before_bind_callback_reaches_source),
        TEST(protected_cancel_rejects_only_itself),
        TEST(protected_follows_its_source),
        TEST(protected_stops_cancel_through_bind),
        TEST(protected_of_wait_is_cancelable),
        TEST(protected_is_cancelled_with_its_source),
        TEST(protected_of_settled_keeps_its_state),
        TEST(protected_input_of_join_is_spared),
        TEST(protected_cancelled_repeatedly_stays_bounded),
        TEST(pick_against_protected_signal_stays_bounded),
        TEST(protected_merged_into_bind_cancelled_repeatedly_stays_bounded),
        TEST(protected_of_protected),
        TEST(on_cancel_set_before_merge_runs_when_bind_cancelled),
        TEST(no_cancel_ignores_cancel),
        TEST(no_cancel_follows_cancelled_source),
        TEST(no_cancel_shields_through_bind),
        TEST(no_cancel_input_of_join_is_spared),
        TEST(no_cancel_of_settled_keeps_its_state),
        TEST(on_cancel_runs_on_cancel),
        TEST(on_cancel_every_registration_runs_once),
#ifndef LWT_DEFER_ALL
        TEST(on_cancel_runs_at_once_if_already_cancelled),
#endif
        TEST(on_cancel_on_cancelled_promise_runs),
        TEST(on_cancel_not_run_on_fulfilment),
        TEST(on_cancel_not_run_on_other_rejection),
        TEST(on_cancel_runs_on_manual_ecanceled_rejection),
        TEST(on_cancel_runs_before_other_callbacks),
        TEST(on_cancel_runs_before_dependents_settle),
        TEST(on_cancel_on_bind_result_runs),
        TEST(cancel_runs_callbacks_most_recently_found_first),
        TEST(cancel_order_through_choose_and_binds),
        TEST(cancel_settles_every_task_before_any_callback),
        TEST(cancel_inside_on_cancel_callback),
        TEST(cancel_inside_bind_callback),
        TEST(cancel_cascades_through_catch_handlers),
        TEST(cancel_same_promise_again_from_its_callbacks),
        TEST(wakeup_of_sibling_from_on_cancel_is_noop),
        TEST(cancel_deep_bind_chain_on_small_stack),
    };
    return RUN_TESTS(tests);
}
