/* See wire_eth.h. */
#include "wire_eth.h"

#include "lwt_errno.h"

const uint8_t eth_broadcast[ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

int eth_parse(const struct net_slice *frame, struct eth_hdr *h)
{
    struct net_rd r = net_rd_of(frame);
    net_rd_bytes(&r, ETH_OFF_DST, h->dst, ETH_ALEN);
    net_rd_bytes(&r, ETH_OFF_SRC, h->src, ETH_ALEN);
    h->type = net_be16(&r, ETH_OFF_TYPE);
    return r.bad ? -LWT_EBADMSG : 0;
}

void eth_write(struct net_wr *w, size_t off, const struct eth_hdr *h)
{
    net_put_bytes(w, off + ETH_OFF_DST, h->dst, ETH_ALEN);
    net_put_bytes(w, off + ETH_OFF_SRC, h->src, ETH_ALEN);
    net_put_be16(w, off + ETH_OFF_TYPE, h->type);
}
