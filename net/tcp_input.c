/* TCP input: segment arrival (RFC 9293 §3.10.7) with the RFC 5961 checks
 * against blind resets and injection, PAWS (RFC 7323), window updates,
 * RTT samples, NewReno and SACK loss recovery on the sender's side, and on
 * the receiver's side in-order delivery, the out-of-order queue (bounded)
 * and delayed ACKs. */
#include "lwt_errno.h"
#include "tcp_internal.h"

struct seg {
    const struct ip4_hdr *ip;
    struct tcp_hdr h;
    const uint8_t *data; /* the payload */
    uint32_t len;        /* payload bytes */
    uint32_t seg_len;    /* len plus one for SYN and one for FIN */
};

static void challenge_ack(struct tcp_pcb *p)
{
    /* RFC 5961 §7: rate-limited, per connection (one global count would
     * tell an off-path attacker how many of its guesses hit, the side
     * channel of CVE-2016-5696). */
    struct tcp_state_all *t = tcp__all(p->stack);
    uint64_t now = sched_now();
    if (!p->challenge_since || now - p->challenge_since >= SCHED_NS_PER_S) {
        p->challenge_since = now;
        p->challenges = 0;
    }
    if (p->challenges >= TCP_CHALLENGE_ACKS_PER_S) {
        t->stats.challenge_acks_limited++;
        return;
    }
    p->challenges++;
    t->stats.challenge_acks++;
    tcp__send_ack(p);
}

/* ---- The receiver's side ----------------------------------------------- */

/* Puts bytes [seq, seq + len) at their place past the in-order data, and
 * remembers the range. Bounded by the window and TCP_OOO_MAX ranges. */
static void ooo_insert(struct tcp_pcb *p, uint32_t seq, const uint8_t *d, uint32_t len, bool fin)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    uint32_t off = seq - p->rcv_nxt;
    if (off + len > tcp_ring_space(&p->rcvbuf)) {
        t->stats.ooo_dropped++;
        return;
    }
    /* The stream ends at a FIN: nothing may lie past one we hold, and a
     * FIN may not come before data we hold (a peer that says both lies;
     * the segment goes, the sender will say it again). */
    for (const struct tcp_ooo *o = p->ooo; o; o = o->next) {
        if ((o->fin && seq_gt(seq + len, o->seq + o->len)) || (fin && seq_gt(o->seq + o->len, seq + len))) {
            t->stats.ooo_dropped++;
            return;
        }
    }
    struct tcp_ooo **link = &p->ooo;
    while (*link && seq_lt((*link)->seq, seq))
        link = &(*link)->next;
    if (*link && (*link)->seq == seq && (*link)->len >= len && !(fin && !(*link)->fin)) {
        t->stats.dup_segs++;
        return;
    }
    if (p->ooo_count >= TCP_OOO_MAX) {
        t->stats.ooo_dropped++;
        return;
    }
    struct tcp_ooo *o = malloc(sizeof *o);
    if (!o) {
        t->stats.ooo_dropped++;
        return;
    }
    tcp_ring_put_at(&p->rcvbuf, off, d, len);
    *o = (struct tcp_ooo){*link, seq, len, ++p->ooo_stamps, fin};
    *link = o;
    p->ooo_count++;
    t->memory += sizeof *o;
    /* Merge neighbours that touch or overlap, so SACK blocks stay few. */
    for (struct tcp_ooo *a = p->ooo; a && a->next;) {
        struct tcp_ooo *b = a->next;
        if (seq_le(b->seq, a->seq + a->len)) {
            uint32_t end = seq_max(a->seq + a->len, b->seq + b->len);
            a->len = end - a->seq;
            a->fin = a->fin || b->fin;
            a->stamp = a->stamp > b->stamp ? a->stamp : b->stamp;
            a->next = b->next;
            free(b);
            p->ooo_count--;
            t->memory -= sizeof *b;
        } else {
            a = b;
        }
    }
}

/* In-order bytes now: everything the out-of-order queue holds from
 * rcv_nxt on becomes readable. */
static void ooo_drain(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    while (p->ooo && seq_le(p->ooo->seq, p->rcv_nxt)) {
        struct tcp_ooo *o = p->ooo;
        uint32_t end = o->seq + o->len;
        if (seq_gt(end, p->rcv_nxt)) {
            uint32_t n = end - p->rcv_nxt;
            p->rcvbuf.len += n; /* the bytes are already in place */
            p->rcv_nxt = end;
        }
        if (o->fin && !p->fin_received) {
            p->fin_received = true;
            p->rcv_nxt++;
        }
        p->ooo = o->next;
        free(o);
        p->ooo_count--;
        t->memory -= sizeof *o;
    }
}

/* The segment's payload (already trimmed to the window). */
static void receive_data(struct tcp_pcb *p, struct seg *s)
{
    uint32_t seq = s->h.seq;
    const uint8_t *d = s->data;
    uint32_t len = s->len;
    bool fin = s->h.flags & TCP_FIN;
    if (p->fin_received)
        return;
    if (seq_lt(seq, p->rcv_nxt)) {
        uint32_t skip = p->rcv_nxt - seq;
        if (skip >= len && !(fin && skip == len)) {
            tcp__all(p->stack)->stats.dup_segs++;
            p->ack_now = true; /* a duplicate: tell the peer where we are */
            return;
        }
        skip = skip > len ? len : skip;
        seq += skip, d += skip, len -= skip;
    }
    if (seq != p->rcv_nxt) {
        if (len || fin)
            ooo_insert(p, seq, d, len, fin);
        p->ack_now = true; /* a hole: duplicate ACK with SACK (RFC 5681 §4.2) */
        return;
    }
    uint32_t n = tcp_ring_write(&p->rcvbuf, d, len);
    p->rcv_nxt += n;
    if (n < len)
        fin = false; /* cut by the buffer: the FIN comes again */
    /* A FIN before data we already hold out of order contradicts it: take
     * the data, leave the FIN for the peer to send again. */
    for (const struct tcp_ooo *o = p->ooo; fin && o; o = o->next)
        if (seq_gt(o->seq + o->len, p->rcv_nxt))
            fin = false;
    bool had_ooo = p->ooo != NULL;
    /* Data written over the start of the queue's bytes is the same data. */
    if (had_ooo)
        ooo_drain(p);
    if (fin && !p->fin_received) {
        p->fin_received = true;
        p->rcv_nxt++;
    }
    if (had_ooo)
        p->ack_now = true; /* filled a hole */
    else if (p->fin_received && p->state == TCP_ESTABLISHED && p->has_handle)
        /* The peer is closing. The application's answer, often its own
         * close, comes on this turn of the loop: the ACK waits for the
         * timers' turn so that it can ride on that FIN (one segment less
         * per short connection, as Linux's delayed ACK in CLOSE_WAIT). */
        p->delack_at = sched_now();
    else if (p->fin_received)
        p->ack_now = true; /* no one here will answer */
    else if (n && ++p->segs_since_ack >= 2)
        p->ack_now = true; /* every second full segment (RFC 5681 §4.2) */
    else if (n && !p->delack_at)
        p->delack_at = sched_now() + TCP_DELACK_NS;
    tcp__wake_reader(p);
}

/* ---- The sender's side ----------------------------------------------------- */

/* How long a hole under SACKed data may wait for its segment (RFC 8985
 * §6.2): a quarter of the smoothed RTT, more for each recovery that
 * reordering started, never more than the RTT. */
static uint64_t reo_wnd(const struct tcp_pcb *p)
{
    uint64_t w = p->srtt / 4 * (1 + p->reo_quarters);
    if (w > p->srtt)
        w = p->srtt;
    return w > SCHED_NS_PER_MS ? w : SCHED_NS_PER_MS;
}

/* Eifel detection (RFC 3522): the ACK that first moves snd_una during a
 * recovery echoes the timestamp of the segment that filled the hole; older
 * than the recovery, it is the original's, which was only late. Only a
 * recovery that sent a single segment again is undone whole. */
static bool spurious_recovery(const struct tcp_pcb *p, const struct tcp_hdr *h)
{
    return p->ts_ok && h->has_ts && h->tsecr && p->recovery_resent == 1 && (int32_t)(h->tsecr - p->recovery_ts) < 0;
}

/* A duplicate SACK (RFC 2883): the first block reports data received twice,
 * below the cumulative ACK or inside the second block. */
static bool is_dsack(const struct tcp_hdr *h, uint32_t ack)
{
    if (!h->nsack)
        return false;
    const struct tcp_sack_block *b = h->sack;
    return seq_le(b[0].right, ack) || (h->nsack > 1 && seq_ge(b[0].left, b[1].left) && seq_le(b[0].right, b[1].right));
}

void tcp__enter_recovery(struct tcp_pcb *p)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    uint32_t flight = p->snd_max - p->snd_una;
    p->prior_cwnd = p->cwnd;
    p->prior_ssthresh = p->ssthresh;
    p->recovery_ts = tcp__now_ms();
    p->recovery_resent = 1;
    p->ssthresh = flight / 2 > 2u * p->mss ? flight / 2 : 2u * p->mss;
    p->in_recovery = true;
    p->recover = p->snd_max;
    p->rexmit_next = p->snd_una;
    p->rexmit_round_hi = p->snd_max;
    t->stats.fast_retransmits++;
    t->stats.retransmits++;
    /* Fast retransmit: the first unacknowledged segment, now. */
    uint32_t len = p->snd_max - p->snd_una;
    uint32_t data = p->sndbuf.len < len ? p->sndbuf.len : len;
    if (data > tcp__seg_max(p))
        data = tcp__seg_max(p);
    if (data)
        tcp__send_data(p, p->snd_una, data, TCP_ACK);
    p->rexmit_next = p->snd_una + data;
    p->cwnd = p->ssthresh + (p->sack_ok ? 0 : 3u * p->mss);
    p->rtt_timing = false;
}

/* The MSS we send with: the peer's, not above our own, and never so small
 * that the timestamps' 12 bytes leave nothing (a peer may offer 1). */
void tcp__set_mss(struct tcp_pcb *p, const struct tcp_hdr *h)
{
    if (h->has_mss && h->mss < p->mss)
        p->mss = h->mss < TCP_MIN_MSS ? TCP_MIN_MSS : h->mss;
    if (p->ts_ok)
        p->mss -= 12;
}

/* The RTT at the end of a handshake: from the timestamp echo, unless our
 * SYN had to be sent again, when RFC 6298 (5.7) wants the RTO back at 3 s
 * for the data. */
void tcp__handshake_rtt(struct tcp_pcb *p, const struct tcp_hdr *h, bool syn_resent)
{
    p->backoff = 0;
    if (syn_resent) {
        p->rto = p->rto > 3 * SCHED_NS_PER_S ? p->rto : 3 * SCHED_NS_PER_S;
        return;
    }
    if (h->has_ts && h->tsecr)
        tcp__rtt_sample(p, (uint64_t)(uint32_t)(tcp__now_ms() - h->tsecr) * SCHED_NS_PER_MS);
}

/* An ACK in a synchronised state. Returns false if the segment must be
 * dropped (and the pcb may be gone when *gone is set). */
static bool process_ack(struct tcp_pcb *p, struct seg *s, bool *gone)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    const struct tcp_hdr *h = &s->h;
    uint32_t ack = h->ack;
    if (p->state == TCP_SYN_RECEIVED) {
        /* Only an ACK of our SYN completes the handshake; anything else
         * gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.4). */
        if (!seq_gt(ack, p->snd_una) || seq_gt(ack, p->snd_max)) {
            tcp__send_rst_for(p->stack, s->ip, h, s->seg_len);
            return false;
        }
        bool syn_resent = p->backoff > 0;
        p->state = TCP_ESTABLISHED;
        p->snd_una = ack;
        p->snd_wnd = (uint32_t)h->win << p->snd_wscale;
        p->max_snd_wnd = p->snd_wnd;
        p->snd_wl1 = h->seq;
        p->snd_wl2 = ack;
        p->rto_at = 0; /* the SYN-ACK is acknowledged */
        tcp__handshake_rtt(p, h, syn_resent);
        if (!tcp__established(p)) {
            *gone = true; /* refused: a full accept queue */
            return false;
        }
        return true;
    }
    /* RFC 5961 §5.2: an ACK outside what we could have sent recently is
     * answered with a challenge ACK and dropped. */
    uint32_t lo = p->snd_una - (p->max_snd_wnd ? p->max_snd_wnd : 1);
    if (seq_gt(ack, p->snd_max) || seq_lt(ack, lo)) {
        challenge_ack(p);
        return false;
    }
    if (p->tlp_active && is_dsack(h, ack))
        p->tlp_dsack = true; /* the probe's data was there already */
    tcp__sack_update(p, h);
    if (seq_gt(ack, p->snd_una)) {
        uint32_t acked = ack - p->snd_una;
        /* The FIN, if acked, is not in the buffer. */
        uint32_t bytes = acked > p->sndbuf.len ? p->sndbuf.len : acked;
        tcp_ring_drop(&p->sndbuf, bytes);
        p->snd_una = ack;
        if (seq_lt(p->snd_nxt, p->snd_una))
            p->snd_nxt = p->snd_una;
        tcp__sack_trim(p);
        p->probes = 0;
        /* RTT (Karn's rule: timing only of segments sent once; a timestamp
         * echo is good for any). */
        if (p->ts_ok && h->has_ts && h->tsecr && p->backoff == 0)
            tcp__rtt_sample(p, (uint64_t)(uint32_t)(tcp__now_ms() - h->tsecr) * SCHED_NS_PER_MS);
        else if (p->rtt_timing && seq_gt(ack, p->rtt_seq)) {
            p->rtt_timing = false;
            tcp__rtt_sample(p, sched_now() - p->rtt_start);
        }
        p->backoff = 0;
        /* Congestion control. */
        if (p->in_recovery && spurious_recovery(p, h)) {
            /* The one segment sent again was there already: undo. */
            t->stats.undos++;
            p->cwnd = p->cwnd > p->prior_cwnd ? p->cwnd : p->prior_cwnd;
            p->ssthresh = p->ssthresh > p->prior_ssthresh ? p->ssthresh : p->prior_ssthresh;
            p->in_recovery = false;
            p->dupacks = 0;
            if (p->reo_quarters < 4)
                p->reo_quarters++;
        } else if (p->in_recovery) {
            if (seq_ge(ack, p->recover)) {
                p->in_recovery = false; /* full ACK (RFC 6582 §3.2 step 3) */
                uint32_t flight = p->snd_max - p->snd_una;
                uint32_t deflated = (flight > p->mss ? flight : p->mss) + p->mss;
                p->cwnd = p->ssthresh < deflated ? p->ssthresh : deflated;
                p->dupacks = 0;
            } else if (!p->sack_ok) {
                /* Partial ACK: retransmit the next hole, deflate. */
                uint32_t data = p->sndbuf.len < tcp__seg_max(p) ? p->sndbuf.len : tcp__seg_max(p);
                if (data)
                    tcp__send_data(p, p->snd_una, data, TCP_ACK);
                t->stats.retransmits++;
                p->cwnd = p->cwnd > bytes ? p->cwnd - bytes + p->mss : p->mss;
            } else {
                p->rexmit_next = seq_max(p->rexmit_next, p->snd_una);
            }
        } else {
            p->dupacks = 0;
            /* Byte counting (RFC 3465): growth follows the bytes acked, so
             * a receiver that ACKs every other segment does not halve it. */
            if (p->cwnd < p->ssthresh) {
                p->cwnd += bytes < 2u * p->mss ? bytes : 2u * p->mss; /* slow start, L = 2 */
                p->bytes_acked = 0;
            } else if ((p->bytes_acked += bytes) >= p->cwnd) {
                p->bytes_acked -= p->cwnd; /* avoidance: one MSS per window acked */
                p->cwnd += p->mss;
            }
            if (p->cwnd > TCP_MAX_BUF * 2)
                p->cwnd = TCP_MAX_BUF * 2;
        }
        if (p->tlp_active && seq_ge(ack, p->tlp_high_seq)) {
            /* The probe's episode is over (RFC 8985 §7.4): if it sent data
             * again and no DSACK says that was needless, it repaired a
             * loss, which congestion control must hear of. */
            p->tlp_active = false;
            if (p->tlp_resent && !p->tlp_dsack && !p->in_recovery) {
                p->ssthresh = p->cwnd / 2 > 2u * p->mss ? p->cwnd / 2 : 2u * p->mss;
                p->cwnd = p->ssthresh;
            }
        }
        p->reo_at = 0; /* a hole still under SACKed data is a new one */
        p->rto_at = 0;
        tcp__arm_rto(p);
        tcp__wake_writer(p);
        /* FIN acknowledged? */
        if (p->fin_sent && p->snd_una == p->snd_max && p->sndbuf.len == 0) {
            if (p->state == TCP_FIN_WAIT_1) {
                p->state = TCP_FIN_WAIT_2;
                if (!p->has_handle)
                    p->wait_at = sched_now() + TCP_FIN_WAIT_2_NS;
            } else if (p->state == TCP_CLOSING) {
                tcp__enter_time_wait(p);
            } else if (p->state == TCP_LAST_ACK) {
                tcp__pcb_done(p, 0);
                *gone = true;
                return false;
            }
        }
    } else if (ack == p->snd_una && s->len == 0 && !(h->flags & (TCP_SYN | TCP_FIN)) && p->snd_max != p->snd_una &&
               (((uint32_t)h->win << p->snd_wscale) == p->snd_wnd || (p->sack_ok && h->nsack))) {
        /* A duplicate ACK (RFC 5681 §2; with SACK, one that carries SACK
         * blocks counts whatever its window, RFC 6675 §2). */
        p->dupacks++;
        bool lost = p->sack_ok && tcp__sacked_in(p, p->snd_una, p->snd_max) > 2u * p->mss; /* RFC 6675 IsLost */
        /* Early retransmit (RFC 5827): with fewer than four segments out and
         * nothing new to send, three duplicate ACKs can never come; one
         * fewer than the segments out will do. */
        uint32_t out_segs = (p->snd_max - p->snd_una + p->mss - 1) / p->mss;
        bool nothing_new = p->snd_max == p->snd_una + p->sndbuf.len;
        unsigned thresh = out_segs < 4 && nothing_new && out_segs > 1 ? out_segs - 1 : 3;
        if (!p->in_recovery && (p->dupacks >= thresh || lost) && seq_gt(p->snd_una, p->recover - 1))
            tcp__enter_recovery(p);
        else if (p->in_recovery && !p->sack_ok)
            p->cwnd += p->mss; /* inflate (NewReno) */
    }
    if (p->sack_ok && tcp__sack_repair_lost(p))
        t->stats.repairs_lost++;
    /* A hole under SACKed data that too few duplicate ACKs point at (a
     * small window, lost ACKs): like RACK (RFC 8985), it counts as lost
     * once a quarter of an RTT has passed without it arriving, which a
     * merely reordered segment does. */
    if (p->sack_ok && !p->in_recovery && p->nscore && seq_gt(p->snd_una, p->recover - 1)) {
        if (!p->reo_at)
            p->reo_at = sched_now() + reo_wnd(p);
    } else {
        p->reo_at = 0;
    }
    /* Window update (RFC 9293 §3.10.7.4). */
    if (seq_lt(p->snd_wl1, h->seq) || (p->snd_wl1 == h->seq && seq_le(p->snd_wl2, ack))) {
        p->snd_wnd = (uint32_t)h->win << p->snd_wscale;
        p->max_snd_wnd = p->snd_wnd > p->max_snd_wnd ? p->snd_wnd : p->max_snd_wnd;
        p->snd_wl1 = h->seq;
        p->snd_wl2 = ack;
    }
    return true;
}

/* ---- The segment arrives ----------------------------------------------------- */

static void syn_sent(struct tcp_pcb *p, struct seg *s)
{
    const struct tcp_hdr *h = &s->h;
    bool ack_ok = false;
    if (h->flags & TCP_ACK) {
        if (seq_le(h->ack, p->iss) || seq_gt(h->ack, p->snd_max)) {
            if (!(h->flags & TCP_RST))
                tcp__send_rst_for(p->stack, s->ip, h, s->seg_len);
            return;
        }
        ack_ok = true;
    }
    if (h->flags & TCP_RST) {
        if (ack_ok)
            tcp__pcb_done(p, -LWT_ECONNREFUSED);
        return;
    }
    if (!(h->flags & TCP_SYN))
        return;
    p->irs = h->seq;
    p->rcv_nxt = h->seq + 1;
    p->rcv_adv = p->rcv_nxt;
    p->ws_ok = h->has_wscale;
    p->snd_wscale = h->has_wscale ? h->wscale : 0;
    if (!p->ws_ok)
        p->rcv_wscale = 0;
    p->sack_ok = h->sack_perm;
    p->ts_ok = h->has_ts;
    if (h->has_ts)
        p->ts_recent = h->tsval;
    tcp__set_mss(p, h);
    if (ack_ok) {
        p->snd_una = h->ack;
        p->snd_wnd = h->win; /* never scaled in a SYN */
        p->max_snd_wnd = p->snd_wnd;
        p->snd_wl1 = h->seq;
        p->snd_wl2 = h->ack;
        p->state = TCP_ESTABLISHED;
        p->rto_at = 0;
        tcp__handshake_rtt(p, h, p->backoff > 0);
        tcp__send_ack(p);
        if (!tcp__established(p))
            return;
    } else {
        /* Simultaneous open (RFC 9293 §3.5 figure 7). */
        p->state = TCP_SYN_RECEIVED;
        tcp__send_syn(p);
    }
}

/* Segments for a synchronised connection (and SYN_RECEIVED). */
static void synchronized(struct tcp_pcb *p, struct seg *s)
{
    struct tcp_state_all *t = tcp__all(p->stack);
    struct tcp_hdr *h = &s->h;
    uint32_t wnd = tcp__rcv_wnd(p);
    /* PAWS (RFC 7323 §5): an old timestamp marks an old duplicate. */
    if (p->ts_ok && h->has_ts && !(h->flags & TCP_RST) && (int32_t)(h->tsval - p->ts_recent) < 0) {
        t->stats.dup_segs++;
        tcp__send_ack(p);
        return;
    }
    /* Is any of it inside the window? (RFC 9293 §3.10.7.4 first check) */
    bool ok;
    if (s->seg_len == 0)
        ok = wnd == 0 ? h->seq == p->rcv_nxt : seq_ge(h->seq, p->rcv_nxt) && seq_lt(h->seq, p->rcv_nxt + wnd);
    else
        ok = wnd != 0 &&
             ((seq_ge(h->seq, p->rcv_nxt) && seq_lt(h->seq, p->rcv_nxt + wnd)) ||
              (seq_ge(h->seq + s->seg_len - 1, p->rcv_nxt) && seq_lt(h->seq + s->seg_len - 1, p->rcv_nxt + wnd)));
    if (!ok) {
        if (!(h->flags & TCP_RST)) {
            t->stats.dup_segs++;
            tcp__send_ack(p);
            /* A retransmitted FIN in TIME_WAIT: our last ACK was lost, so
             * the wait starts again (RFC 9293 §3.10.7.4). */
            if (p->state == TCP_TIME_WAIT && (h->flags & TCP_FIN)) {
                p->wait_at = sched_now() + TCP_TIME_WAIT_NS;
                tcp__timer_update(p);
            }
        }
        return;
    }
    /* RST (RFC 5961 §3.2): only an exact match resets. */
    if (h->flags & TCP_RST) {
        if (h->seq != p->rcv_nxt) {
            challenge_ack(p);
            return;
        }
        t->stats.rst_in++;
        if (p->state == TCP_SYN_RECEIVED) {
            /* A passive open goes back to listening (the pcb simply goes);
             * an active one, through simultaneous open, is refused. */
            tcp__pcb_done(p, -LWT_ECONNREFUSED);
            return;
        }
        tcp__pcb_done(
            p, p->state == TCP_CLOSING || p->state == TCP_LAST_ACK || p->state == TCP_TIME_WAIT ? 0 : -LWT_ECONNRESET);
        return;
    }
    /* SYN in a synchronised state (RFC 5961 §4): challenge ACK. */
    if (h->flags & TCP_SYN) {
        challenge_ack(p);
        return;
    }
    if (!(h->flags & TCP_ACK))
        return;
    if (p->ts_ok && h->has_ts && seq_le(h->seq, p->last_ack_sent))
        p->ts_recent = h->tsval;
    bool gone = false;
    if (!process_ack(p, s, &gone) || gone)
        return;
    /* Trim to the window: what does not fit is dropped (and re-sent). */
    if (s->len) {
        uint32_t right = p->rcv_nxt + wnd;
        if (seq_gt(h->seq + s->len, right)) {
            uint32_t cut = h->seq + s->len - right;
            s->len = cut >= s->len ? 0 : s->len - cut;
            h->flags &= (uint8_t)~TCP_FIN;
        }
    }
    p->last_recv = sched_now();
    p->probe_answered = true;
    if (!p->has_handle && s->len && (p->state == TCP_FIN_WAIT_1 || p->state == TCP_FIN_WAIT_2)) {
        /* Nobody will read it: the application closed (RFC 9293 §3.10.7.4
         * lets us, and Linux does so). */
        tcp__send_rst(p);
        tcp__pcb_done(p, -LWT_ECONNRESET);
        return;
    }
    bool closing_in = false;
    switch (p->state) {
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT_1:
    case TCP_FIN_WAIT_2: {
        bool had_fin = p->fin_received;
        if (s->len || (h->flags & TCP_FIN))
            receive_data(p, s);
        closing_in = !had_fin && p->fin_received;
        break;
    }
    default:
        /* CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer's FIN is in;
         * a retransmitted FIN gets its ACK again. */
        if (h->flags & TCP_FIN)
            p->ack_now = true;
        if (p->state == TCP_TIME_WAIT && (h->flags & TCP_FIN))
            p->wait_at = sched_now() + TCP_TIME_WAIT_NS;
        break;
    }
    if (closing_in) {
        if (p->state == TCP_ESTABLISHED)
            p->state = TCP_CLOSE_WAIT;
        else if (p->state == TCP_FIN_WAIT_1)
            p->state = p->snd_una == p->snd_max && p->fin_sent ? TCP_TIME_WAIT : TCP_CLOSING;
        else if (p->state == TCP_FIN_WAIT_2)
            p->state = TCP_TIME_WAIT;
        if (p->state == TCP_TIME_WAIT) {
            tcp__send_ack(p);
            tcp__enter_time_wait(p);
            return;
        }
    }
    tcp__output(p);
}

void tcp__input(struct net_stack *stack, const struct ip4_hdr *ip, struct net_slice *payload)
{
    struct tcp_state_all *t = tcp__all(stack);
    struct seg s = {.ip = ip};
    t->stats.segs_in++;
    if (tcp_parse(payload, ip->src, ip->dst, &s.h) < 0 || ip4__is_local_broadcast(stack, ip->dst)) {
        t->stats.bad_segs++;
        return;
    }
    struct tcp_hdr *h = &s.h;
    s.data = net_slice_data(payload) + h->hlen;
    s.len = payload->len - h->hlen;
    s.seg_len = s.len + ((h->flags & TCP_SYN) ? 1 : 0) + ((h->flags & TCP_FIN) ? 1 : 0);
    struct tcp_pcb *p = tcp__pcb_find(stack, ip->dst, h->dport, ip->src, h->sport);
    if (p && p->state == TCP_TIME_WAIT && (h->flags & TCP_SYN) && !(h->flags & TCP_ACK) &&
        (seq_gt(h->seq, p->rcv_nxt) || (p->ts_ok && h->has_ts && (int32_t)(h->tsval - p->ts_recent) > 0))) {
        /* A new incarnation may reuse a TIME_WAIT 4-tuple (RFC 6191). */
        if (!p->has_handle) {
            tcp__pcb_done(p, 0);
            p = NULL;
        }
    }
    if (!p) {
        struct tcp_listener *l = tcp__listener_find(stack, h->dport);
        if (l && ip->dst == stack->cfg.addr) {
            if (h->flags & TCP_RST)
                return;
            if (h->flags & TCP_ACK) {
                tcp__send_rst_for(stack, ip, h, s.seg_len);
                return;
            }
            if (!(h->flags & TCP_SYN))
                return;
            if (l->syn_queued >= TCP_MAX_SYN_BACKLOG || t->stats.conns >= TCP_MAX_CONNS) {
                t->stats.syn_dropped++; /* no answer: the peer tries again */
                return;
            }
            p = tcp__pcb_new(stack, &l->opts);
            if (!p) {
                t->stats.syn_dropped++;
                return;
            }
            p->listener = l;
            l->syn_queued++;
            p->local_addr = ip->dst;
            p->local_port = h->dport;
            p->remote_addr = ip->src;
            p->remote_port = h->sport;
            p->state = TCP_SYN_RECEIVED;
            p->irs = h->seq;
            p->rcv_nxt = h->seq + 1;
            p->rcv_adv = p->rcv_nxt;
            p->iss = tcp__isn(stack, p->local_addr, p->local_port, p->remote_addr, p->remote_port);
            p->snd_una = p->snd_nxt = p->snd_max = p->recover = p->iss;
            p->ws_ok = h->has_wscale;
            p->snd_wscale = h->has_wscale ? h->wscale : 0;
            if (!p->ws_ok)
                p->rcv_wscale = 0;
            p->sack_ok = h->sack_perm;
            p->ts_ok = h->has_ts;
            p->ts_recent = h->tsval;
            tcp__set_mss(p, h);
            p->snd_wnd = h->win;
            tcp__pcb_hash(p);
            tcp__send_syn(p);
            tcp__arm_rto(p);
            tcp__timer_update(p);
            return;
        }
        if (!(h->flags & TCP_RST) && ip->dst == stack->cfg.addr)
            tcp__send_rst_for(stack, ip, h, s.seg_len); /* a closed port */
        return;
    }
    if (p->state == TCP_SYN_SENT)
        syn_sent(p, &s);
    else
        synchronized(p, &s);
}
