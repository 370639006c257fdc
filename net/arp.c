/* ARP (RFC 826): a bounded cache with expiry and refresh, a bounded queue
 * of packets waiting for an address, answers to requests for our address,
 * and a gratuitous announcement when the address is set.
 *
 * Entries live for ARP_LIFETIME_NS from the last reply. An entry used when
 * older than ARP_REFRESH_NS is refreshed with a unicast request while it
 * stays in use, so a busy peer never goes through an unresolved gap. A
 * pending entry is asked for ARP_TRIES times, ARP_RETRY_NS apart, by one
 * timer that runs only while something is pending; then it is dropped with
 * its queued packets.
 */
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack_internal.h"
#include "wire_arp.h"

void arp__init(struct net_stack *s)
{
    struct arp_cache *c = &s->arp;
    memset(c->entries, 0, sizeof c->entries);
    c->queue = NULL;
    c->queue_tail = &c->queue;
    c->queue_len = 0;
    net_timer_init(&c->retry_timer);
}

static void drop_queued(struct arp_cache *c, struct arp_queued **link)
{
    struct arp_queued *q = *link;
    *link = q->next;
    if (c->queue_tail == &q->next)
        c->queue_tail = link;
    net_slice_release(&q->pkt);
    free(q);
    c->queue_len--;
}

void arp__destroy(struct net_stack *s)
{
    struct arp_cache *c = &s->arp;
    while (c->queue)
        drop_queued(c, &c->queue);
    net_timer_stop(&c->retry_timer);
}

struct arp_fill {
    struct arp_pkt pkt;
};

static int arp_fill(struct net_slice *payload, void *ctx)
{
    struct arp_fill *f = ctx;
    struct net_wr w = net_wr_of(payload);
    arp_write(&w, 0, &f->pkt);
    return w.bad ? -LWT_EMSGSIZE : ARP_LEN;
}

static void arp_send(struct net_stack *s, uint16_t op, const uint8_t *eth_dst, const uint8_t *tha, uint32_t tpa,
                     uint32_t spa)
{
    struct arp_fill f = {.pkt = {.op = op, .spa = spa, .tpa = tpa}};
    memcpy(f.pkt.sha, s->nif->mac, ETH_ALEN);
    memcpy(f.pkt.tha, tha, ETH_ALEN);
    eth__output(s, eth_dst, ETH_TYPE_ARP, ARP_LEN, NULL, arp_fill, &f);
}

static const uint8_t zero_mac[ETH_ALEN];

static void send_request(struct net_stack *s, uint32_t ip, const uint8_t *unicast_to)
{
    arp_send(s, ARP_OP_REQUEST, unicast_to ? unicast_to : eth_broadcast, zero_mac, ip, s->cfg.addr);
}

void arp__announce(struct net_stack *s)
{
    /* A gratuitous request: sender and target are both our address. */
    if (s->cfg.addr)
        arp_send(s, ARP_OP_REQUEST, eth_broadcast, zero_mac, s->cfg.addr, s->cfg.addr);
}

static struct arp_entry *find(struct arp_cache *c, uint32_t ip)
{
    for (size_t i = 0; i < NET_ARP_CACHE_MAX; i++)
        if (c->entries[i].state != ARP_FREE && c->entries[i].ip == ip)
            return &c->entries[i];
    return NULL;
}

/* A free slot, or the least recently used resolved entry (pending ones have
 * packets waiting and are never evicted). NULL when all are pending. */
static struct arp_entry *slot(struct arp_cache *c)
{
    struct arp_entry *victim = NULL;
    for (size_t i = 0; i < NET_ARP_CACHE_MAX; i++) {
        struct arp_entry *e = &c->entries[i];
        if (e->state == ARP_FREE)
            return e;
        if (e->state == ARP_RESOLVED && (!victim || e->last_used < victim->last_used))
            victim = e;
    }
    return victim;
}

/* Sends every packet queued for ip, now that its MAC is known. */
struct copy_fill {
    const struct net_slice *pkt;
};

static int copy_fill(struct net_slice *payload, void *ctx)
{
    struct copy_fill *f = ctx;
    if (payload->len < f->pkt->len)
        return -LWT_EMSGSIZE;
    memcpy(net_slice_data(payload), net_slice_data(f->pkt), f->pkt->len);
    return (int)f->pkt->len;
}

static void flush_queue(struct net_stack *s, uint32_t ip, const uint8_t *mac)
{
    struct arp_cache *c = &s->arp;
    struct arp_queued **link = &c->queue;
    while (*link) {
        struct arp_queued *q = *link;
        if (q->next_hop != ip) {
            link = &q->next;
            continue;
        }
        struct copy_fill f = {&q->pkt};
        eth__output(s, mac, ETH_TYPE_IP4, q->pkt.len, q->has_off ? &q->off : NULL, copy_fill, &f);
        drop_queued(c, link);
    }
}

static void drop_queue_for(struct net_stack *s, uint32_t ip)
{
    struct arp_cache *c = &s->arp;
    struct arp_queued **link = &c->queue;
    while (*link) {
        if ((*link)->next_hop == ip) {
            s->stats.arp_unresolved++;
            drop_queued(c, link);
        } else {
            link = &(*link)->next;
        }
    }
}

static void arm_retry(struct net_stack *s);

static void retry_fired(void *arg)
{
    struct net_stack *s = arg;
    struct arp_cache *c = &s->arp;
    uint64_t now = sched_now();
    for (size_t i = 0; i < NET_ARP_CACHE_MAX; i++) {
        struct arp_entry *e = &c->entries[i];
        if (e->state != ARP_PENDING || e->next_try > now)
            continue;
        if (e->tries >= ARP_TRIES) {
            drop_queue_for(s, e->ip);
            e->state = ARP_FREE;
            continue;
        }
        e->tries++;
        e->next_try = now + ARP_RETRY_NS;
        send_request(s, e->ip, NULL);
    }
    arm_retry(s);
}

/* One timer for every pending entry, set for the earliest retry. */
static void arm_retry(struct net_stack *s)
{
    struct arp_cache *c = &s->arp;
    if (net_timer_armed(&c->retry_timer))
        return;
    uint64_t first = UINT64_MAX;
    for (size_t i = 0; i < NET_ARP_CACHE_MAX; i++)
        if (c->entries[i].state == ARP_PENDING && c->entries[i].next_try < first)
            first = c->entries[i].next_try;
    if (first == UINT64_MAX)
        return;
    net_timer_start(&c->retry_timer, first, retry_fired, s);
}

bool arp__lookup(struct net_stack *s, uint32_t ip, uint8_t mac[ETH_ALEN])
{
    struct arp_cache *c = &s->arp;
    uint64_t now = sched_now();
    struct arp_entry *e = find(c, ip);
    if (e && e->state == ARP_RESOLVED && now < e->expires) {
        memcpy(mac, e->mac, ETH_ALEN);
        e->last_used = now;
        if (!e->refreshing && now + (ARP_LIFETIME_NS - ARP_REFRESH_NS) >= e->expires) {
            e->refreshing = true;
            send_request(s, ip, e->mac);
        }
        return true;
    }
    if (e && e->state == ARP_PENDING)
        return false;
    if (!e && !(e = slot(c)))
        return false; /* every slot is resolving: the packet waits or drops */
    *e = (struct arp_entry){
        .ip = ip, .state = ARP_PENDING, .tries = 1, .next_try = now + ARP_RETRY_NS, .last_used = now};
    send_request(s, ip, NULL);
    arm_retry(s);
    return false;
}

void arp__queue(struct net_stack *s, uint32_t next_hop, struct net_slice pkt, const struct netif_tx_offload *off)
{
    struct arp_cache *c = &s->arp;
    struct arp_entry *e = find(c, next_hop);
    struct arp_queued *q = NULL;
    if (!e || e->state != ARP_PENDING || c->queue_len >= NET_ARP_QUEUE_MAX || !(q = malloc(sizeof *q))) {
        s->stats.arp_queue_dropped++;
        net_slice_release(&pkt);
        return;
    }
    q->next = NULL;
    q->next_hop = next_hop;
    q->pkt = pkt;
    q->has_off = off != NULL;
    if (off)
        q->off = *off;
    *c->queue_tail = q;
    c->queue_tail = &q->next;
    c->queue_len++;
}

/* Records ip -> mac. `create`: also when we have no entry (the sender asked
 * us something, so it will talk to us). */
static void learn(struct net_stack *s, uint32_t ip, const uint8_t *mac, bool create)
{
    struct arp_cache *c = &s->arp;
    struct arp_entry *e = find(c, ip);
    if (!e) {
        if (!create || !(e = slot(c)))
            return;
        *e = (struct arp_entry){.ip = ip};
    }
    bool was_pending = e->state == ARP_PENDING;
    uint64_t now = sched_now();
    memcpy(e->mac, mac, ETH_ALEN);
    e->state = ARP_RESOLVED;
    e->refreshing = false;
    e->expires = now + ARP_LIFETIME_NS;
    e->last_used = now;
    if (was_pending)
        flush_queue(s, ip, mac);
}

void arp__input(struct net_stack *s, struct net_slice *pkt)
{
    struct arp_pkt a;
    s->stats.arp_in++;
    if (arp_parse(pkt, &a) < 0 || eth_is_group(a.sha)) {
        s->stats.arp_bad++;
        return;
    }
    uint32_t me = s->cfg.addr;
    if (a.spa == 0 || (me && a.spa == me))
        return; /* probes, and our own announcements echoed back */
    /* Without an address we answer nothing, but a reply still completes a
     * resolution that was under way (a packet queued before the address
     * went away still goes out). */
    bool for_us = me && a.tpa == me;
    learn(s, a.spa, a.sha, for_us);
    if (for_us && a.op == ARP_OP_REQUEST) {
        arp_send(s, ARP_OP_REPLY, a.sha, a.sha, a.spa, me);
        s->stats.arp_requests_answered++;
    }
}
