/* The scheduler on the real Unix platform (real time, both engines):
 * timer order, cancellation, scale, pause, signals, clocks, console. */
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scheduler.h"
#include "unix_console.h"
#include "unix_io.h"
#include "unix_platform.h"

static const char *const engine_names[] = {"select", "libev"};
#define FOR_EACH_ENGINE(e)                                                                                             \
    for (size_t e = 0; e < 2; e++)                                                                                     \
        for (int once_ = (start_platform(engine_names[e]), 1); once_; once_ = (unix_platform_stop(), 0))

static void start_platform(const char *name)
{
    assert_int_equal(unix_platform_start(name), 0);
}

static int platform_teardown(void **state)
{
    unix_platform_stop();
    return test_teardown(state);
}
#define TEST_P(f) cmocka_unit_test_setup_teardown(f, test_setup, platform_teardown)

/* ---- Timer order --------------------------------------------------------- */

static int order[64];
static size_t order_len;

static void record(void *v, void *ctx)
{
    (void)v;
    order[order_len++] = *(int *)ctx;
}

static void sleeps_fire_in_deadline_order(void **state)
{
    (void)state;
    enum { N = 50 };
    FOR_EACH_ENGINE(e)
    {
        order_len = 0;
        uint64_t base = sched_now() + 5 * SCHED_NS_PER_MS;
        uint64_t deadline[N];
        lwt_t *ps[N];
        for (int i = 0; i < N; i++) {
            /* Ten distinct deadlines, five sleeps on each, created out of order. */
            deadline[i] = base + (uint64_t)((i * 7) % 10) * SCHED_NS_PER_MS;
            ps[i] = sched_sleep_until(deadline[i]);
            lwt_on_success(ps[i], record, &i, sizeof i);
        }
        assert_int_equal(sched_timer_count(), N);
        assert_int_equal(sched_run(lwt_join(ps, N), NULL), 0);
        assert_int_equal(order_len, N);
        /* Expected: by deadline, ties in creation order (a stable sort). */
        int expect[N];
        size_t k = 0;
        for (int d = 0; d < 10; d++)
            for (int i = 0; i < N; i++)
                if (deadline[i] == base + (uint64_t)d * SCHED_NS_PER_MS)
                    expect[k++] = i;
        assert_int_equal(k, N);
        assert_memory_equal(order, expect, sizeof expect);
        assert_int_equal(sched_timer_count(), 0);
    }
}

static void sleep_does_not_fire_early(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        uint64_t start = sched_now();
        assert_int_equal(sched_run(sched_sleep(3 * SCHED_NS_PER_MS), NULL), 0);
        assert_true(sched_now() - start >= 3 * SCHED_NS_PER_MS);
    }
}

static void cancelled_sleep_frees_its_timer(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        lwt_t *keep = sched_sleep(SCHED_NS_PER_S);
        lwt_t *p = sched_sleep(SCHED_NS_PER_S);
        assert_int_equal(sched_timer_count(), 2);
        lwt_cancel(p);
        drain();
        assert_int_equal(sched_timer_count(), 1);
        assert_int_equal(lwt_error(p), -LWT_ECANCELED);
        lwt_unref(p);
        lwt_cancel(keep);
        drain();
        assert_int_equal(sched_timer_count(), 0);
        lwt_unref(keep);
    }
}

/* ---- Scale --------------------------------------------------------------- */

static size_t completed;

static void count_one(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    completed++;
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void million_sleepers(void **state)
{
    (void)state;
    size_t n = test_scale(1000000, 20000);
    lwt_t **ps = malloc(n * sizeof *ps);
    assert_non_null(ps);
    FOR_EACH_ENGINE(e)
    {
        uint64_t seed = 0x9e3779b97f4a7c15ull;
        completed = 0;
        uint64_t now = sched_now();
        for (size_t i = 0; i < n; i++) {
            ps[i] = sched_sleep_until(now + xorshift(&seed) % (200 * SCHED_NS_PER_MS + 1));
            lwt_on_success(ps[i], count_one, LWT_NOCTX);
        }
        assert_int_equal(sched_timer_count(), n);
        assert_int_equal(sched_run(lwt_join(ps, n), NULL), 0);
        assert_int_equal(completed, n);
        assert_int_equal(sched_timer_count(), 0);
    }
    free(ps);
}

/* ---- Pause --------------------------------------------------------------- */

static void pause_resolves_after_a_poll(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        assert_int_equal(write(sv[1], "x", 1), 1);
        order_len = 0;
        /* The descriptor is ready before the pause is made; the pause must
         * still come second, since I/O is polled before paused work goes on. */
        int one = 1, two = 2;
        lwt_t *r = unix_wait_readable(sv[0]);
        lwt_on_success(r, record, &one, sizeof one);
        lwt_t *p = sched_pause();
        lwt_on_success(p, record, &two, sizeof two);
        assert_pending(p);
        lwt_t *both[2] = {r, p};
        assert_int_equal(sched_run(lwt_join(both, 2), NULL), 0);
        assert_int_equal(order_len, 2);
        assert_int_equal(order[0], 1);
        assert_int_equal(order[1], 2);
        close(sv[0]);
        close(sv[1]);
    }
}

/* ---- Signals ------------------------------------------------------------- */

static void *do_raise(void *v, void *ctx)
{
    raise(*(int *)ctx);
    return v;
}

static void signal_requests_shutdown(void **state)
{
    (void)state;
    static const int sigs[] = {SIGTERM, SIGINT};
    for (size_t s = 0; s < 2; s++) {
        FOR_EACH_ENGINE(e)
        {
            /* Something long-running, which the shutdown must not wait for. */
            lwt_t *idle = sched_sleep(60 * SCHED_NS_PER_S);
            lwt_async(lwt_map(sched_sleep(SCHED_NS_PER_MS), do_raise, &sigs[s], sizeof sigs[s]), NULL, LWT_NOCTX);
            void *v = NULL;
            assert_int_equal(sched_run(sched_shutdown_requested(), &v), 0);
            assert_int_equal(LWT_TO_INT(v), sigs[s]);
            lwt_cancel(idle);
            lwt_unref(idle);
        }
    }
    /* The platform's handlers are gone again. */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);
}

/* ---- Clocks -------------------------------------------------------------- */

static void clocks(void **state)
{
    (void)state;
    uint64_t a = unix_clock_monotonic();
    uint64_t b = unix_clock_monotonic();
    assert_true(b >= a);
    /* After 2020-01-01. */
    assert_true(unix_clock_wall() > 1577836800ull * SCHED_NS_PER_S);
    start_platform("libev");
    assert_true(sched_now() >= b);
    unix_platform_stop();
}

static void start_twice_and_unknown_engine(void **state)
{
    (void)state;
    assert_int_equal(unix_platform_start("nonesuch"), -LWT_EINVAL);
    assert_null(unix_platform_engine());
    start_platform("select");
    assert_int_equal(unix_platform_start("select"), -LWT_EBUSY);
    unix_platform_stop();
    unix_platform_stop(); /* harmless */
}

/* ---- Console ------------------------------------------------------------- */

struct sink {
    int fd;
    char *buf;
    size_t len, want;
};

static lwt_t *sink_more(void *v, void *ctx)
{
    struct sink *k = *(struct sink **)ctx;
    k->len += (size_t)LWT_TO_INT(v);
    if (k->len == k->want)
        return lwt_return(NULL);
    return lwt_bind(unix_read(k->fd, k->buf + k->len, k->want - k->len), sink_more, ctx, sizeof k);
}

#define LINES 1500 /* more than a pipe holds, less than pipe + console buffer */

static lwt_t *console_burst(void *v, void *ctx)
{
    (void)v;
    const char *text = *(const char **)ctx;
    size_t len = strlen(text);
    for (int i = 0; i < LINES; i++)
        if (unix_console_write(UNIX_CONSOLE_STDOUT, text, len) != 0)
            return lwt_fail(LWT_EIO);
    return lwt_return(NULL);
}

/* Output into a pipe that only the loop itself reads: the console must not
 * block, and everything must come out, in order. */
static void console_writes_without_blocking(void **state)
{
    (void)state;
    static const char *text = "The quick brown fox jumps over the lazy dog 0123456789\n";
    size_t len = strlen(text), total = LINES * len;
    FOR_EACH_ENGINE(e)
    {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        assert_int_equal(unix_set_nonblocking(pfd[0]), 0);
        fflush(stdout);
        int saved = dup(STDOUT_FILENO);
        assert_true(saved >= 0);
        assert_int_equal(dup2(pfd[1], STDOUT_FILENO), STDOUT_FILENO);
        close(pfd[1]);

        struct sink k = {pfd[0], malloc(total), 0, total};
        struct sink *kp = &k;
        assert_non_null(k.buf);
        lwt_t *both[2] = {lwt_bind(sched_pause(), console_burst, &text, sizeof text), sink_more(LWT_INT(0), &kp)};
        int rc = sched_run(lwt_join(both, 2), NULL);
        size_t pending = unix_console_pending(UNIX_CONSOLE_STDOUT);
        assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
        close(saved);
        assert_int_equal(rc, 0);
        assert_int_equal(pending, 0);
        assert_int_equal(k.len, total);
        for (size_t i = 0; i < total; i += len)
            assert_memory_equal(k.buf + i, text, len);
        close(pfd[0]);
        free(k.buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_P(sleeps_fire_in_deadline_order),
        TEST_P(sleep_does_not_fire_early),
        TEST_P(cancelled_sleep_frees_its_timer),
        TEST_P(million_sleepers),
        TEST_P(pause_resolves_after_a_poll),
        TEST_P(signal_requests_shutdown),
        TEST_P(clocks),
        TEST_P(start_twice_and_unknown_engine),
        TEST_P(console_writes_without_blocking),
    };
    return RUN_TESTS(tests);
}
