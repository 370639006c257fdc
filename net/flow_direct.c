/* The flow interface over the direct stack's TCP: each flow, listener and
 * the stack itself is a small wrapper holding the tcp.h handle, so every
 * operation is one call through. */
#include <stdlib.h>
#include <string.h>

#include "flow_direct.h"

struct direct_stack {
    struct flow_stack base;
    struct net_stack *s;     /* borrowed */
    struct tcp_options opts; /* for every connection, accepted or opened */
};

struct direct_flow {
    struct flow base;
    struct tcp_conn *c; /* ours until close or abort */
};

struct direct_listener {
    struct flow_listener base;
    struct tcp_listener *l;
};

/* ---- Flows ------------------------------------------------------------------ */

static struct tcp_conn *conn_of(const struct flow *f)
{
    return ((const struct direct_flow *)f)->c;
}

static lwt_t *direct_read(struct flow *f, void *buf, size_t len)
{
    return tcp_read(conn_of(f), buf, len);
}

static lwt_t *direct_write(struct flow *f, const void *buf, size_t len)
{
    return tcp_write(conn_of(f), buf, len);
}

static lwt_t *direct_shutdown(struct flow *f)
{
    return tcp_shutdown(conn_of(f));
}

static void direct_close(struct flow *f)
{
    tcp_close(conn_of(f));
    free(f);
}

static void direct_abort(struct flow *f)
{
    tcp_abort(conn_of(f));
    free(f);
}

static void direct_set_nodelay(struct flow *f, bool on)
{
    tcp_set_nodelay(conn_of(f), on);
}

static void direct_endpoints(const struct flow *f, struct flow_endpoint *local, struct flow_endpoint *remote)
{
    struct tcp_endpoints e;
    tcp_conn_endpoints(conn_of(f), &e);
    if (local)
        *local = (struct flow_endpoint){e.local_addr, e.local_port};
    if (remote)
        *remote = (struct flow_endpoint){e.remote_addr, e.remote_port};
}

static const struct flow_ops direct_flow_ops = {
    .read = direct_read,
    .write = direct_write,
    .shutdown = direct_shutdown,
    .close = direct_close,
    .abort = direct_abort,
    .set_nodelay = direct_set_nodelay,
    .endpoints = direct_endpoints,
};

/* The continuation of accept and connect: the new connection gets its
 * wrapper, or a RST if there is no memory for one. */
static lwt_t *wrap_conn(void *v, void *ctx)
{
    (void)ctx;
    struct tcp_conn *c = v;
    struct direct_flow *f = malloc(sizeof *f);
    if (!f) {
        tcp_abort(c);
        return lwt_fail(-LWT_ENOMEM);
    }
    f->base.ops = &direct_flow_ops;
    f->c = c;
    return lwt_return(&f->base);
}

/* ---- Listeners ---------------------------------------------------------------- */

static lwt_t *direct_accept(struct flow_listener *l)
{
    return lwt_bind(tcp_accept(((struct direct_listener *)l)->l), wrap_conn, LWT_NOCTX);
}

static uint16_t direct_listener_port(const struct flow_listener *l)
{
    return tcp_listener_port(((const struct direct_listener *)l)->l);
}

static void direct_listener_close(struct flow_listener *l)
{
    tcp_listener_close(((struct direct_listener *)l)->l);
    free(l);
}

static const struct flow_listener_ops direct_listener_ops = {
    .accept = direct_accept,
    .port = direct_listener_port,
    .close = direct_listener_close,
};

/* ---- The stack ------------------------------------------------------------------ */

static int direct_listen(struct flow_stack *fs, uint16_t port, int backlog, struct flow_listener **out)
{
    struct direct_stack *ds = (struct direct_stack *)fs;
    struct direct_listener *dl = malloc(sizeof *dl);
    if (!dl)
        return -LWT_ENOMEM;
    int rc = tcp_listen(ds->s, port, backlog, &ds->opts, &dl->l);
    if (rc < 0) {
        free(dl);
        return rc;
    }
    dl->base.ops = &direct_listener_ops;
    *out = &dl->base;
    return 0;
}

static lwt_t *direct_connect(struct flow_stack *fs, struct flow_endpoint to)
{
    struct direct_stack *ds = (struct direct_stack *)fs;
    return lwt_bind(tcp_connect(ds->s, to.addr, to.port, &ds->opts), wrap_conn, LWT_NOCTX);
}

static const struct flow_stack_ops direct_stack_ops = {
    .listen = direct_listen,
    .connect = direct_connect,
};

struct flow_stack *flow_direct_new(struct net_stack *s, const struct tcp_options *opts)
{
    struct direct_stack *ds = malloc(sizeof *ds);
    if (!ds)
        return NULL;
    memset(ds, 0, sizeof *ds);
    ds->base.ops = &direct_stack_ops;
    ds->base.name = "direct";
    ds->s = s;
    if (opts)
        ds->opts = *opts;
    return &ds->base;
}

void flow_direct_free(struct flow_stack *fs)
{
    free(fs);
}
