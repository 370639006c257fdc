/* ICMP: echo replies, and destination-unreachable errors for the layers
 * above (closed UDP ports, unknown protocols) under a token-bucket rate
 * limit, as RFC 1812 §4.3.2.8 asks of hosts that send errors. */
#include "lwt_errno.h"
#include "net_csum.h"
#include "scheduler.h"
#include "stack_internal.h"
#include "wire_icmp.h"

static void send_icmp(struct net_stack *s, uint32_t dst, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *body,
                      size_t body_len)
{
    uint8_t hdr[ICMP_HDR_LEN];
    struct net_wr w = net_wr_mem(hdr, sizeof hdr);
    net_put_u8(&w, ICMP_OFF_TYPE, type);
    net_put_u8(&w, ICMP_OFF_CODE, code);
    net_put_be16(&w, ICMP_OFF_CSUM, 0);
    net_put_be32(&w, ICMP_OFF_ID, rest);
    /* The checksum covers the body too; its parts are contiguous only in
     * the frame, so sum them here (the header is even-sized). */
    uint32_t sum = net_csum_add(net_csum_add(0, hdr, sizeof hdr), body, body_len);
    net_put_be16(&w, ICMP_OFF_CSUM, net_csum_fold(sum));
    struct ip4_payload p = {{hdr, body}, {sizeof hdr, body_len}, NULL};
    ip4__output(s, 0, dst, IP4_PROTO_ICMP, &p);
}

void icmp__input(struct net_stack *s, const struct ip4_hdr *ip, struct net_slice *msg)
{
    struct icmp_hdr h;
    s->stats.icmp_in++;
    if (icmp_parse(msg, &h) < 0) {
        s->stats.icmp_bad++;
        return;
    }
    /* Echo requests to a broadcast address go unanswered (smurf attacks). */
    if (h.type == ICMP_ECHO_REQUEST && h.code == 0 && ip->dst == s->cfg.addr) {
        send_icmp(s, ip->src, ICMP_ECHO_REPLY, 0, h.rest, net_slice_data(msg) + ICMP_HDR_LEN, msg->len - ICMP_HDR_LEN);
        s->stats.icmp_echo_answered++;
    }
}

static bool take_token(struct net_stack *s)
{
    struct icmp_state *st = &s->icmp;
    uint64_t now = sched_now();
    uint64_t per = SCHED_NS_PER_S / ICMP_ERRORS_PER_S;
    if (now - st->tokens_at >= per) {
        uint64_t add = (now - st->tokens_at) / per;
        st->tokens = add >= ICMP_ERROR_BURST || st->tokens + add >= ICMP_ERROR_BURST ? ICMP_ERROR_BURST
                                                                                     : st->tokens + (uint32_t)add;
        st->tokens_at += add * per;
    }
    if (!st->tokens)
        return false;
    st->tokens--;
    return true;
}

void icmp__send_unreach(struct net_stack *s, const struct ip4_hdr *h, const uint8_t *orig, size_t orig_len,
                        uint8_t code)
{
    if (h->frag_off || ip4__is_local_broadcast(s, h->dst) || h->src == 0 || ip4__is_local_broadcast(s, h->src))
        return;
    if (h->proto == IP4_PROTO_ICMP) {
        /* Never about an ICMP error; about an echo request it is allowed. */
        if (orig_len <= h->hlen || orig[h->hlen] != ICMP_ECHO_REQUEST)
            return;
    }
    if (!take_token(s)) {
        s->stats.icmp_rate_limited++;
        return;
    }
    send_icmp(s, h->src, ICMP_UNREACH, code, 0, orig, orig_len);
    s->stats.icmp_unreach_sent++;
}
