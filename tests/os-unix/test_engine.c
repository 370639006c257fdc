/* The event engines, driven directly (no scheduler): every test runs once
 * with "select" and once with "libev". */
#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unix_engine.h"

static const char *engine_names[] = {"select", "libev"};
#define FOR_EACH_ENGINE(e) for (size_t e##_i = 0; e##_i < 2; e##_i++)

struct counted {
    struct unix_watch w;
    int fired;
    unsigned revents;
    bool stop_self;
    bool drain;
    struct unix_engine *e;
};

static void count_cb(struct unix_watch *w, unsigned revents)
{
    struct counted *c = (struct counted *)w;
    c->fired++;
    c->revents = revents;
    if (c->drain) {
        char buf[16];
        while (read(w->fd, buf, sizeof buf) > 0)
            ;
    }
    if (c->stop_self)
        unix_watch_stop(c->e, w);
}

static void counted_init(struct counted *c, struct unix_engine *e, int fd, unsigned events)
{
    memset(c, 0, sizeof *c);
    c->w.fd = fd;
    c->w.events = events;
    c->w.cb = count_cb;
    c->e = e;
}

static void make_pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void open_engine(struct unix_engine *e, size_t i)
{
    assert_int_equal(unix_engine_open(e, engine_names[i]), 0);
    assert_string_equal(e->ops->name, engine_names[i]);
}

static void watch_fires_when_data_arrives(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int sv[2];
        make_pair(sv);
        struct counted c;
        counted_init(&c, &eng, sv[0], UNIX_READABLE);
        c.drain = true;
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_true(c.w.active);
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        assert_int_equal(c.fired, 0);
        assert_int_equal(write(sv[1], "x", 1), 1);
        assert_int_equal(unix_engine_poll(&eng, -1), 0);
        assert_int_equal(c.fired, 1);
        assert_int_equal(c.revents, UNIX_READABLE);
        /* Drained: not ready any more. */
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        assert_int_equal(c.fired, 1);
        unix_watch_stop(&eng, &c.w);
        assert_false(c.w.active);
        /* Stopped: no callback even though data is there. */
        assert_int_equal(write(sv[1], "y", 1), 1);
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        assert_int_equal(c.fired, 1);
        close(sv[0]);
        close(sv[1]);
        unix_engine_close(&eng);
    }
}

static void writable_and_timeout(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int sv[2];
        make_pair(sv);
        struct counted rd, wr;
        counted_init(&rd, &eng, sv[0], UNIX_READABLE);
        counted_init(&wr, &eng, sv[0], UNIX_WRITABLE);
        assert_int_equal(unix_watch_start(&eng, &rd.w), 0);
        assert_int_equal(unix_watch_start(&eng, &wr.w), 0);
        /* A finite timeout returns even though nothing is readable. */
        assert_int_equal(unix_engine_poll(&eng, 1000000), 0);
        assert_int_equal(rd.fired, 0);
        assert_int_equal(wr.fired, 1);
        assert_int_equal(wr.revents, UNIX_WRITABLE);
        unix_watch_stop(&eng, &rd.w);
        unix_watch_stop(&eng, &wr.w);
        close(sv[0]);
        close(sv[1]);
        unix_engine_close(&eng);
    }
}

static void stop_inside_callback(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int sv[2];
        make_pair(sv);
        struct counted c;
        counted_init(&c, &eng, sv[0], UNIX_READABLE);
        c.stop_self = true; /* level-triggered data stays: only stopping ends it */
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_int_equal(write(sv[1], "x", 1), 1);
        for (int i = 0; i < 3; i++)
            assert_int_equal(unix_engine_poll(&eng, 0), 0);
        assert_int_equal(c.fired, 1);
        assert_false(c.w.active);
        /* It can be started again. */
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        assert_int_equal(c.fired, 2);
        close(sv[0]);
        close(sv[1]);
        unix_engine_close(&eng);
    }
}

/* Stopping a watch and starting one on the same descriptor again, within a
 * turn or after one, keeps it watched (the libev engine reuses the stopped
 * registration for this). */
static void restart_on_the_same_descriptor(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int sv[2];
        make_pair(sv);
        struct counted c;
        counted_init(&c, &eng, sv[0], UNIX_READABLE);
        c.stop_self = true;
        c.drain = true;
        for (int round = 1; round <= 3; round++) {
            assert_int_equal(unix_watch_start(&eng, &c.w), 0);
            if (round == 3) {
                /* Stopped and started again before any poll. */
                unix_watch_stop(&eng, &c.w);
                assert_int_equal(unix_watch_start(&eng, &c.w), 0);
            }
            assert_int_equal(write(sv[1], "x", 1), 1);
            assert_int_equal(unix_engine_poll(&eng, 2000000000), 0);
            assert_int_equal(c.fired, round);
            /* A turn with the watch stopped, as a busy loop would have. */
            assert_int_equal(unix_engine_poll(&eng, 0), 0);
        }
        /* The other direction on the same descriptor is a different watch. */
        counted_init(&c, &eng, sv[0], UNIX_WRITABLE);
        c.stop_self = true;
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_int_equal(unix_engine_poll(&eng, 2000000000), 0);
        assert_int_equal(c.fired, 1);
        assert_int_equal(c.revents, UNIX_WRITABLE);
        close(sv[0]);
        close(sv[1]);
        unix_engine_close(&eng);
    }
}

/* A descriptor closed (after unix_engine_forget_fd) and reopened under the
 * same number in the same turn is a new file, and is watched as one. */
static void reopened_descriptor_after_forget(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int sv[2];
        make_pair(sv);
        struct counted c;
        counted_init(&c, &eng, sv[0], UNIX_READABLE);
        c.stop_self = true;
        c.drain = true;
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_int_equal(write(sv[1], "x", 1), 1);
        assert_int_equal(unix_engine_poll(&eng, 2000000000), 0);
        assert_int_equal(c.fired, 1);
        int old0 = sv[0], old1 = sv[1];
        unix_engine_forget_fd(&eng, sv[0]);
        close(sv[0]);
        close(sv[1]);
        make_pair(sv);
        assert_int_equal(sv[0], old0); /* the lowest free numbers come back */
        assert_int_equal(sv[1], old1);
        assert_int_equal(unix_watch_start(&eng, &c.w), 0);
        assert_int_equal(write(sv[1], "y", 1), 1);
        assert_int_equal(unix_engine_poll(&eng, 2000000000), 0);
        assert_int_equal(c.fired, 2);
        close(sv[0]);
        close(sv[1]);
        unix_engine_close(&eng);
    }
}

/* A callback that stops (and would free) another ready watch: that one must
 * not be called afterwards. */
struct pair_stop {
    struct unix_watch w;
    struct unix_engine *e;
    struct pair_stop *other;
    int fired;
};

static void stop_other_cb(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    struct pair_stop *p = (struct pair_stop *)w;
    p->fired++;
    unix_watch_stop(p->e, &p->w);
    unix_watch_stop(p->e, &p->other->w);
}

static void stop_other_inside_callback(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        int a[2], b[2];
        make_pair(a);
        make_pair(b);
        struct pair_stop pa = {.w = {.fd = a[0], .events = UNIX_READABLE, .cb = stop_other_cb}, .e = &eng};
        struct pair_stop pb = {.w = {.fd = b[0], .events = UNIX_READABLE, .cb = stop_other_cb}, .e = &eng};
        pa.other = &pb;
        pb.other = &pa;
        assert_int_equal(unix_watch_start(&eng, &pa.w), 0);
        assert_int_equal(unix_watch_start(&eng, &pb.w), 0);
        assert_int_equal(write(a[1], "x", 1), 1);
        assert_int_equal(write(b[1], "x", 1), 1);
        assert_int_equal(unix_engine_poll(&eng, -1), 0);
        assert_int_equal(pa.fired + pb.fired, 1);
        assert_false(pa.w.active);
        assert_false(pb.w.active);
        close(a[0]);
        close(a[1]);
        close(b[0]);
        close(b[1]);
        unix_engine_close(&eng);
    }
}

static void many_watches(void **state)
{
    (void)state;
    enum { N = 200 };
    FOR_EACH_ENGINE(e)
    {
        struct unix_engine eng;
        open_engine(&eng, e_i);
        static int sv[N][2];
        static struct counted c[N];
        for (int i = 0; i < N; i++) {
            make_pair(sv[i]);
            counted_init(&c[i], &eng, sv[i][0], UNIX_READABLE);
            c[i].drain = true;
            assert_int_equal(unix_watch_start(&eng, &c[i].w), 0);
        }
        /* Every third one becomes ready. */
        int expected = 0;
        for (int i = 0; i < N; i += 3) {
            assert_int_equal(write(sv[i][1], "x", 1), 1);
            expected++;
        }
        int total = 0;
        while (total < expected) {
            assert_int_equal(unix_engine_poll(&eng, -1), 0);
            total = 0;
            for (int i = 0; i < N; i++)
                total += c[i].fired;
        }
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(c[i].fired, i % 3 == 0 ? 1 : 0);
            unix_watch_stop(&eng, &c[i].w);
            close(sv[i][0]);
            close(sv[i][1]);
        }
        unix_engine_close(&eng);
    }
}

/* Raises the descriptor limit to at least `want`; false if it cannot. */
static bool raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur >= want)
        return true;
    if (rl.rlim_max < want)
        rl.rlim_max = want; /* needs privilege; may fail */
    rl.rlim_cur = want;
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static void select_refuses_fd_beyond_fd_setsize(void **state)
{
    (void)state;
    enum { HIGH = 1100 };
    _Static_assert(HIGH >= FD_SETSIZE, "the descriptor must be past FD_SETSIZE");
    if (!raise_nofile(HIGH + 1)) {
        fprintf(stderr, "cannot raise RLIMIT_NOFILE past %d: skipped\n", HIGH);
        skip();
    }
    int sv[2];
    make_pair(sv);
    assert_int_equal(dup2(sv[0], HIGH), HIGH);
    struct unix_engine eng;
    assert_int_equal(unix_engine_open(&eng, "select"), 0);
    struct counted c;
    counted_init(&c, &eng, HIGH, UNIX_READABLE);
    assert_int_equal(unix_watch_start(&eng, &c.w), -LWT_ERANGE);
    assert_false(c.w.active);
    /* The engine still works for descriptors it can take. */
    counted_init(&c, &eng, sv[0], UNIX_READABLE);
    assert_int_equal(unix_watch_start(&eng, &c.w), 0);
    unix_watch_stop(&eng, &c.w);
    unix_engine_close(&eng);
    /* libev takes it. */
    assert_int_equal(unix_engine_open(&eng, "libev"), 0);
    counted_init(&c, &eng, HIGH, UNIX_READABLE);
    assert_int_equal(unix_watch_start(&eng, &c.w), 0);
    assert_int_equal(write(sv[1], "x", 1), 1);
    assert_int_equal(unix_engine_poll(&eng, -1), 0);
    assert_int_equal(c.fired, 1);
    unix_watch_stop(&eng, &c.w);
    unix_engine_close(&eng);
    close(HIGH);
    close(sv[0]);
    close(sv[1]);
}

/* With room for 2N descriptors both ends stay open and readiness comes
 * twice; where the hard limit is lower (it cannot always be raised), the
 * writers are closed once they have written, and the data plus end of file
 * keep each reader ready until its callback stops the watch. */
static void eof_cb(struct unix_watch *w, unsigned revents)
{
    struct counted *c = (struct counted *)w;
    c->fired++;
    c->revents = revents;
    char buf[16];
    while (read(w->fd, buf, sizeof buf) > 0)
        ;
    unix_watch_stop(c->e, w);
}

static void libev_ten_thousand_ready_at_once(void **state)
{
    (void)state;
    enum { N = 10000 };
    bool both_ends = raise_nofile(2 * N + 100);
    if (!both_ends && !raise_nofile(N + 100)) {
        fprintf(stderr, "cannot raise RLIMIT_NOFILE to %d: skipped\n", N + 100);
        skip();
    }
    struct unix_engine eng;
    assert_int_equal(unix_engine_open(&eng, "libev"), 0);
    int(*sv)[2] = calloc(N, sizeof *sv);
    struct counted *c = calloc(N, sizeof *c);
    assert_non_null(sv);
    assert_non_null(c);
    for (int i = 0; i < N; i++) {
        make_pair(sv[i]);
        counted_init(&c[i], &eng, sv[i][0], UNIX_READABLE);
        c[i].drain = true;
        if (!both_ends) {
            c[i].w.cb = eof_cb;
            assert_int_equal(write(sv[i][1], "x", 1), 1);
            close(sv[i][1]);
            sv[i][1] = -1;
        }
        assert_int_equal(unix_watch_start(&eng, &c[i].w), 0);
    }
    int rounds = both_ends ? 2 : 1;
    for (int round = 1; round <= rounds; round++) {
        for (int i = 0; i < N && both_ends; i++)
            assert_int_equal(write(sv[i][1], "x", 1), 1);
        long total = 0;
        while (total < (long)N * round) {
            assert_int_equal(unix_engine_poll(&eng, -1), 0);
            total = 0;
            for (int i = 0; i < N; i++)
                total += c[i].fired;
        }
        assert_int_equal(unix_engine_poll(&eng, 0), 0);
        for (int i = 0; i < N; i++) {
            assert_int_equal(c[i].fired, round);
            assert_int_equal(c[i].revents, UNIX_READABLE);
        }
    }
    for (int i = 0; i < N; i++) {
        unix_watch_stop(&eng, &c[i].w);
        close(sv[i][0]);
        if (sv[i][1] >= 0)
            close(sv[i][1]);
    }
    unix_engine_close(&eng);
    free(sv);
    free(c);
}

static void unknown_engine_is_einval(void **state)
{
    (void)state;
    struct unix_engine eng;
    assert_int_equal(unix_engine_open(&eng, "kqueue"), -LWT_EINVAL);
    assert_null(eng.ops);
    unix_engine_close(&eng); /* harmless on a failed open */
}

static void engine_from_environment(void **state)
{
    (void)state;
    struct unix_engine eng;
    assert_int_equal(setenv("TESSERA_ENGINE", "select", 1), 0);
    assert_int_equal(unix_engine_open(&eng, NULL), 0);
    assert_string_equal(eng.ops->name, "select");
    unix_engine_close(&eng);
    assert_int_equal(setenv("TESSERA_ENGINE", "nonesuch", 1), 0);
    assert_int_equal(unix_engine_open(&eng, NULL), -LWT_EINVAL);
    assert_int_equal(unsetenv("TESSERA_ENGINE"), 0);
    assert_int_equal(unix_engine_open(&eng, NULL), 0);
    assert_string_equal(eng.ops->name, "libev");
    unix_engine_close(&eng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(watch_fires_when_data_arrives),
        TEST(writable_and_timeout),
        TEST(stop_inside_callback),
        TEST(stop_other_inside_callback),
        TEST(restart_on_the_same_descriptor),
        TEST(reopened_descriptor_after_forget),
        TEST(many_watches),
        TEST(select_refuses_fd_beyond_fd_setsize),
        TEST(libev_ten_thousand_ready_at_once),
        TEST(unknown_engine_is_einval),
        TEST(engine_from_environment),
    };
    return RUN_TESTS(tests);
}
