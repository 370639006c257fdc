/* IPv4: validation and delivery of incoming packets (reassembling
 * fragments), routing and fragmentation of outgoing ones.
 *
 * Outgoing datagrams are written straight into the netif's frame when the
 * next hop's MAC is known; otherwise each fragment is built in a buffer of
 * its own and queued with ARP until the address resolves. A packet the
 * netif is to finish (TCP's offloads) is never fragmented: a TSO packet
 * bigger than the MTU goes as one, and the netif cuts it into segments.
 */
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack_internal.h"

#define IP4_TTL 64

bool ip4__is_local_broadcast(const struct net_stack *s, uint32_t dst)
{
    if (dst == IP4_BROADCAST)
        return true;
    const struct ip4_config *c = &s->cfg;
    return c->addr && c->netmask != 0xffffffffu && (dst & ~c->netmask) == ~c->netmask &&
           (dst & c->netmask) == (c->addr & c->netmask);
}

static void deliver(struct net_stack *s, const struct ip4_hdr *h, const uint8_t *hdr_bytes, struct net_slice *payload)
{
    switch (h->proto) {
    case IP4_PROTO_ICMP:
        icmp__input(s, h, payload);
        break;
    case IP4_PROTO_UDP:
        udp__input(s, h, hdr_bytes, payload);
        break;
    case IP4_PROTO_TCP:
        if (h->dst == s->cfg.addr)
            tcp__input(s, h, payload);
        else
            s->stats.ip_not_for_us++;
        break;
    default:
        s->stats.ip_unknown_proto++;
        /* hdr_bytes is NULL for a reassembled datagram: no error then. */
        if (hdr_bytes && h->dst == s->cfg.addr) {
            size_t n = h->hlen + (payload->len < 8 ? payload->len : 8);
            icmp__send_unreach(s, h, hdr_bytes, n, ICMP_UNREACH_PROTO);
        }
        break;
    }
}

void ip4__input(struct net_stack *s, struct net_slice *pkt)
{
    struct ip4_hdr h;
    s->stats.ip_in++;
    if (ip4_parse(pkt, &h) < 0) {
        s->stats.ip_bad++;
        return;
    }
    net_slice_trim(pkt, h.total_len); /* link padding */
    bool ours = s->cfg.addr ? h.dst == s->cfg.addr || ip4__is_local_broadcast(s, h.dst)
                            : h.proto == IP4_PROTO_UDP; /* a DHCP client's offers */
    if (!ours) {
        s->stats.ip_not_for_us++;
        return;
    }
    if (ip4_is_fragment(&h)) {
        struct net_slice whole;
        struct net_slice frag = net_slice_share(pkt);
        if (ip4_reasm__input(s, &h, &frag, &whole) == 1) {
            deliver(s, &h, NULL, &whole);
            net_slice_release(&whole);
        }
        return;
    }
    /* The header stays readable in front of the payload for ICMP errors. */
    const uint8_t *hdr_bytes = net_slice_data(pkt);
    struct net_slice payload = *pkt;
    net_slice_pull(&payload, h.hlen);
    deliver(s, &h, hdr_bytes, &payload);
}

/* ---- Output --------------------------------------------------------------- */

/* Copies bytes [off, off + n) of the payload's concatenated parts to dst. */
static void payload_copy(const struct ip4_payload *p, size_t off, size_t n, uint8_t *dst)
{
    for (int i = 0; i < IP4_PAYLOAD_PARTS && n; i++) {
        if (off >= p->len[i]) {
            off -= p->len[i];
            continue;
        }
        size_t take = p->len[i] - off < n ? p->len[i] - off : n;
        memcpy(dst, p->part[i] + off, take);
        dst += take;
        n -= take;
        off = 0;
    }
}

struct frag_fill {
    struct ip4_hdr h;
    const struct ip4_payload *p;
    size_t off, len; /* this fragment's range of the payload */
    size_t tail;     /* its last bytes, which the netif takes from the payload itself */
};

static int frag_fill(struct net_slice *out, void *ctx)
{
    struct frag_fill *f = ctx;
    struct net_wr w = net_wr_of(out);
    size_t n = IP4_HDR_MIN + f->len - f->tail;
    if (!net_wr_has(&w, 0, n))
        return -LWT_EMSGSIZE;
    ip4_write(&w, 0, &f->h);
    payload_copy(f->p, f->off, f->len - f->tail, w.p + IP4_HDR_MIN);
    return (int)n;
}

/* The next hop for dst, or 0 with no route. */
static uint32_t route(const struct net_stack *s, uint32_t dst)
{
    const struct ip4_config *c = &s->cfg;
    if ((dst & c->netmask) == (c->addr & c->netmask))
        return dst;
    return c->gateway;
}

int ip4__output(struct net_stack *s, uint32_t src, uint32_t dst, uint8_t proto, const struct ip4_payload *p)
{
    size_t total = ip4_payload_len(p);
    if (total > IP4_MAX_PACKET - IP4_HDR_MIN)
        return -LWT_EMSGSIZE;
    /* An offloaded packet is finished by the netif, and a TSO one goes
     * whole: cut into fragments, neither could be. */
    const struct netif_tx_offload *tx = p->off;
    struct netif_tx_offload o;
    if (tx) {
        const struct netif *n = s->nif;
        bool tso = tx->gso_size && IP4_HDR_MIN + total > n->mtu;
        if ((tx->csum_partial && !n->tx_csum) || (!tx->gso_size && IP4_HDR_MIN + total > n->mtu) ||
            (tso && IP4_HDR_MIN + total > n->tso_max))
            return -LWT_EINVAL;
        o = *tx;
        o.tail_len[0] = o.tail_len[1] = 0; /* ours to set */
        if (!tso)
            o.gso_size = o.hdr_len = 0; /* it fits in one frame as it is */
        else
            o.hdr_len = (uint16_t)(o.hdr_len + IP4_HDR_MIN);
        if (o.csum_partial)
            o.csum_start = (uint16_t)(o.csum_start + IP4_HDR_MIN);
        tx = o.gso_size || o.csum_partial ? &o : NULL;
    }
    if (!src)
        src = s->cfg.addr;
    uint8_t mac[ETH_ALEN];
    uint32_t next_hop = 0;
    bool resolved;
    if (ip4__is_local_broadcast(s, dst)) {
        memcpy(mac, eth_broadcast, ETH_ALEN);
        resolved = true;
    } else {
        if (!s->cfg.addr)
            return -LWT_EADDRNOTAVAIL;
        if (!(next_hop = route(s, dst)))
            return -LWT_ENETUNREACH;
        resolved = arp__lookup(s, next_hop, mac);
    }
    /* Every fragment but the last carries a multiple of 8 bytes. */
    size_t max = tx ? total : (size_t)s->nif->mtu - IP4_HDR_MIN;
    if (total > max)
        max &= ~(size_t)7;
    struct frag_fill f = {
        .h = {.hlen = IP4_HDR_MIN, .ttl = IP4_TTL, .proto = proto, .src = src, .dst = dst, .id = s->ip_id++}, .p = p};
    size_t off = 0;
    do {
        f.off = off;
        f.len = total - off < max ? total - off : max;
        f.h.frag_off = (uint16_t)off;
        f.h.mf = off + f.len < total;
        f.h.total_len = (uint16_t)(IP4_HDR_MIN + f.len);
        int rc = 0;
        if (resolved) {
            /* A TSO packet's data (the parts after the first, the upper
             * layer's header) goes from where it is to the netif. */
            if (tx && tx->gso_size && (p->len[1] || p->len[2])) {
                o.tail[0] = p->part[1];
                o.tail[1] = p->part[2];
                o.tail_len[0] = (uint32_t)p->len[1];
                o.tail_len[1] = (uint32_t)p->len[2];
                f.tail = p->len[1] + p->len[2];
            }
            rc = eth__output(s, mac, ETH_TYPE_IP4, IP4_HDR_MIN + f.len, tx, frag_fill, &f);
        } else {
            struct net_slice pkt;
            if (net_slice_alloc(&pkt, ETH_HDR_LEN, IP4_HDR_MIN + f.len) < 0)
                return -LWT_ENOBUFS;
            frag_fill(&pkt, &f);
            arp__queue(s, next_hop, pkt, tx);
        }
        if (rc < 0)
            return rc;
        s->stats.ip_out++;
        if (f.h.mf || off)
            s->stats.ip_out_fragments++;
        off += f.len;
    } while (off < total);
    return 0;
}
