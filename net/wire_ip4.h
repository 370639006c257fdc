/* The IPv4 header (RFC 791): offsets, constants and a pure parser that
 * checks everything a receiver must before trusting a field. Addresses are
 * host-order integers (10.0.0.1 is 0x0a000001). */
#ifndef TESSERA_WIRE_IP4_H
#define TESSERA_WIRE_IP4_H

#include <stdbool.h>
#include <stdint.h>

#include "net_buf.h"

#define IP4_HDR_MIN     20
#define IP4_HDR_MAX     60
#define IP4_OFF_VER_IHL 0
#define IP4_OFF_TOS     1
#define IP4_OFF_LEN     2
#define IP4_OFF_ID      4
#define IP4_OFF_FRAG    6
#define IP4_OFF_TTL     8
#define IP4_OFF_PROTO   9
#define IP4_OFF_CSUM    10
#define IP4_OFF_SRC     12
#define IP4_OFF_DST     16

#define IP4_FLAG_DF    0x4000
#define IP4_FLAG_MF    0x2000
#define IP4_FRAG_MASK  0x1fff /* in units of 8 bytes */
#define IP4_MAX_PACKET 65535

#define IP4_PROTO_ICMP 1
#define IP4_PROTO_TCP  6
#define IP4_PROTO_UDP  17

#define IP4_BROADCAST        0xffffffffu
#define IP4_ADDR(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

struct ip4_hdr {
    uint8_t hlen; /* bytes, options included */
    uint8_t tos;
    uint16_t total_len;
    uint16_t id;
    bool df, mf;
    uint16_t frag_off; /* bytes */
    uint8_t ttl;
    uint8_t proto;
    uint32_t src, dst;
};

/* 0, or -LWT_EBADMSG: truncated, not version 4, header length out of range,
 * total length shorter than the header or longer than the slice (a shorter
 * total is fine: link padding), a fragment offset past 64 KiB, or a bad
 * header checksum. */
int ip4_parse(const struct net_slice *pkt, struct ip4_hdr *h);
/* Writes a 20-byte header (no options) at off, checksum included. */
void ip4_write(struct net_wr *w, size_t off, const struct ip4_hdr *h);
static inline bool ip4_is_fragment(const struct ip4_hdr *h)
{
    return h->mf || h->frag_off != 0;
}
/* "a.b.c.d" into buf (16 bytes at least); returns buf. */
const char *ip4_ntoa(uint32_t addr, char *buf);
/* Parses "a.b.c.d": 0, or -LWT_EINVAL. */
int ip4_aton(const char *text, uint32_t *addr);

#endif
