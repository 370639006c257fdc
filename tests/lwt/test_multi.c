/* Concurrent composition: join, all, both, choose, pick, nchoose, npick.
 *
 * Expected behaviour follows Lwt 5: join waits for every input and reports
 * the first rejection (list order among inputs settled at call time, then
 * time order); choose takes a random settled input, rejected ones first;
 * pick and npick cancel the inputs that lost. Every test drains the deferred
 * queue before looking at a dependent promise, so it holds whether callbacks
 * run inline or are all deferred.
 */
#include "test_support.h"

#include <stdlib.h>

static void *identity(void *v, void *ctx)
{
    (void)ctx;
    return v;
}

/* ---- join --------------------------------------------------------------- */

static void join_empty_is_fulfilled(void **state)
{
    (void)state;
    lwt_t *j = lwt_join(NULL, 0);
    assert_fulfilled(j);
    assert_null(lwt_value(j));
    lwt_unref(j);
}

static void join_all_settled_is_fulfilled_at_once(void **state)
{
    (void)state;
    lwt_t *ps[3] = {lwt_return(LWT_INT(1)), lwt_return(NULL), lwt_return(LWT_INT(3))};
    lwt_t *j = lwt_join(ps, 3);
    /* Nothing to wait for: settled without any deferred work. */
    assert_fulfilled(j);
    assert_null(lwt_value(j));
    lwt_unref(j);
}

static void join_pending_waits_for_every_input(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *ps[3] = {lwt_wait(&r[0]), lwt_task(&r[1]), lwt_wait(&r[2])};
    lwt_t *j = lwt_join(ps, 3);
    assert_pending(j);
    lwt_wakeup(r[1], LWT_INT(1));
    drain();
    assert_pending(j);
    lwt_wakeup(r[2], LWT_INT(2));
    drain();
    assert_pending(j);
    lwt_wakeup(r[0], LWT_INT(3));
    drain();
    assert_fulfilled(j);
    assert_null(lwt_value(j));
    lwt_unref(j);
}

static void join_mixed_settled_and_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *ps[4] = {lwt_return(LWT_INT(1)), lwt_task(&r), lwt_return(NULL), lwt_return(LWT_INT(4))};
    lwt_t *j = lwt_join(ps, 4);
    drain();
    assert_pending(j);
    lwt_wakeup(r, LWT_INT(2));
    drain();
    assert_fulfilled(j);
    lwt_unref(j);
}

static void join_settled_rejections_first_in_list_order(void **state)
{
    (void)state;
    lwt_t *ps[4] = {lwt_return(LWT_INT(1)), lwt_fail(LWT_EIO), lwt_return(NULL), lwt_fail(LWT_EPIPE)};
    lwt_t *j = lwt_join(ps, 4);
    assert_rejected(j);
    assert_int_equal(lwt_error(j), -LWT_EIO);
    lwt_unref(j);
}

static void join_settled_rejection_beats_later_pending_one(void **state)
{
    (void)state;
    /* A pending input listed first and rejected later in time still loses
     * to the inputs that were already rejected at call time. */
    lwt_resolver_t *r;
    lwt_t *ps[3] = {lwt_task(&r), lwt_fail(LWT_EPIPE), lwt_fail(LWT_EIO)};
    lwt_t *j = lwt_join(ps, 3);
    drain();
    assert_pending(j);
    lwt_wakeup_fail(r, LWT_EINVAL);
    drain();
    assert_rejected(j);
    assert_int_equal(lwt_error(j), -LWT_EPIPE);
    lwt_unref(j);
}

static void join_pending_rejections_first_in_time(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *ps[3] = {lwt_task(&r[0]), lwt_task(&r[1]), lwt_task(&r[2])};
    lwt_t *j = lwt_join(ps, 3);
    lwt_wakeup_fail(r[2], LWT_EPIPE);
    drain();
    lwt_wakeup_fail(r[0], LWT_EIO);
    drain();
    assert_pending(j);
    lwt_wakeup(r[1], NULL);
    drain();
    assert_rejected(j);
    assert_int_equal(lwt_error(j), -LWT_EPIPE);
    lwt_unref(j);
}

static void join_rejects_only_after_all_settled(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_wait(&r[1])};
    lwt_t *j = lwt_join(ps, 2);
    lwt_wakeup_fail(r[0], LWT_EIO);
    drain();
    assert_pending(j);
    lwt_wakeup(r[1], LWT_INT(5));
    drain();
    assert_rejected(j);
    assert_int_equal(lwt_error(j), -LWT_EIO);
    lwt_unref(j);
}

static void join_same_promise_twice(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *ps[2] = {lwt_ref(t), t};
    lwt_t *j = lwt_join(ps, 2);
    drain();
    assert_pending(j);
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_fulfilled(j);
    lwt_unref(j);
}

static void join_does_not_settle_inputs(void **state)
{
    (void)state;
    /* The inputs keep their own results; join only observes them. */
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_ref(a), lwt_ref(b)};
    lwt_t *j = lwt_join(ps, 2);
    lwt_wakeup_fail(r[0], LWT_EIO);
    drain();
    assert_pending(b);
    lwt_wakeup(r[1], LWT_INT(9));
    drain();
    assert_int_equal(lwt_error(a), -LWT_EIO);
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 9);
    assert_int_equal(lwt_error(j), -LWT_EIO);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(j);
}

static void join_100k_pending_then_wake_all(void **state)
{
    (void)state;
    size_t n = test_scale(100000, 10000);
    lwt_resolver_t **rs = malloc(n * sizeof *rs);
    lwt_t **ps = malloc(n * sizeof *ps);
    assert_non_null(rs);
    assert_non_null(ps);
    for (size_t i = 0; i < n; i++)
        ps[i] = lwt_task(&rs[i]);
    lwt_t *j = lwt_join(ps, n);
    free(ps);
    assert_pending(j);
    /* Wake in an order that is neither forwards nor backwards. */
    for (size_t i = 0; i < n; i += 2)
        lwt_wakeup(rs[i], LWT_INT(i));
    drain();
    assert_pending(j);
    for (size_t i = n - 1; i > 1; i -= 2)
        lwt_wakeup(rs[i], LWT_INT(i));
    drain();
    assert_pending(j);
    lwt_wakeup(rs[1], NULL);
    drain();
    assert_fulfilled(j);
    free(rs);
    lwt_unref(j);
    assert_live_zero();
}

/* ---- all and both ------------------------------------------------------- */

static void all_settled_fills_values(void **state)
{
    (void)state;
    void *values[3] = {NULL, NULL, NULL};
    lwt_t *ps[3] = {lwt_return(LWT_INT(10)), lwt_return(LWT_INT(20)), lwt_return(LWT_INT(30))};
    lwt_t *a = lwt_all(ps, 3, values);
    drain();
    assert_fulfilled(a);
    assert_ptr_equal(lwt_value(a), values);
    assert_int_equal(LWT_TO_INT(values[0]), 10);
    assert_int_equal(LWT_TO_INT(values[1]), 20);
    assert_int_equal(LWT_TO_INT(values[2]), 30);
    lwt_unref(a);
}

static void all_pending_fills_values_by_index(void **state)
{
    (void)state;
    void *values[4] = {NULL, NULL, NULL, NULL};
    lwt_resolver_t *r[3];
    lwt_t *ps[4] = {lwt_task(&r[0]), lwt_return(LWT_INT(11)), lwt_wait(&r[1]), lwt_task(&r[2])};
    lwt_t *a = lwt_all(ps, 4, values);
    /* Settle out of order: each value still lands at its input's index. */
    lwt_wakeup(r[2], LWT_INT(13));
    drain();
    lwt_wakeup(r[0], LWT_INT(10));
    drain();
    assert_pending(a);
    lwt_wakeup(r[1], LWT_INT(12));
    drain();
    assert_fulfilled(a);
    assert_ptr_equal(lwt_value(a), values);
    for (int i = 0; i < 4; i++)
        assert_int_equal(LWT_TO_INT(values[i]), 10 + i);
    lwt_unref(a);
}

static void all_rejected_if_any_rejected(void **state)
{
    (void)state;
    void *values[3];
    lwt_resolver_t *r[2];
    lwt_t *ps[3] = {lwt_task(&r[0]), lwt_return(LWT_INT(1)), lwt_task(&r[1])};
    lwt_t *a = lwt_all(ps, 3, values);
    lwt_wakeup_fail(r[1], LWT_ENOSPC);
    drain();
    assert_pending(a);
    lwt_wakeup(r[0], LWT_INT(2));
    drain();
    assert_rejected(a);
    assert_int_equal(lwt_error(a), -LWT_ENOSPC);
    lwt_unref(a);
}

static void all_empty_is_fulfilled(void **state)
{
    (void)state;
    void *values[1];
    lwt_t *a = lwt_all(NULL, 0, values);
    drain();
    assert_fulfilled(a);
    lwt_unref(a);
}

static void both_fills_two_values(void **state)
{
    (void)state;
    void *values[2] = {NULL, NULL};
    lwt_resolver_t *r[2];
    lwt_t *b = lwt_both(lwt_task(&r[0]), lwt_wait(&r[1]), values);
    lwt_wakeup(r[1], LWT_INT(2));
    drain();
    assert_pending(b);
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_fulfilled(b);
    assert_ptr_equal(lwt_value(b), values);
    assert_int_equal(LWT_TO_INT(values[0]), 1);
    assert_int_equal(LWT_TO_INT(values[1]), 2);
    lwt_unref(b);
}

static void both_settled_fills_values(void **state)
{
    (void)state;
    void *values[2] = {NULL, NULL};
    lwt_t *b = lwt_both(lwt_return(LWT_INT(7)), lwt_return(LWT_INT(8)), values);
    drain();
    assert_fulfilled(b);
    assert_int_equal(LWT_TO_INT(values[0]), 7);
    assert_int_equal(LWT_TO_INT(values[1]), 8);
    lwt_unref(b);
}

static void both_rejected_waits_for_other(void **state)
{
    (void)state;
    void *values[2];
    lwt_resolver_t *r;
    lwt_t *b = lwt_both(lwt_fail(LWT_EIO), lwt_task(&r), values);
    drain();
    assert_pending(b);
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_rejected(b);
    assert_int_equal(lwt_error(b), -LWT_EIO);
    lwt_unref(b);
}

/* ---- choose ------------------------------------------------------------- */

static void choose_single_settled_input(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *ps[3] = {lwt_task(&r[0]), lwt_return(LWT_INT(5)), lwt_wait(&r[1])};
    lwt_t *c = lwt_choose(ps, 3);
    drain();
    assert_fulfilled(c);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 5);
    lwt_unref(c);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
}

static void choose_several_settled_picks_at_random(void **state)
{
    (void)state;
    unsigned seen = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        lwt_set_random_seed(seed);
        lwt_resolver_t *r;
        lwt_t *ps[5] = {lwt_return(LWT_INT(1)), lwt_task(&r), lwt_return(LWT_INT(2)), lwt_return(LWT_INT(3)),
                        lwt_return(LWT_INT(4))};
        lwt_t *c = lwt_choose(ps, 5);
        drain();
        assert_fulfilled(c);
        intptr_t v = LWT_TO_INT(lwt_value(c));
        assert_in_range(v, 1, 4);
        seen |= 1u << v;
        lwt_unref(c);
        /* The pending input was not chosen and is left alone. */
        lwt_wakeup(r, NULL);
        drain();
    }
    /* Over 200 seeds every settled input gets chosen at least once. */
    assert_int_equal(seen, 0x1e);
}

static void choose_same_seed_same_choice(void **state)
{
    (void)state;
    intptr_t first[20];
    for (int round = 0; round < 2; round++) {
        lwt_set_random_seed(12345);
        for (int i = 0; i < 20; i++) {
            lwt_t *ps[6];
            for (int k = 0; k < 6; k++)
                ps[k] = lwt_return(LWT_INT(k + 1));
            lwt_t *c = lwt_choose(ps, 6);
            intptr_t v = LWT_TO_INT(lwt_value(c));
            if (round == 0)
                first[i] = v;
            else
                assert_int_equal(v, first[i]);
            lwt_unref(c);
        }
    }
}

static void choose_prefers_rejected_inputs(void **state)
{
    (void)state;
    bool saw_eio = false, saw_epipe = false;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        lwt_set_random_seed(seed);
        lwt_t *ps[5] = {lwt_return(LWT_INT(1)), lwt_fail(LWT_EIO), lwt_return(LWT_INT(2)), lwt_fail(LWT_EPIPE),
                        lwt_return(LWT_INT(3))};
        lwt_t *c = lwt_choose(ps, 5);
        drain();
        assert_rejected(c);
        int e = lwt_error(c);
        assert_true(e == -LWT_EIO || e == -LWT_EPIPE);
        saw_eio |= e == -LWT_EIO;
        saw_epipe |= e == -LWT_EPIPE;
        lwt_unref(c);
    }
    assert_true(saw_eio && saw_epipe);
}

static void choose_pending_first_to_settle_wins(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *ps[3] = {lwt_task(&r[0]), lwt_task(&r[1]), lwt_wait(&r[2])};
    lwt_t *c = lwt_choose(ps, 3);
    drain();
    assert_pending(c);
    lwt_wakeup(r[1], LWT_INT(22));
    drain();
    assert_fulfilled(c);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 22);
    /* Later settlements change nothing. */
    lwt_wakeup_fail(r[0], LWT_EIO);
    lwt_wakeup(r[2], LWT_INT(33));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 22);
    lwt_unref(c);
}

static void choose_pending_leaves_others_running(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    lwt_t *ps[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lwt_task(&r[i]);
        ps[i] = lwt_ref(t[i]);
    }
    lwt_t *c = lwt_choose(ps, 3);
    lwt_wakeup(r[2], LWT_INT(3));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 3);
    /* choose does not cancel the losers: they can still be fulfilled. */
    assert_pending(t[0]);
    assert_pending(t[1]);
    lwt_wakeup(r[0], LWT_INT(1));
    lwt_wakeup(r[1], LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t[0])), 1);
    assert_int_equal(LWT_TO_INT(lwt_value(t[1])), 2);
    for (int i = 0; i < 3; i++)
        lwt_unref(t[i]);
    lwt_unref(c);
}

static void choose_pending_rejection_wins_if_first(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_task(&r[1])};
    lwt_t *c = lwt_choose(ps, 2);
    lwt_wakeup_fail(r[0], LWT_ECONNRESET);
    drain();
    assert_rejected(c);
    assert_int_equal(lwt_error(c), -LWT_ECONNRESET);
    lwt_wakeup(r[1], LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(c), -LWT_ECONNRESET);
    lwt_unref(c);
}

static void choose_result_survives_dropped_losers(void **state)
{
    (void)state;
    /* Dropping the resolver of a loser rejects it with EBROKEN; that must
     * not reach a choose that has already settled. */
    lwt_resolver_t *r[2];
    lwt_t *ps[2] = {lwt_wait(&r[0]), lwt_wait(&r[1])};
    lwt_t *c = lwt_choose(ps, 2);
    lwt_wakeup(r[0], LWT_INT(4));
    drain();
    lwt_resolver_drop(r[1]);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 4);
    lwt_unref(c);
}

/* Shared by the repeated-choose tests: how many promises may be alive at
 * most while dead registrations wait for their sweep. */
#define SWEEP_BOUND 64

static void choose_repeatedly_against_long_lived_stays_bounded(void **state)
{
    (void)state;
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_wait(&rl);
    size_t base = lwt_live_count();
    size_t peak = base;
    for (int i = 0; i < 10000; i++) {
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_ref(longp), lwt_task(&r)};
        lwt_t *c = lwt_choose(ps, 2);
        lwt_wakeup(r, LWT_INT(i + 1));
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(c)), i + 1);
        lwt_unref(c);
        if (lwt_live_count() > peak)
            peak = lwt_live_count();
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    assert_true(peak <= base + SWEEP_BOUND);
    assert_pending(longp);
    lwt_wakeup(rl, LWT_INT(1));
    drain();
    assert_fulfilled(longp);
    lwt_unref(longp);
    assert_live_zero();
}

static void choose_long_lived_node_input_stays_bounded(void **state)
{
    (void)state;
    /* Same, with the long-lived promise behind a map (a node promise), and
     * the short-lived input rejected. */
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_map(lwt_task(&rl), identity, LWT_NOCTX);
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_ref(longp), lwt_task(&r)};
        lwt_t *c = lwt_choose(ps, 2);
        lwt_wakeup_fail(r, LWT_ETIMEDOUT);
        drain();
        assert_int_equal(lwt_error(c), -LWT_ETIMEDOUT);
        lwt_unref(c);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    /* Settle the source without running the map function: a rejection. */
    lwt_wakeup_fail(rl, LWT_ESHUTDOWN);
    drain();
    assert_int_equal(lwt_error(longp), -LWT_ESHUTDOWN);
    lwt_unref(longp);
    assert_live_zero();
}

static void nchoose_repeatedly_against_long_lived_stays_bounded(void **state)
{
    (void)state;
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_wait(&rl);
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        void *values[2];
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_task(&r), lwt_ref(longp)};
        lwt_t *c = lwt_nchoose(ps, 2, values);
        lwt_wakeup(r, LWT_INT(i + 1));
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(c)), 1);
        assert_int_equal(LWT_TO_INT(values[0]), i + 1);
        lwt_unref(c);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    lwt_wakeup(rl, NULL);
    drain();
    lwt_unref(longp);
    assert_live_zero();
}

/* Returns the promise in the context: a bind adopts it. */
static lwt_t *return_given(void *v, void *ctx)
{
    (void)v;
    return lwt_ref(*(lwt_t **)ctx);
}

static void choose_input_adopted_by_bind_stays_bounded(void **state)
{
    (void)state;
    /* The long-lived input is a task that a bind later adopts, so the
     * choose registrations on it move to the bind's result: losing choose
     * registrations must still be swept there. */
    lwt_resolver_t *rl, *r0;
    lwt_t *longp = lwt_task(&rl);
    lwt_t *adopter = lwt_bind(lwt_task(&r0), return_given, LWT_CTX(longp));
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        if (i == 100) {
            lwt_wakeup(r0, NULL); /* adopted after 100 rounds */
            drain();
        }
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_ref(longp), lwt_task(&r)};
        lwt_t *c = lwt_choose(ps, 2);
        lwt_wakeup(r, LWT_INT(i + 1));
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(c)), i + 1);
        lwt_unref(c);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    assert_pending(adopter);
    lwt_wakeup(rl, LWT_INT(5));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(adopter)), 5);
    assert_int_equal(LWT_TO_INT(lwt_value(longp)), 5);
    lwt_unref(longp);
    lwt_unref(adopter);
    assert_live_zero();
}

/* ---- pick --------------------------------------------------------------- */

static void pick_cancels_the_others(void **state)
{
    (void)state;
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    lwt_t *ps[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lwt_task(&r[i]);
        ps[i] = lwt_ref(t[i]);
    }
    lwt_t *p = lwt_pick(ps, 3);
    drain();
    assert_pending(p);
    lwt_wakeup(r[1], LWT_INT(2));
    drain();
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    assert_int_equal(lwt_error(t[0]), -LWT_ECANCELED);
    assert_int_equal(lwt_error(t[2]), -LWT_ECANCELED);
    /* Waking a cancelled task is a no-op. */
    lwt_wakeup(r[0], LWT_INT(1));
    lwt_wakeup(r[2], LWT_INT(3));
    drain();
    assert_int_equal(lwt_error(t[0]), -LWT_ECANCELED);
    for (int i = 0; i < 3; i++)
        lwt_unref(t[i]);
    lwt_unref(p);
}

static void pick_rejected_winner_still_cancels_others(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *loser = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *p = lwt_pick(ps, 2);
    lwt_wakeup_fail(r[0], LWT_EIO);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EIO);
    assert_int_equal(lwt_error(loser), -LWT_ECANCELED);
    lwt_resolver_drop(r[1]);
    lwt_unref(loser);
    lwt_unref(p);
}

static void pick_does_not_cancel_wait_promises(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *w = lwt_wait(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(w)};
    lwt_t *p = lwt_pick(ps, 2);
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    /* Not cancelable: still pending, and the result stays the winner's. */
    assert_pending(w);
    lwt_wakeup(r[1], LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(w)), 2);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    lwt_unref(w);
    lwt_unref(p);
}

static void pick_already_settled_cancels_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]), *b = lwt_task(&r[1]);
    lwt_t *ps[3] = {lwt_ref(a), lwt_return(LWT_INT(9)), lwt_ref(b)};
    lwt_t *p = lwt_pick(ps, 3);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 9);
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(p);
}

static void pick_already_rejected_cancels_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *a = lwt_task(&r);
    lwt_t *ps[3] = {lwt_ref(a), lwt_return(LWT_INT(1)), lwt_fail(LWT_EPROTO)};
    lwt_t *p = lwt_pick(ps, 3);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EPROTO);
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    lwt_wakeup(r, NULL);
    lwt_unref(a);
    lwt_unref(p);
}

static void pick_cancel_reaches_tasks_behind_binds(void **state)
{
    (void)state;
    /* The loser is a map over a task: pick's cancel walks back to it. */
    lwt_resolver_t *r[2];
    lwt_t *t = lwt_task(&r[1]);
    lwt_t *loser = lwt_map(lwt_ref(t), identity, LWT_NOCTX);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *p = lwt_pick(ps, 2);
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(loser), -LWT_ECANCELED);
    lwt_wakeup(r[1], NULL);
    lwt_unref(t);
    lwt_unref(loser);
    lwt_unref(p);
}

static void pick_repeatedly_against_wait_stays_bounded(void **state)
{
    (void)state;
    /* pick cannot cancel a wait promise, so its registration is the one
     * left behind each round. */
    lwt_resolver_t *rl;
    lwt_t *longp = lwt_wait(&rl);
    size_t base = lwt_live_count();
    for (int i = 0; i < 10000; i++) {
        lwt_resolver_t *r;
        lwt_t *ps[2] = {lwt_ref(longp), lwt_task(&r)};
        lwt_t *p = lwt_pick(ps, 2);
        lwt_wakeup(r, LWT_INT(i + 1));
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(p)), i + 1);
        lwt_unref(p);
        assert_true(lwt_live_count() <= base + SWEEP_BOUND);
    }
    assert_pending(longp);
    lwt_wakeup(rl, NULL);
    drain();
    lwt_unref(longp);
    assert_live_zero();
}

#ifndef LWT_DEFER_ALL
static void pick_settles_inline_on_wakeup(void **state)
{
    (void)state;
    /* With inline callbacks, the wakeup itself settles the pick and
     * cancels the loser. */
    lwt_resolver_t *r[2];
    lwt_t *loser = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *p = lwt_pick(ps, 2);
    lwt_wakeup(r[0], LWT_INT(3));
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 3);
    assert_int_equal(lwt_error(loser), -LWT_ECANCELED);
    lwt_wakeup(r[1], NULL);
    lwt_unref(loser);
    lwt_unref(p);
}
#endif

/* ---- nchoose and npick -------------------------------------------------- */

static void nchoose_settled_collects_in_input_order(void **state)
{
    (void)state;
    void *values[5] = {NULL, NULL, NULL, NULL, NULL};
    lwt_resolver_t *r[2];
    lwt_t *ps[5] = {lwt_return(LWT_INT(1)), lwt_task(&r[0]), lwt_return(LWT_INT(2)), lwt_wait(&r[1]),
                    lwt_return(LWT_INT(3))};
    lwt_t *c = lwt_nchoose(ps, 5, values);
    drain();
    assert_fulfilled(c);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 3);
    assert_int_equal(LWT_TO_INT(values[0]), 1);
    assert_int_equal(LWT_TO_INT(values[1]), 2);
    assert_int_equal(LWT_TO_INT(values[2]), 3);
    lwt_unref(c);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
}

static void nchoose_settled_rejection_wins(void **state)
{
    (void)state;
    /* As in Lwt: a rejected input anywhere rejects the result, and the first
     * in list order is reported. */
    void *values[4];
    lwt_t *ps[4] = {lwt_return(LWT_INT(1)), lwt_fail(LWT_EIO), lwt_return(LWT_INT(2)), lwt_fail(LWT_EPIPE)};
    lwt_t *c = lwt_nchoose(ps, 4, values);
    drain();
    assert_rejected(c);
    assert_int_equal(lwt_error(c), -LWT_EIO);
    lwt_unref(c);
}

static void nchoose_pending_single_winner(void **state)
{
    (void)state;
    void *values[3] = {NULL, NULL, NULL};
    lwt_resolver_t *r[3];
    lwt_t *ps[3] = {lwt_task(&r[0]), lwt_task(&r[1]), lwt_wait(&r[2])};
    lwt_t *c = lwt_nchoose(ps, 3, values);
    drain();
    assert_pending(c);
    lwt_wakeup(r[1], LWT_INT(42));
    drain();
    assert_fulfilled(c);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 1);
    assert_int_equal(LWT_TO_INT(values[0]), 42);
    /* The others keep running and do not touch the result. */
    lwt_wakeup(r[0], LWT_INT(1));
    lwt_wakeup(r[2], LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 1);
    assert_int_equal(LWT_TO_INT(values[0]), 42);
    lwt_unref(c);
}

static void nchoose_pending_collects_every_fulfilled_input(void **state)
{
    (void)state;
    /* The same promise listed twice settles both slots at once. */
    void *values[3] = {NULL, NULL, NULL};
    lwt_resolver_t *r[2];
    lwt_t *t = lwt_task(&r[0]);
    lwt_t *ps[3] = {lwt_ref(t), lwt_wait(&r[1]), t};
    lwt_t *c = lwt_nchoose(ps, 3, values);
    lwt_wakeup(r[0], LWT_INT(6));
    drain();
    assert_fulfilled(c);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 2);
    assert_int_equal(LWT_TO_INT(values[0]), 6);
    assert_int_equal(LWT_TO_INT(values[1]), 6);
    lwt_unref(c);
    lwt_wakeup(r[1], NULL);
}

static void nchoose_pending_rejected_first(void **state)
{
    (void)state;
    void *values[2];
    lwt_resolver_t *r[2];
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_task(&r[1])};
    lwt_t *c = lwt_nchoose(ps, 2, values);
    lwt_wakeup_fail(r[1], LWT_EMSGSIZE);
    drain();
    assert_rejected(c);
    assert_int_equal(lwt_error(c), -LWT_EMSGSIZE);
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(c), -LWT_EMSGSIZE);
    lwt_unref(c);
}

static void npick_cancels_the_rest(void **state)
{
    (void)state;
    void *values[3] = {NULL, NULL, NULL};
    lwt_resolver_t *r[3];
    lwt_t *t[3];
    lwt_t *ps[3];
    for (int i = 0; i < 3; i++) {
        t[i] = lwt_task(&r[i]);
        ps[i] = lwt_ref(t[i]);
    }
    lwt_t *c = lwt_npick(ps, 3, values);
    lwt_wakeup(r[2], LWT_INT(30));
    drain();
    assert_fulfilled(c);
    /* The cancelled ones are not counted as fulfilled. */
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 1);
    assert_int_equal(LWT_TO_INT(values[0]), 30);
    assert_int_equal(lwt_error(t[0]), -LWT_ECANCELED);
    assert_int_equal(lwt_error(t[1]), -LWT_ECANCELED);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    for (int i = 0; i < 3; i++)
        lwt_unref(t[i]);
    lwt_unref(c);
}

static void npick_settled_cancels_pending(void **state)
{
    (void)state;
    void *values[4] = {NULL, NULL, NULL, NULL};
    lwt_resolver_t *r[2];
    lwt_t *a = lwt_task(&r[0]);
    lwt_t *w = lwt_wait(&r[1]);
    lwt_t *ps[4] = {lwt_return(LWT_INT(1)), lwt_ref(a), lwt_ref(w), lwt_return(LWT_INT(2))};
    lwt_t *c = lwt_npick(ps, 4, values);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 2);
    assert_int_equal(LWT_TO_INT(values[0]), 1);
    assert_int_equal(LWT_TO_INT(values[1]), 2);
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_pending(w);
    lwt_wakeup(r[0], NULL);
    lwt_wakeup(r[1], NULL);
    lwt_unref(a);
    lwt_unref(w);
    lwt_unref(c);
}

static void npick_rejected_winner_cancels_the_rest(void **state)
{
    (void)state;
    void *values[2];
    lwt_resolver_t *r[2];
    lwt_t *loser = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *c = lwt_npick(ps, 2, values);
    lwt_wakeup_fail(r[0], LWT_EBADMSG);
    drain();
    assert_int_equal(lwt_error(c), -LWT_EBADMSG);
    assert_int_equal(lwt_error(loser), -LWT_ECANCELED);
    lwt_resolver_drop(r[1]);
    lwt_unref(loser);
    lwt_unref(c);
}

/* Records a promise's error when the callback runs. */
struct peek {
    lwt_t *p;
    int *err;
};

static void peek_error(void *v, void *ctx)
{
    (void)v;
    struct peek *k = ctx;
    *k->err = lwt_error(k->p);
}

static void pick_cancels_losers_before_result_callbacks(void **state)
{
    (void)state;
    /* Lwt's pick cancels the others, then resolves its result: the result's
     * callbacks see the losers already cancelled. */
    int seen = 0;
    lwt_resolver_t *r[2];
    lwt_t *loser = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *p = lwt_pick(ps, 2);
    struct peek k = {loser, &seen};
    lwt_on_success(p, peek_error, LWT_CTX(k));
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_int_equal(seen, -LWT_ECANCELED);
    lwt_wakeup(r[1], NULL);
    lwt_unref(loser);
    lwt_unref(p);
}

static void npick_cancels_losers_before_result_callbacks(void **state)
{
    (void)state;
    /* Lwt's npick collects the values, cancels the others, then resolves. */
    int seen = 0;
    void *values[2];
    lwt_resolver_t *r[2];
    lwt_t *loser = lwt_task(&r[1]);
    lwt_t *ps[2] = {lwt_task(&r[0]), lwt_ref(loser)};
    lwt_t *c = lwt_npick(ps, 2, values);
    struct peek k = {loser, &seen};
    lwt_on_success(c, peek_error, LWT_CTX(k));
    lwt_wakeup(r[0], LWT_INT(1));
    drain();
    assert_int_equal(seen, -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 1);
    lwt_wakeup(r[1], NULL);
    lwt_unref(loser);
    lwt_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(join_empty_is_fulfilled),
        TEST(join_all_settled_is_fulfilled_at_once),
        TEST(join_pending_waits_for_every_input),
        TEST(join_mixed_settled_and_pending),
        TEST(join_settled_rejections_first_in_list_order),
        TEST(join_settled_rejection_beats_later_pending_one),
        TEST(join_pending_rejections_first_in_time),
        TEST(join_rejects_only_after_all_settled),
        TEST(join_same_promise_twice),
        TEST(join_does_not_settle_inputs),
        TEST(join_100k_pending_then_wake_all),
        TEST(all_settled_fills_values),
        TEST(all_pending_fills_values_by_index),
        TEST(all_rejected_if_any_rejected),
        TEST(all_empty_is_fulfilled),
        TEST(both_fills_two_values),
        TEST(both_settled_fills_values),
        TEST(both_rejected_waits_for_other),
        TEST(choose_single_settled_input),
        TEST(choose_several_settled_picks_at_random),
        TEST(choose_same_seed_same_choice),
        TEST(choose_prefers_rejected_inputs),
        TEST(choose_pending_first_to_settle_wins),
        TEST(choose_pending_leaves_others_running),
        TEST(choose_pending_rejection_wins_if_first),
        TEST(choose_result_survives_dropped_losers),
        TEST(choose_repeatedly_against_long_lived_stays_bounded),
        TEST(choose_long_lived_node_input_stays_bounded),
        TEST(nchoose_repeatedly_against_long_lived_stays_bounded),
        TEST(choose_input_adopted_by_bind_stays_bounded),
        TEST(pick_cancels_the_others),
        TEST(pick_rejected_winner_still_cancels_others),
        TEST(pick_does_not_cancel_wait_promises),
        TEST(pick_already_settled_cancels_pending),
        TEST(pick_already_rejected_cancels_pending),
        TEST(pick_cancel_reaches_tasks_behind_binds),
        TEST(pick_repeatedly_against_wait_stays_bounded),
#ifndef LWT_DEFER_ALL
        TEST(pick_settles_inline_on_wakeup),
#endif
        TEST(nchoose_settled_collects_in_input_order),
        TEST(nchoose_settled_rejection_wins),
        TEST(nchoose_pending_single_winner),
        TEST(nchoose_pending_collects_every_fulfilled_input),
        TEST(nchoose_pending_rejected_first),
        TEST(npick_cancels_the_rest),
        TEST(npick_settled_cancels_pending),
        TEST(npick_rejected_winner_cancels_the_rest),
        TEST(pick_cancels_losers_before_result_callbacks),
        TEST(npick_cancels_losers_before_result_callbacks),
    };
    return RUN_TESTS(tests);
}
