/* The TCP header and its options (RFC 9293, RFC 7323 window scale and
 * timestamps, RFC 2018 SACK): offsets, constants, a pure parser that checks
 * lengths, options and the checksum over the IPv4 pseudo-header, and a
 * writer for headers with options. */
#ifndef TESSERA_WIRE_TCP_H
#define TESSERA_WIRE_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "net_buf.h"

#define TCP_HDR_MIN   20
#define TCP_HDR_MAX   60
#define TCP_OFF_SPORT 0
#define TCP_OFF_DPORT 2
#define TCP_OFF_SEQ   4
#define TCP_OFF_ACK   8
#define TCP_OFF_DOFF  12 /* data offset in the high 4 bits, 32-bit words */
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WIN   14
#define TCP_OFF_CSUM  16
#define TCP_OFF_URP   18

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20

#define TCP_OPT_EOL       0
#define TCP_OPT_NOP       1
#define TCP_OPT_MSS       2
#define TCP_OPT_WSCALE    3
#define TCP_OPT_SACK_PERM 4
#define TCP_OPT_SACK      5
#define TCP_OPT_TS        8

#define TCP_MAX_WSCALE 14
#define TCP_MAX_SACK   4 /* blocks in one segment */

struct tcp_sack_block {
    uint32_t left, right; /* [left, right) */
};

struct tcp_hdr {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t hlen; /* bytes, options included */
    uint8_t flags;
    uint16_t win; /* as sent: not yet scaled */
    /* Options; present only where the has_ flag says so. */
    bool has_mss, has_wscale, sack_perm, has_ts;
    uint16_t mss;
    uint8_t wscale;
    uint32_t tsval, tsecr;
    uint8_t nsack;
    struct tcp_sack_block sack[TCP_MAX_SACK];
};

/* seg: the IP payload. 0, or -LWT_EBADMSG: truncated, data offset out of
 * range, an option running past the header or of a wrong length, a bad
 * checksum. Unknown options are skipped. */
int tcp_parse(const struct net_slice *seg, uint32_t src, uint32_t dst, struct tcp_hdr *h);
/* Writes h's header and options (those with has_ set, plus nsack SACK
 * blocks) into out (TCP_HDR_MAX bytes), checksum field zero; returns the
 * header length. The caller computes the checksum over header and data. */
size_t tcp_write_hdr(uint8_t *out, const struct tcp_hdr *h);

/* Sequence-number arithmetic, modulo 2^32. */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}
static inline bool seq_le(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}
static inline bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}
static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}
static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

#endif
