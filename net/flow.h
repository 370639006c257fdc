/* The stack/flow interface (DESIGN.md §4): TCP connections as promises,
 * whatever carries them. An app or http/ sees only this; the platform
 * picks the implementation when it builds the app's devices:
 *
 *   kernel sockets       os-unix/unix_flow_socket.h  (target unix-socket)
 *   Tessera's own stack  net/flow_direct.h           (target unix-direct over
 *                                                     tap, xen over netfront,
 *                                                     tests over the hub)
 *
 * Semantics are those of net/tcp.h, whatever the implementation:
 * - every operation returns a promise owned by the caller; errors are
 *   negative LWT_E* codes (-LWT_ECONNRESET, -LWT_ETIMEDOUT,
 *   -LWT_ECONNREFUSED, -LWT_EPIPE, -LWT_EADDRINUSE, ...);
 * - read is fulfilled with LWT_INT(n), 1 <= n <= len, or LWT_INT(0) at the
 *   end of the stream; write with LWT_INT(len) once all len bytes are
 *   accepted (back-pressure); the caller's buffer is borrowed until the
 *   promise settles; one read and one write may be pending at a time;
 * - reads, writes, accepts and connects are cancelable;
 * - close gives the handle up (pending operations are rejected with
 *   -LWT_ECANCELED; queued data is still sent, then FIN), abort gives it up
 *   with a RST. Either frees the struct flow.
 *
 * Addresses are IPv4, host byte order. Everything runs on the scheduler's
 * thread.
 */
#ifndef TESSERA_NET_FLOW_H
#define TESSERA_NET_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"

struct flow;
struct flow_listener;
struct flow_stack;

struct flow_endpoint {
    uint32_t addr; /* IPv4, host order */
    uint16_t port;
};

struct flow_ops {
    lwt_t *(*read)(struct flow *f, void *buf, size_t len);
    lwt_t *(*write)(struct flow *f, const void *buf, size_t len);
    /* Half-close: FIN after what is queued; reads go on. Fulfilled once
     * the FIN is queued; later writes fail with -LWT_EPIPE. */
    lwt_t *(*shutdown)(struct flow *f);
    void (*close)(struct flow *f);
    void (*abort)(struct flow *f);
    /* Segments go at once (no Nagle). */
    void (*set_nodelay)(struct flow *f, bool on);
    void (*endpoints)(const struct flow *f, struct flow_endpoint *local, struct flow_endpoint *remote);
};

/* Implementations embed this first and free themselves in close/abort. */
struct flow {
    const struct flow_ops *ops;
};

struct flow_listener_ops {
    /* Fulfilled with the next connection (struct flow *, the caller's
     * handle). One accept may wait at a time. */
    lwt_t *(*accept)(struct flow_listener *l);
    uint16_t (*port)(const struct flow_listener *l);
    /* Stops listening: a pending accept is rejected with -LWT_ESHUTDOWN.
     * Frees l. */
    void (*close)(struct flow_listener *l);
};

struct flow_listener {
    const struct flow_listener_ops *ops;
};

struct flow_stack_ops {
    /* Listens on port (0: any free one) with an accept queue of up to
     * backlog connections. 0 or a negative LWT_E* code. */
    int (*listen)(struct flow_stack *s, uint16_t port, int backlog, struct flow_listener **out);
    /* Fulfilled with the connected flow (struct flow *). */
    lwt_t *(*connect)(struct flow_stack *s, struct flow_endpoint to);
};

struct flow_stack {
    const struct flow_stack_ops *ops;
    const char *name; /* for logs: "unix-socket", "direct" */
};

static inline lwt_t *flow_read(struct flow *f, void *buf, size_t len)
{
    return f->ops->read(f, buf, len);
}
static inline lwt_t *flow_write(struct flow *f, const void *buf, size_t len)
{
    return f->ops->write(f, buf, len);
}
static inline lwt_t *flow_shutdown(struct flow *f)
{
    return f->ops->shutdown(f);
}
static inline void flow_close(struct flow *f)
{
    f->ops->close(f);
}
static inline void flow_abort(struct flow *f)
{
    f->ops->abort(f);
}
static inline void flow_set_nodelay(struct flow *f, bool on)
{
    f->ops->set_nodelay(f, on);
}
static inline void flow_endpoints(const struct flow *f, struct flow_endpoint *local, struct flow_endpoint *remote)
{
    f->ops->endpoints(f, local, remote);
}
static inline lwt_t *flow_accept(struct flow_listener *l)
{
    return l->ops->accept(l);
}
static inline uint16_t flow_listener_port(const struct flow_listener *l)
{
    return l->ops->port(l);
}
static inline void flow_listener_close(struct flow_listener *l)
{
    l->ops->close(l);
}
static inline int flow_listen(struct flow_stack *s, uint16_t port, int backlog, struct flow_listener **out)
{
    return s->ops->listen(s, port, backlog, out);
}
static inline lwt_t *flow_connect(struct flow_stack *s, struct flow_endpoint to)
{
    return s->ops->connect(s, to);
}

#endif
