/* See netfront.h.
 *
 * Index discipline: every RX request we post at ring index i carries id
 * i % ring size and its buffer is remembered in rx_slot[i % ring size], as
 * Linux's netfront does; the response written at index i is for that
 * buffer, whatever id it claims (an id that differs is a broken rule, and
 * the buffer is recycled). So a slot holding extra info (whose bytes
 * overlay the id) recycles the buffer of its index too. Requests in flight
 * are req_prod_pvt - rsp_cons, never more than the ring: a backend that
 * claims more responses than that is broken, and the ring is left alone.
 *
 * Shared memory is read once per field (volatile reads into locals), so
 * what is checked is what is used.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwt.h"
#include "netfront.h"
#include "netif_waiters.h"

/* ring.h's barriers: the other side is another domain on this machine. */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/netif.h>

#define TX_RING_SIZE __CONST_RING_SIZE(netif_tx, NETFRONT_PAGE)
#define RX_RING_SIZE __CONST_RING_SIZE(netif_rx, NETFRONT_PAGE)
_Static_assert(NETFRONT_TX_BUFS <= TX_RING_SIZE, "a free TX page implies a free TX slot");
_Static_assert(NETFRONT_RX_POST <= RX_RING_SIZE, "posted pages fit the RX ring");
_Static_assert(NETFRONT_RX_BUFS_MAX >= NETFRONT_RX_POST, "enough RX pages to fill the ring");
_Static_assert(NETFRONT_TX_BUFS <= 0x8000, "TX ids fit the free list's int16");

#define MTU_MAX 1500u /* without feature-sg, netback keeps the vif at 1500 */

#define CONTAINER_OF(ptr, type, field) ((type *)(void *)((char *)(ptr)-offsetof(type, field)))

static struct log_source nf_log = LOG_SOURCE("netfront");

/* The C subset has no calloc. */
static void *zalloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        memset(p, 0, n);
    return p;
}

struct rx_pool;

struct rx_buf {
    struct net_buf nb; /* over page, while a receiver holds it */
    struct rx_pool *pool;
    struct rx_buf *next; /* in the pool's free list */
    void *page;
    uint32_t gref;
    bool granted; /* posted: the backend may write the page */
};

/* Outlives the netfront while receivers hold pages. */
struct rx_pool {
    struct netfront_env env;
    struct netfront *nf; /* NULL once the netfront is freed */
    struct rx_buf *free;
    unsigned total; /* buffers that exist (free, posted, held) */
    unsigned held;  /* handed up, not back yet */
};

struct tx_buf {
    struct net_buf nb; /* lent to the fill, never released */
    void *page;
    uint32_t gref;
    int16_t next; /* free list; -1 ends it */
    bool granted;
    bool inflight; /* a request for it is on the ring */
};

/* The queued turn that takes responses, in its promise's storage; the event
 * only schedules it. */
struct kick {
    struct lwt_hook hook;
    struct netfront *nf; /* NULL once the netfront has stopped */
};

struct netfront {
    struct netif netif;
    struct netfront_env env;
    uint16_t backend;
    size_t frame_max;
    char name[16];

    void *tx_page, *rx_page; /* the shared rings */
    uint32_t tx_ref, rx_ref;
    bool tx_ring_granted, rx_ring_granted;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;

    struct tx_buf txb[NETFRONT_TX_BUFS];
    int tx_free;                  /* head of the free ids, -1: none */
    struct netif_waiters waiters; /* wait_writable promises still pending */

    struct rx_buf *rx_slot[RX_RING_SIZE];
    struct rx_pool *pool;
    bool skip_extra, skip_more; /* the rest of a frame we dropped */
    netif_rx_fn rx_fn;
    void *rx_ctx;

    struct kick *kick;
    lwt_t *kick_p; /* owned: keeps kick's storage alive */

    bool started, stopped, broken, filling;
    struct netfront_stats xstats;
};

/* Logs the first few of a kind, then every power of two. */
static bool worth_logging(uint64_t count)
{
    return count <= 8 || (count & (count - 1)) == 0;
}

/* ---- The RX pool ------------------------------------------------------------ */

static void rx_buf_free(struct rx_pool *pool, struct rx_buf *b)
{
    pool->env.page_free(b->page);
    free(b);
    pool->total--;
}

static void schedule(struct netfront *nf);

static void rx_buf_destroy(struct net_buf *nb)
{
    struct rx_buf *b = CONTAINER_OF(nb, struct rx_buf, nb);
    struct rx_pool *pool = b->pool;
    struct netfront *nf = pool->nf;
    pool->held--;
    if (!nf) {
        rx_buf_free(pool, b);
        if (pool->held == 0)
            free(pool);
        return;
    }
    b->next = pool->free;
    pool->free = b;
    /* Refill from the loop, not from inside whoever released it. */
    if (nf->started && !nf->stopped && nf->rx.req_prod_pvt - nf->rx.rsp_cons < NETFRONT_RX_POST)
        schedule(nf);
}

static struct rx_buf *rx_buf_get(struct rx_pool *pool)
{
    struct rx_buf *b = pool->free;
    if (b) {
        pool->free = b->next;
        return b;
    }
    if (pool->total >= NETFRONT_RX_BUFS_MAX)
        return NULL;
    b = zalloc(sizeof *b);
    void *page = b ? pool->env.page_alloc() : NULL;
    if (!page) {
        free(b);
        return NULL;
    }
    b->pool = pool;
    b->page = page;
    pool->total++;
    return b;
}

/* ---- Breaking ----------------------------------------------------------------- */

static void break_ring(struct netfront *nf, const char *ring, RING_IDX prod, RING_IDX cons, RING_IDX req)
{
    if (!nf->broken)
        log_error(&nf_log,
                  "%s: the backend broke the %s ring (responses up to %u, consumed %u, requested %u): "
                  "no more traffic on this interface",
                  nf->name, ring, prod, cons, req);
    nf->broken = true;
    netif_waiters_wake_all(&nf->waiters, -LWT_EIO);
}

/* ---- Receiving ------------------------------------------------------------- */

/* Grants the page and posts it at the next free index; false if it cannot. */
static bool post(struct netfront *nf, struct rx_buf *b)
{
    int ref = nf->env.grant(nf->backend, b->page, false);
    if (ref < 0) {
        if (worth_logging(++nf->xstats.rx_no_buf))
            log_warn(&nf_log, "%s: cannot grant an RX page: %s", nf->name, lwt_strerror(ref));
        return false;
    }
    b->gref = (uint32_t)ref;
    b->granted = true;
    RING_IDX i = nf->rx.req_prod_pvt;
    netif_rx_request_t *req = RING_GET_REQUEST(&nf->rx, i);
    req->id = (uint16_t)(i % RX_RING_SIZE);
    req->gref = b->gref;
    nf->rx_slot[i % RX_RING_SIZE] = b;
    nf->rx.req_prod_pvt = i + 1;
    return true;
}

static void rx_refill(struct netfront *nf)
{
    if (!nf->started || nf->stopped || nf->broken)
        return;
    bool pushed = false;
    while (nf->rx.req_prod_pvt - nf->rx.rsp_cons < NETFRONT_RX_POST) {
        struct rx_buf *b = rx_buf_get(nf->pool);
        if (!b) {
            nf->xstats.rx_no_buf++;
            break;
        }
        if (!post(nf, b)) {
            b->next = nf->pool->free;
            nf->pool->free = b;
            break;
        }
        pushed = true;
    }
    if (pushed) {
        int notify;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
        if (notify)
            nf->env.notify(nf->env.notify_ctx);
    }
}

static void recycle(struct netfront *nf, struct rx_buf *b)
{
    b->next = nf->pool->free;
    nf->pool->free = b;
}

static void rx_bad(struct netfront *nf, struct rx_buf *b, RING_IDX i, const char *why, unsigned id, unsigned off,
                   int status, unsigned flags)
{
    nf->netif.stats.rx_dropped++;
    if (worth_logging(++nf->xstats.rx_bad))
        log_warn(&nf_log, "%s: RX response %u dropped: %s (id %u, offset %u, status %d, flags %#x)", nf->name, i, why,
                 id, off, status, flags);
    recycle(nf, b);
}

/* One response, at ring index i, for buffer b (its grant ended). */
static void rx_one(struct netfront *nf, struct rx_buf *b, RING_IDX i, const volatile void *slot)
{
    const volatile netif_rx_response_t *rsp = slot;
    if (nf->skip_extra) {
        /* An extra-info slot: its own flags say whether another follows. */
        const volatile struct netif_extra_info *x = slot;
        nf->skip_extra = (x->flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
        recycle(nf, b);
        return;
    }
    uint16_t id = rsp->id, off = rsp->offset, flags = rsp->flags;
    int16_t status = rsp->status;
    if (nf->skip_more) {
        /* The rest of a multi-slot frame, already counted. */
        nf->skip_more = (flags & NETRXF_more_data) != 0;
        nf->skip_extra = (flags & NETRXF_extra_info) != 0;
        recycle(nf, b);
        return;
    }
    if (flags & (NETRXF_more_data | NETRXF_extra_info)) {
        nf->skip_more = (flags & NETRXF_more_data) != 0;
        nf->skip_extra = (flags & NETRXF_extra_info) != 0;
        rx_bad(nf, b, i, "a multi-slot frame (never negotiated)", id, off, status, flags);
        return;
    }
    if (id != i % RX_RING_SIZE) {
        rx_bad(nf, b, i, "not the id posted at this index", id, off, status, flags);
        return;
    }
    if (status < 0) {
        /* The backend's own error: not a broken rule. */
        nf->xstats.rx_errors++;
        nf->netif.stats.rx_dropped++;
        recycle(nf, b);
        return;
    }
    if (status == 0 || off >= NETFRONT_PAGE || (unsigned)status > NETFRONT_PAGE - off) {
        rx_bad(nf, b, i, "offset or size outside the page", id, off, status, flags);
        return;
    }
    if (flags & NETRXF_csum_blank) {
        rx_bad(nf, b, i, "a partial checksum (never negotiated)", id, off, status, flags);
        return;
    }
    if ((size_t)status < NETIF_ETH_HDR || (size_t)status > nf->frame_max || !nf->rx_fn) {
        nf->netif.stats.rx_dropped++;
        recycle(nf, b);
        return;
    }
    net_buf_init(&b->nb, b->page, NETFRONT_PAGE, rx_buf_destroy, nf->pool);
    nf->pool->held++;
    nf->netif.stats.rx_frames++;
    nf->netif.stats.rx_bytes += (uint64_t)status;
    nf->rx_fn(nf->rx_ctx, (struct net_slice){&b->nb, off, (uint32_t)status});
}

/* Takes up to a batch of responses; true if more are waiting. */
static bool rx_responses(struct netfront *nf)
{
    unsigned budget = NETFRONT_RX_BATCH;
    for (;;) {
        RING_IDX prod = __atomic_load_n(&nf->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (prod - nf->rx.rsp_cons > nf->rx.req_prod_pvt - nf->rx.rsp_cons) {
            break_ring(nf, "RX", prod, nf->rx.rsp_cons, nf->rx.req_prod_pvt);
            return false;
        }
        while (nf->rx.rsp_cons != prod) {
            if (budget-- == 0)
                return true;
            RING_IDX i = nf->rx.rsp_cons++;
            struct rx_buf *b = nf->rx_slot[i % RX_RING_SIZE];
            nf->rx_slot[i % RX_RING_SIZE] = NULL;
            int rc = nf->env.end_grant(b->gref);
            if (rc < 0) {
                /* Still mapped: the page is no longer ours to reuse. */
                nf->xstats.rx_bad++;
                nf->netif.stats.rx_dropped++;
                log_error(&nf_log, "%s: RX page %u still in the backend's hands (%s): leaving it", nf->name, b->gref,
                          lwt_strerror(rc));
                nf->pool->total--;
                free(b);
                continue;
            }
            b->granted = false;
            rx_one(nf, b, i, RING_GET_RESPONSE(&nf->rx, i));
            /* The listener may have stopped us. */
            if (nf->stopped || nf->broken)
                return false;
        }
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
        if (!more)
            return false;
    }
}

/* ---- Sending --------------------------------------------------------------- */

static void tx_done(struct netfront *nf, const volatile netif_tx_response_t *rsp)
{
    uint16_t id = rsp->id;
    int16_t status = rsp->status;
    if (id >= NETFRONT_TX_BUFS || !nf->txb[id].inflight) {
        if (worth_logging(++nf->xstats.tx_bad))
            log_warn(&nf_log, "%s: TX response for id %u, which is not in flight: ignored", nf->name, id);
        return;
    }
    struct tx_buf *b = &nf->txb[id];
    b->inflight = false;
    b->next = (int16_t)nf->tx_free;
    nf->tx_free = id;
    if (status == NETIF_RSP_DROPPED) {
        nf->netif.stats.tx_dropped++;
    } else if (status == NETIF_RSP_ERROR) {
        nf->netif.stats.tx_errors++;
    } else if (status != NETIF_RSP_OKAY) {
        nf->netif.stats.tx_errors++;
        if (worth_logging(++nf->xstats.tx_bad))
            log_warn(&nf_log, "%s: TX response with status %d for id %u", nf->name, status, id);
    }
}

static void tx_responses(struct netfront *nf)
{
    for (;;) {
        RING_IDX prod = __atomic_load_n(&nf->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (prod - nf->tx.rsp_cons > nf->tx.req_prod_pvt - nf->tx.rsp_cons) {
            break_ring(nf, "TX", prod, nf->tx.rsp_cons, nf->tx.req_prod_pvt);
            return;
        }
        for (RING_IDX i = nf->tx.rsp_cons; i != prod; i++)
            tx_done(nf, RING_GET_RESPONSE(&nf->tx, i));
        nf->tx.rsp_cons = prod;
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, more);
        if (!more)
            break;
    }
    if (nf->tx_free >= 0 && !netif_waiters_empty(&nf->waiters))
        netif_waiters_wake_all(&nf->waiters, 0);
}

static int nf_send(struct netfront *nf, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill, void *ctx)
{
    if (nf->broken)
        return -LWT_EIO;
    if (!nf->started || nf->stopped)
        return -LWT_ENETDOWN;
    if (off && (off->gso_size || (off->csum_partial && !nf->netif.tx_csum)))
        return -LWT_EINVAL;
    if (size > nf->frame_max)
        return -LWT_EMSGSIZE;
    size_t tail = off ? netif_tail_len(off) : 0;
    if (tail > size)
        return -LWT_EINVAL;
    if (nf->filling)
        return -LWT_EBUSY;
    if (nf->tx_free < 0 || RING_FULL(&nf->tx))
        return -LWT_EAGAIN;
    int id = nf->tx_free;
    struct tx_buf *b = &nf->txb[id];
    struct net_slice frame = {&b->nb, 0, (uint32_t)(size - tail)};
    nf->filling = true;
    int len = fill(&frame, ctx);
    nf->filling = false;
    if (nf->stopped || nf->broken)
        return -LWT_ENETDOWN;
    if (len < 0 || (size_t)len > size - tail || (size_t)len + tail < NETIF_ETH_HDR ||
        (tail && (size_t)len != size - tail)) {
        nf->netif.stats.tx_dropped++;
        return len < 0 ? len : -LWT_EINVAL;
    }
    size_t total = (size_t)len;
    /* The tail is only lent for the call: it joins the frame in the page. */
    for (int k = 0; tail && k < 2; k++) {
        memcpy((uint8_t *)b->page + total, off->tail[k], off->tail_len[k]);
        total += off->tail_len[k];
    }
    uint16_t flags = 0;
    if (off && off->csum_partial) {
        if ((size_t)off->csum_start + off->csum_offset + 2 > total) {
            nf->netif.stats.tx_dropped++;
            return -LWT_EINVAL;
        }
        /* netback finds the TCP header itself and completes the sum. */
        flags = NETTXF_csum_blank | NETTXF_data_validated;
    }
    nf->tx_free = b->next;
    b->inflight = true;
    RING_IDX i = nf->tx.req_prod_pvt;
    netif_tx_request_t *req = RING_GET_REQUEST(&nf->tx, i);
    req->gref = b->gref;
    req->offset = 0;
    req->flags = flags;
    req->id = (uint16_t)id;
    req->size = (uint16_t)total;
    nf->tx.req_prod_pvt = i + 1;
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
    if (notify)
        nf->env.notify(nf->env.notify_ctx);
    nf->netif.stats.tx_frames++;
    nf->netif.stats.tx_bytes += total;
    return 0;
}

static int nf_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    return nf_send(CONTAINER_OF(n, struct netfront, netif), size, NULL, fill, ctx);
}

static int nf_write_offload(struct netif *n, size_t size, const struct netif_tx_offload *off, netif_fill_fn fill,
                            void *ctx)
{
    return nf_send(CONTAINER_OF(n, struct netfront, netif), size, off, fill, ctx);
}

static lwt_t *nf_wait_writable(struct netif *n)
{
    struct netfront *nf = CONTAINER_OF(n, struct netfront, netif);
    if (nf->broken)
        return lwt_fail(-LWT_EIO);
    if (nf->stopped)
        return lwt_fail(-LWT_ECANCELED);
    if (nf->started && nf->tx_free >= 0)
        return lwt_return(NULL);
    return netif_waiters_wait(&nf->waiters);
}

static void nf_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    struct netfront *nf = CONTAINER_OF(n, struct netfront, netif);
    if (nf->stopped)
        return;
    nf->rx_fn = rx;
    nf->rx_ctx = ctx;
}

static const struct netif_ops netfront_ops = {
    .write = nf_write,
    .write_offload = nf_write_offload,
    .wait_writable = nf_wait_writable,
    .listen = nf_listen,
};

/* ---- The turn of the loop ------------------------------------------------------ */

static void service(struct netfront *nf)
{
    if (!nf->started || nf->stopped || nf->broken)
        return;
    tx_responses(nf);
    bool more = !nf->broken && rx_responses(nf);
    rx_refill(nf);
    if (more)
        schedule(nf);
}

static void on_kick(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct kick *k = CONTAINER_OF(hook, struct kick, hook);
    struct netfront *nf = k->nf;
    if (!nf)
        return;
    lwt_t *p = nf->kick_p;
    nf->kick = NULL;
    nf->kick_p = NULL;
    service(nf);
    /* The deferred queue holds its own reference while this runs. */
    lwt_unref(p);
}

static void schedule(struct netfront *nf)
{
    if (nf->kick || nf->stopped)
        return;
    lwt_resolver_t *r;
    struct kick *k;
    lwt_t *p = lwt_task_with(&r, sizeof *k, (void **)&k);
    k->nf = nf;
    nf->kick = k;
    nf->kick_p = p;
    lwt_hook_attach(p, &k->hook, on_kick);
    lwt_wakeup_later(r, NULL);
}

void netfront_on_event(struct netfront *nf)
{
    schedule(nf);
}

/* ---- Life cycle ------------------------------------------------------------------- */

/* The fill only borrows a TX page's buffer: its count never reaches zero. */
static void tx_nb_unused(struct net_buf *nb)
{
    (void)nb;
}

static int grant_ring(struct netfront *nf, void **page, uint32_t *ref, bool *granted)
{
    *page = nf->env.page_alloc();
    if (!*page)
        return -LWT_ENOMEM;
    int rc = nf->env.grant(nf->backend, *page, false);
    if (rc < 0)
        return rc;
    *ref = (uint32_t)rc;
    *granted = true;
    return 0;
}

int netfront_new(const struct netfront_env *env, uint16_t backend, const uint8_t mac[6], uint16_t mtu, const char *name,
                 struct netfront **out)
{
    *out = NULL;
    if (mtu == 0)
        mtu = MTU_MAX;
    if (mtu < 68 || mtu > MTU_MAX) {
        log_error(&nf_log, "%s: MTU %u: netfront takes 68..%u (no scatter-gather)", name, mtu, MTU_MAX);
        return -LWT_EINVAL;
    }
    struct netfront *nf = zalloc(sizeof *nf);
    struct rx_pool *pool = zalloc(sizeof *pool);
    if (!nf || !pool) {
        free(nf);
        free(pool);
        return -LWT_ENOMEM;
    }
    nf->env = *env;
    pool->env = *env;
    pool->nf = nf;
    nf->pool = pool;
    nf->backend = backend;
    nf->frame_max = (size_t)mtu + NETIF_ETH_HDR;
    size_t nl = strlen(name);
    if (nl >= sizeof nf->name)
        nl = sizeof nf->name - 1;
    memcpy(nf->name, name, nl);
    nf->tx_free = -1;
    for (int i = 0; i < NETFRONT_TX_BUFS; i++)
        nf->txb[i].next = -1;

    int rc = grant_ring(nf, &nf->tx_page, &nf->tx_ref, &nf->tx_ring_granted);
    if (rc == 0)
        rc = grant_ring(nf, &nf->rx_page, &nf->rx_ref, &nf->rx_ring_granted);
    if (rc < 0)
        goto fail;
    netif_tx_sring_t *txs = nf->tx_page;
    netif_rx_sring_t *rxs = nf->rx_page;
    SHARED_RING_INIT(txs);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&nf->tx, txs, NETFRONT_PAGE);
    FRONT_RING_INIT(&nf->rx, rxs, NETFRONT_PAGE);
    for (int i = NETFRONT_TX_BUFS - 1; i >= 0; i--) {
        struct tx_buf *b = &nf->txb[i];
        if (!(b->page = env->page_alloc())) {
            rc = -LWT_ENOMEM;
            goto fail;
        }
        rc = env->grant(backend, b->page, true);
        if (rc < 0)
            goto fail;
        b->gref = (uint32_t)rc;
        b->granted = true;
        net_buf_init(&b->nb, b->page, NETFRONT_PAGE, tx_nb_unused, nf);
        b->next = (int16_t)nf->tx_free;
        nf->tx_free = i;
    }
    nf->netif.ops = &netfront_ops;
    memcpy(nf->netif.mac, mac, 6);
    nf->netif.mtu = mtu;
    nf->netif.tx_csum = true;
    nf->netif.name = nf->name;
    *out = nf;
    return 0;
fail:
    log_error(&nf_log, "%s: cannot set up the rings: %s", name, lwt_strerror(rc));
    netfront_stop(nf);
    netfront_end_grants(nf); /* nothing was shared yet: they all end */
    netfront_free(nf);
    return rc;
}

void netfront_ring_refs(const struct netfront *nf, uint32_t *tx_ref, uint32_t *rx_ref)
{
    *tx_ref = nf->tx_ref;
    *rx_ref = nf->rx_ref;
}

void *netfront_tx_sring(const struct netfront *nf)
{
    return nf->tx_page;
}

void *netfront_rx_sring(const struct netfront *nf)
{
    return nf->rx_page;
}

void netfront_start(struct netfront *nf)
{
    if (nf->started || nf->stopped)
        return;
    nf->started = true;
    rx_refill(nf);
    netif_waiters_wake_all(&nf->waiters, 0);
    /* Anything the backend sent before we looked. */
    schedule(nf);
}

void netfront_stop(struct netfront *nf)
{
    if (nf->stopped)
        return;
    nf->stopped = true;
    nf->rx_fn = NULL;
    if (nf->kick) {
        nf->kick->nf = NULL;
        lwt_unref(nf->kick_p);
        nf->kick = NULL;
        nf->kick_p = NULL;
    }
    netif_waiters_wake_all(&nf->waiters, -LWT_ECANCELED);
}

static int end_one(struct netfront *nf, uint32_t ref, bool *granted)
{
    if (!*granted)
        return 0;
    int rc = nf->env.end_grant(ref);
    if (rc == 0) {
        *granted = false;
        return 0;
    }
    return 1;
}

int netfront_end_grants(struct netfront *nf)
{
    int busy = 0;
    for (int i = 0; i < NETFRONT_TX_BUFS; i++)
        busy += end_one(nf, nf->txb[i].gref, &nf->txb[i].granted);
    for (unsigned i = 0; i < RX_RING_SIZE; i++) {
        struct rx_buf *b = nf->rx_slot[i];
        if (!b)
            continue;
        if (end_one(nf, b->gref, &b->granted)) {
            busy++;
            continue;
        }
        nf->rx_slot[i] = NULL;
        recycle(nf, b);
    }
    busy += end_one(nf, nf->tx_ref, &nf->tx_ring_granted);
    busy += end_one(nf, nf->rx_ref, &nf->rx_ring_granted);
    return busy;
}

void netfront_free(struct netfront *nf)
{
    if (!nf)
        return;
    netfront_stop(nf);
    unsigned leaked = 0;
    for (int i = 0; i < NETFRONT_TX_BUFS; i++) {
        struct tx_buf *b = &nf->txb[i];
        if (b->granted)
            leaked++;
        else if (b->page)
            nf->env.page_free(b->page);
    }
    struct rx_pool *pool = nf->pool;
    for (unsigned i = 0; i < RX_RING_SIZE; i++) {
        struct rx_buf *b = nf->rx_slot[i];
        if (b) {
            leaked++; /* still granted: the page stays the backend's */
            pool->total--;
            free(b);
        }
    }
    if (nf->tx_page && !nf->tx_ring_granted)
        nf->env.page_free(nf->tx_page);
    else if (nf->tx_page)
        leaked++;
    if (nf->rx_page && !nf->rx_ring_granted)
        nf->env.page_free(nf->rx_page);
    else if (nf->rx_page)
        leaked++;
    if (leaked)
        log_error(&nf_log, "%s: %u pages left to the backend, which still maps them", nf->name, leaked);
    while (pool->free) {
        struct rx_buf *b = pool->free;
        pool->free = b->next;
        rx_buf_free(pool, b);
    }
    pool->nf = NULL;
    if (pool->held == 0)
        free(pool);
    free(nf);
}

struct netif *netfront_netif(struct netfront *nf)
{
    return &nf->netif;
}

const struct netfront_stats *netfront_stats(const struct netfront *nf)
{
    return &nf->xstats;
}

bool netfront_broken(const struct netfront *nf)
{
    return nf->broken;
}
