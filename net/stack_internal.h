/* Private to net/: the direct stack's state, shared by its layers (eth.c,
 * arp.c, ip4.c, ip4_reasm.c, icmp.c, udp.c, stack.c). Each layer owns its
 * own part of struct net_stack; the others reach it only through the
 * functions declared here. */
#ifndef TESSERA_NET_STACK_INTERNAL_H
#define TESSERA_NET_STACK_INTERNAL_H

#include <stdlib.h>

#include "log.h"
#include "net_timer.h"
#include "stack.h"
#include "wire_eth.h"
#include "wire_icmp.h"
#include "wire_ip4.h"

extern struct log_source net__log;

/* ---- ARP (arp.c) -------------------------------------------------------- */

enum arp_state { ARP_FREE, ARP_PENDING, ARP_RESOLVED };

struct arp_entry {
    uint32_t ip;
    uint8_t mac[ETH_ALEN];
    uint8_t state;      /* enum arp_state */
    uint8_t tries;      /* pending: requests sent */
    bool refreshing;    /* resolved: a refresh request is out */
    uint64_t expires;   /* resolved: when it stops being used */
    uint64_t next_try;  /* pending: when to ask again */
    uint64_t last_used; /* for eviction */
};

/* An IP packet waiting for its next hop's address; owns pkt, which has
 * Ethernet headroom. */
struct arp_queued {
    struct arp_queued *next;
    uint32_t next_hop;
    struct net_slice pkt;
    bool has_off; /* off applies to it (offsets from the IP header) */
    struct netif_tx_offload off;
};

struct arp_cache {
    struct arp_entry entries[NET_ARP_CACHE_MAX];
    struct arp_queued *queue, **queue_tail;
    size_t queue_len;
    struct net_timer retry_timer; /* while any entry is pending */
};

#define ARP_LIFETIME_NS (120 * SCHED_NS_PER_S)
#define ARP_REFRESH_NS  (90 * SCHED_NS_PER_S) /* age at which use triggers a refresh */
#define ARP_RETRY_NS    (1 * SCHED_NS_PER_S)
#define ARP_TRIES       3

void arp__init(struct net_stack *s);
void arp__destroy(struct net_stack *s);
void arp__input(struct net_stack *s, struct net_slice *pkt);
/* The MAC of next_hop, true; or false, with a request under way. */
bool arp__lookup(struct net_stack *s, uint32_t next_hop, uint8_t mac[ETH_ALEN]);
/* Queues an owned IP packet (with Ethernet headroom) until next_hop
 * resolves, with the offload it is to be sent with (off: NULL or
 * borrowed, copied); dropped (and counted) past the bound. */
void arp__queue(struct net_stack *s, uint32_t next_hop, struct net_slice pkt, const struct netif_tx_offload *off);
void arp__announce(struct net_stack *s);

/* ---- IPv4 (ip4.c, ip4_reasm.c) ------------------------------------------ */

/* Up to three byte ranges sent back to back as one IP payload: an upper
 * layer's header and its data (which may wrap around a ring). Borrowed for
 * the call. off, when set, asks the netif to finish the packet (TCP's
 * partial checksum, TSO), its offsets counted from the payload's start;
 * only for what the netif offers (netif.h). */
#define IP4_PAYLOAD_PARTS 3
struct ip4_payload {
    const uint8_t *part[IP4_PAYLOAD_PARTS];
    size_t len[IP4_PAYLOAD_PARTS];
    const struct netif_tx_offload *off;
};

static inline size_t ip4_payload_len(const struct ip4_payload *p)
{
    return p->len[0] + p->len[1] + p->len[2];
}

void ip4__input(struct net_stack *s, struct net_slice *pkt);
/* Sends one datagram, fragmenting it to the MTU, except a TSO packet
 * (p->off with a gso_size), which goes whole to a netif whose tso_max it
 * fits. src 0 means the stack's address. 0, or -LWT_ENETUNREACH,
 * -LWT_EADDRNOTAVAIL, -LWT_EMSGSIZE, -LWT_EINVAL (an offload the netif
 * does not offer), -LWT_ENOBUFS, or the netif's error. */
int ip4__output(struct net_stack *s, uint32_t src, uint32_t dst, uint8_t proto, const struct ip4_payload *p);
bool ip4__is_local_broadcast(const struct net_stack *s, uint32_t dst);

struct ip4_reasm_entry;
struct ip4_reasm {
    struct ip4_reasm_entry *list;
    size_t count, bytes;
};

#define IP4_REASM_TIMEOUT_NS (30 * SCHED_NS_PER_S)

void ip4_reasm__destroy(struct net_stack *s);
/* Takes a fragment (pkt: the whole IP packet, header parsed into h;
 * consumed). When it completes a datagram, returns 1 and the datagram's
 * payload as an owned slice in *out; 0 while incomplete; <0 dropped. */
int ip4_reasm__input(struct net_stack *s, const struct ip4_hdr *h, struct net_slice *pkt, struct net_slice *out);

/* ---- ICMP (icmp.c) ------------------------------------------------------- */

struct icmp_state {
    uint64_t tokens_at; /* rate limiter: when tokens was last topped up */
    uint32_t tokens;
};

#define ICMP_ERRORS_PER_S 100
#define ICMP_ERROR_BURST  20

void icmp__input(struct net_stack *s, const struct ip4_hdr *ip, struct net_slice *msg);
/* An error about the packet whose header is h and whose first bytes (IP
 * header and at least 8 bytes of payload) are in orig. Rate-limited; never
 * about broadcasts, fragments past the first, or ICMP errors. */
void icmp__send_unreach(struct net_stack *s, const struct ip4_hdr *h, const uint8_t *orig, size_t orig_len,
                        uint8_t code);

/* ---- UDP (udp.c) ------------------------------------------------------- */

struct udp_table {
    struct udp_sock *socks;
    uint16_t next_ephemeral;
};

void udp__input(struct net_stack *s, const struct ip4_hdr *ip, const uint8_t *ip_bytes, struct net_slice *dgram);
void udp__destroy(struct net_stack *s);

/* ---- The stack (stack.c) ------------------------------------------------ */

struct tcp_state_all; /* tcp_internal.h */

int tcp__init(struct net_stack *s);
void tcp__destroy(struct net_stack *s);
void tcp__input(struct net_stack *s, const struct ip4_hdr *ip, struct net_slice *seg);
void tcp__seed(struct net_stack *s, const void *bytes, size_t len);

struct net_stack {
    struct netif *nif;
    struct tcp_state_all *tcp;
    struct ip4_config cfg;
    struct net_stack_stats stats;
    struct arp_cache arp;
    struct ip4_reasm reasm;
    struct icmp_state icmp;
    struct udp_table udp;
    uint16_t ip_id;
};

void eth__input(void *ctx, struct net_slice frame);
/* Sends an Ethernet frame of payload_len bytes of `type` to dst, the
 * payload written by fill at offset ETH_HDR_LEN of the frame. off (NULL:
 * none; borrowed) is the offload the netif is to do, its offsets counted
 * from the payload's start. */
int eth__output(struct net_stack *s, const uint8_t dst[ETH_ALEN], uint16_t type, size_t payload_len,
                const struct netif_tx_offload *off, netif_fill_fn fill, void *ctx);

#endif
