/* The direct stack over the in-memory hub, on the virtual clock: two stacks
 * (A 10.0.0.1, B 10.0.0.2) and a raw port that the test drives by hand to
 * play a peer, send malformed packets and watch what the stacks send. */
#include "test_support.h"
#include "test_vclock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "lwt_errno.h"
#include "net_csum.h"
#include "scheduler.h"
#include "stack.h"
#include "stack_internal.h" /* the ARP and reassembly timings */
#include "wire_arp.h"
#include "wire_eth.h"
#include "wire_icmp.h"
#include "wire_ip4.h"
#include "wire_udp.h"

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0xb};
static const uint8_t MAC_R[6] = {2, 0, 0, 0, 0, 0xc};
#define IP_A IP4_ADDR(10, 0, 0, 1)
#define IP_B IP4_ADDR(10, 0, 0, 2)
#define IP_R IP4_ADDR(10, 0, 0, 99)

#define RAW_MAX 256

static struct {
    struct net_hub *hub;
    struct netif *pa, *pb, *pr;
    struct net_stack *a, *b;
    struct net_slice raw[RAW_MAX]; /* frames the raw port saw, owned */
    size_t nraw;
    bool raw_answers_arp;
} t;

/* ---- The raw peer ------------------------------------------------------ */

static int copy_fill(struct net_slice *frame, void *ctx)
{
    const struct net_slice *src = ctx;
    memcpy(net_slice_data(frame), net_slice_data(src), src->len);
    return (int)src->len;
}

static void raw_send_bytes(const void *bytes, size_t len)
{
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 0, bytes, len), 0);
    assert_int_equal(netif_write(t.pr, len, copy_fill, &s), 0);
    net_slice_release(&s);
}

static size_t put_eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    struct net_wr w = net_wr_mem(f, ETH_HDR_LEN);
    struct eth_hdr h = {.type = type};
    memcpy(h.dst, dst, 6);
    memcpy(h.src, MAC_R, 6);
    eth_write(&w, 0, &h);
    return ETH_HDR_LEN;
}

static void raw_rx(void *ctx, struct net_slice frame)
{
    (void)ctx;
    struct eth_hdr eh;
    struct arp_pkt a;
    if (t.raw_answers_arp && eth_parse(&frame, &eh) == 0 && eh.type == ETH_TYPE_ARP) {
        struct net_slice body = frame;
        net_slice_pull(&body, ETH_HDR_LEN);
        if (arp_parse(&body, &a) == 0 && a.op == ARP_OP_REQUEST && a.tpa == IP_R) {
            uint8_t f[ETH_HDR_LEN + ARP_LEN];
            put_eth(f, a.sha, ETH_TYPE_ARP);
            struct net_wr w = net_wr_mem(f, sizeof f);
            struct arp_pkt r = {.op = ARP_OP_REPLY, .spa = IP_R, .tpa = a.spa};
            memcpy(r.sha, MAC_R, 6);
            memcpy(r.tha, a.sha, 6);
            arp_write(&w, ETH_HDR_LEN, &r);
            raw_send_bytes(f, sizeof f);
        }
    }
    if (t.nraw < RAW_MAX)
        t.raw[t.nraw++] = frame;
    else
        net_slice_release(&frame);
}

static void raw_clear(void)
{
    for (size_t i = 0; i < t.nraw; i++)
        net_slice_release(&t.raw[i]);
    t.nraw = 0;
}

/* Writes an IPv4 header (and its checksum) for a packet of total_len. */
static void put_ip(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto, size_t total_len, uint16_t id,
                   uint16_t frag_off, bool mf)
{
    struct net_wr w = net_wr_mem(p, IP4_HDR_MIN);
    struct ip4_hdr h = {.hlen = 20,
                        .total_len = (uint16_t)total_len,
                        .id = id,
                        .frag_off = frag_off,
                        .mf = mf,
                        .ttl = 64,
                        .proto = proto,
                        .src = src,
                        .dst = dst};
    ip4_write(&w, 0, &h);
}

/* An echo request from the raw peer to dst with `len` bytes of data. */
static size_t build_ping(uint8_t *f, uint32_t dst, const uint8_t *dst_mac, uint16_t seq, size_t len)
{
    size_t off = put_eth(f, dst_mac, ETH_TYPE_IP4);
    put_ip(f + off, IP_R, dst, IP4_PROTO_ICMP, 20 + 8 + len, seq, 0, false);
    uint8_t *icmp = f + off + 20;
    memset(icmp, 0, 8);
    icmp[0] = ICMP_ECHO_REQUEST;
    icmp[4] = 0x12, icmp[5] = 0x34, icmp[6] = (uint8_t)(seq >> 8), icmp[7] = (uint8_t)seq;
    for (size_t i = 0; i < len; i++)
        icmp[8 + i] = (uint8_t)(i * 7 + seq);
    uint16_t c = net_csum_fold(net_csum_add(0, icmp, 8 + len));
    icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
    return off + 20 + 8 + len;
}

/* The echo replies the raw port saw for sequence seq, checked. */
static size_t count_echo_replies(uint16_t seq, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < t.nraw; i++) {
        struct net_slice f = t.raw[i];
        struct eth_hdr eh;
        struct ip4_hdr ih;
        struct icmp_hdr ch;
        if (eth_parse(&f, &eh) || eh.type != ETH_TYPE_IP4)
            continue;
        net_slice_pull(&f, ETH_HDR_LEN);
        if (ip4_parse(&f, &ih) || ih.proto != IP4_PROTO_ICMP || ih.dst != IP_R)
            continue;
        net_slice_trim(&f, ih.total_len);
        net_slice_pull(&f, ih.hlen);
        if (icmp_parse(&f, &ch) || ch.type != ICMP_ECHO_REPLY || (ch.rest & 0xffff) != seq)
            continue;
        assert_int_equal(f.len, 8 + len);
        for (size_t k = 0; k < len; k++)
            assert_int_equal(net_slice_data(&f)[8 + k], (uint8_t)(k * 7 + seq));
        n++;
    }
    return n;
}

static void run_for(uint64_t ns)
{
    assert_int_equal(sched_run(sched_sleep(ns), NULL), 0);
}

/* ---- Fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
    test_setup(state);
    test_vclock_install(1000);
    memset(&t, 0, sizeof t);
    t.hub = net_hub_new(42);
    assert_non_null(t.hub);
    assert_int_equal(net_hub_add_port(t.hub, MAC_A, 1500, "a", &t.pa), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_B, 1500, "b", &t.pb), 0);
    assert_int_equal(net_hub_add_port(t.hub, MAC_R, 1500, "raw", &t.pr), 0);
    netif_listen(t.pr, raw_rx, NULL);
    t.raw_answers_arp = true;
    assert_int_equal(net_stack_new(t.pa, &t.a), 0);
    assert_int_equal(net_stack_new(t.pb, &t.b), 0);
    struct ip4_config ca = {IP_A, 0xffffff00, 0}, cb = {IP_B, 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.a, &ca), 0);
    assert_int_equal(net_stack_configure(t.b, &cb), 0);
    run_for(1000); /* the announcements */
    raw_clear();
    return 0;
}

static int teardown(void **state)
{
    raw_clear();
    net_stack_free(t.a);
    net_stack_free(t.b);
    net_hub_free(t.hub);
    test_vclock_uninstall();
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "%zu packet buffers left alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- UDP ------------------------------------------------------------------ */

static struct udp_datagram *recv_one(struct udp_sock *u)
{
    void *v = NULL;
    assert_int_equal(sched_run(udp_recv(u), &v), 0);
    return v;
}

static void udp_both_ways_with_arp_on_the_way(void **state)
{
    (void)state;
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    assert_int_equal(udp_bind(t.b, 7, &ub), 0);
    assert_true(udp_sock_port(ua) >= 49152);
    /* A does not know B's MAC yet: the datagram waits for ARP. */
    lwt_t *sent = udp_sendto(ua, IP_B, 7, "hello", 5);
    assert_fulfilled(sent);
    lwt_unref(sent);
    struct udp_datagram *d = recv_one(ub);
    assert_int_equal(d->src, IP_A);
    assert_int_equal(d->sport, udp_sock_port(ua));
    assert_int_equal(d->dport, 7);
    assert_int_equal(d->payload.len, 5);
    assert_memory_equal(net_slice_data(&d->payload), "hello", 5);
    /* B learnt A from its request: the answer goes straight out. */
    lwt_unref(udp_sendto(ub, d->src, d->sport, "world!", 6));
    udp_datagram_free(d);
    d = recv_one(ua);
    assert_int_equal(d->payload.len, 6);
    assert_memory_equal(net_slice_data(&d->payload), "world!", 6);
    udp_datagram_free(d);
    assert_int_equal(net_stack_stats(t.a)->arp_queue_dropped, 0);
    assert_int_equal(net_stack_stats(t.b)->udp_in, 1);
    udp_close(ua);
    udp_close(ub);
}

static void udp_large_datagrams_fragment_and_reassemble(void **state)
{
    (void)state;
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 1000, &ua), 0);
    assert_int_equal(udp_bind(t.b, 2000, &ub), 0);
    /* Reordering and duplication on the way must not matter. */
    struct net_hub_faults f = {.reorder_ppm = 300000, .dup_ppm = 200000};
    net_hub_set_faults(t.hub, &f);
    static uint8_t big[65507];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    const size_t sizes[] = {1473, 3000, 8000, sizeof big};
    for (size_t k = 0; k < 4; k++) {
        lwt_unref(udp_sendto(ua, IP_B, 2000, big, sizes[k]));
        struct udp_datagram *d = recv_one(ub);
        assert_int_equal(d->payload.len, sizes[k]);
        assert_memory_equal(net_slice_data(&d->payload), big, sizes[k]);
        udp_datagram_free(d);
    }
    assert_true(net_stack_stats(t.a)->ip_out_fragments > 4);
    assert_int_equal(net_stack_stats(t.b)->reasm_ok, 4);
    lwt_t *too_big = udp_sendto(ua, IP_B, 2000, big, sizeof big + 1);
    assert_int_equal(lwt_error(too_big), -LWT_EMSGSIZE);
    lwt_unref(too_big);
    /* Duplicated fragments that came after completion time out quietly. */
    net_hub_set_faults(t.hub, NULL);
    run_for(IP4_REASM_TIMEOUT_NS + SCHED_NS_PER_S);
    udp_close(ua);
    udp_close(ub);
}

static void udp_receive_queue_is_bounded_and_close_rejects(void **state)
{
    (void)state;
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    assert_int_equal(udp_bind(t.b, 9, &ub), 0);
    struct udp_sock *dup;
    assert_int_equal(udp_bind(t.b, 9, &dup), -LWT_EADDRINUSE);
    for (int i = 0; i < NET_UDP_QUEUE_MAX + 10; i++) {
        lwt_unref(udp_sendto(ua, IP_B, 9, &i, sizeof i));
        run_for(1000);
    }
    assert_int_equal(net_stack_stats(t.b)->udp_queue_full, 10);
    /* Queued in order. */
    struct udp_datagram *d = recv_one(ub);
    int first;
    memcpy(&first, net_slice_data(&d->payload), sizeof first);
    assert_int_equal(first, 0);
    udp_datagram_free(d);
    lwt_t *p = udp_recv(ub);
    udp_datagram_free(lwt_value(p)); /* the second one, at once */
    lwt_unref(p);
    /* A pending receive is rejected on close; queued datagrams are freed. */
    struct udp_sock *uc;
    assert_int_equal(udp_bind(t.b, 10, &uc), 0);
    p = udp_recv(uc);
    assert_pending(p);
    lwt_t *busy = udp_recv(uc);
    assert_int_equal(lwt_error(busy), -LWT_EBUSY);
    lwt_unref(busy);
    udp_close(uc);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ESHUTDOWN);
    lwt_unref(p);
    udp_close(ub);
    udp_close(ua);
}

static void udp_cancelled_receive_loses_nothing(void **state)
{
    (void)state;
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    assert_int_equal(udp_bind(t.b, 9, &ub), 0);
    lwt_t *p = udp_recv(ub);
    lwt_cancel(p);
    lwt_unref(p);
    lwt_unref(udp_sendto(ua, IP_B, 9, "x", 1));
    run_for(SCHED_NS_PER_S);
    /* The datagram went to the queue, not to the cancelled receive. */
    struct udp_datagram *d = recv_one(ub);
    assert_int_equal(d->payload.len, 1);
    udp_datagram_free(d);
    udp_close(ua);
    udp_close(ub);
}

static void udp_without_address_only_broadcasts(void **state)
{
    (void)state;
    struct ip4_config none = {0};
    assert_int_equal(net_stack_configure(t.a, &none), 0);
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 68, &ua), 0);
    assert_int_equal(udp_bind(t.b, 67, &ub), 0);
    lwt_t *p = udp_sendto(ua, IP_B, 67, "x", 1);
    assert_int_equal(lwt_error(p), -LWT_EADDRNOTAVAIL);
    lwt_unref(p);
    lwt_unref(udp_sendto(ua, IP4_BROADCAST, 67, "discover", 8));
    struct udp_datagram *d = recv_one(ub);
    assert_int_equal(d->src, 0);
    assert_int_equal(d->dst, IP4_BROADCAST);
    udp_datagram_free(d);
    /* And the unconfigured stack takes UDP sent to the address it is being
     * offered (a DHCP server's unicast reply). */
    uint8_t f[ETH_HDR_LEN + 20 + 8 + 4];
    size_t off = put_eth(f, MAC_A, ETH_TYPE_IP4);
    put_ip(f + off, IP_R, IP4_ADDR(10, 0, 0, 50), IP4_PROTO_UDP, 32, 1, 0, false);
    struct net_wr w = net_wr_mem(f + off + 20, 12);
    memcpy(f + off + 28, "offr", 4);
    struct udp_hdr uh = {.sport = 67, .dport = 68, .len = 12};
    udp_write(&w, 0, IP_R, IP4_ADDR(10, 0, 0, 50), &uh);
    raw_send_bytes(f, sizeof f);
    d = recv_one(ua);
    assert_memory_equal(net_slice_data(&d->payload), "offr", 4);
    udp_datagram_free(d);
    udp_close(ua);
    udp_close(ub);
}

/* ---- ICMP ------------------------------------------------------------------ */

static void ping_is_answered_at_every_size(void **state)
{
    (void)state;
    static uint8_t f[2000];
    const size_t sizes[] = {0, 56, 1472};
    for (uint16_t seq = 0; seq < 3; seq++) {
        raw_send_bytes(f, build_ping(f, IP_A, MAC_A, seq, sizes[seq]));
        run_for(SCHED_NS_PER_S);
        assert_int_equal(count_echo_replies(seq, sizes[seq]), 1);
    }
    assert_int_equal(net_stack_stats(t.a)->icmp_echo_answered, 3);
}

static void fragmented_ping_is_reassembled_and_answered_in_fragments(void **state)
{
    (void)state;
    /* 8000 bytes of echo data: build the whole datagram, then cut it. */
    static uint8_t whole[ETH_HDR_LEN + 20 + 8 + 8000];
    size_t n = build_ping(whole, IP_A, MAC_A, 77, 8000);
    const uint8_t *payload = whole + ETH_HDR_LEN + 20;
    size_t plen = n - ETH_HDR_LEN - 20;
    /* Sent last fragment first, to exercise out-of-order reassembly. */
    size_t chunk = 1480, nfrag = (plen + chunk - 1) / chunk;
    for (size_t i = nfrag; i-- > 0;) {
        uint8_t f[ETH_HDR_LEN + 20 + 1480];
        size_t off = i * chunk, len = plen - off < chunk ? plen - off : chunk;
        put_eth(f, MAC_A, ETH_TYPE_IP4);
        put_ip(f + ETH_HDR_LEN, IP_R, IP_A, IP4_PROTO_ICMP, 20 + len, 77, (uint16_t)off, i + 1 < nfrag);
        memcpy(f + ETH_HDR_LEN + 20, payload + off, len);
        raw_send_bytes(f, ETH_HDR_LEN + 20 + len);
    }
    run_for(SCHED_NS_PER_S);
    assert_int_equal(net_stack_stats(t.a)->reasm_ok, 1);
    assert_int_equal(net_stack_stats(t.a)->icmp_echo_answered, 1);
    /* The reply came back in fragments: reassemble them here by hand. */
    static uint8_t got[8008];
    size_t have = 0, frags = 0;
    for (size_t i = 0; i < t.nraw; i++) {
        struct net_slice s = t.raw[i];
        struct ip4_hdr h;
        net_slice_pull(&s, ETH_HDR_LEN);
        if (ip4_parse(&s, &h) || h.proto != IP4_PROTO_ICMP)
            continue;
        size_t len = h.total_len - h.hlen;
        assert_true(h.frag_off + len <= sizeof got);
        memcpy(got + h.frag_off, net_slice_data(&s) + h.hlen, len);
        have += len;
        frags++;
        assert_true(h.total_len <= 1500);
    }
    assert_int_equal(have, 8008);
    assert_true(frags >= 6);
    assert_int_equal(got[0], ICMP_ECHO_REPLY);
    assert_memory_equal(got + 8, payload + 8, 8000);
}

static void closed_port_gets_rate_limited_unreachable(void **state)
{
    (void)state;
    uint8_t f[ETH_HDR_LEN + 20 + 8 + 4];
    for (int i = 0; i < 50; i++) {
        size_t off = put_eth(f, MAC_A, ETH_TYPE_IP4);
        put_ip(f + off, IP_R, IP_A, IP4_PROTO_UDP, 32, (uint16_t)i, 0, false);
        struct net_wr w = net_wr_mem(f + off + 20, 12);
        memcpy(f + off + 28, "ping", 4);
        struct udp_hdr uh = {.sport = 5555, .dport = 4444, .len = 12};
        udp_write(&w, 0, IP_R, IP_A, &uh);
        raw_send_bytes(f, sizeof f);
    }
    run_for(1000);
    const struct net_stack_stats *st = net_stack_stats(t.a);
    assert_int_equal(st->udp_no_port, 50);
    assert_int_equal(st->icmp_unreach_sent, ICMP_ERROR_BURST);
    assert_int_equal(st->icmp_rate_limited, 50 - ICMP_ERROR_BURST);
    /* Each error quotes the offending header and 8 bytes after it. */
    size_t errors = 0;
    for (size_t i = 0; i < t.nraw; i++) {
        struct net_slice s = t.raw[i];
        struct ip4_hdr h;
        struct icmp_hdr ch;
        net_slice_pull(&s, ETH_HDR_LEN);
        if (ip4_parse(&s, &h) || h.proto != IP4_PROTO_ICMP)
            continue;
        net_slice_pull(&s, h.hlen);
        assert_int_equal(icmp_parse(&s, &ch), 0);
        assert_int_equal(ch.type, ICMP_UNREACH);
        assert_int_equal(ch.code, ICMP_UNREACH_PORT);
        assert_int_equal(s.len, 8 + 20 + 8);
        assert_int_equal(net_slice_data(&s)[8 + 20 + 2], 4444 >> 8);
        errors++;
    }
    assert_int_equal(errors, ICMP_ERROR_BURST);
    /* A second later the bucket has refilled. */
    run_for(SCHED_NS_PER_S);
    raw_send_bytes(f, sizeof f);
    run_for(1000);
    assert_int_equal(net_stack_stats(t.a)->icmp_unreach_sent, ICMP_ERROR_BURST + 1);
}

/* ---- Bad input ------------------------------------------------------------ */

static void malformed_frames_are_dropped_and_counted(void **state)
{
    (void)state;
    static uint8_t f[1600];
    size_t n;
    /* Ethernet shorter than its header. */
    raw_send_bytes(MAC_A, 6);
    /* IPv4: bad checksum, IHL < 5, total length past the frame, version 6,
     * truncated header. */
    n = build_ping(f, IP_A, MAC_A, 1, 8);
    f[ETH_HDR_LEN + IP4_OFF_CSUM] ^= 0xff;
    raw_send_bytes(f, n);
    n = build_ping(f, IP_A, MAC_A, 1, 8);
    f[ETH_HDR_LEN] = 0x44;
    raw_send_bytes(f, n);
    n = build_ping(f, IP_A, MAC_A, 1, 8);
    put_ip(f + ETH_HDR_LEN, IP_R, IP_A, IP4_PROTO_ICMP, 1400, 1, 0, false);
    raw_send_bytes(f, n);
    n = build_ping(f, IP_A, MAC_A, 1, 8);
    f[ETH_HDR_LEN] = 0x65;
    raw_send_bytes(f, n);
    raw_send_bytes(f, ETH_HDR_LEN + 10);
    /* ICMP with a bad checksum; truncated ICMP. */
    n = build_ping(f, IP_A, MAC_A, 1, 8);
    f[n - 1] ^= 1;
    raw_send_bytes(f, n);
    n = put_eth(f, MAC_A, ETH_TYPE_IP4);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_ICMP, 24, 1, 0, false);
    raw_send_bytes(f, n + 24);
    /* UDP whose length field lies, and one with a bad checksum. */
    n = put_eth(f, MAC_A, ETH_TYPE_IP4);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 12, 1, 0, false);
    struct net_wr w = net_wr_mem(f + n + 20, 12);
    struct udp_hdr uh = {.sport = 1, .dport = 2, .len = 12};
    udp_write(&w, 0, IP_R, IP_A, &uh);
    f[n + 20 + UDP_OFF_LEN + 1] = 200;
    raw_send_bytes(f, n + 32);
    udp_write(&w, 0, IP_R, IP_A, &uh);
    f[n + 20 + 9] ^= 0x55;
    raw_send_bytes(f, n + 32);
    /* ARP: truncated, and with a wrong hardware length. */
    n = put_eth(f, eth_broadcast, ETH_TYPE_ARP);
    raw_send_bytes(f, n + 20);
    struct arp_pkt a = {.op = ARP_OP_REQUEST, .spa = IP_R, .tpa = IP_A};
    w = net_wr_mem(f + n, ARP_LEN);
    arp_write(&w, 0, &a);
    f[n + ARP_OFF_HLEN] = 8;
    raw_send_bytes(f, n + ARP_LEN);
    /* Fragments that lie: two different ends, and one past 64 KiB. */
    n = put_eth(f, MAC_A, ETH_TYPE_IP4);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 16, 9, 0, true);
    raw_send_bytes(f, n + 36);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 8, 9, 64, false);
    raw_send_bytes(f, n + 28);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 8, 9, 128, false);
    raw_send_bytes(f, n + 28);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 16, 10, 65528, true);
    raw_send_bytes(f, n + 36);
    /* Garbage of every length. */
    srand(7);
    for (size_t len = 0; len < 120; len++) {
        for (size_t i = 0; i < len; i++)
            f[i] = (uint8_t)rand();
        if (len >= 6)
            memcpy(f, MAC_A, 6);
        if (len >= 14)
            f[12] = 0x08, f[13] = (uint8_t)(len % 2 ? 0x00 : 0x06);
        raw_send_bytes(f, len);
    }
    run_for(SCHED_NS_PER_S);
    const struct net_stack_stats *st = net_stack_stats(t.a);
    assert_true(st->eth_bad >= 1);
    assert_true(st->ip_bad >= 5);
    assert_true(st->icmp_bad >= 2);
    assert_true(st->udp_bad >= 2);
    assert_true(st->arp_bad >= 2);
    assert_true(st->reasm_dropped >= 1); /* the one past 64 KiB is a bad header */
    /* And it still answers. */
    raw_clear();
    raw_send_bytes(f, build_ping(f, IP_A, MAC_A, 5, 56));
    run_for(SCHED_NS_PER_S);
    assert_int_equal(count_echo_replies(5, 56), 1);
    run_for(IP4_REASM_TIMEOUT_NS + SCHED_NS_PER_S);
}

static void reassembly_times_out_and_is_bounded(void **state)
{
    (void)state;
    static uint8_t f[ETH_HDR_LEN + 20 + 1480];
    size_t n = put_eth(f, MAC_A, ETH_TYPE_IP4);
    /* NET_REASM_MAX + 4 datagrams that never complete. */
    for (uint16_t id = 0; id < NET_REASM_MAX + 4; id++) {
        put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 1480, id, 0, true);
        raw_send_bytes(f, n + 20 + 1480);
    }
    run_for(1000);
    const struct net_stack_stats *st = net_stack_stats(t.a);
    assert_int_equal(st->reasm_dropped, 4);
    assert_int_equal(st->reasm_timeout, 0);
    run_for(IP4_REASM_TIMEOUT_NS);
    assert_int_equal(st->reasm_timeout, NET_REASM_MAX);
    /* Room again. */
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 20 + 1480, 999, 0, true);
    raw_send_bytes(f, n + 20 + 1480);
    run_for(1000);
    assert_int_equal(st->reasm_dropped, 4);
    run_for(IP4_REASM_TIMEOUT_NS);
}

/* ---- ARP ------------------------------------------------------------------ */

static size_t count_arp(uint16_t op, uint32_t tpa, const uint8_t *eth_dst)
{
    size_t n = 0;
    for (size_t i = 0; i < t.nraw; i++) {
        struct net_slice s = t.raw[i];
        struct eth_hdr eh;
        struct arp_pkt a;
        if (eth_parse(&s, &eh) || eh.type != ETH_TYPE_ARP)
            continue;
        net_slice_pull(&s, ETH_HDR_LEN);
        if (arp_parse(&s, &a) == 0 && a.op == op && a.tpa == tpa && (!eth_dst || eth_addr_eq(eh.dst, eth_dst)))
            n++;
    }
    return n;
}

static void announce_on_configure(void **state)
{
    (void)state;
    struct ip4_config c = {IP4_ADDR(10, 0, 0, 5), 0xffffff00, IP4_ADDR(10, 0, 0, 254)};
    assert_int_equal(net_stack_configure(t.a, &c), 0);
    run_for(1000);
    assert_int_equal(count_arp(ARP_OP_REQUEST, IP4_ADDR(10, 0, 0, 5), eth_broadcast), 1);
    struct ip4_config bad = {IP4_ADDR(10, 0, 0, 0), 0xffffff00, 0};
    assert_int_equal(net_stack_configure(t.a, &bad), -LWT_EINVAL);
    bad = (struct ip4_config){IP4_ADDR(10, 0, 0, 5), 0xff00ff00, 0};
    assert_int_equal(net_stack_configure(t.a, &bad), -LWT_EINVAL);
    bad = (struct ip4_config){IP4_ADDR(10, 0, 0, 5), 0xffffff00, IP4_ADDR(10, 0, 1, 1)};
    assert_int_equal(net_stack_configure(t.a, &bad), -LWT_EINVAL);
    assert_int_equal(net_stack_config(t.a)->addr, IP4_ADDR(10, 0, 0, 5));
}

static void requests_for_us_are_answered(void **state)
{
    (void)state;
    uint8_t f[ETH_HDR_LEN + ARP_LEN];
    size_t n = put_eth(f, eth_broadcast, ETH_TYPE_ARP);
    struct net_wr w = net_wr_mem(f + n, ARP_LEN);
    struct arp_pkt a = {.op = ARP_OP_REQUEST, .spa = IP_R, .tpa = IP_A};
    memcpy(a.sha, MAC_R, 6);
    arp_write(&w, 0, &a);
    raw_send_bytes(f, sizeof f);
    a.tpa = IP4_ADDR(10, 0, 0, 3); /* nobody's */
    arp_write(&w, 0, &a);
    raw_send_bytes(f, sizeof f);
    run_for(1000);
    assert_int_equal(count_arp(ARP_OP_REPLY, IP_R, MAC_R), 1);
    assert_int_equal(net_stack_stats(t.a)->arp_requests_answered, 1);
    assert_int_equal(net_stack_stats(t.b)->arp_requests_answered, 0);
}

static void unresolved_address_gives_up_and_queue_is_bounded(void **state)
{
    (void)state;
    struct udp_sock *ua;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    uint32_t nobody = IP4_ADDR(10, 0, 0, 77);
    for (int i = 0; i < NET_ARP_QUEUE_MAX + 8; i++)
        lwt_unref(udp_sendto(ua, nobody, 9, "x", 1));
    const struct net_stack_stats *st = net_stack_stats(t.a);
    assert_int_equal(st->arp_queue_dropped, 8);
    run_for(10 * SCHED_NS_PER_S);
    assert_int_equal(count_arp(ARP_OP_REQUEST, nobody, eth_broadcast), 3);
    assert_int_equal(st->arp_unresolved, NET_ARP_QUEUE_MAX);
    /* No route off the subnet without a gateway. */
    lwt_t *p = udp_sendto(ua, IP4_ADDR(192, 168, 1, 1), 9, "x", 1);
    assert_int_equal(lwt_error(p), -LWT_ENETUNREACH);
    lwt_unref(p);
    udp_close(ua);
}

static void entries_are_refreshed_while_used_and_expire_when_not(void **state)
{
    (void)state;
    struct udp_sock *ua, *ub;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    assert_int_equal(udp_bind(t.b, 9, &ub), 0);
    lwt_unref(udp_sendto(ua, IP_B, 9, "1", 1));
    udp_datagram_free(recv_one(ub));
    raw_clear();
    /* Used when older than the refresh age: a unicast request goes to B. */
    run_for(ARP_REFRESH_NS + SCHED_NS_PER_S);
    lwt_unref(udp_sendto(ua, IP_B, 9, "2", 1));
    udp_datagram_free(recv_one(ub));
    run_for(1000);
    assert_int_equal(count_arp(ARP_OP_REQUEST, IP_B, MAC_B), 1);
    assert_int_equal(count_arp(ARP_OP_REQUEST, IP_B, eth_broadcast), 0);
    /* B answered: the entry lives on past its first lifetime. */
    run_for(ARP_LIFETIME_NS - ARP_REFRESH_NS);
    raw_clear();
    lwt_unref(udp_sendto(ua, IP_B, 9, "3", 1));
    udp_datagram_free(recv_one(ub));
    assert_int_equal(count_arp(ARP_OP_REQUEST, IP_B, eth_broadcast), 0);
    /* Unused past its lifetime, it is resolved afresh, by broadcast. */
    run_for(ARP_LIFETIME_NS + SCHED_NS_PER_S);
    raw_clear();
    lwt_unref(udp_sendto(ua, IP_B, 9, "4", 1));
    udp_datagram_free(recv_one(ub));
    assert_int_equal(count_arp(ARP_OP_REQUEST, IP_B, eth_broadcast), 1);
    udp_close(ua);
    udp_close(ub);
}

static void queued_packet_goes_out_after_the_address_is_removed(void **state)
{
    (void)state;
    struct udp_sock *ua;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    t.raw_answers_arp = false; /* answer later, by hand */
    lwt_unref(udp_sendto(ua, IP_R, 9, "bye", 3));
    struct ip4_config none = {0};
    assert_int_equal(net_stack_configure(t.a, &none), 0);
    uint8_t f[ETH_HDR_LEN + ARP_LEN];
    size_t n = put_eth(f, MAC_A, ETH_TYPE_ARP);
    struct net_wr w = net_wr_mem(f + n, ARP_LEN);
    struct arp_pkt a = {.op = ARP_OP_REPLY, .spa = IP_R, .tpa = IP_A};
    memcpy(a.sha, MAC_R, 6);
    memcpy(a.tha, MAC_A, 6);
    arp_write(&w, 0, &a);
    raw_clear();
    raw_send_bytes(f, sizeof f);
    run_for(1000);
    size_t udp = 0;
    for (size_t i = 0; i < t.nraw; i++) {
        struct net_slice s = t.raw[i];
        struct ip4_hdr h;
        net_slice_pull(&s, ETH_HDR_LEN);
        if (ip4_parse(&s, &h) == 0 && h.proto == IP4_PROTO_UDP && h.dst == IP_R)
            udp++;
    }
    assert_int_equal(udp, 1);
    udp_close(ua);
}

static void freeing_a_busy_stack_leaks_nothing(void **state)
{
    (void)state;
    struct udp_sock *ua;
    assert_int_equal(udp_bind(t.a, 0, &ua), 0);
    lwt_unref(udp_sendto(ua, IP4_ADDR(10, 0, 0, 77), 9, "x", 1)); /* ARP pending, packet queued */
    uint8_t f[ETH_HDR_LEN + 20 + 16];
    size_t n = put_eth(f, MAC_A, ETH_TYPE_IP4);
    put_ip(f + n, IP_R, IP_A, IP4_PROTO_UDP, 36, 3, 0, true); /* a reassembly under way */
    raw_send_bytes(f, sizeof f);
    run_for(1000);
    lwt_t *p = udp_recv(ua);
    net_stack_free(t.a);
    t.a = NULL;
    drain();
    assert_int_equal(lwt_error(p), -LWT_ESHUTDOWN);
    lwt_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(udp_both_ways_with_arp_on_the_way),
        T(udp_large_datagrams_fragment_and_reassemble),
        T(udp_receive_queue_is_bounded_and_close_rejects),
        T(udp_cancelled_receive_loses_nothing),
        T(udp_without_address_only_broadcasts),
        T(ping_is_answered_at_every_size),
        T(fragmented_ping_is_reassembled_and_answered_in_fragments),
        T(closed_port_gets_rate_limited_unreachable),
        T(malformed_frames_are_dropped_and_counted),
        T(reassembly_times_out_and_is_bounded),
        T(announce_on_configure),
        T(requests_for_us_are_answered),
        T(unresolved_address_gives_up_and_queue_is_bounded),
        T(entries_are_refreshed_while_used_and_expire_when_not),
        T(queued_packet_goes_out_after_the_address_is_removed),
        T(freeing_a_busy_stack_leaks_nothing),
    };
    return RUN_TESTS(tests);
}
