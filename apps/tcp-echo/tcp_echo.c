/* tcp-echo: sends back everything each TCP client sends (RFC 862), on
 * port 7 unless `--port N` says otherwise (0: any free port, logged). It
 * uses only flows (net/flow.h), so the same code runs on kernel sockets
 * and on Tessera's own stack. One promise chain accepts
 * connections; each connection is a chain of its own (read, write back,
 * read again) until the peer closes, when we close our side too. A
 * shutdown request closes the listener, resets the connections still open
 * and frees everything before the main promise settles. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "flow.h"
#include "log.h"
#include "scheduler.h"

#define ECHO_BUF     16384
#define ECHO_BACKLOG 256

static struct log_source echo_log = LOG_SOURCE("tcp-echo");

struct conn;

struct echo {
    struct flow_listener *listener; /* NULL once closed */
    struct conn *conns;             /* the open ones */
    unsigned live;                  /* connections whose chain has not ended */
    bool stopping;
    lwt_resolver_t *drained; /* woken when the last connection ends while stopping */
    uint64_t accepted, bytes, resets;
};

struct conn {
    struct echo *e;
    struct flow *c;
    struct conn *prev, *next;
    bool gone; /* the handle was given up (flow_abort at shutdown) */
    uint64_t bytes;
    uint8_t buf[ECHO_BUF];
};

struct cstep {
    struct conn *k;
};

/* ---- One connection ----------------------------------------------------- */

static lwt_t *conn_read(void *v, void *ctx);

static lwt_t *conn_got(void *v, void *ctx)
{
    struct conn *k = ((struct cstep *)ctx)->k;
    intptr_t n = LWT_TO_INT(v);
    if (k->gone)
        return lwt_fail(-LWT_ECANCELED);
    if (n == 0)
        return lwt_return(NULL); /* the peer's FIN: done */
    k->bytes += (uint64_t)n;
    /* The buffer is borrowed until the write settles; the next read only
     * starts then, so one buffer is enough. */
    return lwt_bind(flow_write(k->c, k->buf, (size_t)n), conn_read, ctx, sizeof(struct cstep));
}

/* Each step returns the next one's promise: constant memory however long
 * the connection lasts. */
static lwt_t *conn_read(void *v, void *ctx)
{
    (void)v;
    struct conn *k = ((struct cstep *)ctx)->k;
    if (k->gone)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_bind(flow_read(k->c, k->buf, sizeof k->buf), conn_got, ctx, sizeof(struct cstep));
}

static void conn_free(struct conn *k, bool reset)
{
    struct echo *e = k->e;
    if (!k->gone) {
        /* Nothing is left unread after an EOF, so close sends FIN; after an
         * error a RST is the honest answer. */
        if (reset)
            flow_abort(k->c);
        else
            flow_close(k->c);
    }
    if (k->prev)
        k->prev->next = k->next;
    else
        e->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    e->bytes += k->bytes;
    free(k);
    e->live--;
    /* Last: waking may run the code that frees e. */
    if (e->live == 0 && e->drained) {
        lwt_resolver_t *r = e->drained;
        e->drained = NULL;
        lwt_wakeup(r, NULL);
    }
}

static lwt_t *conn_ended(void *v, void *ctx)
{
    (void)v;
    struct conn *k = ((struct cstep *)ctx)->k;
    log_debug(&echo_log, "connection closed by the peer after %llu bytes", (unsigned long long)k->bytes);
    conn_free(k, false);
    return lwt_return(NULL);
}

static lwt_t *conn_failed(int err, void *ctx)
{
    struct conn *k = ((struct cstep *)ctx)->k;
    /* A peer's RST or timeout ends that connection only. */
    if (err != -LWT_ECANCELED) {
        k->e->resets++;
        log_debug(&echo_log, "connection failed after %llu bytes: %s", (unsigned long long)k->bytes, lwt_strerror(err));
    }
    conn_free(k, true);
    return lwt_return(NULL);
}

static void conn_start(struct echo *e, struct flow *c)
{
    struct conn *k = malloc(sizeof *k);
    if (!k) {
        log_warn(&echo_log, "out of memory: refusing a connection");
        flow_abort(c);
        return;
    }
    /* Field by field: a compound literal would zero the 16 KiB buffer on
     * every accept, the largest cost of a short connection. */
    k->e = e;
    k->c = c;
    k->prev = NULL;
    k->next = e->conns;
    k->gone = false;
    k->bytes = 0;
    /* Echoed lines should go out at once, not wait for an ACK (Nagle). */
    flow_set_nodelay(c, true);
    if (e->conns)
        e->conns->prev = k;
    e->conns = k;
    e->live++;
    e->accepted++;
    struct cstep s = {k};
    /* Both ends of the chain are handled, so the detached promise never
     * carries an error. */
    lwt_async(lwt_try_bind(conn_read(NULL, &s), conn_ended, conn_failed, LWT_CTX(s)), NULL, LWT_NOCTX);
}

/* ---- The accept loop ---------------------------------------------------- */

struct astep {
    struct echo *e;
};

static lwt_t *accept_next(void *v, void *ctx);

static lwt_t *accepted(void *v, void *ctx)
{
    struct echo *e = ((struct astep *)ctx)->e;
    struct flow *c = v;
    if (e->stopping) {
        flow_abort(c);
        return lwt_fail(-LWT_ECANCELED);
    }
    conn_start(e, c);
    return accept_next(NULL, ctx);
}

static lwt_t *accept_next(void *v, void *ctx)
{
    (void)v;
    struct echo *e = ((struct astep *)ctx)->e;
    if (e->stopping)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_bind(flow_accept(e->listener), accepted, ctx, sizeof(struct astep));
}

/* ---- Stopping ----------------------------------------------------------- */

struct ending {
    struct echo *e;
    lwt_t *loop; /* our own reference */
    int err;     /* why we stop: 0 for a shutdown request */
};

static lwt_t *ignore_error(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL);
}

static lwt_t *finish(void *v, void *ctx)
{
    (void)v;
    struct ending *en = ctx;
    struct echo *e = en->e;
    log_info(&echo_log, "stopped after %llu connections, %llu bytes echoed, %llu failed",
             (unsigned long long)e->accepted, (unsigned long long)e->bytes, (unsigned long long)e->resets);
    free(e);
    return en->err ? lwt_fail(en->err) : lwt_return(NULL);
}

/* The state is freed only once the accept loop and every connection's
 * chain have settled, so that nothing still waiting can reach it. */
static lwt_t *wind_down(struct ending *en)
{
    struct echo *e = en->e;
    e->stopping = true;
    lwt_cancel(en->loop);
    if (e->listener) {
        flow_listener_close(e->listener);
        e->listener = NULL;
    }
    for (struct conn *k = e->conns, *next; k; k = next) {
        next = k->next; /* k may be freed inline by its chain's end */
        k->gone = true;
        flow_abort(k->c);
    }
    lwt_t *drained = e->live ? lwt_wait(&e->drained) : lwt_return(NULL);
    lwt_t *ps[2] = {lwt_catch(en->loop, ignore_error, LWT_NOCTX), drained};
    struct ending next = {e, NULL, en->err};
    return lwt_bind(lwt_join(ps, 2), finish, LWT_CTX(next));
}

static lwt_t *on_shutdown(void *v, void *ctx)
{
    (void)v;
    return wind_down(ctx);
}

static lwt_t *on_loop_error(int err, void *ctx)
{
    struct ending *en = ctx;
    en->err = err;
    log_error(&echo_log, "accept failed: %s", lwt_strerror(err));
    return wind_down(en);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    uint16_t port = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc && app_parse_port(argv[i + 1], 0, &port) == 0) {
            i++;
        } else {
            log_error(&echo_log, "usage: tcp-echo [--port N] (N in 0..65535); unexpected '%s'", argv[i]);
            return lwt_fail(-LWT_EINVAL);
        }
    }
    if (!dev->flows) {
        log_error(&echo_log, "needs TCP flows: build it with tessera_add_unikernel");
        return lwt_fail(-LWT_ENODEV);
    }

    struct echo *e = malloc(sizeof *e);
    if (!e)
        return lwt_fail(-LWT_ENOMEM);
    *e = (struct echo){0};
    int rc = flow_listen(dev->flows, port, ECHO_BACKLOG, &e->listener);
    if (rc < 0) {
        log_error(&echo_log, "cannot listen on TCP port %u: %s", (unsigned)port, lwt_strerror(rc));
        free(e);
        return lwt_fail(rc);
    }
    log_info(&echo_log, "serving on port %u (%s)", (unsigned)flow_listener_port(e->listener), dev->flows->name);

    /* The loop only ends on an error, the shutdown promise on a signal:
     * whichever comes first stops the server. */
    struct astep s = {e};
    lwt_t *loop = accept_next(NULL, &s);
    lwt_t *ps[2] = {lwt_ref(loop), sched_shutdown_requested()};
    struct ending en = {e, loop, 0};
    return lwt_try_bind(lwt_choose(ps, 2), on_shutdown, on_loop_error, LWT_CTX(en));
}
