/* The DHCP client against a small DHCP server written here with the same
 * UDP API: two stacks on the in-memory hub, on the virtual clock, so every
 * time below is exact. The server (10.9.0.1/24) offers 10.9.0.50 for 60 s
 * with T1 30 s and T2 52 s, records every message it gets, and has knobs
 * to stay silent, refuse (NAK) or send rubbish first. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <string.h>

#include "dhcp_client.h"
#include "hub.h"
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack.h"
#include "wire_dhcp.h"
#include "wire_ip4.h"

#define S      SCHED_NS_PER_S
#define MS     SCHED_NS_PER_MS
#define T0     (1000 * S)
#define IP_SRV IP4_ADDR(10, 9, 0, 1)
#define IP_CLI IP4_ADDR(10, 9, 0, 50)
#define IP_DNS IP4_ADDR(10, 9, 0, 53)

static const uint8_t MAC_C[6] = {2, 0, 0, 0, 0, 0xc};
static const uint8_t MAC_S[6] = {2, 0, 0, 0, 0, 0x5};

enum req_kind { SELECT, RENEW, REBIND, OTHER };

struct seen {
    uint64_t at;
    enum dhcp_type type;
    enum req_kind kind; /* for REQUESTs */
    uint32_t xid, ciaddr, dst, requested_ip, server_id;
    uint16_t flags, secs;
};

static struct {
    struct net_hub *hub;
    struct netif *pc, *ps;
    struct net_stack *cs, *ss; /* the client's and the server's */
    struct udp_sock *sock;     /* the server's */
    lwt_t *srv_loop;
    struct dhcp_client *c;
    /* The server's behaviour. */
    bool quiet_discover, quiet_renew, quiet_rebind;
    unsigned quiet_select; /* ignore this many SELECTING REQUESTs */
    unsigned naks;         /* NAK this many REQUESTs */
    bool garbage;          /* rubbish before each OFFER and ACK */
    bool stop_on_reply;    /* the spy port stops the client (stop_with_a_reply_in_flight) */
    uint32_t lease_s, t1_s, t2_s;
    /* What it saw. */
    struct seen seen[256];
    size_t nseen;
    unsigned send_errors;
} t;

/* ---- The server ------------------------------------------------------------ */

static void srv_send(uint32_t dst, const void *bytes, size_t len)
{
    lwt_t *p = udp_sendto(t.sock, dst, DHCP_CLIENT_PORT, bytes, len);
    if (lwt_state(p) != LWT_FULFILLED)
        t.send_errors++;
    lwt_unref(p);
}

static size_t srv_build(const struct dhcp_msg *q, enum dhcp_type type, uint8_t *b, size_t cap)
{
    struct dhcp_msg m;
    dhcp_msg_init(&m, type, q->xid, q->chaddr);
    m.flags = q->flags;
    m.has = DHCP_HAS_SERVER_ID;
    m.server_id = IP_SRV;
    if (type != DHCP_NAK) {
        m.yiaddr = IP_CLI;
        m.siaddr = IP_SRV;
        m.has |= DHCP_HAS_LEASE_TIME | DHCP_HAS_NETMASK | DHCP_HAS_ROUTER | DHCP_HAS_DNS;
        m.lease_s = t.lease_s;
        m.netmask = 0xffffff00;
        m.router = IP_SRV;
        m.dns = IP_DNS;
        if (t.t1_s) {
            m.has |= DHCP_HAS_T1 | DHCP_HAS_T2;
            m.t1_s = t.t1_s;
            m.t2_s = t.t2_s;
        }
    }
    int n = dhcp_build(&m, b, cap);
    assert_true(n > 0);
    return (size_t)n;
}

/* RFC 2131 §4.1: to ciaddr when the client has one, else broadcast. */
static void srv_reply(const struct dhcp_msg *q, enum dhcp_type type)
{
    uint8_t b[DHCP_MAX_LEN];
    size_t n = srv_build(q, type, b, sizeof b);
    srv_send(q->ciaddr && type != DHCP_NAK ? q->ciaddr : IP4_BROADCAST, b, n);
}

/* Replies the client must drop: truncated, lying, or for someone else. */
static void srv_rubbish(const struct dhcp_msg *q, enum dhcp_type type)
{
    uint8_t b[DHCP_MAX_LEN];
    size_t n = srv_build(q, type, b, sizeof b);
    srv_send(IP4_BROADCAST, b, 250); /* truncated: bad */
    b[DHCP_OFF_OPTIONS + 4] = 0xf0;  /* the second option's length runs past the end: bad */
    srv_send(IP4_BROADCAST, b, n);
    struct dhcp_msg other = *q;
    other.xid++;
    n = srv_build(&other, type, b, sizeof b);
    srv_send(IP4_BROADCAST, b, n); /* another xid: ignored */
    other = *q;
    other.chaddr[5] ^= 1;
    n = srv_build(&other, type, b, sizeof b);
    srv_send(IP4_BROADCAST, b, n); /* another client: ignored */
    n = srv_build(&other, DHCP_NAK, b, sizeof b);
    srv_send(IP4_BROADCAST, b, n); /* a NAK for another client: ignored */
}

static void srv_handle(const struct udp_datagram *d)
{
    struct dhcp_msg q;
    assert_int_equal(dhcp_parse(&d->payload, &q), 0);
    assert_int_equal(q.op, DHCP_OP_REQUEST);
    assert_int_equal(d->sport, DHCP_CLIENT_PORT);
    assert_true(t.nseen < sizeof t.seen / sizeof t.seen[0]);
    struct seen *s = &t.seen[t.nseen++];
    *s = (struct seen){.at = sched_now(),
                       .type = q.type,
                       .kind = OTHER,
                       .xid = q.xid,
                       .ciaddr = q.ciaddr,
                       .dst = d->dst,
                       .requested_ip = (q.has & DHCP_HAS_REQUESTED_IP) ? q.requested_ip : 0,
                       .server_id = (q.has & DHCP_HAS_SERVER_ID) ? q.server_id : 0,
                       .flags = q.flags,
                       .secs = q.secs};
    switch (q.type) {
    case DHCP_DISCOVER:
        if (t.quiet_discover)
            return;
        if (t.garbage)
            srv_rubbish(&q, DHCP_OFFER);
        srv_reply(&q, DHCP_OFFER);
        return;
    case DHCP_REQUEST:
        if (q.has & DHCP_HAS_SERVER_ID)
            s->kind = SELECT;
        else if (q.ciaddr && d->dst == IP_SRV)
            s->kind = RENEW;
        else if (q.ciaddr && d->dst == IP4_BROADCAST)
            s->kind = REBIND;
        if ((s->kind == SELECT && t.quiet_select > 0 && t.quiet_select--) || (s->kind == RENEW && t.quiet_renew) ||
            (s->kind == REBIND && t.quiet_rebind))
            return;
        if (t.naks > 0) {
            t.naks--;
            srv_reply(&q, DHCP_NAK);
            return;
        }
        if (t.garbage)
            srv_rubbish(&q, DHCP_ACK);
        srv_reply(&q, DHCP_ACK);
        return;
    default:
        return;
    }
}

static lwt_t *srv_next(void);

static lwt_t *srv_step(void *value, void *ctx)
{
    (void)ctx;
    struct udp_datagram *d = value;
    srv_handle(d);
    udp_datagram_free(d);
    return srv_next();
}

static lwt_t *srv_next(void)
{
    return lwt_bind(udp_recv(t.sock), srv_step, LWT_NOCTX);
}

/* Messages of this type seen so far; *last gets the last one. */
static size_t count(enum dhcp_type type, const struct seen **last)
{
    size_t n = 0;
    for (size_t i = 0; i < t.nseen; i++) {
        if (t.seen[i].type == type) {
            n++;
            if (last)
                *last = &t.seen[i];
        }
    }
    return n;
}

/* ---- The world ------------------------------------------------------------- */

static void run_until(uint64_t at)
{
    assert_int_equal(sched_run(sched_sleep_until(at), NULL), 0);
}

static void world_up(void)
{
    test_vclock_install(T0);
    memset(&t, 0, sizeof t);
    t.lease_s = 60, t.t1_s = 30, t.t2_s = 52;
    t.hub = net_hub_new(7);
    assert_non_null(t.hub);
    assert_int_equal(net_hub_add_port(t.hub, MAC_C, 1500, "client", &t.pc), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_S, 1500, "server", &t.ps), 0);
    assert_int_equal(net_stack_new(t.pc, &t.cs), 0);
    assert_int_equal(net_stack_new(t.ps, &t.ss), 0);
    struct ip4_config sc = {IP_SRV, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.ss, &sc), 0);
    assert_int_equal(udp_bind(t.ss, DHCP_SERVER_PORT, &t.sock), 0);
    t.srv_loop = srv_next();
}

static void world_down(void)
{
    if (t.c)
        dhcp_client_stop(t.c);
    t.c = NULL;
    if (t.sock)
        udp_close(t.sock);
    lwt_unref(t.srv_loop);
    t.srv_loop = NULL;
    drain();
    net_stack_free(t.cs);
    net_stack_free(t.ss);
    net_hub_free(t.hub);
    drain();
    test_vclock_uninstall();
}

static int setup(void **state)
{
    test_setup(state);
    world_up();
    return 0;
}

static int teardown(void **state)
{
    world_down();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "%zu packet buffers left alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}

static void start(void)
{
    assert_int_equal(dhcp_client_start(t.cs, &t.c), 0);
}

static void wait_bound(void)
{
    assert_int_equal(sched_run(dhcp_client_bound(t.c), NULL), 0);
}

static uint32_t client_addr(void)
{
    return net_stack_config(t.cs)->addr;
}

/* ---- Binding ---------------------------------------------------------------- */

static void binds_and_configures_the_stack(void **state)
{
    (void)state;
    start();
    assert_null(dhcp_client_lease(t.c));
    wait_bound();
    assert_int_equal(test_vclock_now(), T0); /* the hub adds no delay */

    assert_int_equal(t.nseen, 2);
    const struct seen *d = &t.seen[0], *r = &t.seen[1];
    assert_int_equal(d->type, DHCP_DISCOVER);
    assert_int_equal(d->at, T0);
    assert_int_equal(d->dst, IP4_BROADCAST);
    assert_int_equal(d->flags, DHCP_FLAG_BROADCAST);
    assert_int_equal(d->ciaddr, 0);
    assert_int_equal(r->type, DHCP_REQUEST);
    assert_int_equal(r->kind, SELECT);
    assert_int_equal(r->xid, d->xid); /* RFC 2131 §4.4.1 */
    assert_int_equal(r->dst, IP4_BROADCAST);
    assert_int_equal(r->flags, DHCP_FLAG_BROADCAST);
    assert_int_equal(r->ciaddr, 0);
    assert_int_equal(r->requested_ip, IP_CLI);
    assert_int_equal(r->server_id, IP_SRV);

    const struct dhcp_lease *l = dhcp_client_lease(t.c);
    assert_non_null(l);
    assert_int_equal(l->addr, IP_CLI);
    assert_int_equal(l->netmask, 0xffffff00);
    assert_int_equal(l->gateway, IP_SRV);
    assert_int_equal(l->server, IP_SRV);
    assert_int_equal(l->dns, IP_DNS);
    assert_int_equal(l->lease_s, 60);
    assert_int_equal(l->t1_s, 30);
    assert_int_equal(l->t2_s, 52);
    assert_int_equal(l->bound_at_ns, T0);
    const struct ip4_config *cfg = net_stack_config(t.cs);
    assert_int_equal(cfg->addr, IP_CLI);
    assert_int_equal(cfg->netmask, 0xffffff00);
    assert_int_equal(cfg->gateway, IP_SRV);
    assert_int_equal(dhcp_client_renewals(t.c), 0);
    assert_int_equal(dhcp_client_bad_replies(t.c), 0);

    /* Bound already: a new promise, fulfilled at once. */
    lwt_t *p = dhcp_client_bound(t.c);
    assert_fulfilled(p);
    lwt_unref(p);

    /* The configured stack now answers by unicast: the server reaches it. */
    struct udp_sock *u;
    assert_int_equal(udp_bind(t.cs, 7000, &u), 0);
    lwt_t *rx = udp_recv(u);
    lwt_t *tx = udp_sendto(t.sock, IP_CLI, 7000, "hi", 2);
    assert_int_equal(lwt_error(tx), 0);
    lwt_unref(tx);
    assert_int_equal(sched_run(lwt_ref(rx), NULL), 0);
    udp_datagram_free(lwt_value(rx));
    lwt_unref(rx);
    udp_close(u);
}

static void a_second_client_on_the_stack_is_refused(void **state)
{
    (void)state;
    start();
    struct dhcp_client *other;
    assert_int_equal(dhcp_client_start(t.cs, &other), -LWT_EADDRINUSE);
}

/* ---- Renewing and rebinding --------------------------------------------------- */

static void renews_at_t1(void **state)
{
    (void)state;
    start();
    wait_bound();
    run_until(T0 + 30 * S - 1);
    assert_int_equal(t.nseen, 2);
    run_until(T0 + 30 * S + MS);
    assert_int_equal(t.nseen, 3);
    const struct seen *r = &t.seen[2];
    assert_int_equal(r->type, DHCP_REQUEST);
    assert_int_equal(r->kind, RENEW);
    assert_int_equal(r->at, T0 + 30 * S);
    assert_int_equal(r->ciaddr, IP_CLI);
    assert_int_equal(r->dst, IP_SRV); /* unicast */
    assert_int_equal(r->flags, 0);    /* configured: no broadcast flag */
    assert_int_equal(r->requested_ip, 0);
    assert_int_equal(r->server_id, 0);
    assert_int_equal(dhcp_client_renewals(t.c), 1);
    assert_int_equal(dhcp_client_lease(t.c)->bound_at_ns, T0 + 30 * S);
    assert_int_equal(client_addr(), IP_CLI);

    /* And again 30 s into the renewed lease, for as long as it goes on. */
    run_until(T0 + 300 * S + MS);
    assert_int_equal(dhcp_client_renewals(t.c), 10);
    assert_int_equal(count(DHCP_REQUEST, &r), 11);
    assert_int_equal(r->at, T0 + 300 * S);
    assert_int_equal(count(DHCP_DISCOVER, NULL), 1);
    assert_int_equal(client_addr(), IP_CLI);
}

static void rebinds_at_t2_when_renewals_go_unanswered(void **state)
{
    (void)state;
    t.quiet_renew = true;
    start();
    wait_bound();
    /* No retransmission between T1 and T2: half of the 22 s left is below
     * the 60 s minimum, so the next message is the rebinding one. */
    run_until(T0 + 52 * S - 1);
    assert_int_equal(t.nseen, 3);
    assert_int_equal(t.seen[2].kind, RENEW);
    assert_int_equal(t.seen[2].at, T0 + 30 * S);
    assert_int_equal(dhcp_client_renewals(t.c), 0);
    assert_int_equal(client_addr(), IP_CLI);

    run_until(T0 + 52 * S + MS);
    assert_int_equal(t.nseen, 4);
    const struct seen *r = &t.seen[3];
    assert_int_equal(r->kind, REBIND);
    assert_int_equal(r->at, T0 + 52 * S);
    assert_int_equal(r->dst, IP4_BROADCAST);
    assert_int_equal(r->ciaddr, IP_CLI);
    assert_int_equal(r->flags, 0);
    assert_int_equal(r->server_id, 0);
    assert_int_equal(dhcp_client_renewals(t.c), 1);
    const struct dhcp_lease *l = dhcp_client_lease(t.c);
    assert_int_equal(l->bound_at_ns, T0 + 52 * S);
    assert_int_equal(l->addr, IP_CLI);
    assert_int_equal(client_addr(), IP_CLI);

    /* The next round follows the rebound lease: T1 at 82 s, T2 at 104 s. */
    run_until(T0 + 104 * S + MS);
    assert_int_equal(t.nseen, 6);
    assert_int_equal(t.seen[4].kind, RENEW);
    assert_int_equal(t.seen[4].at, T0 + 82 * S);
    assert_int_equal(t.seen[5].kind, REBIND);
    assert_int_equal(t.seen[5].at, T0 + 104 * S);
    assert_int_equal(dhcp_client_renewals(t.c), 2);
}

static void expiry_removes_the_address_and_starts_over(void **state)
{
    (void)state;
    start();
    wait_bound();
    t.quiet_renew = t.quiet_rebind = t.quiet_discover = true;
    run_until(T0 + 60 * S - 1);
    assert_int_equal(client_addr(), IP_CLI);
    assert_non_null(dhcp_client_lease(t.c));
    assert_int_equal(t.nseen, 4); /* DISCOVER, REQUEST, renewal, rebinding */
    assert_int_equal(t.seen[3].kind, REBIND);

    run_until(T0 + 60 * S + MS);
    assert_int_equal(client_addr(), 0);
    assert_null(dhcp_client_lease(t.c));
    const struct seen *d = NULL;
    assert_int_equal(count(DHCP_DISCOVER, &d), 2);
    assert_int_equal(d->at, T0 + 60 * S);
    assert_int_equal(d->flags, DHCP_FLAG_BROADCAST); /* unconfigured again */
    assert_int_not_equal(d->xid, t.seen[0].xid);

    /* Waiting for a lease again; the server comes back and answers the
     * next retransmission, 4 s later give or take 1 s. */
    lwt_t *p = dhcp_client_bound(t.c);
    assert_pending(p);
    t.quiet_discover = false;
    assert_int_equal(sched_run(p, NULL), 0);
    uint64_t again = test_vclock_now();
    assert_in_range(again, T0 + 63 * S, T0 + 65 * S);
    assert_int_equal(count(DHCP_DISCOVER, &d), 3);
    assert_int_equal(d->at, again);
    assert_int_equal(dhcp_client_lease(t.c)->bound_at_ns, again);
    assert_int_equal(client_addr(), IP_CLI);
    assert_int_equal(dhcp_client_renewals(t.c), 0);
}

static void infinite_and_default_lease_times(void **state)
{
    (void)state;
    /* No T1 and T2 from the server: 1/2 and 7/8 of the lease. */
    t.lease_s = 100, t.t1_s = t.t2_s = 0;
    start();
    wait_bound();
    assert_int_equal(dhcp_client_lease(t.c)->t1_s, 50);
    assert_int_equal(dhcp_client_lease(t.c)->t2_s, 87);
    run_until(T0 + 50 * S + MS);
    assert_int_equal(t.nseen, 3);
    assert_int_equal(t.seen[2].at, T0 + 50 * S);

    /* A client given an infinite lease never sends anything again. */
    dhcp_client_stop(t.c);
    t.c = NULL;
    drain();
    t.lease_s = DHCP_LEASE_INFINITE;
    start();
    wait_bound();
    size_t n = t.nseen;
    run_until(T0 + 1000000 * S);
    assert_int_equal(t.nseen, n);
    assert_int_equal(client_addr(), IP_CLI);
}

static void short_and_odd_lease_times(void **state)
{
    (void)state;
    /* T2 before T1: both take their defaults. */
    t.lease_s = 60, t.t1_s = 50, t.t2_s = 40;
    start();
    wait_bound();
    assert_int_equal(dhcp_client_lease(t.c)->t1_s, 30);
    assert_int_equal(dhcp_client_lease(t.c)->t2_s, 52);
    dhcp_client_stop(t.c);
    t.c = NULL;

    /* A zero lease is taken as 10 s: renewals every 5 s, not a spin. */
    t.lease_s = 0, t.t1_s = t.t2_s = 0;
    start();
    wait_bound();
    const struct dhcp_lease *l = dhcp_client_lease(t.c);
    assert_int_equal(l->lease_s, 10);
    assert_int_equal(l->t1_s, 5);
    assert_int_equal(l->t2_s, 8);
    size_t n = t.nseen;
    run_until(T0 + 20 * S + MS);
    assert_int_equal(t.nseen, n + 4);
    assert_int_equal(t.seen[n + 3].at, T0 + 20 * S);
    assert_int_equal(dhcp_client_renewals(t.c), 4);
}

/* ---- NAK ------------------------------------------------------------------------ */

static void nak_restarts(void **state)
{
    (void)state;
    t.naks = 1;
    start();
    wait_bound();
    assert_int_equal(test_vclock_now(), T0);
    assert_int_equal(t.nseen, 4);
    assert_int_equal(t.seen[0].type, DHCP_DISCOVER);
    assert_int_equal(t.seen[1].type, DHCP_REQUEST);
    assert_int_equal(t.seen[2].type, DHCP_DISCOVER);
    assert_int_equal(t.seen[3].type, DHCP_REQUEST);
    assert_int_not_equal(t.seen[2].xid, t.seen[0].xid);
    assert_int_equal(t.seen[3].xid, t.seen[2].xid);

    /* A NAK to a renewal takes the address away at once. */
    t.naks = 1;
    t.quiet_discover = true;
    run_until(T0 + 30 * S + MS);
    assert_int_equal(t.seen[4].kind, RENEW);
    assert_int_equal(t.seen[5].type, DHCP_DISCOVER);
    assert_int_equal(t.seen[5].at, T0 + 30 * S);
    assert_int_equal(client_addr(), 0);
    assert_null(dhcp_client_lease(t.c));
    assert_int_equal(dhcp_client_renewals(t.c), 0);
}

static void repeated_naks_slow_the_restarts_down(void **state)
{
    (void)state;
    t.naks = 3;
    start();
    wait_bound();
    /* Restarts at once, then after 4 s, then after 8 s more. */
    assert_int_equal(test_vclock_now(), T0 + 12 * S);
    assert_int_equal(t.nseen, 8);
    static const uint64_t at[] = {0, 0, 0, 0, 4, 4, 12, 12};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(t.seen[i].type, i % 2 ? DHCP_REQUEST : DHCP_DISCOVER);
        assert_int_equal(t.seen[i].at, T0 + at[i] * S);
    }
    assert_int_equal(dhcp_client_lease(t.c)->bound_at_ns, T0 + 12 * S);
}

/* ---- Losses and rubbish ------------------------------------------------------- */

static void discovers_back_off_exponentially_and_deterministically(void **state)
{
    (void)state;
    uint64_t first[8], second[8];
    for (int run = 0; run < 2; run++) {
        uint64_t *at = run ? second : first;
        t.quiet_discover = true;
        start();
        run_until(T0 + 300 * S);
        assert_int_equal(count(DHCP_DISCOVER, NULL), t.nseen);
        assert_true(t.nseen >= 8);
        bool jittered = false;
        for (size_t i = 0; i < 8; i++) {
            at[i] = t.seen[i].at;
            assert_int_equal(t.seen[i].xid, t.seen[0].xid); /* one exchange */
            assert_int_equal(t.seen[i].secs, (at[i] - T0) / S);
            assert_int_equal(at[i] % MS, 0);
            if (i == 0) {
                assert_int_equal(at[0], T0);
                continue;
            }
            uint64_t base = (i < 5 ? 4u << (i - 1) : 64) * S;
            uint64_t gap = at[i] - at[i - 1];
            assert_in_range(gap, base - S, base + S);
            jittered |= gap != base;
        }
        assert_true(jittered);
        if (run == 0) {
            /* Same MAC, same start time: the same run. */
            world_down();
            world_up();
        }
    }
    assert_memory_equal(first, second, sizeof first);
}

static void lost_discovers_are_retransmitted(void **state)
{
    (void)state;
    struct net_hub_faults lossy = {.loss_ppm = 1000000};
    assert_int_equal(net_hub_set_port_faults(t.pc, &lossy), 0);
    start();
    run_until(T0 + 9 * S);
    assert_int_equal(t.nseen, 0);
    assert_int_equal(net_hub_set_port_faults(t.pc, NULL), 0);
    wait_bound();
    /* The third DISCOVER, 4 + 8 s later give or take 2 s, got through. */
    assert_int_equal(t.nseen, 2);
    assert_in_range(t.seen[0].at, T0 + 10 * S, T0 + 14 * S);
    assert_int_equal(t.seen[0].secs, (t.seen[0].at - T0) / S);
    assert_int_equal(test_vclock_now(), t.seen[0].at);
    struct net_hub_stats hs;
    net_hub_stats(t.hub, &hs);
    assert_int_equal(hs.lost, 2);
    assert_int_equal(client_addr(), IP_CLI);
}

static void unanswered_requests_are_retransmitted_then_abandoned(void **state)
{
    (void)state;
    t.quiet_select = 4;
    start();
    wait_bound();
    /* REQUEST at 0, then 4, 8, 16 s apart (±1 s each), then back to
     * DISCOVER after 32 s more with a new xid. */
    assert_int_equal(t.nseen, 7);
    assert_int_equal(t.seen[0].type, DHCP_DISCOVER);
    static const uint64_t gaps[] = {4, 8, 16, 32};
    for (size_t i = 1; i <= 4; i++) {
        assert_int_equal(t.seen[i].kind, SELECT);
        assert_int_equal(t.seen[i].xid, t.seen[0].xid);
        assert_int_equal(t.seen[i].secs, (t.seen[i].at - T0) / S); /* since the DISCOVER */
        if (i > 1)
            assert_in_range(t.seen[i].at - t.seen[i - 1].at, (gaps[i - 2] - 1) * S, (gaps[i - 2] + 1) * S);
    }
    assert_int_equal(t.seen[1].at, T0);
    assert_int_equal(t.seen[5].type, DHCP_DISCOVER);
    assert_in_range(t.seen[5].at - t.seen[4].at, 31 * S, 33 * S);
    assert_int_not_equal(t.seen[5].xid, t.seen[0].xid);
    assert_int_equal(t.seen[6].kind, SELECT);
    assert_int_equal(dhcp_client_lease(t.c)->bound_at_ns, t.seen[6].at);
}

static void keeps_a_lease_over_a_lossy_hub(void **state)
{
    (void)state;
    struct net_hub_faults lossy = {.loss_ppm = 200000, .delay_ns = 2 * MS, .jitter_ns = 3 * MS};
    net_hub_set_faults(t.hub, &lossy);
    start();
    run_until(T0 + 3600 * S);
    struct net_hub_stats hs;
    net_hub_stats(t.hub, &hs);
    assert_true(hs.lost > 0);
    assert_true(dhcp_client_renewals(t.c) > 20);
    assert_int_equal(dhcp_client_bad_replies(t.c), 0);
    net_hub_set_faults(t.hub, NULL);
    run_until(T0 + 3700 * S);
    assert_non_null(dhcp_client_lease(t.c));
    assert_int_equal(client_addr(), IP_CLI);
}

static void malformed_and_foreign_replies_are_dropped(void **state)
{
    (void)state;
    t.garbage = true;
    start();
    wait_bound();
    assert_int_equal(test_vclock_now(), T0);
    assert_int_equal(t.nseen, 2);
    assert_int_equal(dhcp_client_bad_replies(t.c), 4); /* two before the OFFER, two before the ACK */
    assert_int_equal(dhcp_client_lease(t.c)->addr, IP_CLI);
    run_until(T0 + 30 * S + MS);
    assert_int_equal(dhcp_client_renewals(t.c), 1);
    assert_int_equal(dhcp_client_bad_replies(t.c), 6);
    assert_int_equal(t.send_errors, 0);
}

/* ---- Stopping --------------------------------------------------------------------- */

/* Once the server is gone and the hub is quiet, nothing of the client may
 * be left: no promise, no timer (the stacks hold none when idle). */
static void assert_client_gone(void)
{
    udp_close(t.sock);
    t.sock = NULL;
    lwt_unref(t.srv_loop);
    t.srv_loop = NULL;
    run_until(test_vclock_now() + 10 * S);
    assert_int_equal(net_hub_in_flight(t.hub), 0);
    assert_int_equal(sched_timer_count(), 0);
    assert_int_equal(lwt_live_count(), 0);
}

static void stop_releases_and_frees(void **state)
{
    (void)state;
    start();
    wait_bound();
    run_until(T0 + 10 * S);
    dhcp_client_stop(t.c);
    t.c = NULL;
    assert_int_equal(client_addr(), 0);
    run_until(T0 + 11 * S);
    const struct seen *r = NULL;
    assert_int_equal(count(DHCP_RELEASE, &r), 1);
    assert_int_equal(r->at, T0 + 10 * S);
    assert_int_equal(r->ciaddr, IP_CLI);
    assert_int_equal(r->dst, IP4_BROADCAST); /* see dhcp_client_stop */
    assert_int_equal(r->flags, 0);
    assert_int_equal(r->server_id, IP_SRV);
    /* The port is free again; this time stop while renewing. */
    t.quiet_renew = true;
    start();
    wait_bound();
    run_until(T0 + 45 * S);
    assert_int_equal(count(DHCP_REQUEST, &r), 3);
    assert_int_equal(r->kind, RENEW);
    dhcp_client_stop(t.c);
    t.c = NULL;
    assert_client_gone();
}

static void stop_while_selecting_rejects_waiters(void **state)
{
    (void)state;
    t.quiet_discover = true;
    start();
    run_until(T0 + 5 * S);
    lwt_t *p = dhcp_client_bound(t.c);
    lwt_t *q = dhcp_client_bound(t.c);
    lwt_cancel(q);
    assert_int_equal(lwt_error(q), -LWT_ECANCELED);
    lwt_unref(q);
    assert_pending(p);
    dhcp_client_stop(t.c);
    t.c = NULL;
    assert_int_equal(lwt_error(p), -LWT_EPIPE);
    lwt_unref(p);
    run_until(T0 + 100 * S);
    assert_int_equal(count(DHCP_RELEASE, NULL), 0);  /* nothing to release */
    assert_int_equal(count(DHCP_DISCOVER, NULL), 2); /* at 0 and 4 s: none after the stop */
    assert_client_gone();
}

static void stop_now(void *value, void *ctx)
{
    (void)value;
    (void)ctx;
    dhcp_client_stop(t.c);
    t.c = NULL;
}

static void stop_inside_a_callback(void **state)
{
    (void)state;
    start();
    lwt_t *p = dhcp_client_bound(t.c);
    lwt_on_success(p, stop_now, LWT_NOCTX);
    assert_int_equal(sched_run(p, NULL), 0);
    assert_null(t.c);
    run_until(T0 + S);
    assert_int_equal(count(DHCP_RELEASE, NULL), 1);
    assert_int_equal(client_addr(), 0);
    assert_client_gone();
}

/* A third port that sees every frame after the client's stack has: when
 * armed, it stops the client right after the stack has handed a reply to
 * the client's socket, before the receive loop's step has run. */
static void spy_rx(void *ctx, struct net_slice frame)
{
    (void)ctx;
    struct net_rd r = net_rd_of(&frame);
    uint8_t src[6];
    net_rd_bytes(&r, 6, src, 6);
    bool reply = memcmp(src, MAC_S, 6) == 0 && net_be16(&r, 12) == 0x0800 && net_u8(&r, 23) == 17 &&
                 net_be16(&r, 36) == DHCP_CLIENT_PORT;
    net_slice_release(&frame);
    if (reply && !r.bad && t.c && t.stop_on_reply) {
        dhcp_client_stop(t.c);
        t.c = NULL;
    }
}

static void stop_with_a_reply_in_flight(void **state)
{
    (void)state;
    struct netif *spy;
    static const uint8_t mac[6] = {2, 0, 0, 0, 0, 0xee};
    assert_int_equal(net_hub_add_port(t.hub, mac, 1500, "spy", &spy), 0);
    netif_listen(spy, spy_rx, NULL);
    start();
    t.stop_on_reply = true;
    run_until(T0 + S);
    assert_null(t.c);
    assert_int_equal(t.nseen, 1); /* stopped on the OFFER */
    assert_int_equal(client_addr(), 0);
    assert_client_gone();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(binds_and_configures_the_stack, setup, teardown),
        cmocka_unit_test_setup_teardown(a_second_client_on_the_stack_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(renews_at_t1, setup, teardown),
        cmocka_unit_test_setup_teardown(rebinds_at_t2_when_renewals_go_unanswered, setup, teardown),
        cmocka_unit_test_setup_teardown(expiry_removes_the_address_and_starts_over, setup, teardown),
        cmocka_unit_test_setup_teardown(infinite_and_default_lease_times, setup, teardown),
        cmocka_unit_test_setup_teardown(short_and_odd_lease_times, setup, teardown),
        cmocka_unit_test_setup_teardown(nak_restarts, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_naks_slow_the_restarts_down, setup, teardown),
        cmocka_unit_test_setup_teardown(discovers_back_off_exponentially_and_deterministically, setup, teardown),
        cmocka_unit_test_setup_teardown(lost_discovers_are_retransmitted, setup, teardown),
        cmocka_unit_test_setup_teardown(unanswered_requests_are_retransmitted_then_abandoned, setup, teardown),
        cmocka_unit_test_setup_teardown(keeps_a_lease_over_a_lossy_hub, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_and_foreign_replies_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_releases_and_frees, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_while_selecting_rejects_waiters, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_inside_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_with_a_reply_in_flight, setup, teardown),
    };
    return RUN_TESTS(tests);
}
