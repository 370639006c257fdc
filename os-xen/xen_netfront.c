/* See xen_netfront.h. The xenbus handshake, as promise chains over the
 * domain's xenstore connection; the rings themselves are netfront.c's.
 *
 * One watch on the backend's state node drives every wait: each event
 * reads the state, and the one wait in progress (open's or close's) is
 * fulfilled when the state reaches its goal. The struct is counted: the
 * reads in flight hold it too, so that close can free it while xenstore
 * still owes an answer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>
#include <xen/xen.h>

#include "log.h"
#include "lwt.h"
#include "netfront.h"
#include "scheduler.h"
#include "xen_events.h"
#include "xen_gnttab.h"
#include "xen_mm.h"
#include "xen_netfront.h"
#include "xen_store.h"
#include "xenstore.h"

static struct log_source vif_log = LOG_SOURCE("netfront");

#define GRANT_RETRIES  50                     /* ending grants the backend still maps */
#define GRANT_RETRY_NS (100ull * 1000 * 1000) /* 5 s in all */
#define CLOSE_WAIT_NS  (5ull * 1000 * 1000 * 1000)

struct xen_netfront {
    unsigned refs; /* the owner's, and one per read in flight */
    char name[16]; /* "vif0" */
    char front[32];
    char *back;       /* the backend's directory (malloc'd) */
    char *back_state; /* back + "/state" */
    uint16_t backend_id;
    uint8_t mac[6];
    uint16_t mtu;
    int port; /* -1: none */
    bool watching;
    struct netfront *nf;
    unsigned grants_before;
    void *vals[3]; /* open: the reads of backend-id, backend and mac */

    int state;              /* the backend's, as last read; -1 unknown */
    lwt_resolver_t *waiter; /* the wait in progress */
    int goal_lo, goal_hi;   /* its goal: a state in [lo, hi] */
    bool fail_on_close;     /* Closing or Closed fails it */
};

struct step {
    struct xen_netfront *x;
};

static void put(struct xen_netfront *x)
{
    if (--x->refs)
        return;
    free(x->back);
    free(x->back_state);
    free(x);
}

/* ---- The backend's state ------------------------------------------------------ */

static void check_goal(struct xen_netfront *x)
{
    if (!x->waiter || x->state < 0)
        return;
    lwt_resolver_t *r = x->waiter;
    if (x->state >= x->goal_lo && x->state <= x->goal_hi) {
        x->waiter = NULL;
        lwt_wakeup(r, NULL);
    } else if (x->fail_on_close && x->state >= XenbusStateClosing) {
        x->waiter = NULL;
        log_error(&vif_log, "%s: the backend closed (state %d) instead of connecting", x->name, x->state);
        lwt_wakeup_fail(r, -LWT_ECONNREFUSED);
    }
}

static lwt_t *got_state(void *v, void *ctx)
{
    struct xen_netfront *x = ((struct step *)ctx)->x;
    char *text = v;
    int st = 0;
    bool ok = text[0] != '\0';
    for (const char *p = text; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9' && st < 100;
        st = st * 10 + (*p - '0');
    }
    if (ok && st <= XenbusStateReconfigured) {
        x->state = st;
        check_goal(x);
    } else {
        log_warn(&vif_log, "%s: backend state '%.16s' is not a state: ignored", x->name, text);
    }
    free(text);
    put(x);
    return lwt_return(NULL);
}

static lwt_t *state_gone(int err, void *ctx)
{
    struct xen_netfront *x = ((struct step *)ctx)->x;
    /* The toolstack removes the backend's directory once it is done. */
    if (err == -LWT_ENOENT) {
        x->state = XenbusStateClosed;
        check_goal(x);
    } else if (err != -LWT_ECANCELED) {
        log_warn(&vif_log, "%s: reading the backend's state: %s", x->name, lwt_strerror(err));
    }
    put(x);
    return lwt_return(NULL);
}

static void read_state(struct xen_netfront *x)
{
    struct xenstore *xs = xen_store();
    if (!xs)
        return;
    x->refs++;
    struct step s = {x};
    lwt_async(lwt_try_bind(xenstore_read(xs, 0, x->back_state), got_state, state_gone, LWT_CTX(s)), NULL, LWT_NOCTX);
}

static void on_state_watch(const char *path, const char *token, void *ctx)
{
    (void)path, (void)token;
    read_state(ctx);
}

/* Fulfilled once the backend's state is in [lo, hi]; with fail_on_close,
 * rejected if it closes first. Bounded by ns. */
static lwt_t *wait_state(struct xen_netfront *x, int lo, int hi, bool fail_on_close, uint64_t ns)
{
    if (x->waiter)
        lwt_wakeup_fail(x->waiter, -LWT_ECANCELED); /* a timed-out wait: a no-op */
    lwt_t *p = lwt_task(&x->waiter);
    x->goal_lo = lo;
    x->goal_hi = hi;
    x->fail_on_close = fail_on_close;
    check_goal(x);
    /* A change may have come before the watch did: look again. */
    read_state(x);
    return sched_with_timeout(p, ns);
}

/* ---- Writing our side --------------------------------------------------------------- */

static lwt_t *write_key(struct xen_netfront *x, const char *key, const char *fmt, unsigned value)
{
    char path[64], text[16];
    snprintf(path, sizeof path, "%s/%s", x->front, key);
    snprintf(text, sizeof text, fmt, value);
    return xenstore_write(xen_store(), 0, path, text);
}

static lwt_t *switch_state(struct xen_netfront *x, int state)
{
    return write_key(x, "state", "%u", (unsigned)state);
}

/* ---- Closing ----------------------------------------------------------------------- */

static lwt_t *ignore_error(int err, void *ctx)
{
    struct step *s = ctx;
    if (err != -LWT_ETIMEDOUT)
        log_warn(&vif_log, "%s: while closing: %s", s->x->name, lwt_strerror(err));
    else
        log_warn(&vif_log, "%s: the backend did not follow within %llu s (state %d)", s->x->name,
                 (unsigned long long)(CLOSE_WAIT_NS / 1000000000ull), s->x->state);
    return lwt_return(NULL);
}

static lwt_t *close_end_grants(void *v, void *ctx);

static void log_unwatch(int err, void *ctx)
{
    (void)ctx;
    if (err != -LWT_ECANCELED) /* xenstore closed before it answered */
        log_warn(&vif_log, "removing the backend state watch: %s", lwt_strerror(err));
}

static lwt_t *close_retry(void *v, void *ctx)
{
    (void)v;
    return close_end_grants(NULL, ctx);
}

struct grant_step {
    struct xen_netfront *x;
    unsigned tries;
};

static lwt_t *close_end_grants(void *v, void *ctx)
{
    (void)v;
    struct grant_step *g = ctx;
    struct xen_netfront *x = g->x;
    int busy = x->nf ? netfront_end_grants(x->nf) : 0;
    if (busy > 0 && ++g->tries < GRANT_RETRIES)
        return lwt_bind(sched_sleep(GRANT_RETRY_NS), close_retry, ctx, sizeof *g);
    if (x->watching && xen_store()) {
        lwt_async(xenstore_unwatch(xen_store(), x->back_state, x->name), log_unwatch, LWT_NOCTX);
        x->watching = false;
    }
    if (x->port >= 0)
        xen_event_close((uint32_t)x->port);
    x->port = -1;
    netfront_free(x->nf);
    x->nf = NULL;
    if (x->waiter) {
        lwt_wakeup_fail(x->waiter, -LWT_ECANCELED);
        x->waiter = NULL;
    }
    log_info(&vif_log, "%s: disconnected; grants in use %u (%u before it opened)%s", x->name, xen_gnttab_in_use(),
             x->grants_before, busy > 0 ? "; some pages left to a backend that still maps them" : "");
    put(x);
    return lwt_return(NULL);
}

static lwt_t *close_wait_closed(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    lwt_t *p = lwt_catch(wait_state(x, XenbusStateClosed, XenbusStateClosed, false, CLOSE_WAIT_NS), ignore_error, ctx,
                         sizeof(struct step));
    struct grant_step g = {x, 0};
    return lwt_bind(p, close_end_grants, LWT_CTX(g));
}

static lwt_t *close_write_closed(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    lwt_t *p = lwt_catch(switch_state(x, XenbusStateClosed), ignore_error, ctx, sizeof(struct step));
    return lwt_bind(p, close_wait_closed, ctx, sizeof(struct step));
}

static lwt_t *close_wait_closing(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    lwt_t *p = lwt_catch(wait_state(x, XenbusStateClosing, XenbusStateClosed, false, CLOSE_WAIT_NS), ignore_error, ctx,
                         sizeof(struct step));
    return lwt_bind(p, close_write_closed, ctx, sizeof(struct step));
}

lwt_t *xen_netfront_close(struct xen_netfront *x)
{
    struct step s = {x};
    if (x->nf)
        netfront_stop(x->nf);
    if (!x->watching || !xen_store()) {
        /* Nothing was shared with the backend yet (or xenstore is gone). */
        struct grant_step g = {x, GRANT_RETRIES};
        return close_end_grants(NULL, &g);
    }
    lwt_t *p = lwt_catch(switch_state(x, XenbusStateClosing), ignore_error, LWT_CTX(s));
    return lwt_bind(p, close_wait_closing, LWT_CTX(s));
}

/* ---- Opening ---------------------------------------------------------------------- */

struct fail_step {
    struct xen_netfront *x;
    int err;
};

static lwt_t *fail_with(void *v, void *ctx)
{
    (void)v;
    return lwt_fail(((struct fail_step *)ctx)->err);
}

static lwt_t *open_failed(int err, void *ctx)
{
    struct xen_netfront *x = ((struct step *)ctx)->x;
    for (int i = 0; i < 3; i++) {
        free(x->vals[i]); /* the reads that succeeded when another failed */
        x->vals[i] = NULL;
    }
    if (err == -LWT_ETIMEDOUT)
        log_error(&vif_log, "%s: the backend did not connect within %llu s (its state: %d)", x->name,
                  (unsigned long long)(XEN_NETFRONT_WAIT_NS / 1000000000ull), x->state);
    else
        log_error(&vif_log, "%s: cannot connect: %s", x->name, lwt_strerror(err));
    struct fail_step f = {x, err};
    return lwt_bind(xen_netfront_close(x), fail_with, LWT_CTX(f));
}

static lwt_t *open_connected(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    netfront_start(x->nf);
    const uint8_t *m = x->mac;
    log_info(&vif_log,
             "%s: connected to backend domain %u, MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, event channel %d", x->name,
             x->backend_id, m[0], m[1], m[2], m[3], m[4], m[5], netfront_netif(x->nf)->mtu, x->port);
    return lwt_return(x);
}

static lwt_t *open_wait_connected(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    lwt_t *p = wait_state(x, XenbusStateConnected, XenbusStateConnected, true, XEN_NETFRONT_WAIT_NS);
    return lwt_bind(p, open_connected, ctx, sizeof(struct step));
}

static lwt_t *open_switch(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    return lwt_bind(switch_state(x, XenbusStateConnected), open_wait_connected, ctx, sizeof(struct step));
}

/* The backend is ready for us: our keys, then our state (netback reads the
 * keys when it sees Connected). */
static lwt_t *open_write_keys(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    uint32_t tx_ref, rx_ref;
    netfront_ring_refs(x->nf, &tx_ref, &rx_ref);
    lwt_t *ps[] = {
        write_key(x, "tx-ring-ref", "%u", tx_ref),
        write_key(x, "rx-ring-ref", "%u", rx_ref),
        write_key(x, "event-channel", "%u", (unsigned)x->port),
        write_key(x, "request-rx-copy", "%u", 1),
        write_key(x, "feature-rx-notify", "%u", 1),
        write_key(x, "feature-no-csum-offload", "%u", 1),
        write_key(x, "feature-sg", "%u", 0),
        write_key(x, "feature-gso-tcpv4", "%u", 0),
    };
    return lwt_bind(lwt_join(ps, sizeof ps / sizeof ps[0]), open_switch, ctx, sizeof(struct step));
}

static void on_event(uint32_t port, void *ctx)
{
    (void)port;
    struct xen_netfront *x = ctx;
    if (x->nf)
        netfront_on_event(x->nf);
}

static void notify_backend(void *ctx)
{
    struct xen_netfront *x = ctx;
    if (x->port >= 0)
        xen_event_notify((uint32_t)x->port);
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_mac(const char *t, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        int hi = hex(t[0]), lo = hi < 0 ? -1 : hex(t[1]);
        if (lo < 0 || t[2] != (i < 5 ? ':' : '\0'))
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
        t += 3;
    }
    return (mac[0] & 1) ? -1 : 0;
}

/* The vif's directory read: set up the rings and wait for the backend. */
static lwt_t *open_setup(void *v, void *ctx)
{
    (void)v;
    struct xen_netfront *x = ((struct step *)ctx)->x;
    char *id = x->vals[0], *back = x->vals[1], *mac = x->vals[2];
    x->vals[0] = x->vals[1] = x->vals[2] = NULL;
    unsigned long dom = 0;
    bool ok = id[0] != '\0';
    for (const char *p = id; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9';
        dom = dom * 10 + (unsigned long)(*p - '0');
        ok = ok && dom < DOMID_FIRST_RESERVED;
    }
    int rc = 0;
    if (!ok) {
        log_error(&vif_log, "%s: backend-id '%.16s' is not a domain", x->name, id);
        rc = -LWT_EPROTO;
    } else if (back[0] != '/' || strlen(back) > 200) {
        log_error(&vif_log, "%s: backend '%.64s' is not an absolute path", x->name, back);
        rc = -LWT_EPROTO;
    } else if (parse_mac(mac, x->mac) < 0) {
        log_error(&vif_log, "%s: mac '%.24s' is not a unicast MAC address", x->name, mac);
        rc = -LWT_EPROTO;
    }
    if (rc == 0) {
        size_t n = strlen(back);
        x->back = back;
        back = NULL;
        x->back_state = malloc(n + sizeof "/state");
        if (!x->back_state)
            rc = -LWT_ENOMEM;
        else
            snprintf(x->back_state, n + sizeof "/state", "%s/state", x->back);
    }
    free(id);
    free(back);
    free(mac);
    if (rc < 0)
        return lwt_fail(rc);

    x->backend_id = (uint16_t)dom;
    x->grants_before = xen_gnttab_in_use();
    struct netfront_env env = {
        .page_alloc = xen_page_alloc,
        .page_free = xen_page_free,
        .grant = xen_gnttab_grant,
        .end_grant = xen_gnttab_end,
        .notify = notify_backend,
        .notify_ctx = x,
    };
    rc = netfront_new(&env, x->backend_id, x->mac, x->mtu, x->name, &x->nf);
    if (rc < 0)
        return lwt_fail(rc);
    rc = xen_event_alloc_unbound(x->backend_id, on_event, x);
    if (rc < 0) {
        log_error(&vif_log, "%s: no event channel for domain %u: %s", x->name, x->backend_id, lwt_strerror(rc));
        return lwt_fail(rc);
    }
    x->port = rc;
    x->watching = true;
    lwt_t *watch = xenstore_watch(xen_store(), x->back_state, x->name, on_state_watch, x);
    lwt_t *ready = wait_state(x, XenbusStateInitWait, XenbusStateConnected, true, XEN_NETFRONT_WAIT_NS);
    struct step s = {x};
    lwt_t *ps[2] = {watch, ready};
    return lwt_bind(lwt_join(ps, 2), open_write_keys, LWT_CTX(s));
}

static lwt_t *read_key(struct xen_netfront *x, const char *key)
{
    char path[64];
    snprintf(path, sizeof path, "%s/%s", x->front, key);
    return xenstore_read(xen_store(), 0, path);
}

lwt_t *xen_netfront_open(const char *id, uint16_t mtu)
{
    struct xenstore *xs = xen_store();
    if (!xs)
        return lwt_fail(-LWT_ENODEV);
    if (strlen(id) > 8)
        return lwt_fail(-LWT_EINVAL);
    int rc = xen_gnttab_init();
    if (rc < 0) {
        log_error(&vif_log, "vif%s: no grant table: %s", id, lwt_strerror(rc));
        return lwt_fail(rc);
    }
    struct xen_netfront *x = malloc(sizeof *x);
    if (!x)
        return lwt_fail(-LWT_ENOMEM);
    memset(x, 0, sizeof *x);
    x->refs = 1;
    x->port = -1;
    x->state = -1;
    x->mtu = mtu;
    snprintf(x->name, sizeof x->name, "vif%s", id);
    snprintf(x->front, sizeof x->front, "device/vif/%s", id);

    struct step s = {x};
    lwt_t *ps[3] = {read_key(x, "backend-id"), read_key(x, "backend"), read_key(x, "mac")};
    lwt_t *p = lwt_bind(lwt_all(ps, 3, x->vals), open_setup, LWT_CTX(s));
    return lwt_catch(p, open_failed, LWT_CTX(s));
}

struct netif *xen_netfront_netif(struct xen_netfront *x)
{
    return netfront_netif(x->nf);
}

const char *xen_netfront_name(const struct xen_netfront *x)
{
    return x->name;
}

static int cmp_ids(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
}

static void *sort_dir(void *v, void *ctx)
{
    (void)ctx;
    struct xenstore_dir *d = v;
    /* Few entries: insertion sort, numeric by length then digits. */
    for (size_t i = 1; i < d->count; i++)
        for (size_t j = i; j > 0 && cmp_ids(d->names[j - 1], d->names[j]) > 0; j--) {
            char *t = d->names[j];
            d->names[j] = d->names[j - 1];
            d->names[j - 1] = t;
        }
    return d;
}

static lwt_t *no_vifs(int err, void *ctx)
{
    (void)ctx;
    if (err != -LWT_ENOENT)
        return lwt_fail(err);
    struct xenstore_dir *d = malloc(sizeof *d);
    if (!d)
        return lwt_fail(-LWT_ENOMEM);
    d->count = 0;
    return lwt_return(d);
}

lwt_t *xen_netfront_list(void)
{
    struct xenstore *xs = xen_store();
    if (!xs)
        return lwt_fail(-LWT_ENODEV);
    return lwt_catch(lwt_map(xenstore_directory(xs, 0, "device/vif"), sort_dir, LWT_NOCTX), no_vifs, LWT_NOCTX);
}
