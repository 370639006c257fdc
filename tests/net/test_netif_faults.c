/* The fault-injecting netif on the virtual clock: a wrapped hub port (the
 * hub itself without faults) as the medium, a plain port listening on the
 * other side, and each fault in each direction, exactly and repeatably. */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "netif_faults.h"
#include "scheduler.h"
#include "test_vclock.h"

#define T0 1000000ull /* the virtual clock's start */

static int setup(void **state)
{
    test_vclock_install(T0);
    return test_setup(state);
}

static int teardown(void **state)
{
    int rc = 0;
    drain();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "test left %zu packet buffer(s) alive\n", net_buf_live_count());
        rc = -1;
    }
    if (sched_timer_count() != 0) {
        fprintf(stderr, "test left %zu timer(s) armed\n", sched_timer_count());
        rc = -1;
    }
    test_vclock_uninstall();
    return test_teardown(state) || rc;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- Helpers ------------------------------------------------------------ */

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0xb};
static const uint8_t MAC_C[6] = {2, 0, 0, 0, 0, 0xc};

/* What a listener received: the frames (owned) and the virtual time of
 * each. */
#define LOG_MAX 512
struct rx_log {
    size_t n;
    struct net_slice frames[LOG_MAX];
    uint64_t at[LOG_MAX];
};

static bool in_write; /* a listener must never run inside write */

static void log_rx(void *ctx, struct net_slice frame)
{
    struct rx_log *l = ctx;
    assert_false(in_write);
    assert_true(l->n < LOG_MAX);
    l->at[l->n] = test_vclock_now();
    l->frames[l->n++] = frame;
}

static void log_free(struct rx_log *l)
{
    for (size_t i = 0; i < l->n; i++)
        net_slice_release(&l->frames[i]);
    l->n = 0;
}

static uint8_t tag_of(const struct rx_log *l, size_t i)
{
    struct net_rd r = net_rd_of(&l->frames[i]);
    uint8_t t = net_u8(&r, 14);
    assert_false(r.bad);
    return t;
}

/* An Ethernet broadcast from src carrying len bytes of tag; remembers
 * where the fill wrote, to tell a zero-copy frame from a copied one. */
struct frame_spec {
    const uint8_t *src;
    uint8_t tag;
    size_t len;
    int calls;             /* how often the fill ran */
    bool calls_in_write;   /* every call came inside the write */
    const uint8_t *filled; /* where the last call wrote */
};

static int fill_frame(struct net_slice *frame, void *ctx)
{
    struct frame_spec *fs = ctx;
    fs->calls++;
    fs->calls_in_write = in_write;
    struct net_wr w = net_wr_of(frame);
    if (!w.p || w.len < fs->len)
        return -LWT_EINVAL;
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    net_put_bytes(&w, 0, bcast, 6);
    net_put_bytes(&w, 6, fs->src, 6);
    net_put_be16(&w, 12, 0x88b5); /* local experimental EtherType */
    memset(w.p + 14, fs->tag, fs->len - 14);
    fs->filled = w.p;
    return (int)fs->len;
}

static int write_spec(struct netif *n, struct frame_spec *fs)
{
    in_write = true;
    int rc = netif_write(n, fs->len, fill_frame, fs);
    in_write = false;
    return rc;
}

static int send_tag(struct netif *n, uint8_t tag)
{
    struct frame_spec fs = {n->mac, tag, 60, 0, false, NULL};
    return write_spec(n, &fs);
}

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
}

static struct netif_faults_stats stats_of(struct netif_faults *f)
{
    struct netif_faults_stats s;
    netif_faults_stats(f, &s);
    return s;
}

/* The medium: hub ports a and b, b wrapped (the stack's side), a plain. */
struct bench {
    struct net_hub *hub;
    struct netif *a, *b; /* hub ports */
    struct netif_faults *f;
    struct netif *w; /* the wrapper's netif, over b */
};

static void bench_open(struct bench *t, uint64_t seed)
{
    t->hub = net_hub_new(1);
    assert_non_null(t->hub);
    assert_int_equal(net_hub_add_port(t->hub, MAC_A, 1500, "a", &t->a), 0);
    assert_int_equal(net_hub_add_port(t->hub, MAC_B, 1500, "b", &t->b), 0);
    assert_int_equal(netif_faults_wrap(t->b, seed, &t->f), 0);
    t->w = netif_faults_netif(t->f);
}

static void bench_close(struct bench *t)
{
    netif_faults_free(t->f);
    net_hub_free(t->hub);
}

/* ---- The wrapper as a netif --------------------------------------------- */

static void looks_like_the_inner_netif(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    assert_memory_equal(t.w->mac, MAC_B, 6);
    assert_int_equal(t.w->mtu, 1500);
    assert_string_equal(t.w->name, "b");
    lwt_t *p = netif_wait_writable(t.w); /* the hub's answer */
    assert_fulfilled(p);
    lwt_unref(p);
    struct frame_spec fs = {MAC_B, 1, 1515, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), -LWT_EMSGSIZE);
    assert_int_equal(fs.calls, 0);
    struct netif_faults *none;
    assert_int_equal(netif_faults_wrap(NULL, 1, &none), -LWT_EINVAL);
    assert_null(none);
    bench_close(&t);
    netif_faults_free(NULL);
}

static void no_faults_pass_untouched_and_in_place(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    struct netif *c;
    assert_int_equal(net_hub_add_port(t.hub, MAC_C, 1500, "c", &c), 0);
    static struct rx_log la, lw, lc;
    netif_listen(t.a, log_rx, &la);
    netif_listen(t.w, log_rx, &lw);
    netif_listen(c, log_rx, &lc);

    /* tx: the caller's fill runs once, inside the write, in the hub's own
     * buffer, which is what the receiver gets. */
    struct frame_spec fs = {MAC_B, 7, 60, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), 0);
    assert_int_equal(fs.calls, 1);
    assert_true(fs.calls_in_write);
    assert_int_equal(netif_faults_held(t.f), 0);
    run_for(1);
    assert_int_equal(la.n, 1);
    assert_int_equal(la.at[0], T0);
    assert_int_equal(tag_of(&la, 0), 7);
    assert_ptr_equal(net_slice_data(&la.frames[0]), fs.filled);
    assert_int_equal(t.w->stats.tx_frames, 1);
    assert_int_equal(t.w->stats.tx_bytes, 60);
    assert_int_equal(t.b->stats.tx_frames, 1);

    /* rx: the very slice the hub handed up, at once. */
    assert_int_equal(send_tag(t.a, 8), 0);
    run_for(1);
    assert_int_equal(lw.n, 1);
    assert_int_equal(lc.n, 2);
    assert_int_equal(lw.at[0], T0 + 1);
    assert_ptr_equal(net_slice_data(&lw.frames[0]), net_slice_data(&lc.frames[1]));
    assert_int_equal(t.w->stats.rx_frames, 1);
    assert_int_equal(t.w->stats.rx_bytes, 60);

    struct netif_faults_stats s = stats_of(t.f);
    assert_int_equal(s.tx_lost + s.tx_duplicated + s.tx_reordered + s.tx_delayed, 0);
    assert_int_equal(s.rx_lost + s.rx_duplicated + s.rx_reordered + s.rx_delayed, 0);

    /* Without a listener on the wrapper, the inner netif has none either. */
    netif_listen(t.w, NULL, NULL);
    assert_int_equal(send_tag(t.a, 9), 0);
    run_for(1);
    assert_int_equal(lw.n, 1);
    assert_int_equal(t.b->stats.rx_dropped, 1);
    bench_close(&t);
    log_free(&la);
    log_free(&lw);
    log_free(&lc);
}

static int fill_fails(struct net_slice *frame, void *ctx)
{
    (void)frame;
    (void)ctx;
    return -LWT_EIO;
}

static void a_failing_fill_sends_nothing_either_way(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    assert_int_equal(netif_write(t.w, 60, fill_fails, NULL), -LWT_EIO); /* in place */
    netif_faults_set(t.f, &(struct netif_faults_config){.delay_ns = 10}, NULL);
    assert_int_equal(netif_write(t.w, 60, fill_fails, NULL), -LWT_EIO); /* built */
    netif_faults_set(t.f, &(struct netif_faults_config){.loss_ppm = 1000000}, NULL);
    assert_int_equal(netif_write(t.w, 60, fill_fails, NULL), -LWT_EIO); /* lost */
    assert_int_equal(net_buf_live_count(), 0);
    assert_int_equal(netif_faults_held(t.f), 0);
    run_for(100);
    assert_int_equal(la.n, 0);
    assert_int_equal(t.w->stats.tx_dropped, 3);
    assert_int_equal(t.w->stats.tx_frames, 0);
    assert_int_equal(stats_of(t.f).tx_lost, 0);
    bench_close(&t);
}

/* ---- tx faults ---------------------------------------------------------- */

static void total_tx_loss_drops_everything(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    netif_faults_set(t.f, &(struct netif_faults_config){.loss_ppm = 1000000}, NULL);
    for (uint8_t i = 0; i < 10; i++)
        assert_int_equal(send_tag(t.w, i), 0); /* the write went, as on a lossy wire */
    assert_int_equal(netif_faults_held(t.f), 0);
    assert_int_equal(sched_timer_count(), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.n, 0);
    assert_int_equal(stats_of(t.f).tx_lost, 10);
    assert_int_equal(t.w->stats.tx_frames, 10); /* what the stack saw */
    assert_int_equal(t.b->stats.tx_frames, 0);  /* what reached the medium */

    /* The other direction is untouched. */
    static struct rx_log lw;
    netif_listen(t.w, log_rx, &lw);
    assert_int_equal(send_tag(t.a, 1), 0);
    run_for(1);
    assert_int_equal(lw.n, 1);
    bench_close(&t);
    log_free(&lw);
}

static void tx_duplication_delivers_twice(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    netif_faults_set(t.f, &(struct netif_faults_config){.dup_ppm = 1000000}, NULL);
    struct frame_spec fs = {MAC_B, 1, 60, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), 0);
    assert_int_equal(fs.calls, 1); /* built once, sent twice */
    assert_true(fs.calls_in_write);
    assert_int_equal(send_tag(t.w, 2), 0);
    assert_int_equal(netif_faults_held(t.f), 2);
    assert_int_equal(t.b->stats.tx_frames, 0); /* not inside the write */
    run_for(1);
    assert_int_equal(la.n, 4);
    assert_int_equal(tag_of(&la, 0), 1);
    assert_int_equal(tag_of(&la, 1), 1);
    assert_int_equal(tag_of(&la, 2), 2);
    assert_int_equal(tag_of(&la, 3), 2);
    assert_int_equal(la.at[3], T0); /* no delay asked for */
    assert_int_equal(la.frames[0].len, 60);
    assert_memory_equal(net_slice_data(&la.frames[0]) + 6, MAC_B, 6);
    assert_int_equal(stats_of(t.f).tx_duplicated, 2);
    assert_int_equal(stats_of(t.f).tx_delayed, 0);
    assert_int_equal(t.w->stats.tx_frames, 2);
    assert_int_equal(t.b->stats.tx_frames, 4);
    bench_close(&t);
    log_free(&la);
}

/* A frame with no fault of its own does not overtake one already due. */
static void an_unfaulted_frame_waits_behind_a_due_one(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    netif_faults_set(t.f, &(struct netif_faults_config){.dup_ppm = 1000000}, NULL);
    assert_int_equal(send_tag(t.w, 1), 0);
    netif_faults_set(t.f, NULL, NULL);
    struct frame_spec fs = {MAC_B, 2, 60, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), 0);
    assert_int_equal(netif_faults_held(t.f), 2);
    run_for(1);
    assert_int_equal(la.n, 3);
    assert_int_equal(tag_of(&la, 0), 1);
    assert_int_equal(tag_of(&la, 1), 1);
    assert_int_equal(tag_of(&la, 2), 2);
    assert_ptr_not_equal(net_slice_data(&la.frames[2]), fs.filled); /* it was copied */
    assert_int_equal(stats_of(t.f).tx_delayed, 0);
    bench_close(&t);
    log_free(&la);
}

static void tx_reorder_lets_the_next_frame_overtake(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    netif_faults_set(t.f, &(struct netif_faults_config){.reorder_ppm = 1000000}, NULL);
    for (uint8_t i = 1; i <= 4; i++)
        assert_int_equal(send_tag(t.w, i), 0);
    run_for(1);
    assert_int_equal(la.n, 4);
    assert_int_equal(tag_of(&la, 0), 2);
    assert_int_equal(tag_of(&la, 1), 1);
    assert_int_equal(tag_of(&la, 2), 4);
    assert_int_equal(tag_of(&la, 3), 3);
    assert_int_equal(la.at[3], T0); /* released with its overtaker */
    assert_int_equal(stats_of(t.f).tx_reordered, 2);
    log_free(&la);

    /* A held frame that nothing overtakes goes after the hold time. */
    uint64_t at = test_vclock_now();
    assert_int_equal(send_tag(t.w, 9), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.n, 1);
    assert_int_equal(la.at[0], at + NETIF_FAULTS_REORDER_HOLD_NS);
    assert_int_equal(stats_of(t.f).tx_reordered, 2);
    log_free(&la);

    /* The hold time is a knob. */
    netif_faults_set(t.f, &(struct netif_faults_config){.reorder_ppm = 1000000, .reorder_hold_ns = 777}, NULL);
    at = test_vclock_now();
    assert_int_equal(send_tag(t.w, 9), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.at[0], at + 777);
    bench_close(&t);
    log_free(&la);
}

static void tx_delay_is_exact_on_the_virtual_clock(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    const uint64_t delay = 5 * SCHED_NS_PER_MS + 3;
    netif_faults_set(t.f, &(struct netif_faults_config){.delay_ns = delay}, NULL);
    struct frame_spec fs = {MAC_B, 1, 60, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), 0);
    assert_int_equal(fs.calls, 1);
    assert_true(fs.calls_in_write);
    test_vclock_advance(1000);
    assert_int_equal(send_tag(t.w, 2), 0);
    assert_int_equal(sched_timer_count(), 1); /* one timer for the queue */
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.n, 2);
    assert_int_equal(la.at[0], T0 + delay);
    assert_int_equal(la.at[1], T0 + 1000 + delay);
    assert_int_equal(tag_of(&la, 0), 1);
    assert_int_equal(tag_of(&la, 1), 2);
    assert_int_equal(stats_of(t.f).tx_delayed, 2);
    log_free(&la);

    /* On top of what the medium adds. */
    net_hub_set_faults(t.hub, &(struct net_hub_faults){.delay_ns = 100});
    uint64_t at = test_vclock_now();
    assert_int_equal(send_tag(t.w, 3), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.at[0], at + delay + 100);
    net_hub_set_faults(t.hub, NULL);
    log_free(&la);

    /* Jitter stays within [delay, delay + jitter] and does vary. */
    const uint64_t jitter = 2 * SCHED_NS_PER_MS;
    netif_faults_set(t.f, &(struct netif_faults_config){.delay_ns = delay, .jitter_ns = jitter}, NULL);
    uint64_t sent[50];
    for (uint8_t i = 0; i < 50; i++) {
        sent[i] = test_vclock_now();
        assert_int_equal(send_tag(t.w, i), 0);
        test_vclock_advance(10);
    }
    run_for(SCHED_NS_PER_S);
    assert_int_equal(la.n, 50);
    bool varied = false;
    for (size_t i = 0; i < la.n; i++) {
        uint64_t s = sent[tag_of(&la, i)];
        assert_true(la.at[i] >= s + delay && la.at[i] <= s + delay + jitter);
        varied |= la.at[i] - s != la.at[0] - sent[tag_of(&la, 0)];
    }
    assert_true(varied);
    bench_close(&t);
    log_free(&la);
}

/* ---- rx faults ---------------------------------------------------------- */

static void rx_faults_apply_before_the_listener(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la, lw;
    netif_listen(t.a, log_rx, &la);
    netif_listen(t.w, log_rx, &lw);

    /* Loss: the medium delivered, the stack saw nothing. */
    netif_faults_set(t.f, NULL, &(struct netif_faults_config){.loss_ppm = 1000000});
    for (uint8_t i = 0; i < 5; i++)
        assert_int_equal(send_tag(t.a, i), 0);
    run_for(1);
    assert_int_equal(lw.n, 0);
    assert_int_equal(t.b->stats.rx_frames, 5);
    assert_int_equal(t.w->stats.rx_frames, 0);
    assert_int_equal(stats_of(t.f).rx_lost, 5);
    /* ...and tx is untouched. */
    assert_int_equal(send_tag(t.w, 1), 0);
    run_for(1);
    assert_int_equal(la.n, 1);
    log_free(&la);

    /* Duplication: twice, sharing one buffer. */
    netif_faults_set(t.f, NULL, &(struct netif_faults_config){.dup_ppm = 1000000});
    assert_int_equal(send_tag(t.a, 1), 0);
    assert_int_equal(send_tag(t.a, 2), 0);
    run_for(1);
    assert_int_equal(lw.n, 4);
    assert_int_equal(tag_of(&lw, 0), 1);
    assert_int_equal(tag_of(&lw, 1), 1);
    assert_int_equal(tag_of(&lw, 2), 2);
    assert_int_equal(tag_of(&lw, 3), 2);
    assert_ptr_equal(net_slice_data(&lw.frames[0]), net_slice_data(&lw.frames[1]));
    assert_int_equal(stats_of(t.f).rx_duplicated, 2);
    assert_int_equal(t.w->stats.rx_frames, 4);
    log_free(&lw);

    /* Reordering: pairs swap. */
    netif_faults_set(t.f, NULL, &(struct netif_faults_config){.reorder_ppm = 1000000});
    for (uint8_t i = 1; i <= 4; i++)
        assert_int_equal(send_tag(t.a, i), 0);
    run_for(1);
    assert_int_equal(lw.n, 4);
    assert_int_equal(tag_of(&lw, 0), 2);
    assert_int_equal(tag_of(&lw, 1), 1);
    assert_int_equal(tag_of(&lw, 2), 4);
    assert_int_equal(tag_of(&lw, 3), 3);
    assert_int_equal(stats_of(t.f).rx_reordered, 2);
    log_free(&lw);

    /* Delay: exactly delay_ns after the medium handed it up. */
    const uint64_t delay = 3 * SCHED_NS_PER_MS + 1;
    netif_faults_set(t.f, NULL, &(struct netif_faults_config){.delay_ns = delay});
    uint64_t at = test_vclock_now();
    assert_int_equal(send_tag(t.a, 5), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lw.n, 1);
    assert_int_equal(lw.at[0], at + delay);
    assert_int_equal(stats_of(t.f).rx_delayed, 1);
    /* A held frame meets no listener: dropped and counted. */
    uint64_t dropped = t.w->stats.rx_dropped;
    assert_int_equal(send_tag(t.a, 6), 0);
    run_for(1);
    netif_listen(t.w, NULL, NULL);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lw.n, 1);
    assert_int_equal(t.w->stats.rx_dropped, dropped + 1);
    bench_close(&t);
    log_free(&lw);
}

/* A listener that answers on the wrapper, as a stack does, while its rx
 * frames come from the timer. */
struct echo {
    struct netif *self;
    int got;
};

static void echo_rx(void *ctx, struct net_slice frame)
{
    struct echo *e = ctx;
    e->got++;
    net_slice_release(&frame);
    assert_int_equal(send_tag(e->self, 0xee), 0);
}

static void a_listener_may_write_back(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la;
    netif_listen(t.a, log_rx, &la);
    struct echo e = {t.w, 0};
    netif_listen(t.w, echo_rx, &e);
    const struct netif_faults_config both = {.delay_ns = 100, .dup_ppm = 1000000};
    netif_faults_set(t.f, &both, &both);
    assert_int_equal(send_tag(t.a, 1), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(e.got, 2);
    assert_int_equal(la.n, 4);
    assert_int_equal(la.at[0], T0 + 200);
    bench_close(&t);
    log_free(&la);
}

/* ---- Determinism -------------------------------------------------------- */

/* Everything a run shows: the order and time of each frame at both ends. */
struct trace {
    size_t n;
    uint8_t tags[2 * LOG_MAX];
    uint64_t times[2 * LOG_MAX];
};

static void chaotic_run(uint64_t seed, struct trace *tr)
{
    struct bench t;
    bench_open(&t, seed);
    static struct rx_log la, lw;
    netif_listen(t.a, log_rx, &la);
    netif_listen(t.w, log_rx, &lw);
    const struct netif_faults_config chaos = {.loss_ppm = 200000,
                                              .dup_ppm = 100000,
                                              .reorder_ppm = 100000,
                                              .delay_ns = 1000,
                                              .jitter_ns = 5000,
                                              .reorder_hold_ns = 20000};
    netif_faults_set(t.f, &chaos, &chaos);
    for (size_t i = 0; i < 150; i++) {
        assert_int_equal(send_tag(t.w, (uint8_t)i), 0);
        assert_int_equal(send_tag(t.a, (uint8_t)i), 0);
        run_for(700);
    }
    run_for(SCHED_NS_PER_S);
    struct netif_faults_stats s = stats_of(t.f);
    assert_true(s.tx_lost > 0 && s.tx_duplicated > 0 && s.tx_reordered > 0 && s.tx_delayed > 0);
    assert_true(s.rx_lost > 0 && s.rx_duplicated > 0 && s.rx_reordered > 0 && s.rx_delayed > 0);
    assert_int_equal(la.n, 150 - s.tx_lost + s.tx_duplicated);
    assert_int_equal(lw.n, 150 - s.rx_lost + s.rx_duplicated);
    assert_int_equal(t.w->stats.rx_frames, lw.n);
    assert_int_equal(netif_faults_held(t.f), 0);
    tr->n = 0;
    for (size_t i = 0; i < la.n; i++, tr->n++) {
        tr->tags[tr->n] = tag_of(&la, i);
        tr->times[tr->n] = la.at[i] - T0;
    }
    for (size_t i = 0; i < lw.n; i++, tr->n++) {
        tr->tags[tr->n] = tag_of(&lw, i);
        tr->times[tr->n] = lw.at[i] - T0;
    }
    bench_close(&t);
    log_free(&la);
    log_free(&lw);
}

static bool same_trace(const struct trace *x, const struct trace *y)
{
    return x->n == y->n && memcmp(x->tags, y->tags, x->n) == 0 &&
           memcmp(x->times, y->times, x->n * sizeof x->times[0]) == 0;
}

static void faults_are_deterministic_for_a_seed(void **state)
{
    (void)state;
    static struct trace t1, t2, t3;
    chaotic_run(42, &t1);
    test_vclock_uninstall();
    test_vclock_install(T0);
    chaotic_run(42, &t2);
    assert_true(same_trace(&t1, &t2));
    test_vclock_uninstall();
    test_vclock_install(T0);
    chaotic_run(43, &t3);
    assert_false(same_trace(&t1, &t3));
}

/* ---- Limits and teardown ------------------------------------------------ */

static void freeing_with_frames_held_leaks_nothing(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    static struct rx_log la, lw;
    netif_listen(t.a, log_rx, &la);
    netif_listen(t.w, log_rx, &lw);
    const struct netif_faults_config slow = {.delay_ns = SCHED_NS_PER_S, .dup_ppm = 500000, .reorder_ppm = 300000};
    netif_faults_set(t.f, &slow, &slow);
    for (uint8_t i = 0; i < 20; i++) {
        assert_int_equal(send_tag(t.w, i), 0);
        assert_int_equal(send_tag(t.a, i), 0);
    }
    run_for(1); /* the hub hands a's frames up: now held on rx */
    assert_int_equal(netif_faults_held(t.f), 40);
    assert_int_equal(net_buf_live_count(), 40);
    assert_int_equal(sched_timer_count(), 2); /* one per direction */
    netif_faults_free(t.f);
    assert_int_equal(net_buf_live_count(), 0);
    drain(); /* the cancelled timers' callbacks, when they are deferred */
    assert_int_equal(sched_timer_count(), 0);
    net_hub_free(t.hub);
    assert_int_equal(la.n + lw.n, 0);
}

static void held_frames_are_bounded(void **state)
{
    (void)state;
    struct bench t;
    bench_open(&t, 1);
    netif_faults_set(t.f, &(struct netif_faults_config){.delay_ns = SCHED_NS_PER_S}, NULL);
    for (size_t i = 0; i < NETIF_FAULTS_MAX_HELD; i++)
        assert_int_equal(send_tag(t.w, (uint8_t)i), 0);
    assert_int_equal(netif_faults_held(t.f), NETIF_FAULTS_MAX_HELD);
    struct frame_spec fs = {MAC_B, 1, 60, 0, false, NULL};
    assert_int_equal(write_spec(t.w, &fs), 0); /* dropped, as a full medium would */
    assert_int_equal(fs.calls, 0);
    assert_int_equal(netif_faults_held(t.f), NETIF_FAULTS_MAX_HELD);
    assert_int_equal(t.w->stats.tx_dropped, 1);
    assert_int_equal(t.w->stats.tx_frames, NETIF_FAULTS_MAX_HELD);
    test_output_clear();
    bench_close(&t);
}

/* ---- An inner netif that is sometimes full ------------------------------ */

struct fake {
    struct netif netif;
    bool full;
    bool confused;            /* says writable at once while full */
    lwt_resolver_t *resolver; /* a pending wait_writable */
    int refused;
    size_t n;
    uint8_t tags[16];
    uint64_t at[16];
};

static int fake_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    struct fake *k = (struct fake *)n;
    if (k->full) {
        k->refused++;
        return -LWT_EAGAIN;
    }
    struct net_slice s;
    assert_int_equal(net_slice_alloc(&s, 0, size), 0);
    struct net_slice lent = s;
    int len = fill(&lent, ctx);
    assert_true(len > 14);
    assert_true(k->n < 16);
    k->tags[k->n] = net_slice_data(&s)[14];
    k->at[k->n++] = test_vclock_now();
    net_slice_release(&s);
    return 0;
}

static lwt_t *fake_wait_writable(struct netif *n)
{
    struct fake *k = (struct fake *)n;
    if (!k->full || k->confused)
        return lwt_return(NULL);
    assert_null(k->resolver);
    return lwt_task(&k->resolver);
}

static void fake_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    (void)n;
    (void)rx;
    (void)ctx;
}

static const struct netif_ops fake_ops = {
    .write = fake_write,
    .wait_writable = fake_wait_writable,
    .listen = fake_listen,
};

static void fake_init(struct fake *k)
{
    *k = (struct fake){0};
    k->netif.ops = &fake_ops;
    memcpy(k->netif.mac, MAC_C, 6);
    k->netif.mtu = 1500;
    k->netif.name = "fake";
}

static void a_full_inner_netif_keeps_the_frames_in_order(void **state)
{
    (void)state;
    static struct fake k;
    fake_init(&k);
    struct netif_faults *f;
    assert_int_equal(netif_faults_wrap(&k.netif, 1, &f), 0);
    struct netif *w = netif_faults_netif(f);
    netif_faults_set(f, &(struct netif_faults_config){.delay_ns = 1000}, NULL);
    assert_int_equal(send_tag(w, 1), 0);
    assert_int_equal(send_tag(w, 2), 0);
    k.full = true;
    run_for(5000);
    assert_int_equal(k.refused, 1); /* then it waits, without polling */
    assert_int_equal(k.n, 0);
    assert_non_null(k.resolver);
    assert_int_equal(sched_timer_count(), 0);

    /* A frame without faults queues behind them. */
    netif_faults_set(f, NULL, NULL);
    assert_int_equal(send_tag(w, 3), 0);
    assert_int_equal(netif_faults_held(f), 3);

    k.full = false;
    lwt_resolver_t *r = k.resolver;
    k.resolver = NULL;
    lwt_wakeup(r, NULL);
    assert_int_equal(k.n, 0); /* not from inside the wakeup */
    run_for(1);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.tags[0], 1);
    assert_int_equal(k.tags[1], 2);
    assert_int_equal(k.tags[2], 3);
    assert_int_equal(k.at[0], T0 + 5000);
    assert_int_equal(netif_faults_held(f), 0);

    /* With no faults and nothing held, the inner's answer is the caller's. */
    k.full = true;
    assert_int_equal(send_tag(w, 4), -LWT_EAGAIN);
    assert_int_equal(w->stats.tx_errors, 0);

    /* A device that says writable while it is not is polled, not spun on. */
    k.confused = true;
    netif_faults_set(f, &(struct netif_faults_config){.delay_ns = 1}, NULL);
    uint64_t at = test_vclock_now();
    assert_int_equal(send_tag(w, 5), 0);
    k.refused = 0;
    run_for(3 * NETIF_FAULTS_RETRY_NS);
    assert_int_equal(k.refused, 3); /* at +1, then every NETIF_FAULTS_RETRY_NS */
    k.full = false;
    run_for(NETIF_FAULTS_RETRY_NS);
    assert_int_equal(k.n, 4);
    assert_int_equal(k.tags[3], 5);
    assert_int_equal(k.at[3], at + 1 + 3 * NETIF_FAULTS_RETRY_NS);
    netif_faults_free(f);
}

static void freeing_while_the_inner_netif_is_full(void **state)
{
    (void)state;
    static struct fake k;
    fake_init(&k);
    struct netif_faults *f;
    assert_int_equal(netif_faults_wrap(&k.netif, 1, &f), 0);
    netif_faults_set(f, &(struct netif_faults_config){.dup_ppm = 1000000}, NULL);
    assert_int_equal(send_tag(netif_faults_netif(f), 1), 0);
    k.full = true;
    run_for(1);
    assert_non_null(k.resolver);
    netif_faults_free(f); /* cancels its wait */
    drain();
    assert_int_equal(net_buf_live_count(), 0);
    lwt_wakeup(k.resolver, NULL); /* a no-op on the cancelled promise */
    k.resolver = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(looks_like_the_inner_netif),
        T(no_faults_pass_untouched_and_in_place),
        T(a_failing_fill_sends_nothing_either_way),
        T(total_tx_loss_drops_everything),
        T(tx_duplication_delivers_twice),
        T(an_unfaulted_frame_waits_behind_a_due_one),
        T(tx_reorder_lets_the_next_frame_overtake),
        T(tx_delay_is_exact_on_the_virtual_clock),
        T(rx_faults_apply_before_the_listener),
        T(a_listener_may_write_back),
        T(faults_are_deterministic_for_a_seed),
        T(freeing_with_frames_held_leaks_nothing),
        T(held_frames_are_bounded),
        T(a_full_inner_netif_keeps_the_frames_in_order),
        T(freeing_while_the_inner_netif_is_full),
    };
    return RUN_TESTS(tests);
}
