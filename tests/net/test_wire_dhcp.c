/* The DHCP message format: a captured OFFER and ACK parsed field by field,
 * every truncation and the usual lies refused, the builder's bytes checked
 * at their offsets, and random corruption parsed without a bad read (each
 * parse runs on a buffer of exactly the message's size, so ASan and
 * valgrind see any read past it). */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "lwt_errno.h"
#include "net_buf.h"
#include "wire_dhcp.h"
#include "wire_ip4.h"

/* The OFFER of the classic dhcp.pcap sample (server 192.168.0.1, client
 * 00:0b:82:01:fc:42), with a router, two DNS servers and a domain name
 * (not parsed: skipped) added, and no padding after the end option. */
static const uint8_t offer[] = {
    0x02,         0x01, 0x06, 0x00,                         /* op, htype, hlen, hops */
    0x39,         0x03, 0xf3, 0x26,                         /* xid */
    0x00,         0x00, 0x00, 0x00,                         /* secs, flags */
    0x00,         0x00, 0x00, 0x00,                         /* ciaddr */
    0xc0,         0xa8, 0x00, 0x0a,                         /* yiaddr 192.168.0.10 */
    0xc0,         0xa8, 0x00, 0x01,                         /* siaddr */
    0x00,         0x00, 0x00, 0x00,                         /* giaddr */
    0x00,         0x0b, 0x82, 0x01, 0xfc, 0x42,             /* chaddr, then zeros */
    [236] = 0x63, 0x82, 0x53, 0x63,                         /* cookie */
    0x35,         0x01, 0x02,                               /* type OFFER */
    0x01,         0x04, 0xff, 0xff, 0xff, 0x00,             /* netmask */
    0x3a,         0x04, 0x00, 0x00, 0x07, 0x08,             /* T1 1800 */
    0x3b,         0x04, 0x00, 0x00, 0x0c, 0x4e,             /* T2 3150 */
    0x33,         0x04, 0x00, 0x00, 0x0e, 0x10,             /* lease 3600 */
    0x36,         0x04, 0xc0, 0xa8, 0x00, 0x01,             /* server id */
    0x03,         0x04, 0xc0, 0xa8, 0x00, 0x01,             /* router */
    0x0f,         0x0b, 'e',  'x',  'a',  'm',  'p',  'l',  /* domain name */
    'e',          '.',  'o',  'r',  'g',                    /* */
    0x06,         0x08, 0xc0, 0xa8, 0x00, 0x01, 0x08, 0x08, /* DNS, two */
    0x08,         0x08,                                     /* */
    0x00,         0x00,                                     /* pads */
    0xff,                                                   /* end */
};

/* The ACK from the same exchange (type 5, no domain name). */
static const uint8_t ack[] = {
    0x02, 0x01, 0x06,         0x00, 0x39, 0x03, 0xf3, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xc0, 0xa8, 0x00,         0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x82, 0x01,
    0xfc, 0x42, [236] = 0x63, 0x82, 0x53, 0x63, 0x35, 0x01, 0x05, 0x3a, 0x04, 0x00, 0x00, 0x07, 0x08, 0x3b,
    0x04, 0x00, 0x00,         0x0c, 0x4e, 0x33, 0x04, 0x00, 0x00, 0x0e, 0x10, 0x36, 0x04, 0xc0, 0xa8, 0x00,
    0x01, 0x01, 0x04,         0xff, 0xff, 0xff, 0x00, 0xff, 0x00, 0x00, 0x00, /* end, then padding */
};

#define OFF_TYPE_LEN   (DHCP_OFF_OPTIONS + 1)
#define OFF_DNS_LEN    (sizeof offer - 12)
#define OFF_MASK_LEN   (DHCP_OFF_OPTIONS + 4)
#define OFF_OFFER_TYPE (DHCP_OFF_OPTIONS + 2)

/* Parses len bytes from an exact-size copy. */
static int parse(const uint8_t *bytes, size_t len, struct dhcp_msg *m)
{
    struct net_slice s = {0};
    if (len > 0)
        assert_int_equal(net_slice_copy(&s, 0, bytes, len), 0);
    int rc = dhcp_parse(&s, m);
    net_slice_release(&s);
    return rc;
}

static void parses_a_captured_offer(void **state)
{
    (void)state;
    static const uint8_t mac[6] = {0x00, 0x0b, 0x82, 0x01, 0xfc, 0x42};
    assert_int_equal(offer[OFF_DNS_LEN - 1], DHCP_OPT_DNS);
    struct dhcp_msg m;
    assert_int_equal(parse(offer, sizeof offer, &m), 0);
    assert_int_equal(m.op, DHCP_OP_REPLY);
    assert_int_equal(m.type, DHCP_OFFER);
    assert_int_equal(m.xid, 0x3903f326);
    assert_int_equal(m.secs, 0);
    assert_int_equal(m.flags, 0);
    assert_int_equal(m.ciaddr, 0);
    assert_int_equal(m.yiaddr, IP4_ADDR(192, 168, 0, 10));
    assert_int_equal(m.siaddr, IP4_ADDR(192, 168, 0, 1));
    assert_int_equal(m.giaddr, 0);
    assert_memory_equal(m.chaddr, mac, 6);
    assert_int_equal(m.has, DHCP_HAS_NETMASK | DHCP_HAS_T1 | DHCP_HAS_T2 | DHCP_HAS_LEASE_TIME | DHCP_HAS_SERVER_ID |
                                DHCP_HAS_ROUTER | DHCP_HAS_DNS);
    assert_int_equal(m.netmask, 0xffffff00);
    assert_int_equal(m.t1_s, 1800);
    assert_int_equal(m.t2_s, 3150);
    assert_int_equal(m.lease_s, 3600);
    assert_int_equal(m.server_id, IP4_ADDR(192, 168, 0, 1));
    assert_int_equal(m.router, IP4_ADDR(192, 168, 0, 1));
    assert_int_equal(m.dns, IP4_ADDR(192, 168, 0, 1));
}

static void parses_a_captured_ack_with_padding(void **state)
{
    (void)state;
    struct dhcp_msg m;
    assert_int_equal(parse(ack, sizeof ack, &m), 0);
    assert_int_equal(m.type, DHCP_ACK);
    assert_int_equal(m.yiaddr, IP4_ADDR(192, 168, 0, 10));
    assert_int_equal(m.lease_s, 3600);
    assert_int_equal(m.netmask, 0xffffff00);
    assert_false(m.has & DHCP_HAS_ROUTER);
    assert_string_equal(dhcp_type_name(m.type), "ACK");
    assert_string_equal(dhcp_type_name(0), "?");
    assert_string_equal(dhcp_type_name(99), "?");
}

static void every_truncation_is_refused(void **state)
{
    (void)state;
    struct dhcp_msg m;
    for (size_t len = 0; len < sizeof offer; len++)
        assert_int_equal(parse(offer, len, &m), -LWT_EBADMSG);
    /* The ACK is fine from its end option on: the rest is padding. */
    size_t ack_end = sizeof ack - 3;
    for (size_t len = 0; len < ack_end; len++)
        assert_int_equal(parse(ack, len, &m), -LWT_EBADMSG);
    for (size_t len = ack_end; len <= sizeof ack; len++)
        assert_int_equal(parse(ack, len, &m), 0);
}

/* A copy of the offer with one byte changed, parsed. */
static int parse_with(size_t off, uint8_t v)
{
    uint8_t b[sizeof offer];
    memcpy(b, offer, sizeof b);
    b[off] = v;
    struct dhcp_msg m;
    return parse(b, sizeof b, &m);
}

static void lies_are_refused(void **state)
{
    (void)state;
    assert_int_equal(parse_with(OFF_DNS_LEN, 0x0c), -LWT_EBADMSG);            /* option runs past the end */
    assert_int_equal(parse_with(OFF_DNS_LEN, 0xff), -LWT_EBADMSG);            /* far past */
    assert_int_equal(parse_with(DHCP_OFF_COOKIE, 0x64), -LWT_EBADMSG);        /* no cookie */
    assert_int_equal(parse_with(DHCP_OFF_COOKIE + 3, 0), -LWT_EBADMSG);       /* no cookie */
    assert_int_equal(parse_with(DHCP_OFF_OP, 1), -LWT_EBADMSG);               /* an OFFER as a request */
    assert_int_equal(parse_with(DHCP_OFF_OP, 3), -LWT_EBADMSG);               /* no such op */
    assert_int_equal(parse_with(DHCP_OFF_HTYPE, 6), -LWT_EBADMSG);            /* not Ethernet */
    assert_int_equal(parse_with(DHCP_OFF_HLEN, 16), -LWT_EBADMSG);            /* not a MAC */
    assert_int_equal(parse_with(OFF_OFFER_TYPE, 0), -LWT_EBADMSG);            /* type 0 */
    assert_int_equal(parse_with(OFF_OFFER_TYPE, 9), -LWT_EBADMSG);            /* unknown type */
    assert_int_equal(parse_with(OFF_OFFER_TYPE, DHCP_REQUEST), -LWT_EBADMSG); /* a request type in a reply */
    assert_int_equal(parse_with(OFF_MASK_LEN, 3), -LWT_EBADMSG);              /* a netmask of 3 bytes */
    assert_int_equal(parse_with(OFF_TYPE_LEN, 2), -LWT_EBADMSG);              /* a type of 2 bytes */
    assert_int_equal(parse_with(sizeof offer - 1, 0), -LWT_EBADMSG);          /* no end option */
    assert_int_equal(parse_with(OFF_DNS_LEN, 6), -LWT_EBADMSG);               /* DNS not a multiple of 4 */
    assert_int_equal(parse_with(OFF_DNS_LEN, 0), -LWT_EBADMSG);               /* DNS empty: then garbage */

    /* No message type: the option replaced by padding. */
    uint8_t b[sizeof offer];
    memcpy(b, offer, sizeof b);
    memset(b + DHCP_OFF_OPTIONS, DHCP_OPT_PAD, 3);
    struct dhcp_msg m;
    assert_int_equal(parse(b, sizeof b, &m), -LWT_EBADMSG);
    /* ... or by an option we do not know: still none. */
    b[DHCP_OFF_OPTIONS] = 250, b[DHCP_OFF_OPTIONS + 1] = 1;
    assert_int_equal(parse(b, sizeof b, &m), -LWT_EBADMSG);
    /* The fixed part only, with the cookie and an end: still no type. */
    memcpy(b, offer, DHCP_OFF_OPTIONS);
    b[DHCP_OFF_OPTIONS] = DHCP_OPT_END;
    assert_int_equal(parse(b, DHCP_OFF_OPTIONS + 1, &m), -LWT_EBADMSG);
}

static const uint8_t MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Where option `code` starts in a built message, or 0. */
static size_t find_option(const uint8_t *b, size_t len, uint8_t code)
{
    size_t off = DHCP_OFF_OPTIONS;
    while (off < len && b[off] != DHCP_OPT_END) {
        if (b[off] == DHCP_OPT_PAD) {
            off++;
            continue;
        }
        if (b[off] == code)
            return off;
        off += 2u + b[off + 1];
    }
    return 0;
}

static void builds_a_discover(void **state)
{
    (void)state;
    struct dhcp_msg m;
    dhcp_msg_init(&m, DHCP_DISCOVER, 0xdeadbeef, MAC);
    m.secs = 3;
    m.flags = DHCP_FLAG_BROADCAST;
    m.has = DHCP_HAS_PARAM_LIST | DHCP_HAS_CLIENT_ID;
    static const uint8_t params[] = {1, 3, 6, 51};
    memcpy(m.param_list, params, sizeof params);
    m.param_list_len = sizeof params;
    m.client_id[0] = 1;
    memcpy(m.client_id + 1, MAC, 6);
    m.client_id_len = 7;

    uint8_t b[DHCP_MAX_LEN];
    memset(b, 0xaa, sizeof b);
    int n = dhcp_build(&m, b, sizeof b);
    assert_int_equal(n, DHCP_MIN_LEN);
    assert_int_equal(b[DHCP_OFF_OP], DHCP_OP_REQUEST);
    assert_int_equal(b[DHCP_OFF_HTYPE], 1);
    assert_int_equal(b[DHCP_OFF_HLEN], 6);
    assert_int_equal(b[DHCP_OFF_HOPS], 0);
    assert_int_equal(be32_at(b + DHCP_OFF_XID), 0xdeadbeef);
    assert_int_equal(b[DHCP_OFF_SECS], 0);
    assert_int_equal(b[DHCP_OFF_SECS + 1], 3);
    assert_int_equal(b[DHCP_OFF_FLAGS], 0x80);
    assert_int_equal(b[DHCP_OFF_FLAGS + 1], 0x00);
    for (size_t i = DHCP_OFF_CIADDR; i < DHCP_OFF_CHADDR; i++)
        assert_int_equal(b[i], 0);
    assert_memory_equal(b + DHCP_OFF_CHADDR, MAC, 6);
    for (size_t i = DHCP_OFF_CHADDR + 6; i < DHCP_OFF_COOKIE; i++)
        assert_int_equal(b[i], 0); /* chaddr padding, sname, file */
    assert_int_equal(be32_at(b + DHCP_OFF_COOKIE), DHCP_COOKIE);
    /* Message type first. */
    assert_int_equal(b[DHCP_OFF_OPTIONS], 53);
    assert_int_equal(b[DHCP_OFF_OPTIONS + 1], 1);
    assert_int_equal(b[DHCP_OFF_OPTIONS + 2], DHCP_DISCOVER);
    size_t o = find_option(b, (size_t)n, DHCP_OPT_CLIENT_ID);
    assert_true(o > 0);
    assert_int_equal(b[o + 1], 7);
    assert_int_equal(b[o + 2], 1);
    assert_memory_equal(b + o + 3, MAC, 6);
    o = find_option(b, (size_t)n, DHCP_OPT_PARAM_LIST);
    assert_true(o > 0);
    assert_int_equal(b[o + 1], 4);
    assert_memory_equal(b + o + 2, params, 4);
    assert_int_equal(find_option(b, (size_t)n, DHCP_OPT_SERVER_ID), 0);
    /* The end option, then zeros to 300 bytes. */
    size_t end = DHCP_OFF_OPTIONS + 3 + 9 + 6;
    assert_int_equal(b[end], DHCP_OPT_END);
    for (size_t i = end + 1; i < DHCP_MIN_LEN; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(b[DHCP_MIN_LEN], 0xaa); /* nothing past the length */

    /* A request: it parses back as one. */
    struct dhcp_msg back;
    assert_int_equal(parse(b, (size_t)n, &back), 0);
    assert_int_equal(back.op, DHCP_OP_REQUEST);
    assert_int_equal(back.type, DHCP_DISCOVER);
    assert_int_equal(back.xid, 0xdeadbeef);
    assert_int_equal(back.flags, DHCP_FLAG_BROADCAST);
    assert_int_equal(back.has, DHCP_HAS_PARAM_LIST | DHCP_HAS_CLIENT_ID);
    assert_int_equal(back.client_id_len, 7);
    assert_int_equal(back.param_list_len, 4);
}

static void builds_request_and_release(void **state)
{
    (void)state;
    struct dhcp_msg m;
    dhcp_msg_init(&m, DHCP_REQUEST, 7, MAC);
    m.has = DHCP_HAS_REQUESTED_IP | DHCP_HAS_SERVER_ID;
    m.requested_ip = IP4_ADDR(10, 9, 0, 50);
    m.server_id = IP4_ADDR(10, 9, 0, 1);
    uint8_t b[DHCP_MAX_LEN];
    int n = dhcp_build(&m, b, sizeof b);
    assert_int_equal(n, DHCP_MIN_LEN);
    assert_int_equal(b[DHCP_OFF_OPTIONS + 2], DHCP_REQUEST);
    size_t o = find_option(b, (size_t)n, DHCP_OPT_REQUESTED_IP);
    assert_true(o > 0);
    assert_int_equal(b[o + 1], 4);
    assert_int_equal(be32_at(b + o + 2), IP4_ADDR(10, 9, 0, 50));
    o = find_option(b, (size_t)n, DHCP_OPT_SERVER_ID);
    assert_true(o > 0);
    assert_int_equal(be32_at(b + o + 2), IP4_ADDR(10, 9, 0, 1));

    dhcp_msg_init(&m, DHCP_RELEASE, 8, MAC);
    m.ciaddr = IP4_ADDR(10, 9, 0, 50);
    m.has = DHCP_HAS_SERVER_ID;
    m.server_id = IP4_ADDR(10, 9, 0, 1);
    n = dhcp_build(&m, b, sizeof b);
    assert_int_equal(n, DHCP_MIN_LEN);
    assert_int_equal(b[DHCP_OFF_OP], DHCP_OP_REQUEST);
    assert_int_equal(be32_at(b + DHCP_OFF_CIADDR), IP4_ADDR(10, 9, 0, 50));
    assert_int_equal(b[DHCP_OFF_FLAGS], 0);
    assert_int_equal(b[DHCP_OFF_OPTIONS + 2], DHCP_RELEASE);

    /* A server's reply round-trips through the parser, every option kept. */
    dhcp_msg_init(&m, DHCP_ACK, 9, MAC);
    assert_int_equal(m.op, DHCP_OP_REPLY);
    m.yiaddr = IP4_ADDR(10, 9, 0, 50);
    m.has = DHCP_HAS_SERVER_ID | DHCP_HAS_LEASE_TIME | DHCP_HAS_T1 | DHCP_HAS_T2 | DHCP_HAS_NETMASK | DHCP_HAS_ROUTER |
            DHCP_HAS_DNS;
    m.server_id = IP4_ADDR(10, 9, 0, 1);
    m.lease_s = 60, m.t1_s = 30, m.t2_s = 52;
    m.netmask = 0xffffff00, m.router = IP4_ADDR(10, 9, 0, 1), m.dns = IP4_ADDR(10, 9, 0, 53);
    n = dhcp_build(&m, b, sizeof b);
    struct dhcp_msg back;
    assert_int_equal(parse(b, (size_t)n, &back), 0);
    assert_memory_equal(&back, &m, sizeof m);
}

static void builder_refuses_a_small_buffer(void **state)
{
    (void)state;
    struct dhcp_msg m;
    dhcp_msg_init(&m, DHCP_DISCOVER, 1, MAC);
    uint8_t b[DHCP_MIN_LEN];
    for (size_t cap = 0; cap < DHCP_MIN_LEN; cap += 7)
        assert_int_equal(dhcp_build(&m, b, cap), -LWT_EMSGSIZE);
    assert_int_equal(dhcp_build(&m, b, sizeof b), DHCP_MIN_LEN);
}

/* Random corruption and random lengths: every result is 0 or -EBADMSG,
 * and nothing reads outside the copy. */
static void survives_random_corruption(void **state)
{
    (void)state;
    uint64_t x = 0x243f6a8885a308d3ull;
    size_t rounds = test_scale(200000, 5000);
    size_t ok = 0;
    for (size_t i = 0; i < rounds; i++) {
        uint8_t b[sizeof offer];
        memcpy(b, offer, sizeof b);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* A few bytes among the options (where the structure is), sometimes anywhere. */
        for (int k = 0; k < 1 + (int)(x & 3); k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t off = (x >> 8) % 8 == 0 ? (x >> 16) % sizeof b : DHCP_OFF_OPTIONS + (x >> 16) % (sizeof b - 240);
            b[off] = (uint8_t)(x >> 40);
        }
        size_t len = (x >> 50) % 4 == 0 ? (x >> 20) % (sizeof b + 1) : sizeof b;
        struct dhcp_msg m;
        int rc = parse(b, len, &m);
        assert_true(rc == 0 || rc == -LWT_EBADMSG);
        ok += rc == 0;
    }
    assert_true(ok > 0);
    assert_int_equal(net_buf_live_count(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(parses_a_captured_offer),
        TEST(parses_a_captured_ack_with_padding),
        TEST(every_truncation_is_refused),
        TEST(lies_are_refused),
        TEST(builds_a_discover),
        TEST(builds_request_and_release),
        TEST(builder_refuses_a_small_buffer),
        TEST(survives_random_corruption),
    };
    return RUN_TESTS(tests);
}
