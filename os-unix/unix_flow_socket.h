/* The flow interface (net/flow.h) over the kernel's TCP sockets: what the
 * unix-socket target gives an app. No privileges needed.
 *
 *     unix_platform_start(NULL);
 *     struct flow_stack *fs;
 *     unix_flow_socket_new(NULL, &fs);        // listens on 127.0.0.1
 *     ... flow_listen(fs, 8080, 128, &l); flow_accept(l) ...
 *     unix_flow_socket_free(fs);              // flows and listeners closed
 *     unix_platform_stop();
 *
 * Sockets are non-blocking and wait for readiness on the platform's engine
 * (unix_io.h). A read is one recv; a write goes on until every byte is in
 * the kernel's send buffer (that is the back-pressure: the promise settles
 * once the kernel has taken the last byte). Listening sockets have
 * SO_REUSEADDR, so a restarted server can bind while old connections sit
 * in TIME_WAIT; flows get TCP_NODELAY unless the configuration says
 * otherwise. close is close(2) (the kernel sends what it holds, then FIN);
 * abort sets SO_LINGER to zero first, so the kernel sends a RST.
 *
 * Out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) on accept, the
 * listener does not spin on a socket that stays readable: it waits
 * UNIX_FLOW_ACCEPT_BACKOFF_MS, doubling up to UNIX_FLOW_ACCEPT_BACKOFF_MAX_MS,
 * and tries again; the pending accept stays pending meanwhile.
 *
 * Errors are the kernel's errno as -LWT_E* (unix_flow_socket_error), so
 * that an app sees the same codes as on Tessera's own stack.
 *
 * Ownership: flows and listeners are the caller's until flow_close/abort
 * or flow_listener_close (the memory and descriptor may live on for a
 * moment, until the promises that were pending have run their callbacks).
 * Close them before unix_flow_socket_free, which frees the stack only. Everything runs on the scheduler's thread; every
 * operation that has to wait needs the platform running.
 */
#ifndef TESSERA_UNIX_FLOW_SOCKET_H
#define TESSERA_UNIX_FLOW_SOCKET_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"

#define UNIX_FLOW_ACCEPT_BACKOFF_MS     50
#define UNIX_FLOW_ACCEPT_BACKOFF_MAX_MS 1000

#define UNIX_FLOW_LOOPBACK 0x7f000001u /* 127.0.0.1 */

struct unix_flow_socket_config {
    uint32_t listen_addr; /* IPv4, host order: where listen binds (0: every address) */
    bool nagle;           /* leave Nagle on for new flows (default: TCP_NODELAY) */
};

struct unix_flow_socket_stats {
    uint64_t accepted;        /* flows from accept */
    uint64_t connected;       /* flows from connect */
    uint64_t accept_backoffs; /* waits for descriptors to free up */
    uint64_t live;            /* flows and listeners not yet freed */
};

/* cfg is copied; NULL: listen on 127.0.0.1 with TCP_NODELAY. 0 or
 * -LWT_ENOMEM. */
int unix_flow_socket_new(const struct unix_flow_socket_config *cfg, struct flow_stack **out);
/* Every flow and listener made from fs must be closed first (the memory
 * then goes once their last callbacks have run). NULL is ignored. */
void unix_flow_socket_free(struct flow_stack *fs);

void unix_flow_socket_stats(const struct flow_stack *fs, struct unix_flow_socket_stats *out);

/* A socket call's -errno as a flow error: the LWT_E* code of the same
 * meaning (Linux's numbers pass through; ENFILE becomes -LWT_EMFILE,
 * ECONNABORTED and ENETRESET -LWT_ECONNRESET, EHOSTDOWN
 * -LWT_EHOSTUNREACH, a code with no LWT_E* name -LWT_EIO). */
int unix_flow_socket_error(int neg_errno);

#endif
