/* ICMP for IPv4 (RFC 792): the 8-byte header and a pure parser that checks
 * the message checksum. */
#ifndef TESSERA_WIRE_ICMP_H
#define TESSERA_WIRE_ICMP_H

#include <stdint.h>

#include "net_buf.h"

#define ICMP_HDR_LEN    8
#define ICMP_OFF_TYPE   0
#define ICMP_OFF_CODE   1
#define ICMP_OFF_CSUM   2
#define ICMP_OFF_ID     4 /* echo */
#define ICMP_OFF_SEQ    6 /* echo */
#define ICMP_OFF_UNUSED 4 /* errors: zero, or next-hop MTU */

#define ICMP_ECHO_REPLY    0
#define ICMP_UNREACH       3
#define ICMP_ECHO_REQUEST  8
#define ICMP_TIME_EXCEEDED 11

#define ICMP_UNREACH_PROTO 2
#define ICMP_UNREACH_PORT  3

struct icmp_hdr {
    uint8_t type, code;
    uint32_t rest; /* bytes 4-7: id and sequence for echo */
};

/* 0, or -LWT_EBADMSG: truncated or bad checksum (over the whole message). */
int icmp_parse(const struct net_slice *msg, struct icmp_hdr *h);

#endif
