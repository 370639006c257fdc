/* TCP in the direct stack (RFC 9293), as flows of promises.
 *
 * A connection is a struct tcp_conn; the application holds one handle to it
 * from tcp_accept or tcp_connect until tcp_close or tcp_abort, after which
 * the stack finishes the connection on its own (FIN handshake, TIME_WAIT)
 * and frees it. Every operation returns a promise owned by the caller;
 * errors are negative LWT_E* codes: -LWT_ECONNREFUSED (RST to our SYN),
 * -LWT_ECONNRESET (RST later), -LWT_ETIMEDOUT (retransmissions or
 * keep-alive gave up), -LWT_EPIPE (write after shutdown), -LWT_ENOTCONN,
 * -LWT_ESHUTDOWN (the stack went away).
 *
 * Reads and writes copy: the caller's buffer is borrowed until the promise
 * settles. A write is fulfilled once all its bytes are in the send buffer,
 * so a fast writer waits for the peer (back-pressure). One read and one
 * write may be pending at a time on a connection (-LWT_EBUSY otherwise).
 *
 * Every resource a peer can make grow is bounded: each connection's send and
 * receive buffers (the receive window never offers more than the buffer has
 * room for), the out-of-order queue, half-open connections per listener
 * (SYN queue), the accept queue, TIME_WAIT entries and connections per
 * stack. Past a bound the peer gets a RST or no answer.
 */
#ifndef TESSERA_NET_TCP_H
#define TESSERA_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"
#include "stack.h"

struct tcp_conn;
struct tcp_listener;

/* Per-connection settings; zero fields take the defaults. */
struct tcp_options {
    uint32_t sndbuf;      /* bytes; default TCP_DEFAULT_BUF */
    uint32_t rcvbuf;      /* bytes; default TCP_DEFAULT_BUF */
    bool nodelay;         /* no Nagle: send small segments at once */
    bool keepalive;       /* probe an idle peer, drop it if it is gone */
    uint32_t keepidle_s;  /* idle time before the first probe; default 7200 */
    uint32_t keepintvl_s; /* between probes; default 75 */
    uint32_t keepcnt;     /* unanswered probes before -LWT_ETIMEDOUT; default 9 */
};

#define TCP_DEFAULT_BUF     (256 * 1024)
#define TCP_MAX_BUF         (4 * 1024 * 1024)
#define TCP_MAX_CONNS       4096 /* per stack, TIME_WAIT included */
#define TCP_MAX_TIME_WAIT   1024 /* per stack; the oldest is reused past it */
#define TCP_MAX_SYN_BACKLOG 128  /* half-open connections per listener */

/* Listens on port (0: an ephemeral one) with an accept queue of up to
 * backlog established connections (1..1024; more are refused with RST).
 * opts (copied; NULL: defaults) apply to the accepted connections.
 * 0, -LWT_EADDRINUSE, -LWT_EINVAL, -LWT_ENOMEM. */
int tcp_listen(struct net_stack *s, uint16_t port, int backlog, const struct tcp_options *opts,
               struct tcp_listener **out);
uint16_t tcp_listener_port(const struct tcp_listener *l);
/* Fulfilled with the next established connection (struct tcp_conn *, the
 * caller's handle). Cancelable; one accept may wait at a time. */
lwt_t *tcp_accept(struct tcp_listener *l);
/* Stops listening: a pending accept is rejected with -LWT_ESHUTDOWN,
 * queued and half-open connections are reset. Frees l. */
void tcp_listener_close(struct tcp_listener *l);

/* Opens a connection from an ephemeral port. Fulfilled with the
 * established connection (the caller's handle). Cancelable (the attempt is
 * abandoned with a RST if the SYN went out). */
lwt_t *tcp_connect(struct net_stack *s, uint32_t dst, uint16_t dport, const struct tcp_options *opts);

/* Fulfilled with LWT_INT(n), 1 <= n <= len bytes read, or LWT_INT(0) at the
 * end of the stream (the peer's FIN, once everything before it was read). */
lwt_t *tcp_read(struct tcp_conn *c, void *buf, size_t len);
/* Fulfilled with LWT_INT(len) once all len bytes are in the send buffer. */
lwt_t *tcp_write(struct tcp_conn *c, const void *buf, size_t len);
/* Sends FIN after what is queued (half-close); reads go on. Fulfilled at
 * once (NULL); later writes fail with -LWT_EPIPE. */
lwt_t *tcp_shutdown(struct tcp_conn *c);
/* Gives up the handle: pending operations are rejected with
 * -LWT_ECANCELED, the stack sends what is queued and FIN, and frees the
 * connection when it is done. Unread data makes it a RST instead. */
void tcp_close(struct tcp_conn *c);
/* Gives up the handle with a RST; queued data is dropped. */
void tcp_abort(struct tcp_conn *c);

void tcp_set_nodelay(struct tcp_conn *c, bool on);
void tcp_set_keepalive(struct tcp_conn *c, bool on);

struct tcp_endpoints {
    uint32_t local_addr, remote_addr;
    uint16_t local_port, remote_port;
};
void tcp_conn_endpoints(const struct tcp_conn *c, struct tcp_endpoints *out);

/* What the stack's TCP counts, cumulative, plus the live counts. */
struct tcp_stats {
    uint64_t segs_in, segs_out, bad_segs, rst_sent, rst_in;
    uint64_t retransmits, fast_retransmits, timeouts;
    uint64_t repairs_lost;           /* a segment sent again during recovery was lost again */
    uint64_t tlp_probes;             /* tail loss probes sent (RFC 8985) */
    uint64_t undos;                  /* recoveries undone: reordering, not loss, started them */
    uint64_t challenge_acks_limited; /* not sent: over the rate limit */
    uint64_t challenge_acks, syn_dropped, accept_overflow, ooo_dropped, dup_segs;
    uint64_t mem_refused;      /* connections reset: their buffers would pass the memory limit */
    uint32_t conns, time_wait; /* now */
};
const struct tcp_stats *tcp_stats(const struct net_stack *s);
/* Bytes held by TCP (buffers and control blocks), for tests that check it
 * returns to zero after every connection has closed. */
size_t tcp_memory_in_use(const struct net_stack *s);
/* Bounds the bytes of send and receive buffers the stack's connections may
 * hold together (0: no bound, the default). A connection whose buffers
 * would pass it is refused when it is established (RST; a connect is
 * rejected with -LWT_ENOBUFS): where running out of memory is fatal, as
 * on Xen, peers cannot make the stack take it all. */
void tcp_set_memory_limit(struct net_stack *s, size_t bytes);

#endif
