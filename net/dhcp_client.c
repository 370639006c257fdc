/* See dhcp_client.h.
 *
 * Two things drive the client: a receive loop (udp_recv, bound step by
 * step) and one timer (a sched_sleep_until promise) for whatever comes
 * next in the current state: a retransmission, T1, T2 or the expiry. Both
 * carry the client in their context, so the client is counted: one
 * reference for its owner and one for each callback still to run. Stopping
 * cancels them; the memory goes when the last callback has run, so a
 * callback already queued when dhcp_client_stop is called finds the client
 * intact (and stopped) rather than freed.
 */
#include "dhcp_client.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwt_sync.h"
#include "scheduler.h"
#include "wire_dhcp.h"
#include "wire_ip4.h"

static struct log_source dhcp_log = LOG_SOURCE("dhcp");

enum dhcp_state {
    ST_INIT,       /* waiting before the next DISCOVER */
    ST_SELECTING,  /* DISCOVER sent, waiting for an OFFER */
    ST_REQUESTING, /* REQUEST broadcast for an offer, waiting for ACK or NAK */
    ST_BOUND,      /* waiting for T1 */
    ST_RENEWING,   /* REQUEST unicast to our server, until T2 */
    ST_REBINDING,  /* REQUEST broadcast, until the lease expires */
};

#define BACKOFF_FIRST_S  4 /* RFC 2131 §4.1 */
#define BACKOFF_MAX_S    64
#define JITTER_MS        1000
#define REQUEST_TRIES    4  /* REQUESTs for one offer before starting over */
#define RENEW_MIN_WAIT_S 60 /* RFC 2131 §4.4.5 */
#define LEASE_MIN_S      10 /* shorter leases are taken as this long */
#define NEVER            UINT64_MAX

struct dhcp_client {
    struct net_stack *stack; /* borrowed */
    struct udp_sock *sock;
    uint8_t mac[6];
    enum dhcp_state state;
    uint32_t xid;
    uint64_t rng;
    unsigned tries;      /* transmissions in this state */
    unsigned naks;       /* restarts in a row for a NAK or a bad lease: slows them down */
    uint64_t started_ns; /* of this exchange: the secs field */
    uint64_t request_ns; /* first REQUEST of this exchange: where a lease starts */
    uint32_t offer_addr, offer_server;
    bool have_lease; /* lease is valid and the stack configured with it */
    struct dhcp_lease lease;
    uint64_t t1_at, t2_at, expire_at; /* absolute, NEVER for an infinite lease */
    lwt_t *timer;                     /* owned, or NULL */
    uint32_t timer_gen;               /* which timer callback is current */
    lwt_t *rx_loop;                   /* owned */
    struct lwt_condition bound;       /* dhcp_client_bound's waiters */
    unsigned refs;
    bool stopped;
    unsigned renewals, bad;
};

struct timer_ctx {
    struct dhcp_client *c;
    uint32_t gen;
};

static void client_put(struct dhcp_client *c)
{
    if (--c->refs == 0)
        free(c);
}

/* splitmix64: deterministic for a given MAC and start time. */
static uint64_t rng_next(struct dhcp_client *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---- The timer ------------------------------------------------------------ */

static void on_timeout(struct dhcp_client *c);

static void timer_cancel(struct dhcp_client *c)
{
    lwt_t *t = c->timer;
    if (!t)
        return;
    c->timer = NULL;
    c->timer_gen++;
    lwt_cancel(t); /* frees the timer at once; timer_dropped releases the client */
    lwt_unref(t);
}

static void timer_fired(void *value, void *ctx)
{
    (void)value;
    struct timer_ctx *t = ctx;
    struct dhcp_client *c = t->c;
    /* A timer that fired while being replaced is stale. */
    if (!c->stopped && t->gen == c->timer_gen) {
        lwt_unref(c->timer);
        c->timer = NULL;
        on_timeout(c);
    }
    client_put(c);
}

static void timer_dropped(int err, void *ctx)
{
    (void)err;
    client_put(((struct timer_ctx *)ctx)->c);
}

static void timer_arm(struct dhcp_client *c, uint64_t at)
{
    timer_cancel(c);
    c->timer = sched_sleep_until(at);
    struct timer_ctx t = {c, ++c->timer_gen};
    c->refs++;
    lwt_on_any(c->timer, timer_fired, timer_dropped, LWT_CTX(t));
}

/* The wait after the tries-th transmission: 4 s doubling to 64 s, each
 * randomised by up to a second either way (RFC 2131 §4.1). */
static uint64_t backoff_ns(struct dhcp_client *c)
{
    unsigned shift = c->tries < 4 ? c->tries : 4;
    uint64_t base = (uint64_t)BACKOFF_FIRST_S << shift;
    if (base > BACKOFF_MAX_S)
        base = BACKOFF_MAX_S;
    int64_t jitter = (int64_t)(rng_next(c) % (2 * JITTER_MS + 1)) - JITTER_MS;
    return base * SCHED_NS_PER_S + (uint64_t)(jitter * (int64_t)SCHED_NS_PER_MS);
}

/* In RENEWING and REBINDING: half the time left to `until`, at least 60 s,
 * but never past `until`, where the next state takes over. */
static uint64_t renew_deadline(uint64_t now, uint64_t until)
{
    if (until <= now)
        return now;
    uint64_t wait = (until - now) / 2;
    if (wait < RENEW_MIN_WAIT_S * SCHED_NS_PER_S)
        wait = RENEW_MIN_WAIT_S * SCHED_NS_PER_S;
    return wait >= until - now ? until : now + wait;
}

/* ---- Sending ---------------------------------------------------------------- */

static void send_failed(int err, void *ctx)
{
    (void)ctx;
    log_debug(&dhcp_log, "send failed: %s", lwt_strerror(err));
}

static void msg_init(struct dhcp_client *c, struct dhcp_msg *m, enum dhcp_type type)
{
    dhcp_msg_init(m, type, c->xid, c->mac);
    uint64_t secs = (sched_now() - c->started_ns) / SCHED_NS_PER_S;
    m->secs = secs > 0xffff ? 0xffff : (uint16_t)secs;
    /* Until the stack has an address it cannot take a unicast reply. */
    if (type != DHCP_RELEASE && net_stack_config(c->stack)->addr == 0)
        m->flags = DHCP_FLAG_BROADCAST;
    m->has = DHCP_HAS_CLIENT_ID;
    m->client_id[0] = DHCP_HTYPE_ETH;
    memcpy(m->client_id + 1, c->mac, 6);
    m->client_id_len = 7;
    if (type == DHCP_DISCOVER || type == DHCP_REQUEST) {
        static const uint8_t params[] = {DHCP_OPT_NETMASK,    DHCP_OPT_ROUTER, DHCP_OPT_DNS,
                                         DHCP_OPT_LEASE_TIME, DHCP_OPT_T1,     DHCP_OPT_T2};
        m->has |= DHCP_HAS_PARAM_LIST;
        memcpy(m->param_list, params, sizeof params);
        m->param_list_len = sizeof params;
    }
}

static void send_msg(struct dhcp_client *c, const struct dhcp_msg *m, uint32_t dst)
{
    uint8_t buf[DHCP_MAX_LEN];
    int n = dhcp_build(m, buf, sizeof buf);
    if (n < 0)
        return; /* cannot happen: our options fit */
    log_debug(&dhcp_log, "sending %s xid %08x", dhcp_type_name(m->type), (unsigned)m->xid);
    lwt_async(udp_sendto(c->sock, dst, DHCP_SERVER_PORT, buf, (size_t)n), send_failed, LWT_NOCTX);
}

/* Sends the current state's message and arms its retransmission. */
static void transmit(struct dhcp_client *c)
{
    uint64_t now = sched_now();
    struct dhcp_msg m;
    switch (c->state) {
    case ST_SELECTING:
        msg_init(c, &m, DHCP_DISCOVER);
        send_msg(c, &m, IP4_BROADCAST);
        timer_arm(c, now + backoff_ns(c));
        break;
    case ST_REQUESTING:
        msg_init(c, &m, DHCP_REQUEST);
        m.has |= DHCP_HAS_REQUESTED_IP | DHCP_HAS_SERVER_ID;
        m.requested_ip = c->offer_addr;
        m.server_id = c->offer_server;
        send_msg(c, &m, IP4_BROADCAST);
        timer_arm(c, now + backoff_ns(c));
        break;
    case ST_RENEWING:
    case ST_REBINDING:
        /* ciaddr says which lease; no server id: RFC 2131 §4.3.2. */
        msg_init(c, &m, DHCP_REQUEST);
        m.ciaddr = c->lease.addr;
        send_msg(c, &m, c->state == ST_RENEWING ? c->lease.server : IP4_BROADCAST);
        timer_arm(c, renew_deadline(now, c->state == ST_RENEWING ? c->t2_at : c->expire_at));
        break;
    case ST_INIT:
    case ST_BOUND:
        return;
    }
    c->tries++;
}

/* ---- State changes ---------------------------------------------------------- */

static void unconfigure(struct dhcp_client *c)
{
    if (!c->have_lease)
        return;
    c->have_lease = false;
    struct ip4_config none = {0, 0, 0};
    net_stack_configure(c->stack, &none);
}

static void discover(struct dhcp_client *c)
{
    c->state = ST_SELECTING;
    c->xid = (uint32_t)rng_next(c);
    c->tries = 0;
    c->started_ns = sched_now();
    transmit(c);
}

/* Drops the lease (if any) and starts over: at once the first time, then
 * after a growing pause so that a server that refuses everything is not
 * flooded. */
static void restart(struct dhcp_client *c)
{
    unconfigure(c);
    c->naks++;
    if (c->naks <= 1) {
        discover(c);
        return;
    }
    unsigned shift = c->naks - 2 < 4 ? c->naks - 2 : 4;
    c->state = ST_INIT;
    timer_arm(c, sched_now() + ((uint64_t)BACKOFF_FIRST_S << shift) * SCHED_NS_PER_S);
}

static void start_requesting(struct dhcp_client *c, enum dhcp_state state)
{
    c->state = state;
    c->tries = 0;
    c->request_ns = sched_now();
    /* secs counts from the DISCOVER, or from the start of the renewal. */
    if (state == ST_RENEWING)
        c->started_ns = c->request_ns;
    if (state != ST_REQUESTING)
        c->xid = (uint32_t)rng_next(c);
    transmit(c);
}

static void on_timeout(struct dhcp_client *c)
{
    uint64_t now = sched_now();
    char a[16];
    switch (c->state) {
    case ST_INIT:
        discover(c);
        break;
    case ST_SELECTING:
        transmit(c);
        break;
    case ST_REQUESTING:
        if (c->tries < REQUEST_TRIES) {
            transmit(c);
        } else {
            log_debug(&dhcp_log, "no answer to REQUEST for %s", ip4_ntoa(c->offer_addr, a));
            discover(c);
        }
        break;
    case ST_BOUND:
        start_requesting(c, ST_RENEWING);
        break;
    case ST_RENEWING:
        if (now >= c->t2_at)
            start_requesting(c, ST_REBINDING);
        else
            transmit(c);
        break;
    case ST_REBINDING:
        if (now >= c->expire_at) {
            log_info(&dhcp_log, "lease of %s expired", ip4_ntoa(c->lease.addr, a));
            unconfigure(c);
            c->naks = 0;
            discover(c);
        } else {
            transmit(c);
        }
        break;
    }
}

/* ---- Replies ---------------------------------------------------------------- */

static uint32_t classful_mask(uint32_t addr)
{
    if ((addr >> 31) == 0)
        return 0xff000000u;
    if ((addr >> 30) == 2)
        return 0xffff0000u;
    return 0xffffff00u;
}

static void take_offer(struct dhcp_client *c, const struct dhcp_msg *m, uint32_t src)
{
    uint32_t server = (m->has & DHCP_HAS_SERVER_ID) ? m->server_id : src;
    if (m->yiaddr == 0 || m->yiaddr == IP4_BROADCAST || server == 0) {
        c->bad++;
        log_debug(&dhcp_log, "unusable OFFER dropped");
        return;
    }
    char a[16], b[16];
    log_debug(&dhcp_log, "OFFER of %s from %s", ip4_ntoa(m->yiaddr, a), ip4_ntoa(server, b));
    c->offer_addr = m->yiaddr;
    c->offer_server = server;
    start_requesting(c, ST_REQUESTING);
}

static int configure(struct dhcp_client *c, const struct dhcp_lease *l)
{
    const struct ip4_config *cur = net_stack_config(c->stack);
    if (cur->addr == l->addr && cur->netmask == l->netmask && cur->gateway == l->gateway)
        return 0;
    struct ip4_config cfg = {l->addr, l->netmask, l->gateway};
    return net_stack_configure(c->stack, &cfg);
}

static void take_ack(struct dhcp_client *c, const struct dhcp_msg *m, uint32_t src)
{
    char a[16], b[16], d[16];
    if (!(m->has & DHCP_HAS_LEASE_TIME) || m->yiaddr == 0 || m->yiaddr == IP4_BROADCAST) {
        c->bad++;
        log_debug(&dhcp_log, "unusable ACK dropped");
        return;
    }
    struct dhcp_lease l = {0};
    l.addr = m->yiaddr;
    l.netmask = (m->has & DHCP_HAS_NETMASK) ? m->netmask : classful_mask(m->yiaddr);
    l.gateway = (m->has & DHCP_HAS_ROUTER) ? m->router : 0;
    l.dns = (m->has & DHCP_HAS_DNS) ? m->dns : 0;
    if (m->has & DHCP_HAS_SERVER_ID)
        l.server = m->server_id;
    else if (c->state == ST_REQUESTING)
        l.server = c->offer_server;
    else
        l.server = src ? src : c->lease.server;
    /* A floor, so that a server handing out (near) zero leases cannot make
     * the client renew in a tight loop. */
    l.lease_s = m->lease_s < LEASE_MIN_S ? LEASE_MIN_S : m->lease_s;
    l.t1_s = (m->has & DHCP_HAS_T1) ? m->t1_s : l.lease_s / 2;
    l.t2_s = (m->has & DHCP_HAS_T2) ? m->t2_s : (uint32_t)((uint64_t)l.lease_s * 7 / 8);
    if (!(l.t1_s <= l.t2_s && l.t2_s <= l.lease_s)) {
        l.t1_s = l.lease_s / 2; /* RFC 2131 §4.4.5 defaults */
        l.t2_s = (uint32_t)((uint64_t)l.lease_s * 7 / 8);
    }
    l.bound_at_ns = c->request_ns;

    int err = configure(c, &l);
    if (err < 0 && l.gateway) {
        log_warn(&dhcp_log, "gateway %s refused (%s); going without", ip4_ntoa(l.gateway, a), lwt_strerror(err));
        l.gateway = 0;
        err = configure(c, &l);
    }
    if (err < 0) {
        log_warn(&dhcp_log, "lease of %s/%s refused by the stack: %s", ip4_ntoa(l.addr, a), ip4_ntoa(l.netmask, b),
                 lwt_strerror(err));
        restart(c);
        return;
    }
    bool renewal = c->have_lease && (c->state == ST_RENEWING || c->state == ST_REBINDING);
    c->lease = l;
    c->have_lease = true;
    c->state = ST_BOUND;
    c->naks = 0;
    if (l.lease_s == DHCP_LEASE_INFINITE) {
        c->t1_at = c->t2_at = c->expire_at = NEVER;
        timer_cancel(c);
    } else {
        c->t1_at = l.bound_at_ns + l.t1_s * SCHED_NS_PER_S;
        c->t2_at = l.bound_at_ns + l.t2_s * SCHED_NS_PER_S;
        c->expire_at = l.bound_at_ns + l.lease_s * SCHED_NS_PER_S;
        timer_arm(c, c->t1_at);
    }
    if (renewal) {
        c->renewals++;
        log_info(&dhcp_log, "lease of %s renewed for %us", ip4_ntoa(l.addr, a), (unsigned)l.lease_s);
    } else {
        log_info(&dhcp_log, "bound to %s/%s from %s, lease %us", ip4_ntoa(l.addr, a), ip4_ntoa(l.netmask, b),
                 ip4_ntoa(l.server, d), (unsigned)l.lease_s);
    }
    /* Last: a waiter may stop the client from its callback. */
    lwt_condition_broadcast(&c->bound, NULL);
}

static void take_nak(struct dhcp_client *c, const struct dhcp_msg *m, uint32_t src)
{
    char a[16];
    uint32_t server = (m->has & DHCP_HAS_SERVER_ID) ? m->server_id : src;
    log_info(&dhcp_log, "NAK from %s%s", ip4_ntoa(server, a), c->have_lease ? ": lease lost" : "");
    restart(c);
}

static void on_datagram(struct dhcp_client *c, const struct udp_datagram *d)
{
    struct dhcp_msg m;
    if (dhcp_parse(&d->payload, &m) < 0 || m.op != DHCP_OP_REPLY) {
        c->bad++;
        log_debug(&dhcp_log, "malformed reply dropped (%u bytes)", (unsigned)d->payload.len);
        return;
    }
    if (m.xid != c->xid || memcmp(m.chaddr, c->mac, sizeof c->mac) != 0) {
        log_debug(&dhcp_log, "%s for someone else ignored", dhcp_type_name(m.type));
        return;
    }
    bool requesting = c->state == ST_REQUESTING || c->state == ST_RENEWING || c->state == ST_REBINDING;
    if (m.type == DHCP_OFFER && c->state == ST_SELECTING)
        take_offer(c, &m, d->src);
    else if (m.type == DHCP_ACK && requesting)
        take_ack(c, &m, d->src);
    else if (m.type == DHCP_NAK && requesting)
        take_nak(c, &m, d->src);
    else
        log_debug(&dhcp_log, "unexpected %s ignored", dhcp_type_name(m.type));
}

/* ---- The receive loop ------------------------------------------------------- */

static lwt_t *rx_next(struct dhcp_client *c);

static lwt_t *rx_step(void *value, void *ctx)
{
    struct dhcp_client *c = *(struct dhcp_client **)ctx;
    struct udp_datagram *d = value;
    if (!c->stopped)
        on_datagram(c, d);
    else
        log_debug(&dhcp_log, "stopped: datagram dropped");
    udp_datagram_free(d);
    return c->stopped ? lwt_return(NULL) : rx_next(c);
}

static lwt_t *rx_next(struct dhcp_client *c)
{
    return lwt_bind(udp_recv(c->sock), rx_step, LWT_CTX(c));
}

static void rx_done(void *value, void *ctx)
{
    (void)value;
    client_put(*(struct dhcp_client **)ctx);
}

static void rx_failed(int err, void *ctx)
{
    struct dhcp_client *c = *(struct dhcp_client **)ctx;
    if (!c->stopped)
        log_warn(&dhcp_log, "receiving stopped: %s", lwt_strerror(err));
    client_put(c);
}

/* ---- The API ---------------------------------------------------------------- */

int dhcp_client_start(struct net_stack *s, struct dhcp_client **out)
{
    struct dhcp_client *c = malloc(sizeof *c);
    if (!c)
        return -LWT_ENOMEM;
    memset(c, 0, sizeof *c);
    int err = udp_bind(s, DHCP_CLIENT_PORT, &c->sock);
    if (err < 0) {
        free(c);
        return err;
    }
    c->stack = s;
    memcpy(c->mac, net_stack_netif(s)->mac, sizeof c->mac);
    c->rng = sched_now();
    for (size_t i = 0; i < sizeof c->mac; i++)
        c->rng = (c->rng ^ c->mac[i]) * 0x100000001b3ull;
    lwt_condition_init(&c->bound);
    c->refs = 2; /* the owner and the receive loop */
    c->rx_loop = rx_next(c);
    lwt_on_any(c->rx_loop, rx_done, rx_failed, LWT_CTX(c));
    discover(c);
    *out = c;
    return 0;
}

lwt_t *dhcp_client_bound(struct dhcp_client *c)
{
    if (c->have_lease)
        return lwt_return(NULL);
    return lwt_condition_wait(&c->bound, NULL);
}

const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c)
{
    return c->have_lease ? &c->lease : NULL;
}

unsigned dhcp_client_renewals(const struct dhcp_client *c)
{
    return c->renewals;
}

unsigned dhcp_client_bad_replies(const struct dhcp_client *c)
{
    return c->bad;
}

void dhcp_client_stop(struct dhcp_client *c)
{
    if (!c || c->stopped)
        return;
    c->stopped = true;
    timer_cancel(c);
    if (c->have_lease) {
        char a[16];
        struct dhcp_msg m;
        c->xid = (uint32_t)rng_next(c);
        msg_init(c, &m, DHCP_RELEASE);
        m.ciaddr = c->lease.addr;
        m.has |= DHCP_HAS_SERVER_ID;
        m.server_id = c->lease.server;
        /* Broadcast, though RFC 2131 §4.4.6 says unicast: the address goes
         * away next, and a unicast RELEASE still waiting for the server's
         * MAC would be lost with it (the stack ignores ARP replies once it
         * has no address). The server id tells the server it is meant. */
        send_msg(c, &m, IP4_BROADCAST);
        log_info(&dhcp_log, "released %s", ip4_ntoa(c->lease.addr, a));
        unconfigure(c);
    }
    udp_close(c->sock); /* the pending receive is rejected: the loop ends */
    c->sock = NULL;
    lwt_unref(c->rx_loop);
    c->rx_loop = NULL;
    lwt_condition_destroy(&c->bound); /* waiters are rejected with -LWT_EPIPE */
    client_put(c);
}
