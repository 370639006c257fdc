/* The Xen PV network device: one vif (device/vif/N in the domain's
 * xenstore directory) brought up and torn down over xenstore, its data path
 * the struct netif of netfront.h. Private to os-xen/: the Xen mains use it
 * to give the direct stack its interface.
 *
 * Open: reads the vif's backend path, backend domain and MAC; grants the
 * two ring pages and the TX pages; allocates an event channel for the
 * backend; waits for the backend to be ready (InitWait); writes
 * tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy=1,
 * feature-rx-notify=1 and feature-no-csum-offload=1 (we take only complete
 * checksums; we send partial ones, which every netback completes); switches
 * to Connected; and hands out the netif only once the backend says
 * Connected. Each wait is bounded (XEN_NETFRONT_WAIT_NS); a backend that
 * does not come, or closes instead, fails the open with a logged reason,
 * after everything is released again.
 *
 * Close: stops the data path, switches to Closing and waits for the backend
 * to follow, then Closed, then ends every grant (retrying while the backend
 * still maps a page) and frees the pages. The caller owns the struct from a
 * fulfilled open until close settles.
 */
#ifndef TESSERA_XEN_NETFRONT_H
#define TESSERA_XEN_NETFRONT_H

#include <stdint.h>

#include "lwt.h"
#include "netif.h"

#define XEN_NETFRONT_WAIT_NS (20ull * 1000 * 1000 * 1000) /* per backend state change */

struct xen_netfront;

/* The vifs the toolstack gave the domain: fulfilled with a struct
 * xenstore_dir * (xenstore.h; free() it) of their ids, in increasing
 * numeric order, possibly empty. */
lwt_t *xen_netfront_list(void);

/* Connects vif `id` ("0", "1", ...) with the given MTU (0: 1500; at most
 * 1500). Fulfilled with a struct xen_netfront * once the backend is
 * connected; rejected with the reason (logged) otherwise. */
lwt_t *xen_netfront_open(const char *id, uint16_t mtu);

/* The interface: borrowed, valid until close. */
struct netif *xen_netfront_netif(struct xen_netfront *x);
const char *xen_netfront_name(const struct xen_netfront *x);

/* Disconnects and frees x. Fulfilled with NULL once done; never rejected
 * (a backend that does not answer is logged, and pages it may still map
 * are left to it). */
lwt_t *xen_netfront_close(struct xen_netfront *x);

#endif
