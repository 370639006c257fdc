/* blkfront (os-xen/xen_blkfront.c) on Unix, against a backend played by
 * this test: the xenstore tree, the grant table, the event channel and
 * the page allocator are stand-ins (the functions blkfront calls, defined
 * here), and the backend serves the shared ring from an in-memory disk,
 * checking every request as blkback would (grants, permissions, bounds).
 *
 * What it covers: the handshake and the nodes it writes; reads and writes
 * that take more ring requests than the ring holds; sector sizes of 4096;
 * responses out of order; error statuses; flush by cache flush, by
 * barrier, refused, or not needed; a read-only disk; cancellation in
 * flight (the buffer stays untouched); close with requests in flight;
 * reconnecting; a backend that never gets ready (the timeout, on a
 * virtual clock), that closes during the handshake, that gives nonsense;
 * and backends that lie on the ring (an id no request has, the wrong
 * operation, a response replayed, the index moved past what is
 * outstanding): each one breaks the device cleanly. Every test ends with
 * no grant in use and no page held, except where a lying backend keeps
 * them on purpose.
 */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#include "block.h"
#include "log.h"
#include "scheduler.h"
#include "xen_blkfront.h"
#include "xen_events.h"
#include "xen_gnttab.h"
#include "xen_mm.h"
#include "xen_store.h"
#include "xenstore.h"

#define PAGE        4096
#define DISK_BYTES  (4u << 20)
#define FE          "device/vbd/51712"
#define BE          "/local/domain/0/backend/vbd/3/51712"
#define EVENT_PORT  9
#define MAX_GRANTS  1024
#define MAX_NODES   64
#define MAX_WATCHES 8
#define MAX_EVENTS  64

/* ---- Pages ------------------------------------------------------------------ */

static size_t pages_out;

void *xen_page_alloc(void)
{
    void *p = aligned_alloc(PAGE, PAGE);
    assert_non_null(p);
    memset(p, 0, PAGE);
    pages_out++;
    return p;
}

void xen_page_free(void *page)
{
    if (!page)
        return;
    pages_out--;
    free(page);
}

/* ---- Grants ----------------------------------------------------------------- */

static struct grant {
    void *page;
    bool used, readonly, mapped;
    uint16_t dom;
} grants[MAX_GRANTS];
static unsigned grants_in_use, bad_ends;

int xen_gnttab_init(void)
{
    return 0;
}

int xen_gnttab_grant(uint16_t dom, const void *page, bool readonly)
{
    for (unsigned r = 8; r < MAX_GRANTS; r++) {
        if (!grants[r].used) {
            grants[r] = (struct grant){.page = (void *)page, .used = true, .readonly = readonly, .dom = dom};
            grants_in_use++;
            return (int)r;
        }
    }
    return -LWT_ENOSPC;
}

int xen_gnttab_end(xen_grant_ref ref)
{
    if (ref >= MAX_GRANTS || !grants[ref].used) {
        bad_ends++;
        return -LWT_EINVAL;
    }
    if (grants[ref].mapped)
        return -LWT_EBUSY;
    grants[ref].used = false;
    grants_in_use--;
    return 0;
}

unsigned xen_gnttab_in_use(void)
{
    return grants_in_use;
}

/* ---- The event channel --------------------------------------------------------- */

static xen_event_handler event_fn;
static void *event_ctx;
static unsigned notifies, ports_open;

int xen_event_alloc_unbound(uint16_t remote_dom, xen_event_handler fn, void *ctx)
{
    assert_int_equal(remote_dom, 3);
    assert_null(event_fn);
    event_fn = fn;
    event_ctx = ctx;
    ports_open++;
    return EVENT_PORT;
}

void xen_event_notify(uint32_t port)
{
    assert_int_equal(port, EVENT_PORT);
    notifies++;
}

void xen_event_close(uint32_t port)
{
    assert_int_equal(port, EVENT_PORT);
    event_fn = NULL;
    ports_open--;
}

/* ---- xenstore ------------------------------------------------------------------ */

static struct node {
    char *path, *value;
} nodes[MAX_NODES];

static struct watch {
    char *path, *token;
    xenstore_watch_fn fn;
    void *ctx;
} watches[MAX_WATCHES];

static struct {
    char path[128];
    int watch;
} events[MAX_EVENTS];
static unsigned nevents;
static int dummy_store;

struct xenstore *xen_store(void)
{
    return (struct xenstore *)&dummy_store;
}

static struct node *node_find(const char *path)
{
    for (unsigned i = 0; i < MAX_NODES; i++)
        if (nodes[i].path && strcmp(nodes[i].path, path) == 0)
            return &nodes[i];
    return NULL;
}

static void fire(const char *path)
{
    for (int w = 0; w < MAX_WATCHES; w++) {
        if (!watches[w].path || strncmp(path, watches[w].path, strlen(watches[w].path)) != 0)
            continue;
        assert_true(nevents < MAX_EVENTS);
        snprintf(events[nevents].path, sizeof events[nevents].path, "%s", path);
        events[nevents++].watch = w;
    }
}

static void node_set(const char *path, const char *value)
{
    struct node *n = node_find(path);
    if (!n) {
        for (n = nodes; n->path; n++)
            ;
        assert_true(n < nodes + MAX_NODES);
        n->path = strdup(path);
    }
    free(n->value);
    n->value = strdup(value);
    fire(path);
}

static void node_rm(const char *path)
{
    struct node *n = node_find(path);
    if (n) {
        free(n->path);
        free(n->value);
        n->path = n->value = NULL;
        fire(path);
    }
}

static const char *node_get(const char *path)
{
    struct node *n = node_find(path);
    return n ? n->value : NULL;
}

static void frontend_wrote(const char *path, const char *value);

lwt_t *xenstore_read(struct xenstore *xs, uint32_t tx, const char *path)
{
    (void)xs, (void)tx;
    const char *v = node_get(path);
    return v ? lwt_return(strdup(v)) : lwt_fail(-LWT_ENOENT);
}

lwt_t *xenstore_write(struct xenstore *xs, uint32_t tx, const char *path, const char *value)
{
    (void)xs, (void)tx;
    node_set(path, value);
    frontend_wrote(path, value);
    return lwt_return(NULL);
}

lwt_t *xenstore_directory(struct xenstore *xs, uint32_t tx, const char *path)
{
    (void)xs, (void)tx;
    size_t plen = strlen(path), count = 0;
    char names[MAX_NODES][16];
    for (unsigned i = 0; i < MAX_NODES; i++) {
        const char *p = nodes[i].path;
        if (!p || strncmp(p, path, plen) != 0 || p[plen] != '/')
            continue;
        const char *name = p + plen + 1, *slash = strchr(name, '/');
        size_t len = slash ? (size_t)(slash - name) : strlen(name);
        bool seen = false;
        for (size_t k = 0; k < count; k++)
            seen |= strlen(names[k]) == len && strncmp(names[k], name, len) == 0;
        if (!seen && len < 16) {
            memcpy(names[count], name, len);
            names[count++][len] = '\0';
        }
    }
    if (count == 0)
        return lwt_fail(-LWT_ENOENT);
    struct xenstore_dir *d = malloc(sizeof *d + count * (sizeof(char *) + 16));
    char *at = (char *)(d->names + count);
    d->count = count;
    for (size_t k = 0; k < count; k++) {
        d->names[k] = at;
        strcpy(at, names[k]);
        at += 16;
    }
    return lwt_return(d);
}

lwt_t *xenstore_watch(struct xenstore *xs, const char *path, const char *token, xenstore_watch_fn fn, void *ctx)
{
    (void)xs;
    for (int w = 0; w < MAX_WATCHES; w++) {
        if (!watches[w].path) {
            watches[w] = (struct watch){strdup(path), strdup(token), fn, ctx};
            assert_true(nevents < MAX_EVENTS);
            snprintf(events[nevents].path, sizeof events[nevents].path, "%s", path);
            events[nevents++].watch = w; /* the first event, at once */
            return lwt_return(NULL);
        }
    }
    return lwt_fail(-LWT_ENOSPC);
}

lwt_t *xenstore_unwatch(struct xenstore *xs, const char *path, const char *token)
{
    (void)xs;
    for (int w = 0; w < MAX_WATCHES; w++) {
        if (watches[w].path && strcmp(watches[w].path, path) == 0 && strcmp(watches[w].token, token) == 0) {
            free(watches[w].path);
            free(watches[w].token);
            watches[w] = (struct watch){0};
            return lwt_return(NULL);
        }
    }
    return lwt_fail(-LWT_ENOENT);
}

static bool deliver_events(void)
{
    bool any = nevents > 0;
    while (nevents > 0) {
        char path[128];
        int w = events[0].watch;
        memcpy(path, events[0].path, sizeof path);
        memmove(events, events + 1, --nevents * sizeof events[0]);
        if (watches[w].path)
            watches[w].fn(path, watches[w].token, watches[w].ctx);
    }
    return any;
}

/* ---- The backend -------------------------------------------------------------------- */

enum lie { HONEST, BAD_ID, WRONG_OP, REPLAY, PROD_JUMP };

static struct backend {
    int state;
    int connect_to;  /* the state it goes to once the frontend is Initialised */
    bool auto_serve; /* serve requests whenever the loop would block */
    bool reverse;    /* respond to a batch last first */
    int fail_at;     /* 1-based request number to fail (0: none) */
    int16_t fail_status;
    enum lie lie;
    blkif_back_ring_t ring;
    bool connected;
    uint8_t disk[DISK_BYTES];
    unsigned requests, reads, writes, flushes, barriers, max_segs;
    uint64_t last_sector;
    blkif_response_t last_rsp;
} be;

static void be_set_state(int state)
{
    char v[4];
    be.state = state;
    snprintf(v, sizeof v, "%d", state);
    node_set(BE "/state", v);
}

static void frontend_wrote(const char *path, const char *value)
{
    if (strcmp(path, FE "/state") != 0)
        return;
    int s = atoi(value);
    if (s == 1 && be.state == 6) {
        be_set_state(2);
    } else if (s == 3 && be.connect_to) {
        const char *ref = node_get(FE "/ring-ref"), *port = node_get(FE "/event-channel");
        assert_non_null(ref);
        assert_non_null(port);
        assert_string_equal(node_get(FE "/protocol"), "x86_64-abi");
        assert_int_equal(atoi(port), EVENT_PORT);
        struct grant *g = &grants[atoi(ref)];
        assert_true(g->used);
        assert_false(g->readonly);
        assert_int_equal(g->dom, 3);
        g->mapped = true;
        BACK_RING_INIT(&be.ring, (blkif_sring_t *)g->page, PAGE);
        be.connected = true;
        be_set_state(be.connect_to);
    } else if (s == 5) {
        be_set_state(5);
    } else if (s == 6) {
        const char *ref = node_get(FE "/ring-ref");
        if (be.connected && ref)
            grants[atoi(ref)].mapped = false;
        be.connected = false;
        be_set_state(6);
    }
}

static void be_notify(void)
{
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&be.ring, notify);
    (void)notify; /* a frontend that polls would not ask; ours is always told */
    if (event_fn)
        event_fn(EVENT_PORT, event_ctx);
}

/* Carries out one request as blkback would, checking it: its status. */
static int16_t perform(const blkif_request_t *req)
{
    be.requests++;
    if (be.fail_at && (int)be.requests == be.fail_at)
        return be.fail_status;
    be.last_sector = req->sector_number;
    switch (req->operation) {
    case BLKIF_OP_FLUSH_DISKCACHE:
        assert_int_equal(req->nr_segments, 0);
        be.flushes++;
        return BLKIF_RSP_OKAY;
    case BLKIF_OP_WRITE_BARRIER:
        be.barriers++;
        return BLKIF_RSP_OKAY;
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        break;
    default:
        fail_msg("unexpected operation %d", req->operation);
    }
    bool write = req->operation == BLKIF_OP_WRITE;
    write ? be.writes++ : be.reads++;
    assert_true(req->nr_segments >= 1 && req->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
    if (req->nr_segments > be.max_segs)
        be.max_segs = req->nr_segments;
    uint64_t at = req->sector_number * 512;
    for (unsigned i = 0; i < req->nr_segments; i++) {
        const struct blkif_request_segment *seg = &req->seg[i];
        assert_true(seg->gref < MAX_GRANTS);
        struct grant *g = &grants[seg->gref];
        assert_true(g->used);
        assert_int_equal(g->dom, 3);
        /* A read lands in the frontend's page: it must be writable. */
        if (!write)
            assert_false(g->readonly);
        assert_true(seg->first_sect <= seg->last_sect && seg->last_sect < 8);
        size_t n = (size_t)(seg->last_sect - seg->first_sect + 1) * 512;
        uint8_t *page = (uint8_t *)g->page + seg->first_sect * 512;
        if (at + n > DISK_BYTES)
            return BLKIF_RSP_ERROR;
        if (write)
            memcpy(be.disk + at, page, n);
        else
            memcpy(page, be.disk + at, n);
        at += n;
    }
    return BLKIF_RSP_OKAY;
}

static void respond(const blkif_request_t *req, int16_t status)
{
    blkif_response_t *rsp = RING_GET_RESPONSE(&be.ring, be.ring.rsp_prod_pvt);
    rsp->id = req->id;
    rsp->operation = req->operation;
    rsp->status = status;
    switch (be.lie) {
    case BAD_ID:
        rsp->id = 31 | (uint64_t)77 << 8;
        break;
    case WRONG_OP:
        rsp->operation = req->operation == BLKIF_OP_READ ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        break;
    default:
        break;
    }
    be.last_rsp = *rsp;
    be.ring.rsp_prod_pvt++;
}

/* Serves up to max requests waiting on the ring: how many. */
static unsigned be_serve(unsigned max)
{
    if (!be.connected)
        return 0;
    blkif_request_t reqs[64];
    unsigned n = 0;
    while (n < max && n < 64 && be.ring.req_cons != be.ring.sring->req_prod) {
        RING_COPY_REQUEST(&be.ring, be.ring.req_cons, &reqs[n]);
        be.ring.req_cons++;
        n++;
    }
    if (n == 0)
        return 0;
    int16_t status[64];
    for (unsigned i = 0; i < n; i++)
        status[i] = perform(&reqs[i]);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = be.reverse ? n - 1 - i : i;
        respond(&reqs[k], status[k]);
    }
    if (be.lie == PROD_JUMP)
        be.ring.rsp_prod_pvt += 5;
    be_notify();
    return n;
}

static unsigned be_waiting(void)
{
    return be.connected ? be.ring.sring->req_prod - be.ring.req_cons : 0;
}

/* ---- The scheduler's platform: a virtual clock that moves only when
 * neither xenstore nor the backend has anything to do. ---------------- */

static uint64_t vnow;

static uint64_t plat_now(void *ctx)
{
    (void)ctx;
    return vnow;
}

static int plat_block(void *ctx, uint64_t deadline)
{
    (void)ctx;
    bool did = deliver_events();
    if (be.auto_serve && be_waiting())
        did |= be_serve(64) > 0;
    if (did)
        return 0;
    if (deadline == SCHED_FOREVER)
        return -LWT_EBUSY; /* nothing can happen: the test goes on */
    if (deadline > vnow)
        vnow = deadline;
    return 0;
}

static char log_text[8192];
static size_t log_len;

static void log_capture(const char *text, size_t len)
{
    fwrite(text, 1, len, stderr);
    size_t room = sizeof log_text - 1 - log_len;
    if (len > room)
        len = room;
    memcpy(log_text + log_len, text, len);
    log_len += len;
    log_text[log_len] = '\0';
}

static void default_backend(void)
{
    memset(&be, 0, sizeof be);
    be.connect_to = 4;
    be.auto_serve = true;
    node_set(FE "/backend", BE);
    node_set(FE "/backend-id", "3");
    node_set(FE "/state", "1");
    node_set(BE "/sectors", "8192"); /* 512-byte units: the 4 MiB disk */
    node_set(BE "/sector-size", "512");
    node_set(BE "/info", "0");
    node_set(BE "/mode", "w");
    node_set(BE "/feature-flush-cache", "1");
    be_set_state(2);
    for (size_t i = 0; i < DISK_BYTES; i++)
        be.disk[i] = (uint8_t)(i * 13 + (i >> 9));
}

static int setup(void **state)
{
    static const struct sched_platform platform = {.now = plat_now, .block = plat_block};
    vnow = 1000;
    sched_init(&platform);
    log_len = 0;
    log_text[0] = '\0';
    log_set_output(log_capture);
    default_backend();
    nevents = 0;
    return test_setup(state);
}

static int teardown(void **state)
{
    sched_destroy();
    log_set_output(NULL);
    for (unsigned i = 0; i < MAX_NODES; i++) {
        free(nodes[i].path);
        free(nodes[i].value);
        nodes[i] = (struct node){0};
    }
    for (int w = 0; w < MAX_WATCHES; w++) {
        assert_null(watches[w].path); /* blkfront unwatched */
    }
    nevents = 0;
    memset(grants, 0, sizeof grants);
    grants_in_use = 0;
    bad_ends = 0;
    event_fn = NULL;
    return test_teardown(state);
}

/* ---- Helpers ------------------------------------------------------------------------- */

static struct block *open_disk(const char *vdev)
{
    void *v = NULL;
    assert_int_equal(sched_run(xen_blkfront_open(vdev), &v), 0);
    assert_non_null(v);
    return v;
}

static void close_disk(struct block *b)
{
    assert_int_equal(sched_run(xen_blkfront_close(b), NULL), 0);
    assert_int_equal(be.state, 6);
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(pages_out, 0);
    assert_int_equal(ports_open, 0);
    assert_int_equal(bad_ends, 0);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 7 + seed + (i >> 12));
}

/* ---- Tests ------------------------------------------------------------------------------- */

static void connects_and_disconnects(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    assert_int_equal(b->sector_size, 512);
    assert_int_equal(b->sectors, 8192);
    assert_false(b->read_only);
    assert_string_equal(b->name, "xvda");
    assert_string_equal(node_get(FE "/state"), "4");
    assert_string_equal(node_get(FE "/protocol"), "x86_64-abi");
    assert_int_equal(grants_in_use, 1); /* the ring */
    assert_non_null(strstr(log_text, "xvda: connected: 8192 sectors of 512 bytes, read-write, flush: cache flush"));
    /* Open already. */
    assert_int_equal(sched_run(xen_blkfront_open("51712"), NULL), -LWT_EBUSY);
    close_disk(b);
    assert_non_null(strstr(log_text, "xvda: disconnected (grants in use in the domain: 0)"));
    /* Again, after the backend closed: it is brought back to InitWait. */
    b = open_disk(NULL);
    assert_string_equal(b->name, "vbd 51712");
    close_disk(b);
}

static void large_requests_take_many_ring_requests(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    size_t len = 2 * 1024 * 1024 + 3 * 512; /* 47 ring requests: more than the ring holds */
    uint8_t *out = malloc(len), *in = malloc(len);
    assert_non_null(out);
    assert_non_null(in);
    fill(out, len, 5);
    assert_int_equal(sched_run(block_write(b, 3, out, len), NULL), 0);
    assert_memory_equal(be.disk + 3 * 512, out, len);
    assert_int_equal(be.writes, (len + 11 * PAGE - 1) / (11 * PAGE));
    assert_int_equal(be.max_segs, BLKIF_MAX_SEGMENTS_PER_REQUEST);
    assert_int_equal(sched_run(block_flush(b), NULL), 0);
    assert_int_equal(be.flushes, 1);
    memset(in, 0, len);
    assert_int_equal(sched_run(block_read(b, 3, in, len), NULL), 0);
    assert_memory_equal(in, out, len);
    /* The last sector, and past it. */
    assert_int_equal(sched_run(block_read(b, 8191, in, 512), NULL), 0);
    assert_memory_equal(in, be.disk + 8191 * 512, 512);
    assert_int_equal(sched_run(block_read(b, 8192, in, 512), NULL), -LWT_ERANGE);
    assert_int_equal(b->stats.reads, 2);
    assert_int_equal(b->stats.read_bytes, len + 512);
    assert_int_equal(b->stats.writes, 1);
    assert_int_equal(b->stats.flushes, 1);
    assert_int_equal(b->stats.errors, 0);
    /* Grants come and go with their requests. */
    assert_int_equal(grants_in_use, 1);
    free(out);
    free(in);
    close_disk(b);
}

static void out_of_order_and_concurrent(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    be.auto_serve = false;
    be.reverse = true;
    enum { N = 6, LEN = 100 * 1024 };
    uint8_t *in = malloc(N * LEN);
    assert_non_null(in);
    lwt_t *ps[N];
    for (int i = 0; i < N; i++)
        ps[i] = block_read(b, (uint64_t)i * 300, in + i * LEN, LEN);
    lwt_t *all = lwt_join(ps, N);
    /* 18 ring requests in flight, answered in batches, last first. */
    assert_int_equal(be_waiting(), 18);
    while (be_serve(5))
        drain();
    drain();
    assert_fulfilled(all);
    lwt_unref(all);
    for (int i = 0; i < N; i++)
        assert_memory_equal(in + i * LEN, be.disk + i * 300 * 512, LEN);
    free(in);
    be.auto_serve = true;
    close_disk(b);
}

static void sector_size_4096(void **state)
{
    (void)state;
    node_set(BE "/sector-size", "4096");
    struct block *b = open_disk("xvda");
    assert_int_equal(b->sector_size, 4096);
    assert_int_equal(b->sectors, 1024);
    uint8_t buf[2 * 4096];
    fill(buf, sizeof buf, 9);
    assert_int_equal(sched_run(block_write(b, 10, buf, sizeof buf), NULL), 0);
    /* The protocol counts 512-byte sectors. */
    assert_int_equal(be.last_sector, 80);
    assert_memory_equal(be.disk + 10 * 4096, buf, sizeof buf);
    assert_int_equal(sched_run(block_write(b, 10, buf, 512), NULL), -LWT_EINVAL);
    close_disk(b);
}

static void error_statuses(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    size_t len = 200 * 1024; /* 5 ring requests */
    uint8_t *in = malloc(len);
    assert_non_null(in);
    be.fail_at = be.requests + 3;
    be.fail_status = BLKIF_RSP_ERROR;
    assert_int_equal(sched_run(block_read(b, 0, in, len), NULL), -LWT_EIO);
    assert_int_equal(b->stats.errors, 1);
    assert_non_null(strstr(log_text, "the backend failed a read request (status -1)"));
    /* The disk is still usable. */
    be.fail_at = 0;
    assert_int_equal(sched_run(block_read(b, 0, in, len), NULL), 0);
    assert_memory_equal(in, be.disk, len);

    /* A flush the backend refuses after all: no more flushes asked. */
    be.fail_at = be.requests + 1;
    be.fail_status = BLKIF_RSP_EOPNOTSUPP;
    assert_int_equal(sched_run(block_flush(b), NULL), -LWT_EOPNOTSUPP);
    unsigned before = be.requests;
    assert_int_equal(sched_run(block_flush(b), NULL), 0);
    assert_int_equal(be.requests, before);
    free(in);
    close_disk(b);
}

static void flush_by_barrier_or_none(void **state)
{
    (void)state;
    node_rm(BE "/feature-flush-cache");
    node_set(BE "/feature-barrier", "1");
    struct block *b = open_disk("xvda");
    assert_non_null(strstr(log_text, "flush: write barrier"));
    assert_int_equal(sched_run(block_flush(b), NULL), 0);
    assert_int_equal(be.barriers, 1);
    assert_int_equal(be.flushes, 0);
    close_disk(b);

    node_rm(BE "/feature-barrier");
    b = open_disk("xvda");
    unsigned before = be.requests;
    assert_int_equal(sched_run(block_flush(b), NULL), 0);
    assert_int_equal(be.requests, before);
    assert_int_equal(b->stats.flushes, 1);
    close_disk(b);
}

static void read_only_disks(void **state)
{
    (void)state;
    node_set(BE "/mode", "r");
    struct block *b = open_disk("xvda");
    assert_true(b->read_only);
    uint8_t buf[512] = {0};
    assert_int_equal(sched_run(block_write(b, 0, buf, 512), NULL), -LWT_EROFS);
    close_disk(b);
    node_set(BE "/mode", "w");
    node_set(BE "/info", "4"); /* VDISK_READONLY */
    b = open_disk("xvda");
    assert_true(b->read_only);
    close_disk(b);
}

static void cancelled_in_flight(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    be.auto_serve = false;
    size_t len = 500 * 1024; /* 12 ring requests */
    uint8_t *in = malloc(len);
    assert_non_null(in);
    memset(in, 0xAA, len);
    lwt_t *p = block_read(b, 0, in, len);
    assert_int_equal(be_waiting(), 12);
    be_serve(4);
    drain();
    /* Part of it came in; then it is cancelled. */
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);
    memset(in, 0xAA, len);
    while (be_serve(64))
        drain();
    for (size_t i = 0; i < len; i++)
        assert_int_equal(in[i], 0xAA);
    assert_int_equal(b->stats.reads, 0);
    assert_int_equal(b->stats.errors, 0);
    /* Bigger than the ring: cancelled with part of it not yet issued,
     * which then never is. */
    size_t big = 2 * 1024 * 1024;
    uint8_t *in2 = malloc(big);
    assert_non_null(in2);
    memset(in2, 0xAA, big);
    unsigned before = be.requests;
    p = block_read(b, 0, in2, big);
    assert_int_equal(be_waiting(), 32);
    be_serve(10);
    drain();
    lwt_cancel(p);
    lwt_unref(p);
    memset(in2, 0xAA, big);
    while (be_serve(64))
        drain();
    /* 10 served, 10 more issued in their place, 32 in flight at the
     * cancel: 42 of its 47. */
    assert_int_equal(be.requests - before, 42);
    for (size_t i = 0; i < big; i++)
        assert_int_equal(in2[i], 0xAA);
    free(in2);
    /* The slots are back: another read goes through. */
    be.auto_serve = true;
    assert_int_equal(sched_run(block_read(b, 0, in, 4096), NULL), 0);
    free(in);
    close_disk(b);
}

static void close_with_requests_in_flight(void **state)
{
    (void)state;
    struct block *b = open_disk("xvda");
    be.auto_serve = false;
    size_t len = 32 * 11 * PAGE + 5 * PAGE; /* the ring full, and more waiting */
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    fill(buf, len, 3);
    lwt_t *w = block_write(b, 0, buf, len);
    lwt_t *r = block_read(b, 0, buf, 4096);
    assert_int_equal(be_waiting(), 32);
    lwt_t *c = xen_blkfront_close(b);
    /* What waited is refused at once; what is in flight finishes. */
    drain();
    assert_int_equal(lwt_error(r), -LWT_ESHUTDOWN);
    assert_pending(w);
    assert_pending(c);
    be.auto_serve = true;
    assert_int_equal(sched_run(c, NULL), 0);
    drain();
    assert_int_equal(lwt_error(w), -LWT_ESHUTDOWN);
    lwt_unref(w);
    lwt_unref(r);
    assert_int_equal(be.state, 6);
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(pages_out, 0);
    free(buf);
}

static void handshake_failures(void **state)
{
    (void)state;
    /* No such disk. */
    assert_int_equal(sched_run(xen_blkfront_open("xvdc"), NULL), -LWT_ENODEV);
    assert_non_null(strstr(log_text, "xvdc: no such virtual disk"));
    assert_int_equal(sched_run(xen_blkfront_open("sda"), NULL), -LWT_EINVAL);
    /* Nonsense from the backend. */
    node_set(FE "/backend-id", "dom0");
    assert_int_equal(sched_run(xen_blkfront_open("xvda"), NULL), -LWT_EPROTO);
    assert_non_null(strstr(log_text, "xvda: the backend's domain id makes no sense"));
    node_set(FE "/backend-id", "3");
    node_set(BE "/sectors", "-1");
    assert_int_equal(sched_run(xen_blkfront_open("xvda"), NULL), -LWT_EPROTO);
    assert_int_equal(be.state, 6); /* it was connected: it was told to close */
    node_set(BE "/sectors", "8192");
    node_set(BE "/sector-size", "1000");
    assert_int_equal(sched_run(xen_blkfront_open("xvda"), NULL), -LWT_EPROTO);
    node_set(BE "/sector-size", "512");
    /* The backend closes instead of connecting. */
    be.connect_to = 6;
    assert_int_equal(sched_run(xen_blkfront_open("xvda"), NULL), -LWT_ENODEV);
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(pages_out, 0);
    /* It never gets ready: the timeout, on the virtual clock. */
    be.connect_to = 4;
    be_set_state(1);
    uint64_t t0 = vnow;
    assert_int_equal(sched_run(xen_blkfront_open("xvda"), NULL), -LWT_ETIMEDOUT);
    assert_true(vnow - t0 >= (uint64_t)XEN_BLKFRONT_TIMEOUT_S * SCHED_NS_PER_S);
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(pages_out, 0);
    assert_int_equal(ports_open, 0);
    /* And it can still connect after all that. */
    be_set_state(2);
    close_disk(open_disk("xvda"));
}

/* A lying backend breaks the device: what is outstanding fails with EIO,
 * later requests too, and close still takes it down. */
static void lies(enum lie lie, const char *reason)
{
    default_backend();
    log_len = 0;
    struct block *b = open_disk("xvda");
    uint8_t *in = malloc(100 * 1024);
    assert_non_null(in);
    be.lie = lie;
    if (lie == REPLAY) {
        /* An honest answer first, then the same answer again. */
        be.lie = HONEST;
        assert_int_equal(sched_run(block_read(b, 0, in, 4096), NULL), 0);
        blkif_response_t old = be.last_rsp;
        be.auto_serve = false;
        lwt_t *p = block_read(b, 0, in, 4096);
        *RING_GET_RESPONSE(&be.ring, be.ring.rsp_prod_pvt) = old;
        be.ring.rsp_prod_pvt++;
        be_notify();
        drain();
        assert_int_equal(lwt_error(p), -LWT_EIO);
        lwt_unref(p);
    } else {
        assert_int_equal(sched_run(block_read(b, 0, in, 100 * 1024), NULL), -LWT_EIO);
    }
    if (!strstr(log_text, reason))
        fail_msg("expected '%s' in the log: %s", reason, log_text);
    assert_non_null(strstr(log_text, "the disk is not used any more"));
    assert_int_equal(sched_run(block_read(b, 0, in, 512), NULL), -LWT_EIO);
    be.auto_serve = true;
    be.lie = HONEST;
    assert_int_equal(sched_run(xen_blkfront_close(b), NULL), 0);
    assert_int_equal(be.state, 6);
    assert_int_equal(bad_ends, 0);
    /* Grants of requests the liar still holds stay granted, and their
     * pages are given up; nothing else is kept. */
    for (unsigned r = 0; r < MAX_GRANTS; r++) {
        if (grants[r].used) {
            free(grants[r].page);
            pages_out--;
        }
    }
    memset(grants, 0, sizeof grants);
    grants_in_use = 0;
    assert_int_equal(pages_out, 0);
    free(in);
}

static void lying_backends(void **state)
{
    (void)state;
    lies(BAD_ID, "a response to no request in flight");
    lies(WRONG_OP, "a response to no request in flight");
    lies(REPLAY, "a response to no request in flight");
    lies(PROD_JUMP, "the ring's response index is out of range");
}

int main(void)
{
#define BLK_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        BLK_TEST(connects_and_disconnects),
        BLK_TEST(large_requests_take_many_ring_requests),
        BLK_TEST(out_of_order_and_concurrent),
        BLK_TEST(sector_size_4096),
        BLK_TEST(error_statuses),
        BLK_TEST(flush_by_barrier_or_none),
        BLK_TEST(read_only_disks),
        BLK_TEST(cancelled_in_flight),
        BLK_TEST(close_with_requests_in_flight),
        BLK_TEST(handshake_failures),
        BLK_TEST(lying_backends),
    };
    return RUN_TESTS(tests);
}
