/* Ethernet II framing (IEEE 802.3 with an EtherType): offsets, constants
 * and a pure parser. Frames carry no FCS here. */
#ifndef TESSERA_WIRE_ETH_H
#define TESSERA_WIRE_ETH_H

#include <stdbool.h>
#include <stdint.h>

#include "net_buf.h"

#define ETH_ALEN     6
#define ETH_HDR_LEN  14
#define ETH_OFF_DST  0
#define ETH_OFF_SRC  6
#define ETH_OFF_TYPE 12
#define ETH_MIN_LEN  60 /* without FCS: shorter frames are padded */

#define ETH_TYPE_IP4 0x0800
#define ETH_TYPE_ARP 0x0806

struct eth_hdr {
    uint8_t dst[ETH_ALEN];
    uint8_t src[ETH_ALEN];
    uint16_t type;
};

extern const uint8_t eth_broadcast[ETH_ALEN];

static inline bool eth_addr_eq(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, ETH_ALEN) == 0;
}
static inline bool eth_is_group(const uint8_t *a)
{
    return a[0] & 1; /* broadcast or multicast */
}

/* 0, or -LWT_EBADMSG for a frame shorter than its header. */
int eth_parse(const struct net_slice *frame, struct eth_hdr *h);
/* Writes the header at off. */
void eth_write(struct net_wr *w, size_t off, const struct eth_hdr *h);

#endif
