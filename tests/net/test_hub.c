/* The in-memory hub on the virtual clock: who receives what, when, and
 * what each fault does, exactly and repeatably. */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "net_csum.h"
#include "scheduler.h"
#include "test_vclock.h"
#include "wire_eth.h"
#include "wire_ip4.h"
#include "wire_tcp.h"

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
static const uint8_t MAC_D[6] = {2, 0, 0, 0, 0, 0xd};

/* What a port received: the frames (owned) and the virtual time of each. */
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

/* The tag a test frame carries (its first payload byte). */
static uint8_t tag_of(const struct rx_log *l, size_t i)
{
    struct net_rd r = net_rd_of(&l->frames[i]);
    uint8_t t = net_u8(&r, 14);
    assert_false(r.bad);
    return t;
}

/* An Ethernet broadcast from src carrying len bytes of tag. */
struct frame_spec {
    const uint8_t *src;
    uint8_t tag;
    size_t len;
    int calls; /* how often the fill ran */
};

static int fill_frame(struct net_slice *frame, void *ctx)
{
    struct frame_spec *fs = ctx;
    fs->calls++;
    struct net_wr w = net_wr_of(frame);
    if (!w.p || w.len < fs->len)
        return -LWT_EINVAL;
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    net_put_bytes(&w, 0, bcast, 6);
    net_put_bytes(&w, 6, fs->src, 6);
    net_put_be16(&w, 12, 0x88b5); /* local experimental EtherType */
    memset(w.p + 14, fs->tag, fs->len - 14);
    return (int)fs->len;
}

static int send_tag(struct netif *n, uint8_t tag)
{
    struct frame_spec fs = {n->mac, tag, 60, 0};
    in_write = true;
    int rc = netif_write(n, 60, fill_frame, &fs);
    in_write = false;
    return rc;
}

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
}

static struct net_hub_stats stats_of(struct net_hub *h)
{
    struct net_hub_stats s;
    net_hub_stats(h, &s);
    return s;
}

/* ---- Delivery ----------------------------------------------------------- */

static void delivers_to_every_other_port_and_not_back(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b, *c, *d;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    assert_int_equal(net_hub_add_port(h, MAC_C, 1500, "c", &c), 0);
    assert_int_equal(net_hub_add_port(h, MAC_D, 1500, "d", &d), 0); /* never listens */
    assert_memory_equal(b->mac, MAC_B, 6);
    assert_int_equal(b->mtu, 1500);
    assert_string_equal(c->name, "c");
    static struct rx_log la, lb, lc;
    netif_listen(a, log_rx, &la);
    netif_listen(b, log_rx, &lb);
    netif_listen(c, log_rx, &lc);

    assert_int_equal(send_tag(a, 7), 0);
    assert_int_equal(lb.n, 0); /* never inside write */
    drain();
    assert_int_equal(lb.n, 0); /* nor on the deferred queue: on a later turn */
    run_for(1);
    assert_int_equal(la.n, 0);
    assert_int_equal(lb.n, 1);
    assert_int_equal(lc.n, 1);
    assert_int_equal(lb.at[0], T0); /* no delay configured */
    assert_int_equal(lb.frames[0].len, 60);
    assert_int_equal(tag_of(&lb, 0), 7);
    assert_memory_equal(net_slice_data(&lc.frames[0]) + 6, MAC_A, 6);

    assert_int_equal(a->stats.tx_frames, 1);
    assert_int_equal(a->stats.tx_bytes, 60);
    assert_int_equal(b->stats.rx_frames, 1);
    assert_int_equal(b->stats.rx_bytes, 60);
    assert_int_equal(a->stats.rx_frames, 0);
    assert_int_equal(d->stats.rx_dropped, 1);
    struct net_hub_stats s = stats_of(h);
    assert_int_equal(s.written, 1);
    assert_int_equal(s.delivered, 1);

    /* After listen(NULL) frames are dropped and counted. */
    netif_listen(c, NULL, NULL);
    assert_int_equal(send_tag(b, 8), 0);
    run_for(1);
    assert_int_equal(la.n, 1);
    assert_int_equal(lc.n, 1);
    assert_int_equal(c->stats.rx_dropped, 1);

    net_hub_free(h);
    log_free(&la);
    log_free(&lb);
    log_free(&lc);
}

static int fill_from_local(struct net_slice *frame, void *ctx)
{
    (void)ctx;
    uint8_t local[60];
    memset(local, 0x5a, sizeof local);
    memcpy(local + 6, MAC_A, 6);
    struct net_wr w = net_wr_of(frame);
    net_put_bytes(&w, 0, local, sizeof local);
    return w.bad ? -LWT_EINVAL : (int)sizeof local;
}

static void frames_outlive_the_sender_and_the_hub(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b, *c;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    assert_int_equal(net_hub_add_port(h, MAC_C, 1500, "c", &c), 0);
    static struct rx_log lb, lc;
    netif_listen(b, log_rx, &lb);
    netif_listen(c, log_rx, &lc);
    assert_int_equal(netif_write(a, 100, fill_from_local, NULL), 0);
    run_for(1);
    assert_int_equal(lb.n, 1);
    assert_int_equal(lc.n, 1);
    assert_int_equal(lb.frames[0].len, 60); /* trimmed to what the fill wrote */
    log_free(&lc);                          /* one receiver lets go early */
    net_hub_free(h);                        /* the medium is gone too */
    assert_int_equal(net_buf_live_count(), 1);
    const uint8_t *p = net_slice_data(&lb.frames[0]);
    assert_int_equal(p[0], 0x5a);
    assert_memory_equal(p + 6, MAC_A, 6);
    assert_int_equal(p[59], 0x5a);
    log_free(&lb);
}

static void wait_writable_is_fulfilled_at_once(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    lwt_t *p = netif_wait_writable(a);
    assert_fulfilled(p);
    lwt_unref(p);
    net_hub_free(h);
}

/* ---- Limits and errors -------------------------------------------------- */

static void mtu_is_enforced(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 100, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 100, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    struct frame_spec fs = {MAC_A, 1, 114, 0};
    assert_int_equal(netif_write(a, 115, fill_frame, &fs), -LWT_EMSGSIZE);
    assert_int_equal(fs.calls, 0);
    assert_int_equal(netif_write(a, 114, fill_frame, &fs), 0); /* mtu + Ethernet header */
    assert_int_equal(fs.calls, 1);
    run_for(1);
    assert_int_equal(lb.n, 1);
    assert_int_equal(lb.frames[0].len, 114);
    net_hub_free(h);
    log_free(&lb);
}

static int fill_fails(struct net_slice *frame, void *ctx)
{
    (void)frame;
    (void)ctx;
    return -LWT_EIO;
}

static int fill_too_long(struct net_slice *frame, void *ctx)
{
    (void)ctx;
    return (int)frame->len + 1;
}

static void a_failing_fill_sends_nothing(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    assert_int_equal(netif_write(a, 60, fill_fails, NULL), -LWT_EIO);
    assert_int_equal(netif_write(a, 60, fill_too_long, NULL), -LWT_EINVAL);
    assert_int_equal(net_buf_live_count(), 0);
    assert_int_equal(net_hub_in_flight(h), 0);
    assert_int_equal(sched_timer_count(), 0);
    run_for(1);
    assert_int_equal(lb.n, 0);
    assert_int_equal(a->stats.tx_dropped, 2);
    assert_int_equal(a->stats.tx_frames, 0);
    assert_int_equal(stats_of(h).written, 0);
    net_hub_free(h);
}

static void freeing_the_hub_with_frames_in_flight_leaks_nothing(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    struct net_hub_faults f = {.delay_ns = SCHED_NS_PER_S, .dup_ppm = 500000, .reorder_ppm = 300000};
    net_hub_set_faults(h, &f);
    for (uint8_t i = 0; i < 20; i++)
        assert_int_equal(send_tag(a, i), 0);
    assert_int_equal(net_hub_in_flight(h), 20);
    assert_int_equal(net_buf_live_count(), 20);
    assert_int_equal(sched_timer_count(), 1); /* one timer for the whole queue */
    net_hub_free(h);
    assert_int_equal(net_buf_live_count(), 0);
    drain(); /* the cancelled timer's callbacks, when they are deferred */
    assert_int_equal(sched_timer_count(), 0);
    assert_int_equal(lb.n, 0);
}

/* ---- Faults ------------------------------------------------------------- */

static void total_loss_delivers_nothing(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    net_hub_set_faults(h, &(struct net_hub_faults){.loss_ppm = 1000000});
    for (uint8_t i = 0; i < 10; i++)
        assert_int_equal(send_tag(a, i), 0); /* lost by the medium: still 0 */
    assert_int_equal(net_hub_in_flight(h), 0);
    assert_int_equal(sched_timer_count(), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 0);
    struct net_hub_stats s = stats_of(h);
    assert_int_equal(s.written, 10);
    assert_int_equal(s.lost, 10);
    assert_int_equal(s.delivered, 0);
    assert_int_equal(a->stats.tx_frames, 10);
    net_hub_free(h);
}

static void total_duplication_delivers_twice(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    net_hub_set_faults(h, &(struct net_hub_faults){.dup_ppm = 1000000});
    assert_int_equal(send_tag(a, 1), 0);
    assert_int_equal(send_tag(a, 2), 0);
    run_for(1);
    assert_int_equal(lb.n, 4);
    assert_int_equal(tag_of(&lb, 0), 1);
    assert_int_equal(tag_of(&lb, 1), 1);
    assert_int_equal(tag_of(&lb, 2), 2);
    assert_int_equal(tag_of(&lb, 3), 2);
    struct net_hub_stats s = stats_of(h);
    assert_int_equal(s.duplicated, 2);
    assert_int_equal(s.delivered, 4);
    assert_int_equal(b->stats.rx_frames, 4);
    net_hub_free(h);
    log_free(&lb);
}

static void reorder_lets_the_next_frame_overtake(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    net_hub_set_faults(h, &(struct net_hub_faults){.reorder_ppm = 1000000});
    /* Every frame is a candidate, but an overtaker is never held itself:
     * pairs swap. */
    for (uint8_t i = 1; i <= 4; i++)
        assert_int_equal(send_tag(a, i), 0);
    run_for(1);
    assert_int_equal(lb.n, 4);
    assert_int_equal(tag_of(&lb, 0), 2);
    assert_int_equal(tag_of(&lb, 1), 1);
    assert_int_equal(tag_of(&lb, 2), 4);
    assert_int_equal(tag_of(&lb, 3), 3);
    assert_int_equal(lb.at[1], T0); /* released with its overtaker */
    assert_int_equal(stats_of(h).reordered, 2);
    log_free(&lb);

    /* A held frame that nothing overtakes goes after the hold time. */
    uint64_t t = test_vclock_now();
    assert_int_equal(send_tag(a, 9), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 1);
    assert_int_equal(lb.at[0], t + NET_HUB_REORDER_HOLD_NS);
    assert_int_equal(stats_of(h).reordered, 2);
    log_free(&lb);

    /* The hold time is a knob. */
    net_hub_set_faults(h, &(struct net_hub_faults){.reorder_ppm = 1000000, .reorder_hold_ns = 777});
    t = test_vclock_now();
    assert_int_equal(send_tag(a, 9), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.at[0], t + 777);
    net_hub_free(h);
    log_free(&lb);
}

static void delay_is_exact_on_the_virtual_clock(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    const uint64_t delay = 5 * SCHED_NS_PER_MS + 3;
    net_hub_set_faults(h, &(struct net_hub_faults){.delay_ns = delay});
    assert_int_equal(send_tag(a, 1), 0);
    test_vclock_advance(1000);
    assert_int_equal(send_tag(a, 2), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 2);
    assert_int_equal(lb.at[0], T0 + delay);
    assert_int_equal(lb.at[1], T0 + 1000 + delay);
    assert_int_equal(tag_of(&lb, 0), 1);
    log_free(&lb);

    /* Jitter stays within [delay, delay + jitter] and does vary. */
    const uint64_t jitter = 2 * SCHED_NS_PER_MS;
    net_hub_set_faults(h, &(struct net_hub_faults){.delay_ns = delay, .jitter_ns = jitter});
    uint64_t sent[50];
    for (uint8_t i = 0; i < 50; i++) {
        sent[i] = test_vclock_now();
        assert_int_equal(send_tag(a, i), 0);
        test_vclock_advance(10);
    }
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 50);
    bool varied = false;
    for (size_t i = 0; i < lb.n; i++) {
        uint64_t s = sent[tag_of(&lb, i)];
        assert_true(lb.at[i] >= s + delay && lb.at[i] <= s + delay + jitter);
        varied |= lb.at[i] - s != lb.at[0] - sent[tag_of(&lb, 0)];
        if (i)
            assert_true(lb.at[i] >= lb.at[i - 1]);
    }
    assert_true(varied);
    net_hub_free(h);
    log_free(&lb);
}

static void per_port_faults_override_the_hub(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log la, lb;
    netif_listen(a, log_rx, &la);
    netif_listen(b, log_rx, &lb);
    assert_int_equal(net_hub_set_port_faults(a, &(struct net_hub_faults){.loss_ppm = 1000000}), 0);
    net_hub_set_faults(h, &(struct net_hub_faults){.delay_ns = 50});
    assert_int_equal(send_tag(a, 1), 0);
    assert_int_equal(send_tag(b, 2), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 0);
    assert_int_equal(la.n, 1);
    assert_int_equal(la.at[0], T0 + 50);
    assert_int_equal(net_hub_set_port_faults(a, NULL), 0);
    assert_int_equal(send_tag(a, 3), 0);
    run_for(SCHED_NS_PER_S);
    assert_int_equal(lb.n, 1);
    struct netif other = {0};
    assert_int_equal(net_hub_set_port_faults(&other, NULL), -LWT_EINVAL);
    net_hub_free(h);
    log_free(&la);
    log_free(&lb);
}

/* Everything a run shows: the order and time of each frame at b. */
static size_t chaotic_run(uint64_t seed, uint8_t *tags, uint64_t *times, size_t max)
{
    struct net_hub *h = net_hub_new(seed);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    net_hub_set_faults(h, &(struct net_hub_faults){.loss_ppm = 200000,
                                                   .dup_ppm = 100000,
                                                   .reorder_ppm = 100000,
                                                   .delay_ns = 1000,
                                                   .jitter_ns = 5000,
                                                   .reorder_hold_ns = 20000});
    for (size_t i = 0; i < 200; i++) {
        assert_int_equal(send_tag(a, (uint8_t)i), 0);
        test_vclock_advance(700);
    }
    run_for(SCHED_NS_PER_S);
    struct net_hub_stats s = stats_of(h);
    assert_true(s.lost > 0 && s.duplicated > 0 && s.reordered > 0);
    assert_int_equal(s.delivered, 200 - s.lost + s.duplicated);
    assert_int_equal(lb.n, s.delivered);
    assert_true(lb.n <= max);
    size_t n = lb.n;
    for (size_t i = 0; i < n; i++) {
        tags[i] = tag_of(&lb, i);
        times[i] = lb.at[i] - T0;
    }
    net_hub_free(h);
    log_free(&lb);
    return n;
}

static void faults_are_deterministic_for_a_seed(void **state)
{
    (void)state;
    static uint8_t tags1[LOG_MAX], tags2[LOG_MAX], tags3[LOG_MAX];
    static uint64_t times1[LOG_MAX], times2[LOG_MAX], times3[LOG_MAX];
    size_t n1 = chaotic_run(42, tags1, times1, LOG_MAX);
    test_vclock_uninstall();
    test_vclock_install(T0);
    size_t n2 = chaotic_run(42, tags2, times2, LOG_MAX);
    assert_int_equal(n1, n2);
    assert_memory_equal(tags1, tags2, n1);
    assert_memory_equal(times1, times2, n1 * sizeof times1[0]);
    test_vclock_uninstall();
    test_vclock_install(T0);
    size_t n3 = chaotic_run(43, tags3, times3, LOG_MAX);
    assert_true(n3 != n1 || memcmp(tags1, tags3, n1) != 0 || memcmp(times1, times3, n1 * sizeof times1[0]) != 0);
}

/* ---- Re-entrancy -------------------------------------------------------- */

/* Two ports bounce a frame back and forth with no delay: each hop comes on
 * a later turn, never inside write, and the loop is not stuck in one turn. */
struct bouncer {
    struct netif *self;
    int left;
    int got;
};

static void bounce(void *ctx, struct net_slice frame)
{
    struct bouncer *bo = ctx;
    assert_false(in_write);
    bo->got++;
    net_slice_release(&frame);
    if (bo->left-- > 0)
        assert_int_equal(send_tag(bo->self, 1), 0);
}

static void zero_delay_ping_pong_takes_turns(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    struct bouncer ba = {a, 50, 0}, bb = {b, 50, 0};
    netif_listen(a, bounce, &ba);
    netif_listen(b, bounce, &bb);
    assert_int_equal(send_tag(a, 1), 0);
    run_for(1); /* returns: the bouncing does not hold up the loop */
    assert_int_equal(ba.got + bb.got, 101);
    assert_int_equal(test_vclock_now(), T0 + 1);
    net_hub_free(h);
}

/* ---- Offload ------------------------------------------------------------ */

#define TSO_SRC IP4_ADDR(10, 9, 0, 1)
#define TSO_DST IP4_ADDR(10, 9, 0, 2)
#define TSO_SEQ 0xfffff000u /* the segments' numbers wrap */

static uint8_t tso_byte(size_t i)
{
    return (uint8_t)(i * 11 + 7);
}

#define TSO_HDRS (ETH_HDR_LEN + IP4_HDR_MIN + TCP_HDR_MIN + 12) /* the TCP header has timestamps */

/* A TCP/IPv4 frame from A to B with `data` payload bytes, its TCP
 * checksum left partial as a stack with offload leaves it, to go in
 * segments of gso bytes (0: no TSO); with tail, the data is the write's
 * tail, in two pieces split at `tail`, and the fill writes the headers
 * (short: some bytes fewer). */
struct tso_spec {
    size_t data;
    uint16_t gso;
    uint8_t flags;
    size_t tail;
    size_t short_by;
};

static int fill_tcp(struct net_slice *frame, void *ctx)
{
    struct tso_spec *ts = ctx;
    struct net_wr w = net_wr_of(frame);
    struct eth_hdr eh = {.type = ETH_TYPE_IP4};
    memcpy(eh.dst, MAC_B, 6);
    memcpy(eh.src, MAC_A, 6);
    eth_write(&w, 0, &eh);
    struct tcp_hdr th = {.sport = 1234, .dport = 80, .seq = TSO_SEQ, .ack = 99, .flags = ts->flags, .win = 1000};
    th.has_ts = true;
    th.tsval = 5;
    uint8_t *tcp = w.p + ETH_HDR_LEN + IP4_HDR_MIN;
    size_t hlen = tcp_write_hdr(tcp, &th);
    assert_int_equal(ETH_HDR_LEN + IP4_HDR_MIN + hlen, TSO_HDRS);
    struct ip4_hdr ih = {.hlen = IP4_HDR_MIN,
                         .total_len = (uint16_t)(IP4_HDR_MIN + hlen + ts->data),
                         .id = 0xfffe,
                         .ttl = 64,
                         .proto = IP4_PROTO_TCP,
                         .src = TSO_SRC,
                         .dst = TSO_DST};
    ip4_write(&w, ETH_HDR_LEN, &ih);
    if (!ts->tail)
        for (size_t i = 0; i < ts->data; i++)
            tcp[hlen + i] = tso_byte(i);
    uint16_t c =
        (uint16_t)~net_csum_fold(net_csum_pseudo(TSO_SRC, TSO_DST, IP4_PROTO_TCP, (uint16_t)(hlen + ts->data)));
    tcp[TCP_OFF_CSUM] = (uint8_t)(c >> 8);
    tcp[TCP_OFF_CSUM + 1] = (uint8_t)c;
    return w.bad ? -LWT_EMSGSIZE : (int)(TSO_HDRS + (ts->tail ? 0 : ts->data) - ts->short_by);
}

/* Writes the frame of ts on a with the offload metadata a stack would give
 * it, its header length wrong by hdr_err bytes. */
static int write_tcp_err(struct netif *a, struct tso_spec *ts, int hdr_err)
{
    struct netif_tx_offload off = {.csum_partial = true,
                                   .csum_start = ETH_HDR_LEN + IP4_HDR_MIN,
                                   .csum_offset = TCP_OFF_CSUM,
                                   .gso_size = ts->gso,
                                   .hdr_len = ts->gso ? (uint16_t)(TSO_HDRS + hdr_err) : 0};
    static uint8_t data[65536];
    for (size_t i = 0; ts->tail && i < ts->data; i++)
        data[i] = tso_byte(i);
    if (ts->tail) {
        off.tail[0] = data;
        off.tail_len[0] = (uint32_t)ts->tail;
        off.tail[1] = data + ts->tail;
        off.tail_len[1] = (uint32_t)(ts->data - ts->tail);
    }
    in_write = true;
    int rc = netif_write_offload(a, TSO_HDRS + ts->data, &off, fill_tcp, ts);
    in_write = false;
    return rc;
}

static int write_tcp(struct netif *a, struct tso_spec *ts)
{
    return write_tcp_err(a, ts, 0);
}

/* Frame i of l is a correct TCP/IPv4 segment (both checksums verified)
 * with payload bytes [at, at + len) of the stream, these flags, and IP
 * identification id. */
static void expect_tcp(const struct rx_log *l, size_t i, size_t at, size_t len, uint8_t flags, uint16_t id)
{
    struct net_slice f = l->frames[i];
    assert_int_equal(net_slice_pull(&f, ETH_HDR_LEN), 0);
    struct ip4_hdr ih;
    assert_int_equal(ip4_parse(&f, &ih), 0);
    assert_int_equal(ih.id, id);
    assert_int_equal(ih.total_len, f.len);
    assert_int_equal(net_slice_pull(&f, ih.hlen), 0);
    struct tcp_hdr th;
    assert_int_equal(tcp_parse(&f, ih.src, ih.dst, &th), 0);
    assert_int_equal(th.seq, TSO_SEQ + (uint32_t)at);
    assert_int_equal(th.ack, 99);
    assert_int_equal(th.flags, flags);
    assert_true(th.has_ts);
    assert_int_equal(f.len - th.hlen, len);
    const uint8_t *d = net_slice_data(&f) + th.hlen;
    for (size_t k = 0; k < len; k++)
        assert_int_equal(d[k], tso_byte(at + k));
}

static void a_tso_frame_is_cut_into_segments_like_a_nic_would(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    assert_int_equal(net_hub_set_port_offload(a, true, 8000), 0);
    assert_int_equal(a->tso_max, 8000);
    assert_true(a->tx_csum);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    /* 3500 bytes in segments of 1000: three whole ones and the tail, which
     * alone keeps PSH and FIN. */
    struct tso_spec ts = {.data = 3500, .gso = 1000, .flags = TCP_ACK | TCP_PSH | TCP_FIN};
    assert_int_equal(write_tcp(a, &ts), 0);
    run_for(1);
    assert_int_equal(lb.n, 4);
    for (size_t i = 0; i < 3; i++)
        expect_tcp(&lb, i, i * 1000, 1000, TCP_ACK, (uint16_t)(0xfffe + i));
    expect_tcp(&lb, 3, 3000, 500, TCP_ACK | TCP_PSH | TCP_FIN, 1);
    /* The wire's frames are what the port counts. */
    assert_int_equal(a->stats.tx_frames, 4);
    assert_int_equal(stats_of(h).written, 4);
    log_free(&lb);
    net_hub_free(h);
}

/* The same, the data read from where it is (the write's tail). */
static void a_tso_frame_may_leave_its_data_where_it_is(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    assert_int_equal(net_hub_set_port_offload(a, true, 8000), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    struct tso_spec ts = {.data = 3500, .gso = 1000, .flags = TCP_ACK | TCP_PSH, .tail = 1234};
    assert_int_equal(write_tcp(a, &ts), 0);
    /* A fill that leaves part of what it was lent unwritten has no place
     * before the tail: refused. */
    struct tso_spec bad = ts;
    bad.short_by = 2;
    assert_int_equal(write_tcp(a, &bad), -LWT_EINVAL);
    assert_int_equal(a->stats.tx_dropped, 1);
    run_for(1);
    assert_int_equal(lb.n, 4);
    for (size_t i = 0; i < 3; i++)
        expect_tcp(&lb, i, i * 1000, 1000, TCP_ACK, (uint16_t)(0xfffe + i));
    expect_tcp(&lb, 3, 3000, 500, TCP_ACK | TCP_PSH, 1);
    log_free(&lb);
    net_hub_free(h);
}

static void a_partial_checksum_is_completed(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    assert_int_equal(net_hub_set_port_offload(a, true, 0), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    /* An odd length, and a frame with no TSO asked for that fits. */
    struct tso_spec ts = {.data = 777, .flags = TCP_ACK};
    assert_int_equal(write_tcp(a, &ts), 0);
    struct tso_spec ts2 = {.data = 1000, .gso = 1000, .flags = TCP_ACK}; /* one segment's worth: as it is */
    assert_int_equal(write_tcp(a, &ts2), -LWT_EINVAL);                   /* no TSO offered */
    assert_int_equal(net_hub_set_port_offload(a, true, 3000), 0);
    assert_int_equal(write_tcp(a, &ts2), 0);
    run_for(1);
    assert_int_equal(lb.n, 2);
    expect_tcp(&lb, 0, 0, 777, TCP_ACK, 0xfffe);
    expect_tcp(&lb, 1, 0, 1000, TCP_ACK, 0xfffe);
    log_free(&lb);
    net_hub_free(h);
}

static void offload_is_only_for_ports_that_offer_it(void **state)
{
    (void)state;
    struct net_hub *h = net_hub_new(1);
    struct netif *a, *b;
    assert_int_equal(net_hub_add_port(h, MAC_A, 1500, "a", &a), 0);
    assert_int_equal(net_hub_add_port(h, MAC_B, 1500, "b", &b), 0);
    static struct rx_log lb;
    netif_listen(b, log_rx, &lb);
    /* A new port offers nothing. */
    assert_int_equal(a->tso_max, 0);
    assert_false(a->tx_csum);
    struct tso_spec ts = {.data = 100, .flags = TCP_ACK};
    assert_int_equal(write_tcp(a, &ts), -LWT_EINVAL);
    /* TSO needs checksum offload, more than the MTU, and IPv4's limit. */
    assert_int_equal(net_hub_set_port_offload(a, false, 8000), -LWT_EINVAL);
    assert_int_equal(net_hub_set_port_offload(a, true, 1500), -LWT_EINVAL);
    assert_int_equal(net_hub_set_port_offload(a, true, 65536), -LWT_EINVAL);
    struct netif other = {0};
    assert_int_equal(net_hub_set_port_offload(&other, true, 0), -LWT_EINVAL);
    assert_int_equal(net_hub_set_port_offload(a, true, 4000), 0);
    /* Past tso_max, and a frame past the MTU without TSO, are refused
     * before the fill runs. */
    struct frame_spec fs = {MAC_A, 1, 60, 0};
    struct netif_tx_offload big = {
        .csum_partial = true, .csum_start = 34, .csum_offset = 16, .gso_size = 1000, .hdr_len = 54};
    assert_int_equal(netif_write_offload(a, 4000 + ETH_HDR_LEN + 1, &big, fill_frame, &fs), -LWT_EMSGSIZE);
    struct netif_tx_offload one = {.csum_partial = true, .csum_start = 34, .csum_offset = 16};
    assert_int_equal(netif_write_offload(a, 1500 + ETH_HDR_LEN + 1, &one, fill_frame, &fs), -LWT_EMSGSIZE);
    assert_int_equal(fs.calls, 0);
    /* Headers that are not what the metadata says: dropped, counted. */
    struct tso_spec bad = {.data = 3000, .gso = 1000, .flags = TCP_ACK};
    assert_int_equal(write_tcp_err(a, &bad, 4), -LWT_EINVAL);
    assert_int_equal(a->stats.tx_dropped, 1);
    assert_int_equal(write_tcp(a, &bad), 0);
    run_for(1);
    assert_int_equal(lb.n, 3);
    assert_int_equal(a->stats.tx_frames, 3);
    log_free(&lb);
    net_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(delivers_to_every_other_port_and_not_back),
        T(frames_outlive_the_sender_and_the_hub),
        T(wait_writable_is_fulfilled_at_once),
        T(mtu_is_enforced),
        T(a_failing_fill_sends_nothing),
        T(freeing_the_hub_with_frames_in_flight_leaks_nothing),
        T(total_loss_delivers_nothing),
        T(total_duplication_delivers_twice),
        T(reorder_lets_the_next_frame_overtake),
        T(delay_is_exact_on_the_virtual_clock),
        T(per_port_faults_override_the_hub),
        T(faults_are_deterministic_for_a_seed),
        T(zero_delay_ping_pong_takes_turns),
        T(a_tso_frame_is_cut_into_segments_like_a_nic_would),
        T(a_tso_frame_may_leave_its_data_where_it_is),
        T(a_partial_checksum_is_completed),
        T(offload_is_only_for_ports_that_offer_it),
    };
    return RUN_TESTS(tests);
}
