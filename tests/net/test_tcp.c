/* TCP between two of our stacks over the in-memory hub, on the virtual
 * clock: handshakes, transfers under loss, duplication and reordering,
 * closes in every order, resets, timers, bounds; and at the end of every
 * test, every byte TCP held is given back. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "pcap.h"
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 1, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 1, 0xb};
#define IP_A IP4_ADDR(10, 1, 0, 1)
#define IP_B IP4_ADDR(10, 1, 0, 2)

/* TCP_TEST_PCAP=FILE records every frame of the tests for tshark. */
static FILE *pcap_file;
static struct net_pcap pcap;

static int pcap_write(void *ctx, const void *bytes, size_t len)
{
    (void)ctx;
    return fwrite(bytes, 1, len, pcap_file) == len ? 0 : -LWT_EIO;
}

static struct {
    struct net_hub *hub;
    struct netif *pa, *pb;
    struct net_stack *a, *b;
} t;

static int setup(void **state)
{
    test_setup(state);
    test_vclock_install(1000);
    memset(&t, 0, sizeof t);
    t.hub = net_hub_new(7);
    assert_int_equal(net_hub_add_port(t.hub, MAC_A, 1500, "a", &t.pa), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_B, 1500, "b", &t.pb), 0);
    const char *path = getenv("TCP_TEST_PCAP");
    if (path && !pcap_file && (pcap_file = fopen(path, "wb"))) {
        pcap = (struct net_pcap){.write = pcap_write, .snaplen = 128};
        net_pcap_start(&pcap);
    }
    if (pcap_file)
        net_hub_set_pcap(t.hub, &pcap);
    assert_int_equal(net_stack_new(t.pa, &t.a), 0);
    assert_int_equal(net_stack_new(t.pb, &t.b), 0);
    struct ip4_config ca = {IP_A, 0xffffff00, 0}, cb = {IP_B, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.a, &ca), 0);
    assert_int_equal(net_stack_configure(t.b, &cb), 0);
    return 0;
}

static int teardown(void **state)
{
    net_stack_free(t.a);
    net_stack_free(t.b);
    net_hub_free(t.hub);
    if (pcap_file)
        fflush(pcap_file);
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

/* Runs the loop until p settles (bounded in virtual time); returns p's
 * error (0 when fulfilled, its value in *v). */
static int await(lwt_t *p, void **v)
{
    lwt_t *limit = sched_sleep(3600 * SCHED_NS_PER_S);
    lwt_t *both[2] = {lwt_ref(p), lwt_ref(limit)};
    sched_run(lwt_choose(both, 2), NULL); /* p's own error is the answer */
    lwt_cancel(limit);
    lwt_unref(limit);
    assert_true(lwt_state(p) != LWT_PENDING);
    int err = lwt_state(p) == LWT_FULFILLED ? 0 : lwt_error(p);
    if (v)
        *v = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

/* A connection from A to B's listener: both ends. */
static void connect_pair(uint16_t port, const struct tcp_options *o, struct tcp_conn **ca, struct tcp_conn **cb,
                         struct tcp_listener **l)
{
    assert_int_equal(tcp_listen(t.b, port, 8, o, l), 0);
    lwt_t *acc = tcp_accept(*l);
    void *v;
    assert_int_equal(await(tcp_connect(t.a, IP_B, port, o), &v), 0);
    *ca = v;
    assert_int_equal(await(acc, &v), 0);
    *cb = v;
}

static void expect_all_freed(void)
{
    assert_int_equal(tcp_stats(t.a)->conns, 0);
    assert_int_equal(tcp_stats(t.b)->conns, 0);
    assert_int_equal(tcp_memory_in_use(t.a), 0);
    assert_int_equal(tcp_memory_in_use(t.b), 0);
}

/* ---- Handshake, a little data, a close ------------------------------------ */

static void echo_and_close_in_order(void **state)
{
    (void)state;
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, NULL, &ca, &cb, &l);
    struct tcp_endpoints e;
    tcp_conn_endpoints(cb, &e);
    assert_int_equal(e.remote_addr, IP_A);
    assert_int_equal(e.local_port, 80);
    char buf[64];
    void *v;
    assert_int_equal(await(tcp_write(ca, "hello", 5), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 5);
    assert_int_equal(await(tcp_read(cb, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(await(tcp_write(cb, "world", 5), NULL), 0);
    assert_int_equal(await(tcp_read(ca, buf, sizeof buf), &v), 0);
    assert_memory_equal(buf, "world", 5);
    /* A closes first: B reads the end, closes; A goes through TIME_WAIT. */
    tcp_close(ca);
    assert_int_equal(await(tcp_read(cb, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    tcp_close(cb);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(tcp_stats(t.a)->time_wait, 1);
    assert_int_equal(tcp_stats(t.b)->conns, 0);
    /* A TIME_WAIT nobody holds keeps no buffers: only its control block. */
    assert_int_equal(tcp_memory_in_use(t.a), sizeof(struct tcp_pcb));
    run_for(TCP_TIME_WAIT_NS);
    assert_int_equal(tcp_stats(t.a)->time_wait, 0);
    tcp_listener_close(l);
    expect_all_freed();
}

static void connect_to_a_closed_port_is_refused(void **state)
{
    (void)state;
    assert_int_equal(await(tcp_connect(t.a, IP_B, 81, NULL), NULL), -LWT_ECONNREFUSED);
    assert_true(tcp_stats(t.b)->rst_sent >= 1);
    expect_all_freed();
}

static void connect_to_nobody_times_out(void **state)
{
    (void)state;
    uint64_t t0 = test_vclock_now();
    /* ARP never resolves: the SYNs go nowhere. */
    assert_int_equal(await(tcp_connect(t.a, IP4_ADDR(10, 1, 0, 9), 80, NULL), NULL), -LWT_ETIMEDOUT);
    /* 1 + 2 + 4 + 8 + 16 + 32 s, then the back-off reaches its cap. */
    assert_int_equal(test_vclock_now() - t0, 63 * SCHED_NS_PER_S + TCP_RTO_MAX_NS);
    expect_all_freed();
}

static void simultaneous_close(void **state)
{
    (void)state;
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, NULL, &ca, &cb, &l);
    tcp_listener_close(l);
    /* Both FINs are in flight at once. */
    lwt_unref(tcp_shutdown(ca));
    lwt_unref(tcp_shutdown(cb));
    char buf[4];
    void *v;
    assert_int_equal(await(tcp_read(ca, buf, 4), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    assert_int_equal(await(tcp_read(cb, buf, 4), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    run_for(SCHED_NS_PER_S);
    /* Both went through CLOSING into TIME_WAIT. */
    assert_int_equal(tcp_stats(t.a)->time_wait, 1);
    assert_int_equal(tcp_stats(t.b)->time_wait, 1);
    tcp_close(ca);
    tcp_close(cb);
    run_for(TCP_TIME_WAIT_NS + SCHED_NS_PER_S);
    expect_all_freed();
}

static void half_close_keeps_the_other_direction(void **state)
{
    (void)state;
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, NULL, &ca, &cb, &l);
    tcp_listener_close(l);
    lwt_unref(tcp_shutdown(ca));
    lwt_t *w = tcp_write(ca, "x", 1);
    assert_int_equal(lwt_error(w), -LWT_EPIPE);
    lwt_unref(w);
    char buf[16];
    void *v;
    assert_int_equal(await(tcp_read(cb, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    assert_int_equal(await(tcp_write(cb, "late reply", 10), NULL), 0);
    assert_int_equal(await(tcp_read(ca, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 10);
    tcp_close(cb);
    assert_int_equal(await(tcp_read(ca, buf, sizeof buf), &v), 0);
    assert_int_equal(LWT_TO_INT(v), 0);
    tcp_close(ca);
    run_for(TCP_TIME_WAIT_NS + SCHED_NS_PER_S);
    expect_all_freed();
}

static void abort_resets_the_peer(void **state)
{
    (void)state;
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, NULL, &ca, &cb, &l);
    tcp_listener_close(l);
    char buf[4];
    lwt_t *r = tcp_read(cb, buf, 4);
    tcp_abort(ca);
    assert_int_equal(await(r, NULL), -LWT_ECONNRESET);
    lwt_t *w = tcp_write(cb, "x", 1);
    assert_int_equal(lwt_error(w), -LWT_ECONNRESET);
    lwt_unref(w);
    tcp_close(cb);
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

static void close_with_unread_data_resets(void **state)
{
    (void)state;
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, NULL, &ca, &cb, &l);
    tcp_listener_close(l);
    assert_int_equal(await(tcp_write(ca, "unread", 6), NULL), 0);
    run_for(SCHED_NS_PER_S);
    char buf[4];
    lwt_t *r = tcp_read(ca, buf, 4);
    tcp_close(cb);
    assert_int_equal(await(r, NULL), -LWT_ECONNRESET);
    tcp_close(ca);
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

/* ---- Bulk transfers ------------------------------------------------------- */

struct bulk {
    struct tcp_conn *c;
    uint8_t *buf;
    size_t total, done;
    size_t chunk;
    bool ok;
    bool started; /* LWT_INT(0), the end of the stream, is NULL: tell it from the first call */
};

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + (i >> 11) + 3);
}

static lwt_t *send_more(void *v, void *ctx)
{
    struct bulk *b = *(struct bulk **)ctx;
    if (v)
        b->done += (size_t)LWT_TO_INT(v);
    if (b->done == b->total)
        return tcp_shutdown(b->c);
    size_t n = b->total - b->done < b->chunk ? b->total - b->done : b->chunk;
    for (size_t i = 0; i < n; i++)
        b->buf[i] = pattern(b->done + i);
    return lwt_bind(tcp_write(b->c, b->buf, n), send_more, ctx, sizeof b);
}

static lwt_t *recv_more(void *v, void *ctx)
{
    struct bulk *b = *(struct bulk **)ctx;
    if (b->started) {
        size_t n = (size_t)LWT_TO_INT(v);
        if (n == 0)
            return lwt_return(NULL); /* the end */
        for (size_t i = 0; i < n; i++)
            if (b->buf[i] != pattern(b->done + i))
                b->ok = false;
        b->done += n;
    }
    b->started = true;
    return lwt_bind(tcp_read(b->c, b->buf, b->chunk), recv_more, ctx, sizeof b);
}

/* total bytes from A to B (and the same back when both_ways). */
static void transfer(size_t total, bool both_ways, const struct tcp_options *o)
{
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, o, &ca, &cb, &l);
    tcp_listener_close(l);
    static uint8_t b1[20000], b2[20000], b3[20000], b4[20000];
    struct bulk tx = {.c = ca, .buf = b1, .total = total, .chunk = 13000, .ok = true};
    struct bulk rx = {.c = cb, .buf = b2, .total = total, .chunk = 7000, .ok = true};
    struct bulk tx2 = {.c = cb, .buf = b3, .total = both_ways ? total : 0, .chunk = 9000, .ok = true};
    struct bulk rx2 = {.c = ca, .buf = b4, .chunk = 11000, .ok = true};
    struct bulk *ptx = &tx, *prx = &rx, *ptx2 = &tx2, *prx2 = &rx2;
    lwt_t *all[4] = {send_more(NULL, &ptx), recv_more(NULL, &prx), send_more(NULL, &ptx2), recv_more(NULL, &prx2)};
    assert_int_equal(await(lwt_join(all, 4), NULL), 0);
    assert_int_equal(rx.done, total);
    assert_true(rx.ok);
    assert_int_equal(rx2.done, both_ways ? total : 0);
    assert_true(rx2.ok);
    tcp_close(ca);
    tcp_close(cb);
    run_for(TCP_TIME_WAIT_NS + 10 * SCHED_NS_PER_S);
    expect_all_freed();
}

static void bulk_clean_both_ways(void **state)
{
    (void)state;
    transfer(4 << 20, true, NULL);
    assert_int_equal(tcp_stats(t.a)->retransmits, 0);
}

static void bulk_with_loss_duplication_reordering_and_delay(void **state)
{
    (void)state;
    struct net_hub_faults f = {.loss_ppm = 50000, .dup_ppm = 10000, .reorder_ppm = 250000, .delay_ns = 20000000};
    net_hub_set_faults(t.hub, &f);
    transfer(2 << 20, true, NULL);
    assert_true(tcp_stats(t.a)->retransmits > 0);
    assert_true(tcp_stats(t.a)->fast_retransmits > 0);
}

static void bulk_with_small_buffers_and_nodelay(void **state)
{
    (void)state;
    struct tcp_options o = {.sndbuf = 4096, .rcvbuf = 4096, .nodelay = true};
    struct net_hub_faults f = {.loss_ppm = 20000, .reorder_ppm = 100000};
    net_hub_set_faults(t.hub, &f);
    transfer(300000, true, &o);
}

/* ---- Offload ---------------------------------------------------------------- */

/* What a third port sees on the wire: every frame, and the largest. */
struct wire {
    size_t frames, max_len;
};

static void watch_wire(void *ctx, struct net_slice frame)
{
    struct wire *w = ctx;
    w->frames++;
    if (frame.len > w->max_len)
        w->max_len = frame.len;
    net_slice_release(&frame);
}

/* Both ports cut TSO packets into frames and complete checksums, as NICs
 * would; the stacks see only MTU-sized frames from each other. */
static void tso_transfer(const struct net_hub_faults *f)
{
    assert_int_equal(net_hub_set_port_offload(t.pa, true, 65535), 0);
    assert_int_equal(net_hub_set_port_offload(t.pb, true, 16000), 0);
    struct netif *pw;
    static const uint8_t MAC_W[6] = {2, 0, 0, 0, 1, 0xc};
    assert_int_equal(net_hub_add_port(t.hub, MAC_W, 1500, "wire", &pw), 0);
    struct wire w = {0};
    netif_listen(pw, watch_wire, &w);
    if (f)
        net_hub_set_faults(t.hub, f);
    transfer(4 << 20, true, NULL);
    netif_listen(pw, NULL, NULL);
    /* Fewer, bigger packets left the stacks than frames crossed the wire,
     * and none of those was bigger than the MTU. */
    assert_true(net_stack_stats(t.a)->ip_out < t.pa->stats.tx_frames);
    assert_true(net_stack_stats(t.b)->ip_out < t.pb->stats.tx_frames);
    struct net_hub_stats hs;
    net_hub_stats(t.hub, &hs);
    assert_int_equal(hs.written, t.pa->stats.tx_frames + t.pb->stats.tx_frames);
    assert_int_equal(w.frames, hs.delivered);
    assert_int_equal(w.max_len, 1500 + 14);
    /* Every checksum the ports completed was right. */
    assert_int_equal(tcp_stats(t.a)->bad_segs, 0);
    assert_int_equal(tcp_stats(t.b)->bad_segs, 0);
}

static void bulk_over_tso_ports_both_ways(void **state)
{
    (void)state;
    tso_transfer(NULL);
    assert_int_equal(tcp_stats(t.a)->retransmits, 0);
    /* Each ACK of B's lets out about what it acknowledged, two segments
     * (a write's worth while the window is open): a third fewer packets
     * than frames, ACKs for B's data included. */
    assert_true(net_stack_stats(t.a)->ip_out * 3 < t.pa->stats.tx_frames * 2);
    /* The wire's segments are what TCP counts (A's other frames: its ARP
     * announcement and request). */
    assert_int_equal(tcp_stats(t.a)->segs_out, t.pa->stats.tx_frames - 2);
}

static void bulk_over_tso_ports_with_loss_duplication_reordering_and_delay(void **state)
{
    (void)state;
    struct net_hub_faults f = {.loss_ppm = 20000, .dup_ppm = 10000, .reorder_ppm = 100000, .delay_ns = 20000000};
    tso_transfer(&f);
    assert_true(tcp_stats(t.a)->retransmits > 0);
    assert_true(tcp_stats(t.a)->fast_retransmits > 0);
}

/* ---- Zero window ------------------------------------------------------------ */

static void zero_window_is_probed_and_recovers(void **state)
{
    (void)state;
    struct tcp_options o = {.rcvbuf = 8192, .sndbuf = 16384};
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, &o, &ca, &cb, &l);
    tcp_listener_close(l);
    static uint8_t big[100000];
    lwt_t *w = tcp_write(ca, big, sizeof big);
    /* Nobody reads: B's window closes, A's buffer holds the rest. */
    run_for(30 * SCHED_NS_PER_S);
    assert_pending(w);
    struct tcp_pcb *pa = (struct tcp_pcb *)ca;
    assert_int_equal(pa->snd_wnd, 0);
    assert_true(pa->probes >= 2); /* persist probes went out, backing off */
    /* Now read it all: the window reopens and the write completes. */
    static uint8_t sink[100000];
    size_t got = 0;
    while (got < sizeof big) {
        void *v;
        assert_int_equal(await(tcp_read(cb, sink + got, sizeof sink - got), &v), 0);
        got += (size_t)LWT_TO_INT(v);
    }
    assert_int_equal(await(w, NULL), 0);
    tcp_abort(ca);
    tcp_abort(cb);
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

/* ---- Bounds ----------------------------------------------------------------- */

static void accept_queue_overflow_is_refused(void **state)
{
    (void)state;
    struct tcp_listener *l;
    assert_int_equal(tcp_listen(t.b, 80, 2, NULL, &l), 0);
    lwt_t *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = tcp_connect(t.a, IP_B, 80, NULL);
    run_for(SCHED_NS_PER_S);
    /* Every handshake completed on A's side; B queued two and reset the
     * third. Closing the listener resets the two it queued. */
    assert_int_equal(tcp_stats(t.b)->accept_overflow, 1);
    tcp_listener_close(l);
    for (int i = 0; i < 3; i++) {
        void *v;
        assert_int_equal(await(c[i], &v), 0);
        char x;
        assert_int_equal(await(tcp_read(v, &x, 1), NULL), -LWT_ECONNRESET);
        tcp_close(v);
    }
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

/* With a memory limit, a connection whose buffers would pass it is reset
 * when established, on either side; the ones within it go on. */
static void memory_limit_refuses_what_would_pass_it(void **state)
{
    (void)state;
    struct tcp_options o = {.sndbuf = 64 * 1024, .rcvbuf = 64 * 1024};
    tcp_set_memory_limit(t.b, 3 * 64 * 1024); /* one connection's buffers, not two */
    struct tcp_conn *a1, *b1;
    struct tcp_listener *l;
    connect_pair(80, &o, &a1, &b1, &l);
    /* The second: A is established, B refuses it with a RST. */
    void *v;
    assert_int_equal(await(tcp_connect(t.a, IP_B, 80, &o), &v), 0);
    struct tcp_conn *a2 = v;
    char x;
    assert_int_equal(await(tcp_read(a2, &x, 1), NULL), -LWT_ECONNRESET);
    tcp_close(a2);
    assert_int_equal(tcp_stats(t.b)->mem_refused, 1);
    /* The first still carries data. */
    assert_int_equal(await(tcp_write(a1, "k", 1), NULL), 0);
    assert_int_equal(await(tcp_read(b1, &x, 1), NULL), 0);
    assert_int_equal(x, 'k');
    /* A connect from a stack with no room is rejected. */
    tcp_set_memory_limit(t.a, 64 * 1024 + 64 * 1024 + 1);
    assert_int_equal(await(tcp_connect(t.a, IP_B, 80, &o), NULL), -LWT_ENOBUFS);
    assert_int_equal(tcp_stats(t.a)->mem_refused, 1);
    tcp_close(a1);
    tcp_close(b1);
    tcp_listener_close(l);
    run_for(300 * SCHED_NS_PER_S);
    expect_all_freed();
}

static void cancelled_connect_and_accept_leave_nothing(void **state)
{
    (void)state;
    struct tcp_listener *l;
    assert_int_equal(tcp_listen(t.b, 80, 4, NULL, &l), 0);
    lwt_t *acc = tcp_accept(l);
    lwt_t *busy = tcp_accept(l);
    assert_int_equal(lwt_error(busy), -LWT_EBUSY);
    lwt_unref(busy);
    lwt_cancel(acc);
    lwt_unref(acc);
    lwt_t *c = tcp_connect(t.a, IP4_ADDR(10, 1, 0, 9), 80, NULL);
    run_for(SCHED_NS_PER_S);
    lwt_cancel(c);
    lwt_unref(c);
    tcp_listener_close(l);
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

static void keepalive_drops_a_vanished_peer(void **state)
{
    (void)state;
    struct tcp_options o = {.keepalive = true, .keepidle_s = 10, .keepintvl_s = 2, .keepcnt = 3};
    struct tcp_conn *ca, *cb;
    struct tcp_listener *l;
    connect_pair(80, &o, &ca, &cb, &l);
    tcp_listener_close(l);
    char x;
    lwt_t *r = tcp_read(ca, &x, 1);
    /* B vanishes without a word: every frame to it is lost from now on. */
    struct net_hub_faults f = {.loss_ppm = 1000000};
    net_hub_set_faults(t.hub, &f);
    uint64_t t0 = test_vclock_now();
    assert_int_equal(await(r, NULL), -LWT_ETIMEDOUT);
    assert_int_equal(test_vclock_now() - t0, (10 + 3 * 2) * SCHED_NS_PER_S);
    tcp_close(ca);
    tcp_abort(cb);
    run_for(SCHED_NS_PER_S);
    expect_all_freed();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(echo_and_close_in_order),
        T(connect_to_a_closed_port_is_refused),
        T(connect_to_nobody_times_out),
        T(simultaneous_close),
        T(half_close_keeps_the_other_direction),
        T(abort_resets_the_peer),
        T(close_with_unread_data_resets),
        T(bulk_clean_both_ways),
        T(bulk_with_loss_duplication_reordering_and_delay),
        T(bulk_with_small_buffers_and_nodelay),
        T(bulk_over_tso_ports_both_ways),
        T(bulk_over_tso_ports_with_loss_duplication_reordering_and_delay),
        T(zero_window_is_probed_and_recovers),
        T(accept_queue_overflow_is_refused),
        T(memory_limit_refuses_what_would_pass_it),
        T(cancelled_connect_and_accept_leave_nothing),
        T(keepalive_drops_a_vanished_peer),
    };
    /* TCP_TEST_ONLY=NAME runs one test (with TCP_TEST_PCAP, one capture). */
    if (getenv("TCP_TEST_ONLY"))
        cmocka_set_test_filter(getenv("TCP_TEST_ONLY"));
    return RUN_TESTS(tests);
}
