/* The in-memory hub (DESIGN.md §4, the tests column): several stacks in one
 * process joined by one simulated Ethernet segment.
 *
 * Each port is a struct netif (netif.h). A frame written on one port is
 * delivered to every other port that has a listener, as an owned slice
 * each (they share one buffer); it is a hub, not a switch, so filtering by
 * MAC is the stack's job. Delivery never happens inside write, which would
 * re-enter the stack: it comes from a scheduler timer, on a later turn, in
 * the order frames were written unless faults say otherwise.
 *
 * A port may offer offloads (netif.h), as a NIC would: TCP checksums the
 * stack leaves partial are completed, and TSO frames are cut into MTU-sized
 * frames with their own headers and checksums, before anything else sees
 * them (the capture, the faults and the other ports get the frames of the
 * wire, each counted in the port's tx_frames).
 *
 * Faults (loss, duplication, reordering, delay, jitter) are drawn from a
 * PRNG seeded by the hub's seed and timed by the scheduler's clock, so a run
 * on the virtual clock (tests/support/test_vclock.h) is exact and repeats
 * itself for a given seed. The hub needs the scheduler (sched_init) for
 * both.
 *
 * Ownership: the hub owns its ports and every frame in flight. net_hub_free
 * frees them all, cancels its timer, and invalidates every port's netif; it
 * must not be called from inside a listener. A pcap tap is borrowed.
 */
#ifndef TESSERA_NET_HUB_H
#define TESSERA_NET_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netif.h"

struct net_hub;
struct net_pcap;

/* How long a frame held back for reordering waits for a later one to
 * overtake it before it goes anyway (when net_hub_faults leaves it 0). */
#define NET_HUB_REORDER_HOLD_NS (10 * 1000000ull)
/* Frames in flight on one hub; past it a write is dropped and counted
 * (tx_dropped), as a full medium would. */
#define NET_HUB_MAX_IN_FLIGHT 16384u

struct net_hub_faults {
    uint32_t loss_ppm;        /* a frame is lost (parts per million) */
    uint32_t dup_ppm;         /* a frame is delivered twice, back to back */
    uint32_t reorder_ppm;     /* a frame is held so the port's next frame overtakes it */
    uint64_t delay_ns;        /* added to every frame */
    uint64_t jitter_ns;       /* plus a uniform draw in [0, jitter_ns]: may reorder too */
    uint64_t reorder_hold_ns; /* the longest a held frame waits; 0: NET_HUB_REORDER_HOLD_NS */
};

struct net_hub_stats {
    uint64_t written;    /* frames written on any port (before faults) */
    uint64_t lost;       /* dropped by loss_ppm */
    uint64_t duplicated; /* extra copies made by dup_ppm */
    uint64_t reordered;  /* held frames that a later frame did overtake */
    uint64_t delivered;  /* copies that reached the segment (each seen by every other listening port) */
};

/* A hub with no ports and no faults; NULL when memory is short. */
struct net_hub *net_hub_new(uint64_t seed);
/* Frees the hub, its ports and the frames in flight (see above). NULL is
 * ignored. */
void net_hub_free(struct net_hub *h);

/* Adds a port with this MAC, MTU and name (copied) and stores its netif in
 * *out (NULL on failure); the hub owns it. Returns 0 or -LWT_ENOMEM. */
int net_hub_add_port(struct net_hub *h, const uint8_t mac[6], uint16_t mtu, const char *name, struct netif **out);

/* Sets the faults for frames written from now on (copied); NULL clears
 * them. Frames already in flight keep their fate. */
void net_hub_set_faults(struct net_hub *h, const struct net_hub_faults *f);
/* Faults for frames written on this one port, in place of the hub's; NULL
 * goes back to the hub's. Returns 0, or -LWT_EINVAL if port is not a hub
 * port. */
int net_hub_set_port_faults(struct netif *port, const struct net_hub_faults *f);

/* The offloads this port offers from now on: completing partial TCP
 * checksums (tx_csum) and TSO up to IP packets of tso_max bytes (0: none;
 * more than the MTU, at most 65535, and only with tx_csum). A new port
 * offers none. Returns 0, or -LWT_EINVAL for a port that is not a hub
 * port or values out of range. */
int net_hub_set_port_offload(struct netif *port, bool tx_csum, uint32_t tso_max);

void net_hub_stats(const struct net_hub *h, struct net_hub_stats *out);
/* Frames waiting for delivery (each counts once, whatever its copies). */
size_t net_hub_in_flight(const struct net_hub *h);

/* Records every frame written on any port, before faults, stamped with
 * sched_now(). p must have been started (net_pcap_start) and must outlive
 * the hub, or be replaced by NULL first. The pcap's own errors are latched
 * in it; the hub carries on. */
void net_hub_set_pcap(struct net_hub *h, struct net_pcap *p);

#endif
