/* See wire_arp.h. */
#include "wire_arp.h"

#include "lwt_errno.h"

int arp_parse(const struct net_slice *pkt, struct arp_pkt *a)
{
    struct net_rd r = net_rd_of(pkt);
    uint16_t htype = net_be16(&r, ARP_OFF_HTYPE);
    uint16_t ptype = net_be16(&r, ARP_OFF_PTYPE);
    uint8_t hlen = net_u8(&r, ARP_OFF_HLEN);
    uint8_t plen = net_u8(&r, ARP_OFF_PLEN);
    a->op = net_be16(&r, ARP_OFF_OP);
    net_rd_bytes(&r, ARP_OFF_SHA, a->sha, ETH_ALEN);
    a->spa = net_be32(&r, ARP_OFF_SPA);
    net_rd_bytes(&r, ARP_OFF_THA, a->tha, ETH_ALEN);
    a->tpa = net_be32(&r, ARP_OFF_TPA);
    if (r.bad || htype != ARP_HTYPE_ETHER || ptype != ETH_TYPE_IP4 || hlen != ETH_ALEN || plen != 4)
        return -LWT_EBADMSG;
    if (a->op != ARP_OP_REQUEST && a->op != ARP_OP_REPLY)
        return -LWT_EBADMSG;
    return 0;
}

void arp_write(struct net_wr *w, size_t off, const struct arp_pkt *a)
{
    net_put_be16(w, off + ARP_OFF_HTYPE, ARP_HTYPE_ETHER);
    net_put_be16(w, off + ARP_OFF_PTYPE, ETH_TYPE_IP4);
    net_put_u8(w, off + ARP_OFF_HLEN, ETH_ALEN);
    net_put_u8(w, off + ARP_OFF_PLEN, 4);
    net_put_be16(w, off + ARP_OFF_OP, a->op);
    net_put_bytes(w, off + ARP_OFF_SHA, a->sha, ETH_ALEN);
    net_put_be32(w, off + ARP_OFF_SPA, a->spa);
    net_put_bytes(w, off + ARP_OFF_THA, a->tha, ETH_ALEN);
    net_put_be32(w, off + ARP_OFF_TPA, a->tpa);
}
