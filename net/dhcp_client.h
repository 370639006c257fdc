/* The DHCP client (RFC 2131): gets an IPv4 address for a stack and keeps
 * it, configuring the stack (net_stack_configure) as leases come and go.
 *
 * States as in RFC 2131 §4.4: INIT sends DISCOVER; SELECTING takes the
 * first OFFER and broadcasts REQUEST; on ACK the stack is configured
 * (BOUND); at T1 a REQUEST is unicast to the server (RENEWING), at T2
 * broadcast (REBINDING); at expiry the address is removed and it starts
 * over, as after a NAK. Retransmissions back off 4 s, 8 s, ... up to 64 s,
 * each randomised by ±1 s; in RENEWING and REBINDING they wait half the
 * time left to T2 or expiry, at least 60 s (§4.4.5). The randomness (xid,
 * jitter) comes from a generator seeded with the MAC and the start time,
 * so a run on the virtual clock repeats itself.
 *
 * Lease times count from when the REQUEST that got the ACK was first sent
 * (§4.4.1); a lease shorter than 10 s is taken as 10 s, and T1/T2 missing
 * or out of order default to 1/2 and 7/8 of it. Everything runs on the
 * scheduler's thread.
 */
#ifndef TESSERA_DHCP_CLIENT_H
#define TESSERA_DHCP_CLIENT_H

#include <stdint.h>

#include "lwt.h"
#include "stack.h"

struct dhcp_client;

struct dhcp_lease {
    uint32_t addr, netmask, gateway; /* what the stack is configured with */
    uint32_t server;                 /* the server's identifier (option 54) */
    uint32_t dns;                    /* the first DNS server, or 0 */
    uint32_t lease_s, t1_s, t2_s;    /* seconds; lease_s DHCP_LEASE_INFINITE: no renewal */
    uint64_t bound_at_ns;            /* sched_now() when the lease started (see above) */
};

/* Starts the client on s (borrowed; outlives the client): binds UDP port
 * 68, sends DISCOVER, and from then on keeps a lease. 0, -LWT_EADDRINUSE
 * (port 68 taken), -LWT_ENOMEM. *out is owned by the caller, who ends it
 * with dhcp_client_stop. */
int dhcp_client_start(struct net_stack *s, struct dhcp_client **out);
/* Fulfilled (NULL) once a lease is bound (at once if one is); cancelable;
 * rejected with -LWT_EPIPE if the client stops first. Each call returns a
 * new promise owned by the caller. */
lwt_t *dhcp_client_bound(struct dhcp_client *c);
/* The current lease (borrowed; valid until the client's next event), or
 * NULL when there is none. */
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *c);
/* How many times the lease was renewed or rebound. */
unsigned dhcp_client_renewals(const struct dhcp_client *c);
/* Replies dropped because they were malformed. */
unsigned dhcp_client_bad_replies(const struct dhcp_client *c);
/* Sends RELEASE if bound, removes the address, cancels timers, closes the
 * socket and frees the client (its last bytes once callbacks already
 * queued have run, on the scheduler's next turn at the latest). */
void dhcp_client_stop(struct dhcp_client *c);

#endif
