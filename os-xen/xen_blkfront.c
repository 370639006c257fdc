/* blkfront (xen_blkfront.h).
 *
 * Requests. A block_read/write/flush is one struct blk_io, waiting in a
 * FIFO until ring slots are free; each slot carries one ring request (up
 * to 11 pages of the io) with its own pages, kept from one use to the
 * next, granted for the request and the grant ended when its response is
 * in. A read's bytes are copied out to the caller's buffer as each
 * response comes, while the io's promise still waits for them. The io is
 * freed when its promise has settled (its hook ran) and none of its
 * requests is in flight: a cancelled io's requests finish on the ring and
 * only then let go of it. The id of a request is its slot and the slot's
 * use count, so that a response is matched to exactly one request.
 *
 * The backend's state is followed with a watch on its "state" node; one
 * read of it at a time, again if the node changed meanwhile. The
 * handshake's steps wait for a range of states through one waiter.
 *
 * Teardown (after close, or after a failed open) is one chain: tell the
 * backend Closing then Closed and wait for it (the backend unmaps the ring
 * on Closed), unwatch, wait for a state read in flight, then end the
 * grants and free. A grant the backend still holds is left granted and
 * its page unused (and said in the log), never freed under it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef xen_mb
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST) /* ring.h wants all three */
#endif
#include "xen_arch.h"

#include <xen/grant_table.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#include "log.h"
#include "lwt.h"
#include "scheduler.h"
#include "xen_blkfront.h"
#include "xen_events.h"
#include "xen_gnttab.h"
#include "xen_mm.h"
#include "xen_store.h"
#include "xenstore.h"

#define SEGS       BLKIF_MAX_SEGMENTS_PER_REQUEST
#define RING_SLOTS __CONST_RING_SIZE(blkif, XEN_PAGE_SIZE)
#define CHUNK      (SEGS * XEN_PAGE_SIZE)
#define TIMEOUT_NS ((uint64_t)XEN_BLKFRONT_TIMEOUT_S * SCHED_NS_PER_S)
#define MAX_OPEN   8
#define PATH_MAX_  128

static struct log_source blk_log = LOG_SOURCE("blkfront");

enum flush_kind { FLUSH_NONE, FLUSH_CACHE, FLUSH_BARRIER };

struct blk_io;

struct blk_slot {
    struct blk_io *io; /* NULL: free */
    uint32_t gen;      /* uses, for the request id */
    uint8_t op, nseg;
    size_t off, bytes; /* the part of the io it carries */
    void *pages[SEGS];
    xen_grant_ref gref[SEGS];
};

struct blk_io {
    struct lwt_hook hook; /* first: the hook is the io */
    struct blkfront *bf;
    lwt_resolver_t *resolver; /* until we settle it, or dropped after a cancel */
    bool promise_done;        /* the hook has run */
    bool queued;
    uint8_t op;
    uint8_t *buf;    /* the caller's; NULL once the promise has settled */
    uint64_t sector; /* 512-byte units: where the part not issued yet starts */
    size_t len, issued;
    unsigned in_flight;
    int err;
    struct blk_io *next;
};

/* Backend properties read once Connected. */
enum { P_SECTORS, P_SECTOR_SIZE, P_INFO, P_MODE, P_FLUSH, P_BARRIER, P_COUNT };
static const char *const prop_names[P_COUNT] = {"sectors", "sector-size",         "info",
                                                "mode",    "feature-flush-cache", "feature-barrier"};

struct blkfront {
    struct block b; /* first: a struct block * is a struct blkfront * */
    char name[16];
    uint32_t devid;
    uint16_t backend_id;
    char fe_path[32]; /* device/vbd/<devid> */
    char *be_path;    /* the backend's directory, from xenstore */
    char token[32];

    /* The backend's state, as last read. */
    int backend_state;
    bool watching, state_reading, state_dirty;
    lwt_resolver_t *read_done; /* teardown waits for the read in flight */
    lwt_resolver_t *waiter;    /* the handshake's current wait */
    int want_min, want_max;
    bool closing_fails;

    /* The ring. */
    blkif_sring_t *sring;
    blkif_front_ring_t ring;
    int ring_gref;  /* -1: none */
    int port;       /* -1: none */
    bool published; /* the frontend said Initialised */
    struct blk_slot slots[RING_SLOTS];
    unsigned busy;
    struct blk_io *q_head, **q_tail;
    enum flush_kind flush;
    bool connected, closing, broken;
    lwt_resolver_t *idle; /* close waits for busy == 0 */

    char *props[P_COUNT];
    unsigned leaked; /* grants the backend would not give back */
};

static struct blkfront *open_disks[MAX_OPEN];

static const struct block_ops blkfront_ops;

/* ---- Requests ------------------------------------------------------------ */

/* Whether the io's promise still waits for it. A cancel settles the
 * promise at once, but its hook (io_settled) may run later, from the
 * scheduler's queue: until then, this is how the io knows. */
static bool io_waiting(const struct blk_io *io)
{
    return io->resolver && lwt_state(lwt_resolver_promise(io->resolver)) == LWT_PENDING;
}

static void dequeue(struct blk_io *io)
{
    if (!io->queued)
        return;
    struct blkfront *bf = io->bf;
    struct blk_io **pp = &bf->q_head;
    while (*pp != io)
        pp = &(*pp)->next;
    *pp = io->next;
    if (bf->q_tail == &io->next)
        bf->q_tail = pp;
    io->next = NULL;
    io->queued = false;
}

static void io_free_if_done(struct blk_io *io)
{
    if (io->promise_done && io->in_flight == 0 && !io->queued)
        free(io);
}

static void io_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct blk_io *io = (struct blk_io *)hook;
    io->promise_done = true;
    if (io->resolver) {
        /* Cancelled: the rest is never issued, what is in flight lets go
         * of the io when it comes back. */
        lwt_resolver_t *r = io->resolver;
        io->resolver = NULL;
        io->buf = NULL;
        dequeue(io);
        lwt_resolver_drop(r);
    }
    io_free_if_done(io);
}

/* Settles the io (its requests are all back). */
static void io_finish(struct blk_io *io)
{
    struct blkfront *bf = io->bf;
    struct block_stats *s = &bf->b.stats;
    if (!io->resolver) {
        io_free_if_done(io);
        return;
    }
    if (!io_waiting(io))
        return; /* cancelled: its hook, still to run, lets go of it */
    lwt_resolver_t *r = io->resolver;
    io->resolver = NULL;
    io->buf = NULL;
    if (io->err) {
        if (io->err != -LWT_ESHUTDOWN)
            s->errors++;
        lwt_wakeup_fail_later(r, io->err);
        return;
    }
    if (io->op == BLKIF_OP_READ) {
        s->reads++;
        s->read_bytes += io->len;
    } else if (io->op == BLKIF_OP_WRITE) {
        s->writes++;
        s->written_bytes += io->len;
    } else {
        s->flushes++;
    }
    lwt_wakeup_later(r, NULL);
}

/* Ends the grants of a slot whose request is back (or abandoned). */
static void slot_end_grants(struct blkfront *bf, struct blk_slot *s)
{
    for (unsigned i = 0; i < s->nseg; i++) {
        if (xen_gnttab_end(s->gref[i]) == 0)
            continue;
        /* Still mapped by the backend: the page stays with it. */
        log_error(&blk_log, "%s: the backend still maps grant %u; its page is given up", bf->name,
                  (unsigned)s->gref[i]);
        s->pages[i] = NULL;
        bf->leaked++;
    }
    s->nseg = 0;
}

/* Puts the next part of io on the ring in slot s: 0, or an error (the
 * slot is then left free). */
static int issue(struct blkfront *bf, unsigned idx, struct blk_io *io)
{
    struct blk_slot *s = &bf->slots[idx];
    size_t n = io->len - io->issued;
    if (n > CHUNK)
        n = CHUNK;
    unsigned nseg = (unsigned)((n + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE);
    bool write = io->op == BLKIF_OP_WRITE;
    s->nseg = 0;
    for (unsigned i = 0; i < nseg; i++) {
        if (!s->pages[i] && !(s->pages[i] = xen_page_alloc())) {
            slot_end_grants(bf, s);
            return -LWT_ENOMEM;
        }
        size_t at = (size_t)i * XEN_PAGE_SIZE, seg = n - at < XEN_PAGE_SIZE ? n - at : XEN_PAGE_SIZE;
        if (write)
            memcpy(s->pages[i], io->buf + io->issued + at, seg);
        /* The backend writes what it reads into our page, and only reads
         * what we write. */
        int g = xen_gnttab_grant(bf->backend_id, s->pages[i], write);
        if (g < 0) {
            slot_end_grants(bf, s);
            return g;
        }
        s->gref[i] = (xen_grant_ref)g;
        s->nseg = (uint8_t)(i + 1);
    }
    s->gen++;
    blkif_request_t *req = RING_GET_REQUEST(&bf->ring, bf->ring.req_prod_pvt);
    req->operation = io->op;
    req->nr_segments = (uint8_t)nseg;
    req->handle = (blkif_vdev_t)bf->devid;
    req->id = idx | (uint64_t)s->gen << 8;
    req->sector_number = io->sector;
    for (unsigned i = 0; i < nseg; i++) {
        size_t at = (size_t)i * XEN_PAGE_SIZE, seg = n - at < XEN_PAGE_SIZE ? n - at : XEN_PAGE_SIZE;
        req->seg[i].gref = s->gref[i];
        req->seg[i].first_sect = 0;
        req->seg[i].last_sect = (uint8_t)(seg / 512 - 1);
    }
    bf->ring.req_prod_pvt++;
    s->io = io;
    s->op = io->op;
    s->off = io->issued;
    s->bytes = n;
    io->issued += n;
    io->sector += n / 512;
    io->in_flight++;
    bf->busy++;
    return 0;
}

/* Issues what waits, as far as slots allow, and tells the backend. */
static void pump(struct blkfront *bf)
{
    bool pushed = false;
    unsigned idx = 0;
    while (bf->q_head && !bf->broken) {
        while (idx < RING_SLOTS && bf->slots[idx].io)
            idx++;
        if (idx == RING_SLOTS)
            break;
        struct blk_io *io = bf->q_head;
        if (!io_waiting(io)) {
            dequeue(io); /* cancelled: nothing more of it goes out */
            continue;
        }
        int rc = issue(bf, idx, io);
        if (rc < 0) {
            log_error(&blk_log, "%s: cannot issue a request: %s", bf->name, lwt_strerror(rc));
            io->err = rc;
            dequeue(io);
            if (io->in_flight == 0)
                io_finish(io);
            continue;
        }
        pushed = true;
        if (io->issued == io->len)
            dequeue(io);
    }
    if (pushed) {
        int notify;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&bf->ring, notify);
        if (notify)
            xen_event_notify((uint32_t)bf->port);
    }
}

static void check_idle(struct blkfront *bf)
{
    if (bf->busy == 0 && bf->idle) {
        lwt_resolver_t *r = bf->idle;
        bf->idle = NULL;
        lwt_wakeup_later(r, NULL);
    }
}

/* The backend said something no backend should: from now on every request
 * fails, and the ring and the grants in flight are left alone. */
static void broken(struct blkfront *bf, const char *why)
{
    log_error(&blk_log, "%s: %s; the disk is not used any more", bf->name, why);
    bf->broken = true;
    while (bf->q_head) {
        struct blk_io *io = bf->q_head;
        dequeue(io);
        io->err = -LWT_EIO;
        if (io->in_flight == 0)
            io_finish(io);
    }
    for (unsigned i = 0; i < RING_SLOTS; i++) {
        struct blk_slot *s = &bf->slots[i];
        struct blk_io *io = s->io;
        if (!io)
            continue;
        /* Its pages may still be written: never reused. */
        for (unsigned k = 0; k < s->nseg; k++)
            s->pages[k] = NULL;
        bf->leaked += s->nseg;
        s->nseg = 0;
        s->io = NULL;
        bf->busy--;
        io->in_flight--;
        if (!io->err)
            io->err = -LWT_EIO;
        if (io->in_flight == 0)
            io_finish(io);
    }
    check_idle(bf);
}

/* One response: 0, or -1 if it broke the device. */
static int complete(struct blkfront *bf, const blkif_response_t *rsp)
{
    uint64_t id = rsp->id;
    unsigned idx = (unsigned)(id & 0xff);
    struct blk_slot *s = idx < RING_SLOTS ? &bf->slots[idx] : NULL;
    if (!s || !s->io || (id >> 8) != s->gen || rsp->operation != s->op) {
        broken(bf, "a response to no request in flight");
        return -1;
    }
    struct blk_io *io = s->io;
    slot_end_grants(bf, s);
    s->io = NULL;
    bf->busy--;
    io->in_flight--;
    if (rsp->status == BLKIF_RSP_OKAY) {
        if (io->op == BLKIF_OP_READ && io->buf && io_waiting(io)) {
            for (size_t at = 0; at < s->bytes; at += XEN_PAGE_SIZE) {
                size_t seg = s->bytes - at < XEN_PAGE_SIZE ? s->bytes - at : XEN_PAGE_SIZE;
                void *page = s->pages[at / XEN_PAGE_SIZE];
                if (!page) {
                    io->err = io->err ? io->err : -LWT_EIO;
                    break;
                }
                memcpy(io->buf + s->off + at, page, seg);
            }
        }
    } else {
        int err = rsp->status == BLKIF_RSP_EOPNOTSUPP ? -LWT_EOPNOTSUPP : -LWT_EIO;
        log_warn(&blk_log, "%s: the backend failed a %s request (status %d)", bf->name,
                 io->op == BLKIF_OP_READ    ? "read"
                 : io->op == BLKIF_OP_WRITE ? "write"
                                            : "flush",
                 (int)rsp->status);
        if (err == -LWT_EOPNOTSUPP && io->op != BLKIF_OP_READ && io->op != BLKIF_OP_WRITE) {
            log_warn(&blk_log, "%s: no more flushes: the backend refuses them", bf->name);
            bf->flush = FLUSH_NONE;
        }
        if (!io->err)
            io->err = err;
        dequeue(io); /* nothing more of it is issued */
    }
    if (io->in_flight == 0 && (io->err || io->issued == io->len || !io_waiting(io)))
        io_finish(io);
    return 0;
}

static void take_responses(struct blkfront *bf)
{
    if (bf->broken || !bf->sring)
        return;
    for (;;) {
        RING_IDX prod = __atomic_load_n(&bf->sring->rsp_prod, __ATOMIC_ACQUIRE);
        /* No more responses than requests outstanding. */
        if (prod - bf->ring.rsp_cons > bf->ring.req_prod_pvt - bf->ring.rsp_cons) {
            broken(bf, "the ring's response index is out of range");
            return;
        }
        while (bf->ring.rsp_cons != prod) {
            blkif_response_t rsp;
            RING_COPY_RESPONSE(&bf->ring, bf->ring.rsp_cons, &rsp);
            bf->ring.rsp_cons++;
            if (complete(bf, &rsp) < 0)
                return;
        }
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&bf->ring, more);
        if (!more)
            break;
    }
}

static void on_event(uint32_t port, void *ctx)
{
    (void)port;
    struct blkfront *bf = ctx;
    take_responses(bf);
    pump(bf);
    check_idle(bf);
}

static lwt_t *submit(struct blkfront *bf, uint8_t op, uint64_t sector, uint8_t *buf, size_t len)
{
    if (bf->broken)
        return lwt_fail(-LWT_EIO);
    if (!bf->connected || bf->closing)
        return lwt_fail(-LWT_ESHUTDOWN);
    if (op != BLKIF_OP_READ && op != BLKIF_OP_WRITE && bf->flush == FLUSH_NONE) {
        bf->b.stats.flushes++; /* nothing to flush: writes are durable when done */
        return lwt_return(NULL);
    }
    if ((op == BLKIF_OP_READ || op == BLKIF_OP_WRITE) && len == 0)
        return lwt_return(NULL);
    struct blk_io *io = malloc(sizeof *io);
    if (!io)
        return lwt_fail(-LWT_ENOMEM);
    *io = (struct blk_io){.bf = bf, .op = op, .buf = buf, .sector = sector, .len = len, .queued = true};
    lwt_t *p = lwt_task(&io->resolver);
    lwt_hook_attach(p, &io->hook, io_settled);
    *bf->q_tail = io;
    bf->q_tail = &io->next;
    pump(bf);
    return p;
}

static uint64_t to_512(const struct blkfront *bf, uint64_t sector)
{
    return sector * (bf->b.sector_size / 512);
}

static lwt_t *bf_read(struct block *b, uint64_t sector, void *buf, size_t len)
{
    int rc = block_check(b, sector, buf, len, false);
    if (rc < 0)
        return lwt_fail(rc);
    struct blkfront *bf = (struct blkfront *)b;
    return submit(bf, BLKIF_OP_READ, to_512(bf, sector), buf, len);
}

static lwt_t *bf_write(struct block *b, uint64_t sector, const void *buf, size_t len)
{
    int rc = block_check(b, sector, buf, len, true);
    if (rc < 0)
        return lwt_fail(rc);
    struct blkfront *bf = (struct blkfront *)b;
    return submit(bf, BLKIF_OP_WRITE, to_512(bf, sector), (uint8_t *)buf, len);
}

static lwt_t *bf_flush(struct block *b)
{
    struct blkfront *bf = (struct blkfront *)b;
    uint8_t op = bf->flush == FLUSH_BARRIER ? BLKIF_OP_WRITE_BARRIER : BLKIF_OP_FLUSH_DISKCACHE;
    return submit(bf, op, 0, NULL, 0);
}

static const struct block_ops blkfront_ops = {
    .read = bf_read,
    .write = bf_write,
    .flush = bf_flush,
};

/* ---- xenstore helpers ------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -LWT_EPROTO;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -LWT_EPROTO;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* dir/node into buf: 0, or -LWT_ENAMETOOLONG. */
static int path_of(char *buf, const char *dir, const char *node)
{
    int n = snprintf(buf, PATH_MAX_, "%s/%s", dir, node);
    return n < 0 || n >= PATH_MAX_ ? -LWT_ENAMETOOLONG : 0;
}

static lwt_t *xs_read(const char *dir, const char *node)
{
    struct xenstore *xs = xen_store();
    char path[PATH_MAX_];
    if (!xs)
        return lwt_fail(-LWT_ENODEV);
    int rc = path_of(path, dir, node);
    return rc < 0 ? lwt_fail(rc) : xenstore_read(xs, 0, path);
}

static lwt_t *xs_write(const char *dir, const char *node, const char *value)
{
    struct xenstore *xs = xen_store();
    char path[PATH_MAX_];
    if (!xs)
        return lwt_fail(-LWT_ENODEV);
    int rc = path_of(path, dir, node);
    return rc < 0 ? lwt_fail(rc) : xenstore_write(xs, 0, path, value);
}

static lwt_t *write_state(struct blkfront *bf, enum xenbus_state state)
{
    char v[4];
    snprintf(v, sizeof v, "%d", (int)state);
    return xs_write(bf->fe_path, "state", v);
}

static lwt_t *missing_is_null(int err, void *ctx)
{
    (void)ctx;
    return err == -LWT_ENOENT ? lwt_return(NULL) : lwt_fail(err);
}

/* ---- The backend's state ------------------------------------------------------- */

static void check_waiter(struct blkfront *bf)
{
    lwt_resolver_t *r = bf->waiter;
    if (!r)
        return;
    int s = bf->backend_state;
    if (lwt_state(lwt_resolver_promise(r)) != LWT_PENDING) {
        bf->waiter = NULL; /* timed out */
        lwt_resolver_drop(r);
    } else if (s >= bf->want_min && s <= bf->want_max) {
        bf->waiter = NULL;
        lwt_wakeup_later(r, NULL);
    } else if (bf->closing_fails && s >= XenbusStateClosing) {
        bf->waiter = NULL;
        log_error(&blk_log, "%s: the backend is closing (state %d)", bf->name, s);
        lwt_wakeup_fail_later(r, -LWT_ENODEV);
    }
}

static void read_backend_state(struct blkfront *bf);

static void state_read_over(struct blkfront *bf)
{
    bf->state_reading = false;
    if (bf->read_done) {
        lwt_resolver_t *r = bf->read_done;
        bf->read_done = NULL;
        lwt_wakeup_later(r, NULL);
        return; /* tearing down: no more reads */
    }
    check_waiter(bf);
    if (bf->state_dirty && bf->watching) {
        bf->state_dirty = false;
        read_backend_state(bf);
    }
}

static lwt_t *got_state(void *value, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    uint64_t v;
    if (parse_u64(value, &v) == 0 && v <= XenbusStateReconfigured) {
        if ((int)v != bf->backend_state)
            log_debug(&blk_log, "%s: backend state %d", bf->name, (int)v);
        bf->backend_state = (int)v;
        if (bf->connected && v >= XenbusStateClosing && !bf->closing)
            log_warn(&blk_log, "%s: the backend is going away (state %d)", bf->name, (int)v);
    } else {
        log_warn(&blk_log, "%s: backend state '%s' makes no sense", bf->name, (char *)value);
    }
    free(value);
    state_read_over(bf);
    return lwt_return(NULL);
}

static lwt_t *state_failed(int err, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    if (err == -LWT_ENOENT)
        bf->backend_state = XenbusStateClosed; /* the backend is gone */
    else if (err != -LWT_ECANCELED)
        log_warn(&blk_log, "%s: reading the backend's state: %s", bf->name, lwt_strerror(err));
    state_read_over(bf);
    return lwt_return(NULL);
}

static void read_backend_state(struct blkfront *bf)
{
    if (bf->state_reading) {
        bf->state_dirty = true;
        return;
    }
    bf->state_reading = true;
    lwt_t *p = xs_read(bf->be_path, "state");
    lwt_async(lwt_try_bind(p, got_state, state_failed, LWT_CTX(bf)), NULL, LWT_NOCTX);
}

static void on_backend_state(const char *path, const char *token, void *ctx)
{
    (void)path, (void)token;
    read_backend_state(ctx);
}

/* Fulfilled once the backend's state is in [min, max]; with closing_fails,
 * rejected with -LWT_ENODEV if it goes Closing or Closed first; rejected
 * with -LWT_ETIMEDOUT after XEN_BLKFRONT_TIMEOUT_S. */
static lwt_t *wait_backend(struct blkfront *bf, int min, int max, bool closing_fails)
{
    if (bf->waiter) {
        lwt_resolver_drop(bf->waiter);
        bf->waiter = NULL;
    }
    lwt_t *p = lwt_task(&bf->waiter);
    bf->want_min = min;
    bf->want_max = max;
    bf->closing_fails = closing_fails;
    check_waiter(bf);
    return sched_with_timeout(p, TIMEOUT_NS);
}

/* ---- Teardown --------------------------------------------------------------------- */

static void unregister(struct blkfront *bf)
{
    for (unsigned i = 0; i < MAX_OPEN; i++)
        if (open_disks[i] == bf)
            open_disks[i] = NULL;
}

/* Everything the backend has let go of by now is ended and freed. */
static lwt_t *release(void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    for (unsigned i = 0; i < RING_SLOTS; i++) {
        struct blk_slot *s = &bf->slots[i];
        struct blk_io *io = s->io;
        if (io) {
            /* Abandoned in flight (the backend never answered). */
            slot_end_grants(bf, s);
            s->io = NULL;
            bf->busy--;
            io->in_flight--;
            if (!io->err)
                io->err = -LWT_EIO;
            if (io->in_flight == 0)
                io_finish(io);
        }
        for (unsigned k = 0; k < SEGS; k++)
            xen_page_free(s->pages[k]);
    }
    if (bf->port >= 0)
        xen_event_close((uint32_t)bf->port);
    if (bf->ring_gref >= 0) {
        if (xen_gnttab_end((xen_grant_ref)bf->ring_gref) == 0) {
            xen_page_free(bf->sring);
        } else {
            log_error(&blk_log, "%s: the backend still maps the ring; its page is given up", bf->name);
            bf->leaked++;
        }
    } else {
        xen_page_free(bf->sring);
    }
    if (bf->waiter)
        lwt_resolver_drop(bf->waiter);
    if (bf->idle)
        lwt_resolver_drop(bf->idle);
    for (unsigned i = 0; i < P_COUNT; i++)
        free(bf->props[i]);
    if (bf->leaked)
        log_warn(&blk_log, "%s: %u grants left with the backend", bf->name, bf->leaked);
    if (bf->published)
        log_info(&blk_log, "%s: disconnected (grants in use in the domain: %u)", bf->name, xen_gnttab_in_use());
    unregister(bf);
    free(bf->be_path);
    free(bf);
    return lwt_return(NULL);
}

static lwt_t *after_unwatch(void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    if (!bf->state_reading)
        return lwt_return(NULL);
    /* The read's continuation uses bf: let it run first. */
    return lwt_task(&bf->read_done);
}

static lwt_t *stop_watching(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    struct xenstore *xs = xen_store();
    lwt_t *p = lwt_return(NULL);
    if (bf->watching && xs) {
        char path[PATH_MAX_];
        path_of(path, bf->be_path, "state");
        p = lwt_catch(xenstore_unwatch(xs, path, bf->token), missing_is_null, LWT_NOCTX);
    }
    bf->watching = false;
    return lwt_finalize(p, after_unwatch, LWT_CTX(bf));
}

static lwt_t *closed_written(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    return wait_backend(bf, XenbusStateClosed, XenbusStateClosed, false);
}

static lwt_t *closing_reached(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    return lwt_bind(write_state(bf, XenbusStateClosed), closed_written, LWT_CTX(bf));
}

static lwt_t *closing_written(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    return wait_backend(bf, XenbusStateClosing, XenbusStateClosed, false);
}

static lwt_t *unwatch_then_release(void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    return lwt_finalize(stop_watching(NULL, ctx), release, LWT_CTX(bf));
}

/* Tells the backend we go (if it was told anything), then releases
 * everything. Settles like the xenbus steps; bf is gone either way. */
static lwt_t *disconnect(struct blkfront *bf)
{
    bf->connected = false;
    bf->closing = true;
    lwt_t *p = lwt_return(NULL);
    if (bf->published) {
        p = lwt_bind(write_state(bf, XenbusStateClosing), closing_written, LWT_CTX(bf));
        p = lwt_bind(p, closing_reached, LWT_CTX(bf));
    }
    return lwt_finalize(p, unwatch_then_release, LWT_CTX(bf));
}

static lwt_t *idle_or_not(int err, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    log_warn(&blk_log, "%s: %u requests still in flight at close (%s)", bf->name, bf->busy, lwt_strerror(err));
    return lwt_return(NULL);
}

static lwt_t *now_idle(void *value, void *ctx)
{
    (void)value;
    return disconnect(*(struct blkfront **)ctx);
}

lwt_t *xen_blkfront_close(struct block *b)
{
    struct blkfront *bf = (struct blkfront *)b;
    if (!bf || bf->b.ops != &blkfront_ops || bf->closing)
        return lwt_fail(-LWT_EINVAL);
    bf->closing = true;
    while (bf->q_head) {
        struct blk_io *io = bf->q_head;
        dequeue(io);
        io->err = -LWT_ESHUTDOWN;
        if (io->in_flight == 0)
            io_finish(io);
    }
    lwt_t *p = lwt_return(NULL);
    if (bf->busy && !bf->broken) {
        p = sched_with_timeout(lwt_task(&bf->idle), TIMEOUT_NS);
        p = lwt_catch(p, idle_or_not, LWT_CTX(bf));
    }
    return lwt_bind(p, now_idle, LWT_CTX(bf));
}

/* ---- Connecting -------------------------------------------------------------------- */

static int devid_of(const char *vdev, uint32_t *devid)
{
    uint64_t v;
    if (parse_u64(vdev, &v) == 0)
        return v <= UINT32_MAX ? (*devid = (uint32_t)v, 0) : -LWT_EINVAL;
    /* xvdX: major 202, 16 minors a disk; past xvdp the extended form. */
    if (strncmp(vdev, "xvd", 3) == 0 && vdev[3] >= 'a' && vdev[3] <= 'z' && vdev[4] == '\0') {
        uint32_t i = (uint32_t)(vdev[3] - 'a');
        *devid = i < 16 ? (202u << 8) | (i << 4) : (1u << 28) | (i << 8);
        return 0;
    }
    return -LWT_EINVAL;
}

static lwt_t *connected(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    bf->connected = true;
    static const char *const flushes[] = {"none needed", "cache flush", "write barrier"};
    log_info(&blk_log, "%s: connected: %llu sectors of %u bytes, %s, flush: %s", bf->name,
             (unsigned long long)bf->b.sectors, (unsigned)bf->b.sector_size,
             bf->b.read_only ? "read-only" : "read-write", flushes[bf->flush]);
    return lwt_return(&bf->b);
}

static lwt_t *got_props(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    uint64_t sectors512, ss = 512, info = 0;
    if (parse_u64(bf->props[P_SECTORS], &sectors512) < 0 ||
        (bf->props[P_SECTOR_SIZE] && parse_u64(bf->props[P_SECTOR_SIZE], &ss) < 0) ||
        (bf->props[P_INFO] && parse_u64(bf->props[P_INFO], &info) < 0)) {
        log_error(&blk_log, "%s: the backend's sectors, sector-size or info is not a number", bf->name);
        return lwt_fail(-LWT_EPROTO);
    }
    if (ss > UINT32_MAX || !block_sector_size_ok((uint32_t)ss) || sectors512 > UINT64_MAX / 512) {
        log_error(&blk_log, "%s: the backend's sector size (%llu) or size makes no sense", bf->name,
                  (unsigned long long)ss);
        return lwt_fail(-LWT_EPROTO);
    }
    bf->b.sector_size = (uint32_t)ss;
    bf->b.sectors = sectors512 / (ss / 512);
    const char *mode = bf->props[P_MODE];
    bf->b.read_only = (info & VDISK_READONLY) || (mode && strcmp(mode, "w") != 0);
    if (bf->props[P_FLUSH] && strcmp(bf->props[P_FLUSH], "1") == 0)
        bf->flush = FLUSH_CACHE;
    else if (bf->props[P_BARRIER] && strcmp(bf->props[P_BARRIER], "1") == 0)
        bf->flush = FLUSH_BARRIER;
    return lwt_bind(write_state(bf, XenbusStateConnected), connected, LWT_CTX(bf));
}

static lwt_t *backend_connected(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    lwt_t *reads[P_COUNT];
    for (unsigned i = 0; i < P_COUNT; i++)
        reads[i] = lwt_catch(xs_read(bf->be_path, prop_names[i]), missing_is_null, LWT_NOCTX);
    return lwt_bind(lwt_all(reads, P_COUNT, (void **)bf->props), got_props, LWT_CTX(bf));
}

static lwt_t *published(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    lwt_t *p = wait_backend(bf, XenbusStateConnected, XenbusStateConnected, true);
    return lwt_bind(p, backend_connected, LWT_CTX(bf));
}

/* The backend waits: set up the ring and the event channel, publish them. */
static lwt_t *backend_ready(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    int rc = xen_gnttab_init();
    if (rc < 0)
        return lwt_fail(rc);
    bf->sring = xen_page_alloc();
    if (!bf->sring)
        return lwt_fail(-LWT_ENOMEM);
    SHARED_RING_INIT(bf->sring);
    FRONT_RING_INIT(&bf->ring, bf->sring, XEN_PAGE_SIZE);
    rc = xen_gnttab_grant(bf->backend_id, bf->sring, false);
    if (rc < 0)
        return lwt_fail(rc);
    bf->ring_gref = rc;
    rc = xen_event_alloc_unbound(bf->backend_id, on_event, bf);
    if (rc < 0)
        return lwt_fail(rc);
    bf->port = rc;
    char ref[16], port[16];
    snprintf(ref, sizeof ref, "%d", bf->ring_gref);
    snprintf(port, sizeof port, "%d", bf->port);
    /* In order on the one connection: the state goes last. */
    bf->published = true;
    lwt_t *w[4] = {
        xs_write(bf->fe_path, "ring-ref", ref),
        xs_write(bf->fe_path, "event-channel", port),
        xs_write(bf->fe_path, "protocol", XEN_IO_PROTO_ABI_X86_64),
        write_state(bf, XenbusStateInitialised),
    };
    return lwt_bind(lwt_join(w, 4), published, LWT_CTX(bf));
}

static lwt_t *initialising_written(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    return lwt_bind(wait_backend(bf, XenbusStateInitWait, XenbusStateConnected, false), backend_ready, LWT_CTX(bf));
}

static lwt_t *got_backend_id(void *value, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    uint64_t id;
    int rc = parse_u64(value, &id);
    free(value);
    if (rc < 0 || id >= 0x7ff0) { /* DOMID_FIRST_RESERVED */
        log_error(&blk_log, "%s: the backend's domain id makes no sense", bf->name);
        return lwt_fail(-LWT_EPROTO);
    }
    bf->backend_id = (uint16_t)id;
    struct xenstore *xs = xen_store();
    char path[PATH_MAX_];
    rc = path_of(path, bf->be_path, "state");
    if (rc < 0 || !xs)
        return lwt_fail(rc < 0 ? rc : -LWT_ENODEV);
    snprintf(bf->token, sizeof bf->token, "blkfront/%u", (unsigned)bf->devid);
    bf->watching = true;
    /* A backend that closed an earlier connection waits in Closed until
     * the frontend says Initialising again. */
    lwt_t *w[2] = {
        xenstore_watch(xs, path, bf->token, on_backend_state, bf),
        write_state(bf, XenbusStateInitialising),
    };
    return lwt_bind(lwt_join(w, 2), initialising_written, LWT_CTX(bf));
}

static lwt_t *got_backend_path(void *value, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    char *path = value;
    if (path[0] != '/' || strlen(path) > PATH_MAX_ - 32) {
        log_error(&blk_log, "%s: the backend's path makes no sense", bf->name);
        free(path);
        return lwt_fail(-LWT_EPROTO);
    }
    bf->be_path = path;
    return xs_read(bf->fe_path, "backend-id");
}

static lwt_t *no_such_disk(int err, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    if (err == -LWT_ENOENT) {
        log_error(&blk_log, "%s: no such virtual disk (is there a disk in the domain's config?)", bf->name);
        return lwt_fail(-LWT_ENODEV);
    }
    return lwt_fail(err);
}

static bool already_open(const struct blkfront *bf)
{
    for (unsigned i = 0; i < MAX_OPEN; i++)
        if (open_disks[i] && open_disks[i] != bf && open_disks[i]->devid == bf->devid)
            return true;
    return false;
}

static lwt_t *find_backend(void *value, void *ctx)
{
    (void)value;
    struct blkfront *bf = *(struct blkfront **)ctx;
    if (already_open(bf))
        return lwt_fail(-LWT_EBUSY);
    snprintf(bf->fe_path, sizeof bf->fe_path, "device/vbd/%u", (unsigned)bf->devid);
    lwt_t *p = lwt_catch(xs_read(bf->fe_path, "backend"), no_such_disk, LWT_CTX(bf));
    return lwt_bind(p, got_backend_path, LWT_CTX(bf));
}

static lwt_t *pick_first(void *value, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    struct xenstore_dir *dir = value;
    uint64_t id;
    int rc = dir->count == 0 ? -LWT_ENODEV : parse_u64(dir->names[0], &id);
    free(dir);
    if (rc == 0 && id > UINT32_MAX)
        rc = -LWT_EPROTO;
    if (rc < 0)
        return lwt_fail(rc);
    bf->devid = (uint32_t)id;
    snprintf(bf->name, sizeof bf->name, "vbd %u", (unsigned)bf->devid);
    return lwt_return(NULL);
}

static lwt_t *refail(void *value, void *ctx)
{
    (void)value;
    return lwt_fail(*(int *)ctx);
}

static lwt_t *swallow(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL);
}

static lwt_t *open_failed(int err, void *ctx)
{
    struct blkfront *bf = *(struct blkfront **)ctx;
    log_error(&blk_log, "%s: cannot connect: %s", bf->name, lwt_strerror(err));
    lwt_t *p = lwt_catch(disconnect(bf), swallow, LWT_NOCTX);
    return lwt_bind(p, refail, LWT_CTX(err));
}

lwt_t *xen_blkfront_open(const char *vdev)
{
    if (!xen_store())
        return lwt_fail(-LWT_ENODEV);
    uint32_t devid = 0;
    if (vdev && devid_of(vdev, &devid) < 0)
        return lwt_fail(-LWT_EINVAL);
    unsigned slot = 0;
    while (slot < MAX_OPEN && open_disks[slot])
        slot++;
    if (slot == MAX_OPEN)
        return lwt_fail(-LWT_EMFILE);
    struct blkfront *bf = malloc(sizeof *bf);
    if (!bf)
        return lwt_fail(-LWT_ENOMEM);
    memset(bf, 0, sizeof *bf);
    bf->b.ops = &blkfront_ops;
    bf->b.sector_size = 512;
    bf->b.name = bf->name;
    bf->devid = devid;
    bf->ring_gref = -1;
    bf->port = -1;
    bf->q_tail = &bf->q_head;
    snprintf(bf->name, sizeof bf->name, "%s", vdev ? vdev : "vbd");
    open_disks[slot] = bf;
    lwt_t *p = lwt_return(NULL);
    if (!vdev) {
        p = lwt_catch(xenstore_directory(xen_store(), 0, "device/vbd"), no_such_disk, LWT_CTX(bf));
        p = lwt_bind(p, pick_first, LWT_CTX(bf));
    }
    p = lwt_bind(p, find_backend, LWT_CTX(bf));
    p = lwt_bind(p, got_backend_id, LWT_CTX(bf));
    return lwt_catch(p, open_failed, LWT_CTX(bf));
}
