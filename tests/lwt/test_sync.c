/* Synchronisation between promise chains: mutex, condition variable, mvar.
 *
 * Every wakeup may run its callbacks later (LWT_DEFER_ALL, or past the inline
 * depth limit), so the tests drain the deferred queue before looking at what
 * depends on a wakeup. */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "lwt_sync.h"

/* Records the order in which callbacks ran. */
static int order[16];
static size_t order_len;

static void order_reset(void)
{
    order_len = 0;
    memset(order, 0, sizeof order);
}

static void record_id(void *value, void *ctx)
{
    (void)value;
    if (order_len < sizeof order / sizeof order[0])
        order[order_len++] = *(int *)ctx;
}

static void unref_all(lwt_t **ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lwt_unref(ps[i]);
}

/* ==== Mutex ============================================================== */

static void mutex_lock_free_is_immediate(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_t *p = lwt_mutex_lock(&m);
    assert_fulfilled(p);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_unref(p);
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_mutex_destroy(&m);
}

static void mutex_second_locker_waits(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *first = lwt_mutex_lock(&m);
    lwt_t *second = lwt_mutex_lock(&m);
    drain();
    assert_fulfilled(first);
    assert_pending(second);
    lwt_mutex_unlock(&m);
    drain();
    assert_fulfilled(second);
    /* Handed over, never released in between. */
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(first);
    lwt_unref(second);
    lwt_mutex_destroy(&m);
}

static void mutex_fifo_handoff(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *owner = lwt_mutex_lock(&m);
    lwt_t *w[4];
    for (size_t i = 0; i < 4; i++)
        w[i] = lwt_mutex_lock(&m);
    for (size_t i = 0; i < 4; i++) {
        lwt_mutex_unlock(&m);
        drain();
        /* Exactly the oldest waiter holds it now. */
        for (size_t j = 0; j < 4; j++)
            assert_int_equal(lwt_state(w[j]), j <= i ? LWT_FULFILLED : LWT_PENDING);
        assert_true(lwt_mutex_is_locked(&m));
    }
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(owner);
    unref_all(w, 4);
    lwt_mutex_destroy(&m);
}

/* Each waiter, once it holds the mutex, records itself and unlocks: one
 * unlock then lets all of them through, in queue order. */
static struct lwt_mutex chain_mutex;

static void record_and_unlock(void *value, void *ctx)
{
    record_id(value, ctx);
    lwt_mutex_unlock(&chain_mutex);
}

static void mutex_fifo_handoff_chain(void **state)
{
    (void)state;
    order_reset();
    lwt_mutex_init(&chain_mutex);
    lwt_t *owner = lwt_mutex_lock(&chain_mutex);
    lwt_t *w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = lwt_mutex_lock(&chain_mutex);
        lwt_on_success(w[i], record_and_unlock, LWT_CTX(i));
    }
    lwt_mutex_unlock(&chain_mutex);
    drain();
    assert_int_equal(order_len, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], i);
    assert_false(lwt_mutex_is_locked(&chain_mutex));
    lwt_unref(owner);
    unref_all(w, 5);
    lwt_mutex_destroy(&chain_mutex);
}

static void mutex_unlock_without_waiters_unlocks(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_unref(lwt_mutex_lock(&m));
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    /* And it can be taken again at once. */
    lwt_t *p = lwt_mutex_lock(&m);
    assert_fulfilled(p);
    lwt_unref(p);
    lwt_mutex_unlock(&m);
    lwt_mutex_destroy(&m);
}

static void mutex_cancel_queued_lock_is_skipped(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *owner = lwt_mutex_lock(&m);
    lwt_t *a = lwt_mutex_lock(&m);
    lwt_t *b = lwt_mutex_lock(&m);
    lwt_t *c = lwt_mutex_lock(&m);
    lwt_cancel(b);
    drain();
    assert_int_equal(lwt_error(b), -LWT_ECANCELED);
    assert_pending(a);
    assert_pending(c);

    lwt_mutex_unlock(&m);
    drain();
    assert_fulfilled(a);
    assert_pending(c);
    lwt_mutex_unlock(&m); /* skips b */
    drain();
    assert_fulfilled(c);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(owner);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(c);
    lwt_mutex_destroy(&m);
}

/* The header says cancelling removes the waiter: an unlock right after the
 * cancel, before any deferred work runs, must not hand the mutex to it. */
static void mutex_cancel_then_unlock_at_once(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *owner = lwt_mutex_lock(&m);
    lwt_t *a = lwt_mutex_lock(&m);
    lwt_t *b = lwt_mutex_lock(&m);
    lwt_cancel(a);
    lwt_mutex_unlock(&m);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_fulfilled(b);
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));

    /* The only waiter cancelled: the unlock really unlocks. */
    lwt_t *owner2 = lwt_mutex_lock(&m);
    lwt_t *d = lwt_mutex_lock(&m);
    lwt_cancel(d);
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    drain();
    assert_int_equal(lwt_error(d), -LWT_ECANCELED);
    lwt_unref(owner);
    lwt_unref(owner2);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(d);
    lwt_mutex_destroy(&m);
}

/* The same from callbacks at every nesting depth: past the inline limit a
 * cancel's callbacks are deferred even in a normal build, and the unlock
 * that follows must still skip the cancelled waiter. */
enum { DEEP_STEPS = 3 * LWT_MAX_INLINE_DEPTH };
static struct lwt_mutex deep_m[DEEP_STEPS];
static lwt_t *deep_owner[DEEP_STEPS], *deep_a[DEEP_STEPS], *deep_b[DEEP_STEPS];

static lwt_t *deep_step(void *v, void *ctx)
{
    int i = *(int *)ctx;
    lwt_mutex_init(&deep_m[i]);
    deep_owner[i] = lwt_mutex_lock(&deep_m[i]);
    deep_a[i] = lwt_mutex_lock(&deep_m[i]);
    deep_b[i] = lwt_mutex_lock(&deep_m[i]);
    lwt_cancel(deep_a[i]);
    lwt_mutex_unlock(&deep_m[i]);
    return lwt_return(v);
}

static void mutex_cancel_then_unlock_deep_in_callbacks(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    for (int i = 0; i < DEEP_STEPS; i++)
        p = lwt_bind(p, deep_step, LWT_CTX(i));
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    for (int i = 0; i < DEEP_STEPS; i++) {
        if (lwt_state(deep_b[i]) != LWT_FULFILLED)
            fail_msg("step %d: the mutex went to the cancelled waiter", i);
        assert_int_equal(lwt_error(deep_a[i]), -LWT_ECANCELED);
        lwt_mutex_unlock(&deep_m[i]);
        assert_false(lwt_mutex_is_locked(&deep_m[i]));
        lwt_mutex_destroy(&deep_m[i]);
        lwt_unref(deep_owner[i]);
        lwt_unref(deep_a[i]);
        lwt_unref(deep_b[i]);
    }
    lwt_unref(p);
}

static void mutex_cancel_granted_lock_is_noop(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *p = lwt_mutex_lock(&m);
    lwt_cancel(p);
    drain();
    assert_fulfilled(p);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    lwt_unref(p);
    lwt_mutex_destroy(&m);
}

/* Locks taken inside bind callbacks: the waiter's promise is merged into the
 * bind's result, and cancelling or serving it must still work. */
static struct lwt_mutex merged_m;

static lwt_t *lock_merged(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    return lwt_mutex_lock(&merged_m);
}

static void mutex_lock_from_callback_cancel_and_handoff(void **state)
{
    (void)state;
    lwt_mutex_init(&merged_m);
    lwt_t *owner = lwt_mutex_lock(&merged_m);
    lwt_resolver_t *r1, *r2;
    lwt_t *a = lwt_bind(lwt_wait(&r1), lock_merged, LWT_NOCTX);
    lwt_t *b = lwt_bind(lwt_wait(&r2), lock_merged, LWT_NOCTX);
    lwt_wakeup(r1, NULL);
    lwt_wakeup(r2, NULL);
    drain();
    assert_pending(a);
    assert_pending(b);
    lwt_cancel(a);
    lwt_mutex_unlock(&merged_m);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    assert_fulfilled(b);
    assert_true(lwt_mutex_is_locked(&merged_m));
    lwt_mutex_unlock(&merged_m);
    assert_false(lwt_mutex_is_locked(&merged_m));
    lwt_unref(owner);
    lwt_unref(a);
    lwt_unref(b);
    lwt_mutex_destroy(&merged_m);
}

/* What a with_lock body should do... */
struct locked_ctx {
    struct lwt_mutex *m;
    bool pending_body; /* wait on body_seen.r */
    int fail_with;
};

/* ...and what it saw. */
static struct {
    int calls;
    bool saw_locked;
    lwt_resolver_t *r;
} body_seen;

static lwt_t *locked_body(void *ctx)
{
    struct locked_ctx *c = ctx;
    body_seen.calls++;
    body_seen.saw_locked = lwt_mutex_is_locked(c->m);
    if (c->pending_body)
        return lwt_wait(&body_seen.r);
    if (c->fail_with)
        return lwt_fail(c->fail_with);
    return lwt_return(LWT_INT(99));
}

static void mutex_with_lock_releases_on_success(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    memset(&body_seen, 0, sizeof body_seen);
    struct locked_ctx c = {.m = &m, .pending_body = true};
    lwt_t *p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    drain();
    assert_int_equal(body_seen.calls, 1);
    assert_true(body_seen.saw_locked);
    assert_pending(p);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_wakeup(body_seen.r, LWT_INT(5));
    drain();
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 5);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(p);

    /* An immediate body too. */
    c.pending_body = false;
    p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 99);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(p);
    lwt_mutex_destroy(&m);
}

static void mutex_with_lock_releases_on_failure(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    memset(&body_seen, 0, sizeof body_seen);
    struct locked_ctx c = {.m = &m, .fail_with = LWT_EIO};
    lwt_t *p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    drain();
    assert_int_equal(lwt_error(p), -LWT_EIO);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(p);

    /* A body that fails later. */
    c.fail_with = 0;
    c.pending_body = true;
    p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    drain();
    assert_true(lwt_mutex_is_locked(&m));
    lwt_wakeup_fail(body_seen.r, LWT_ETIMEDOUT);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ETIMEDOUT);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(p);
    lwt_mutex_destroy(&m);
}

static void mutex_with_lock_waits_for_the_mutex(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    memset(&body_seen, 0, sizeof body_seen);
    lwt_t *owner = lwt_mutex_lock(&m);
    struct locked_ctx c = {.m = &m};
    lwt_t *p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    drain();
    assert_int_equal(body_seen.calls, 0);
    assert_pending(p);
    lwt_mutex_unlock(&m);
    drain();
    assert_int_equal(body_seen.calls, 1);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 99);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(owner);
    lwt_unref(p);
    lwt_mutex_destroy(&m);
}

static void mutex_with_lock_cancel_while_queued(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    memset(&body_seen, 0, sizeof body_seen);
    lwt_t *owner = lwt_mutex_lock(&m);
    struct locked_ctx c = {.m = &m};
    lwt_t *p = lwt_mutex_with_lock(&m, locked_body, LWT_CTX(c));
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_mutex_unlock(&m);
    drain();
    /* The body never ran and the mutex is free. */
    assert_int_equal(body_seen.calls, 0);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(owner);
    lwt_unref(p);
    lwt_mutex_destroy(&m);
}

static void unlock_unlocked_mutex(void)
{
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_mutex_unlock(&m);
}

static void unlock_twice(void)
{
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_unref(lwt_mutex_lock(&m));
    lwt_mutex_unlock(&m);
    lwt_mutex_unlock(&m);
}

static void mutex_unlock_unlocked_panics(void **state)
{
    (void)state;
    test_expect_abort(unlock_unlocked_mutex);
    test_expect_abort(unlock_twice);
}

static void mutex_destroy_rejects_waiters(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *owner = lwt_mutex_lock(&m);
    lwt_t *a = lwt_mutex_lock(&m);
    lwt_t *b = lwt_mutex_lock(&m);
    lwt_mutex_destroy(&m);
    drain();
    assert_fulfilled(owner);
    assert_int_equal(lwt_error(a), -LWT_EPIPE);
    assert_int_equal(lwt_error(b), -LWT_EPIPE);
    lwt_unref(owner);
    lwt_unref(a);
    lwt_unref(b);
}

/* ==== Condition variable ================================================= */

static void condition_signal_wakes_oldest(void **state)
{
    (void)state;
    struct lwt_condition c;
    lwt_condition_init(&c);
    lwt_t *a = lwt_condition_wait(&c, NULL);
    lwt_t *b = lwt_condition_wait(&c, NULL);
    lwt_t *d = lwt_condition_wait(&c, NULL);
    assert_pending(a);
    lwt_condition_signal(&c, LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 1);
    assert_pending(b);
    assert_pending(d);
    lwt_condition_signal(&c, LWT_INT(2));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 2);
    assert_pending(d);
    lwt_condition_signal(&c, LWT_INT(3));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(d)), 3);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(d);
    lwt_condition_destroy(&c);
}

static void condition_signal_without_waiters_is_lost(void **state)
{
    (void)state;
    struct lwt_condition c;
    lwt_condition_init(&c);
    lwt_condition_signal(&c, LWT_INT(1));
    lwt_condition_broadcast(&c, LWT_INT(2));
    /* Signals do not accumulate: a later waiter still waits. */
    lwt_t *a = lwt_condition_wait(&c, NULL);
    drain();
    assert_pending(a);
    lwt_condition_signal(&c, LWT_INT(3));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(a)), 3);
    lwt_unref(a);
    lwt_condition_destroy(&c);
}

/* Waiters that wait again as soon as they are woken. */
static struct lwt_condition rewait_cond;
static lwt_t *rewaiters[8];
static size_t rewaiters_len;

static void wait_again(void *value, void *ctx)
{
    (void)value;
    (void)ctx;
    rewaiters[rewaiters_len++] = lwt_condition_wait(&rewait_cond, NULL);
}

static void condition_broadcast_wakes_current_waiters_only(void **state)
{
    (void)state;
    lwt_condition_init(&rewait_cond);
    rewaiters_len = 0;
    lwt_t *w[3];
    for (size_t i = 0; i < 3; i++) {
        w[i] = lwt_condition_wait(&rewait_cond, NULL);
        lwt_on_success(w[i], wait_again, LWT_NOCTX);
    }
    lwt_condition_broadcast(&rewait_cond, LWT_INT(7));
    drain();
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(LWT_TO_INT(lwt_value(w[i])), 7);
    /* Those queued by the callbacks missed this broadcast. */
    assert_int_equal(rewaiters_len, 3);
    for (size_t i = 0; i < 3; i++)
        assert_pending(rewaiters[i]);

    lwt_condition_broadcast(&rewait_cond, LWT_INT(8));
    drain();
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(LWT_TO_INT(lwt_value(rewaiters[i])), 8);
    unref_all(w, 3);
    unref_all(rewaiters, 3);
    lwt_condition_destroy(&rewait_cond);
}

static void condition_broadcast_fail_rejects_all(void **state)
{
    (void)state;
    struct lwt_condition c;
    lwt_condition_init(&c);
    lwt_t *w[3];
    for (size_t i = 0; i < 3; i++)
        w[i] = lwt_condition_wait(&c, NULL);
    lwt_condition_broadcast_fail(&c, LWT_ECONNRESET);
    drain();
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(lwt_error(w[i]), -LWT_ECONNRESET);
    /* The queue is empty afterwards: a new waiter is untouched. */
    lwt_t *late = lwt_condition_wait(&c, NULL);
    lwt_condition_broadcast_fail(&c, LWT_EIO);
    drain();
    assert_int_equal(lwt_error(late), -LWT_EIO);
    unref_all(w, 3);
    lwt_unref(late);
    lwt_condition_destroy(&c);
}

static void condition_wait_releases_and_reacquires_mutex(void **state)
{
    (void)state;
    struct lwt_mutex m;
    struct lwt_condition c;
    lwt_mutex_init(&m);
    lwt_condition_init(&c);
    lwt_t *lock = lwt_mutex_lock(&m);
    lwt_t *w = lwt_condition_wait(&c, &m);
    drain();
    assert_pending(w);
    assert_false(lwt_mutex_is_locked(&m));

    /* Someone else takes the mutex and signals while holding it: the
     * waiter is woken but must wait for the mutex before settling. */
    lwt_t *other = lwt_mutex_lock(&m);
    assert_fulfilled(other);
    lwt_condition_signal(&c, LWT_INT(42));
    drain();
    assert_pending(w);
    lwt_mutex_unlock(&m);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(w)), 42);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(lock);
    lwt_unref(other);
    lwt_unref(w);
    lwt_condition_destroy(&c);
    lwt_mutex_destroy(&m);
}

static void condition_wait_with_mutex_hands_it_to_a_locker(void **state)
{
    (void)state;
    struct lwt_mutex m;
    struct lwt_condition c;
    lwt_mutex_init(&m);
    lwt_condition_init(&c);
    lwt_t *lock = lwt_mutex_lock(&m);
    lwt_t *queued = lwt_mutex_lock(&m);
    lwt_t *w = lwt_condition_wait(&c, &m);
    drain();
    /* The release handed the mutex to the queued locker. */
    assert_fulfilled(queued);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_condition_broadcast(&c, LWT_INT(1));
    drain();
    assert_pending(w);
    lwt_mutex_unlock(&m);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(w)), 1);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    lwt_unref(lock);
    lwt_unref(queued);
    lwt_unref(w);
    lwt_condition_destroy(&c);
    lwt_mutex_destroy(&m);
}

static void condition_failed_wait_reacquires_mutex(void **state)
{
    (void)state;
    struct lwt_mutex m;
    struct lwt_condition c;
    lwt_mutex_init(&m);
    lwt_condition_init(&c);
    lwt_t *lock = lwt_mutex_lock(&m);
    lwt_t *w = lwt_condition_wait(&c, &m);
    lwt_condition_broadcast_fail(&c, LWT_EIO);
    drain();
    assert_int_equal(lwt_error(w), -LWT_EIO);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    lwt_unref(lock);
    lwt_unref(w);
    lwt_condition_destroy(&c);
    lwt_mutex_destroy(&m);
}

static void condition_cancel_waiter(void **state)
{
    (void)state;
    struct lwt_condition c;
    lwt_condition_init(&c);
    lwt_t *a = lwt_condition_wait(&c, NULL);
    lwt_t *b = lwt_condition_wait(&c, NULL);
    lwt_cancel(a);
    drain();
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    lwt_condition_signal(&c, LWT_INT(5));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 5);

    /* Signal straight after the cancel: the signal is not wasted on it. */
    lwt_t *d = lwt_condition_wait(&c, NULL);
    lwt_t *e = lwt_condition_wait(&c, NULL);
    lwt_cancel(d);
    lwt_condition_signal(&c, LWT_INT(6));
    drain();
    assert_int_equal(lwt_error(d), -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(e)), 6);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(d);
    lwt_unref(e);
    lwt_condition_destroy(&c);
}

static void condition_cancel_waiter_with_mutex(void **state)
{
    (void)state;
    struct lwt_mutex m;
    struct lwt_condition c;
    lwt_mutex_init(&m);
    lwt_condition_init(&c);
    lwt_t *lock = lwt_mutex_lock(&m);
    lwt_t *w = lwt_condition_wait(&c, &m);
    drain();
    assert_false(lwt_mutex_is_locked(&m));
    lwt_cancel(w);
    drain();
    /* As in Lwt: cancelled, and the caller holds the mutex again. */
    assert_int_equal(lwt_error(w), -LWT_ECANCELED);
    assert_true(lwt_mutex_is_locked(&m));
    lwt_mutex_unlock(&m);
    /* Nothing of the cancelled waiter is left in the queue. */
    lwt_t *x = lwt_condition_wait(&c, NULL);
    lwt_condition_signal(&c, LWT_INT(9));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(x)), 9);
    lwt_unref(lock);
    lwt_unref(w);
    lwt_unref(x);
    lwt_condition_destroy(&c);
    lwt_mutex_destroy(&m);
}

static void condition_destroy_rejects_waiters(void **state)
{
    (void)state;
    struct lwt_condition c;
    lwt_condition_init(&c);
    lwt_t *a = lwt_condition_wait(&c, NULL);
    lwt_t *b = lwt_condition_wait(&c, NULL);
    lwt_condition_destroy(&c);
    drain();
    assert_int_equal(lwt_error(a), -LWT_EPIPE);
    assert_int_equal(lwt_error(b), -LWT_EPIPE);
    lwt_unref(a);
    lwt_unref(b);
}

/* ==== MVar ================================================================ */

static void mvar_put_into_empty(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_t *p = lwt_mvar_put(&mv, LWT_INT(1));
    assert_fulfilled(p);
    assert_false(lwt_mvar_is_empty(&mv));
    lwt_unref(p);
    void *v = NULL;
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 1);
    lwt_mvar_destroy(&mv);
}

static void mvar_take_from_full(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_unref(lwt_mvar_put(&mv, LWT_INT(11)));
    lwt_t *t = lwt_mvar_take(&mv);
    assert_fulfilled(t);
    assert_int_equal(LWT_TO_INT(lwt_value(t)), 11);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(t);
    lwt_mvar_destroy(&mv);
}

static void mvar_take_waits_for_put(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_t *t = lwt_mvar_take(&mv);
    drain();
    assert_pending(t);
    lwt_t *p = lwt_mvar_put(&mv, LWT_INT(3));
    drain();
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(t)), 3);
    /* Handed straight to the taker: the box stays empty. */
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(t);
    lwt_unref(p);
    lwt_mvar_destroy(&mv);
}

static void mvar_put_waits_when_full(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_t *p1 = lwt_mvar_put(&mv, LWT_INT(1));
    lwt_t *p2 = lwt_mvar_put(&mv, LWT_INT(2));
    drain();
    assert_fulfilled(p1);
    assert_pending(p2);
    lwt_t *t1 = lwt_mvar_take(&mv);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t1)), 1);
    assert_fulfilled(p2);
    /* The blocked value moved in. */
    assert_false(lwt_mvar_is_empty(&mv));
    lwt_t *t2 = lwt_mvar_take(&mv);
    assert_int_equal(LWT_TO_INT(lwt_value(t2)), 2);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(p1);
    lwt_unref(p2);
    lwt_unref(t1);
    lwt_unref(t2);
    lwt_mvar_destroy(&mv);
}

static void mvar_putters_fifo(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init_full(&mv, LWT_INT(100));
    lwt_t *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = lwt_mvar_put(&mv, LWT_INT(101 + i));
    drain();
    for (int i = 0; i < 4; i++)
        assert_pending(p[i]);
    for (int i = 0; i < 5; i++) {
        lwt_t *t = lwt_mvar_take(&mv);
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(t)), 100 + i);
        /* Putters complete one at a time, oldest first. */
        for (int j = 0; j < 4; j++)
            assert_int_equal(lwt_state(p[j]), j < i + 1 ? LWT_FULFILLED : LWT_PENDING);
        lwt_unref(t);
    }
    assert_true(lwt_mvar_is_empty(&mv));
    unref_all(p, 4);
    lwt_mvar_destroy(&mv);
}

static void mvar_takers_fifo(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_t *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = lwt_mvar_take(&mv);
    for (int i = 0; i < 4; i++) {
        lwt_t *p = lwt_mvar_put(&mv, LWT_INT(10 + i));
        drain();
        assert_fulfilled(p);
        lwt_unref(p);
        for (int j = 0; j < 4; j++) {
            if (j <= i)
                assert_int_equal(LWT_TO_INT(lwt_value(t[j])), 10 + j);
            else
                assert_pending(t[j]);
        }
        assert_true(lwt_mvar_is_empty(&mv));
    }
    unref_all(t, 4);
    lwt_mvar_destroy(&mv);
}

static void mvar_take_available(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    void *v = LWT_INT(-1);
    assert_false(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), -1);

    lwt_unref(lwt_mvar_put(&mv, LWT_INT(1)));
    lwt_t *blocked = lwt_mvar_put(&mv, LWT_INT(2));
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 1);
    drain();
    assert_fulfilled(blocked);
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 2);
    assert_false(lwt_mvar_take_available(&mv, &v));
    assert_true(lwt_mvar_is_empty(&mv));

    /* A NULL value is a value. */
    lwt_unref(lwt_mvar_put(&mv, NULL));
    assert_false(lwt_mvar_is_empty(&mv));
    v = LWT_INT(-1);
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_null(v);
    lwt_unref(blocked);
    lwt_mvar_destroy(&mv);
}

static void mvar_init_full(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init_full(&mv, LWT_INT(77));
    assert_false(lwt_mvar_is_empty(&mv));
    lwt_t *p = lwt_mvar_put(&mv, LWT_INT(78));
    drain();
    assert_pending(p);
    lwt_t *t = lwt_mvar_take(&mv);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t)), 77);
    assert_fulfilled(p);
    lwt_unref(t);
    t = lwt_mvar_take(&mv);
    assert_int_equal(LWT_TO_INT(lwt_value(t)), 78);
    lwt_unref(t);
    lwt_unref(p);
    lwt_mvar_destroy(&mv);
}

static void mvar_cancel_blocked_put(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init_full(&mv, LWT_INT(1));
    lwt_t *p2 = lwt_mvar_put(&mv, LWT_INT(2));
    lwt_t *p3 = lwt_mvar_put(&mv, LWT_INT(3));
    lwt_cancel(p2);
    drain();
    assert_int_equal(lwt_error(p2), -LWT_ECANCELED);
    assert_pending(p3);
    void *v;
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 1);
    drain();
    assert_fulfilled(p3);
    /* 2 was never stored. */
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 3);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(p2);
    lwt_unref(p3);
    lwt_mvar_destroy(&mv);
}

static void mvar_cancel_blocked_put_then_take_at_once(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init_full(&mv, LWT_INT(1));
    lwt_t *p2 = lwt_mvar_put(&mv, LWT_INT(2));
    lwt_cancel(p2);
    /* No deferred work has run yet: the cancelled put must still be gone. */
    void *v;
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 1);
    assert_true(lwt_mvar_is_empty(&mv));
    drain();
    assert_int_equal(lwt_error(p2), -LWT_ECANCELED);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(p2);
    lwt_mvar_destroy(&mv);
}

static void mvar_cancel_blocked_take(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_t *t1 = lwt_mvar_take(&mv);
    lwt_t *t2 = lwt_mvar_take(&mv);
    lwt_cancel(t1);
    drain();
    assert_int_equal(lwt_error(t1), -LWT_ECANCELED);
    lwt_unref(lwt_mvar_put(&mv, LWT_INT(4)));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(t2)), 4);
    assert_true(lwt_mvar_is_empty(&mv));
    lwt_unref(t1);
    lwt_unref(t2);
    lwt_mvar_destroy(&mv);
}

static void mvar_cancel_blocked_take_then_put_at_once(void **state)
{
    (void)state;
    struct lwt_mvar mv;
    lwt_mvar_init(&mv);
    lwt_t *t = lwt_mvar_take(&mv);
    lwt_cancel(t);
    /* The value must not vanish into the cancelled taker. */
    lwt_unref(lwt_mvar_put(&mv, LWT_INT(8)));
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    void *v = NULL;
    assert_true(lwt_mvar_take_available(&mv, &v));
    assert_int_equal(LWT_TO_INT(v), 8);
    lwt_unref(t);
    lwt_mvar_destroy(&mv);
}

static void mvar_destroy_rejects_waiters(void **state)
{
    (void)state;
    struct lwt_mvar full, empty;
    lwt_mvar_init_full(&full, LWT_INT(1));
    lwt_mvar_init(&empty);
    lwt_t *p = lwt_mvar_put(&full, LWT_INT(2));
    lwt_t *t = lwt_mvar_take(&empty);
    lwt_mvar_destroy(&full);
    lwt_mvar_destroy(&empty);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EPIPE);
    assert_int_equal(lwt_error(t), -LWT_EPIPE);
    lwt_unref(p);
    lwt_unref(t);
}

/* Ping-pong: A puts i into `ping` and takes the reply from `pong`; B takes
 * from `ping` and replies 2*i. Both are recursive bind loops. */
static struct lwt_mvar ping, pong;
static intptr_t pp_rounds;
static size_t pp_errors;

struct pp_step {
    intptr_t i;
};

static lwt_t *a_loop(void *v, void *ctx);

static lwt_t *a_got(void *v, void *ctx)
{
    struct pp_step *s = ctx;
    if (LWT_TO_INT(v) != 2 * s->i)
        pp_errors++;
    return a_loop(NULL, ctx);
}

static lwt_t *a_after_put(void *v, void *ctx)
{
    (void)v;
    struct pp_step *s = ctx;
    return lwt_bind(lwt_mvar_take(&pong), a_got, LWT_CTX(*s));
}

static lwt_t *a_loop(void *v, void *ctx)
{
    (void)v;
    struct pp_step next = {((struct pp_step *)ctx)->i + 1};
    if (next.i > pp_rounds)
        return lwt_return(LWT_INT(pp_rounds));
    return lwt_bind(lwt_mvar_put(&ping, LWT_INT(next.i)), a_after_put, LWT_CTX(next));
}

static lwt_t *b_loop(void *v, void *ctx);

static lwt_t *b_got(void *v, void *ctx)
{
    struct pp_step *s = ctx;
    if (LWT_TO_INT(v) != s->i)
        pp_errors++;
    return lwt_bind(lwt_mvar_put(&pong, LWT_INT(2 * LWT_TO_INT(v))), b_loop, ctx, sizeof *s);
}

static lwt_t *b_loop(void *v, void *ctx)
{
    (void)v;
    struct pp_step next = {((struct pp_step *)ctx)->i + 1};
    if (next.i > pp_rounds)
        return lwt_return(LWT_INT(pp_rounds));
    return lwt_bind(lwt_mvar_take(&ping), b_got, LWT_CTX(next));
}

static void mvar_ping_pong(void **state)
{
    (void)state;
    pp_rounds = (intptr_t)test_scale(100000, 5000);
    pp_errors = 0;
    lwt_mvar_init(&ping);
    lwt_mvar_init(&pong);
    struct pp_step start = {0};
    lwt_t *a = a_loop(NULL, &start);
    lwt_t *b = b_loop(NULL, &start);
    /* The loops run in constant memory whatever the round count. */
    size_t peak = 0;
    while (lwt_has_deferred()) {
        if (lwt_live_count() > peak)
            peak = lwt_live_count();
        lwt_run_deferred(1);
    }
    assert_int_equal(pp_errors, 0);
    assert_int_equal(LWT_TO_INT(lwt_value(a)), pp_rounds);
    assert_int_equal(LWT_TO_INT(lwt_value(b)), pp_rounds);
    assert_true(peak <= 32);
    assert_true(lwt_mvar_is_empty(&ping));
    assert_true(lwt_mvar_is_empty(&pong));
    lwt_unref(a);
    lwt_unref(b);
    lwt_mvar_destroy(&ping);
    lwt_mvar_destroy(&pong);
}

/* A lock wait returned from a bind callback is merged into the bind's
 * result; cancelling that result must take the waiter out of the queue at
 * once, or repeated attempts would pile up behind a held mutex. */
static lwt_t *lock_after(void *v, void *ctx)
{
    (void)v;
    return lwt_mutex_lock(*(struct lwt_mutex **)ctx);
}

static void mutex_merged_wait_cancelled_leaves_queue(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *held = lwt_mutex_lock(&m);
    struct lwt_mutex *mp = &m;
    for (int i = 0; i < 1000; i++) {
        lwt_resolver_t *r;
        lwt_t *attempt = lwt_bind(lwt_wait(&r), lock_after, LWT_CTX(mp));
        lwt_wakeup(r, NULL);
        drain();
        assert_pending(attempt);
        assert_int_equal(m.queue.len, 1);
        lwt_cancel(attempt);
        drain();
        assert_int_equal(lwt_error(attempt), -LWT_ECANCELED);
        assert_int_equal(m.queue.len, 0);
        lwt_unref(attempt);
    }
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(held);
    lwt_mutex_destroy(&m);
}

static void mutex_cancelled_wait_leaves_queue_at_once(void **state)
{
    (void)state;
    struct lwt_mutex m;
    lwt_mutex_init(&m);
    lwt_t *held = lwt_mutex_lock(&m);
    lwt_t *waiting = lwt_mutex_lock(&m);
    assert_int_equal(m.queue.len, 1);
    lwt_cancel(waiting);
    assert_int_equal(m.queue.len, 0);
    drain();
    assert_int_equal(lwt_error(waiting), -LWT_ECANCELED);
    lwt_mutex_unlock(&m);
    assert_false(lwt_mutex_is_locked(&m));
    lwt_unref(waiting);
    lwt_unref(held);
    lwt_mutex_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(mutex_lock_free_is_immediate),
        TEST(mutex_second_locker_waits),
        TEST(mutex_fifo_handoff),
        TEST(mutex_fifo_handoff_chain),
        TEST(mutex_unlock_without_waiters_unlocks),
        TEST(mutex_cancel_queued_lock_is_skipped),
        TEST(mutex_cancel_then_unlock_at_once),
        TEST(mutex_cancel_then_unlock_deep_in_callbacks),
        TEST(mutex_cancel_granted_lock_is_noop),
        TEST(mutex_lock_from_callback_cancel_and_handoff),
        TEST(mutex_with_lock_releases_on_success),
        TEST(mutex_with_lock_releases_on_failure),
        TEST(mutex_with_lock_waits_for_the_mutex),
        TEST(mutex_with_lock_cancel_while_queued),
        TEST(mutex_unlock_unlocked_panics),
        TEST(mutex_destroy_rejects_waiters),
        TEST(condition_signal_wakes_oldest),
        TEST(condition_signal_without_waiters_is_lost),
        TEST(condition_broadcast_wakes_current_waiters_only),
        TEST(condition_broadcast_fail_rejects_all),
        TEST(condition_wait_releases_and_reacquires_mutex),
        TEST(condition_wait_with_mutex_hands_it_to_a_locker),
        TEST(condition_failed_wait_reacquires_mutex),
        TEST(condition_cancel_waiter),
        TEST(condition_cancel_waiter_with_mutex),
        TEST(condition_destroy_rejects_waiters),
        TEST(mvar_put_into_empty),
        TEST(mvar_take_from_full),
        TEST(mvar_take_waits_for_put),
        TEST(mvar_put_waits_when_full),
        TEST(mvar_putters_fifo),
        TEST(mvar_takers_fifo),
        TEST(mvar_take_available),
        TEST(mvar_init_full),
        TEST(mvar_cancel_blocked_put),
        TEST(mvar_cancel_blocked_put_then_take_at_once),
        TEST(mvar_cancel_blocked_take),
        TEST(mvar_cancel_blocked_take_then_put_at_once),
        TEST(mvar_destroy_rejects_waiters),
        TEST(mvar_ping_pong),
        TEST(mutex_merged_wait_cancelled_leaves_queue),
        TEST(mutex_cancelled_wait_leaves_queue_at_once),
    };
    return RUN_TESTS(tests);
}
