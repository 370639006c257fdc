/* The data path of the Xen PV network frontend: a struct netif (net/netif.h)
 * over the TX and RX rings of io/netif.h, shared with a netback in another
 * domain. The xenstore handshake that sets the rings up and tears them down
 * is xen_netfront.c's; this part uses no hypercall and no platform code, so
 * it is built in every configuration and unit-tested on Unix against a
 * scripted backend (tests/xen/test_netfront.c), like xenstore.c.
 *
 * TX: NETFRONT_TX_BUFS pages, granted read-only to the backend once, at
 * netfront_new, and kept for the connection's life. A write lends the
 * stack's fill one of them, so the frame is written in place (no copy), and
 * pushes a request for it; the page is free again when the backend's
 * response for its id arrives. No free page (or ring slot): -LWT_EAGAIN,
 * and wait_writable waits for a response.
 *
 * RX: pages are granted writable only while they are posted (request-rx-
 * copy: the backend copies each frame into one). Each response's frame is
 * handed up as an owned slice over its page, the grant ended first; when the
 * receiver releases the slice, the page goes back to the pool and is posted
 * again. While receivers hold pages, fresh ones are taken, up to
 * NETFRONT_RX_BUFS_MAX in all. Buffers are found by ring index, never by
 * anything the backend wrote.
 *
 * Nothing the backend writes is trusted: ring indexes more than the
 * requests we made ahead break the connection (logged; the data path then
 * fails with -LWT_EIO until it is torn down); a response with an unknown id,
 * an offset or size outside its page, an error status, or a multi-slot
 * frame (never negotiated) is logged, counted and dropped.
 *
 * Ownership: the caller (xen_netfront.c) owns the struct netfront and the
 * shared-ring pages it asks for with netfront_ring_refs. Pages held by
 * receivers when the netfront is freed stay valid; the last one released
 * frees the pool. Single-threaded: everything runs on the scheduler's
 * loop, and netfront_on_event only queues the work.
 */
#ifndef TESSERA_NETFRONT_H
#define TESSERA_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netif.h"

#define NETFRONT_PAGE        4096u
#define NETFRONT_TX_BUFS     256 /* the whole TX ring */
#define NETFRONT_RX_POST     256 /* pages kept posted: the whole RX ring */
#define NETFRONT_RX_BUFS_MAX 512 /* posted plus held by receivers */
#define NETFRONT_RX_BATCH    64  /* frames handed up per turn of the loop */

/* What the platform provides (on Xen: xen_mm.h, xen_gnttab.h, the event
 * channel). The functions must stay valid as long as any page does. */
struct netfront_env {
    void *(*page_alloc)(void);                                   /* zeroed, page-aligned; NULL if none */
    void (*page_free)(void *page);                               /* one from page_alloc */
    int (*grant)(uint16_t dom, const void *page, bool readonly); /* ref or -LWT_E* */
    int (*end_grant)(uint32_t ref);                              /* 0, or -LWT_EBUSY while the other side maps it */
    void (*notify)(void *ctx);                                   /* kicks the backend's event channel */
    void *notify_ctx;
};

/* Counters beyond struct netif_stats. */
struct netfront_stats {
    uint64_t rx_bad;    /* responses that broke the rules (logged) */
    uint64_t tx_bad;    /* TX responses with an unknown id or status */
    uint64_t rx_errors; /* responses with an error status from the backend */
    uint64_t rx_no_buf; /* times the ring could not be refilled (pages all held) */
};

struct netfront;

/* Pages and grants for the rings and the TX buffers, for the backend
 * domain `backend`. mtu: the largest IP packet (at most 1500: no scatter-
 * gather). 0, -LWT_ENOMEM, -LWT_ENOSPC (grant table full) or -LWT_EINVAL.
 * Nothing is posted until netfront_start. */
int netfront_new(const struct netfront_env *env, uint16_t backend, const uint8_t mac[6], uint16_t mtu, const char *name,
                 struct netfront **out);
/* The grant references of the TX and RX shared rings, for xenstore. */
void netfront_ring_refs(const struct netfront *nf, uint32_t *tx_ref, uint32_t *rx_ref);
/* The shared rings themselves (for tests, which play the backend). */
void *netfront_tx_sring(const struct netfront *nf);
void *netfront_rx_sring(const struct netfront *nf);

/* The backend is connected: post the RX pages and let writes through. */
void netfront_start(struct netfront *nf);
/* The event channel fired: queues a turn that takes TX and RX responses
 * (never runs it here). */
void netfront_on_event(struct netfront *nf);
/* Stops the data path before disconnecting: no more posting or delivery;
 * writes fail with -LWT_ENETDOWN, waiters with -LWT_ECANCELED. */
void netfront_stop(struct netfront *nf);
/* After the backend has let go (Closed): ends every grant (rings, TX
 * pages, posted RX pages). Returns how many are still mapped by the other
 * side (-LWT_EBUSY ends): call again later; 0 when all are ended. */
int netfront_end_grants(struct netfront *nf);
/* Frees the netfront (after netfront_stop). Pages whose grant could not be
 * ended are left alone (leaked, logged): the other side may still write.
 * Not from a fill or a listener. */
void netfront_free(struct netfront *nf);

struct netif *netfront_netif(struct netfront *nf);
const struct netfront_stats *netfront_stats(const struct netfront *nf);
/* Whether the backend broke the ring protocol (the data path is dead). */
bool netfront_broken(const struct netfront *nf);

#endif
