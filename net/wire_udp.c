/* See wire_udp.h. */
#include "wire_udp.h"

#include "lwt_errno.h"
#include "net_csum.h"
#include "wire_ip4.h"

int udp_parse(const struct net_slice *dgram, uint32_t src, uint32_t dst, struct udp_hdr *h)
{
    struct net_rd r = net_rd_of(dgram);
    h->sport = net_be16(&r, UDP_OFF_SPORT);
    h->dport = net_be16(&r, UDP_OFF_DPORT);
    h->len = net_be16(&r, UDP_OFF_LEN);
    uint16_t csum = net_be16(&r, UDP_OFF_CSUM);
    if (r.bad || h->len < UDP_HDR_LEN || h->len > dgram->len)
        return -LWT_EBADMSG;
    /* A zero checksum means the sender computed none (allowed over IPv4). */
    if (csum != 0) {
        uint32_t sum = net_csum_pseudo(src, dst, IP4_PROTO_UDP, h->len);
        if (net_csum_fold(net_csum_add(sum, r.p, h->len)) != 0)
            return -LWT_EBADMSG;
    }
    return 0;
}

void udp_write(struct net_wr *w, size_t off, uint32_t src, uint32_t dst, const struct udp_hdr *h)
{
    net_put_be16(w, off + UDP_OFF_SPORT, h->sport);
    net_put_be16(w, off + UDP_OFF_DPORT, h->dport);
    net_put_be16(w, off + UDP_OFF_LEN, h->len);
    net_put_be16(w, off + UDP_OFF_CSUM, 0);
    if (!net_wr_has(w, off, h->len))
        return;
    uint32_t sum = net_csum_add(net_csum_pseudo(src, dst, IP4_PROTO_UDP, h->len), w->p + off, h->len);
    uint16_t c = net_csum_fold(sum);
    net_put_be16(w, off + UDP_OFF_CSUM, c ? c : 0xffff);
}
