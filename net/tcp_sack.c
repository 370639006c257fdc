/* The sender's SACK scoreboard (RFC 2018, RFC 6675): the ranges above
 * snd_una that the peer says it holds, kept sorted and disjoint, and what
 * loss recovery asks of them: bytes in flight, the next hole to repair,
 * and whether a repair sent earlier was itself lost. */
#include "tcp_internal.h"

void tcp__sack_update(struct tcp_pcb *p, const struct tcp_hdr *h)
{
    for (unsigned i = 0; i < h->nsack; i++) {
        struct tcp_sack_block b = h->sack[i];
        /* Only blocks inside what we sent and above what is acked. */
        if (!seq_lt(b.left, b.right) || seq_le(b.right, p->snd_una) || seq_gt(b.right, p->snd_max))
            continue;
        b.left = seq_max(b.left, p->snd_una);
        unsigned k = 0;
        while (k < p->nscore && seq_lt(p->score[k].right, b.left))
            k++;
        unsigned m = k;
        while (m < p->nscore && seq_le(p->score[m].left, b.right)) {
            b.left = seq_min(b.left, p->score[m].left);
            b.right = seq_max(b.right, p->score[m].right);
            m++;
        }
        unsigned removed = m - k;
        if (removed == 0) {
            if (p->nscore == TCP_SACK_SCORE_MAX)
                continue; /* full: the information is only advice */
            memmove(&p->score[k + 1], &p->score[k], (p->nscore - k) * sizeof p->score[0]);
            p->nscore++;
        } else if (removed > 1) {
            memmove(&p->score[k + 1], &p->score[m], (p->nscore - m) * sizeof p->score[0]);
            p->nscore -= removed - 1;
        }
        p->score[k] = b;
    }
}

void tcp__sack_trim(struct tcp_pcb *p)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->nscore; i++) {
        if (seq_le(p->score[i].right, p->snd_una))
            continue;
        p->score[k] = p->score[i];
        p->score[k].left = seq_max(p->score[k].left, p->snd_una);
        k++;
    }
    p->nscore = k;
}

/* The end of the SACKed range holding seq, or seq itself if none does. */
uint32_t tcp__sack_skip(const struct tcp_pcb *p, uint32_t seq)
{
    for (unsigned i = 0; i < p->nscore; i++)
        if (seq_ge(seq, p->score[i].left) && seq_lt(seq, p->score[i].right))
            return p->score[i].right; /* disjoint and not adjacent: no chain */
    return seq;
}

uint32_t tcp__sack_highest(const struct tcp_pcb *p)
{
    return p->nscore ? seq_max(p->snd_una, p->score[p->nscore - 1].right) : p->snd_una;
}

uint32_t tcp__sacked_in(const struct tcp_pcb *p, uint32_t a, uint32_t b)
{
    uint32_t n = 0;
    for (unsigned i = 0; i < p->nscore; i++) {
        uint32_t l = seq_max(a, p->score[i].left), r = seq_min(b, p->score[i].right);
        if (seq_lt(l, r))
            n += r - l;
    }
    return n;
}

uint32_t tcp__pipe(const struct tcp_pcb *p)
{
    if (!p->in_recovery || !p->nscore)
        return p->snd_nxt - p->snd_una;
    /* FACK-style: the holes below the highest SACKed byte count as lost,
     * except those sent again in this recovery; everything above it is
     * still out. */
    uint32_t hi = tcp__sack_highest(p);
    uint32_t resent_to = seq_min(seq_max(p->rexmit_next, p->snd_una), hi);
    uint32_t resent = resent_to - p->snd_una - tcp__sacked_in(p, p->snd_una, resent_to);
    return (seq_gt(p->snd_max, hi) ? p->snd_max - hi : 0) + resent;
}

bool tcp__sack_next_hole(const struct tcp_pcb *p, uint32_t *seq, uint32_t *len)
{
    uint32_t hi = tcp__sack_highest(p);
    uint32_t s = tcp__sack_skip(p, seq_max(p->rexmit_next, p->snd_una));
    if (!seq_lt(s, hi))
        return false;
    uint32_t e = hi;
    for (unsigned i = 0; i < p->nscore; i++)
        if (seq_gt(p->score[i].left, s) && seq_lt(p->score[i].left, e))
            e = p->score[i].left;
    *seq = s;
    uint32_t max = tcp__seg_max(p);
    *len = e - s < max ? e - s : max;
    return true;
}

bool tcp__sack_repair_lost(struct tcp_pcb *p)
{
    /* RFC 6675 leaves a lost repair to the RTO. Like RACK (RFC 8985), a
     * repair counts as lost once the peer SACKs more than two segments'
     * worth sent after it (the threshold that declares any segment lost).
     * Each round of repairs starts at snd_una, before any new data of the
     * round (from rexmit_round_hi on) goes out; so if snd_una is still
     * below rexmit_round_hi, its repair went before that data and is lost:
     * the round starts again. Repairs of holes found later in the round go
     * again too, sometimes needlessly; a spurious repair costs a segment,
     * a missed one an RTO. */
    if (!p->in_recovery || !seq_gt(p->rexmit_next, p->snd_una) || !seq_lt(p->snd_una, p->rexmit_round_hi))
        return false;
    if (tcp__sacked_in(p, p->rexmit_round_hi, p->snd_max) <= 2u * p->mss)
        return false;
    p->rexmit_next = p->snd_una;
    p->rexmit_round_hi = p->snd_max;
    p->recovery_resent++; /* a real loss, whatever else was late */
    return true;
}
