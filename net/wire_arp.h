/* ARP for IPv4 over Ethernet (RFC 826): the 28-byte packet, a pure parser
 * that accepts only that hardware/protocol pair. Addresses in host order. */
#ifndef TESSERA_WIRE_ARP_H
#define TESSERA_WIRE_ARP_H

#include <stdint.h>

#include "net_buf.h"
#include "wire_eth.h"

#define ARP_LEN       28
#define ARP_OFF_HTYPE 0
#define ARP_OFF_PTYPE 2
#define ARP_OFF_HLEN  4
#define ARP_OFF_PLEN  5
#define ARP_OFF_OP    6
#define ARP_OFF_SHA   8
#define ARP_OFF_SPA   14
#define ARP_OFF_THA   18
#define ARP_OFF_TPA   24

#define ARP_HTYPE_ETHER 1
#define ARP_OP_REQUEST  1
#define ARP_OP_REPLY    2

struct arp_pkt {
    uint16_t op;
    uint8_t sha[ETH_ALEN];
    uint32_t spa;
    uint8_t tha[ETH_ALEN];
    uint32_t tpa;
};

/* 0, or -LWT_EBADMSG (truncated, not Ethernet/IPv4, unknown operation). */
int arp_parse(const struct net_slice *pkt, struct arp_pkt *a);
void arp_write(struct net_wr *w, size_t off, const struct arp_pkt *a);

#endif
