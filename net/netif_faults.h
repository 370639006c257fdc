/* A fault-injecting netif (DESIGN.md §7): wraps any netif (the tap device,
 * a hub port) and loses, duplicates, reorders and delays the frames that
 * pass through it, in each direction separately. It is for tests against
 * real peers over tap, where the kernel has no netem: the process itself
 * makes the faults on its side of the wire.
 *
 * The wrapper is itself a struct netif with the inner's MAC, MTU and name;
 * the stack runs on the wrapper. It offers no offload (netif.h), whatever
 * the inner netif does: the stack sends it MTU-sized frames with their
 * checksums done, which it can hold, copy and replay as they are. Faults apply to tx (frames the stack
 * writes, before they reach the inner netif) and to rx (frames the inner
 * netif hands up, before they reach the stack's listener), each with its
 * own configuration and its own PRNG stream, so the faults of one
 * direction never shift those of the other.
 *
 * Per frame and direction, as on the hub (hub.h): a loss, a duplication
 * (the two copies go back to back), a hold for reordering (the direction's
 * next frame overtakes the held one, which then follows at once; one that
 * nothing overtakes goes after reorder_hold_ns), and a delay of delay_ns
 * plus a uniform draw in [0, jitter_ns] (a jitter may reorder too).
 *
 * The fast path stays fast: a frame written with no fault that applies
 * goes straight to the inner netif's write with the caller's fill, in
 * place (no copy), and the write returns what the inner one returned. A
 * received frame with no fault goes straight to the listener. A frame that
 * is lost, delayed, held or duplicated on tx is first built into a buffer
 * of the wrapper's own (the fill runs once, inside the write call, which
 * then returns 0 or the fill's error); a received one is kept as the owned
 * slice it came as. Frames the wrapper keeps go on from a scheduler timer,
 * on a later turn, never inside the write call; a frame with no fault of
 * its own waits behind any that is already due, so faults never reorder
 * more than they say.
 *
 * When the inner netif answers -LWT_EAGAIN to a frame that comes due, the
 * frame is kept (the frames behind it too) and retried once the inner's
 * wait_writable settles; if that promise is fulfilled at once,
 * NETIF_FAULTS_RETRY_NS later instead, so a confused device cannot make
 * the loop spin. Other errors of the inner write drop the frame and count
 * it (tx_errors).
 *
 * Statistics: the wrapper's own struct netif_stats count what the stack
 * saw (a frame lost on tx still counts in tx_frames: the write accepted
 * it; one lost on rx never reaches rx_frames). The inner netif keeps its
 * own. struct netif_faults_stats counts the faults.
 *
 * Deterministic: for a given seed and the same calls, the same faults at
 * the same times on the virtual clock (tests/support/test_vclock.h). Needs
 * the scheduler (sched_init).
 *
 * Ownership: the inner netif is borrowed and must outlive the wrapper. The
 * wrapper owns every frame it holds; netif_faults_free releases them,
 * cancels its timers, and stops listening on the inner netif. It must not
 * be called from inside the wrapper's listener or a fill.
 */
#ifndef TESSERA_NETIF_FAULTS_H
#define TESSERA_NETIF_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "netif.h"

struct netif_faults;

/* The longest a frame held for reordering waits for one to overtake it,
 * when reorder_hold_ns is 0 (as on the hub). */
#define NETIF_FAULTS_REORDER_HOLD_NS (10 * 1000000ull)
/* Frames held per direction; past it a frame that would be held is dropped
 * and counted (tx_dropped, rx_dropped), as a full medium would. */
#define NETIF_FAULTS_MAX_HELD 4096u
/* How soon a frame the inner netif refused is retried when its
 * wait_writable gives no better answer. */
#define NETIF_FAULTS_RETRY_NS (1000000ull)

struct netif_faults_config {
    uint32_t loss_ppm;        /* a frame is lost (parts per million) */
    uint32_t dup_ppm;         /* a frame goes twice, back to back */
    uint32_t reorder_ppm;     /* a frame is held so the next one overtakes it */
    uint64_t delay_ns;        /* added to every frame */
    uint64_t jitter_ns;       /* plus a uniform draw in [0, jitter_ns] */
    uint64_t reorder_hold_ns; /* the longest a held frame waits; 0: NETIF_FAULTS_REORDER_HOLD_NS */
};

struct netif_faults_stats {
    uint64_t tx_lost, rx_lost;             /* dropped by loss_ppm */
    uint64_t tx_duplicated, rx_duplicated; /* extra copies made by dup_ppm */
    uint64_t tx_reordered, rx_reordered;   /* held frames that a later one did overtake */
    uint64_t tx_delayed, rx_delayed;       /* frames given a delay (delay_ns + jitter) above zero */
};

/* A wrapper around inner (borrowed, see above) with no faults yet; its
 * netif is netif_faults_netif(*out). Returns 0, -LWT_EINVAL if inner is
 * NULL, or -LWT_ENOMEM (*out is then NULL). */
int netif_faults_wrap(struct netif *inner, uint64_t seed, struct netif_faults **out);
/* The wrapper's netif, for the stack; it lives as long as the wrapper. */
struct netif *netif_faults_netif(struct netif_faults *f);
/* Sets the faults (copied) of each direction for frames from now on; NULL
 * means none in that direction. Frames already held keep their fate. */
void netif_faults_set(struct netif_faults *f, const struct netif_faults_config *tx,
                      const struct netif_faults_config *rx);
void netif_faults_stats(const struct netif_faults *f, struct netif_faults_stats *out);
/* Frames held now in both directions (a duplicated one counts once). */
size_t netif_faults_held(const struct netif_faults *f);
/* Frees the wrapper (see Ownership above). NULL is ignored. */
void netif_faults_free(struct netif_faults *f);

#endif
