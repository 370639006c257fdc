/* The network interface device (DESIGN.md §4): Ethernet frames in and out.
 * Implementations: the tap device on Unix (os-unix/unix_tap.h), netfront
 * on Xen, and the in-memory hub for tests (net/hub.h).
 *
 * Sending builds the frame in place, as mirage-net's `write ~size fill`: the
 * device lends a buffer of `size` bytes (on Xen a granted page) and the
 * stack's fill callback writes headers and payload straight into it; no
 * copy on the way out. Receiving hands each frame up as an owned slice
 * (net_buf.h) that starts at the Ethernet header; the receiver keeps it as
 * long as it likes and releases it.
 *
 * Offload: a device may finish TCP/IPv4 frames the way a NIC does, which
 * it says in tso_max and tx_csum. Such frames go through write_offload with
 * a struct netif_tx_offload: a partial checksum (the stack stores only the
 * pseudo-header's sum; the device sums the rest), and with TSO a frame
 * bigger than the MTU, whose TCP payload the device cuts into segments of
 * gso_size bytes, each with a copy of the headers, as if the stack had sent
 * them one by one. A device that offers neither never sees such a frame:
 * the stack then sends MTU-sized frames with their checksums done.
 *
 * Frames carry no FCS. Everything runs on the scheduler's thread.
 */
#ifndef TESSERA_NETIF_H
#define TESSERA_NETIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"
#include "net_buf.h"

#define NETIF_ETH_HDR 14u /* what a frame adds to an IP packet */

struct netif;

struct netif_stats {
    uint64_t rx_frames, rx_bytes; /* handed to the listener */
    uint64_t rx_dropped;          /* no listener, no memory, or too big */
    uint64_t tx_frames, tx_bytes; /* handed to the medium */
    uint64_t tx_dropped;          /* the fill callback refused, or the medium was full */
    uint64_t tx_errors;           /* the medium failed */
};

/* What the device is to finish in one frame written with write_offload.
 * Offsets count from the start of the frame (the Ethernet header).
 *
 * The frame's last bytes may stay where they are: the tail (up to two
 * ranges, borrowed for the call) is what the device sends after the bytes
 * the fill writes (gather I/O, as a NIC reads a packet's pages), so TCP's
 * data goes from its send buffer to the device without a copy of ours. */
struct netif_tx_offload {
    uint16_t gso_size;    /* TSO: TCP payload bytes per segment on the wire; 0: one frame as written */
    uint16_t hdr_len;     /* TSO: bytes of Ethernet, IPv4 and TCP headers, repeated in each segment */
    bool csum_partial;    /* the TCP checksum field holds the pseudo-header's sum (not complemented) */
    uint16_t csum_start;  /* csum_partial: where the sum starts (the TCP header) */
    uint16_t csum_offset; /* csum_partial: the field, from csum_start (16 for TCP) */
    const uint8_t *tail[2];
    uint32_t tail_len[2]; /* 0, 0: no tail, the fill writes the whole frame */
};

static inline size_t netif_tail_len(const struct netif_tx_offload *off)
{
    return (size_t)off->tail_len[0] + off->tail_len[1];
}

/* Writes a frame into `frame`: a slice of exactly the size asked for,
 * borrowed for the call. Returns the frame's length (at most that size),
 * or a negative LWT_E* code to send nothing. */
typedef int (*netif_fill_fn)(struct net_slice *frame, void *ctx);
/* One received frame, owned by the callee. */
typedef void (*netif_rx_fn)(void *ctx, struct net_slice frame);

struct netif_ops {
    /* Sends one frame of at most `size` bytes, filled in place before the
     * call returns. 0 once the frame is on its way (or was dropped by the
     * medium, which is counted); -LWT_EMSGSIZE if size exceeds
     * mtu + NETIF_ETH_HDR; -LWT_EAGAIN if the device cannot take a frame
     * now (fill is not called; see wait_writable); the fill's own error; or
     * another LWT_E* code. */
    int (*write)(struct netif *n, size_t size, netif_fill_fn fill, void *ctx);
    /* write, for a frame the device finishes as off says (borrowed for
     * the call). size may be up to tso_max + NETIF_ETH_HDR when
     * off->gso_size is set, else up to mtu + NETIF_ETH_HDR. Only for a
     * device that offers what off asks (tso_max, tx_csum); NULL in one
     * that offers nothing. A TSO frame always has a partial checksum.
     * With a tail, size counts it, and the fill is lent the rest, all of
     * which it must write (-LWT_EINVAL otherwise). */
    int (*write_offload)(struct netif *n, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill,
                         void *ctx);
    /* A promise fulfilled once write may succeed again (at once if it may
     * now). Cancelable. */
    lwt_t *(*wait_writable)(struct netif *n);
    /* Delivers every received frame to rx(ctx, frame) from now on; NULL
     * stops delivery (frames are then dropped and counted). */
    void (*listen)(struct netif *n, netif_rx_fn rx, void *ctx);
};

struct netif {
    const struct netif_ops *ops; /* ro */
    uint8_t mac[6];              /* ro */
    uint16_t mtu;                /* ro: the largest IP packet, e.g. 1500 */
    uint32_t tso_max;            /* ro: the largest IP packet for TSO (<= 65535, needs tx_csum); 0: none */
    bool tx_csum;                /* ro: write_offload completes partial TCP/IPv4 checksums */
    struct netif_stats stats;    /* ro: kept by the device */
    const char *name;            /* ro: for logs */
};

static inline int netif_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    return n->ops->write(n, size, fill, ctx);
}
/* write_offload when off is not NULL, else write. */
static inline int netif_write_offload(struct netif *n, size_t size, const struct netif_tx_offload *off,
                                      netif_fill_fn fill, void *ctx)
{
    return off ? n->ops->write_offload(n, size, off, fill, ctx) : n->ops->write(n, size, fill, ctx);
}
static inline lwt_t *netif_wait_writable(struct netif *n)
{
    return n->ops->wait_writable(n);
}
static inline void netif_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    n->ops->listen(n, rx, ctx);
}

#endif
