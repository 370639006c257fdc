/* The scheduler against a virtual platform: time moves only when the loop
 * blocks, straight to the deadline it asked for, so every test is exact and
 * none depends on the machine's speed. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

/* ---- The virtual platform ------------------------------------------------ */

static uint64_t vnow;
static size_t blocks;          /* calls to block */
static size_t polls;           /* calls that asked not to wait */
static int block_error;        /* returned by block when set */
static void (*on_block)(void); /* an "event source" the test plays */

static uint64_t virtual_now(void *ctx)
{
    (void)ctx;
    return vnow;
}

static int virtual_block(void *ctx, uint64_t deadline)
{
    (void)ctx;
    blocks++;
    if (block_error)
        return block_error;
    if (deadline <= vnow)
        polls++;
    else if (deadline != SCHED_FOREVER)
        vnow = deadline;
    if (on_block)
        on_block();
    else if (deadline == SCHED_FOREVER)
        return -LWT_EBUSY; /* nothing could ever happen: fail, never hang */
    return 0;
}

static int setup(void **state)
{
    static const struct sched_platform platform = {.now = virtual_now, .block = virtual_block};
    vnow = 1000;
    blocks = polls = 0;
    block_error = 0;
    on_block = NULL;
    sched_init(&platform);
    return test_setup(state);
}

static int teardown(void **state)
{
    sched_destroy();
    return test_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- Sleeping ------------------------------------------------------------ */

static void sleep_fires_at_its_deadline(void **state)
{
    (void)state;
    void *v = LWT_INT(9);
    assert_int_equal(sched_run(sched_sleep(500), &v), 0);
    assert_null(v);
    assert_int_equal(vnow, 1500);
    assert_int_equal(sched_timer_count(), 0);
}

static void run_returns_main_value_and_error(void **state)
{
    (void)state;
    void *v = NULL;
    assert_int_equal(sched_run(lwt_return(LWT_INT(5)), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 5);
    assert_int_equal(sched_run(lwt_fail(LWT_EIO), &v), -LWT_EIO);
    assert_int_equal(blocks, 0);
}

struct order {
    int log[64];
    int n;
};

static struct order fired;

static void record(void *v, void *ctx)
{
    (void)v;
    fired.log[fired.n++] = *(int *)ctx;
}

static void timers_fire_in_deadline_order_ties_in_insertion_order(void **state)
{
    (void)state;
    static const uint64_t delays[] = {30, 10, 20, 10, 30, 0, 20, 10};
    enum { N = sizeof delays / sizeof delays[0] };
    lwt_t *all[N];
    fired.n = 0;
    for (int i = 0; i < N; i++) {
        all[i] = sched_sleep(delays[i]);
        lwt_on_success(all[i], record, LWT_CTX(i));
    }
    assert_int_equal(sched_run(lwt_join(all, N), NULL), 0);
    static const int expected[] = {5, 1, 3, 7, 2, 6, 0, 4};
    assert_int_equal(fired.n, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(fired.log[i], expected[i]);
}

static void cancelled_sleep_frees_its_timer_at_once(void **state)
{
    (void)state;
    lwt_t *a = sched_sleep(100);
    lwt_t *b = sched_sleep(200);
    assert_int_equal(sched_timer_count(), 2);
    lwt_cancel(a);
    drain(); /* the cancellation's callbacks, deferred in LWT_DEFER_ALL builds */
    assert_int_equal(sched_timer_count(), 1);
    assert_int_equal(lwt_error(a), -LWT_ECANCELED);
    lwt_unref(a);
    assert_int_equal(sched_run(b, NULL), 0);
    assert_int_equal(vnow, 1200);
}

static void cancelling_many_sleeps_leaves_no_timer(void **state)
{
    (void)state;
    lwt_t *ps[1000];
    for (int i = 0; i < 1000; i++)
        ps[i] = sched_sleep((uint64_t)(i % 7) * 10 + 5);
    for (int i = 0; i < 1000; i += 2)
        lwt_cancel(ps[i]);
    drain();
    assert_int_equal(sched_timer_count(), 500);
    lwt_t *all = lwt_join(ps, 1000);
    assert_int_equal(sched_run(all, NULL), -LWT_ECANCELED);
    assert_int_equal(sched_timer_count(), 0);
}

static void sleep_until_past_deadline_fires_next_turn(void **state)
{
    (void)state;
    assert_int_equal(sched_run(sched_sleep_until(10), NULL), 0);
    assert_int_equal(vnow, 1000); /* no waiting */
}

static void huge_sleep_does_not_overflow(void **state)
{
    (void)state;
    lwt_t *p = sched_sleep(UINT64_MAX);
    assert_int_equal(sched_timer_count(), 1);
    lwt_t *race[2] = {p, sched_sleep(1)};
    assert_int_equal(sched_run(lwt_pick(race, 2), NULL), 0);
    assert_int_equal(sched_timer_count(), 0);
}

static void one_million_sleepers_all_complete(void **state)
{
    (void)state;
    size_t n = test_scale(1000000, 20000);
    lwt_t **ps = malloc(n * sizeof *ps);
    assert_non_null(ps);
    uint64_t seed = 42;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        ps[i] = sched_sleep((seed >> 33) % SCHED_NS_PER_S);
    }
    assert_int_equal(sched_timer_count(), n);
    assert_int_equal(sched_run(lwt_join(ps, n), NULL), 0);
    assert_int_equal(sched_timer_count(), 0);
    assert_true(vnow <= 1000 + SCHED_NS_PER_S);
    free(ps);
}

/* ---- Timeouts ------------------------------------------------------------ */

static void timeout_rejects_with_etimedout(void **state)
{
    (void)state;
    assert_int_equal(sched_run(sched_timeout(50), NULL), -LWT_ETIMEDOUT);
    assert_int_equal(vnow, 1050);
}

static void *seven(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return LWT_INT(7);
}

static void with_timeout_result_wins(void **state)
{
    (void)state;
    void *v = NULL;
    lwt_t *p = lwt_map(sched_sleep(10), seven, LWT_NOCTX);
    assert_int_equal(sched_run(sched_with_timeout(p, 100), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 7);
    assert_int_equal(sched_timer_count(), 0); /* the timeout is gone */
}

static void with_timeout_cancels_the_slow_one(void **state)
{
    (void)state;
    lwt_t *slow = sched_sleep(1000);
    lwt_t *watched = lwt_ref(slow);
    assert_int_equal(sched_run(sched_with_timeout(slow, 100), NULL), -LWT_ETIMEDOUT);
    drain();
    assert_int_equal(lwt_error(watched), -LWT_ECANCELED);
    assert_int_equal(sched_timer_count(), 0);
    lwt_unref(watched);
}

/* ---- The loop ------------------------------------------------------------ */

static int steps;

static lwt_t *step(void *v, void *ctx)
{
    (void)ctx;
    if (++steps == 10)
        return lwt_return(v);
    return lwt_bind(sched_pause(), step, LWT_NOCTX);
}

static void pause_resumes_after_a_poll(void **state)
{
    (void)state;
    steps = 0;
    assert_int_equal(sched_run(lwt_bind(sched_pause(), step, LWT_NOCTX), NULL), 0);
    assert_int_equal(steps, 10);
    assert_true(polls >= 10); /* each pause let the platform look at I/O */
    assert_int_equal(vnow, 1000);
}

static void cancelled_pause_is_gone(void **state)
{
    (void)state;
    lwt_t *p = sched_pause();
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);
    assert_int_equal(sched_run(sched_sleep(5), NULL), 0);
    assert_int_equal(polls, 0); /* nothing paused any more: no busy polling */
}

/* A long chain of deferred callbacks must not keep I/O waiting: the loop
 * polls between batches. */
static lwt_t *deep(void *v, void *ctx)
{
    (void)v;
    int left = *(int *)ctx - 1;
    if (left == 0)
        return lwt_return(LWT_INT(1));
    return lwt_bind(lwt_return(NULL), deep, LWT_CTX(left));
}

static void long_work_lets_io_in(void **state)
{
    (void)state;
    int n = 200000;
    void *v = NULL;
    assert_int_equal(sched_run(lwt_bind(lwt_return(NULL), deep, LWT_CTX(n)), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
#ifndef LWT_DEFER_ALL
    /* 200,000 steps deferred every LWT_MAX_INLINE_DEPTH: several batches. */
    assert_true(polls >= 2);
#endif
}

static void never_blocks_while_work_is_ready(void **state)
{
    (void)state;
    /* More ready work than one turn's budget, and a timer far away: the loop
     * must only poll between batches, never wait for the timer. */
    enum { N = 5 * SCHED_BATCH_BUDGET };
    static lwt_t *ps[N + 1];
    static lwt_resolver_t *rs[N];
    for (int i = 0; i < N; i++)
        ps[i] = lwt_wait(&rs[i]);
    ps[N] = sched_sleep(100);
    lwt_t *all = lwt_join(ps, N + 1);
    for (int i = 0; i < N; i++)
        lwt_wakeup_later(rs[i], NULL); /* each queues the join's callback */
    assert_int_equal(sched_run(all, NULL), 0);
    assert_true(polls >= 4);
    assert_int_equal(vnow, 1100);
}

static void platform_error_stops_the_loop(void **state)
{
    (void)state;
    block_error = -LWT_EIO;
    lwt_t *p = sched_sleep(10);
    lwt_t *kept = lwt_ref(p);
    assert_int_equal(sched_run(p, NULL), -LWT_EIO);
    lwt_cancel(kept);
    lwt_unref(kept);
}

/* A sleep or a pause returned straight from a callback is merged into the
 * callback's promise, which takes the timer's hook over: the timer must
 * outlive it (valgrind and ASan see to it that nothing reads freed memory). */
static lwt_t *then_sleep(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return sched_sleep(100);
}

static lwt_t *then_pause(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return sched_pause();
}

static void timers_returned_from_callbacks(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(lwt_bind(sched_pause(), then_sleep, LWT_NOCTX), then_pause, LWT_NOCTX);
    assert_int_equal(sched_run(p, NULL), 0);
    assert_int_equal(vnow, 1100);
    assert_int_equal(sched_timer_count(), 0);
}

/* ---- The main promise's report (sched_run_main) -------------------------- */

static lwt_t *fail_eproto(void *v, void *ctx)
{
    (void)v, (void)ctx;
    return lwt_fail(LWT_EPROTO);
}

static lwt_t *pass_on(void *v, void *ctx)
{
    (void)ctx;
    return lwt_return(v);
}

static size_t output_lines(void)
{
    size_t n = 0;
    for (size_t i = 0; i < test_output_len; i++)
        n += test_output[i] == '\n';
    return n;
}

static void run_main_reports_a_rejected_main(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(sched_sleep(100), fail_eproto, LWT_NOCTX);
    int line = __LINE__ + 1; /* the bind below */
    p = lwt_bind(p, pass_on, LWT_NOCTX);
    test_output_clear();
    assert_int_equal(sched_run_main(p, NULL), -LWT_EPROTO);
    assert_int_equal(output_lines(), 1);
    assert_non_null(strstr(test_output, "main promise rejected"));
    assert_non_null(strstr(test_output, lwt_strerror(LWT_EPROTO)));
    char site[64];
    snprintf(site, sizeof site, "test_sched.c:%d", line);
#ifdef LWT_DEBUG
    assert_non_null(strstr(test_output, site));
#else
    assert_null(strstr(test_output, site));
#endif
}

static void plain_run_reports_nothing(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(lwt_bind(sched_sleep(100), fail_eproto, LWT_NOCTX), pass_on, LWT_NOCTX);
    test_output_clear();
    assert_int_equal(sched_run(p, NULL), -LWT_EPROTO);
    assert_int_equal(test_output_len, 0);
}

static void run_main_is_silent_on_success(void **state)
{
    (void)state;
    void *v = NULL;
    test_output_clear();
    assert_int_equal(sched_run_main(lwt_bind(sched_sleep(100), pass_on, LWT_NOCTX), &v), 0);
    assert_null(v);
    assert_int_equal(sched_run_main(lwt_return(LWT_INT(3)), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 3);
    assert_int_equal(test_output_len, 0);
}

static void run_main_leaves_platform_errors_to_the_caller(void **state)
{
    (void)state;
    block_error = -LWT_EIO;
    lwt_t *p = sched_sleep(10);
    lwt_t *kept = lwt_ref(p);
    test_output_clear();
    assert_int_equal(sched_run_main(p, NULL), -LWT_EIO);
    assert_int_equal(test_output_len, 0);
    lwt_cancel(kept);
    lwt_unref(kept);
}

static lwt_resolver_t *event_resolver;

static void event_arrives(void)
{
    if (event_resolver) {
        lwt_wakeup_later(event_resolver, LWT_INT(11));
        event_resolver = NULL;
    }
}

static void event_source_wakes_a_blocked_loop(void **state)
{
    (void)state;
    lwt_t *p = lwt_wait(&event_resolver);
    on_block = event_arrives;
    void *v = NULL;
    assert_int_equal(sched_run(p, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 11);
    assert_int_equal(blocks, 1);
}

/* ---- Shutdown ------------------------------------------------------------ */

static void shutdown_request_fulfils_the_watchers(void **state)
{
    (void)state;
    lwt_t *a = sched_shutdown_requested();
    lwt_t *b = sched_shutdown_requested();
    assert_ptr_equal(a, b);
    sched_request_shutdown(15);
    void *v = NULL;
    assert_int_equal(sched_run(a, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 15);
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 15);
    lwt_unref(b);
}

static void shutdown_requested_before_anyone_asked(void **state)
{
    (void)state;
    sched_request_shutdown(2);
    void *v = NULL;
    assert_int_equal(sched_run(sched_shutdown_requested(), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 2);
}

static void app_ends_on_shutdown(void **state)
{
    (void)state;
    /* The usual shape: serve until asked to stop. */
    lwt_t *race[2] = {sched_sleep(SCHED_NS_PER_S * 3600), sched_shutdown_requested()};
    lwt_t *main_p = lwt_pick(race, 2);
    sched_request_shutdown(1);
    void *v = NULL;
    assert_int_equal(sched_run(main_p, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
    assert_int_equal(vnow, 1000);             /* stopped at once */
    assert_int_equal(sched_timer_count(), 0); /* pick cancelled the sleep */
}

static void destroy_settles_what_still_waits(void **state)
{
    (void)state;
    lwt_t *s = sched_sleep(100);
    lwt_t *p = sched_pause();
    lwt_t *sd = sched_shutdown_requested();
    sched_destroy();
    drain();
    assert_int_equal(lwt_error(s), -LWT_EBROKEN);
    assert_int_equal(lwt_error(p), -LWT_EBROKEN);
    assert_int_equal(lwt_error(sd), -LWT_EBROKEN);
    lwt_unref(s);
    lwt_unref(p);
    lwt_unref(sd);
    static const struct sched_platform platform = {.now = virtual_now, .block = virtual_block};
    sched_init(&platform); /* for teardown's destroy */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(sleep_fires_at_its_deadline),
        T(run_returns_main_value_and_error),
        T(timers_fire_in_deadline_order_ties_in_insertion_order),
        T(cancelled_sleep_frees_its_timer_at_once),
        T(cancelling_many_sleeps_leaves_no_timer),
        T(sleep_until_past_deadline_fires_next_turn),
        T(huge_sleep_does_not_overflow),
        T(one_million_sleepers_all_complete),
        T(timeout_rejects_with_etimedout),
        T(with_timeout_result_wins),
        T(with_timeout_cancels_the_slow_one),
        T(pause_resumes_after_a_poll),
        T(cancelled_pause_is_gone),
        T(long_work_lets_io_in),
        T(never_blocks_while_work_is_ready),
        T(platform_error_stops_the_loop),
        T(timers_returned_from_callbacks),
        T(run_main_reports_a_rejected_main),
        T(plain_run_reports_nothing),
        T(run_main_is_silent_on_success),
        T(run_main_leaves_platform_errors_to_the_caller),
        T(event_source_wakes_a_blocked_loop),
        T(shutdown_request_fulfils_the_watchers),
        T(shutdown_requested_before_anyone_asked),
        T(app_ends_on_shutdown),
        T(destroy_settles_what_still_waits),
    };
    return RUN_TESTS(tests);
}
