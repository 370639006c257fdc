/* TCP output: building segments (header, options, checksum) and deciding
 * what may be sent now: the peer's window, the congestion window, Nagle,
 * and during loss recovery the holes the peer's SACK blocks point at. */
#include "lwt_errno.h"
#include "net_csum.h"
#include "tcp_internal.h"

uint32_t tcp__now_ms(void)
{
    return (uint32_t)(sched_now() / SCHED_NS_PER_MS);
}

uint32_t tcp__rcv_wnd(const struct tcp_pcb *p)
{
    /* Before the handshake completes the buffer is not allocated yet (a
     * half-open connection costs no buffers): offer what it will have. */
    uint32_t space = p->rcvbuf.data ? tcp_ring_space(&p->rcvbuf) : p->opts.rcvbuf;
    uint32_t cap = p->rcvbuf.data ? p->rcvbuf.cap : p->opts.rcvbuf;
    uint32_t edge = seq_gt(p->rcv_adv, p->rcv_nxt) ? p->rcv_adv - p->rcv_nxt : 0;
    /* Receiver-side silly window avoidance (RFC 9293 §3.8.6.2.2): move the
     * right edge only by a full segment or half the buffer. */
    uint32_t step = p->mss < cap / 2 ? p->mss : cap / 2;
    if (space < edge + step)
        space = edge <= space ? edge : space;
    uint32_t max = (uint32_t)0xffff << p->rcv_wscale;
    return space < max ? space : max;
}

/* Sums parts that follow each other in the segment; a part may have an odd
 * length (a ring piece), which shifts the next one by a byte. */
static uint32_t csum_cont(uint32_t sum, const uint8_t *d, size_t len, bool *odd)
{
    if (*odd && len) {
        sum += d[0];
        d++, len--;
        *odd = false;
    }
    sum = net_csum_add(sum, d, len & ~(size_t)1);
    if (len & 1) {
        sum += (uint32_t)d[len - 1] << 8;
        *odd = true;
    }
    return sum;
}

/* SACK blocks for our out-of-order data, most recent first is ideal; the
 * lowest ones are a fair approximation and keep this simple. */
static uint8_t fill_sack(const struct tcp_pcb *p, struct tcp_sack_block *b)
{
    /* RFC 2018 §4: the first block holds the latest segment received, the
     * others repeat the most recently reported ones: newest first. */
    uint8_t n = 0;
    uint32_t below = UINT32_MAX; /* stamps are unique: pick them in falling order */
    while (n < TCP_MAX_SACK) {
        const struct tcp_ooo *best = NULL;
        for (const struct tcp_ooo *o = p->ooo; o; o = o->next)
            if (o->stamp < below && (!best || o->stamp > best->stamp))
                best = o;
        if (!best)
            break;
        b[n++] = (struct tcp_sack_block){best->seq, best->seq + best->len};
        below = best->stamp;
    }
    return n;
}

uint32_t tcp__seg_max(const struct tcp_pcb *p)
{
    /* SACK blocks ride in the options of every segment while data is out
     * of order here; the payload gives up their room so a segment never
     * outgrows the MTU. */
    if (!p->sack_ok || !p->ooo)
        return p->mss;
    uint32_t blocks = 0;
    for (const struct tcp_ooo *o = p->ooo; o && blocks < TCP_MAX_SACK; o = o->next)
        blocks++;
    uint32_t room = p->ts_ok ? 3 : 4;
    uint32_t bytes = 4 + 8 * (blocks < room ? blocks : room);
    return p->mss > bytes ? p->mss - bytes : 1;
}

/* The most new data one send may carry: seg_max, or with TSO as many
 * whole segments of seg_max as the netif takes in one packet (the bound
 * counts the largest TCP header). */
static uint32_t new_data_max(const struct tcp_pcb *p, uint32_t seg_max)
{
    const struct netif *n = p->stack->nif;
    uint32_t max = n->tso_max < IP4_MAX_PACKET ? n->tso_max : IP4_MAX_PACKET;
    if (!n->tx_csum || max < IP4_HDR_MIN + TCP_HDR_MAX + 2 * seg_max)
        return seg_max;
    return (max - IP4_HDR_MIN - TCP_HDR_MAX) / seg_max * seg_max;
}

/* Sends one segment; with gso set, data of more than gso bytes that the
 * netif cuts into segments of gso bytes (TSO). */
static void send_segment(struct tcp_pcb *p, uint32_t seq, uint8_t flags, const uint8_t *d[2], const uint32_t n[2],
                         uint32_t gso)
{
    struct tcp_hdr h = {.sport = p->local_port, .dport = p->remote_port, .seq = seq, .flags = flags};
    uint32_t wnd = tcp__rcv_wnd(p);
    if (flags & TCP_SYN) {
        h.win = (uint16_t)(wnd > 0xffff ? 0xffff : wnd);
        h.has_mss = true;
        h.mss = (uint16_t)(p->stack->nif->mtu - IP4_HDR_MIN - TCP_HDR_MIN);
        bool synack = flags & TCP_ACK;
        h.has_wscale = !synack || p->ws_ok;
        h.wscale = p->rcv_wscale;
        h.sack_perm = !synack || p->sack_ok;
        h.has_ts = !synack || p->ts_ok;
    } else {
        h.win = (uint16_t)(wnd >> p->rcv_wscale);
        h.has_ts = p->ts_ok;
        if (p->sack_ok && !(flags & TCP_RST))
            h.nsack = fill_sack(p, h.sack);
    }
    if (flags & TCP_ACK)
        h.ack = p->rcv_nxt;
    h.tsval = tcp__now_ms();
    h.tsecr = p->ts_recent;
    uint8_t hdr[TCP_HDR_MAX];
    size_t hlen = tcp_write_hdr(hdr, &h);
    uint32_t dlen = n[0] + n[1];
    uint32_t sum = net_csum_pseudo(p->local_addr, p->remote_addr, IP4_PROTO_TCP, (uint16_t)(hlen + dlen));
    uint16_t c;
    struct netif_tx_offload off = {0};
    if (p->stack->nif->tx_csum) {
        /* The netif sums header and data (each segment's, with TSO) onto
         * the pseudo-header's sum, which goes in the field uncomplemented. */
        c = (uint16_t)~net_csum_fold(sum);
        off.csum_partial = true;
        off.csum_offset = TCP_OFF_CSUM;
        if (gso && dlen > gso) {
            off.gso_size = (uint16_t)gso;
            off.hdr_len = (uint16_t)hlen;
        }
    } else {
        bool odd = false;
        sum = csum_cont(sum, hdr, hlen, &odd);
        sum = csum_cont(sum, d[0], n[0], &odd);
        sum = csum_cont(sum, d[1], n[1], &odd);
        c = net_csum_fold(sum);
    }
    hdr[TCP_OFF_CSUM] = (uint8_t)(c >> 8);
    hdr[TCP_OFF_CSUM + 1] = (uint8_t)c;
    struct ip4_payload pl = {{hdr, d[0], d[1]}, {hlen, n[0], n[1]}, off.csum_partial ? &off : NULL};
    ip4__output(p->stack, p->local_addr, p->remote_addr, IP4_PROTO_TCP, &pl);
    struct tcp_state_all *t = tcp__all(p->stack);
    /* A TSO packet counts as the segments it becomes on the wire. */
    t->stats.segs_out += off.gso_size ? (dlen + off.gso_size - 1) / off.gso_size : 1;
    if (flags & TCP_RST)
        t->stats.rst_sent++;
    if (flags & TCP_ACK) {
        p->last_ack_sent = p->rcv_nxt;
        uint32_t edge = p->rcv_nxt + ((flags & TCP_SYN) ? h.win : (uint32_t)h.win << p->rcv_wscale);
        if (seq_gt(edge, p->rcv_adv))
            p->rcv_adv = edge;
        p->segs_since_ack = 0;
        p->delack_at = 0;
        p->ack_now = false;
    }
}

static const uint8_t *const no_data[2] = {NULL, NULL};
static const uint32_t no_len[2] = {0, 0};

void tcp__send_data(struct tcp_pcb *p, uint32_t seq, uint32_t len, uint8_t flags)
{
    const uint8_t *d[2];
    uint32_t n[2];
    tcp_ring_pieces(&p->sndbuf, seq - p->snd_una, len, d, n);
    /* More than a segment's worth only comes from tcp__output, with TSO. */
    uint32_t seg_max = tcp__seg_max(p);
    send_segment(p, seq, flags, d, n, len > seg_max ? seg_max : 0);
}

/* Pure ACKs and RSTs carry the highest sequence number sent, not snd_nxt:
 * after a timeout snd_nxt goes back to resend, and a segment numbered
 * below what the peer has received fails its acceptability test (two
 * stacks doing that answer each other's ACKs forever). */
void tcp__send_ack(struct tcp_pcb *p)
{
    send_segment(p, p->snd_max, TCP_ACK, (const uint8_t **)no_data, no_len, 0);
}

void tcp__send_syn(struct tcp_pcb *p)
{
    uint8_t flags = p->state == TCP_SYN_SENT ? TCP_SYN : TCP_SYN | TCP_ACK;
    send_segment(p, p->iss, flags, (const uint8_t **)no_data, no_len, 0);
    p->snd_nxt = p->snd_max = p->iss + 1;
}

void tcp__send_rst(struct tcp_pcb *p)
{
    send_segment(p, p->snd_max, TCP_RST | TCP_ACK, (const uint8_t **)no_data, no_len, 0);
}

void tcp__send_probe(struct tcp_pcb *p)
{
    send_segment(p, p->snd_una - 1, TCP_ACK, (const uint8_t **)no_data, no_len, 0);
}

void tcp__send_rst_for(struct net_stack *s, const struct ip4_hdr *ip, const struct tcp_hdr *h, uint32_t seg_len)
{
    /* RFC 9293 §3.10.7.1: answer with the sequence the segment expects. */
    struct tcp_hdr r = {.sport = h->dport, .dport = h->sport};
    if (h->flags & TCP_ACK) {
        r.seq = h->ack;
        r.flags = TCP_RST;
    } else {
        r.ack = h->seq + seg_len;
        r.flags = TCP_RST | TCP_ACK;
    }
    uint8_t hdr[TCP_HDR_MAX];
    size_t hlen = tcp_write_hdr(hdr, &r);
    uint32_t sum = net_csum_pseudo(ip->dst, ip->src, IP4_PROTO_TCP, (uint16_t)hlen);
    uint16_t c = net_csum_fold(net_csum_add(sum, hdr, hlen));
    hdr[TCP_OFF_CSUM] = (uint8_t)(c >> 8);
    hdr[TCP_OFF_CSUM + 1] = (uint8_t)c;
    struct ip4_payload pl = {{hdr, NULL, NULL}, {hlen, 0, 0}, NULL};
    ip4__output(s, ip->dst, ip->src, IP4_PROTO_TCP, &pl);
    struct tcp_state_all *t = tcp__all(s);
    t->stats.segs_out++;
    t->stats.rst_sent++;
}

/* ---- What to send now ---------------------------------------------------- */

static bool can_send_data(const struct tcp_pcb *p)
{
    return p->state == TCP_ESTABLISHED || p->state == TCP_CLOSE_WAIT || p->state == TCP_FIN_WAIT_1 ||
           p->state == TCP_CLOSING || p->state == TCP_LAST_ACK;
}

static void start_rtt(struct tcp_pcb *p, uint32_t seq)
{
    if (!p->rtt_timing && !p->ts_ok && p->backoff == 0) {
        p->rtt_timing = true;
        p->rtt_seq = seq;
        p->rtt_start = sched_now();
    }
}

void tcp__output(struct tcp_pcb *p)
{
    if (!can_send_data(p)) {
        if (p->ack_now && p->state != TCP_SYN_SENT && p->state != TCP_CLOSED)
            tcp__send_ack(p);
        tcp__timer_update(p);
        return;
    }
    struct tcp_state_all *t = tcp__all(p->stack);
    uint32_t fin_seq = p->snd_una + p->sndbuf.len; /* where a FIN goes */
    uint32_t max_before = p->snd_max;
    for (int guard = 0; guard < 4096; guard++) {
        /* Limited transmit (RFC 3042): each of the first two duplicate ACKs
         * lets one new segment out, so that a small window still gets the
         * three duplicates fast retransmit needs. */
        uint32_t cwnd = p->cwnd + (!p->in_recovery && p->dupacks < 3 ? p->dupacks * p->mss : 0);
        uint32_t wnd = p->snd_wnd < cwnd ? p->snd_wnd : cwnd;
        uint32_t flight = tcp__pipe(p);
        uint32_t room = wnd > flight ? wnd - flight : 0;
        /* Loss recovery with SACK: fill the holes first. */
        uint32_t hseq, hlen;
        if (p->in_recovery && p->sack_ok && room >= p->mss && tcp__sack_next_hole(p, &hseq, &hlen)) {
            tcp__send_data(p, hseq, hlen, TCP_ACK);
            p->rexmit_next = hseq + hlen;
            p->recovery_resent++;
            t->stats.retransmits++;
            continue;
        }
        uint32_t unsent = seq_lt(p->snd_nxt, fin_seq) ? fin_seq - p->snd_nxt : 0;
        uint32_t usable = seq_gt(p->snd_una + p->snd_wnd, p->snd_nxt) ? p->snd_una + p->snd_wnd - p->snd_nxt : 0;
        if (usable > room)
            usable = room;
        uint32_t len = unsent < usable ? unsent : usable;
        uint32_t seg_max = tcp__seg_max(p);
        /* New data may go as one TSO packet of several segments; what goes
         * again after a timeout goes a segment at a time, as recovery does. */
        uint32_t max = seq_lt(p->snd_nxt, p->snd_max) ? seg_max : new_data_max(p, seg_max);
        if (len > max)
            len = max;
        /* The packet's short tail goes with it only if, sent on its own
         * after the whole segments, it would pass the test below. */
        uint32_t tail = len > seg_max ? len % seg_max : 0;
        if (tail && !p->force_send &&
            (len < unsent ? tail < p->max_snd_wnd / 2
                          : !p->opts.nodelay && !(p->fin_queued && p->snd_nxt + len == fin_seq)))
            len -= tail;
        bool fin_now = p->fin_queued && p->snd_nxt + len == fin_seq && seq_le(p->snd_nxt, fin_seq);
        if (len == 0 && !fin_now)
            break;
        if (len && len < seg_max && !p->force_send) {
            if (len < unsent) {
                /* The window is short, not the data (sender SWS avoidance,
                 * RFC 9293 §3.8.6.2.1): wait unless it is half the most the
                 * peer ever offered. */
                if (len < p->max_snd_wnd / 2)
                    break;
            } else if (!p->opts.nodelay && p->snd_nxt != p->snd_una && !fin_now) {
                break; /* Nagle: a short segment waits for the ACK of the last */
            }
        }
        uint8_t flags = TCP_ACK;
        if (len && p->snd_nxt + len == fin_seq)
            flags |= TCP_PSH;
        if (fin_now)
            flags |= TCP_FIN;
        tcp__send_data(p, p->snd_nxt, len, flags);
        if (seq_lt(p->snd_nxt, p->snd_max))
            t->stats.retransmits++;
        else
            start_rtt(p, p->snd_nxt);
        p->snd_nxt += len + (fin_now ? 1 : 0);
        p->snd_max = seq_max(p->snd_max, p->snd_nxt);
        if (fin_now) {
            p->fin_sent = true;
            break;
        }
    }
    p->force_send = false;
    if (p->ack_now)
        tcp__send_ack(p);
    /* Data waiting with nothing in flight: the window is closed, or too
     * small for the sender's silly-window avoidance. The persist timer
     * probes a closed window, and sends into a small one when it fires
     * (the override timeout of RFC 9293 §3.8.6.2.1). */
    bool waiting = seq_lt(p->snd_nxt, fin_seq) || (p->fin_queued && !p->fin_sent);
    if (waiting && p->snd_una == p->snd_max) {
        if (!p->persist_at) {
            uint64_t interval = p->rto << (p->probes < 6 ? p->probes : 6);
            p->persist_at = sched_now() + (interval < TCP_RTO_MAX_NS ? interval : TCP_RTO_MAX_NS);
        }
    } else {
        p->persist_at = 0;
    }
    if (p->snd_una != p->snd_max && !p->rto_at)
        tcp__arm_rto(p);
    if (p->snd_max != max_before) {
        p->tlp_at = 0; /* new data: the probe waits from now */
        tcp__arm_tlp(p);
    }
    tcp__timer_update(p);
}

bool tcp__send_tlp(struct tcp_pcb *p)
{
    /* One new segment if the peer's window takes it, whatever cwnd says;
     * else the last segment again. Either way the answer shows what is
     * missing, and SACK recovery repairs the tail instead of the RTO. */
    uint32_t fin_seq = p->snd_una + p->sndbuf.len;
    uint32_t max = tcp__seg_max(p);
    uint32_t unsent = seq_lt(p->snd_nxt, fin_seq) ? fin_seq - p->snd_nxt : 0;
    uint32_t len = unsent < max ? unsent : max;
    uint32_t usable = seq_gt(p->snd_una + p->snd_wnd, p->snd_nxt) ? p->snd_una + p->snd_wnd - p->snd_nxt : 0;
    if (p->snd_nxt == p->snd_max && len && usable >= len) {
        tcp__send_data(p, p->snd_nxt, len, TCP_ACK | (p->snd_nxt + len == fin_seq ? TCP_PSH : 0));
        p->snd_nxt += len;
        p->snd_max = p->snd_nxt;
        p->tlp_resent = false;
    } else {
        uint32_t end = seq_min(p->snd_max, fin_seq); /* the data sent so far ends here */
        len = end - p->snd_una < max ? end - p->snd_una : max;
        uint8_t flags = TCP_ACK | (p->fin_sent ? TCP_FIN : 0);
        if (!len && !p->fin_sent)
            return false;
        tcp__send_data(p, end - len, len, flags);
        tcp__all(p->stack)->stats.retransmits++;
        p->tlp_resent = true;
    }
    p->tlp_high_seq = p->snd_max;
    p->tlp_active = true;
    p->tlp_dsack = false;
    return true;
}

void tcp__persist_probe(struct tcp_pcb *p)
{
    if (p->snd_wnd == 0) {
        tcp__send_probe(p);
        return;
    }
    p->force_send = true;
    tcp__output(p);
}
