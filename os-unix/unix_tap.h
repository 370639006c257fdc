/* The tap network interface: a struct netif (net/netif.h) over Linux's
 * /dev/net/tun in IFF_TAP | IFF_NO_PI | IFF_VNET_HDR mode, non-blocking,
 * driven by the platform's engine.
 *
 *     unix_platform_start(NULL);
 *     struct unix_tap *tap;
 *     int rc = unix_tap_open("tap0", NULL, 0, &tap);   // needs CAP_NET_ADMIN
 *     struct netif *n = unix_tap_netif(tap);
 *     netif_listen(n, on_frame, ctx);
 *     ... sched_run(...) ...
 *     unix_tap_close(tap);
 *     unix_platform_stop();
 *
 * The kernel side of the tap is another host on the link: netif.mac is the
 * MAC of the stack above us, not the one Linux gives its interface.
 *
 * Sending: one transmit buffer, reused for every frame. A frame the kernel
 * cannot take at once (EAGAIN) is kept and sent when the descriptor becomes
 * writable; until then write returns -LWT_EAGAIN without calling fill, and
 * wait_writable's promise settles once it is gone. A fill that returns
 * fewer bytes than an Ethernet header (or more than it was given) sends
 * nothing: -LWT_EINVAL, counted in tx_dropped like a fill's own error. A
 * write from inside a fill returns -LWT_EBUSY. The kernel's refusal (such
 * as -LWT_EIO while the interface is down) is returned and counted in
 * tx_errors. If the platform is not running, a frame the kernel cannot
 * take at once is dropped (tx_dropped).
 *
 * Offload: the tap offers TSO (tso_max UNIX_TAP_TSO_MAX) and TCP checksum
 * offload (tx_csum) through write_offload: a frame of up to
 * UNIX_TAP_TSO_MAX + NETIF_ETH_HDR bytes goes to the kernel in one write
 * with a virtio-net header that says what to finish, and the kernel cuts
 * it into segments and completes the checksums, or, for its own sockets,
 * takes it whole. A tail (netif.h) goes from where it is, in the same
 * writev; a frame kept for later (EAGAIN) takes a copy of it. Nothing of
 * the kind comes back: the kernel finishes every frame it sends us. A
 * kernel that refuses the virtio-net header (logged) leaves the tap
 * without offload (tso_max 0, tx_csum false).
 *
 * Receiving: while a listener is set, a read watch on the platform's engine
 * wakes a delivery step that runs from the scheduler's deferred queue, not
 * from inside the engine (engine callbacks only enqueue), so the listener
 * may do anything a promise callback may, closing the tap included. Each
 * step reads up to UNIX_TAP_RX_BATCH frames, each handed up in its own
 * buffer, which returns to a small free list (at most UNIX_TAP_RX_POOL
 * buffers) when released. Frames longer than mtu + NETIF_ETH_HDR or
 * shorter than an Ethernet header are dropped and counted. Frames that
 * arrived while no listener was set are discarded (counted in rx_dropped)
 * when one is set. listen needs the platform running: called before
 * unix_platform_start it keeps the listener but cannot watch (logged), and
 * delivery starts only with a later listen call.
 *
 * Close the tap before unix_platform_stop: its watches live on the engine.
 * Everything runs on the scheduler's thread.
 */
#ifndef TESSERA_UNIX_TAP_H
#define TESSERA_UNIX_TAP_H

#include <stdint.h>

#include "netif.h"

#define UNIX_TAP_RX_BATCH 32    /* frames read per wake-up */
#define UNIX_TAP_RX_POOL  64    /* receive buffers kept for reuse */
#define UNIX_TAP_TSO_MAX  65535 /* the largest IP packet a TSO write takes */

struct unix_tap;

/* Creates (or attaches to) the tap interface `ifname` (at most 15
 * characters; NULL or "": the kernel picks a name such as "tap0"). mac is
 * the stack's MAC, copied (NULL: a random locally administered unicast
 * one); mtu is the largest IP packet (0: 1500; at least 68), also set on the
 * kernel side's interface. On success *out owns the tap: release it with
 * unix_tap_close. Returns 0 or a negative LWT_E* code, logged: -LWT_EINVAL
 * (name too long, mtu out of range, or the name is taken by an interface
 * that is not a tap), -LWT_ENOENT or -LWT_ENODEV (no tun device),
 * -LWT_EPERM or -LWT_EACCES (needs root or CAP_NET_ADMIN), -LWT_EBUSY (the
 * tap is attached to another descriptor), -LWT_ENOMEM. */
int unix_tap_open(const char *ifname, const uint8_t mac[6], uint16_t mtu, struct unix_tap **out);

/* The device, borrowed: valid until unix_tap_close. */
struct netif *unix_tap_netif(struct unix_tap *t);

/* The interface's name as the kernel knows it, borrowed like the netif. */
const char *unix_tap_ifname(const struct unix_tap *t);

/* Stops delivery, drops a frame still waiting to be sent (tx_dropped),
 * rejects pending wait_writable promises with -LWT_ECANCELED (their
 * callbacks run from the deferred queue), closes the descriptor (which
 * removes the kernel interface unless it was made persistent) and frees the
 * tap. Received frames the listener still holds stay valid until released.
 * NULL is ignored. */
void unix_tap_close(struct unix_tap *t);

#endif
