/* I/O promises on the real platform: every test runs under the "select"
 * and the "libev" engine, with sched_run driving the loop. */
#include "test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scheduler.h"
#include "unix_io.h"
#include "unix_platform.h"

static const char *const engine_names[] = {"select", "libev"};
#define FOR_EACH_ENGINE(e)                                                                                             \
    for (size_t e = 0; e < 2; e++)                                                                                     \
        for (int once_ = (start_platform(engine_names[e]), 1); once_; once_ = (stop_platform(), 0))

static void start_platform(const char *name)
{
    assert_int_equal(unix_platform_start(name), 0);
    assert_string_equal(unix_platform_engine()->ops->name, name);
}

static void stop_platform(void)
{
    assert_int_equal(unix_io_watch_count(), 0);
    unix_platform_stop();
}

/* A failed assertion leaves the test midway: stop the platform anyway, so
 * that the next test can start it. */
static int io_teardown(void **state)
{
    unix_platform_stop();
    return test_teardown(state);
}
#define TEST_IO(f) cmocka_unit_test_setup_teardown(f, test_setup, io_teardown)

static void make_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void close_pair(int sv[2])
{
    unix_close(sv[0]);
    unix_close(sv[1]);
}

static void read_and_write(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[16] = {0};
        lwt_t *rd = unix_read(sv[0], buf, sizeof buf);
        assert_pending(rd);
        assert_int_equal(unix_io_watch_count(), 1);
        lwt_t *wr = unix_write(sv[1], "hello", 5);
        void *v = NULL;
        assert_int_equal(sched_run(wr, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 5);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 5);
        assert_memory_equal(buf, "hello", 5);
        close_pair(sv);
    }
}

/* A short read marks the descriptor drained: the next read waits for
 * readiness instead of trying at once, and still gets what arrives. A read
 * that fills its buffer leaves the next one to try at once. */
static void short_read_waits_for_readiness(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[8] = {0};
        void *v = NULL;
        assert_int_equal(write(sv[1], "abcd", 4), 4);
        /* Full: 2 of 4. */
        lwt_t *rd = unix_read(sv[0], buf, 2);
        assert_int_equal(lwt_state(rd), LWT_FULFILLED);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 2);
        /* So the next one tries at once, and comes back short: 2 of 8. */
        rd = unix_read(sv[0], buf, sizeof buf);
        assert_int_equal(lwt_state(rd), LWT_FULFILLED);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 2);
        assert_memory_equal(buf, "cd", 2);
        /* Data is there, but after a short read the next one waits. */
        assert_int_equal(write(sv[1], "e", 1), 1);
        rd = unix_read(sv[0], buf, sizeof buf);
        assert_pending(rd);
        assert_int_equal(unix_io_watch_count(), 1);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 1);
        assert_int_equal(buf[0], 'e');
        assert_int_equal(unix_io_watch_count(), 0);
        /* recv follows the same hint; unix_close clears it. */
        assert_int_equal(write(sv[1], "f", 1), 1);
        rd = unix_recv(sv[0], buf, sizeof buf, 0);
        assert_pending(rd);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 1);
        int old = sv[0];
        close_pair(sv);
        make_pair(sv);
        assert_int_equal(sv[0], old);
        assert_int_equal(write(sv[1], "g", 1), 1);
        rd = unix_read(sv[0], buf, sizeof buf);
        assert_int_equal(lwt_state(rd), LWT_FULFILLED);
        lwt_unref(rd);
        close_pair(sv);
    }
}

/* A transfer much larger than the socket buffers: the writer has to wait
 * for writability and the reader for readability, many times. */
struct xfer {
    int fd;
    unsigned char *buf;
    size_t len, done;
};

static lwt_t *write_more(void *v, void *ctx)
{
    struct xfer *x = *(struct xfer **)ctx;
    x->done += (size_t)LWT_TO_INT(v);
    if (x->done == x->len)
        return lwt_return(NULL);
    return lwt_bind(unix_write(x->fd, x->buf + x->done, x->len - x->done), write_more, ctx, sizeof x);
}

static lwt_t *read_chunk(struct xfer **ctx);

static lwt_t *read_more(void *v, void *ctx)
{
    struct xfer *x = *(struct xfer **)ctx;
    if (v == NULL)
        return lwt_fail(LWT_EPROTO); /* early end of file */
    x->done += (size_t)LWT_TO_INT(v);
    if (x->done == x->len)
        return lwt_return(NULL);
    return read_chunk(ctx);
}

static lwt_t *read_chunk(struct xfer **ctx)
{
    struct xfer *x = *ctx;
    size_t chunk = x->len - x->done < 7000 ? x->len - x->done : 7000;
    return lwt_bind(unix_recv(x->fd, x->buf + x->done, chunk, 0), read_more, ctx, sizeof x);
}

static void large_transfer_waits_both_ways(void **state)
{
    (void)state;
    enum { LEN = 4 << 20 };
    unsigned char *src = malloc(LEN), *dst = malloc(LEN);
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < LEN; i++)
        src[i] = (unsigned char)(i * 7 + (i >> 13));
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        memset(dst, 0, LEN);
        struct xfer w = {sv[0], src, LEN, 0}, r = {sv[1], dst, LEN, 0};
        struct xfer *wp = &w, *rp = &r;
        lwt_t *both[2] = {write_more(NULL, &wp), read_chunk(&rp)};
        assert_int_equal(sched_run(lwt_join(both, 2), NULL), 0);
        assert_int_equal(w.done, LEN);
        assert_int_equal(r.done, LEN);
        assert_memory_equal(src, dst, LEN);
        close_pair(sv);
    }
    free(src);
    free(dst);
}

static void recv_and_send(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[8] = {0};
        lwt_t *rd = unix_recv(sv[0], buf, sizeof buf, 0);
        assert_pending(rd);
        void *v = NULL;
        assert_int_equal(sched_run(unix_send(sv[1], "abc", 3, 0), &v), 0);
        assert_int_equal(LWT_TO_INT(v), 3);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_int_equal(LWT_TO_INT(v), 3);
        assert_memory_equal(buf, "abc", 3);
        /* MSG_PEEK passes through. */
        assert_int_equal(sched_run(unix_send(sv[1], "z", 1, 0), NULL), 0);
        assert_int_equal(sched_run(unix_recv(sv[0], buf, 1, MSG_PEEK), &v), 0);
        assert_int_equal(sched_run(unix_recv(sv[0], buf + 1, 1, 0), &v), 0);
        assert_int_equal(buf[0], 'z');
        assert_int_equal(buf[1], 'z');
        close_pair(sv);
    }
}

static int listen_loopback(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = 0; /* ephemeral */
    assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
    socklen_t len = sizeof *addr;
    assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static void accept_and_connect(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct sockaddr_in addr;
        int lfd = listen_loopback(&addr);
        lwt_t *acc = unix_accept(lfd);
        assert_pending(acc);
        int cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(cfd >= 0);
        void *values[2] = {NULL, NULL};
        lwt_t *both = lwt_both(acc, unix_connect(cfd, (struct sockaddr *)&addr, sizeof addr), values);
        assert_int_equal(sched_run(both, NULL), 0);
        int sfd = (int)LWT_TO_INT(values[0]);
        assert_true(sfd > 2);
        assert_true(fcntl(sfd, F_GETFL) & O_NONBLOCK);
        /* The two ends talk. */
        char buf[4] = {0};
        lwt_t *rd = unix_read(sfd, buf, sizeof buf);
        void *v = NULL;
        assert_int_equal(sched_run(unix_write(cfd, "ping", 4), NULL), 0);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_true(LWT_TO_INT(v) >= 1);
        assert_memory_equal(buf, "ping", (size_t)LWT_TO_INT(v));
        unix_close(sfd);
        unix_close(cfd);
        unix_close(lfd);
    }
}

static void connect_refused(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        /* A port that was just free: nothing listens there. */
        struct sockaddr_in addr;
        int lfd = listen_loopback(&addr);
        unix_close(lfd);
        int cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(cfd >= 0);
        lwt_t *c = unix_connect(cfd, (struct sockaddr *)&addr, sizeof addr);
        assert_int_equal(sched_run(c, NULL), -LWT_ECONNREFUSED);
        unix_close(cfd);
    }
}

static void read_returns_zero_at_eof(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[8];
        /* Pending when the peer goes away. */
        lwt_t *rd = unix_read(sv[0], buf, sizeof buf);
        assert_pending(rd);
        unix_close(sv[1]);
        void *v = LWT_INT(99);
        assert_int_equal(sched_run(rd, &v), 0);
        assert_null(v);
        /* And at once when it already has. */
        v = LWT_INT(99);
        assert_int_equal(sched_run(unix_read(sv[0], buf, sizeof buf), &v), 0);
        assert_null(v);
        unix_close(sv[0]);
    }
}

static void errors_are_negative_errno(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        unix_close(sv[1]);
        assert_int_equal(sched_run(unix_write(sv[0], "x", 1), NULL), -LWT_EPIPE);
        assert_int_equal(sched_run(unix_send(sv[0], "x", 1, 0), NULL), -LWT_EPIPE);
        unix_close(sv[0]);
        char buf[4];
        assert_int_equal(sched_run(unix_read(sv[0], buf, sizeof buf), NULL), -LWT_EBADF);
        assert_int_equal(sched_run(unix_accept(sv[0]), NULL), -LWT_EBADF);
        /* Not a listening socket. */
        make_pair(sv);
        assert_int_equal(sched_run(unix_accept(sv[0]), NULL), -LWT_EINVAL);
        close_pair(sv);
    }
    signal(SIGPIPE, SIG_DFL);
}

static void wait_readable_and_writable(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        lwt_t *r = unix_wait_readable(sv[0]);
        assert_pending(r);
        assert_int_equal(sched_run(unix_wait_writable(sv[1]), NULL), 0);
        assert_pending(r);
        assert_int_equal(write(sv[1], "x", 1), 1);
        assert_int_equal(sched_run(r, NULL), 0);
        close_pair(sv);
    }
}

static void *identity(void *v, void *ctx)
{
    (void)ctx;
    return v;
}

static void cancel_frees_the_watcher(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[4];
        lwt_t *rd = unix_read(sv[0], buf, sizeof buf);
        lwt_t *rd2 = unix_recv(sv[0], buf, sizeof buf, 0);
        assert_int_equal(unix_io_watch_count(), 2);
        lwt_cancel(rd);
        drain();
        assert_int_equal(unix_io_watch_count(), 1);
        assert_int_equal(lwt_error(rd), -LWT_ECANCELED);
        lwt_unref(rd);
        /* Through a bind too. */
        lwt_t *chain = lwt_map(rd2, identity, LWT_NOCTX);
        lwt_cancel(chain);
        drain();
        assert_int_equal(unix_io_watch_count(), 0);
        assert_int_equal(lwt_error(chain), -LWT_ECANCELED);
        lwt_unref(chain);
        /* Data that arrives later is still there. */
        assert_int_equal(write(sv[1], "q", 1), 1);
        void *v = NULL;
        assert_int_equal(sched_run(unix_read(sv[0], buf, sizeof buf), &v), 0);
        assert_int_equal(LWT_TO_INT(v), 1);
        close_pair(sv);
    }
}

static void timeout_around_a_read(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        int sv[2];
        make_pair(sv);
        char buf[4];
        lwt_t *p = sched_with_timeout(unix_read(sv[0], buf, sizeof buf), 20 * SCHED_NS_PER_MS);
        assert_int_equal(sched_run(p, NULL), -LWT_ETIMEDOUT);
        drain();
        assert_int_equal(unix_io_watch_count(), 0);
        assert_int_equal(sched_timer_count(), 0);
        close_pair(sv);
    }
}

static void needs_the_platform(void **state)
{
    (void)state;
    int sv[2];
    make_pair(sv);
    char buf[4];
    lwt_t *p = unix_read(sv[0], buf, sizeof buf);
    assert_int_equal(lwt_error(p), -LWT_EINVAL);
    lwt_unref(p);
    assert_int_equal(unix_io_watch_count(), 0);
    close_pair(sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_IO(read_and_write),
        TEST_IO(short_read_waits_for_readiness),
        TEST_IO(large_transfer_waits_both_ways),
        TEST_IO(recv_and_send),
        TEST_IO(accept_and_connect),
        TEST_IO(connect_refused),
        TEST_IO(read_returns_zero_at_eof),
        TEST_IO(errors_are_negative_errno),
        TEST_IO(wait_readable_and_writable),
        TEST_IO(cancel_frees_the_watcher),
        TEST_IO(timeout_around_a_read),
        TEST_IO(needs_the_platform),
    };
    return RUN_TESTS(tests);
}
