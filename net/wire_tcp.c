/* See wire_tcp.h. */
#include "wire_tcp.h"

#include "lwt_errno.h"
#include "net_csum.h"
#include "wire_ip4.h"

static int parse_options(struct net_rd *r, size_t end, struct tcp_hdr *h)
{
    size_t i = TCP_HDR_MIN;
    while (i < end) {
        uint8_t kind = net_u8(r, i);
        if (kind == TCP_OPT_EOL)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= end)
            return -LWT_EBADMSG;
        uint8_t len = net_u8(r, i + 1);
        if (len < 2 || i + len > end)
            return -LWT_EBADMSG;
        switch (kind) {
        case TCP_OPT_MSS:
            if (len != 4)
                return -LWT_EBADMSG;
            h->has_mss = true;
            h->mss = net_be16(r, i + 2);
            break;
        case TCP_OPT_WSCALE:
            if (len != 3)
                return -LWT_EBADMSG;
            h->has_wscale = true;
            h->wscale = net_u8(r, i + 2);
            if (h->wscale > TCP_MAX_WSCALE)
                h->wscale = TCP_MAX_WSCALE; /* RFC 7323 §2.3 */
            break;
        case TCP_OPT_SACK_PERM:
            if (len != 2)
                return -LWT_EBADMSG;
            h->sack_perm = true;
            break;
        case TCP_OPT_SACK:
            if ((len - 2) % 8)
                return -LWT_EBADMSG;
            for (size_t k = 0; k < (size_t)(len - 2) / 8 && h->nsack < TCP_MAX_SACK; k++) {
                h->sack[h->nsack].left = net_be32(r, i + 2 + 8 * k);
                h->sack[h->nsack].right = net_be32(r, i + 6 + 8 * k);
                h->nsack++;
            }
            break;
        case TCP_OPT_TS:
            if (len != 10)
                return -LWT_EBADMSG;
            h->has_ts = true;
            h->tsval = net_be32(r, i + 2);
            h->tsecr = net_be32(r, i + 6);
            break;
        default:
            break; /* unknown: skipped by its length */
        }
        i += len;
    }
    return r->bad ? -LWT_EBADMSG : 0;
}

int tcp_parse(const struct net_slice *seg, uint32_t src, uint32_t dst, struct tcp_hdr *h)
{
    memset(h, 0, sizeof *h);
    struct net_rd r = net_rd_of(seg);
    h->sport = net_be16(&r, TCP_OFF_SPORT);
    h->dport = net_be16(&r, TCP_OFF_DPORT);
    h->seq = net_be32(&r, TCP_OFF_SEQ);
    h->ack = net_be32(&r, TCP_OFF_ACK);
    h->hlen = (uint8_t)((net_u8(&r, TCP_OFF_DOFF) >> 4) * 4);
    h->flags = net_u8(&r, TCP_OFF_FLAGS);
    h->win = net_be16(&r, TCP_OFF_WIN);
    if (r.bad || h->hlen < TCP_HDR_MIN || h->hlen > seg->len || seg->len > 0xffff)
        return -LWT_EBADMSG;
    uint32_t sum = net_csum_pseudo(src, dst, IP4_PROTO_TCP, (uint16_t)seg->len);
    if (net_csum_fold(net_csum_add(sum, r.p, seg->len)) != 0)
        return -LWT_EBADMSG;
    return parse_options(&r, h->hlen, h);
}

size_t tcp_write_hdr(uint8_t *out, const struct tcp_hdr *h)
{
    struct net_wr w = net_wr_mem(out, TCP_HDR_MAX);
    size_t o = TCP_HDR_MIN;
    if (h->has_mss) {
        net_put_u8(&w, o, TCP_OPT_MSS);
        net_put_u8(&w, o + 1, 4);
        net_put_be16(&w, o + 2, h->mss);
        o += 4;
    }
    if (h->sack_perm && h->has_ts) {
        /* The usual SYN layout: SACK-permitted folded into the timestamp's
         * leading padding. */
        net_put_u8(&w, o, TCP_OPT_SACK_PERM);
        net_put_u8(&w, o + 1, 2);
        o += 2;
        net_put_u8(&w, o, TCP_OPT_TS);
        net_put_u8(&w, o + 1, 10);
        net_put_be32(&w, o + 2, h->tsval);
        net_put_be32(&w, o + 6, h->tsecr);
        o += 10;
    } else {
        if (h->sack_perm) {
            net_put_u8(&w, o, TCP_OPT_NOP);
            net_put_u8(&w, o + 1, TCP_OPT_NOP);
            net_put_u8(&w, o + 2, TCP_OPT_SACK_PERM);
            net_put_u8(&w, o + 3, 2);
            o += 4;
        }
        if (h->has_ts) {
            net_put_u8(&w, o, TCP_OPT_NOP);
            net_put_u8(&w, o + 1, TCP_OPT_NOP);
            net_put_u8(&w, o + 2, TCP_OPT_TS);
            net_put_u8(&w, o + 3, 10);
            net_put_be32(&w, o + 4, h->tsval);
            net_put_be32(&w, o + 8, h->tsecr);
            o += 12;
        }
    }
    if (h->has_wscale) {
        net_put_u8(&w, o, TCP_OPT_NOP);
        net_put_u8(&w, o + 1, TCP_OPT_WSCALE);
        net_put_u8(&w, o + 2, 3);
        net_put_u8(&w, o + 3, h->wscale);
        o += 4;
    }
    /* As many SACK blocks as fit in the 40 bytes of options. */
    size_t room = (TCP_HDR_MAX - o - 4) / 8;
    size_t n = h->nsack < room ? h->nsack : room;
    if (n) {
        net_put_u8(&w, o, TCP_OPT_NOP);
        net_put_u8(&w, o + 1, TCP_OPT_NOP);
        net_put_u8(&w, o + 2, TCP_OPT_SACK);
        net_put_u8(&w, o + 3, (uint8_t)(2 + 8 * n));
        for (size_t k = 0; k < n; k++) {
            net_put_be32(&w, o + 4 + 8 * k, h->sack[k].left);
            net_put_be32(&w, o + 8 + 8 * k, h->sack[k].right);
        }
        o += 4 + 8 * n;
    }
    net_put_be16(&w, TCP_OFF_SPORT, h->sport);
    net_put_be16(&w, TCP_OFF_DPORT, h->dport);
    net_put_be32(&w, TCP_OFF_SEQ, h->seq);
    net_put_be32(&w, TCP_OFF_ACK, h->ack);
    net_put_u8(&w, TCP_OFF_DOFF, (uint8_t)(o / 4) << 4);
    net_put_u8(&w, TCP_OFF_FLAGS, h->flags);
    net_put_be16(&w, TCP_OFF_WIN, h->win);
    net_put_be16(&w, TCP_OFF_CSUM, 0);
    net_put_be16(&w, TCP_OFF_URP, 0);
    return o;
}
