/* See hub.h. Frames in flight wait in one queue sorted by (delivery time,
 * sequence number); one scheduler timer is armed for the head. */
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "lwt_errno.h"
#include "net_csum.h"
#include "net_fault_draw.h"
#include "pcap.h"
#include "scheduler.h"
#include "wire_eth.h"
#include "wire_ip4.h"
#include "wire_tcp.h"

static struct log_source hub_log = LOG_SOURCE("hub");

struct hub_port;

/* One frame in flight. */
struct hub_frame {
    struct hub_frame *prev, *next; /* the queue */
    uint64_t at;                   /* delivery time */
    uint64_t base_at;              /* delivery time before any hold */
    uint64_t seq;                  /* breaks ties in write order */
    struct net_slice frame;        /* owned */
    struct hub_port *from;         /* not delivered back to it */
    uint8_t copies;                /* 2 when duplicated */
};

struct hub_port {
    struct netif netif; /* first: the netif pointer is the port pointer */
    struct net_hub *hub;
    struct hub_port *next; /* in the order added */
    netif_rx_fn rx;
    void *rx_ctx;
    struct hub_frame *held; /* this port's frame held for reordering */
    bool own_faults;
    struct net_hub_faults faults; /* when own_faults */
};

/* The armed timer. Separate from the hub so that a cancelled one whose hook
 * runs later (deferred) never touches a freed hub: hub is NULL then. */
struct hub_timer {
    struct lwt_hook hook;
    struct net_hub *hub;
    lwt_t *sleep; /* owned */
    uint64_t deadline;
};

struct net_hub {
    struct hub_port *ports, *ports_tail;
    struct hub_frame *head, *tail;
    size_t in_flight;
    uint64_t next_seq;
    uint64_t rng;
    struct net_hub_faults faults;
    struct net_hub_stats stats;
    struct hub_timer *timer; /* NULL when none is armed */
    struct net_pcap *pcap;   /* borrowed */
    bool warned_full;
};

static const struct netif_ops hub_ops;

static uint64_t next_random(struct net_hub *h)
{
    return net_splitmix(&h->rng);
}

/* ---- The queue ---------------------------------------------------------- */

static bool before(const struct hub_frame *a, const struct hub_frame *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Inserts in order, scanning from the tail: frames mostly arrive in order. */
static void enqueue(struct net_hub *h, struct hub_frame *f)
{
    struct hub_frame *after = h->tail;
    while (after && before(f, after))
        after = after->prev;
    f->prev = after;
    f->next = after ? after->next : h->head;
    if (f->next)
        f->next->prev = f;
    else
        h->tail = f;
    if (after)
        after->next = f;
    else
        h->head = f;
}

static void unlink_frame(struct net_hub *h, struct hub_frame *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        h->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        h->tail = f->prev;
    f->prev = f->next = NULL;
}

static void free_frame(struct net_hub *h, struct hub_frame *f)
{
    if (f->from->held == f)
        f->from->held = NULL;
    net_slice_release(&f->frame);
    free(f);
    h->in_flight--;
}

/* ---- The timer ---------------------------------------------------------- */

static void deliver_due(struct net_hub *h);
static void rearm(struct net_hub *h);

static void timer_settled(struct lwt_hook *hook, lwt_t *settled)
{
    struct hub_timer *t = (struct hub_timer *)hook;
    struct net_hub *h = t->hub;
    int err = lwt_error(settled);
    lwt_unref(t->sleep); /* the library holds settled while hooks run */
    free(t);
    if (!h)
        return; /* cancelled */
    h->timer = NULL;
    if (err) {
        /* No memory for the timer, or the scheduler is going away
         * (-LWT_EBROKEN, not worth a warning): the frames wait for the next
         * write to arm one. */
        if (err != -LWT_EBROKEN)
            log_warn(&hub_log, "delivery timer failed: %s", lwt_strerror(err));
        return;
    }
    deliver_due(h);
    rearm(h);
}

static void cancel_timer(struct net_hub *h)
{
    struct hub_timer *t = h->timer;
    if (!t)
        return;
    h->timer = NULL;
    t->hub = NULL;
    lwt_cancel(t->sleep); /* frees the scheduler's timer; our hook frees t */
}

/* Makes sure a timer fires no later than the head of the queue is due. */
static void rearm(struct net_hub *h)
{
    if (!h->head || (h->timer && h->timer->deadline <= h->head->at))
        return;
    cancel_timer(h);
    struct hub_timer *t = malloc(sizeof *t);
    if (!t) {
        log_warn(&hub_log, "no memory for the delivery timer");
        return;
    }
    t->hub = h;
    t->deadline = h->head->at;
    t->sleep = sched_sleep_until(t->deadline);
    h->timer = t;
    /* May run the hook at once (a failed sleep); t is not touched after. */
    lwt_hook_attach(t->sleep, &t->hook, timer_settled);
}

/* ---- Delivery ----------------------------------------------------------- */

static void deliver(struct net_hub *h, struct hub_frame *f)
{
    for (uint8_t c = 0; c < f->copies; c++) {
        h->stats.delivered++;
        /* Ports added by a listener are seen: the list is only appended to. */
        for (struct hub_port *p = h->ports; p; p = p->next) {
            if (p == f->from)
                continue;
            if (!p->rx) {
                p->netif.stats.rx_dropped++;
                continue;
            }
            p->netif.stats.rx_frames++;
            p->netif.stats.rx_bytes += f->frame.len;
            p->rx(p->rx_ctx, net_slice_share(&f->frame));
        }
    }
}

static void deliver_due(struct net_hub *h)
{
    /* Only frames queued before this turn: what the listeners write now
     * goes on a later turn, so a zero-delay ping-pong cannot spin here. */
    uint64_t now = sched_now();
    uint64_t limit = h->next_seq;
    while (h->head && h->head->at <= now && h->head->seq < limit) {
        struct hub_frame *f = h->head;
        unlink_frame(h, f);
        if (f->from->held == f)
            f->from->held = NULL; /* nothing overtook it in time */
        deliver(h, f);
        free_frame(h, f);
    }
}

/* ---- The netif ---------------------------------------------------------- */

static void launch(struct hub_port *port, struct hub_frame *f);

/* Whether the medium is full: a frame written now is dropped (counted). */
static bool full(struct hub_port *port)
{
    struct net_hub *h = port->hub;
    if (h->in_flight < NET_HUB_MAX_IN_FLIGHT)
        return false;
    if (!h->warned_full)
        log_warn(&hub_log, "%u frames in flight: dropping", NET_HUB_MAX_IN_FLIGHT);
    h->warned_full = true;
    port->netif.stats.tx_dropped++;
    return true;
}

static int hub_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    struct hub_port *port = (struct hub_port *)n;
    if (size > (size_t)n->mtu + NETIF_ETH_HDR)
        return -LWT_EMSGSIZE;
    if (full(port))
        return 0;
    /* The buffer is the frame's own: it travels to the receivers. */
    struct hub_frame *f = malloc(sizeof *f);
    if (!f) {
        n->stats.tx_dropped++;
        return -LWT_ENOMEM;
    }
    if (net_slice_alloc(&f->frame, 0, size) != 0) {
        free(f);
        n->stats.tx_dropped++;
        return -LWT_ENOMEM;
    }
    struct net_slice lent = f->frame; /* what the fill does to its copy is its own */
    int len = fill(&lent, ctx);
    if (len < 0 || (size_t)len > size) {
        net_slice_release(&f->frame);
        free(f);
        n->stats.tx_dropped++;
        return len < 0 ? len : -LWT_EINVAL;
    }
    net_slice_trim(&f->frame, (size_t)len);
    launch(port, f);
    return 0;
}

/* Puts a finished frame (f->frame, owned by f) on the segment: the
 * port's statistics, the capture, the faults and the queue. */
static void launch(struct hub_port *port, struct hub_frame *f)
{
    struct net_hub *h = port->hub;
    struct netif *n = &port->netif;
    n->stats.tx_frames++;
    n->stats.tx_bytes += f->frame.len;
    h->stats.written++;
    if (h->pcap)
        net_pcap_frame(h->pcap, sched_now(), &f->frame);

    /* The same draws for every frame, so one knob does not shift the
     * stream that another sees. */
    const struct net_hub_faults *fx = port->own_faults ? &port->faults : &h->faults;
    uint64_t r_loss = next_random(h), r_dup = next_random(h), r_reorder = next_random(h);
    uint64_t r_jitter = next_random(h);
    if (net_chance(r_loss, fx->loss_ppm)) {
        h->stats.lost++;
        net_slice_release(&f->frame);
        free(f);
        return;
    }
    uint64_t jitter = fx->jitter_ns == UINT64_MAX ? r_jitter : r_jitter % (fx->jitter_ns + 1);
    f->from = port;
    f->base_at = f->at = net_add_sat(net_add_sat(sched_now(), fx->delay_ns), jitter);
    f->seq = h->next_seq++;
    f->copies = 1;
    if (net_chance(r_dup, fx->dup_ppm)) {
        f->copies = 2;
        h->stats.duplicated++;
    }
    h->in_flight++;
    struct hub_frame *held = port->held;
    if (held) {
        /* This frame overtakes the held one, which follows right after. */
        port->held = NULL;
        enqueue(h, f);
        unlink_frame(h, held);
        held->at = held->base_at > f->at ? held->base_at : f->at;
        held->seq = h->next_seq++;
        enqueue(h, held);
        h->stats.reordered++;
    } else if (net_chance(r_reorder, fx->reorder_ppm)) {
        f->at = net_add_sat(f->at, fx->reorder_hold_ns ? fx->reorder_hold_ns : NET_HUB_REORDER_HOLD_NS);
        port->held = f;
        enqueue(h, f);
    } else {
        enqueue(h, f);
    }
    rearm(h);
}

/* ---- Offload: what a NIC does with a TSO frame -------------------------- */

/* Completes the partial checksum of the frame's bytes from csum_start on. */
static bool csum_complete(uint8_t *p, size_t len, const struct netif_tx_offload *off)
{
    size_t field = (size_t)off->csum_start + off->csum_offset;
    if (off->csum_start > len || field + 2 > len)
        return false;
    uint16_t c = net_csum_fold(net_csum_add(0, p + off->csum_start, len - off->csum_start));
    p[field] = (uint8_t)(c >> 8);
    p[field + 1] = (uint8_t)c;
    return true;
}

/* Launches frame (owned) as it is; false if the medium is full or memory
 * short (dropped and counted). */
static bool launch_slice(struct hub_port *port, struct net_slice frame)
{
    struct hub_frame *f = NULL;
    if (full(port)) {
        net_slice_release(&frame);
        return false;
    }
    if (!(f = malloc(sizeof *f))) {
        port->netif.stats.tx_dropped++;
        net_slice_release(&frame);
        return false;
    }
    f->frame = frame;
    launch(port, f);
    return true;
}

/* Cuts a TCP/IPv4 TSO frame into frames of gso_size payload bytes, each
 * with the headers (the IP length, identification and checksum, the TCP
 * sequence number and checksum made its own; FIN and PSH only on the last
 * one) and launches them. 0 (frames the medium cannot take are dropped and
 * counted, as on the wire), or -LWT_EINVAL if the headers are not what off
 * says. */
static int segment(struct hub_port *port, const struct net_slice *whole, const struct netif_tx_offload *off)
{
    struct net_slice ip = *whole;
    struct ip4_hdr iph;
    struct net_rd r = net_rd_of(whole);
    if (net_be16(&r, ETH_OFF_TYPE) != ETH_TYPE_IP4 || net_slice_pull(&ip, ETH_HDR_LEN) < 0 ||
        ip4_parse(&ip, &iph) < 0 || iph.proto != IP4_PROTO_TCP || iph.hlen != IP4_HDR_MIN || ip4_is_fragment(&iph) ||
        off->csum_start != ETH_HDR_LEN + IP4_HDR_MIN)
        return -LWT_EINVAL;
    size_t tcp_at = off->csum_start;
    size_t thlen = (size_t)(net_u8(&r, tcp_at + TCP_OFF_DOFF) >> 4) * 4;
    if (r.bad || thlen < TCP_HDR_MIN || tcp_at + thlen != off->hdr_len || off->hdr_len > whole->len ||
        (size_t)ETH_HDR_LEN + iph.total_len != whole->len)
        return -LWT_EINVAL;
    uint32_t seq = net_be32(&r, tcp_at + TCP_OFF_SEQ);
    uint8_t flags = net_u8(&r, tcp_at + TCP_OFF_FLAGS);
    const uint8_t *src = net_slice_data(whole);
    size_t payload = whole->len - off->hdr_len;
    for (size_t done = 0; done < payload; done += off->gso_size) {
        size_t n = payload - done < off->gso_size ? payload - done : off->gso_size;
        bool last = done + n == payload;
        struct net_slice seg;
        if (net_slice_alloc(&seg, 0, off->hdr_len + n) < 0) {
            port->netif.stats.tx_dropped++;
            return 0;
        }
        uint8_t *d = net_slice_data(&seg);
        memcpy(d, src, off->hdr_len);
        memcpy(d + off->hdr_len, src + off->hdr_len + done, n);
        struct net_wr w = net_wr_of(&seg);
        struct ip4_hdr h = iph;
        h.total_len = (uint16_t)(IP4_HDR_MIN + thlen + n);
        h.id = (uint16_t)(iph.id + done / off->gso_size);
        ip4_write(&w, ETH_HDR_LEN, &h);
        net_put_be32(&w, tcp_at + TCP_OFF_SEQ, seq + (uint32_t)done);
        net_put_u8(&w, tcp_at + TCP_OFF_FLAGS, last ? flags : (uint8_t)(flags & ~(TCP_FIN | TCP_PSH)));
        net_put_be16(&w, tcp_at + TCP_OFF_CSUM, 0);
        uint32_t sum = net_csum_pseudo(iph.src, iph.dst, IP4_PROTO_TCP, (uint16_t)(thlen + n));
        net_put_be16(&w, tcp_at + TCP_OFF_CSUM, net_csum_fold(net_csum_add(sum, d + tcp_at, thlen + n)));
        if (!launch_slice(port, seg))
            return 0; /* the rest would be dropped too */
    }
    return 0;
}

static int hub_write_offload(struct netif *n, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill,
                             void *ctx)
{
    struct hub_port *port = (struct hub_port *)n;
    if ((off->csum_partial && !n->tx_csum) || (off->gso_size && (!n->tso_max || !off->csum_partial)))
        return -LWT_EINVAL;
    if (size > (off->gso_size ? (size_t)n->tso_max : (size_t)n->mtu) + NETIF_ETH_HDR)
        return -LWT_EMSGSIZE;
    if (full(port))
        return 0;
    /* Built whole first, as the stack hands it to a NIC, the tail read from
     * where it is. */
    size_t tail = netif_tail_len(off);
    struct net_slice whole;
    if (tail > size || net_slice_alloc(&whole, 0, size) != 0) {
        n->stats.tx_dropped++;
        return tail > size ? -LWT_EINVAL : -LWT_ENOMEM;
    }
    struct net_slice lent = whole;
    lent.len -= (uint32_t)tail;
    int len = fill(&lent, ctx);
    if (len < 0 || (size_t)len > size - tail || (tail && (size_t)len != size - tail)) {
        net_slice_release(&whole);
        n->stats.tx_dropped++;
        return len < 0 ? len : -LWT_EINVAL;
    }
    uint8_t *d = net_slice_data(&whole) + len;
    if (off->tail_len[0])
        memcpy(d, off->tail[0], off->tail_len[0]);
    if (off->tail_len[1])
        memcpy(d + off->tail_len[0], off->tail[1], off->tail_len[1]);
    net_slice_trim(&whole, (size_t)len + tail);
    int rc = 0;
    if (off->gso_size && whole.len > (size_t)off->hdr_len + off->gso_size) {
        rc = segment(port, &whole, off);
        net_slice_release(&whole);
    } else if (off->csum_partial && !csum_complete(net_slice_data(&whole), whole.len, off)) {
        rc = -LWT_EINVAL;
        net_slice_release(&whole);
    } else {
        launch_slice(port, whole);
    }
    if (rc == -LWT_EINVAL)
        n->stats.tx_dropped++;
    return rc;
}

static lwt_t *hub_wait_writable(struct netif *n)
{
    (void)n;
    return lwt_return(NULL); /* a hub port always takes a frame */
}

static void hub_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    struct hub_port *port = (struct hub_port *)n;
    port->rx = rx;
    port->rx_ctx = rx ? ctx : NULL;
}

static const struct netif_ops hub_ops = {
    .write = hub_write,
    .write_offload = hub_write_offload,
    .wait_writable = hub_wait_writable,
    .listen = hub_listen,
};

/* ---- The hub ------------------------------------------------------------ */

struct net_hub *net_hub_new(uint64_t seed)
{
    struct net_hub *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    *h = (struct net_hub){.rng = seed};
    return h;
}

void net_hub_free(struct net_hub *h)
{
    if (!h)
        return;
    cancel_timer(h);
    while (h->head) {
        struct hub_frame *f = h->head;
        unlink_frame(h, f);
        free_frame(h, f);
    }
    while (h->ports) {
        struct hub_port *p = h->ports;
        h->ports = p->next;
        free(p);
    }
    free(h);
}

int net_hub_add_port(struct net_hub *h, const uint8_t mac[6], uint16_t mtu, const char *name, struct netif **out)
{
    *out = NULL;
    if (!name)
        name = "hub";
    size_t name_len = strlen(name);
    struct hub_port *p = malloc(sizeof *p + name_len + 1);
    if (!p)
        return -LWT_ENOMEM;
    *p = (struct hub_port){0};
    char *copy = (char *)(p + 1);
    memcpy(copy, name, name_len + 1);
    p->netif.ops = &hub_ops;
    memcpy(p->netif.mac, mac, 6);
    p->netif.mtu = mtu;
    p->netif.name = copy;
    p->hub = h;
    if (h->ports_tail)
        h->ports_tail->next = p;
    else
        h->ports = p;
    h->ports_tail = p;
    *out = &p->netif;
    return 0;
}

void net_hub_set_faults(struct net_hub *h, const struct net_hub_faults *f)
{
    h->faults = f ? *f : (struct net_hub_faults){0};
}

int net_hub_set_port_faults(struct netif *port, const struct net_hub_faults *f)
{
    if (!port || port->ops != &hub_ops)
        return -LWT_EINVAL;
    struct hub_port *p = (struct hub_port *)port;
    p->own_faults = f != NULL;
    p->faults = f ? *f : (struct net_hub_faults){0};
    return 0;
}

int net_hub_set_port_offload(struct netif *port, bool tx_csum, uint32_t tso_max)
{
    if (!port || port->ops != &hub_ops || (tso_max && (!tx_csum || tso_max <= port->mtu || tso_max > IP4_MAX_PACKET)))
        return -LWT_EINVAL;
    port->tx_csum = tx_csum;
    port->tso_max = tso_max;
    return 0;
}

void net_hub_stats(const struct net_hub *h, struct net_hub_stats *out)
{
    *out = h->stats;
}

size_t net_hub_in_flight(const struct net_hub *h)
{
    return h->in_flight;
}

void net_hub_set_pcap(struct net_hub *h, struct net_pcap *p)
{
    h->pcap = p;
}
