/* The direct stack (DESIGN.md §4): Ethernet, ARP, IPv4, ICMP and UDP over
 * one netif, driven by the scheduler. What an application or a protocol on
 * top (DHCP, TCP, DNS) sees.
 *
 * A stack borrows its netif for its whole life and listens on it from
 * net_stack_new to net_stack_free. Until it has an address (static
 * configuration, or from DHCP: dhcp_client.h) it answers nothing but still
 * hands UDP to bound sockets, so that a DHCP client can work; it can send
 * UDP to the broadcast address from 0.0.0.0.
 *
 * Addresses and ports are host-order integers. Every resource a peer can
 * make grow is bounded (ARP cache and its queue of packets awaiting
 * resolution, reassembly, each socket's receive queue); past a bound,
 * packets are dropped and counted in the statistics.
 */
#ifndef TESSERA_NET_STACK_H
#define TESSERA_NET_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include "lwt.h"
#include "net_buf.h"
#include "netif.h"

struct net_stack;

struct ip4_config {
    uint32_t addr;    /* 0: none */
    uint32_t netmask; /* e.g. 0xffffff00 */
    uint32_t gateway; /* 0: no route beyond the subnet */
};

/* What the stack counts; all cumulative. */
struct net_stack_stats {
    uint64_t eth_in, eth_not_for_us, eth_bad, eth_unknown_type;
    uint64_t arp_in, arp_bad, arp_requests_answered, arp_queue_dropped, arp_unresolved;
    uint64_t ip_in, ip_bad, ip_not_for_us, ip_unknown_proto, ip_out, ip_out_fragments;
    uint64_t reasm_ok, reasm_timeout, reasm_dropped;
    uint64_t icmp_in, icmp_bad, icmp_echo_answered, icmp_unreach_sent, icmp_rate_limited;
    uint64_t udp_in, udp_bad, udp_no_port, udp_queue_full, udp_out;
};

/* Limits: the defaults are what net_stack_new uses. */
#define NET_ARP_CACHE_MAX   256 /* entries */
#define NET_ARP_QUEUE_MAX   32  /* packets awaiting resolution, all addresses */
#define NET_REASM_MAX       16  /* datagrams being reassembled at once */
#define NET_REASM_BYTES_MAX (256 * 1024)
#define NET_UDP_QUEUE_MAX   128 /* datagrams waiting in one socket */

/* A stack on nif (borrowed; outlives the stack), with no address yet.
 * 0, or -LWT_ENOMEM. */
int net_stack_new(struct netif *nif, struct net_stack **out);
/* Closes every socket (their pending receives are rejected with
 * -LWT_ESHUTDOWN), cancels timers, drops queued packets, stops listening. */
void net_stack_free(struct net_stack *s);

/* Mixes len bytes of the platform's entropy into the stack's secrets (the
 * key of TCP's initial sequence numbers, RFC 6528). Without it they come
 * from the MAC and the clock only. */
void net_stack_seed(struct net_stack *s, const void *bytes, size_t len);

/* Static configuration (or a DHCP lease): takes effect at once and
 * announces the address with a gratuitous ARP. addr 0 removes the address.
 * 0, or -LWT_EINVAL for an inconsistent configuration. */
int net_stack_configure(struct net_stack *s, const struct ip4_config *c);
const struct ip4_config *net_stack_config(const struct net_stack *s);
const struct net_stack_stats *net_stack_stats(const struct net_stack *s);
struct netif *net_stack_netif(const struct net_stack *s);

/* ---- UDP ---------------------------------------------------------------- */

struct udp_sock;

/* One received datagram; owned by whoever udp_recv fulfilled it to. */
struct udp_datagram {
    uint32_t src, dst;
    uint16_t sport, dport;
    struct net_slice payload; /* owned by the datagram */
};
void udp_datagram_free(struct udp_datagram *d);

/* Binds local port (0: an ephemeral one). 0, -LWT_EADDRINUSE, -LWT_ENOMEM. */
int udp_bind(struct net_stack *s, uint16_t port, struct udp_sock **out);
uint16_t udp_sock_port(const struct udp_sock *u);
/* Unbinds and frees; a pending receive is rejected with -LWT_ESHUTDOWN and
 * queued datagrams are dropped. */
void udp_close(struct udp_sock *u);
/* Fulfilled with the next datagram (struct udp_datagram *, owned by the
 * caller). Cancelable. One receive may wait at a time (-LWT_EBUSY). */
lwt_t *udp_recv(struct udp_sock *u);
/* Sends len bytes (copied; borrowed for the call) to dst:dport. Fulfilled
 * (NULL) once the datagram is handed to the interface or queued for address
 * resolution; rejected with -LWT_EMSGSIZE (over 65507 bytes),
 * -LWT_ENETUNREACH (no route), -LWT_EADDRNOTAVAIL (no address, and dst is
 * not the broadcast address), -LWT_ENOBUFS, or the interface's error. */
lwt_t *udp_sendto(struct udp_sock *u, uint32_t dst, uint16_t dport, const void *data, size_t len);

#endif
