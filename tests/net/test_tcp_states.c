/* TCP against a peer played by hand, segment by segment: one of our stacks
 * (10.2.0.1) and a raw hub port (10.2.0.9) that crafts every segment the
 * peer sends and collects every segment the stack sends, on the virtual
 * clock. Each test puts the connection in a state, feeds it exact segments
 * and checks the exact answers and their times against RFC 9293, 5961,
 * 6298, 5681, 6582, 7323, 2018 and 6675.
 *
 * Tests marked "RFC:" in their comment check behaviour that the stack got
 * wrong when they were written; they assert what the RFC asks for. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "lwt_errno.h"
#include "net_csum.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h" /* states, timings, and the pcb to look into */
#include "wire_arp.h"
#include "wire_eth.h"
#include "wire_ip4.h"
#include "wire_tcp.h"

static const uint8_t MAC_S[6] = {2, 0, 0, 0, 2, 1};
static const uint8_t MAC_P[6] = {2, 0, 0, 0, 2, 9};
#define IP_S IP4_ADDR(10, 2, 0, 1)
#define IP_P IP4_ADDR(10, 2, 0, 9)

#define PEER_ISN    0xfffffc00u /* the peer's stream crosses 2^32 after 1 KiB */
#define PEER_PORT   40000
#define LISTEN_PORT 80
#define MSS         1460 /* 1500 - 40 */
#define WSCALE      3    /* what a 256 KiB buffer needs */
#define CAP_MAX     512

/* The peer's sequence number for byte off of its stream, ours for byte off
 * of ours (the SYN takes the number before the first byte). */
#define PSEQ(off) ((uint32_t)(PEER_ISN + 1u + (uint32_t)(off)))
#define OSEQ(off) ((uint32_t)(t.iss + 1u + (uint32_t)(off)))

/* One segment the stack sent, parsed, and when. */
struct cap {
    struct tcp_hdr h;
    uint64_t at;
    uint32_t len;
    uint8_t data[1500];
};

/* What the peer offers in its SYN. */
struct popts {
    uint16_t mss; /* 0: no option */
    int wscale;   /* -1: no option */
    bool sack, ts;
    uint16_t win;
};

static const struct popts PLAIN = {.mss = MSS, .wscale = -1, .sack = true, .win = 65535};
static const struct popts NO_SACK = {.mss = MSS, .wscale = -1, .win = 65535};

static struct {
    struct net_hub *hub;
    struct netif *ps, *pp;
    struct net_stack *s;
    struct cap cap[CAP_MAX];
    size_t ncap, seen;    /* collected, and checked by the test so far */
    size_t bad, overflow; /* segments that did not parse; did not fit */
    /* The connection under test. */
    struct tcp_listener *l;
    struct tcp_conn *conn;
    lwt_t *acc, *cp, *rd;  /* pending accept, connect, read */
    uint16_t lport, pport; /* ours, the peer's */
    uint32_t iss;          /* our initial sequence number */
    uint32_t pack;         /* the ACK field of the peer's segments */
    uint16_t pwin;         /* the window the peer advertises */
    bool ts;               /* the peer sends timestamps */
    uint32_t tsval;        /* the peer's TSval */
    uint32_t our_tsval;    /* the last TSval the stack sent */
} t;

static uint8_t rbuf[70000];

static uint8_t pbyte(uint32_t off) /* the peer's stream */
{
    return (uint8_t)(off * 13 + 5);
}

static uint8_t obyte(uint32_t off) /* ours */
{
    return (uint8_t)(off * 7 + 1);
}

/* ---- The raw peer ------------------------------------------------------- */

/* TCP_TEST_TRACE=1 prints every segment both ways, relative numbers. */
static void trace(const char *dir, const struct tcp_hdr *h, uint32_t len)
{
    static int on = -1;
    if (on < 0)
        on = getenv("TCP_TEST_TRACE") != NULL;
    if (!on)
        return;
    bool ours = dir[0] == 'o';
    uint32_t sbase = ours ? t.iss : PEER_ISN, abase = ours ? PEER_ISN : t.iss;
    fprintf(stderr, "%12.6f %s %c%c%c%c%c seq %u ack %u win %u len %u sack %u\n", (double)sched_now() / SCHED_NS_PER_S,
            dir, h->flags & TCP_SYN ? 'S' : '.', h->flags & TCP_FIN ? 'F' : '.', h->flags & TCP_RST ? 'R' : '.',
            h->flags & TCP_PSH ? 'P' : '.', h->flags & TCP_ACK ? 'A' : '.', h->seq - sbase,
            h->flags & TCP_ACK ? h->ack - abase : 0, h->win, len, h->nsack);
}

static int copy_fill(struct net_slice *frame, void *ctx)
{
    const struct net_slice *src = ctx;
    memcpy(net_slice_data(frame), net_slice_data(src), src->len);
    return (int)src->len;
}

static void raw_send(const void *bytes, size_t len)
{
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 0, bytes, len), 0);
    assert_int_equal(netif_write(t.pp, len, copy_fill, &s), 0);
    net_slice_release(&s);
}

static void put_eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    struct net_wr w = net_wr_mem(f, ETH_HDR_LEN);
    struct eth_hdr h = {.type = type};
    memcpy(h.dst, dst, 6);
    memcpy(h.src, MAC_P, 6);
    eth_write(&w, 0, &h);
}

static void send_arp(uint16_t op, const uint8_t *dst_mac, uint32_t tpa)
{
    uint8_t f[ETH_HDR_LEN + ARP_LEN];
    put_eth(f, dst_mac, ETH_TYPE_ARP);
    struct net_wr w = net_wr_mem(f, sizeof f);
    struct arp_pkt a = {.op = op, .spa = IP_P, .tpa = tpa};
    memcpy(a.sha, MAC_P, 6);
    if (op == ARP_OP_REPLY)
        memcpy(a.tha, dst_mac, 6);
    arp_write(&w, ETH_HDR_LEN, &a);
    raw_send(f, sizeof f);
}

static void collect(struct net_slice f)
{
    struct ip4_hdr ih;
    net_slice_pull(&f, ETH_HDR_LEN);
    if (ip4_parse(&f, &ih) || ih.proto != IP4_PROTO_TCP || ih.src != IP_S || ih.dst != IP_P)
        return;
    net_slice_trim(&f, ih.total_len);
    net_slice_pull(&f, ih.hlen);
    if (t.ncap == CAP_MAX) {
        t.overflow++;
        return;
    }
    struct cap *c = &t.cap[t.ncap];
    if (tcp_parse(&f, ih.src, ih.dst, &c->h) < 0 || f.len - c->h.hlen > sizeof c->data) {
        t.bad++;
        return;
    }
    c->len = (uint32_t)(f.len - c->h.hlen);
    memcpy(c->data, net_slice_data(&f) + c->h.hlen, c->len);
    c->at = sched_now();
    trace("our ->", &c->h, c->len);
    if (c->h.has_ts)
        t.our_tsval = c->h.tsval;
    t.ncap++;
}

static void raw_rx(void *ctx, struct net_slice frame)
{
    (void)ctx;
    struct eth_hdr eh;
    if (eth_parse(&frame, &eh) == 0 && eh.type == ETH_TYPE_ARP) {
        struct net_slice body = frame;
        struct arp_pkt a;
        net_slice_pull(&body, ETH_HDR_LEN);
        if (arp_parse(&body, &a) == 0 && a.op == ARP_OP_REQUEST && a.tpa == IP_P)
            send_arp(ARP_OP_REPLY, a.sha, a.spa);
    } else if (eth_parse(&frame, &eh) == 0 && eh.type == ETH_TYPE_IP4) {
        collect(frame);
    }
    net_slice_release(&frame);
}

/* Runs the loop without moving the clock until nothing is in flight. */
static void pump(void)
{
    int quiet = 0;
    for (int i = 0; i < 100 && quiet < 2; i++) {
        assert_int_equal(sched_run(sched_pause(), NULL), 0);
        quiet = net_hub_in_flight(t.hub) ? 0 : quiet + 1;
    }
}

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
    pump();
}

static void run_until(uint64_t at)
{
    assert_true(at >= test_vclock_now());
    run_for(at - test_vclock_now());
}

/* Runs until *pp settles (bounded); returns its error, 0 if fulfilled. */
static int settle(lwt_t **pp)
{
    lwt_t *limit = sched_sleep(3600 * SCHED_NS_PER_S);
    lwt_t *both[2] = {lwt_ref(*pp), lwt_ref(limit)};
    sched_run(lwt_choose(both, 2), NULL);
    lwt_cancel(limit);
    lwt_unref(limit);
    assert_true(lwt_state(*pp) != LWT_PENDING);
    int err = lwt_state(*pp) == LWT_FULFILLED ? 0 : lwt_error(*pp);
    lwt_unref(*pp);
    *pp = NULL;
    pump(); /* what went out at that moment */
    return err;
}

/* *pp has settled successfully: its value, and the promise released. */
static void *take(lwt_t **pp)
{
    assert_non_null(*pp);
    assert_fulfilled(*pp);
    void *v = lwt_value(*pp);
    lwt_unref(*pp);
    *pp = NULL;
    return v;
}

static int take_error(lwt_t **pp)
{
    assert_non_null(*pp);
    assert_rejected(*pp);
    int err = lwt_error(*pp);
    lwt_unref(*pp);
    *pp = NULL;
    return err;
}

/* A segment from the peer, with correct checksums, handed to the stack. */
static void send_tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
                     const struct tcp_hdr *opt, const void *data, uint32_t len)
{
    static uint8_t f[ETH_HDR_LEN + IP4_HDR_MIN + TCP_HDR_MAX + 1500];
    struct tcp_hdr h = opt ? *opt : (struct tcp_hdr){0};
    h.sport = sport;
    h.dport = dport;
    h.flags = flags;
    h.seq = seq;
    h.ack = ack;
    h.win = win;
    assert_true(len <= 1500);
    uint8_t *tcp = f + ETH_HDR_LEN + IP4_HDR_MIN;
    size_t hlen = tcp_write_hdr(tcp, &h);
    if (len)
        memcpy(tcp + hlen, data, len);
    uint32_t sum = net_csum_pseudo(IP_P, IP_S, IP4_PROTO_TCP, (uint16_t)(hlen + len));
    uint16_t c = net_csum_fold(net_csum_add(sum, tcp, hlen + len));
    tcp[TCP_OFF_CSUM] = (uint8_t)(c >> 8);
    tcp[TCP_OFF_CSUM + 1] = (uint8_t)c;
    put_eth(f, MAC_S, ETH_TYPE_IP4);
    struct net_wr w = net_wr_mem(f + ETH_HDR_LEN, IP4_HDR_MIN);
    struct ip4_hdr ih = {.hlen = IP4_HDR_MIN,
                         .total_len = (uint16_t)(IP4_HDR_MIN + hlen + len),
                         .id = 1,
                         .ttl = 64,
                         .proto = IP4_PROTO_TCP,
                         .src = IP_P,
                         .dst = IP_S};
    ip4_write(&w, 0, &ih);
    trace("peer->", &h, len);
    raw_send(f, ETH_HDR_LEN + IP4_HDR_MIN + hlen + len);
    pump();
}

/* A segment of the connection under test; timestamps if they were agreed
 * (unless opt brings its own). */
static void peer_opt(uint8_t flags, uint32_t seq, uint32_t ack, const void *data, uint32_t len,
                     const struct tcp_hdr *opt)
{
    struct tcp_hdr h = opt ? *opt : (struct tcp_hdr){0};
    if (t.ts && !h.has_ts) {
        h.has_ts = true;
        h.tsval = t.tsval;
        h.tsecr = t.our_tsval;
    }
    send_tcp(t.pport, t.lport, flags, seq, ack, t.pwin, &h, data, len);
}

static void peer(uint8_t flags, uint32_t seq, uint32_t ack)
{
    peer_opt(flags, seq, ack, NULL, 0, NULL);
}

/* Bytes [off, off + len) of the peer's stream, acking t.pack. */
static void peer_data_flags(uint8_t flags, uint32_t off, uint32_t len)
{
    static uint8_t d[1500];
    assert_true(len <= sizeof d);
    for (uint32_t i = 0; i < len; i++)
        d[i] = pbyte(off + i);
    peer_opt(flags, PSEQ(off), t.pack, d, len, NULL);
}

static void peer_data(uint32_t off, uint32_t len)
{
    peer_data_flags(TCP_ACK, off, len);
}

/* A duplicate (or any) ACK carrying SACK blocks, as stream offsets of ours. */
static void peer_sack(uint32_t ack_off, uint32_t (*blocks)[2], unsigned n)
{
    struct tcp_hdr h = {.nsack = (uint8_t)n};
    for (unsigned i = 0; i < n; i++)
        h.sack[i] = (struct tcp_sack_block){OSEQ(blocks[i][0]), OSEQ(blocks[i][1])};
    peer_opt(TCP_ACK, PSEQ(0), OSEQ(ack_off), NULL, 0, &h);
}

/* ---- What the stack sent -------------------------------------------------- */

static size_t new_segs(void)
{
    assert_int_equal(t.bad, 0);
    assert_int_equal(t.overflow, 0);
    return t.ncap - t.seen;
}

static void expect_none(void)
{
    assert_int_equal(new_segs(), 0);
}

static struct cap *next_seg(void)
{
    assert_true(new_segs() > 0);
    struct cap *c = &t.cap[t.seen++];
    assert_int_equal(c->h.sport, t.lport);
    assert_int_equal(c->h.dport, t.pport);
    return c;
}

/* The next segment: exactly these flags and numbers (ack if ACK is set). */
static struct cap *expect_seg(uint8_t flags, uint32_t seq, uint32_t ack)
{
    struct cap *c = next_seg();
    assert_int_equal(c->h.flags, flags);
    assert_int_equal(c->h.seq, seq);
    if (flags & TCP_ACK)
        assert_int_equal(c->h.ack, ack);
    return c;
}

static struct cap *expect_ack(uint32_t seq, uint32_t ack)
{
    struct cap *c = expect_seg(TCP_ACK, seq, ack);
    assert_int_equal(c->len, 0);
    return c;
}

/* Bytes [off, off + len) of our stream (PSH allowed), acking ack. */
static struct cap *expect_data(uint32_t off, uint32_t len, uint32_t ack)
{
    struct cap *c = next_seg();
    assert_int_equal(c->h.flags & ~TCP_PSH, TCP_ACK);
    assert_int_equal(c->h.seq, OSEQ(off));
    assert_int_equal(c->h.ack, ack);
    assert_int_equal(c->len, len);
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(c->data[i], obyte(off + i));
    return c;
}

/* ---- Our side ---------------------------------------------------------------- */

/* The connection's pcb: the handle's, or the one the 4-tuple finds (an
 * orphan); NULL once it is gone. */
static struct tcp_pcb *pcb(void)
{
    if (t.conn)
        return (struct tcp_pcb *)t.conn;
    return tcp__pcb_find(t.s, IP_S, t.lport, IP_P, t.pport);
}

static int cur_state(void)
{
    struct tcp_pcb *p = pcb();
    return p ? p->state : TCP_CLOSED;
}

static void our_write(uint32_t off, uint32_t len)
{
    static uint8_t d[65536];
    assert_true(len <= sizeof d);
    for (uint32_t i = 0; i < len; i++)
        d[i] = obyte(off + i);
    lwt_t *w = tcp_write(t.conn, d, len);
    assert_fulfilled(w); /* all of it fits in the send buffer */
    lwt_unref(w);
    pump();
}

/* Reads exactly len bytes (already there) of the peer's stream from off. */
static void read_expect(uint32_t off, uint32_t len)
{
    uint32_t got = 0;
    while (got < len) {
        lwt_t *r = tcp_read(t.conn, rbuf, len - got);
        assert_fulfilled(r);
        uint32_t n = (uint32_t)LWT_TO_INT(lwt_value(r));
        lwt_unref(r);
        assert_true(n > 0 && n <= len - got);
        for (uint32_t i = 0; i < n; i++)
            assert_int_equal(rbuf[i], pbyte(off + got + i));
        got += n;
    }
    pump();
}

static void read_pending(void)
{
    t.rd = tcp_read(t.conn, rbuf, sizeof rbuf);
    assert_pending(t.rd);
}

static void read_eof(void)
{
    lwt_t *r = tcp_read(t.conn, rbuf, sizeof rbuf);
    assert_fulfilled(r);
    assert_int_equal(LWT_TO_INT(lwt_value(r)), 0);
    lwt_unref(r);
}

/* ---- Into each state ---------------------------------------------------------- */

static void syn_opts(const struct popts *o, struct tcp_hdr *h, uint32_t tsecr)
{
    *h = (struct tcp_hdr){0};
    h->has_mss = o->mss != 0;
    h->mss = o->mss;
    h->has_wscale = o->wscale >= 0;
    h->wscale = (uint8_t)(o->wscale >= 0 ? o->wscale : 0);
    h->sack_perm = o->sack;
    h->has_ts = o->ts;
    h->tsval = t.tsval;
    h->tsecr = tsecr;
}

static void listen_on(const struct tcp_options *our)
{
    assert_int_equal(tcp_listen(t.s, LISTEN_PORT, 4, our, &t.l), 0);
    t.acc = tcp_accept(t.l);
    assert_pending(t.acc);
    t.lport = LISTEN_PORT;
    t.pport = PEER_PORT;
}

/* The peer's SYN to our listener: SYN_RECEIVED; returns our SYN-ACK. */
static struct cap *peer_syn(const struct popts *o)
{
    struct tcp_hdr h;
    t.pwin = o->win;
    t.ts = o->ts;
    syn_opts(o, &h, 0);
    send_tcp(t.pport, t.lport, TCP_SYN, PEER_ISN, 0, o->win, &h, NULL, 0);
    struct cap *c = next_seg();
    assert_int_equal(c->h.flags, TCP_SYN | TCP_ACK);
    assert_int_equal(c->h.ack, PSEQ(0));
    assert_int_equal(c->len, 0);
    t.iss = c->h.seq;
    t.pack = OSEQ(0);
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    return c;
}

/* LISTEN, the peer's SYN, our SYN-ACK, the peer's ACK: ESTABLISHED. */
static void open_passive(const struct popts *o, const struct tcp_options *our)
{
    listen_on(our);
    peer_syn(o);
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    expect_none();
    t.conn = take(&t.acc);
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
}

/* tcp_connect: SYN_SENT; returns our SYN. */
static struct cap *our_syn(const struct tcp_options *our)
{
    t.pport = LISTEN_PORT;
    t.cp = tcp_connect(t.s, IP_P, LISTEN_PORT, our);
    pump();
    struct cap *c = &t.cap[t.seen];
    assert_true(new_segs() > 0);
    t.lport = c->h.sport;
    c = expect_seg(TCP_SYN, c->h.seq, 0);
    assert_int_equal(c->len, 0);
    t.iss = c->h.seq;
    t.pack = OSEQ(0);
    assert_int_equal(cur_state(), TCP_SYN_SENT);
    return c;
}

static void peer_synack(const struct popts *o)
{
    struct tcp_hdr h;
    t.pwin = o->win;
    t.ts = o->ts;
    syn_opts(o, &h, t.our_tsval);
    send_tcp(t.pport, t.lport, TCP_SYN | TCP_ACK, PEER_ISN, OSEQ(0), o->win, &h, NULL, 0);
}

/* tcp_connect, the peer's SYN-ACK, our ACK: ESTABLISHED. */
static void open_active(const struct popts *o, const struct tcp_options *our)
{
    our_syn(our);
    peer_synack(o);
    expect_ack(OSEQ(0), PSEQ(0));
    t.conn = take(&t.cp);
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
}

/* Our FIN after `sent` bytes, acking the peer's `rcvd` sequence numbers. */
static void our_fin(uint32_t sent, uint32_t rcvd)
{
    lwt_unref(tcp_shutdown(t.conn));
    pump();
    expect_seg(TCP_FIN | TCP_ACK, OSEQ(sent), PSEQ(rcvd));
}

/* From a passive open, with the handle kept, into target by the exact
 * segments. Returns our RCV.NXT and SND.NXT there (as offsets) in *rn, *sn. */
static void drive(int target, uint32_t *rn, uint32_t *sn)
{
    open_passive(&PLAIN, NULL);
    *rn = 0, *sn = 0;
    switch (target) {
    case TCP_ESTABLISHED:
        break;
    case TCP_FIN_WAIT_1:
        our_fin(0, 0);
        *sn = 1;
        break;
    case TCP_FIN_WAIT_2:
        our_fin(0, 0);
        peer(TCP_ACK, PSEQ(0), OSEQ(1));
        expect_none();
        *sn = 1;
        break;
    case TCP_CLOSE_WAIT:
        peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0));
        expect_ack(OSEQ(0), PSEQ(1));
        *rn = 1;
        break;
    case TCP_CLOSING:
        our_fin(0, 0);
        peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0)); /* crossed ours */
        expect_ack(OSEQ(1), PSEQ(1));
        *rn = 1, *sn = 1;
        break;
    case TCP_LAST_ACK:
        peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0));
        expect_ack(OSEQ(0), PSEQ(1));
        our_fin(0, 1);
        *rn = 1, *sn = 1;
        break;
    case TCP_TIME_WAIT:
        our_fin(0, 0);
        peer(TCP_ACK, PSEQ(0), OSEQ(1));
        peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(1));
        expect_ack(OSEQ(1), PSEQ(1));
        *rn = 1, *sn = 1;
        break;
    default:
        fail();
    }
    assert_int_equal(cur_state(), target);
    t.pack = OSEQ(*sn);
}

/* Gives up the handle with a RST (what the peer sees is checked). */
static void abort_conn(void)
{
    uint32_t seq = pcb()->snd_max, ack = pcb()->rcv_nxt;
    tcp_abort(t.conn);
    t.conn = NULL;
    pump();
    expect_seg(TCP_RST | TCP_ACK, seq, ack);
}

/* The end of every test: what is left ends on the clock, and TCP gives
 * back every byte it held. */
static void finish(void)
{
    assert_null(t.conn);
    if (t.l) {
        tcp_listener_close(t.l);
        t.l = NULL;
    }
    pump();
    if (t.acc)
        assert_int_equal(take_error(&t.acc), -LWT_ESHUTDOWN);
    run_for(TCP_TIME_WAIT_NS + SCHED_NS_PER_S);
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    assert_int_equal(tcp_stats(t.s)->time_wait, 0);
    assert_int_equal(tcp_memory_in_use(t.s), 0);
    assert_int_equal(t.bad, 0);
}

/* ---- Fixtures ------------------------------------------------------------------ */

static int setup(void **state)
{
    test_setup(state);
    test_vclock_install(100 * SCHED_NS_PER_S); /* timestamps well above 0 */
    memset(&t, 0, sizeof t);
    t.hub = net_hub_new(11);
    assert_non_null(t.hub);
    assert_int_equal(net_hub_add_port(t.hub, MAC_S, 1500, "stack", &t.ps), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_P, 1500, "peer", &t.pp), 0);
    netif_listen(t.pp, raw_rx, NULL);
    assert_int_equal(net_stack_new(t.ps, &t.s), 0);
    struct ip4_config c = {IP_S, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.s, &c), 0);
    /* The stack learns the peer's MAC from its request. */
    send_arp(ARP_OP_REQUEST, eth_broadcast, IP_S);
    run_for(1000);
    t.tsval = 1000;
    return 0;
}

static int teardown(void **state)
{
    /* After a failed check: let go of whatever the test still held. */
    lwt_t **held[] = {&t.acc, &t.cp, &t.rd};
    for (size_t i = 0; i < sizeof held / sizeof held[0]; i++) {
        if (*held[i]) {
            lwt_cancel(*held[i]);
            lwt_unref(*held[i]);
        }
    }
    if (t.conn)
        tcp_abort(t.conn);
    if (t.l)
        tcp_listener_close(t.l);
    drain();
    net_stack_free(t.s);
    net_hub_free(t.hub);
    test_vclock_uninstall();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "%zu packet buffers left alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- Handshake ------------------------------------------------------------------ */

static void our_syn_offers_every_option(void **state)
{
    (void)state;
    struct cap *c = our_syn(NULL);
    assert_int_equal(c->at, test_vclock_now());
    assert_true(c->h.has_mss);
    assert_int_equal(c->h.mss, MSS);
    assert_true(c->h.has_wscale);
    assert_int_equal(c->h.wscale, WSCALE);
    assert_true(c->h.sack_perm);
    assert_true(c->h.has_ts);
    assert_int_equal(c->h.tsval, test_vclock_now() / SCHED_NS_PER_MS);
    assert_int_equal(c->h.tsecr, 0);
    assert_int_equal(c->h.win, 65535); /* never scaled in a SYN */
    /* The peer takes all of it: our ACK is scaled and echoes its TSval. */
    struct popts o = {.mss = 1400, .wscale = 7, .sack = true, .ts = true, .win = 65535};
    t.tsval = 5000;
    peer_synack(&o);
    c = expect_ack(OSEQ(0), PSEQ(0));
    assert_true(c->h.has_ts);
    assert_int_equal(c->h.tsecr, 5000);
    assert_int_equal(c->h.win, TCP_DEFAULT_BUF >> WSCALE);
    assert_false(c->h.has_mss || c->h.has_wscale || c->h.sack_perm);
    assert_int_equal(c->h.nsack, 0);
    t.conn = take(&t.cp);
    struct tcp_pcb *p = pcb();
    assert_int_equal(p->snd_wscale, 7);
    assert_int_equal(p->snd_wnd, 65535);
    /* Segments are the peer's MSS less the timestamp option (RFC 7323
     * §4.2, RFC 6691), and Nagle holds the short tail until the ACK. */
    our_write(0, 3000);
    expect_data(0, 1388, PSEQ(0));
    c = expect_data(1388, 1388, PSEQ(0));
    assert_true(c->h.has_ts);
    assert_int_equal(c->h.tsecr, 5000);
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(2776));
    expect_data(2776, 224, PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(3000));
    expect_none();
    abort_conn();
    finish();
}

static void our_synack_echoes_only_what_the_peer_offered(void **state)
{
    (void)state;
    listen_on(NULL);
    const struct popts offers[] = {
        {.mss = 536, .wscale = -1, .win = 65535},
        {.mss = MSS, .wscale = 2, .win = 65535},
        {.mss = MSS, .wscale = -1, .sack = true, .win = 65535},
        {.mss = MSS, .wscale = -1, .ts = true, .win = 65535},
        {.mss = MSS, .wscale = 14, .sack = true, .ts = true, .win = 65535},
    };
    for (unsigned i = 0; i < sizeof offers / sizeof offers[0]; i++) {
        const struct popts *o = &offers[i];
        t.pport = (uint16_t)(PEER_PORT + i);
        t.tsval = 7000 + i;
        struct cap *c = peer_syn(o);
        assert_true(c->h.has_mss);
        assert_int_equal(c->h.mss, MSS); /* ours, whatever the peer's */
        assert_int_equal(c->h.has_wscale, o->wscale >= 0);
        if (o->wscale >= 0)
            assert_int_equal(c->h.wscale, WSCALE);
        assert_int_equal(c->h.sack_perm, o->sack);
        assert_int_equal(c->h.has_ts, o->ts);
        if (o->ts)
            assert_int_equal(c->h.tsecr, 7000 + i);
        assert_int_equal(c->h.win, 65535);
        assert_int_equal(pcb()->mss, o->mss - (o->ts ? 12 : 0));
        /* An exact RST takes the half-open connection back. */
        peer(TCP_RST, PSEQ(0), 0);
        expect_none();
        assert_null(pcb());
    }
    finish();
}

static void syn_received_ack_below_our_syn_gets_rst(void **state)
{
    (void)state;
    listen_on(NULL);
    peer_syn(&PLAIN);
    /* RFC 9293 §3.10.7.4 (SYN-RECEIVED): an unacceptable ACK gets
     * <SEQ=SEG.ACK><CTL=RST>, and the connection stays. */
    peer(TCP_ACK, PSEQ(0), t.iss);
    expect_seg(TCP_RST, t.iss, 0);
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    assert_pending(t.acc);
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    t.conn = take(&t.acc);
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
    abort_conn();
    finish();
}

/* RFC: 9293 §3.10.7.4, SYN-RECEIVED, ACK beyond SND.NXT. */
static void syn_received_ack_beyond_our_syn_gets_rst(void **state)
{
    (void)state;
    listen_on(NULL);
    peer_syn(&PLAIN);
    peer(TCP_ACK, PSEQ(0), OSEQ(1000));
    expect_seg(TCP_RST, OSEQ(1000), 0);
    expect_none();
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    t.conn = take(&t.acc);
    abort_conn();
    finish();
}

static void synack_is_retransmitted_then_given_up(void **state)
{
    (void)state;
    listen_on(NULL);
    uint64_t t0 = peer_syn(&PLAIN)->at;
    /* RTO 1 s, doubling: 1, 3, 7, 15, 31, 63 s; then 60 s (the cap) more
     * without an answer and the half-open connection goes, silently. */
    const uint64_t at[] = {1, 3, 7, 15, 31, 63};
    for (unsigned i = 0; i < 6; i++) {
        run_until(t0 + at[i] * SCHED_NS_PER_S);
        struct cap *c = expect_seg(TCP_SYN | TCP_ACK, t.iss, PSEQ(0));
        assert_int_equal(c->at, t0 + at[i] * SCHED_NS_PER_S);
        expect_none();
    }
    run_until(t0 + 123 * SCHED_NS_PER_S - 1);
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    run_until(t0 + 123 * SCHED_NS_PER_S);
    assert_null(pcb());
    expect_none();
    assert_pending(t.acc);
    finish();
}

/* RFC: 6298 (5.2), no retransmission timer once everything is acked. */
static void passive_open_leaves_no_retransmission_timer(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    /* The SYN-ACK is acked: an idle connection has no timeout to take, so
     * RTO, cwnd (RFC 6928's ten segments) and ssthresh stay as they are. */
    run_for(5 * SCHED_NS_PER_S);
    expect_none();
    assert_int_equal(tcp_stats(t.s)->timeouts, 0);
    assert_int_equal(pcb()->rto, TCP_RTO_INIT_NS);
    assert_int_equal(pcb()->cwnd, 10 * MSS);
    our_write(0, 5 * MSS);
    for (uint32_t i = 0; i < 5; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(5 * MSS));
    abort_conn();
    finish();
}

static void listener_answers_only_a_syn(void **state)
{
    (void)state;
    listen_on(NULL);
    /* RFC 9293 §3.10.7.2: a RST is ignored, an ACK draws <SEQ=SEG.ACK>
     * <CTL=RST>, anything else without SYN is dropped. */
    peer(TCP_RST, 5000, 0);
    peer(TCP_RST | TCP_ACK, 5000, 6000);
    expect_none();
    peer(TCP_ACK, 5000, 6000);
    expect_seg(TCP_RST, 6000, 0);
    send_tcp(t.pport, t.lport, TCP_FIN, 5000, 0, 1000, NULL, NULL, 0);
    send_tcp(t.pport, t.lport, 0, 5000, 0, 1000, NULL, "data", 4);
    expect_none();
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    finish();
}

/* ---- RST and SYN in every state (RFC 5961) ----------------------------------------- */

/* In the current state, with RCV.NXT at rn and SND.NXT at sn (offsets):
 * RSTs outside the window are ignored silently, one inside but not at
 * RCV.NXT draws a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>, and neither
 * changes anything (RFC 5961 §3.2). */
static void rst_not_exact_changes_nothing(uint32_t rn, uint32_t sn)
{
    int st = cur_state();
    peer(TCP_RST, PSEQ(rn) + 70000, 0);
    peer(TCP_RST | TCP_ACK, PSEQ(rn) + 70000, OSEQ(sn));
    peer(TCP_RST, PSEQ(rn) - 1, 0);
    peer(TCP_RST, PSEQ(rn) - 40000, 0);
    expect_none();
    assert_int_equal(cur_state(), st);
    uint64_t challenges = tcp_stats(t.s)->challenge_acks;
    peer(TCP_RST, PSEQ(rn) + 1, 0);
    expect_ack(OSEQ(sn), PSEQ(rn));
    peer(TCP_RST | TCP_ACK, PSEQ(rn) + 1000, OSEQ(sn));
    expect_ack(OSEQ(sn), PSEQ(rn));
    expect_none();
    assert_int_equal(tcp_stats(t.s)->challenge_acks, challenges + 2);
    assert_int_equal(cur_state(), st);
}

static void rst_in_syn_sent(void **state)
{
    (void)state;
    our_syn(NULL);
    /* RFC 9293 §3.10.7.3 and RFC 5961 §3.2: without an ACK of our SYN a
     * RST is dropped; an unacceptable ACK without RST draws a RST. */
    peer(TCP_RST, PEER_ISN, 0);
    peer(TCP_RST | TCP_ACK, PEER_ISN, OSEQ(5));
    peer(TCP_RST | TCP_ACK, PEER_ISN, t.iss);
    expect_none();
    assert_int_equal(cur_state(), TCP_SYN_SENT);
    peer(TCP_ACK, PEER_ISN, OSEQ(5));
    expect_seg(TCP_RST, OSEQ(5), 0);
    expect_none();
    assert_pending(t.cp);
    peer(TCP_RST | TCP_ACK, 0, OSEQ(0));
    expect_none();
    assert_int_equal(take_error(&t.cp), -LWT_ECONNREFUSED);
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    finish();
}

static void rst_in_syn_received(void **state)
{
    (void)state;
    listen_on(NULL);
    peer_syn(&PLAIN);
    rst_not_exact_changes_nothing(0, 0);
    peer(TCP_RST, PSEQ(0), 0);
    expect_none();
    assert_null(pcb()); /* back to listening; nothing to accept */
    assert_pending(t.acc);
    finish();
}

/* The connection in st (handle kept): the checks above, then an exact RST
 * ends it, and the application learns it from its read (or write). */
static void rst_in(int st, int read_err)
{
    uint32_t rn, sn;
    drive(st, &rn, &sn);
    bool can_read = st != TCP_CLOSE_WAIT && st != TCP_LAST_ACK && st != TCP_CLOSING && st != TCP_TIME_WAIT;
    if (can_read)
        read_pending();
    rst_not_exact_changes_nothing(rn, sn);
    if (can_read)
        assert_pending(t.rd);
    peer(TCP_RST, PSEQ(rn), 0);
    expect_none();
    assert_int_equal(cur_state(), TCP_CLOSED);
    if (can_read)
        assert_int_equal(take_error(&t.rd), read_err);
    if (st == TCP_CLOSE_WAIT) {
        lwt_t *w = tcp_write(t.conn, "x", 1);
        assert_int_equal(lwt_error(w), read_err);
        lwt_unref(w);
    }
    tcp_close(t.conn);
    t.conn = NULL;
    pump();
    expect_none();
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    finish();
}

static void rst_in_established(void **state)
{
    (void)state;
    rst_in(TCP_ESTABLISHED, -LWT_ECONNRESET);
}

static void rst_in_fin_wait_1(void **state)
{
    (void)state;
    rst_in(TCP_FIN_WAIT_1, -LWT_ECONNRESET);
}

static void rst_in_fin_wait_2(void **state)
{
    (void)state;
    rst_in(TCP_FIN_WAIT_2, -LWT_ECONNRESET);
}

static void rst_in_close_wait(void **state)
{
    (void)state;
    rst_in(TCP_CLOSE_WAIT, -LWT_ECONNRESET);
}

static void rst_in_closing(void **state)
{
    (void)state;
    rst_in(TCP_CLOSING, 0);
}

static void rst_in_last_ack(void **state)
{
    (void)state;
    rst_in(TCP_LAST_ACK, 0);
}

static void rst_in_time_wait(void **state)
{
    (void)state;
    rst_in(TCP_TIME_WAIT, 0);
}

static void syn_in_established_gets_challenge_ack(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    /* RFC 5961 §4.2: whatever its sequence number, a SYN draws an ACK
     * and is dropped; the connection goes on. */
    uint32_t seqs[] = {PSEQ(0), PSEQ(100), PEER_ISN, PSEQ(0) + 200000};
    for (unsigned i = 0; i < 4; i++) {
        peer(TCP_SYN, seqs[i], 0);
        expect_ack(OSEQ(0), PSEQ(0));
        peer(TCP_SYN | TCP_ACK, seqs[i], OSEQ(0));
        expect_ack(OSEQ(0), PSEQ(0));
        expect_none();
        assert_int_equal(cur_state(), TCP_ESTABLISHED);
    }
    peer_data(0, 10);
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(0), PSEQ(10));
    read_expect(0, 10);
    abort_conn();
    finish();
}

/* RFC 5961 §7: a flood of segments that draw challenge ACKs draws at most
 * TCP_CHALLENGE_ACKS_PER_S of them a second. */
static void challenge_acks_are_rate_limited(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    uint64_t t0 = test_vclock_now();
    for (unsigned i = 0; i < TCP_CHALLENGE_ACKS_PER_S + 5; i++)
        peer(TCP_SYN, PSEQ(0), 0);
    for (unsigned i = 0; i < TCP_CHALLENGE_ACKS_PER_S; i++)
        expect_ack(OSEQ(0), PSEQ(0));
    expect_none();
    assert_int_equal(tcp_stats(t.s)->challenge_acks_limited, 5);
    run_until(t0 + SCHED_NS_PER_S);
    peer(TCP_SYN, PSEQ(0), 0);
    expect_ack(OSEQ(0), PSEQ(0));
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
    abort_conn();
    finish();
}

/* ---- Receiving data ------------------------------------------------------------------ */

static void in_order_data_is_acked_after_the_delay(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    uint64_t t0 = test_vclock_now();
    peer_data(0, 100);
    expect_none();
    run_for(SCHED_NS_PER_S);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(100));
    assert_int_equal(c->at, t0 + TCP_DELACK_NS);
    expect_none();
    read_expect(0, 100);
    expect_none(); /* reading 100 bytes is no window update */
    abort_conn();
    finish();
}

static void every_second_full_segment_is_acked_at_once(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    uint64_t t0 = test_vclock_now();
    peer_data(0, MSS);
    expect_none();
    peer_data(MSS, MSS);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(2 * MSS));
    assert_int_equal(c->at, t0);
    run_for(SCHED_NS_PER_S);
    expect_none(); /* no delayed ACK left over */
    uint64_t t1 = test_vclock_now();
    peer_data(2 * MSS, MSS);
    expect_none();
    run_for(SCHED_NS_PER_S);
    c = expect_ack(OSEQ(0), PSEQ(3 * MSS));
    assert_int_equal(c->at, t1 + TCP_DELACK_NS);
    read_expect(0, 3 * MSS);
    abort_conn();
    finish();
}

static void out_of_order_data_gets_a_duplicate_ack_with_sack(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    uint64_t t0 = test_vclock_now();
    /* RFC 5681 §4.2 / RFC 2018 §4: an ACK at once, for RCV.NXT, with a
     * block for what arrived. */
    peer_data(1000, 500);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(0));
    assert_int_equal(c->at, t0);
    assert_int_equal(c->h.nsack, 1);
    assert_int_equal(c->h.sack[0].left, PSEQ(1000));
    assert_int_equal(c->h.sack[0].right, PSEQ(1500));
    peer_data(2000, 500);
    c = expect_ack(OSEQ(0), PSEQ(0));
    assert_int_equal(c->h.nsack, 2);
    bool first = c->h.sack[0].left == PSEQ(2000);
    assert_int_equal(c->h.sack[first ? 1 : 0].left, PSEQ(1000));
    assert_int_equal(c->h.sack[first ? 1 : 0].right, PSEQ(1500));
    assert_int_equal(c->h.sack[first ? 0 : 1].left, PSEQ(2000));
    assert_int_equal(c->h.sack[first ? 0 : 1].right, PSEQ(2500));
    /* Nothing is readable before the hole fills. */
    read_pending();
    /* Filling the first hole: a cumulative ACK at once, one block left. */
    peer_data(0, 1000);
    c = expect_ack(OSEQ(0), PSEQ(1500));
    assert_int_equal(c->at, t0);
    assert_int_equal(c->h.nsack, 1);
    assert_int_equal(c->h.sack[0].left, PSEQ(2000));
    assert_int_equal(c->h.sack[0].right, PSEQ(2500));
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 1500);
    for (uint32_t i = 0; i < 1500; i++)
        assert_int_equal(rbuf[i], pbyte(i));
    peer_data(1500, 500);
    c = expect_ack(OSEQ(0), PSEQ(2500));
    assert_int_equal(c->h.nsack, 0);
    read_expect(1500, 1000);
    read_pending();
    run_for(SCHED_NS_PER_S);
    expect_none();
    assert_pending(t.rd);
    lwt_cancel(t.rd);
    lwt_unref(t.rd);
    t.rd = NULL;
    abort_conn();
    finish();
}

/* RFC: 2018 §4, the first SACK block must hold the latest segment. */
static void first_sack_block_is_the_latest_segment(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    peer_data(1000, 500);
    expect_ack(OSEQ(0), PSEQ(0));
    peer_data(2000, 500);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(0));
    assert_int_equal(c->h.nsack, 2);
    assert_int_equal(c->h.sack[0].left, PSEQ(2000));
    assert_int_equal(c->h.sack[0].right, PSEQ(2500));
    assert_int_equal(c->h.sack[1].left, PSEQ(1000));
    peer_data(3000, 500);
    c = expect_ack(OSEQ(0), PSEQ(0));
    assert_int_equal(c->h.nsack, 3);
    assert_int_equal(c->h.sack[0].left, PSEQ(3000));
    assert_int_equal(c->h.sack[1].left, PSEQ(2000));
    assert_int_equal(c->h.sack[2].left, PSEQ(1000));
    peer_data(0, 1000);
    peer_data(1500, 500);
    peer_data(2500, 500);
    run_for(SCHED_NS_PER_S);
    t.seen = t.ncap;
    read_expect(0, 3500);
    abort_conn();
    finish();
}

static void duplicate_data_is_acked_and_delivered_once(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    peer_data(0, 100);
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(0), PSEQ(100));
    uint64_t t1 = test_vclock_now();
    /* All of it again: an ACK at once (RFC 9293 §3.10.7.4), no data. */
    peer_data(0, 100);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(100));
    assert_int_equal(c->at, t1);
    read_expect(0, 100);
    read_pending();
    /* Half old, half new: only the new half is delivered. */
    peer_data(50, 100);
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 50);
    for (uint32_t i = 0; i < 50; i++)
        assert_int_equal(rbuf[i], pbyte(100 + i));
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(0), PSEQ(150));
    abort_conn();
    finish();
}

static void data_past_the_window_is_trimmed(void **state)
{
    (void)state;
    struct tcp_options o = {.rcvbuf = 4096};
    listen_on(&o);
    struct cap *c = peer_syn(&PLAIN);
    assert_int_equal(c->h.win, 4096);
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    t.conn = take(&t.acc);
    peer_data(0, MSS);
    peer_data(MSS, MSS);
    c = expect_ack(OSEQ(0), PSEQ(2 * MSS));
    assert_int_equal(c->h.win, 4096 - 2 * MSS);
    /* 1460 bytes where 1176 fit: the rest is cut off (RFC 9293
     * §3.10.7.4), the window is then closed. */
    uint64_t t0 = test_vclock_now();
    peer_data(2 * MSS, MSS);
    run_for(SCHED_NS_PER_S);
    c = expect_ack(OSEQ(0), PSEQ(4096));
    assert_int_equal(c->at, t0 + TCP_DELACK_NS);
    assert_int_equal(c->h.win, 0);
    /* Into a zero window nothing is taken; the ACK repeats where we are. */
    peer_data(4096, 100);
    c = expect_ack(OSEQ(0), PSEQ(4096));
    assert_int_equal(c->h.win, 0);
    expect_none();
    /* Reading it all opens the window, and says so. */
    read_expect(0, 4096);
    c = expect_ack(OSEQ(0), PSEQ(4096));
    assert_int_equal(c->h.win, 4096);
    read_pending();
    peer_data(4096, 300);
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 300);
    for (uint32_t i = 0; i < 300; i++)
        assert_int_equal(rbuf[i], pbyte(4096 + i));
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(0), PSEQ(4396));
    abort_conn();
    finish();
}

static void ack_of_unsent_data_is_answered_and_dropped(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    /* RFC 9293 §3.10.7.4 (and RFC 5961 §5.2): SEG.ACK > SND.NXT draws an
     * ACK, and the segment (with its data) is dropped. */
    t.pack = OSEQ(500);
    peer_data(0, 100);
    expect_ack(OSEQ(0), PSEQ(0));
    read_pending();
    run_for(SCHED_NS_PER_S);
    expect_none();
    t.pack = OSEQ(0);
    peer_data(0, 100);
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 100);
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(0), PSEQ(100));
    abort_conn();
    finish();
}

static void paws_drops_a_segment_with_an_old_timestamp(void **state)
{
    (void)state;
    struct popts o = PLAIN;
    o.ts = true;
    t.tsval = 1000;
    open_passive(&o, NULL);
    peer_data(0, 100);
    run_for(SCHED_NS_PER_S);
    struct cap *c = expect_ack(OSEQ(0), PSEQ(100));
    assert_int_equal(c->h.tsecr, 1000);
    /* RFC 7323 §5.3: TSval below TS.Recent: an ACK, and the data is
     * dropped. */
    t.tsval = 900;
    peer_data(100, 100);
    c = expect_ack(OSEQ(0), PSEQ(100));
    assert_int_equal(c->h.tsecr, 1000);
    read_expect(0, 100);
    read_pending();
    t.tsval = 1100;
    peer_data(100, 100);
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 100);
    run_for(SCHED_NS_PER_S);
    c = expect_ack(OSEQ(0), PSEQ(200));
    assert_int_equal(c->h.tsecr, 1100);
    abort_conn();
    finish();
}

/* ---- Retransmission ------------------------------------------------------------------ */

static void syn_is_retransmitted_with_backoff_then_given_up(void **state)
{
    (void)state;
    uint64_t t0 = our_syn(NULL)->at;
    const uint64_t at[] = {1, 3, 7, 15, 31, 63};
    for (unsigned i = 0; i < 6; i++) {
        run_until(t0 + at[i] * SCHED_NS_PER_S);
        struct cap *c = expect_seg(TCP_SYN, t.iss, 0);
        assert_int_equal(c->at, t0 + at[i] * SCHED_NS_PER_S);
        assert_true(c->h.has_mss && c->h.has_wscale && c->h.sack_perm && c->h.has_ts);
        expect_none();
    }
    assert_int_equal(settle(&t.cp), -LWT_ETIMEDOUT);
    assert_int_equal(test_vclock_now(), t0 + (63 + 60) * SCHED_NS_PER_S);
    expect_none();
    finish();
}

static void data_is_retransmitted_after_one_second_then_backs_off(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    our_write(0, 100);
    uint64_t t0 = expect_data(0, 100, PSEQ(0))->at;
    run_until(t0 + SCHED_NS_PER_S - 1);
    expect_none();
    run_until(t0 + SCHED_NS_PER_S);
    expect_data(0, 100, PSEQ(0));
    /* RFC 5681 §3.1 (4): ssthresh = max(FlightSize / 2, 2 * SMSS), and
     * cwnd = one segment. */
    assert_int_equal(pcb()->ssthresh, 2 * MSS);
    assert_int_equal(pcb()->cwnd, MSS);
    /* RFC 6298 (5.5): the timer doubles each time. */
    const uint64_t at[] = {3, 7, 15};
    for (unsigned i = 0; i < 3; i++) {
        run_until(t0 + at[i] * SCHED_NS_PER_S);
        struct cap *c = expect_data(0, 100, PSEQ(0));
        assert_int_equal(c->at, t0 + at[i] * SCHED_NS_PER_S);
        expect_none();
    }
    peer(TCP_ACK, PSEQ(0), OSEQ(100));
    run_for(100 * SCHED_NS_PER_S);
    expect_none();
    abort_conn();
    finish();
}

static void data_retransmissions_give_up_with_a_rst(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    read_pending();
    our_write(0, 100);
    uint64_t prev = expect_data(0, 100, PSEQ(0))->at, t0 = prev;
    assert_int_equal(settle(&t.rd), -LWT_ETIMEDOUT);
    /* Twelve copies, 1 s apart then doubling up to the 60 s cap; a RST 60 s
     * after the last. */
    uint64_t gap = SCHED_NS_PER_S;
    for (unsigned i = 0; i < TCP_DATA_RETRIES; i++) {
        struct cap *c = expect_data(0, 100, PSEQ(0));
        assert_int_equal(c->at - prev, gap);
        prev = c->at;
        gap = gap * 2 < TCP_RTO_MAX_NS ? gap * 2 : TCP_RTO_MAX_NS;
    }
    struct cap *c = expect_seg(TCP_RST | TCP_ACK, OSEQ(100), PSEQ(0));
    assert_int_equal(c->at - prev, TCP_RTO_MAX_NS);
    assert_int_equal(c->at, t0 + (63 + 6 * 60 + 60) * SCHED_NS_PER_S);
    expect_none();
    tcp_close(t.conn);
    t.conn = NULL;
    finish();
}

static void rto_has_a_200ms_floor_once_rtt_is_measured(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    our_write(0, 100);
    expect_data(0, 100, PSEQ(0));
    run_for(10 * SCHED_NS_PER_MS);
    peer(TCP_ACK, PSEQ(0), OSEQ(100));
    /* RFC 6298 (2.2): SRTT = R, RTTVAR = R / 2, RTO = SRTT + 4 RTTVAR =
     * 30 ms, raised to the floor. */
    assert_int_equal(pcb()->srtt, 10 * SCHED_NS_PER_MS);
    assert_int_equal(pcb()->rto, TCP_RTO_MIN_NS);
    our_write(100, 100);
    uint64_t t1 = expect_data(100, 100, PSEQ(0))->at;
    const uint64_t at[] = {200, 600, 1400};
    for (unsigned i = 0; i < 3; i++) {
        run_until(t1 + at[i] * SCHED_NS_PER_MS);
        struct cap *c = expect_data(100, 100, PSEQ(0));
        assert_int_equal(c->at, t1 + at[i] * SCHED_NS_PER_MS);
        expect_none();
    }
    peer(TCP_ACK, PSEQ(0), OSEQ(200));
    abort_conn();
    finish();
}

/* RFC: 6298 (5.7), the RTO is 3 s once data flows after a SYN timed out. */
static void rto_is_three_seconds_after_a_retransmitted_syn(void **state)
{
    (void)state;
    uint64_t t0 = our_syn(NULL)->at;
    run_until(t0 + SCHED_NS_PER_S);
    expect_seg(TCP_SYN, t.iss, 0);
    peer_synack(&PLAIN);
    expect_ack(OSEQ(0), PSEQ(0));
    t.conn = take(&t.cp);
    our_write(0, 100);
    uint64_t t1 = expect_data(0, 100, PSEQ(0))->at;
    run_until(t1 + 3 * SCHED_NS_PER_S - 1);
    expect_none();
    run_until(t1 + 3 * SCHED_NS_PER_S);
    expect_data(0, 100, PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(100));
    abort_conn();
    finish();
}

static void timeout_resends_one_segment_then_slow_start(void **state)
{
    (void)state;
    open_active(&NO_SACK, NULL);
    our_write(0, 5 * MSS);
    for (uint32_t i = 0; i < 5; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    uint64_t t0 = test_vclock_now();
    run_until(t0 + SCHED_NS_PER_S);
    expect_data(0, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(pcb()->cwnd, MSS);
    assert_int_equal(pcb()->ssthresh, 5 * MSS / 2);
    /* Slow start from one segment: two, then the last two. */
    peer(TCP_ACK, PSEQ(0), OSEQ(MSS));
    expect_data(MSS, MSS, PSEQ(0));
    expect_data(2 * MSS, MSS, PSEQ(0));
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(3 * MSS));
    expect_data(3 * MSS, MSS, PSEQ(0));
    expect_data(4 * MSS, MSS, PSEQ(0));
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(5 * MSS));
    expect_none();
    abort_conn();
    finish();
}

/* Five segments out, the first lost, three duplicate ACKs (no SACK). */
static void fast_retransmit_setup(void)
{
    open_passive(&NO_SACK, NULL);
    our_write(0, 5 * MSS);
    for (uint32_t i = 0; i < 5; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    uint64_t t0 = test_vclock_now();
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    /* RFC 5681 §3.2: the first unacknowledged segment at once. */
    struct cap *c = expect_data(0, MSS, PSEQ(0));
    assert_int_equal(c->at, t0);
    expect_none();
}

static void three_duplicate_acks_fast_retransmit(void **state)
{
    (void)state;
    fast_retransmit_setup();
    struct tcp_pcb *p = pcb();
    /* ssthresh = max(FlightSize / 2, 2 SMSS); cwnd = ssthresh + 3 SMSS. */
    assert_int_equal(p->ssthresh, 5 * MSS / 2);
    assert_int_equal(p->cwnd, 5 * MSS / 2 + 3 * MSS);
    /* Each further duplicate inflates by one segment; nothing new to send. */
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    assert_int_equal(p->cwnd, 5 * MSS / 2 + 4 * MSS);
    expect_none();
    /* A partial ACK (RFC 6582 §3.2 step 5): the next hole at once. */
    peer(TCP_ACK, PSEQ(0), OSEQ(2 * MSS));
    expect_data(2 * MSS, MSS, PSEQ(0));
    expect_none();
    assert_true(p->in_recovery);
    peer(TCP_ACK, PSEQ(0), OSEQ(5 * MSS));
    assert_false(p->in_recovery);
    run_for(10 * SCHED_NS_PER_S);
    expect_none();
    abort_conn();
    finish();
}

/* RFC: 6582 §3.2 step 3, cwnd after the full ACK. */
static void full_ack_ends_recovery_with_rfc6582_cwnd(void **state)
{
    (void)state;
    fast_retransmit_setup();
    peer(TCP_ACK, PSEQ(0), OSEQ(5 * MSS));
    /* min(ssthresh, max(FlightSize, SMSS) + SMSS), or ssthresh;
     * FlightSize is 0 now. */
    uint32_t cwnd = pcb()->cwnd;
    assert_true(cwnd == 2 * MSS || cwnd == 5 * MSS / 2);
    abort_conn();
    finish();
}

static void sack_recovery_resends_the_holes(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    /* Ten segments; the peer gets all but the 1st and the 4th. */
    our_write(0, 10 * MSS);
    for (uint32_t i = 0; i < 10; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    uint64_t t0 = test_vclock_now();
    /* Blocks as offsets of our stream, the latest first (RFC 2018 §4). */
    uint32_t b[2][2] = {{MSS, 2 * MSS}};
    peer_sack(0, b, 1);
    b[0][1] = 3 * MSS;
    peer_sack(0, b, 1);
    expect_none();
    /* The third duplicate (RFC 6675 §5 step 4): the first segment. */
    b[0][0] = 4 * MSS, b[0][1] = 5 * MSS, b[1][0] = MSS, b[1][1] = 3 * MSS;
    peer_sack(0, b, 2);
    struct cap *c = expect_data(0, MSS, PSEQ(0));
    assert_int_equal(c->at, t0);
    expect_none();
    assert_int_equal(pcb()->ssthresh, 5 * MSS);
    assert_int_equal(pcb()->cwnd, 5 * MSS);
    /* pipe = 1 (resent) + 5 (above the SACKed) = cwnd: nothing. */
    b[0][1] = 6 * MSS;
    peer_sack(0, b, 2);
    expect_none();
    /* Now three segments are SACKed above the 4th: it is lost, and pipe
     * leaves room for one segment, which is it. */
    b[0][1] = 7 * MSS;
    peer_sack(0, b, 2);
    c = expect_data(3 * MSS, MSS, PSEQ(0));
    assert_int_equal(c->at, t0);
    assert_int_equal(tcp_stats(t.s)->timeouts, 0);
    peer(TCP_ACK, PSEQ(0), OSEQ(10 * MSS));
    assert_false(pcb()->in_recovery);
    t.seen = t.ncap;
    run_for(10 * SCHED_NS_PER_S);
    expect_none();
    abort_conn();
    finish();
}

/* ---- Loss detection beyond RFC 6675 (RFC 8985, RFC 3522) ------------------------ */

/* Sends our bytes [0, 100) and acks them after `rtt`: SRTT is then rtt. */
static void measure_rtt(uint64_t rtt)
{
    our_write(0, 100);
    expect_data(0, 100, PSEQ(0));
    run_for(rtt);
    peer(TCP_ACK, PSEQ(0), OSEQ(100));
    assert_int_equal(pcb()->srtt, rtt);
}

/* Four segments out, the first lost: the peer SACKs two, in one ACK that
 * is lost or not, and nothing further comes. Neither three duplicate ACKs
 * nor three SACKed segments will; a quarter of the RTT after the SACK, the
 * hole counts as lost (RFC 8985 §6.2, a reordered segment would be there). */
static void a_hole_under_sacked_data_is_lost_after_a_quarter_rtt(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    measure_rtt(20 * SCHED_NS_PER_MS);
    our_write(100, 4 * MSS);
    for (uint32_t i = 0; i < 4; i++)
        expect_data(100 + i * MSS, MSS, PSEQ(0));
    uint32_t b[1][2] = {{100 + MSS, 100 + 3 * MSS}};
    peer_sack(100, b, 1);
    uint64_t t0 = test_vclock_now();
    run_until(t0 + 5 * SCHED_NS_PER_MS - 1);
    expect_none();
    run_until(t0 + 5 * SCHED_NS_PER_MS);
    struct cap *c = expect_data(100, MSS, PSEQ(0));
    assert_int_equal(c->at, t0 + 5 * SCHED_NS_PER_MS);
    expect_none();
    assert_true(pcb()->in_recovery);
    assert_int_equal(tcp_stats(t.s)->fast_retransmits, 1);
    peer(TCP_ACK, PSEQ(0), OSEQ(100 + 4 * MSS));
    assert_false(pcb()->in_recovery);
    assert_int_equal(tcp_stats(t.s)->timeouts, 0);
    abort_conn();
    finish();
}

/* RFC 8985 §7: the tail of a burst is lost and no ACK comes; two RTTs on
 * (well before the RTO) the last segment goes again, so that the answer
 * starts SACK recovery instead of a timeout. A probe that repaired a loss
 * (no DSACK says otherwise) halves cwnd; one that was needless does not. */
static void tail_loss_probe_resends_the_last_segment_after_two_rtts(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    measure_rtt(20 * SCHED_NS_PER_MS);
    our_write(100, 3 * MSS);
    for (uint32_t i = 0; i < 3; i++)
        expect_data(100 + i * MSS, MSS, PSEQ(0));
    uint64_t t0 = test_vclock_now();
    run_until(t0 + 40 * SCHED_NS_PER_MS - 1);
    expect_none();
    run_until(t0 + 40 * SCHED_NS_PER_MS);
    struct cap *c = expect_data(100 + 2 * MSS, MSS, PSEQ(0));
    assert_int_equal(c->at, t0 + 40 * SCHED_NS_PER_MS);
    expect_none();
    assert_int_equal(tcp_stats(t.s)->tlp_probes, 1);
    /* The ACK of everything, no DSACK: the probe repaired the tail. */
    uint32_t before = pcb()->cwnd;
    peer(TCP_ACK, PSEQ(0), OSEQ(100 + 3 * MSS));
    assert_true(pcb()->cwnd < before);
    assert_int_equal(pcb()->cwnd, pcb()->ssthresh);
    /* A second burst and probe; this time the peer had it all and says
     * so with a DSACK of the probe's bytes. */
    our_write(100 + 3 * MSS, 2 * MSS);
    expect_data(100 + 3 * MSS, MSS, PSEQ(0));
    expect_data(100 + 4 * MSS, MSS, PSEQ(0));
    uint64_t t1 = test_vclock_now();
    run_until(t1 + 2 * pcb()->srtt);
    expect_data(100 + 4 * MSS, MSS, PSEQ(0));
    assert_int_equal(tcp_stats(t.s)->tlp_probes, 2);
    before = pcb()->cwnd;
    uint32_t d[1][2] = {{100 + 4 * MSS, 100 + 5 * MSS}};
    peer_sack(100 + 5 * MSS, d, 1);
    assert_true(pcb()->cwnd >= before);
    assert_int_equal(tcp_stats(t.s)->timeouts, 0);
    run_for(10 * SCHED_NS_PER_S);
    expect_none();
    abort_conn();
    finish();
}

/* RFC 6675 leaves a lost retransmission to the RTO. Here the first
 * segment goes again, new data follows it, and the peer SACKs three
 * segments of that new data while still missing the first: its repair was
 * lost too, and it goes a third time at once. */
static void a_lost_repair_goes_again_once_later_data_is_sacked(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    our_write(0, 10 * MSS);
    for (uint32_t i = 0; i < 10; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    uint32_t b[1][2] = {{MSS, 4 * MSS}};
    peer_sack(0, b, 1);
    expect_data(0, MSS, PSEQ(0)); /* three segments SACKed above it */
    b[0][1] = 10 * MSS;
    peer_sack(0, b, 1);
    expect_none();
    /* pipe is the repair alone; four new segments fit in cwnd = 5. */
    our_write(10 * MSS, 4 * MSS);
    for (uint32_t i = 10; i < 14; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    expect_none();
    b[0][1] = 13 * MSS;
    peer_sack(0, b, 1);
    expect_data(0, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(tcp_stats(t.s)->repairs_lost, 1);
    assert_int_equal(tcp_stats(t.s)->timeouts, 0);
    peer(TCP_ACK, PSEQ(0), OSEQ(14 * MSS));
    assert_false(pcb()->in_recovery);
    t.seen = t.ncap;
    abort_conn();
    finish();
}

/* RFC 3522 (Eifel): the ACK that ends the hole echoes the timestamp of
 * the original segment, not of its retransmission: it was only late, and
 * the window goes back to what it was. */
static void a_recovery_that_reordering_started_is_undone(void **state)
{
    (void)state;
    struct popts o = PLAIN;
    o.ts = true;
    open_passive(&o, NULL);
    uint32_t mss = pcb()->mss;
    our_write(0, 4 * mss);
    uint32_t first_tsval = expect_data(0, mss, PSEQ(0))->h.tsval;
    for (uint32_t i = 1; i < 4; i++)
        expect_data(i * mss, mss, PSEQ(0));
    run_for(5 * SCHED_NS_PER_MS); /* less than the tail loss probe's 10 ms */
    uint32_t cwnd = pcb()->cwnd, ssthresh = pcb()->ssthresh;
    uint32_t b[1][2] = {{mss, 4 * mss}};
    peer_sack(0, b, 1);
    expect_data(0, mss, PSEQ(0));
    assert_true(pcb()->in_recovery);
    assert_true(pcb()->cwnd < cwnd);
    struct tcp_hdr h = {.has_ts = true, .tsval = t.tsval, .tsecr = first_tsval};
    peer_opt(TCP_ACK, PSEQ(0), OSEQ(4 * mss), NULL, 0, &h);
    assert_false(pcb()->in_recovery);
    assert_int_equal(tcp_stats(t.s)->undos, 1);
    assert_int_equal(pcb()->cwnd, cwnd);
    assert_int_equal(pcb()->ssthresh, ssthresh);
    abort_conn();
    finish();
}

/* ---- TSO ------------------------------------------------------------------------- */

/* The stack's port cuts TSO packets into segments as a NIC would, so the
 * peer sees the segments the stack would have sent one by one; what the
 * stack handed down shows in its IP packet count. */
static uint64_t packets_out(void)
{
    return net_stack_stats(t.s)->ip_out;
}

static void tso_sends_whole_segments_at_once_and_nagle_holds_the_tail(void **state)
{
    (void)state;
    assert_int_equal(net_hub_set_port_offload(t.ps, true, 65535), 0);
    open_active(&PLAIN, NULL);
    uint64_t pk = packets_out(), segs = tcp_stats(t.s)->segs_out;
    our_write(0, 3 * MSS + 500);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(expect_data(i * MSS, MSS, PSEQ(0))->h.flags, TCP_ACK);
    expect_none();
    assert_int_equal(packets_out() - pk, 1);
    assert_int_equal(tcp_stats(t.s)->segs_out - segs, 3);
    peer(TCP_ACK, PSEQ(0), OSEQ(3 * MSS));
    assert_int_equal(expect_data(3 * MSS, 500, PSEQ(0))->h.flags, TCP_ACK | TCP_PSH);
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(3 * MSS + 500));
    abort_conn();
    finish();
}

static void tso_takes_the_tail_along_without_nagle(void **state)
{
    (void)state;
    assert_int_equal(net_hub_set_port_offload(t.ps, true, 65535), 0);
    struct tcp_options o = {.nodelay = true};
    open_active(&PLAIN, &o);
    uint64_t pk = packets_out();
    our_write(0, 3 * MSS + 500);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(expect_data(i * MSS, MSS, PSEQ(0))->h.flags, TCP_ACK);
    assert_int_equal(expect_data(3 * MSS, 500, PSEQ(0))->h.flags, TCP_ACK | TCP_PSH);
    expect_none();
    assert_int_equal(packets_out() - pk, 1);
    peer(TCP_ACK, PSEQ(0), OSEQ(3 * MSS + 500));
    abort_conn();
    finish();
}

/* A short window: the tail waits (sender SWS avoidance) as it would alone. */
static void tso_leaves_a_short_tail_of_the_window(void **state)
{
    (void)state;
    assert_int_equal(net_hub_set_port_offload(t.ps, true, 65535), 0);
    struct popts o = PLAIN;
    o.win = 3 * MSS + 500;
    open_active(&o, NULL);
    uint64_t pk = packets_out();
    our_write(0, 6 * MSS);
    for (uint32_t i = 0; i < 3; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(packets_out() - pk, 1);
    peer(TCP_ACK, PSEQ(0), OSEQ(3 * MSS));
    for (uint32_t i = 3; i < 6; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(packets_out() - pk, 2);
    peer(TCP_ACK, PSEQ(0), OSEQ(6 * MSS));
    abort_conn();
    finish();
}

/* What goes again goes a segment at a time, in a packet of its own. */
static void tso_retransmits_single_segments(void **state)
{
    (void)state;
    assert_int_equal(net_hub_set_port_offload(t.ps, true, 65535), 0);
    open_active(&NO_SACK, NULL);
    uint64_t pk = packets_out();
    our_write(0, 5 * MSS);
    for (uint32_t i = 0; i < 5; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    assert_int_equal(packets_out() - pk, 1);
    run_until(test_vclock_now() + SCHED_NS_PER_S);
    expect_data(0, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(packets_out() - pk, 2);
    peer(TCP_ACK, PSEQ(0), OSEQ(MSS));
    expect_data(MSS, MSS, PSEQ(0));
    expect_data(2 * MSS, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(packets_out() - pk, 4);
    /* Past what was sent before, new data goes whole again: as much as
     * the congestion window lets out (four segments now: the ACK of three
     * grew it by two, RFC 3465's limit in slow start). */
    our_write(5 * MSS, 5 * MSS);
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(5 * MSS));
    for (uint32_t i = 5; i < 9; i++)
        expect_data(i * MSS, MSS, PSEQ(0));
    expect_none();
    assert_int_equal(packets_out() - pk, 5);
    peer(TCP_ACK, PSEQ(0), OSEQ(9 * MSS));
    expect_data(9 * MSS, MSS, PSEQ(0));
    expect_none();
    peer(TCP_ACK, PSEQ(0), OSEQ(10 * MSS));
    abort_conn();
    finish();
}

/* ---- Zero window ------------------------------------------------------------------ */

static void zero_window_is_probed_at_growing_intervals(void **state)
{
    (void)state;
    struct popts o = PLAIN;
    o.win = 0;
    open_active(&o, NULL);
    assert_int_equal(pcb()->snd_wnd, 0);
    our_write(0, 100);
    expect_none();
    uint64_t t0 = test_vclock_now();
    /* Probes one RTO after, then backing off: 1, 2, 4, 8, 16 s apart. Each
     * is a segment below SND.UNA, which the peer must answer with an ACK. */
    uint64_t at = t0;
    for (unsigned i = 0; i < 5; i++) {
        at += SCHED_NS_PER_S << i;
        run_until(at - 1);
        expect_none();
        run_until(at);
        struct cap *c = expect_ack(OSEQ(0) - 1, PSEQ(0));
        assert_int_equal(c->at, at);
        expect_none();
        peer(TCP_ACK, PSEQ(0), OSEQ(0));
        expect_none();
    }
    /* The window opens: the data goes at once. */
    t.pwin = 65535;
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    expect_data(0, 100, PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(100));
    run_for(100 * SCHED_NS_PER_S);
    expect_none();
    abort_conn();
    finish();
}

/* ---- Closing ------------------------------------------------------------------ */

static void active_close_through_fin_wait_and_time_wait(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    our_fin(0, 0);
    uint64_t t0 = test_vclock_now();
    assert_int_equal(cur_state(), TCP_FIN_WAIT_1);
    lwt_t *w = tcp_write(t.conn, "x", 1);
    assert_int_equal(lwt_error(w), -LWT_EPIPE);
    lwt_unref(w);
    /* The FIN is retransmitted like data. */
    run_until(t0 + SCHED_NS_PER_S);
    expect_seg(TCP_FIN | TCP_ACK, OSEQ(0), PSEQ(0));
    run_until(t0 + 3 * SCHED_NS_PER_S);
    expect_seg(TCP_FIN | TCP_ACK, OSEQ(0), PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(1));
    expect_none();
    assert_int_equal(cur_state(), TCP_FIN_WAIT_2);
    /* Half closed: the peer's data still comes in. */
    t.pack = OSEQ(1);
    peer_data(0, 100);
    run_for(SCHED_NS_PER_S);
    expect_ack(OSEQ(1), PSEQ(100));
    read_expect(0, 100);
    peer(TCP_FIN | TCP_ACK, PSEQ(100), OSEQ(1));
    uint64_t t1 = expect_ack(OSEQ(1), PSEQ(101))->at;
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    read_eof();
    tcp_close(t.conn);
    t.conn = NULL;
    /* RFC 9293 §3.10.7.4: 2 MSL, silently. */
    run_until(t1 + TCP_TIME_WAIT_NS - 1);
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    assert_int_equal(tcp_stats(t.s)->time_wait, 1);
    run_until(t1 + TCP_TIME_WAIT_NS);
    assert_null(pcb());
    expect_none();
    finish();
}

/* RFC: 9293 §3.10.7.4 TIME-WAIT, a retransmitted FIN restarts the 2 MSL. */
static void time_wait_acks_a_retransmitted_fin_and_restarts(void **state)
{
    (void)state;
    uint32_t rn, sn;
    drive(TCP_TIME_WAIT, &rn, &sn);
    uint64_t t1 = test_vclock_now();
    tcp_close(t.conn);
    t.conn = NULL;
    run_until(t1 + 10 * SCHED_NS_PER_S);
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(1));
    expect_ack(OSEQ(1), PSEQ(1));
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    run_until(t1 + TCP_TIME_WAIT_NS);
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    run_until(t1 + 10 * SCHED_NS_PER_S + TCP_TIME_WAIT_NS);
    assert_null(pcb());
    expect_none();
    finish();
}

static void syn_with_a_higher_sequence_reuses_time_wait(void **state)
{
    (void)state;
    uint32_t rn, sn;
    drive(TCP_TIME_WAIT, &rn, &sn);
    tcp_close(t.conn);
    t.conn = NULL;
    uint32_t old_iss = t.iss;
    run_for(SCHED_NS_PER_S);
    /* An old SYN is answered with an ACK and changes nothing. */
    peer(TCP_SYN, PEER_ISN, 0);
    expect_ack(OSEQ(1), PSEQ(1));
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    /* A new one above RCV.NXT starts a new incarnation (RFC 9293
     * §3.10.7.4 TIME-WAIT, RFC 6191), whose ISN is above the old stream. */
    t.lport = LISTEN_PORT;
    struct tcp_hdr h;
    syn_opts(&PLAIN, &h, 0);
    uint32_t isn2 = PSEQ(100000);
    send_tcp(t.pport, t.lport, TCP_SYN, isn2, 0, 65535, &h, NULL, 0);
    struct cap *c = next_seg();
    assert_int_equal(c->h.flags, TCP_SYN | TCP_ACK);
    assert_int_equal(c->h.ack, isn2 + 1);
    assert_true(seq_gt(c->h.seq, old_iss + 2));
    t.iss = c->h.seq;
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    assert_int_equal(tcp_stats(t.s)->time_wait, 0);
    peer(TCP_ACK, isn2 + 1, OSEQ(0));
    t.acc = tcp_accept(t.l);
    t.conn = take(&t.acc);
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
    uint32_t seq = OSEQ(0);
    tcp_abort(t.conn);
    t.conn = NULL;
    pump();
    expect_seg(TCP_RST | TCP_ACK, seq, isn2 + 1);
    finish();
}

static void passive_close_through_close_wait_and_last_ack(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    read_pending();
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0));
    expect_ack(OSEQ(0), PSEQ(1)); /* at once */
    assert_int_equal(cur_state(), TCP_CLOSE_WAIT);
    assert_int_equal(LWT_TO_INT(take(&t.rd)), 0);
    /* We may still send. */
    t.pack = OSEQ(0);
    our_write(0, 100);
    expect_data(0, 100, PSEQ(1));
    peer(TCP_ACK, PSEQ(1), OSEQ(100));
    /* A retransmitted FIN is acked again. */
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(100));
    expect_ack(OSEQ(100), PSEQ(1));
    tcp_close(t.conn);
    t.conn = NULL;
    pump();
    expect_seg(TCP_FIN | TCP_ACK, OSEQ(100), PSEQ(1));
    assert_int_equal(cur_state(), TCP_LAST_ACK);
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(100));
    expect_ack(OSEQ(101), PSEQ(1));
    assert_int_equal(cur_state(), TCP_LAST_ACK);
    /* The ACK of our FIN ends it, with no TIME_WAIT. */
    peer(TCP_ACK, PSEQ(1), OSEQ(101));
    expect_none();
    assert_null(pcb());
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    finish();
}

static void close_on_eof(void *value, void *ctx)
{
    (void)ctx;
    assert_int_equal(LWT_TO_INT(value), 0);
    tcp_close(t.conn);
    t.conn = NULL;
}

/* An application that closes when it reads the end of the stream answers
 * on the same turn of the loop: the ACK of the peer's FIN rides on our FIN
 * (one segment, as Linux does in CLOSE_WAIT). */
static void closing_at_eof_acks_the_peers_fin_with_ours(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    read_pending();
    lwt_on_success(t.rd, close_on_eof, NULL, 0);
    uint64_t t0 = test_vclock_now();
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0));
    struct cap *c = expect_seg(TCP_FIN | TCP_ACK, OSEQ(0), PSEQ(1));
    assert_int_equal(c->at, t0);
    expect_none();
    lwt_unref(t.rd);
    t.rd = NULL;
    assert_int_equal(cur_state(), TCP_LAST_ACK);
    peer(TCP_ACK, PSEQ(1), OSEQ(1));
    expect_none();
    assert_null(pcb());
    finish();
}

static void simultaneous_close_goes_through_closing(void **state)
{
    (void)state;
    uint32_t rn, sn;
    drive(TCP_CLOSING, &rn, &sn);
    /* The peer's FIN again: acked again. */
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(0));
    expect_ack(OSEQ(1), PSEQ(1));
    assert_int_equal(cur_state(), TCP_CLOSING);
    peer(TCP_ACK, PSEQ(1), OSEQ(1));
    expect_none();
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    uint64_t t1 = test_vclock_now();
    read_eof();
    tcp_close(t.conn);
    t.conn = NULL;
    run_until(t1 + TCP_TIME_WAIT_NS - 1);
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    run_until(t1 + TCP_TIME_WAIT_NS);
    assert_null(pcb());
    finish();
}

static void fin_acking_ours_goes_straight_to_time_wait(void **state)
{
    (void)state;
    uint32_t rn, sn;
    drive(TCP_FIN_WAIT_1, &rn, &sn);
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(1));
    expect_ack(OSEQ(1), PSEQ(1));
    assert_int_equal(cur_state(), TCP_TIME_WAIT);
    tcp_close(t.conn);
    t.conn = NULL;
    finish();
}

static void orphan_fin_wait_2_ends_after_its_limit(void **state)
{
    (void)state;
    open_passive(&PLAIN, NULL);
    tcp_close(t.conn);
    t.conn = NULL;
    pump();
    expect_seg(TCP_FIN | TCP_ACK, OSEQ(0), PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(1));
    uint64_t t1 = test_vclock_now();
    assert_int_equal(cur_state(), TCP_FIN_WAIT_2);
    run_until(t1 + TCP_FIN_WAIT_2_NS - 1);
    assert_int_equal(cur_state(), TCP_FIN_WAIT_2);
    run_until(t1 + TCP_FIN_WAIT_2_NS);
    assert_null(pcb());
    expect_none();
    /* The peer's late FIN finds nothing: a RST (port 80 still listens). */
    peer(TCP_FIN | TCP_ACK, PSEQ(0), OSEQ(1));
    expect_seg(TCP_RST, OSEQ(1), 0);
    finish();
}

/* ---- Simultaneous open ------------------------------------------------------------ */

static void simultaneous_open(void **state)
{
    (void)state;
    our_syn(NULL);
    /* RFC 9293 §3.5 figure 7: the peer's SYN crosses ours. */
    struct tcp_hdr h;
    syn_opts(&PLAIN, &h, 0);
    t.pwin = 65535;
    send_tcp(t.pport, t.lport, TCP_SYN, PEER_ISN, 0, 65535, &h, NULL, 0);
    struct cap *c = expect_seg(TCP_SYN | TCP_ACK, t.iss, PSEQ(0));
    assert_true(c->h.sack_perm);
    assert_false(c->h.has_wscale || c->h.has_ts);
    assert_int_equal(cur_state(), TCP_SYN_RECEIVED);
    assert_pending(t.cp);
    /* The peer's SYN-ACK (to our SYN) is below RCV.NXT: an ACK. */
    syn_opts(&PLAIN, &h, 0);
    send_tcp(t.pport, t.lport, TCP_SYN | TCP_ACK, PEER_ISN, OSEQ(0), 65535, &h, NULL, 0);
    expect_ack(OSEQ(0), PSEQ(0));
    expect_none();
    /* Its ACK of our SYN-ACK completes it. */
    peer(TCP_ACK, PSEQ(0), OSEQ(0));
    expect_none();
    t.conn = take(&t.cp);
    assert_int_equal(cur_state(), TCP_ESTABLISHED);
    our_write(0, 10);
    expect_data(0, 10, PSEQ(0));
    peer(TCP_ACK, PSEQ(0), OSEQ(10));
    abort_conn();
    finish();
}

/* RFC: 9293 §3.10.7.4 SYN-RECEIVED, RST after an active open is a refusal. */
static void rst_in_simultaneous_open_is_a_refusal(void **state)
{
    (void)state;
    our_syn(NULL);
    struct tcp_hdr h;
    syn_opts(&PLAIN, &h, 0);
    t.pwin = 65535;
    send_tcp(t.pport, t.lport, TCP_SYN, PEER_ISN, 0, 65535, &h, NULL, 0);
    expect_seg(TCP_SYN | TCP_ACK, t.iss, PSEQ(0));
    peer(TCP_RST, PSEQ(0), 0);
    expect_none();
    assert_int_equal(take_error(&t.cp), -LWT_ECONNREFUSED);
    finish();
}

/* ---- Nobody listening ------------------------------------------------------------- */

static void closed_port_answers_with_rst(void **state)
{
    (void)state;
    t.lport = 81;
    t.pport = PEER_PORT;
    t.pwin = 1000;
    /* RFC 9293 §3.10.7.1: without ACK, <SEQ=0><ACK=SEG.SEQ+SEG.LEN>
     * <CTL=RST,ACK>; with ACK, <SEQ=SEG.ACK><CTL=RST>; a RST, nothing. */
    peer(TCP_SYN, 1000, 0);
    struct cap *c = expect_seg(TCP_RST | TCP_ACK, 0, 1001);
    assert_int_equal(c->len, 0);
    peer_opt(TCP_SYN | TCP_FIN, 2000, 0, "abcde", 5, NULL);
    expect_seg(TCP_RST | TCP_ACK, 0, 2007);
    peer_opt(0, 3000, 0, "abcde", 5, NULL);
    expect_seg(TCP_RST | TCP_ACK, 0, 3005);
    peer(TCP_ACK, 4000, 777);
    expect_seg(TCP_RST, 777, 0);
    peer_opt(TCP_ACK | TCP_PSH, 4000, 888, "abcde", 5, NULL);
    expect_seg(TCP_RST, 888, 0);
    peer(TCP_SYN | TCP_ACK, 4000, 999);
    expect_seg(TCP_RST, 999, 0);
    peer(TCP_RST, 5000, 0);
    peer(TCP_RST | TCP_ACK, 5000, 6000);
    expect_none();
    assert_int_equal(tcp_stats(t.s)->conns, 0);
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(our_syn_offers_every_option),
        T(our_synack_echoes_only_what_the_peer_offered),
        T(syn_received_ack_below_our_syn_gets_rst),
        T(syn_received_ack_beyond_our_syn_gets_rst),
        T(synack_is_retransmitted_then_given_up),
        T(passive_open_leaves_no_retransmission_timer),
        T(listener_answers_only_a_syn),
        T(rst_in_syn_sent),
        T(rst_in_syn_received),
        T(rst_in_established),
        T(rst_in_fin_wait_1),
        T(rst_in_fin_wait_2),
        T(rst_in_close_wait),
        T(rst_in_closing),
        T(rst_in_last_ack),
        T(rst_in_time_wait),
        T(syn_in_established_gets_challenge_ack),
        T(challenge_acks_are_rate_limited),
        T(in_order_data_is_acked_after_the_delay),
        T(every_second_full_segment_is_acked_at_once),
        T(out_of_order_data_gets_a_duplicate_ack_with_sack),
        T(first_sack_block_is_the_latest_segment),
        T(duplicate_data_is_acked_and_delivered_once),
        T(data_past_the_window_is_trimmed),
        T(ack_of_unsent_data_is_answered_and_dropped),
        T(paws_drops_a_segment_with_an_old_timestamp),
        T(syn_is_retransmitted_with_backoff_then_given_up),
        T(data_is_retransmitted_after_one_second_then_backs_off),
        T(data_retransmissions_give_up_with_a_rst),
        T(rto_has_a_200ms_floor_once_rtt_is_measured),
        T(rto_is_three_seconds_after_a_retransmitted_syn),
        T(timeout_resends_one_segment_then_slow_start),
        T(three_duplicate_acks_fast_retransmit),
        T(full_ack_ends_recovery_with_rfc6582_cwnd),
        T(sack_recovery_resends_the_holes),
        T(a_hole_under_sacked_data_is_lost_after_a_quarter_rtt),
        T(tail_loss_probe_resends_the_last_segment_after_two_rtts),
        T(a_lost_repair_goes_again_once_later_data_is_sacked),
        T(a_recovery_that_reordering_started_is_undone),
        T(tso_sends_whole_segments_at_once_and_nagle_holds_the_tail),
        T(tso_takes_the_tail_along_without_nagle),
        T(tso_leaves_a_short_tail_of_the_window),
        T(tso_retransmits_single_segments),
        T(zero_window_is_probed_at_growing_intervals),
        T(active_close_through_fin_wait_and_time_wait),
        T(time_wait_acks_a_retransmitted_fin_and_restarts),
        T(syn_with_a_higher_sequence_reuses_time_wait),
        T(passive_close_through_close_wait_and_last_ack),
        T(closing_at_eof_acks_the_peers_fin_with_ours),
        T(simultaneous_close_goes_through_closing),
        T(fin_acking_ours_goes_straight_to_time_wait),
        T(orphan_fin_wait_2_ends_after_its_limit),
        T(simultaneous_open),
        T(rst_in_simultaneous_open_is_a_refusal),
        T(closed_port_answers_with_rst),
    };
    /* TCP_TEST_ONLY=NAME runs one test. */
    if (getenv("TCP_TEST_ONLY"))
        cmocka_set_test_filter(getenv("TCP_TEST_ONLY"));
    return RUN_TESTS(tests);
}
