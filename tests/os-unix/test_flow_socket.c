/* Flows over the kernel's TCP sockets, on 127.0.0.1, under the "select"
 * and the "libev" engine, with sched_run driving the loop. */
#include "test_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scheduler.h"
#include "unix_flow_socket.h"
#include "unix_io.h"
#include "unix_platform.h"

static const char *const engine_names[] = {"select", "libev"};
static struct flow_stack *fs;

static void start(const char *engine)
{
    assert_int_equal(unix_platform_start(engine), 0);
    assert_int_equal(unix_flow_socket_new(NULL, &fs), 0);
}

/* Everything closed: no flow, listener or watch is left once the loop has
 * run the last callbacks. */
static void stop(void)
{
    sched_run(sched_pause(), NULL);
    struct unix_flow_socket_stats st;
    unix_flow_socket_stats(fs, &st);
    assert_int_equal(st.live, 0);
    assert_int_equal(unix_io_watch_count(), 0);
    unix_flow_socket_free(fs);
    fs = NULL;
    unix_platform_stop();
}

#define FOR_EACH_ENGINE(e)                                                                                             \
    for (size_t e = 0; e < 2; e++)                                                                                     \
        for (int once_ = (start(engine_names[e]), 1); once_; once_ = (stop(), 0))

static int flow_teardown(void **state)
{
    unix_platform_stop();
    return test_teardown(state);
}
#define TEST_FLOW(f) cmocka_unit_test_setup_teardown(f, test_setup, flow_teardown)

/* Runs p to its end: its value, or fails the test. */
static void *run_ok(lwt_t *p)
{
    void *v = NULL;
    int rc = sched_run(p, &v);
    if (rc != 0)
        fail_msg("expected success, got %s", lwt_strerror(rc));
    return v;
}

static int run_err(lwt_t *p)
{
    return sched_run(p, NULL);
}

static struct flow_endpoint loopback(uint16_t port)
{
    return (struct flow_endpoint){.addr = UNIX_FLOW_LOOPBACK, .port = port};
}

/* A connected pair: *c from connect, *s from accept. */
static void make_pair(struct flow_listener *l, struct flow **c, struct flow **s)
{
    lwt_t *conn = flow_connect(fs, loopback(flow_listener_port(l)));
    *s = run_ok(flow_accept(l));
    *c = run_ok(conn);
}

static void echo_and_eof(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 16, &l), 0);
        assert_true(flow_listener_port(l) != 0);
        struct flow *c, *s;
        make_pair(l, &c, &s);

        struct flow_endpoint cl, cr, sl, sr;
        flow_endpoints(c, &cl, &cr);
        flow_endpoints(s, &sl, &sr);
        assert_int_equal(cr.addr, UNIX_FLOW_LOOPBACK);
        assert_int_equal(cr.port, flow_listener_port(l));
        assert_int_equal(sl.port, cr.port);
        assert_int_equal(sr.port, cl.port);

        char buf[64] = {0};
        lwt_t *rd = flow_read(s, buf, sizeof buf); /* pending: nothing yet */
        assert_pending(rd);
        assert_int_equal(LWT_TO_INT(run_ok(flow_write(c, "hello", 5))), 5);
        assert_int_equal(LWT_TO_INT(run_ok(rd)), 5);
        assert_memory_equal(buf, "hello", 5);
        /* And back. */
        assert_int_equal(LWT_TO_INT(run_ok(flow_write(s, buf, 5))), 5);
        memset(buf, 0, sizeof buf);
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(c, buf, sizeof buf))), 5);
        assert_memory_equal(buf, "hello", 5);

        /* Half-close: the server reads the end, and may still answer. */
        run_ok(flow_shutdown(c));
        assert_int_equal(run_err(flow_write(c, "x", 1)), -LWT_EPIPE);
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(s, buf, sizeof buf))), 0);
        assert_int_equal(LWT_TO_INT(run_ok(flow_write(s, "bye", 3))), 3);
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(c, buf, sizeof buf))), 3);
        flow_close(s);
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(c, buf, sizeof buf))), 0);
        flow_close(c);
        flow_listener_close(l);

        struct unix_flow_socket_stats st;
        unix_flow_socket_stats(fs, &st);
        assert_int_equal(st.accepted, 1);
        assert_int_equal(st.connected, 1);
    }
}

/* A write settles once the kernel has every byte: with nobody reading it
 * waits; as the peer reads, it finishes, and one more read sees it all. */
static void write_back_pressure(void **state)
{
    (void)state;
    size_t len = 16u << 20;
    uint8_t *out = malloc(len), *in = malloc(len);
    assert_non_null(out);
    assert_non_null(in);
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(i * 7 + (i >> 13));
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 16, &l), 0);
        struct flow *c, *s;
        make_pair(l, &c, &s);
        lwt_t *wr = flow_write(c, out, len);
        assert_pending(wr);
        run_ok(sched_sleep(20 * SCHED_NS_PER_MS));
        assert_pending(wr); /* the socket buffers are full: still waiting */
        assert_int_equal(run_err(flow_write(c, "x", 1)), -LWT_EBUSY);
        /* FIN after the pending write's bytes, not before. */
        lwt_t *shut = flow_shutdown(c);
        assert_pending(shut);

        size_t got = 0;
        while (got < len) {
            intptr_t n = LWT_TO_INT(run_ok(flow_read(s, in + got, len - got)));
            assert_true(n > 0);
            got += (size_t)n;
        }
        assert_int_equal(LWT_TO_INT(run_ok(wr)), len);
        run_ok(shut);
        assert_memory_equal(in, out, len);
        char b;
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(s, &b, 1))), 0);
        flow_close(c);
        flow_close(s);
        flow_listener_close(l);
    }
    free(out);
    free(in);
}

static void connect_refused(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        /* A port that was just ours and is closed now. */
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 1, &l), 0);
        uint16_t port = flow_listener_port(l);
        flow_listener_close(l);
        sched_run(sched_pause(), NULL);
        assert_int_equal(run_err(flow_connect(fs, loopback(port))), -LWT_ECONNREFUSED);
    }
}

static void listen_errors(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l, *l2;
        assert_int_equal(flow_listen(fs, 0, 1, &l), 0);
        assert_int_equal(flow_listen(fs, flow_listener_port(l), 1, &l2), -LWT_EADDRINUSE);
        flow_listener_close(l);
        /* An address that is not ours. */
        struct flow_stack *other;
        struct unix_flow_socket_config cfg = {.listen_addr = 0xc0000201}; /* 192.0.2.1 */
        assert_int_equal(unix_flow_socket_new(&cfg, &other), 0);
        assert_int_equal(flow_listen(other, 0, 1, &l2), -LWT_EADDRNOTAVAIL);
        unix_flow_socket_free(other);
    }
}

/* SO_REUSEADDR: a server that restarts binds its port again while the
 * connections of the last one are in TIME_WAIT. */
static void listen_again_after_close(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        uint16_t port = flow_listener_port(l);
        struct flow *c, *s;
        make_pair(l, &c, &s);
        flow_close(s); /* the server closes first: its side goes to TIME_WAIT */
        char b;
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(c, &b, 1))), 0);
        flow_close(c);
        flow_listener_close(l);
        sched_run(sched_pause(), NULL);
        assert_int_equal(flow_listen(fs, port, 4, &l), 0);
        assert_int_equal(flow_listener_port(l), port);
        flow_listener_close(l);
    }
}

static void peer_reset(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        struct flow *c, *s;
        char buf[8];
        /* A read waiting when the RST comes. */
        make_pair(l, &c, &s);
        lwt_t *rd = flow_read(s, buf, sizeof buf);
        assert_pending(rd);
        flow_abort(c);
        assert_int_equal(run_err(rd), -LWT_ECONNRESET);
        flow_close(s);
        /* A read after it came. */
        make_pair(l, &c, &s);
        flow_abort(s);
        run_ok(sched_sleep(10 * SCHED_NS_PER_MS));
        assert_int_equal(run_err(flow_read(c, buf, sizeof buf)), -LWT_ECONNRESET);
        flow_close(c);
        flow_listener_close(l);
    }
}

static void cancel_pending(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        /* accept */
        lwt_t *acc = flow_accept(l);
        assert_pending(acc);
        assert_int_equal(run_err(flow_accept(l)), -LWT_EBUSY);
        lwt_cancel(acc);
        assert_int_equal(run_err(acc), -LWT_ECANCELED);
        assert_int_equal(unix_io_watch_count(), 0);
        /* read, then another one on the same flow works */
        struct flow *c, *s;
        make_pair(l, &c, &s);
        char buf[8];
        lwt_t *rd = flow_read(s, buf, sizeof buf);
        assert_pending(rd);
        lwt_cancel(rd);
        assert_int_equal(run_err(rd), -LWT_ECANCELED);
        assert_int_equal(unix_io_watch_count(), 0);
        rd = flow_read(s, buf, sizeof buf);
        run_ok(flow_write(c, "ab", 2));
        assert_int_equal(LWT_TO_INT(run_ok(rd)), 2);
        /* close rejects what is pending on the flow */
        rd = flow_read(s, buf, sizeof buf);
        assert_pending(rd);
        flow_close(s);
        assert_int_equal(run_err(rd), -LWT_ECANCELED);
        flow_close(c);
        /* closing the listener rejects its accept */
        acc = flow_accept(l);
        assert_pending(acc);
        flow_listener_close(l);
        assert_int_equal(run_err(acc), -LWT_ESHUTDOWN);
    }
}

/* A promise the caller drops while it is pending still settles, and
 * everything is freed. */
static void dropped_promises(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        struct flow *c, *s;
        make_pair(l, &c, &s);
        char buf[8];
        lwt_unref(flow_read(s, buf, sizeof buf));
        lwt_unref(flow_accept(l));
        flow_close(s);
        flow_close(c);
        flow_listener_close(l);
    }
}

/* Many connections open at once, each echoing its own line. */
static void many_connections(void **state)
{
    (void)state;
    enum { N = 300 };
    static struct flow *cs[N], *ss[N];
    static lwt_t *conns[N];
    FOR_EACH_ENGINE(e)
    {
        if (e == 0)
            continue; /* select stops at FD_SETSIZE descriptors: libev only */
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, N, &l), 0);
        for (int i = 0; i < N; i++)
            conns[i] = flow_connect(fs, loopback(flow_listener_port(l)));
        for (int i = 0; i < N; i++)
            ss[i] = run_ok(flow_accept(l));
        for (int i = 0; i < N; i++)
            cs[i] = run_ok(conns[i]);
        for (int i = 0; i < N; i++) {
            char line[32], buf[32];
            int n = snprintf(line, sizeof line, "line %d\n", i);
            run_ok(flow_write(cs[i], line, (size_t)n));
            /* The accept order is the connect order on loopback, but
             * that is not ours to promise: find the peer by port. */
            struct flow_endpoint local;
            flow_endpoints(cs[i], &local, NULL);
            struct flow *peer = NULL;
            for (int j = 0; j < N && !peer; j++) {
                struct flow_endpoint remote;
                flow_endpoints(ss[j], NULL, &remote);
                if (remote.port == local.port)
                    peer = ss[j];
            }
            assert_non_null(peer);
            intptr_t got = 0;
            while (got < n)
                got += LWT_TO_INT(run_ok(flow_read(peer, buf + got, sizeof buf - (size_t)got)));
            assert_int_equal(got, n);
            assert_memory_equal(buf, line, (size_t)n);
        }
        struct unix_flow_socket_stats st;
        unix_flow_socket_stats(fs, &st);
        assert_int_equal(st.live, 2 * N + 1);
        for (int i = 0; i < N; i++) {
            flow_close(cs[i]);
            flow_close(ss[i]);
        }
        flow_listener_close(l);
    }
}

/* Out of descriptors, accept waits and tries again later (it does not
 * spin on the listening socket, which stays readable), and takes the
 * connection once a descriptor is free. */
static void accept_out_of_descriptors(void **state)
{
    (void)state;
    /* valgrind takes over descriptors near the limit: a connection the
     * kernel accepted would be closed under us. */
    if (getenv("TESSERA_UNDER_VALGRIND"))
        skip();
    FOR_EACH_ENGINE(e)
    {
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        struct sockaddr_in sa = {
            .sin_family = AF_INET, .sin_port = htons(flow_listener_port(l)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(client >= 0);
        assert_int_equal(connect(client, (struct sockaddr *)&sa, sizeof sa), 0);

        struct rlimit old;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
        struct rlimit low = {.rlim_cur = 256, .rlim_max = old.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        static int fill[256];
        int nfill = 0;
        for (int fd; nfill < 256 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
            fill[nfill++] = fd;
        assert_int_equal(errno, EMFILE);

        lwt_t *acc = flow_accept(l);
        assert_pending(acc);
        run_ok(sched_sleep(300 * SCHED_NS_PER_MS));
        assert_pending(acc);
        struct unix_flow_socket_stats st;
        unix_flow_socket_stats(fs, &st);
        /* 50 + 100 + 200 ms: a few tries, not thousands. */
        assert_true(st.accept_backoffs >= 2 && st.accept_backoffs <= 5);

        close(fill[--nfill]);
        struct flow *s = run_ok(sched_with_timeout(acc, 2 * SCHED_NS_PER_S));
        while (nfill)
            close(fill[--nfill]);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

        assert_int_equal(write(client, "hi", 2), 2);
        char buf[4];
        assert_int_equal(LWT_TO_INT(run_ok(flow_read(s, buf, sizeof buf))), 2);
        flow_close(s);
        close(client);
        flow_listener_close(l);
    }
}

static void options(void **state)
{
    (void)state;
    FOR_EACH_ENGINE(e)
    {
        assert_string_equal(fs->name, "unix-socket");
        struct flow_listener *l;
        assert_int_equal(flow_listen(fs, 0, 4, &l), 0);
        struct flow *c, *s;
        make_pair(l, &c, &s);
        assert_int_equal(run_err(flow_read(c, NULL, 0)), -LWT_EINVAL);
        assert_int_equal(LWT_TO_INT(run_ok(flow_write(c, "", 0))), 0);
        flow_set_nodelay(c, false);
        flow_set_nodelay(c, true);
        flow_close(c);
        flow_close(s);
        flow_listener_close(l);
    }
}

static void error_mapping(void **state)
{
    (void)state;
    assert_int_equal(unix_flow_socket_error(-ECONNRESET), -LWT_ECONNRESET);
    assert_int_equal(unix_flow_socket_error(-ECONNREFUSED), -LWT_ECONNREFUSED);
    assert_int_equal(unix_flow_socket_error(-ETIMEDOUT), -LWT_ETIMEDOUT);
    assert_int_equal(unix_flow_socket_error(-EPIPE), -LWT_EPIPE);
    assert_int_equal(unix_flow_socket_error(-EADDRINUSE), -LWT_EADDRINUSE);
    assert_int_equal(unix_flow_socket_error(-ENFILE), -LWT_EMFILE);
    assert_int_equal(unix_flow_socket_error(-ECONNABORTED), -LWT_ECONNRESET);
    assert_int_equal(unix_flow_socket_error(-ENETRESET), -LWT_ECONNRESET);
    assert_int_equal(unix_flow_socket_error(-EHOSTDOWN), -LWT_EHOSTUNREACH);
    assert_int_equal(unix_flow_socket_error(-ENOTSOCK), -LWT_EIO);
    assert_int_equal(unix_flow_socket_error(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_FLOW(echo_and_eof),
        TEST_FLOW(write_back_pressure),
        TEST_FLOW(connect_refused),
        TEST_FLOW(listen_errors),
        TEST_FLOW(listen_again_after_close),
        TEST_FLOW(peer_reset),
        TEST_FLOW(cancel_pending),
        TEST_FLOW(dropped_promises),
        TEST_FLOW(many_connections),
        TEST_FLOW(accept_out_of_descriptors),
        TEST_FLOW(options),
        cmocka_unit_test(error_mapping),
    };
    return RUN_TESTS(tests);
}
