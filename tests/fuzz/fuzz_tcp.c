/* Feeds TCP segments into listening and established connections of a
 * direct stack, for libFuzzer (LLVMFuzzerTestOneInput) and for the replay
 * driver in fuzz_tcp_replay.c.
 *
 * The stack (10.0.0.1) sits on a netif that reads every frame it sends, so
 * that the harness can play the peer, 10.0.0.9: it answers ARP, and keeps
 * per connection ("flow") what a peer would know from the wire: our ISN,
 * the highest sequence we sent, the last ACK and timestamp we sent, and its
 * own next sequence number. Before each input the harness makes sure,
 * without help from the input, that there are
 *   slot 0  a connection from 10.0.0.9 to the listener on port 80,
 *   slot 1  a connection we opened to 10.0.0.9:81,
 * and a listener on port 80 with an accept pending; slots 2 and 3 hold
 * what the input connects or accepts. An input is a list of operations:
 *   0-3  a segment: which flow, flags, sequence and ACK offsets from what
 *        the flow expects, window, options, payload length; built with
 *        correct checksums unless the operation asks for a bad one;
 *   4    a burst of data segments, or of duplicate ACKs;
 *   5    time passes: milliseconds to minutes (timers fire); or a new
 *        peer's whole handshake with the listener; or a flood of SYNs;
 *   6-7  the application: read, write, shutdown, close, abort, connect,
 *        accept, cancel, options, closing the listener, or a drain that
 *        closes everything and checks that every connection ends.
 * One millisecond passes after every operation.
 *
 * Payload bytes are a function of their sequence number and what the
 * application writes a function of its stream offset, so the harness checks
 * every byte the application reads and every byte the stack sends. It also
 * checks that no pending operation is left hanging by close or abort, that
 * no segment needs fragmenting, and that TCP's memory and connection counts
 * stay within their bounds. Everything runs on a virtual clock, so the
 * handling of an input is deterministic. FUZZ_TCP_TRACE=1 writes every
 * segment and call to stderr, to see what an input does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwt.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "net_csum.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "tcp_internal.h"
#include "test_vclock.h"
#include "wire_eth.h"
#include "wire_ip4.h"
#include "wire_tcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_tcp_finish(void);
void fuzz_tcp_drain(void);
void fuzz_tcp_counts(size_t *memory, unsigned *conns, unsigned *setup_failures);

#define US        IP4_ADDR(10, 0, 0, 1)
#define PEER      IP4_ADDR(10, 0, 0, 9)
#define LPORT     80
#define CPORT     81
#define NSLOTS    4
#define NFLOWS    16
#define MAX_OPS   128
#define MAX_BUFS  49152 /* the most a connection's two buffers hold, as the harness opens them */
#define MAX_WRITE 16384
#define MAX_DATA  9000 /* payload of one segment */

static const uint8_t our_mac[ETH_ALEN] = {2, 0, 0, 0, 0, 1};
static const uint8_t peer_mac[ETH_ALEN] = {2, 0, 0, 0, 0, 9};

/* What the peer knows of one connection. */
struct flow {
    bool used;
    uint16_t lport, rport; /* ours, the peer's */
    bool seen;             /* we sent something on it */
    bool iss_known;
    bool ts; /* our last segment had a timestamp */
    uint32_t iss;
    uint32_t snd_max;  /* end of the highest sequence we sent */
    uint32_t ack;      /* our last ACK: the sequence we expect */
    uint32_t peer_nxt; /* the peer's next new sequence number */
    uint32_t peer_ack; /* the peer's last ACK */
    uint32_t seg_max;  /* our largest segment */
    uint32_t our_ts, peer_ts;
    uint64_t used_at;
};

/* An application handle and its pending operations. */
struct slot {
    struct tcp_conn *c;
    lwt_t *rd, *wr, *pend; /* pend: a connect that will fill c */
    uint16_t lport, rport;
    bool autoread, eof;
    uint32_t irs;    /* byte n of the peer's stream is at irs + 1 + n */
    uint32_t wr_off; /* bytes of ours in the stream before the next write */
    uint32_t rd_off, rd_len, wr_len;
    uint8_t rbuf[4096];
    uint8_t wbuf[MAX_WRITE];
};

static struct {
    struct netif nif;
    netif_rx_fn rx;
    void *rx_ctx;
    uint8_t tx[2048]; /* a frame: the MTU and its Ethernet header */
    struct net_stack *stack;
    struct tcp_listener *l;
    struct tcp_options lopts;
    lwt_t *acc;
    bool autoaccept;
    struct slot slot[NSLOTS];
    struct flow flow[NFLOWS];
    uint64_t flow_clock;
    bool arp_wanted;
    uint16_t last_syn_port; /* the source port of our last SYN */
    uint16_t a_port;        /* the peer's port of slot 0 */
    unsigned gen;           /* connections set up, for their variety */
    unsigned setup_failures;
    unsigned inputs;
    bool trace; /* FUZZ_TCP_TRACE=1: every segment and call on stderr */
    uint16_t ip_id;
    unsigned flood; /* SYN flood ports used */
    uint8_t scratch[64];
} f;

static void fz_fail(const char *what, unsigned a, unsigned b)
{
    fprintf(stderr, "fuzz_tcp: input %u: %s (%u, %u)\n", f.inputs, what, a, b);
    abort();
}

/* The peer's bytes by sequence number, ours by stream offset. */
static uint8_t peer_byte(uint32_t seq)
{
    return (uint8_t)((seq * 2654435761u) >> 24);
}

static uint8_t our_byte(uint32_t off)
{
    return (uint8_t)((off * 0x85ebca6bu + 0x3c6ef372u) >> 24);
}

static void trace_seg(const char *dir, uint16_t lport, uint16_t rport, uint8_t flags, uint32_t seq, uint32_t ack,
                      uint16_t win, uint32_t dlen)
{
    if (!f.trace)
        return;
    fprintf(stderr, "%llu ms %s %u:%u %s%s%s%s%s seq=%u ack=%u win=%u len=%u\n",
            (unsigned long long)(sched_now() / SCHED_NS_PER_MS), dir, lport, rport, flags & TCP_SYN ? "S" : "",
            flags & TCP_FIN ? "F" : "", flags & TCP_RST ? "R" : "", flags & TCP_PSH ? "P" : "",
            flags & TCP_ACK ? "." : "", seq, ack, win, dlen);
}

static void trace_app(const char *what, unsigned slot, unsigned arg)
{
    if (f.trace)
        fprintf(stderr, "%llu ms app slot %u: %s %u\n", (unsigned long long)(sched_now() / SCHED_NS_PER_MS), slot, what,
                arg);
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* ---- Flows -------------------------------------------------------------- */

static uint32_t peer_isn(uint16_t lport, uint16_t rport, unsigned gen)
{
    uint32_t x = ((uint32_t)rport << 16 | lport) * 0x9e3779b1u + gen * 0x7f4a7c15u;
    /* Every fourth starts just below the wrap of the sequence space. */
    return gen % 4 == 3 ? 0xffffffffu - x % 5000 : x;
}

/* The application's connections keep their flows. */
static bool flow_pinned(const struct flow *fl)
{
    for (int i = 0; i < NSLOTS; i++)
        if ((f.slot[i].c || f.slot[i].pend) && f.slot[i].lport == fl->lport && f.slot[i].rport == fl->rport)
            return true;
    return false;
}

static struct flow *flow_find(uint16_t lport, uint16_t rport, bool create)
{
    struct flow *victim = NULL;
    for (int i = 0; i < NFLOWS; i++) {
        struct flow *fl = &f.flow[i];
        if (fl->used && fl->lport == lport && fl->rport == rport) {
            fl->used_at = ++f.flow_clock;
            return fl;
        }
        if (!fl->used)
            victim = fl;
        else if ((!victim || (victim->used && fl->used_at < victim->used_at)) && !flow_pinned(fl))
            victim = fl;
    }
    if (!create)
        return NULL;
    uint32_t isn = peer_isn(lport, rport, f.gen);
    *victim = (struct flow){.used = true,
                            .lport = lport,
                            .rport = rport,
                            .ack = isn,
                            .peer_nxt = isn,
                            .peer_ts = isn ^ 0x5a5a5a5au,
                            .used_at = ++f.flow_clock};
    return victim;
}

/* ---- The netif ------------------------------------------------------------ */

/* Learns what a peer would from one frame we sent, and checks it. */
static void capture(const uint8_t *p, size_t len)
{
    if (len < ETH_HDR_LEN)
        return;
    uint16_t type = be16(p + 12);
    p += ETH_HDR_LEN, len -= ETH_HDR_LEN;
    if (type == ETH_TYPE_ARP) {
        if (len >= 28 && be16(p + 6) == 1 && be32(p + 24) == PEER)
            f.arp_wanted = true;
        return;
    }
    if (type != ETH_TYPE_IP4 || len < IP4_HDR_MIN || p[IP4_OFF_PROTO] != IP4_PROTO_TCP)
        return;
    size_t ihl = (size_t)(p[0] & 15) * 4;
    size_t total = be16(p + IP4_OFF_LEN);
    if (be16(p + IP4_OFF_FRAG) & (IP4_FLAG_MF | IP4_FRAG_MASK))
        fz_fail("a TCP segment larger than the MTU", (unsigned)total, f.nif.mtu);
    if (total > len || ihl + TCP_HDR_MIN > total || be32(p + IP4_OFF_DST) != PEER)
        return;
    const uint8_t *t = p + ihl;
    size_t thl = (size_t)(t[TCP_OFF_DOFF] >> 4) * 4;
    if (thl < TCP_HDR_MIN || ihl + thl > total)
        fz_fail("we sent a bad TCP header", (unsigned)thl, (unsigned)total);
    uint8_t flags = t[TCP_OFF_FLAGS];
    uint32_t seq = be32(t + TCP_OFF_SEQ);
    uint32_t dlen = (uint32_t)(total - ihl - thl);
    struct flow *fl = flow_find(be16(t + TCP_OFF_SPORT), be16(t + TCP_OFF_DPORT), true);
    trace_seg("<-", fl->lport, fl->rport, flags, seq, be32(t + TCP_OFF_ACK), be16(t + TCP_OFF_WIN), dlen);
    if (flags & TCP_SYN) {
        fl->iss = seq;
        fl->iss_known = true;
        fl->snd_max = seq + 1;
        if (!(flags & TCP_ACK))
            f.last_syn_port = fl->lport;
    }
    uint32_t end = seq + ((flags & TCP_SYN) ? 1 : 0) + dlen + ((flags & TCP_FIN) ? 1 : 0);
    if (!fl->seen || seq_gt(end, fl->snd_max))
        fl->snd_max = end;
    fl->seen = true;
    if (flags & TCP_ACK)
        fl->ack = be32(t + TCP_OFF_ACK);
    if (dlen > fl->seg_max)
        fl->seg_max = dlen;
    fl->ts = false;
    for (size_t i = TCP_HDR_MIN; i < thl;) {
        uint8_t kind = t[i];
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= thl || t[i + 1] < 2 || i + t[i + 1] > thl)
            fz_fail("we sent malformed options", (unsigned)i, (unsigned)thl);
        if (kind == TCP_OPT_TS && t[i + 1] == 10) {
            fl->ts = true;
            fl->our_ts = be32(t + i + 2);
        }
        i += t[i + 1];
    }
    if (dlen && (flags & TCP_SYN))
        fz_fail("we sent data on a SYN", dlen, flags);
    if (dlen && fl->iss_known) {
        const uint8_t *d = t + thl;
        for (uint32_t i = 0; i < dlen; i++)
            if (d[i] != our_byte(seq + i - fl->iss - 1))
                fz_fail("we sent a byte the application did not write", seq + i - fl->iss - 1, fl->lport);
    }
}

static int fz_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    if (size > n->mtu + NETIF_ETH_HDR)
        return -LWT_EMSGSIZE;
    struct net_buf b;
    net_buf_init(&b, f.tx, size, NULL, NULL);
    struct net_slice s = {&b, 0, (uint32_t)size};
    int len = fill(&s, ctx);
    if (len < 0)
        return len;
    n->stats.tx_frames++;
    n->stats.tx_bytes += (uint64_t)len;
    capture(f.tx, (size_t)len);
    return 0;
}

static lwt_t *fz_wait_writable(struct netif *n)
{
    (void)n;
    return lwt_return(NULL);
}

static void fz_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    (void)n;
    f.rx = rx;
    f.rx_ctx = ctx;
}

static const struct netif_ops fz_ops = {.write = fz_write, .wait_writable = fz_wait_writable, .listen = fz_listen};

static uint8_t *frame_new(struct net_slice *s, size_t len, uint16_t type)
{
    if (net_slice_alloc(s, 0, ETH_HDR_LEN + len) < 0)
        return NULL;
    uint8_t *p = net_slice_data(s);
    memcpy(p, our_mac, ETH_ALEN);
    memcpy(p + ETH_ALEN, peer_mac, ETH_ALEN);
    put16(p + 12, type);
    return p + ETH_HDR_LEN;
}

static void arp_reply(void)
{
    struct net_slice s;
    uint8_t *a = frame_new(&s, 28, ETH_TYPE_ARP);
    if (!a)
        return;
    static const uint8_t head[8] = {0, 1, 8, 0, 6, 4, 0, 2};
    memcpy(a, head, 8);
    memcpy(a + 8, peer_mac, ETH_ALEN);
    put32(a + 14, PEER);
    memcpy(a + 18, our_mac, ETH_ALEN);
    put32(a + 24, US);
    f.rx(f.rx_ctx, s);
}

/* ---- Segments from the peer ------------------------------------------------- */

struct seg {
    struct flow *fl;
    uint8_t flags;
    uint32_t seq, ack;
    uint16_t win;
    uint8_t opt[40];
    size_t optlen;
    int doff_lie; /* added to the data offset */
    uint32_t dlen;
    bool bad_csum;
    bool far; /* a sequence far from the flow's: not where the peer is */
};

static void opt_put(struct seg *s, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n && s->optlen < sizeof s->opt; i++)
        s->opt[s->optlen++] = b[i];
}

static void opt_mss(struct seg *s, uint16_t mss)
{
    uint8_t b[4] = {TCP_OPT_MSS, 4, (uint8_t)(mss >> 8), (uint8_t)mss};
    opt_put(s, b, 4);
}

static void opt_ws(struct seg *s, uint8_t shift)
{
    uint8_t b[4] = {TCP_OPT_NOP, TCP_OPT_WSCALE, 3, shift};
    opt_put(s, b, 4);
}

static void opt_sack_perm(struct seg *s)
{
    uint8_t b[4] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_SACK_PERM, 2};
    opt_put(s, b, 4);
}

static void opt_ts(struct seg *s, uint32_t val, uint32_t ecr)
{
    uint8_t b[12] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_TS, 10};
    put32(b + 4, val);
    put32(b + 8, ecr);
    opt_put(s, b, 12);
}

static void send_seg(struct seg *s)
{
    struct flow *fl = s->fl;
    size_t thl = TCP_HDR_MIN + ((s->optlen + 3) & ~(size_t)3);
    size_t total = IP4_HDR_MIN + thl + s->dlen;
    struct net_slice frame;
    uint8_t *ip = frame_new(&frame, total, ETH_TYPE_IP4);
    if (!ip)
        return;
    memset(ip, 0, IP4_HDR_MIN + thl);
    ip[0] = 0x45;
    put16(ip + IP4_OFF_LEN, (uint32_t)total);
    put16(ip + IP4_OFF_ID, f.ip_id++);
    put16(ip + IP4_OFF_FRAG, IP4_FLAG_DF);
    ip[IP4_OFF_TTL] = 64;
    ip[IP4_OFF_PROTO] = IP4_PROTO_TCP;
    put32(ip + IP4_OFF_SRC, PEER);
    put32(ip + IP4_OFF_DST, US);
    put16(ip + IP4_OFF_CSUM, net_csum_fold(net_csum_add(0, ip, IP4_HDR_MIN)));
    uint8_t *t = ip + IP4_HDR_MIN;
    put16(t + TCP_OFF_SPORT, fl->rport);
    put16(t + TCP_OFF_DPORT, fl->lport);
    put32(t + TCP_OFF_SEQ, s->seq);
    put32(t + TCP_OFF_ACK, s->ack);
    t[TCP_OFF_DOFF] = (uint8_t)(((int)(thl / 4) + s->doff_lie) << 4);
    t[TCP_OFF_FLAGS] = s->flags;
    put16(t + TCP_OFF_WIN, s->win);
    if (s->flags & TCP_URG)
        put16(t + TCP_OFF_URP, s->dlen);
    memcpy(t + TCP_HDR_MIN, s->opt, s->optlen);
    /* With a lying data offset the payload starts where the stack will
     * look for it: the peer's bytes go there, NOPs fill a longer header. */
    size_t seen = (size_t)((int)thl + 4 * s->doff_lie);
    size_t dstart = seen >= TCP_HDR_MIN && seen <= TCP_HDR_MAX && seen <= thl + s->dlen ? seen : thl;
    uint32_t dlen = (uint32_t)(thl + s->dlen - dstart);
    if (dstart > thl)
        memset(t + thl, TCP_OPT_NOP, dstart - thl);
    uint32_t first = s->seq + ((s->flags & TCP_SYN) ? 1 : 0);
    for (uint32_t i = 0; i < dlen; i++)
        t[dstart + i] = peer_byte(first + i);
    uint32_t sum = net_csum_pseudo(PEER, US, IP4_PROTO_TCP, (uint16_t)(thl + s->dlen));
    uint16_t c = net_csum_fold(net_csum_add(sum, t, thl + s->dlen));
    put16(t + TCP_OFF_CSUM, s->bad_csum ? c ^ 0x0100 : c);
    uint32_t end = first + dlen + ((s->flags & TCP_FIN) ? 1 : 0);
    if (!s->far && !(s->flags & TCP_RST) && seq_gt(end, fl->peer_nxt))
        fl->peer_nxt = end;
    if (s->flags & TCP_ACK)
        fl->peer_ack = s->ack;
    trace_seg(s->bad_csum ? "->(bad csum)" : "->", fl->lport, fl->rport, s->flags, s->seq, s->ack, s->win, dlen);
    f.rx(f.rx_ctx, frame);
}

/* ---- The application -------------------------------------------------------- */

static bool settled(lwt_t *p)
{
    return p && lwt_state(p) != LWT_PENDING;
}

static void slot_take(struct slot *s, struct tcp_conn *c)
{
    struct tcp_endpoints e;
    tcp_conn_endpoints(c, &e);
    s->c = c;
    s->lport = e.local_port;
    s->rport = e.remote_port;
    s->irs = ((struct tcp_pcb *)c)->irs;
    s->rd_off = s->wr_off = 0;
    s->rd_len = sizeof s->rbuf;
    s->autoread = true;
    s->eof = false;
}

/* Where an accepted connection goes: slot 0 if it is the one being set
 * up, else a free slot for the input's, else it is closed at once. */
static void route_accepted(struct tcp_conn *c)
{
    struct tcp_endpoints e;
    tcp_conn_endpoints(c, &e);
    if (e.remote_port == f.a_port && !f.slot[0].c) {
        slot_take(&f.slot[0], c);
        return;
    }
    for (int i = 2; i < NSLOTS; i++) {
        if (!f.slot[i].c && !f.slot[i].pend) {
            slot_take(&f.slot[i], c);
            return;
        }
    }
    tcp_close(c);
}

/* Collects what settled; true if anything did. */
static bool poll_app(void)
{
    bool any = false;
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *s = &f.slot[i];
        if (settled(s->pend)) {
            if (lwt_state(s->pend) == LWT_FULFILLED)
                slot_take(s, lwt_value(s->pend));
            lwt_unref(s->pend);
            s->pend = NULL;
            any = true;
        }
        if (settled(s->rd)) {
            if (lwt_state(s->rd) == LWT_FULFILLED) {
                uint32_t n = (uint32_t)(intptr_t)lwt_value(s->rd);
                if (n > s->rd_len)
                    fz_fail("a read returned more than asked", n, s->rd_len);
                for (uint32_t k = 0; k < n; k++)
                    if (s->rbuf[k] != peer_byte(s->irs + 1 + s->rd_off + k))
                        fz_fail("the application read a byte the peer did not send", s->rd_off + k, s->lport);
                trace_app("read returned", (unsigned)(s - f.slot), n);
                s->rd_off += n;
                s->eof = n == 0 && s->rd_len; /* a read of 0 bytes returns 0 */
            } else {
                s->eof = true; /* an error: reading is over */
            }
            lwt_unref(s->rd);
            s->rd = NULL;
            any = true;
        }
        if (settled(s->wr)) {
            if (lwt_state(s->wr) == LWT_FULFILLED) {
                if ((uint32_t)(intptr_t)lwt_value(s->wr) != s->wr_len)
                    fz_fail("a write returned a wrong count", (unsigned)(intptr_t)lwt_value(s->wr), s->wr_len);
                s->wr_off += s->wr_len;
            } else if (s->c) {
                /* Part of it may be queued: the stream goes on from there. */
                struct tcp_pcb *p = (struct tcp_pcb *)s->c;
                s->wr_off = p->snd_una - p->iss - 1 + p->sndbuf.len;
            }
            lwt_unref(s->wr);
            s->wr = NULL;
            any = true;
        }
        if (s->c && s->autoread && !s->rd && !s->eof) {
            s->rd_len = sizeof s->rbuf;
            s->rd = tcp_read(s->c, s->rbuf, s->rd_len);
            any = any || settled(s->rd);
        }
    }
    if (settled(f.acc)) {
        if (lwt_state(f.acc) == LWT_FULFILLED)
            route_accepted(lwt_value(f.acc));
        lwt_unref(f.acc);
        f.acc = NULL;
        any = true;
    }
    if (!f.acc && f.autoaccept && f.l) {
        f.acc = tcp_accept(f.l);
        any = any || settled(f.acc);
    }
    return any;
}

/* Runs what is due now: deferred callbacks, the application, ARP. */
static void settle(void)
{
    for (int round = 0; round < 64; round++) {
        lwt_run_deferred(SIZE_MAX);
        bool any = poll_app();
        if (f.arp_wanted) {
            f.arp_wanted = false;
            arp_reply();
            any = true;
        }
        if (!any && !lwt_has_deferred())
            return;
    }
}

static void run_for(uint64_t ns)
{
    sched_run(sched_sleep(ns), NULL);
    settle();
}

/* Closes or aborts a slot's handle; its pending operations must settle. */
static void slot_release(struct slot *s, bool abort_it)
{
    settle();
    if (s->pend) {
        lwt_cancel(s->pend);
        lwt_run_deferred(SIZE_MAX);
        if (!settled(s->pend))
            fz_fail("a cancelled connect is still pending", s->lport, 0);
        if (lwt_state(s->pend) == LWT_FULFILLED)
            tcp_abort(lwt_value(s->pend));
        lwt_unref(s->pend);
        s->pend = NULL;
    }
    if (s->c) {
        if (abort_it)
            tcp_abort(s->c);
        else
            tcp_close(s->c);
        s->c = NULL;
        lwt_run_deferred(SIZE_MAX);
        if ((s->rd && !settled(s->rd)) || (s->wr && !settled(s->wr)))
            fz_fail("close or abort left an operation pending", s->lport, abort_it);
        lwt_unref(s->rd);
        lwt_unref(s->wr);
        s->rd = s->wr = NULL;
    }
    settle();
}

/* ---- Setting up the fixed connections ---------------------------------------- */

/* The peer's SYN options, varied by connection. */
static void syn_options(struct seg *s, unsigned gen)
{
    switch (gen % 4) {
    case 0:
        opt_mss(s, 1460);
        opt_sack_perm(s);
        opt_ts(s, s->fl->peer_ts, s->flags & TCP_ACK ? s->fl->our_ts : 0);
        opt_ws(s, 7);
        break;
    case 1:
        opt_mss(s, 536);
        break;
    case 2:
        opt_mss(s, 1460);
        opt_sack_perm(s);
        opt_ws(s, 2);
        break;
    default:
        opt_ts(s, s->fl->peer_ts, s->flags & TCP_ACK ? s->fl->our_ts : 0);
        opt_ws(s, 0);
        break;
    }
}

static void ack_with_ts(struct seg *s)
{
    if (s->fl->ts)
        opt_ts(s, s->fl->peer_ts, s->fl->our_ts);
}

static bool port_in_use(uint16_t rport)
{
    return tcp__pcb_find(f.stack, US, LPORT, PEER, rport) != NULL;
}

/* Slot 0: the peer connects to our listener. */
static void setup_accepted(void)
{
    if (!f.l)
        return;
    unsigned gen = ++f.gen;
    uint16_t port = f.a_port ? f.a_port : 40000;
    for (int i = 0; i < 2000 && (port_in_use(port) || port == f.a_port); i++)
        port = (uint16_t)(40000 + (port - 40000 + 1) % 2000);
    f.a_port = port;
    struct flow *fl = flow_find(LPORT, port, true);
    uint32_t isn = peer_isn(LPORT, port, gen);
    *fl = (struct flow){.used = true,
                        .lport = LPORT,
                        .rport = port,
                        .ack = isn,
                        .peer_nxt = isn,
                        .peer_ts = isn ^ 0x5a5a5a5au,
                        .used_at = fl->used_at};
    if (!f.acc)
        f.acc = tcp_accept(f.l);
    struct seg s = {.fl = fl, .flags = TCP_SYN, .seq = isn, .win = 0xffff};
    syn_options(&s, gen);
    send_seg(&s);
    settle();
    if (!fl->seen || !fl->iss_known)
        return;
    s = (struct seg){.fl = fl, .flags = TCP_ACK, .seq = fl->peer_nxt, .ack = fl->snd_max, .win = 0xffff};
    ack_with_ts(&s);
    send_seg(&s);
    /* Queued connections come out of the accept first. */
    for (int i = 0; i < 8 && !f.slot[0].c; i++) {
        settle();
        if (!f.acc)
            f.acc = tcp_accept(f.l);
    }
}

/* Slot 1: we connect to the peer's port 81. */
static void setup_connected(void)
{
    unsigned gen = ++f.gen;
    struct slot *s1 = &f.slot[1];
    struct tcp_options o = {.sndbuf = 16384, .rcvbuf = 4096 << (gen % 3), .nodelay = gen % 2};
    f.last_syn_port = 0;
    s1->pend = tcp_connect(f.stack, PEER, CPORT, &o);
    settle();
    if (!f.last_syn_port)
        return;
    s1->lport = f.last_syn_port;
    s1->rport = CPORT;
    struct flow *fl = flow_find(s1->lport, CPORT, true);
    uint32_t isn = peer_isn(s1->lport, CPORT, gen);
    fl->ack = fl->peer_nxt = isn;
    fl->peer_ts = isn ^ 0x5a5a5a5au;
    struct seg s = {.fl = fl, .flags = TCP_SYN | TCP_ACK, .seq = isn, .ack = fl->snd_max, .win = 0xffff};
    syn_options(&s, gen + 1);
    send_seg(&s);
    settle();
}

static void start(void)
{
    test_vclock_install(1);
    const char *trace = getenv("FUZZ_TCP_TRACE");
    f.trace = trace && *trace == '1';
    f.nif = (struct netif){.ops = &fz_ops, .mtu = 1500, .name = "fuzz"};
    memcpy(f.nif.mac, our_mac, ETH_ALEN);
    net_stack_new(&f.nif, &f.stack);
    struct ip4_config c = {US, 0xffffff00, IP4_ADDR(10, 0, 0, 254)};
    net_stack_configure(f.stack, &c);
    f.lopts = (struct tcp_options){.sndbuf = 8192, .rcvbuf = 8192, .keepidle_s = 20, .keepintvl_s = 5, .keepcnt = 3};
    tcp_listen(f.stack, LPORT, 4, &f.lopts, &f.l);
    f.autoaccept = true;
    arp_reply();
    settle();
}

/* Replaces the fixed connections that are gone or no longer established. */
static void prepare(void)
{
    arp_reply(); /* keeps the cache fresh: ARP is not what is fuzzed */
    settle();
    for (int i = 0; i < 2; i++) {
        struct slot *s = &f.slot[i];
        if (s->c && ((struct tcp_pcb *)s->c)->state != TCP_ESTABLISHED)
            slot_release(s, false);
        if (!s->c && s->pend)
            slot_release(s, true);
        if (!s->c) {
            if (i == 0)
                setup_accepted();
            else
                setup_connected();
            if (!s->c) {
                f.setup_failures++;
                slot_release(s, true);
            }
        }
    }
}

/* ---- Bounds --------------------------------------------------------------- */

static void check_bounds(void)
{
    struct tcp_state_all *t = tcp__all(f.stack);
    const struct tcp_stats *st = tcp_stats(f.stack);
    if (st->conns > TCP_MAX_CONNS || st->time_wait > TCP_MAX_TIME_WAIT + NSLOTS)
        fz_fail("too many connections", st->conns, st->time_wait);
    unsigned n = 0, tw = 0;
    for (struct tcp_pcb *p = t->pcbs; p; p = p->next) {
        n++;
        tw += p->state == TCP_TIME_WAIT;
        if (p->sndbuf.len > p->sndbuf.cap || p->rcvbuf.len > p->rcvbuf.cap)
            fz_fail("a ring holds more than its capacity", p->sndbuf.len, p->rcvbuf.len);
        if (p->ooo_count > TCP_OOO_MAX || p->nscore > TCP_SACK_SCORE_MAX)
            fz_fail("an unbounded queue", p->ooo_count, p->nscore);
        unsigned k = 0;
        for (struct tcp_ooo *o = p->ooo; o; o = o->next) {
            k++;
            uint32_t off = o->seq - p->rcv_nxt;
            if (seq_gt(o->seq, p->rcv_nxt) && off + o->len > tcp_ring_space(&p->rcvbuf))
                fz_fail("out-of-order bytes past the receive buffer", off + o->len, tcp_ring_space(&p->rcvbuf));
        }
        if (k != p->ooo_count)
            fz_fail("the out-of-order count is off", k, p->ooo_count);
        if (p->state > TCP_SYN_SENT && (seq_gt(p->snd_una, p->snd_nxt) || seq_gt(p->snd_nxt, p->snd_max)))
            fz_fail("send sequence out of order", p->snd_nxt - p->snd_una, p->snd_max - p->snd_nxt);
    }
    if (n != st->conns || tw != st->time_wait)
        fz_fail("the connection counts are off", n, st->conns);
    /* Promises: the harness's few, and per connection a timer and the
     * application's waits; buffers: ARP's queue and the reassembly. */
    if (lwt_live_count() > 64 + 8 * (size_t)n || net_buf_live_count() > NET_ARP_QUEUE_MAX + 16)
        fz_fail("promises or buffers pile up", (unsigned)lwt_live_count(), (unsigned)net_buf_live_count());
    size_t per = sizeof(struct tcp_pcb) + MAX_BUFS + TCP_OOO_MAX * sizeof(struct tcp_ooo);
    if (tcp_memory_in_use(f.stack) > n * per + sizeof(struct tcp_listener))
        fz_fail("TCP memory beyond what its connections can hold", (unsigned)tcp_memory_in_use(f.stack), n);
}

/* ---- Reading the input -------------------------------------------------------- */

struct in {
    const uint8_t *p;
    size_t n, i;
};

static uint8_t u8(struct in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

static uint16_t u16(struct in *in)
{
    uint16_t hi = u8(in);
    return (uint16_t)(hi << 8 | u8(in));
}

/* The flow a segment goes to. */
static struct flow *pick_flow(uint8_t b)
{
    unsigned k = b >> 2;
    switch (b & 3) {
    case 0: {
        struct slot *s = &f.slot[k % NSLOTS];
        if (!s->lport)
            s = &f.slot[0];
        if (s->lport)
            return flow_find(s->lport, s->rport, true);
        return flow_find(LPORT, 45000, true);
    }
    case 1:
        if (f.flow[k % NFLOWS].used)
            return &f.flow[k % NFLOWS];
        return flow_find(LPORT, f.a_port ? f.a_port : 40000, true);
    case 2:
        return flow_find(LPORT, (uint16_t)(45000 + k % 16), true); /* new peers for the listener */
    default:
        return flow_find((uint16_t)(8000 + k % 4), 45100, true); /* ports nobody listens on */
    }
}

static uint32_t payload_len(uint8_t b)
{
    if (b < 128)
        return b;
    if (b < 192)
        return (uint32_t)(b - 127) * 32;
    return (uint32_t)(b - 191) * 141 < MAX_DATA ? (uint32_t)(b - 191) * 141 : MAX_DATA;
}

/* Options the input asks for, by a mask. */
static void input_options(struct in *in, struct seg *s)
{
    uint8_t m = u8(in);
    struct flow *fl = s->fl;
    if (m & 0x40)
        opt_put(s, (const uint8_t[]){TCP_OPT_NOP}, 1);
    if (m & 0x01)
        opt_mss(s, u16(in));
    if (m & 0x02)
        opt_ws(s, u8(in));
    if (m & 0x04)
        opt_sack_perm(s);
    if (m & 0x08) {
        int8_t d = (int8_t)u8(in);
        uint32_t val = fl->peer_ts + (uint32_t)(int32_t)d;
        if ((int32_t)(val - fl->peer_ts) > 0)
            fl->peer_ts = val;
        opt_ts(s, val, (d & 1) ? 0 : fl->our_ts);
    }
    if (m & 0x10) {
        uint8_t b = u8(in);
        unsigned nb = (b & 3) + 1;
        uint8_t o[4 + 32] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_SACK, (uint8_t)(2 + 8 * nb)};
        for (unsigned k = 0; k < nb; k++) {
            uint32_t left = s->ack + (uint32_t)u8(in) * 32;
            put32(o + 4 + 8 * k, left);
            put32(o + 8 + 8 * k, left + ((uint32_t)u8(in) + 1) * 32);
        }
        opt_put(s, o, 4 + 8 * nb);
    }
    if (m & 0x20) {
        uint8_t n = u8(in) % 16;
        for (uint8_t k = 0; k < n; k++) {
            uint8_t b = u8(in);
            opt_put(s, &b, 1);
        }
    }
    if (m & 0x80)
        s->doff_lie = (u8(in) % 3) - 1;
}

/* op bits 3..7: base the sequence on our last ACK rather than the peer's
 * next; far sequence; far ACK; bad checksum; base the ACK on the peer's
 * last rather than on all we sent (duplicate and partial ACKs). */
static void op_segment(struct in *in, uint8_t op)
{
    struct seg s = {.fl = pick_flow(u8(in))};
    struct flow *fl = s.fl;
    s.flags = u8(in);
    int32_t seqoff = (int16_t)u16(in), ackoff = (int16_t)u16(in);
    uint32_t base = (op & 0x08) ? fl->ack : fl->peer_nxt;
    s.far = op & 0x10;
    s.seq = base + (uint32_t)(s.far ? seqoff * 65536 : seqoff);
    uint32_t abase = (op & 0x80) ? fl->peer_ack : fl->snd_max;
    s.ack = abase + (uint32_t)((op & 0x20) ? ackoff * 65536 : ackoff);
    s.win = u16(in);
    s.bad_csum = op & 0x40;
    input_options(in, &s);
    s.dlen = payload_len(u8(in));
    send_seg(&s);
}

/* In-order data the way a well-behaved peer sends it (op 0x10: each
 * segment one byte past the last, leaving holes); or, with a length byte of
 * 0, duplicate ACKs, those of a peer that lost our segment at the ACK and
 * got the ones after it (b 0x40: with SACK blocks for them, and a second
 * hole). op 0x08: the application runs between segments. */
static void op_burst(struct in *in, uint8_t op)
{
    struct flow *fl = pick_flow(u8(in));
    uint8_t b = u8(in), lb = u8(in);
    unsigned n = (b & 15) + 1;
    uint32_t len = lb ? ((uint32_t)lb + 1) * 8 : 0;
    uint16_t win = (b & 0x10) ? 0 : (b & 0x20) ? 512 : 0xffff;
    uint32_t seg = fl->seg_max ? fl->seg_max : 536;
    for (unsigned k = 0; k < n; k++) {
        struct seg s = {.fl = fl, .flags = TCP_ACK, .win = win};
        s.seq = fl->peer_nxt + ((op & 0x10) && lb ? 1 : 0);
        s.ack = lb ? fl->snd_max : fl->peer_ack;
        ack_with_ts(&s);
        if (lb && (b & 0x40) && k == n - 1)
            s.flags |= TCP_FIN;
        if (!lb && (b & 0x40)) {
            /* Lost: the segment at the ACK and the second after it. */
            uint8_t o[20] = {TCP_OPT_NOP, TCP_OPT_NOP, TCP_OPT_SACK, (uint8_t)(k ? 18 : 10)};
            put32(o + 4, s.ack + seg * 3);
            put32(o + 8, s.ack + seg * (k + 4));
            put32(o + 12, s.ack + seg);
            put32(o + 16, s.ack + seg * 2);
            opt_put(&s, o, k ? 20 : 12);
        }
        s.dlen = len;
        send_seg(&s);
        if (op & 0x08)
            settle();
    }
}

/* A new peer's whole handshake with the listener. */
static void op_handshake(struct in *in)
{
    uint8_t b = u8(in);
    struct flow *fl = flow_find(LPORT, (uint16_t)(45000 + b % 64), true);
    struct seg s = {.fl = fl, .flags = TCP_SYN, .seq = fl->peer_nxt, .win = 0xffff};
    syn_options(&s, b >> 4);
    send_seg(&s);
    settle();
    s = (struct seg){.fl = fl, .flags = TCP_ACK, .seq = fl->peer_nxt, .ack = fl->snd_max, .win = 0xffff};
    ack_with_ts(&s);
    send_seg(&s);
}

/* SYNs from many peers that never finish: the listener's SYN queue. */
static void op_flood(struct in *in)
{
    unsigned n = u8(in) + 1u;
    for (unsigned i = 0; i < n; i++) {
        uint16_t port = (uint16_t)(46000 + f.flood++ % 512);
        uint32_t isn = peer_isn(LPORT, port, 0);
        struct flow fl = {.lport = LPORT, .rport = port, .peer_nxt = isn};
        struct seg s = {.fl = &fl, .flags = TCP_SYN, .seq = isn, .win = 0xffff};
        opt_mss(&s, 1460);
        send_seg(&s);
    }
}

static void op_clock(struct in *in)
{
    uint8_t b = u8(in);
    uint64_t ms = b < 100 ? b : b < 200 ? (uint64_t)(b - 99) * 200 : (uint64_t)(b - 199) * 10000;
    run_for(ms * SCHED_NS_PER_MS);
}

static uint32_t write_len(uint8_t b)
{
    return b < 128 ? (uint32_t)b + 1 : (uint32_t)(b - 127) * (MAX_WRITE / 128);
}

static void op_app(struct in *in)
{
    uint8_t sb = u8(in), action = u8(in), arg = u8(in);
    struct slot *s = &f.slot[sb % NSLOTS];
    static const char *const names[] = {"read",   "write",   "shutdown",  "close",    "abort",    "connect", "accept",
                                        "cancel", "nodelay", "keepalive", "autoread", "relisten", "drain"};
    trace_app(names[action % 13], sb % NSLOTS, arg);
    switch (action % 13) {
    case 0: /* read */
        if (!s->c)
            break;
        if (s->rd && !settled(s->rd)) {
            lwt_t *p = tcp_read(s->c, f.scratch, sizeof f.scratch);
            if (lwt_error(p) != -LWT_EBUSY)
                fz_fail("a second read was not refused", (unsigned)-lwt_error(p), 0);
            lwt_unref(p);
            break;
        }
        if (s->rd)
            break;                                             /* settled, collected at the next settle */
        s->rd_len = arg == 255 ? 0 : ((uint32_t)arg + 1) * 16; /* 0: must return at once */
        s->rd = tcp_read(s->c, s->rbuf, s->rd_len);
        break;
    case 1: /* write */
        if (!s->c)
            break;
        if (s->wr && !settled(s->wr)) {
            lwt_t *p = tcp_write(s->c, f.scratch, sizeof f.scratch);
            if (lwt_error(p) != -LWT_EBUSY)
                fz_fail("a second write was not refused", (unsigned)-lwt_error(p), 0);
            lwt_unref(p);
            break;
        }
        if (s->wr)
            break; /* settled, collected at the next settle */
        s->wr_len = write_len(arg);
        for (uint32_t k = 0; k < s->wr_len; k++)
            s->wbuf[k] = our_byte(s->wr_off + k);
        s->wr = tcp_write(s->c, s->wbuf, s->wr_len);
        break;
    case 2:
        if (s->c)
            lwt_unref(tcp_shutdown(s->c));
        break;
    case 3:
        slot_release(s, false);
        break;
    case 4:
        slot_release(s, true);
        break;
    case 5: /* connect, from the input's slots */
        s = &f.slot[2 + sb % 2];
        if (s->c || s->pend)
            break;
        {
            struct tcp_options o = {.sndbuf = 4096u << (arg & 3),
                                    .rcvbuf = 4096u << ((arg >> 2) & 1),
                                    .nodelay = arg & 0x10,
                                    .keepalive = arg & 0x20,
                                    .keepidle_s = 10,
                                    .keepintvl_s = 3,
                                    .keepcnt = 2};
            f.last_syn_port = 0;
            s->pend = tcp_connect(f.stack, PEER, (uint16_t)(CPORT + (arg >> 6)), &o);
            settle();
            s->lport = f.last_syn_port;
            s->rport = (uint16_t)(CPORT + (arg >> 6));
        }
        break;
    case 6: /* accept: one now, and whether to keep one pending */
        f.autoaccept = arg & 1;
        if (!f.l)
            break;
        if (f.acc && !settled(f.acc)) {
            lwt_t *p = tcp_accept(f.l);
            if (lwt_error(p) != -LWT_EBUSY)
                fz_fail("a second accept was not refused", (unsigned)-lwt_error(p), 0);
            lwt_unref(p);
        } else if (!f.acc) {
            f.acc = tcp_accept(f.l);
        }
        break;
    case 7: /* cancel */
        if (arg & 1 && s->rd)
            lwt_cancel(s->rd);
        if (arg & 2 && s->wr)
            lwt_cancel(s->wr);
        if (arg & 4 && f.acc)
            lwt_cancel(f.acc);
        if (arg & 8 && s->pend)
            lwt_cancel(s->pend);
        break;
    case 8:
        if (s->c)
            tcp_set_nodelay(s->c, arg & 1);
        break;
    case 9:
        if (s->c)
            tcp_set_keepalive(s->c, arg & 1);
        break;
    case 10:
        s->autoread = arg & 1;
        break;
    case 11: /* the listener goes and comes back */
        if (f.acc) {
            lwt_cancel(f.acc);
            lwt_run_deferred(SIZE_MAX);
        }
        settle();
        tcp_listener_close(f.l);
        f.l = NULL;
        settle();
        f.lopts.rcvbuf = 4096u << (arg & 1);
        f.lopts.sndbuf = 4096u << ((arg >> 1) & 1);
        tcp_listen(f.stack, LPORT, 1 + (arg >> 2) % 4, &f.lopts, &f.l);
        settle();
        break;
    default:
        fuzz_tcp_drain();
        break;
    }
    settle();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!f.stack)
        start();
    f.inputs++;
    prepare();
    struct in in = {data, size, 0};
    for (int ops = 0; ops < MAX_OPS && in.i < in.n; ops++) {
        uint8_t op = u8(&in);
        switch (op & 7) {
        case 4:
            op_burst(&in, op);
            break;
        case 5:
            if ((op & 0x18) == 0x18)
                op_flood(&in);
            else if (op & 0x08)
                op_handshake(&in);
            else
                op_clock(&in);
            break;
        case 6:
        case 7:
            op_app(&in);
            break;
        default:
            op_segment(&in, op);
            break;
        }
        run_for(SCHED_NS_PER_MS);
        check_bounds();
    }
    return 0;
}

/* ---- The end ------------------------------------------------------------------ */

static void dump_pcbs(void)
{
    for (struct tcp_pcb *p = tcp__all(f.stack)->pcbs; p; p = p->next)
        fprintf(stderr,
                "  %u->%u %s handle=%d snd_una=%u snd_nxt=%u snd_max=%u snd_wnd=%u sndbuf=%u mss=%u rto_at=%llu "
                "persist_at=%llu wait_at=%llu keep_at=%llu\n",
                p->local_port, p->remote_port, tcp__state_name(p->state), p->has_handle, p->snd_una - p->iss,
                p->snd_nxt - p->iss, p->snd_max - p->iss, p->snd_wnd, p->sndbuf.len, p->mss,
                (unsigned long long)p->rto_at, (unsigned long long)p->persist_at, (unsigned long long)p->wait_at,
                (unsigned long long)p->keep_at);
}

/* Closes every handle and the listener and lets time pass with a silent
 * peer: every connection must end on its own, its memory returned. Then
 * sets up again. */
void fuzz_tcp_drain(void)
{
    if (!f.stack)
        return;
    settle();
    for (int i = 0; i < NSLOTS; i++)
        slot_release(&f.slot[i], false);
    if (f.acc) {
        lwt_cancel(f.acc);
        lwt_run_deferred(SIZE_MAX);
    }
    settle();
    bool autoaccept = f.autoaccept;
    f.autoaccept = false;
    tcp_listener_close(f.l);
    f.l = NULL;
    settle();
    for (int i = 0; i < 6 * 60 && tcp_stats(f.stack)->conns; i++)
        run_for(60 * SCHED_NS_PER_S);
    if (tcp_stats(f.stack)->conns || tcp_memory_in_use(f.stack)) {
        fprintf(stderr, "fuzz_tcp: connections outlive a silent peer by 6 hours:\n");
        dump_pcbs();
        fz_fail("connections never end", tcp_stats(f.stack)->conns, (unsigned)tcp_memory_in_use(f.stack));
    }
    f.autoaccept = autoaccept;
    tcp_listen(f.stack, LPORT, 4, &f.lopts, &f.l);
    settle();
}

void fuzz_tcp_counts(size_t *memory, unsigned *conns, unsigned *setup_failures)
{
    *memory = f.stack ? tcp_memory_in_use(f.stack) : 0;
    *conns = f.stack ? tcp_stats(f.stack)->conns : 0;
    *setup_failures = f.setup_failures;
}

/* Used by the replay driver to end with nothing alive, and to run each
 * saved input on a fresh stack. */
void fuzz_tcp_finish(void)
{
    if (!f.stack)
        return;
    for (int i = 0; i < NSLOTS; i++)
        slot_release(&f.slot[i], true);
    if (f.acc) {
        lwt_cancel(f.acc);
        lwt_run_deferred(SIZE_MAX);
        if (lwt_state(f.acc) == LWT_FULFILLED)
            tcp_abort(lwt_value(f.acc));
        lwt_unref(f.acc);
        f.acc = NULL;
    }
    net_stack_free(f.stack);
    lwt_run_deferred(SIZE_MAX);
    test_vclock_uninstall();
    unsigned failures = f.setup_failures;
    memset(&f, 0, sizeof f); /* the next input starts as in a new process */
    f.setup_failures = failures;
}
