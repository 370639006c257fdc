/* Wire formats: each parser accepts a well-formed packet, and refuses every
 * truncation of it, and inputs whose fields are inconsistent or claim more
 * than there is. */
#include "test_support.h"

#include <string.h>

#include "lwt_errno.h"
#include "net_csum.h"
#include "wire_arp.h"
#include "wire_eth.h"
#include "wire_icmp.h"
#include "wire_ip4.h"
#include "wire_udp.h"

/* A slice over a copy of len bytes of p (released by the caller). */
static struct net_slice slice_of(const void *p, size_t len)
{
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 0, p, len), 0);
    return s;
}

typedef int (*parse_fn)(const struct net_slice *s, void *out);

/* Every proper prefix of pkt must be refused. */
static void every_truncation_fails(const uint8_t *pkt, size_t len, size_t min_ok, parse_fn parse, void *out)
{
    for (size_t n = 0; n < min_ok && n < len; n++) {
        struct net_slice s = slice_of(pkt, n);
        assert_int_equal(parse(&s, out), -LWT_EBADMSG);
        net_slice_release(&s);
    }
}

static int parse_eth(const struct net_slice *s, void *out)
{
    return eth_parse(s, out);
}
static int parse_arp(const struct net_slice *s, void *out)
{
    return arp_parse(s, out);
}
static int parse_ip4(const struct net_slice *s, void *out)
{
    return ip4_parse(s, out);
}
static int parse_icmp(const struct net_slice *s, void *out)
{
    return icmp_parse(s, out);
}

static void ethernet(void **state)
{
    (void)state;
    const uint8_t f[ETH_HDR_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x06};
    struct eth_hdr h;
    struct net_slice s = slice_of(f, sizeof f);
    assert_int_equal(eth_parse(&s, &h), 0);
    assert_int_equal(h.type, ETH_TYPE_ARP);
    assert_int_equal(h.dst[0], 1);
    assert_int_equal(h.src[5], 12);
    net_slice_release(&s);
    uint8_t out[ETH_HDR_LEN];
    struct net_wr w = net_wr_mem(out, sizeof out);
    eth_write(&w, 0, &h);
    assert_memory_equal(out, f, sizeof f);
    every_truncation_fails(f, sizeof f, sizeof f, parse_eth, &h);
    assert_true(eth_is_group(eth_broadcast));
    const uint8_t unicast[ETH_ALEN] = {2, 0, 0, 0, 0, 1};
    assert_false(eth_is_group(unicast));
}

static void arp(void **state)
{
    (void)state;
    struct arp_pkt a = {.op = ARP_OP_REPLY,
                        .sha = {2, 0, 0, 0, 0, 1},
                        .spa = IP4_ADDR(10, 0, 0, 1),
                        .tha = {2, 0, 0, 0, 0, 2},
                        .tpa = IP4_ADDR(10, 0, 0, 2)};
    uint8_t p[ARP_LEN + 18]; /* with Ethernet padding after it */
    memset(p, 0, sizeof p);
    struct net_wr w = net_wr_mem(p, sizeof p);
    arp_write(&w, 0, &a);
    struct arp_pkt b;
    struct net_slice s = slice_of(p, sizeof p);
    assert_int_equal(arp_parse(&s, &b), 0);
    assert_memory_equal(&a.sha, &b.sha, 6);
    assert_int_equal(b.spa, a.spa);
    assert_int_equal(b.tpa, a.tpa);
    assert_int_equal(b.op, ARP_OP_REPLY);
    net_slice_release(&s);
    every_truncation_fails(p, sizeof p, ARP_LEN, parse_arp, &b);
    /* Each of the fixed fields wrong, and an unknown operation. */
    const size_t offs[] = {ARP_OFF_HTYPE + 1, ARP_OFF_PTYPE, ARP_OFF_HLEN, ARP_OFF_PLEN, ARP_OFF_OP + 1};
    for (size_t i = 0; i < 5; i++) {
        uint8_t q[ARP_LEN];
        memcpy(q, p, ARP_LEN);
        q[offs[i]] ^= 0x0f;
        s = slice_of(q, sizeof q);
        assert_int_equal(arp_parse(&s, &b), -LWT_EBADMSG);
        net_slice_release(&s);
    }
}

static size_t ip_packet(uint8_t *p, size_t payload)
{
    struct net_wr w = net_wr_mem(p, IP4_HDR_MIN);
    struct ip4_hdr h = {.hlen = 20,
                        .total_len = (uint16_t)(20 + payload),
                        .id = 0x1234,
                        .df = true,
                        .ttl = 64,
                        .proto = IP4_PROTO_UDP,
                        .src = IP4_ADDR(192, 0, 2, 1),
                        .dst = IP4_ADDR(192, 0, 2, 2)};
    ip4_write(&w, 0, &h);
    memset(p + 20, 0xab, payload);
    return 20 + payload;
}

static void refix_csum(uint8_t *p)
{
    p[IP4_OFF_CSUM] = p[IP4_OFF_CSUM + 1] = 0;
    uint16_t c = net_csum_fold(net_csum_add(0, p, (size_t)(p[0] & 15) * 4));
    p[IP4_OFF_CSUM] = (uint8_t)(c >> 8);
    p[IP4_OFF_CSUM + 1] = (uint8_t)c;
}

static void expect_ip_bad(const uint8_t *p, size_t len)
{
    struct ip4_hdr h;
    struct net_slice s = slice_of(p, len);
    assert_int_equal(ip4_parse(&s, &h), -LWT_EBADMSG);
    net_slice_release(&s);
}

static void ipv4(void **state)
{
    (void)state;
    uint8_t p[100];
    size_t n = ip_packet(p, 30);
    struct ip4_hdr h;
    struct net_slice s = slice_of(p, n + 6); /* link padding is allowed */
    assert_int_equal(ip4_parse(&s, &h), 0);
    assert_int_equal(h.hlen, 20);
    assert_int_equal(h.total_len, 50);
    assert_int_equal(h.id, 0x1234);
    assert_true(h.df);
    assert_false(ip4_is_fragment(&h));
    assert_int_equal(h.src, IP4_ADDR(192, 0, 2, 1));
    net_slice_release(&s);
    every_truncation_fails(p, n, n, parse_ip4, &h);
    uint8_t q[100];
    /* Bad checksum. */
    memcpy(q, p, n);
    q[IP4_OFF_TTL] ^= 1;
    expect_ip_bad(q, n);
    /* Version 6. */
    memcpy(q, p, n);
    q[0] = 0x65;
    refix_csum(q);
    expect_ip_bad(q, n);
    /* IHL 4 (16 bytes), and IHL 15 (60 bytes) past a 50-byte packet's
     * total length. */
    memcpy(q, p, n);
    q[0] = 0x44;
    expect_ip_bad(q, n);
    memcpy(q, p, n);
    q[0] = 0x4f;
    q[IP4_OFF_LEN + 1] = 40;
    expect_ip_bad(q, 40);
    /* Total length shorter than the header, and longer than the slice. */
    memcpy(q, p, n);
    q[IP4_OFF_LEN + 1] = 19;
    refix_csum(q);
    expect_ip_bad(q, n);
    memcpy(q, p, n);
    q[IP4_OFF_LEN + 1] = 51;
    refix_csum(q);
    expect_ip_bad(q, n);
    /* The reserved flag, and a fragment reaching past 64 KiB. */
    memcpy(q, p, n);
    q[IP4_OFF_FRAG] |= 0x80;
    refix_csum(q);
    expect_ip_bad(q, n);
    memcpy(q, p, n);
    q[IP4_OFF_FRAG] = 0x1f, q[IP4_OFF_FRAG + 1] = 0xff; /* offset 65528, 30 bytes */
    refix_csum(q);
    expect_ip_bad(q, n);
    /* Options are allowed: IHL 6 with a no-op option. */
    memcpy(q, p, 20);
    q[0] = 0x46;
    q[IP4_OFF_LEN + 1] = 24;
    memset(q + 20, 1, 4);
    refix_csum(q);
    s = slice_of(q, 24);
    assert_int_equal(ip4_parse(&s, &h), 0);
    assert_int_equal(h.hlen, 24);
    net_slice_release(&s);
}

static void ipv4_text_addresses(void **state)
{
    (void)state;
    char buf[16];
    uint32_t a;
    assert_int_equal(ip4_aton("10.0.2.15", &a), 0);
    assert_int_equal(a, IP4_ADDR(10, 0, 2, 15));
    assert_string_equal(ip4_ntoa(a, buf), "10.0.2.15");
    assert_string_equal(ip4_ntoa(IP4_BROADCAST, buf), "255.255.255.255");
    const char *bad[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1.2.3.4 ", "a.b.c.d", "1234.1.1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ip4_aton(bad[i], &a), -LWT_EINVAL);
}

static void icmp(void **state)
{
    (void)state;
    uint8_t m[16] = {ICMP_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    uint16_t c = net_csum_fold(net_csum_add(0, m, sizeof m));
    m[2] = (uint8_t)(c >> 8), m[3] = (uint8_t)c;
    struct icmp_hdr h;
    struct net_slice s = slice_of(m, sizeof m);
    assert_int_equal(icmp_parse(&s, &h), 0);
    assert_int_equal(h.type, ICMP_ECHO_REQUEST);
    assert_int_equal(h.rest, 0x12340001);
    net_slice_release(&s);
    every_truncation_fails(m, sizeof m, ICMP_HDR_LEN, parse_icmp, &h);
    /* Truncating the data breaks the checksum too. */
    s = slice_of(m, sizeof m - 2);
    assert_int_equal(icmp_parse(&s, &h), -LWT_EBADMSG);
    net_slice_release(&s);
    m[15] ^= 1;
    s = slice_of(m, sizeof m);
    assert_int_equal(icmp_parse(&s, &h), -LWT_EBADMSG);
    net_slice_release(&s);
}

static void udp(void **state)
{
    (void)state;
    const uint32_t src = IP4_ADDR(192, 0, 2, 1), dst = IP4_ADDR(192, 0, 2, 2);
    uint8_t d[13];
    memcpy(d + 8, "hello", 5);
    struct net_wr w = net_wr_mem(d, sizeof d);
    struct udp_hdr h = {.sport = 1234, .dport = 53, .len = sizeof d};
    udp_write(&w, 0, src, dst, &h);
    assert_false(w.bad);
    struct udp_hdr g;
    struct net_slice s = slice_of(d, sizeof d);
    assert_int_equal(udp_parse(&s, src, dst, &g), 0);
    assert_int_equal(g.sport, 1234);
    assert_int_equal(g.dport, 53);
    assert_int_equal(g.len, 13);
    /* The pseudo-header counts: another destination fails. */
    assert_int_equal(udp_parse(&s, src, dst + 1, &g), -LWT_EBADMSG);
    net_slice_release(&s);
    for (size_t n = 0; n < sizeof d; n++) {
        s = slice_of(d, n);
        assert_int_equal(udp_parse(&s, src, dst, &g), -LWT_EBADMSG);
        net_slice_release(&s);
    }
    /* A length field below the header, and one past the payload. */
    uint8_t q[13];
    memcpy(q, d, sizeof q);
    q[UDP_OFF_LEN + 1] = 7;
    s = slice_of(q, sizeof q);
    assert_int_equal(udp_parse(&s, src, dst, &g), -LWT_EBADMSG);
    net_slice_release(&s);
    q[UDP_OFF_LEN + 1] = 14;
    s = slice_of(q, sizeof q);
    assert_int_equal(udp_parse(&s, src, dst, &g), -LWT_EBADMSG);
    net_slice_release(&s);
    /* No checksum (zero) is accepted over IPv4; a shorter length field with
     * trailing bytes after the datagram too. */
    memcpy(q, d, sizeof q);
    q[UDP_OFF_CSUM] = q[UDP_OFF_CSUM + 1] = 0;
    q[UDP_OFF_LEN + 1] = 10;
    s = slice_of(q, sizeof q);
    assert_int_equal(udp_parse(&s, src, dst, &g), 0);
    assert_int_equal(g.len, 10);
    net_slice_release(&s);
}

/* The checksum sums wide words in machine order; it must agree with the
 * plain big-endian 16-bit sum at every length and alignment. */
static uint32_t plain_sum(uint32_t sum, const uint8_t *b, size_t len)
{
    for (; len >= 2; b += 2, len -= 2)
        sum += (uint32_t)(b[0] << 8 | b[1]);
    return len ? sum + ((uint32_t)b[0] << 8) : sum;
}

static void checksum_matches_the_definition(void **state)
{
    (void)state;
    static uint8_t buf[66000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245 + 12345;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t k = 0; k < 3000; k++) {
        x = x * 1103515245 + 12345;
        size_t off = (x >> 8) % 64, len = k < 2000 ? k : (x >> 4) % 65536;
        uint32_t start = (x >> 3) % 200000;
        if (k % 5 == 0)
            memset(buf + off, 0xff, len < 40 ? len : 40); /* carries */
        assert_int_equal(net_csum_fold(net_csum_add(start, buf + off, len)),
                         net_csum_fold(plain_sum(start, buf + off, len)));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(ethernet),
        TEST(arp),
        TEST(ipv4),
        TEST(ipv4_text_addresses),
        TEST(icmp),
        TEST(udp),
        TEST(checksum_matches_the_definition),
    };
    int rc = RUN_TESTS(tests);
    return rc ? rc : (net_buf_live_count() != 0);
}
