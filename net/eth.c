/* Ethernet: the first layer up from the netif. Keeps frames addressed to
 * our MAC or to broadcast, and hands them to ARP or IPv4 by EtherType. */
#include "lwt_errno.h"
#include "stack_internal.h"

void eth__input(void *ctx, struct net_slice frame)
{
    struct net_stack *s = ctx;
    struct eth_hdr h;
    s->stats.eth_in++;
    if (eth_parse(&frame, &h) < 0) {
        s->stats.eth_bad++;
    } else if (!eth_addr_eq(h.dst, s->nif->mac) && !eth_addr_eq(h.dst, eth_broadcast)) {
        s->stats.eth_not_for_us++; /* other hosts' unicast, multicast we did not join */
    } else {
        net_slice_pull(&frame, ETH_HDR_LEN);
        if (h.type == ETH_TYPE_ARP)
            arp__input(s, &frame);
        else if (h.type == ETH_TYPE_IP4)
            ip4__input(s, &frame);
        else
            s->stats.eth_unknown_type++;
    }
    net_slice_release(&frame);
}

struct eth_fill {
    const uint8_t *dst;
    const uint8_t *src;
    uint16_t type;
    netif_fill_fn inner;
    void *inner_ctx;
};

static int eth_fill(struct net_slice *frame, void *ctx)
{
    struct eth_fill *f = ctx;
    struct net_wr w = net_wr_of(frame);
    struct eth_hdr h;
    memcpy(h.dst, f->dst, ETH_ALEN);
    memcpy(h.src, f->src, ETH_ALEN);
    h.type = f->type;
    eth_write(&w, 0, &h);
    if (w.bad)
        return -LWT_EMSGSIZE;
    struct net_slice payload = *frame;
    net_slice_pull(&payload, ETH_HDR_LEN);
    int n = f->inner(&payload, f->inner_ctx);
    if (n < 0)
        return n;
    /* Pad to the minimum frame, as a NIC would. */
    size_t len = ETH_HDR_LEN + (size_t)n;
    if (len < ETH_MIN_LEN && frame->len >= ETH_MIN_LEN) {
        memset(net_slice_data(frame) + len, 0, ETH_MIN_LEN - len);
        len = ETH_MIN_LEN;
    }
    return (int)len;
}

int eth__output(struct net_stack *s, const uint8_t dst[ETH_ALEN], uint16_t type, size_t payload_len,
                const struct netif_tx_offload *off, netif_fill_fn fill, void *ctx)
{
    struct eth_fill f = {dst, s->nif->mac, type, fill, ctx};
    size_t size = ETH_HDR_LEN + payload_len;
    if (size < ETH_MIN_LEN)
        size = ETH_MIN_LEN;
    if (!off)
        return netif_write(s->nif, size, eth_fill, &f);
    /* The layers above count from their own header; the device from ours. */
    struct netif_tx_offload o = *off;
    if (o.gso_size)
        o.hdr_len = (uint16_t)(o.hdr_len + ETH_HDR_LEN);
    if (o.csum_partial)
        o.csum_start = (uint16_t)(o.csum_start + ETH_HDR_LEN);
    return netif_write_offload(s->nif, size, &o, eth_fill, &f);
}
