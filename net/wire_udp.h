/* The UDP header (RFC 768) and a pure parser that checks lengths and, when
 * present, the checksum over the IPv4 pseudo-header. */
#ifndef TESSERA_WIRE_UDP_H
#define TESSERA_WIRE_UDP_H

#include <stdint.h>

#include "net_buf.h"

#define UDP_HDR_LEN   8
#define UDP_OFF_SPORT 0
#define UDP_OFF_DPORT 2
#define UDP_OFF_LEN   4
#define UDP_OFF_CSUM  6

struct udp_hdr {
    uint16_t sport, dport;
    uint16_t len; /* header included */
};

/* dgram: the IP payload. 0, or -LWT_EBADMSG: truncated, a length field
 * shorter than the header or longer than the payload, or a bad checksum.
 * src/dst: the IP addresses, for the pseudo-header. */
int udp_parse(const struct net_slice *dgram, uint32_t src, uint32_t dst, struct udp_hdr *h);
/* Writes the header at off of a datagram whose header and payload are
 * contiguous there, computing the checksum (0 is sent as 0xffff). */
void udp_write(struct net_wr *w, size_t off, uint32_t src, uint32_t dst, const struct udp_hdr *h);

#endif
