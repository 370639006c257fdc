/* See wire_ip4.h. */
#include "wire_ip4.h"

#include <stdio.h>

#include "lwt_errno.h"
#include "net_csum.h"

int ip4_parse(const struct net_slice *pkt, struct ip4_hdr *h)
{
    struct net_rd r = net_rd_of(pkt);
    uint8_t vi = net_u8(&r, IP4_OFF_VER_IHL);
    h->hlen = (uint8_t)((vi & 0x0f) * 4);
    h->tos = net_u8(&r, IP4_OFF_TOS);
    h->total_len = net_be16(&r, IP4_OFF_LEN);
    h->id = net_be16(&r, IP4_OFF_ID);
    uint16_t frag = net_be16(&r, IP4_OFF_FRAG);
    h->df = frag & IP4_FLAG_DF;
    h->mf = frag & IP4_FLAG_MF;
    h->frag_off = (uint16_t)((frag & IP4_FRAG_MASK) * 8);
    h->ttl = net_u8(&r, IP4_OFF_TTL);
    h->proto = net_u8(&r, IP4_OFF_PROTO);
    h->src = net_be32(&r, IP4_OFF_SRC);
    h->dst = net_be32(&r, IP4_OFF_DST);
    if (r.bad || vi >> 4 != 4 || h->hlen < IP4_HDR_MIN || !net_rd_has(&r, 0, h->hlen))
        return -LWT_EBADMSG;
    if (h->total_len < h->hlen || h->total_len > pkt->len)
        return -LWT_EBADMSG;
    /* The reserved flag bit must be zero; a fragment must not reach past
     * the largest datagram. */
    if ((frag & 0x8000) || (uint32_t)h->frag_off + (h->total_len - h->hlen) > IP4_MAX_PACKET)
        return -LWT_EBADMSG;
    if (net_csum_fold(net_csum_add(0, r.p, h->hlen)) != 0)
        return -LWT_EBADMSG;
    return 0;
}

void ip4_write(struct net_wr *w, size_t off, const struct ip4_hdr *h)
{
    net_put_u8(w, off + IP4_OFF_VER_IHL, 0x45);
    net_put_u8(w, off + IP4_OFF_TOS, h->tos);
    net_put_be16(w, off + IP4_OFF_LEN, h->total_len);
    net_put_be16(w, off + IP4_OFF_ID, h->id);
    uint16_t frag = (uint16_t)((h->df ? IP4_FLAG_DF : 0) | (h->mf ? IP4_FLAG_MF : 0) | (h->frag_off / 8));
    net_put_be16(w, off + IP4_OFF_FRAG, frag);
    net_put_u8(w, off + IP4_OFF_TTL, h->ttl);
    net_put_u8(w, off + IP4_OFF_PROTO, h->proto);
    net_put_be16(w, off + IP4_OFF_CSUM, 0);
    net_put_be32(w, off + IP4_OFF_SRC, h->src);
    net_put_be32(w, off + IP4_OFF_DST, h->dst);
    if (net_wr_has(w, off, IP4_HDR_MIN))
        net_put_be16(w, off + IP4_OFF_CSUM, net_csum_fold(net_csum_add(0, w->p + off, IP4_HDR_MIN)));
}

const char *ip4_ntoa(uint32_t a, char *buf)
{
    snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16 & 255), (unsigned)(a >> 8 & 255),
             (unsigned)(a & 255));
    return buf;
}

int ip4_aton(const char *text, uint32_t *addr)
{
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        if (*text < '0' || *text > '9')
            return -LWT_EINVAL;
        unsigned v = 0;
        int digits = 0;
        while (*text >= '0' && *text <= '9') {
            v = v * 10 + (unsigned)(*text++ - '0');
            if (++digits > 3 || v > 255)
                return -LWT_EINVAL;
        }
        a = a << 8 | v;
        if (part < 3 && *text++ != '.')
            return -LWT_EINVAL;
    }
    if (*text)
        return -LWT_EINVAL;
    *addr = a;
    return 0;
}
