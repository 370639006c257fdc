/* blkfront: a Xen virtual disk as a block device (block/block.h), over the
 * PV block protocol (xen/io/blkif.h) with the backend in another domain
 * (blkback in dom0).
 *
 * Connecting follows the xenbus handshake: the frontend's node
 * device/vbd/<id> names the backend; once the backend is in InitWait the
 * frontend publishes one ring page (granted), an unbound event channel and
 * the protocol (x86_64-abi), says Initialised, and waits for Connected;
 * then it reads the disk's size ("sectors", counted in 512-byte units as
 * Linux's blkback writes it), "sector-size", "info" and "mode" (read-only
 * if either says so), and whether the backend can flush its cache
 * (feature-flush-cache, else feature-barrier).
 *
 * Requests: each read or write is cut into ring requests of up to 11 pages
 * (44 KiB); up to 32 are in flight, the rest wait in order. Data moves
 * through pages of the driver's own (granted for the request only, and the
 * grant ended when its response is in), so any caller's buffer will do
 * and a cancelled request never touches it again. Flush is
 * BLKIF_OP_FLUSH_DISKCACHE, or WRITE_BARRIER; a backend with neither has
 * no cache to flush, and flush is fulfilled at once. Every response is
 * checked: its id must name a request in flight of the same operation,
 * and the ring's indexes must be consistent; anything else is a backend
 * that cannot be trusted, and the device fails every request from then
 * on with -LWT_EIO. An error status fails the request with -LWT_EIO
 * (-LWT_EOPNOTSUPP for an operation the backend refuses).
 *
 * Not done: indirect descriptors (feature-max-indirect-segments),
 * persistent grants, multi-page rings and queues, discard.
 *
 * Single vCPU, everything on the scheduler's thread; private to os-xen/.
 */
#ifndef TESSERA_XEN_BLKFRONT_H
#define TESSERA_XEN_BLKFRONT_H

#include "block.h"
#include "lwt.h"

/* How long each step of the handshake (and of the disconnection) may take
 * before it is given up. */
#define XEN_BLKFRONT_TIMEOUT_S 30

/* Connects to the virtual disk vdev: "xvda".."xvdz" (as in the xl
 * config's vdev=), a device number ("51712"), or NULL for the first disk
 * the domain has. Fulfilled with the struct block * once the backend is
 * Connected; rejected with -LWT_ENODEV (no such disk, or xenstore is not
 * there), -LWT_EINVAL (a name that is not a disk's), -LWT_ETIMEDOUT (the
 * backend did not get there), -LWT_EPROTO (the backend's nodes make no
 * sense), -LWT_EBUSY (the disk is open already), or another LWT_E* code.
 * vdev is copied. Cancelable (what was set up is then taken down). */
lwt_t *xen_blkfront_open(const char *vdev);

/* Disconnects and frees the device: requests still waiting are rejected
 * with -LWT_ESHUTDOWN, those in flight are let finish, the backend is told
 * Closing then Closed and waited for, and every grant is ended (the log
 * says how many the domain still has in use). Fulfilled with NULL, or
 * rejected with the step that failed (the device is freed either way).
 * Requests made after this call are rejected with -LWT_ESHUTDOWN. */
lwt_t *xen_blkfront_close(struct block *b);

#endif
