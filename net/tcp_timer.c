/* TCP's timers: retransmission (RFC 6298, with exponential back-off),
 * delayed ACK, persist (zero-window probes), keep-alive, and the waits of
 * TIME_WAIT and an orphaned FIN_WAIT_2. Each connection keeps a deadline
 * per timer and one scheduler timer for the earliest of them, so nothing
 * ever scans all connections. */
#include "lwt_errno.h"
#include "tcp_internal.h"

static uint64_t earliest(const struct tcp_pcb *p)
{
    uint64_t t = 0;
    const uint64_t d[] = {p->rto_at, p->delack_at, p->persist_at, p->keep_at, p->wait_at, p->reo_at, p->tlp_at};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (d[i] && (!t || d[i] < t))
            t = d[i];
    return t;
}

void tcp__timer_stop(struct tcp_pcb *p)
{
    net_timer_stop(&p->timer);
}

/* Runs what is due; false if the pcb is gone. */
static bool run_due(struct tcp_pcb *p)
{
    uint64_t now = sched_now();
    struct tcp_state_all *t = tcp__all(p->stack);
    if (p->wait_at && now >= p->wait_at) {
        p->wait_at = 0;
        /* TIME_WAIT over, an orphan's FIN_WAIT_2 given up. */
        tcp__pcb_done(p, p->state == TCP_TIME_WAIT ? 0 : -LWT_ETIMEDOUT);
        return false;
    }
    if (p->rto_at && now >= p->rto_at) {
        p->rto_at = 0;
        p->tlp_at = p->reo_at = 0;
        p->tlp_active = false;
        bool syn = p->state == TCP_SYN_SENT || p->state == TCP_SYN_RECEIVED;
        if (++p->backoff > (syn ? TCP_SYN_RETRIES : TCP_DATA_RETRIES)) {
            if (!syn)
                tcp__send_rst(p);
            tcp__pcb_done(p, -LWT_ETIMEDOUT);
            return false;
        }
        t->stats.timeouts++;
        log_debug(&tcp__log, "%u -> %u: timeout %u in %s, una %u nxt %u max %u cwnd %u wnd %u sacked %u recovery %d",
                  p->local_port, p->remote_port, p->backoff, tcp__state_name(p->state), p->snd_una - p->iss,
                  p->snd_nxt - p->iss, p->snd_max - p->iss, p->cwnd, p->snd_wnd,
                  tcp__sacked_in(p, p->snd_una, p->snd_max), p->in_recovery);
        p->rto = p->rto * 2 < TCP_RTO_MAX_NS ? p->rto * 2 : TCP_RTO_MAX_NS;
        p->rtt_timing = false; /* Karn: no sample from a retransmission */
        if (syn) {
            tcp__send_syn(p);
            t->stats.retransmits++;
        } else {
            /* RFC 5681 §3.1: one segment, then slow start; SACK information
             * is forgotten (RFC 2018 §8). */
            uint32_t flight = p->snd_max - p->snd_una;
            p->ssthresh = flight / 2 > 2u * p->mss ? flight / 2 : 2u * p->mss;
            p->cwnd = p->mss;
            p->in_recovery = false;
            p->dupacks = 0;
            p->nscore = 0;
            p->snd_nxt = p->snd_una;
            p->rexmit_next = p->snd_una;
            tcp__output(p);
        }
        tcp__arm_rto(p);
    }
    if (p->reo_at && now >= p->reo_at) {
        p->reo_at = 0;
        if (!p->in_recovery && p->nscore) {
            tcp__enter_recovery(p);
            tcp__output(p);
        }
    }
    if (p->tlp_at && now >= p->tlp_at) {
        p->tlp_at = 0;
        if (!p->in_recovery && p->snd_una != p->snd_max && tcp__send_tlp(p)) {
            t->stats.tlp_probes++;
            p->rto_at = now + p->rto; /* RFC 8985 §7.3: the RTO runs from the probe */
        }
    }
    if (p->delack_at && now >= p->delack_at) {
        p->delack_at = 0;
        tcp__send_ack(p);
    }
    if (p->persist_at && now >= p->persist_at) {
        p->persist_at = 0;
        /* A peer that keeps answering may keep its window shut as long as
         * it likes; one that answers nothing, or an orphan's, is given up. */
        p->unanswered = p->probe_answered ? 0 : p->unanswered + 1;
        p->probe_answered = false;
        if (p->unanswered > TCP_DATA_RETRIES || (!p->has_handle && p->probes >= TCP_ORPHAN_PROBES)) {
            tcp__send_rst(p);
            tcp__pcb_done(p, -LWT_ETIMEDOUT);
            return false;
        }
        if (p->snd_wnd == 0)
            p->probes++;
        tcp__persist_probe(p);
        tcp__output(p); /* re-arms the probe with back-off */
    }
    if (p->keep_at && now >= p->keep_at) {
        p->keep_at = 0;
        uint64_t idle = (uint64_t)p->opts.keepidle_s * SCHED_NS_PER_S;
        uint64_t intvl = (uint64_t)p->opts.keepintvl_s * SCHED_NS_PER_S;
        if (p->opts.keepalive && p->state == TCP_ESTABLISHED) {
            if (now - p->last_recv < idle) {
                p->keep_at = p->last_recv + idle;
            } else if (p->probes >= p->opts.keepcnt) {
                tcp__send_rst(p);
                tcp__pcb_done(p, -LWT_ETIMEDOUT);
                return false;
            } else {
                p->probes++;
                tcp__send_probe(p);
                p->keep_at = now + intvl;
            }
        }
    }
    return true;
}

static void fired(void *arg)
{
    struct tcp_pcb *p = arg;
    if (run_due(p))
        tcp__timer_update(p);
}

void tcp__timer_update(struct tcp_pcb *p)
{
    uint64_t when = earliest(p);
    if (!when) {
        net_timer_stop(&p->timer);
        return;
    }
    if (net_timer_armed(&p->timer) && p->timer.deadline <= when)
        return; /* it fires first and looks again */
    /* Out of memory leaves the deadline unarmed until the next segment
     * or call updates it; the connection does not break for it. */
    net_timer_start(&p->timer, when, fired, p);
}

void tcp__arm_rto(struct tcp_pcb *p)
{
    p->rto_at =
        p->snd_una != p->snd_max || p->state == TCP_SYN_SENT || p->state == TCP_SYN_RECEIVED ? sched_now() + p->rto : 0;
    p->tlp_at = 0;
    tcp__arm_tlp(p);
}

void tcp__arm_tlp(struct tcp_pcb *p)
{
    /* RFC 8985 §7.2: twice the smoothed RTT (not less than a floor: a
     * timestamp RTT of 0 ms is not 0), plus the worst delayed ACK when a
     * single segment is out; pointless if the RTO comes first. */
    bool data_state = p->state == TCP_ESTABLISHED || p->state == TCP_CLOSE_WAIT;
    if (p->tlp_at || !p->sack_ok || !p->srtt || p->in_recovery || p->tlp_active || p->backoff || !data_state ||
        p->snd_una == p->snd_max || !p->rto_at)
        return;
    uint64_t now = sched_now();
    uint64_t pto = 2 * p->srtt > TCP_PTO_MIN_NS ? 2 * p->srtt : TCP_PTO_MIN_NS;
    if (p->snd_max - p->snd_una <= p->mss)
        pto += TCP_WORST_DELACK_NS;
    if (now + pto < p->rto_at)
        p->tlp_at = now + pto;
}

void tcp__rtt_sample(struct tcp_pcb *p, uint64_t r)
{
    if (r == 0)
        r = 1;
    if (!p->srtt) {
        p->srtt = r;
        p->rttvar = r / 2;
    } else {
        uint64_t d = p->srtt > r ? p->srtt - r : r - p->srtt;
        p->rttvar = (3 * p->rttvar + d) / 4;
        p->srtt = (7 * p->srtt + r) / 8;
    }
    uint64_t rto = p->srtt + (4 * p->rttvar > SCHED_NS_PER_MS ? 4 * p->rttvar : SCHED_NS_PER_MS);
    p->rto = rto < TCP_RTO_MIN_NS ? TCP_RTO_MIN_NS : rto > TCP_RTO_MAX_NS ? TCP_RTO_MAX_NS : rto;
    p->backoff = 0;
}
