/* The flow interface over the direct stack: two stacks on the hub, on the
 * virtual clock, talking only through flow.h; at the end of every test TCP
 * has given every byte back. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow_direct.h"
#include "hub.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 2, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 2, 0xb};
#define IP_A IP4_ADDR(10, 2, 0, 1)
#define IP_B IP4_ADDR(10, 2, 0, 2)

static struct {
    struct net_hub *hub;
    struct netif *pa, *pb;
    struct net_stack *a, *b;
    struct flow_stack *fa, *fb;
} t;

static int setup(void **state)
{
    test_setup(state);
    test_vclock_install(1000);
    memset(&t, 0, sizeof t);
    t.hub = net_hub_new(3);
    assert_int_equal(net_hub_add_port(t.hub, MAC_A, 1500, "a", &t.pa), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_B, 1500, "b", &t.pb), 0);
    assert_int_equal(net_stack_new(t.pa, &t.a), 0);
    assert_int_equal(net_stack_new(t.pb, &t.b), 0);
    struct ip4_config ca = {IP_A, 0xffffff00, 0}, cb = {IP_B, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.a, &ca), 0);
    assert_int_equal(net_stack_configure(t.b, &cb), 0);
    struct tcp_options small = {.sndbuf = 8192, .rcvbuf = 8192};
    t.fa = flow_direct_new(t.a, &small);
    t.fb = flow_direct_new(t.b, NULL);
    assert_non_null(t.fa);
    assert_non_null(t.fb);
    assert_string_equal(t.fa->name, "direct");
    return 0;
}

static int teardown(void **state)
{
    flow_direct_free(t.fa);
    flow_direct_free(t.fb);
    net_stack_free(t.a);
    net_stack_free(t.b);
    net_hub_free(t.hub);
    test_vclock_uninstall();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "%zu packet buffers left alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
}

static int await(lwt_t *p, void **v)
{
    lwt_t *limit = sched_sleep(3600 * SCHED_NS_PER_S);
    lwt_t *both[2] = {lwt_ref(p), lwt_ref(limit)};
    sched_run(lwt_choose(both, 2), NULL);
    lwt_cancel(limit);
    lwt_unref(limit);
    assert_true(lwt_state(p) != LWT_PENDING);
    int err = lwt_state(p) == LWT_FULFILLED ? 0 : lwt_error(p);
    if (v)
        *v = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

static void expect_all_freed(void)
{
    run_for(TCP_TIME_WAIT_NS + SCHED_NS_PER_S);
    assert_int_equal(tcp_stats(t.a)->conns, 0);
    assert_int_equal(tcp_stats(t.b)->conns, 0);
    assert_int_equal(tcp_memory_in_use(t.a), 0);
    assert_int_equal(tcp_memory_in_use(t.b), 0);
}

static void connect_pair(uint16_t port, struct flow **fa, struct flow **fb, struct flow_listener **l)
{
    assert_int_equal(flow_listen(t.fb, port, 8, l), 0);
    lwt_t *acc = flow_accept(*l);
    void *v;
    assert_int_equal(await(flow_connect(t.fa, (struct flow_endpoint){IP_B, port}), &v), 0);
    *fa = v;
    assert_int_equal(await(acc, &v), 0);
    *fb = v;
}

/* ---- Echo: one side writes, the other reads and writes back ---------------- */

struct echo {
    struct flow *f;
    uint8_t buf[1000];
    size_t total;
};

static lwt_t *echo_read(void *v, void *ctx);

static lwt_t *echo_got(void *v, void *ctx)
{
    struct echo *e = *(struct echo **)ctx;
    intptr_t n = LWT_TO_INT(v);
    if (n == 0)
        return lwt_return(NULL);
    e->total += (size_t)n;
    return lwt_bind(flow_write(e->f, e->buf, (size_t)n), echo_read, ctx, sizeof(struct echo *));
}

static lwt_t *echo_read(void *v, void *ctx)
{
    (void)v;
    struct echo *e = *(struct echo **)ctx;
    return lwt_bind(flow_read(e->f, e->buf, sizeof e->buf), echo_got, ctx, sizeof(struct echo *));
}

static void echo_through_flows(void **state)
{
    (void)state;
    struct flow *fa, *fb;
    struct flow_listener *l;
    connect_pair(8080, &fa, &fb, &l);
    assert_int_equal(flow_listener_port(l), 8080);
    struct flow_endpoint local, remote;
    flow_endpoints(fb, &local, &remote);
    assert_int_equal(local.addr, IP_B);
    assert_int_equal(local.port, 8080);
    assert_int_equal(remote.addr, IP_A);
    flow_endpoints(fa, &local, &remote);
    assert_int_equal(remote.port, 8080);
    flow_set_nodelay(fa, true);

    static struct echo e;
    e = (struct echo){.f = fb};
    struct echo *ep = &e;
    lwt_t *echoing = echo_read(NULL, &ep);

    /* More than both send buffers hold: back-pressure on each side. */
    enum { N = 100000 };
    static uint8_t out[N], in[N];
    for (size_t i = 0; i < N; i++)
        out[i] = (uint8_t)(i * 7 + i / 251);
    lwt_t *w = flow_write(fa, out, N);
    size_t got = 0;
    while (got < N) {
        void *v;
        assert_int_equal(await(flow_read(fa, in + got, N - got), &v), 0);
        assert_true(LWT_TO_INT(v) > 0);
        got += (size_t)LWT_TO_INT(v);
    }
    void *v;
    assert_int_equal(await(w, &v), 0);
    assert_int_equal(LWT_TO_INT(v), N);
    assert_memory_equal(in, out, N);

    /* Half-close: B's echo loop sees the end and finishes; B closes. */
    assert_int_equal(await(flow_shutdown(fa), NULL), 0);
    assert_int_equal(await(echoing, NULL), 0);
    assert_int_equal(e.total, N);
    assert_int_equal(await(flow_write(fa, "x", 1), NULL), -LWT_EPIPE);
    flow_close(fb);
    assert_int_equal(await(flow_read(fa, in, 10), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    flow_close(fa);
    flow_listener_close(l);
    expect_all_freed();
}

static void refused_and_listener_close(void **state)
{
    (void)state;
    assert_int_equal(await(flow_connect(t.fa, (struct flow_endpoint){IP_B, 81}), NULL), -LWT_ECONNREFUSED);
    struct flow_listener *l, *l2;
    assert_int_equal(flow_listen(t.fb, 0, 8, &l), 0);
    assert_true(flow_listener_port(l) != 0);
    assert_int_equal(flow_listen(t.fb, flow_listener_port(l), 8, &l2), -LWT_EADDRINUSE);
    lwt_t *acc = flow_accept(l);
    run_for(SCHED_NS_PER_MS);
    assert_pending(acc);
    flow_listener_close(l);
    assert_int_equal(await(acc, NULL), -LWT_ESHUTDOWN);
    expect_all_freed();
}

static void close_cancels_pending_and_abort_resets(void **state)
{
    (void)state;
    struct flow *fa, *fb;
    struct flow_listener *l;
    connect_pair(80, &fa, &fb, &l);
    char buf[8];
    lwt_t *r = flow_read(fb, buf, sizeof buf);
    run_for(SCHED_NS_PER_MS);
    flow_close(fb);
    assert_int_equal(await(r, NULL), -LWT_ECANCELED);
    /* A's end reads the FIN; then A aborts instead of closing. */
    void *v;
    assert_int_equal(await(flow_read(fa, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    uint64_t rst = tcp_stats(t.a)->rst_sent;
    flow_abort(fa);
    assert_true(tcp_stats(t.a)->rst_sent > rst);
    flow_listener_close(l);
    expect_all_freed();
}

static void cancelled_accept_and_connect(void **state)
{
    (void)state;
    struct flow_listener *l;
    assert_int_equal(flow_listen(t.fb, 90, 8, &l), 0);
    lwt_t *acc = flow_accept(l);
    lwt_cancel(acc);
    assert_int_equal(await(acc, NULL), -LWT_ECANCELED);
    /* To an address nobody answers ARP for: cancel the attempt. */
    lwt_t *c = flow_connect(t.fa, (struct flow_endpoint){IP4_ADDR(10, 2, 0, 9), 90});
    run_for(SCHED_NS_PER_S);
    lwt_cancel(c);
    assert_int_equal(await(c, NULL), -LWT_ECANCELED);
    flow_listener_close(l);
    expect_all_freed();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(echo_through_flows),
        T(refused_and_listener_close),
        T(close_cancels_pending_and_abort_resets),
        T(cancelled_accept_and_connect),
    };
    return RUN_TESTS(tests);
}
