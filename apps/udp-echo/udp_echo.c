/* udp-echo: sends every UDP datagram back to where it came from (RFC 862),
 * on port 7 unless `--port N` says otherwise. A loop written as a promise
 * chain: receive, send back, receive again, until the platform asks us to
 * stop (SIGINT/SIGTERM on Unix, xl shutdown on Xen). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "scheduler.h"
#include "stack.h"
#include "wire_ip4.h"

static struct log_source echo_log = LOG_SOURCE("udp-echo");

struct echo {
    struct udp_sock *sock;
    bool stopping;
    uint64_t echoed, send_failures;
};

struct step {
    struct echo *e;
};

static lwt_t *serve(void *v, void *ctx);

static lwt_t *send_failed(int err, void *ctx)
{
    /* One datagram that cannot go out (no ARP answer, no buffer) is not a
     * reason to stop serving everyone else. */
    struct echo *e = ((struct step *)ctx)->e;
    if (err == -LWT_ECANCELED || e->stopping)
        return lwt_fail(err);
    if (e->send_failures++ < 10)
        log_warn(&echo_log, "cannot send a reply: %s", lwt_strerror(err));
    return lwt_return(NULL);
}

static lwt_t *echo_back(void *v, void *ctx)
{
    struct echo *e = ((struct step *)ctx)->e;
    struct udp_datagram *d = v;
    /* Port 0 cannot be answered. */
    if (d->sport == 0) {
        udp_datagram_free(d);
        return serve(NULL, ctx);
    }
    /* udp_sendto copies the payload, so the datagram can go right away. */
    lwt_t *sent = udp_sendto(e->sock, d->src, d->sport, net_slice_data(&d->payload), d->payload.len);
    udp_datagram_free(d);
    e->echoed++;
    return lwt_bind(lwt_catch(sent, send_failed, ctx, sizeof(struct step)), serve, ctx, sizeof(struct step));
}

/* Each step returns the next one's promise, so the loop runs in constant
 * memory however long it serves. */
static lwt_t *serve(void *v, void *ctx)
{
    (void)v;
    struct echo *e = ((struct step *)ctx)->e;
    /* A send that was under way when we were told to stop ends here. */
    if (e->stopping)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_bind(udp_recv(e->sock), echo_back, ctx, sizeof(struct step));
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
    log_info(&echo_log, "stopped after echoing %llu datagrams", (unsigned long long)en->e->echoed);
    udp_close(en->e->sock);
    free(en->e);
    return en->err ? lwt_fail(en->err) : lwt_return(NULL);
}

/* The state is freed only once the loop has settled, so that nothing the
 * loop still waits for can reach it afterwards. */
static lwt_t *wind_down(struct ending *en)
{
    en->e->stopping = true;
    lwt_cancel(en->loop);
    lwt_t *settled = lwt_catch(en->loop, ignore_error, LWT_NOCTX);
    struct ending next = {en->e, NULL, en->err};
    return lwt_bind(settled, finish, LWT_CTX(next));
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
    log_error(&echo_log, "receive failed: %s", lwt_strerror(err));
    return wind_down(en);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    uint16_t port = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc && app_parse_port(argv[i + 1], 1, &port) == 0) {
            i++;
        } else {
            log_error(&echo_log, "usage: udp-echo [--port N] (N in 1..65535); unexpected '%s'", argv[i]);
            return lwt_fail(-LWT_EINVAL);
        }
    }
    if (!dev->net) {
        log_error(&echo_log, "needs a network stack: build it as a network app");
        return lwt_fail(-LWT_ENODEV);
    }

    struct echo *e = malloc(sizeof *e);
    if (!e)
        return lwt_fail(-LWT_ENOMEM);
    *e = (struct echo){0};
    int rc = udp_bind(dev->net, port, &e->sock);
    if (rc < 0) {
        log_error(&echo_log, "cannot bind UDP port %u: %s", (unsigned)port, lwt_strerror(rc));
        free(e);
        return lwt_fail(rc);
    }
    char addr[16];
    log_info(&echo_log, "serving on %s:%u", ip4_ntoa(net_stack_config(dev->net)->addr, addr), (unsigned)port);

    /* The loop only ends on an error, the shutdown promise on a signal:
     * whichever comes first stops the server. */
    struct step s = {e};
    lwt_t *loop = serve(NULL, &s);
    lwt_t *ps[2] = {lwt_ref(loop), sched_shutdown_requested()};
    struct ending en = {e, loop, 0};
    return lwt_try_bind(lwt_choose(ps, 2), on_shutdown, on_loop_error, LWT_CTX(en));
}
