/* UDP: sockets bound to local ports, with a bounded queue of received
 * datagrams each and one receive promise at a time; datagrams to closed
 * ports get a port-unreachable error. */
#include "lwt_errno.h"
#include "stack_internal.h"
#include "net_csum.h"
#include "wire_udp.h"

#define EPHEMERAL_FIRST 49152

struct udp_queued {
    struct udp_queued *next;
    struct udp_datagram *d;
};

struct udp_sock {
    struct net_stack *stack;
    struct udp_sock *next;
    uint16_t port;
    struct udp_queued *head, **tail;
    size_t queued;
    lwt_resolver_t *waiter; /* the pending udp_recv, if any */
    struct udp_wait *wait;  /* inside that receive's promise */
};

/* Lives inside a pending receive's task (lwt_task_with), so that its hook
 * stays valid however long the caller keeps the promise; sock is cleared
 * when the socket lets go of the receive. */
struct udp_wait {
    struct lwt_hook hook;
    struct udp_sock *sock;
    /* Handed over with a deferred wakeup: if the receive is cancelled
     * before that runs, the datagram is freed here. */
    struct udp_datagram *handed;
};

/* Takes the pending receive's resolver away from the socket. */
static lwt_resolver_t *take_waiter(struct udp_sock *u)
{
    lwt_resolver_t *r = u->waiter;
    u->wait->sock = NULL;
    u->waiter = NULL;
    u->wait = NULL;
    return r;
}

void udp_datagram_free(struct udp_datagram *d)
{
    if (!d)
        return;
    net_slice_release(&d->payload);
    free(d);
}

static struct udp_sock *find(struct net_stack *s, uint16_t port)
{
    for (struct udp_sock *u = s->udp.socks; u; u = u->next)
        if (u->port == port)
            return u;
    return NULL;
}

int udp_bind(struct net_stack *s, uint16_t port, struct udp_sock **out)
{
    if (port == 0) {
        for (unsigned tries = 0; tries < 65536 - EPHEMERAL_FIRST && !port; tries++) {
            uint16_t p = s->udp.next_ephemeral;
            s->udp.next_ephemeral = p == 65535 ? EPHEMERAL_FIRST : (uint16_t)(p + 1);
            if (!find(s, p))
                port = p;
        }
        if (!port)
            return -LWT_EADDRINUSE;
    } else if (find(s, port)) {
        return -LWT_EADDRINUSE;
    }
    struct udp_sock *u = malloc(sizeof *u);
    if (!u)
        return -LWT_ENOMEM;
    memset(u, 0, sizeof *u);
    u->stack = s;
    u->port = port;
    u->tail = &u->head;
    u->next = s->udp.socks;
    s->udp.socks = u;
    *out = u;
    return 0;
}

uint16_t udp_sock_port(const struct udp_sock *u)
{
    return u->port;
}

static struct udp_datagram *dequeue(struct udp_sock *u)
{
    struct udp_queued *q = u->head;
    if (!q)
        return NULL;
    u->head = q->next;
    if (!u->head)
        u->tail = &u->head;
    u->queued--;
    struct udp_datagram *d = q->d;
    free(q);
    return d;
}

void udp_close(struct udp_sock *u)
{
    struct net_stack *s = u->stack;
    for (struct udp_sock **link = &s->udp.socks; *link; link = &(*link)->next) {
        if (*link == u) {
            *link = u->next;
            break;
        }
    }
    if (u->waiter)
        lwt_wakeup_fail(take_waiter(u), -LWT_ESHUTDOWN);
    while (u->head)
        udp_datagram_free(dequeue(u));
    free(u);
}

void udp__destroy(struct net_stack *s)
{
    while (s->udp.socks)
        udp_close(s->udp.socks);
}

static void waiter_settled(struct lwt_hook *hook, lwt_t *p)
{
    (void)p;
    struct udp_wait *w = (struct udp_wait *)hook;
    if (w->sock) /* cancelled while the socket still held it */
        lwt_resolver_drop(take_waiter(w->sock));
    else if (w->handed && lwt_state(p) != LWT_FULFILLED)
        udp_datagram_free(w->handed);
}

lwt_t *udp_recv(struct udp_sock *u)
{
    if (u->waiter)
        return lwt_fail(LWT_EBUSY);
    struct udp_datagram *d = dequeue(u);
    if (d)
        return lwt_return(d);
    struct udp_wait *w;
    lwt_t *p = lwt_task_with(&u->waiter, sizeof *w, (void **)&w);
    w->sock = u;
    w->handed = NULL;
    u->wait = w;
    lwt_hook_attach(p, &w->hook, waiter_settled);
    return p;
}

void udp__input(struct net_stack *s, const struct ip4_hdr *ip, const uint8_t *ip_bytes, struct net_slice *dgram)
{
    struct udp_hdr h;
    s->stats.udp_in++;
    if (udp_parse(dgram, ip->src, ip->dst, &h) < 0) {
        s->stats.udp_bad++;
        return;
    }
    struct udp_sock *u = find(s, h.dport);
    if (!u) {
        s->stats.udp_no_port++;
        if (ip_bytes && ip->dst == s->cfg.addr) {
            size_t n = ip->hlen + (dgram->len < 8 ? dgram->len : 8);
            icmp__send_unreach(s, ip, ip_bytes, n, ICMP_UNREACH_PORT);
        }
        return;
    }
    if (!u->waiter && u->queued >= NET_UDP_QUEUE_MAX) {
        s->stats.udp_queue_full++;
        return;
    }
    struct udp_datagram *d = malloc(sizeof *d);
    struct udp_queued *q = u->waiter ? NULL : malloc(sizeof *q);
    if (!d || (!u->waiter && !q)) {
        free(d);
        free(q);
        s->stats.udp_queue_full++;
        return;
    }
    *d = (struct udp_datagram){.src = ip->src, .dst = ip->dst, .sport = h.sport, .dport = h.dport};
    d->payload = net_slice_share(dgram);
    net_slice_pull(&d->payload, UDP_HDR_LEN);
    net_slice_trim(&d->payload, h.len - UDP_HDR_LEN);
    if (u->waiter) {
        u->wait->handed = d;
        lwt_wakeup_later(take_waiter(u), d);
        return;
    }
    q->next = NULL;
    q->d = d;
    *u->tail = q;
    u->tail = &q->next;
    u->queued++;
}

lwt_t *udp_sendto(struct udp_sock *u, uint32_t dst, uint16_t dport, const void *data, size_t len)
{
    struct net_stack *s = u->stack;
    if (len > IP4_MAX_PACKET - IP4_HDR_MIN - UDP_HDR_LEN)
        return lwt_fail(LWT_EMSGSIZE);
    if (!s->cfg.addr && dst != IP4_BROADCAST)
        return lwt_fail(LWT_EADDRNOTAVAIL);
    uint32_t src = s->cfg.addr;
    uint8_t hdr[UDP_HDR_LEN];
    struct net_wr w = net_wr_mem(hdr, sizeof hdr);
    struct udp_hdr h = {.sport = u->port, .dport = dport, .len = (uint16_t)(UDP_HDR_LEN + len)};
    /* The checksum spans header and data, which sit apart until the frame
     * is filled: sum them here and write the header last. */
    net_put_be16(&w, UDP_OFF_SPORT, h.sport);
    net_put_be16(&w, UDP_OFF_DPORT, h.dport);
    net_put_be16(&w, UDP_OFF_LEN, h.len);
    net_put_be16(&w, UDP_OFF_CSUM, 0);
    uint32_t sum =
        net_csum_add(net_csum_add(net_csum_pseudo(src, dst, IP4_PROTO_UDP, h.len), hdr, sizeof hdr), data, len);
    uint16_t c = net_csum_fold(sum);
    net_put_be16(&w, UDP_OFF_CSUM, c ? c : 0xffff);
    struct ip4_payload p = {{hdr, data}, {sizeof hdr, len}, NULL};
    int rc = ip4__output(s, src, dst, IP4_PROTO_UDP, &p);
    if (rc < 0)
        return lwt_fail(rc);
    s->stats.udp_out++;
    return lwt_return(NULL);
}
