/* The netfront's data path (os-xen/netfront.h) against a scripted backend
 * over real ring pages in memory.
 *
 * The test plays everything on the other side: a grant table that checks
 * every access the backend makes (granted, to that domain, writable when
 * written), a netback that takes TX requests and answers them and copies
 * frames into posted RX pages, and the event channel (netfront_on_event,
 * then the deferred queue drained as the scheduler would). Then it lies:
 * responses with wrong ids, offsets and sizes, error statuses, multi-slot
 * frames, partial checksums, runts and giants, and producer indexes from
 * nowhere. None of them may crash or leak; each is counted and dropped.
 */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwt_errno.h"
#include "netfront.h"

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/netif.h>

#define BACKEND 7
#define GRANTS  2048
#define RX_RING 256

/* ---- The platform: pages, grants, the event channel ------------------------ */

static size_t live_pages;

static void *page_alloc(void)
{
    void *p = aligned_alloc(NETFRONT_PAGE, NETFRONT_PAGE);
    if (p) {
        memset(p, 0, NETFRONT_PAGE);
        live_pages++;
    }
    return p;
}

static void page_free(void *p)
{
    live_pages--;
    free(p);
}

static struct {
    const void *page;
    uint16_t dom;
    bool readonly, in_use, mapped;
} grants[GRANTS];
static unsigned grants_in_use, notified;

static int grant(uint16_t dom, const void *page, bool readonly)
{
    for (int ref = 8; ref < GRANTS; ref++)
        if (!grants[ref].in_use) {
            grants[ref].page = page;
            grants[ref].dom = dom;
            grants[ref].readonly = readonly;
            grants[ref].in_use = true;
            grants_in_use++;
            return ref;
        }
    return -LWT_ENOSPC;
}

static int end_grant(uint32_t ref)
{
    assert_true(ref < GRANTS && grants[ref].in_use);
    if (grants[ref].mapped)
        return -LWT_EBUSY;
    grants[ref].in_use = false;
    grants_in_use--;
    return 0;
}

static void notify(void *ctx)
{
    (void)ctx;
    notified++;
}

static const struct netfront_env env = {page_alloc, page_free, grant, end_grant, notify, NULL};

/* The page the backend reaches through ref, as netback would map or copy. */
static uint8_t *backend_page(uint32_t ref, bool write)
{
    assert_true(ref < GRANTS);
    assert_true(grants[ref].in_use);
    assert_int_equal(grants[ref].dom, BACKEND);
    if (write)
        assert_false(grants[ref].readonly);
    return (uint8_t *)grants[ref].page;
}

/* ---- The backend ------------------------------------------------------------- */

static struct netfront *nf;
static netif_tx_back_ring_t btx;
static netif_rx_back_ring_t brx;

static void up(void)
{
    memset(grants, 0, sizeof grants);
    grants_in_use = notified = 0;
    static const uint8_t mac[6] = {0, 0x16, 0x3e, 1, 2, 3};
    assert_int_equal(netfront_new(&env, BACKEND, mac, 1500, "vif0", &nf), 0);
    uint32_t tx_ref, rx_ref;
    netfront_ring_refs(nf, &tx_ref, &rx_ref);
    BACK_RING_INIT(&btx, (netif_tx_sring_t *)(void *)backend_page(tx_ref, true), NETFRONT_PAGE);
    BACK_RING_INIT(&brx, (netif_rx_sring_t *)(void *)backend_page(rx_ref, true), NETFRONT_PAGE);
    assert_ptr_equal(btx.sring, netfront_tx_sring(nf));
    assert_ptr_equal(brx.sring, netfront_rx_sring(nf));
}

static void down(void)
{
    if (nf) {
        netfront_stop(nf);
        assert_int_equal(netfront_end_grants(nf), 0);
        netfront_free(nf);
        nf = NULL;
    }
    drain();
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(live_pages, 0);
}

static void event(void)
{
    netfront_on_event(nf);
    drain();
}

/* Takes every TX request; answers each with status (a NETIF_RSP_*) unless
 * answer is false. Copies the frames into got[] (lengths in got_len). */
static uint8_t got[NETFRONT_TX_BUFS + 8][2048];
static size_t got_len[NETFRONT_TX_BUFS + 8];
static uint16_t got_flags[NETFRONT_TX_BUFS + 8], got_id[NETFRONT_TX_BUFS + 8];

static unsigned backend_take_tx(bool answer, int16_t status)
{
    unsigned n = 0;
    RING_IDX prod = btx.sring->req_prod;
    for (; btx.req_cons != prod; btx.req_cons++, n++) {
        netif_tx_request_t req = *RING_GET_REQUEST(&btx, btx.req_cons);
        assert_true(grants[req.gref].readonly);
        assert_true((size_t)req.offset + req.size <= NETFRONT_PAGE);
        memcpy(got[n], backend_page(req.gref, false) + req.offset, req.size);
        got_len[n] = req.size;
        got_flags[n] = req.flags;
        got_id[n] = req.id;
        if (answer) {
            netif_tx_response_t *rsp = RING_GET_RESPONSE(&btx, btx.rsp_prod_pvt++);
            rsp->id = req.id;
            rsp->status = status;
        }
    }
    RING_PUSH_RESPONSES(&btx);
    return n;
}

static void backend_tx_response(uint16_t id, int16_t status)
{
    netif_tx_response_t *rsp = RING_GET_RESPONSE(&btx, btx.rsp_prod_pvt++);
    rsp->id = id;
    rsp->status = status;
    RING_PUSH_RESPONSES(&btx);
}

static unsigned rx_posted(void)
{
    return brx.sring->req_prod - brx.req_cons;
}

/* Writes a raw response into the next RX slot (consuming its request), the
 * frame's bytes copied to offset when len > 0. */
static void backend_rx_raw(uint16_t id_delta, uint16_t offset, uint16_t flags, int16_t status, const void *frame,
                           size_t len)
{
    assert_true(brx.req_cons != brx.sring->req_prod);
    netif_rx_request_t req = *RING_GET_REQUEST(&brx, brx.req_cons++);
    if (len)
        memcpy(backend_page(req.gref, true) + offset, frame, len);
    netif_rx_response_t *rsp = RING_GET_RESPONSE(&brx, brx.rsp_prod_pvt++);
    rsp->id = (uint16_t)(req.id + id_delta);
    rsp->offset = offset;
    rsp->flags = flags;
    rsp->status = status;
}

/* An extra-info slot (it overlays a response). */
static void backend_rx_extra(uint8_t flags)
{
    brx.req_cons++;
    struct netif_extra_info *x = (void *)RING_GET_RESPONSE(&brx, brx.rsp_prod_pvt++);
    memset(x, 0, sizeof *x);
    x->type = XEN_NETIF_EXTRA_TYPE_GSO;
    x->flags = flags;
}

static void backend_rx_push(void)
{
    RING_PUSH_RESPONSES(&brx);
}

static void backend_rx(const void *frame, size_t len, uint16_t offset)
{
    backend_rx_raw(0, offset, NETRXF_data_validated, (int16_t)len, frame, len);
    backend_rx_push();
}

/* ---- The stack's side ---------------------------------------------------------- */

struct fill_ctx {
    size_t len;
    uint8_t seed;
    unsigned calls;
};

static int fill(struct net_slice *frame, void *ctx)
{
    struct fill_ctx *f = ctx;
    f->calls++;
    if (f->len > frame->len)
        return -LWT_EMSGSIZE;
    uint8_t *p = net_slice_data(frame);
    for (size_t i = 0; i < f->len; i++)
        p[i] = (uint8_t)(f->seed + i);
    return (int)f->len;
}

static int send(size_t len, uint8_t seed)
{
    struct fill_ctx f = {len, seed, 0};
    return netif_write(netfront_netif(nf), len, fill, &f);
}

static void check_frame(const uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++)
        assert_int_equal(p[i], (uint8_t)(seed + i));
}

#define KEEP_MAX 16
static struct net_slice kept[KEEP_MAX];
static unsigned received, keep, nkept;
static size_t last_len;

/* Keeps the frame if asked to (keep), else looks at it and lets it go. */
static void on_frame(void *ctx, struct net_slice frame)
{
    (void)ctx;
    received++;
    last_len = frame.len;
    if (keep) {
        assert_true(nkept < KEEP_MAX);
        kept[nkept++] = frame;
        keep--;
    } else {
        net_slice_release(&frame);
    }
}

static void release_all(void)
{
    for (unsigned i = 0; i < nkept; i++)
        net_slice_release(&kept[i]);
    nkept = 0;
    received = 0;
    keep = 0;
}

static int setup(void **state)
{
    test_setup(state);
    up();
    return 0;
}

static int teardown(void **state)
{
    release_all();
    down();
    return test_teardown(state);
}

/* ---- Tests ------------------------------------------------------------------ */

static void nothing_moves_before_start(void **state)
{
    (void)state;
    struct netif *n = netfront_netif(nf);
    assert_int_equal(n->mtu, 1500);
    assert_true(n->tx_csum);
    assert_int_equal(n->tso_max, 0);
    /* Two rings and the TX pages are granted; no RX page is posted. */
    assert_int_equal(grants_in_use, 2 + NETFRONT_TX_BUFS);
    assert_int_equal(rx_posted(), 0);
    assert_int_equal(send(60, 1), -LWT_ENETDOWN);
    lwt_t *w = netif_wait_writable(n);
    assert_pending(w);
    netfront_start(nf);
    drain();
    assert_fulfilled(w);
    lwt_unref(w);
    assert_int_equal(rx_posted(), NETFRONT_RX_POST);
    assert_int_equal(grants_in_use, 2 + NETFRONT_TX_BUFS + NETFRONT_RX_POST);
    assert_true(notified > 0);
}

static void frames_go_out_in_place(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    assert_int_equal(send(60, 1), 0);
    assert_int_equal(send(1514, 2), 0);
    assert_int_equal(send(1515, 3), -LWT_EMSGSIZE);
    assert_int_equal(backend_take_tx(true, NETIF_RSP_OKAY), 2);
    assert_int_equal(got_len[0], 60);
    check_frame(got[0], 60, 1);
    assert_int_equal(got_len[1], 1514);
    check_frame(got[1], 1514, 2);
    assert_int_equal(got_flags[0], 0);
    event();
    assert_int_equal(n->stats.tx_frames, 2);
    assert_int_equal(n->stats.tx_bytes, 60 + 1514);
    /* A fill that refuses sends nothing and is counted. */
    struct fill_ctx f = {2000, 0, 0};
    assert_int_equal(netif_write(n, 1514, fill, &f), -LWT_EMSGSIZE);
    assert_int_equal(n->stats.tx_dropped, 1);
    assert_int_equal(backend_take_tx(true, NETIF_RSP_OKAY), 0);
    /* The backend's drops and errors are counted too. */
    assert_int_equal(send(100, 4), 0);
    assert_int_equal(send(100, 5), 0);
    backend_take_tx(false, 0);
    backend_tx_response(got_id[0], NETIF_RSP_DROPPED);
    backend_tx_response(got_id[1], NETIF_RSP_ERROR);
    event();
    assert_int_equal(n->stats.tx_dropped, 2);
    assert_int_equal(n->stats.tx_errors, 1);
}

static void a_full_ring_waits_for_responses(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    for (int i = 0; i < NETFRONT_TX_BUFS; i++)
        assert_int_equal(send(64, (uint8_t)i), 0);
    struct fill_ctx f = {64, 0, 0};
    assert_int_equal(netif_write(n, 64, fill, &f), -LWT_EAGAIN);
    assert_int_equal(f.calls, 0);
    lwt_t *w1 = netif_wait_writable(n), *w2 = netif_wait_writable(n);
    assert_pending(w1);
    lwt_cancel(w2); /* a cancelled waiter leaves the others alone */
    assert_rejected(w2);
    assert_int_equal(backend_take_tx(false, 0), NETFRONT_TX_BUFS);
    event();
    assert_pending(w1);
    backend_tx_response(got_id[0], NETIF_RSP_OKAY);
    event();
    assert_fulfilled(w1);
    lwt_unref(w1);
    lwt_unref(w2);
    assert_int_equal(send(64, 9), 0);
    assert_int_equal(send(64, 9), -LWT_EAGAIN);
    /* Answer the rest: every page comes back. */
    for (int i = 1; i < NETFRONT_TX_BUFS; i++)
        backend_tx_response(got_id[i], NETIF_RSP_OKAY);
    backend_take_tx(true, NETIF_RSP_OKAY);
    event();
    for (int i = 0; i < NETFRONT_TX_BUFS; i++)
        assert_int_equal(send(64, (uint8_t)i), 0);
    backend_take_tx(true, NETIF_RSP_OKAY);
    event();
}

static void partial_checksums_and_tails(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    static const uint8_t tail0[] = {0xaa, 0xbb}, tail1[] = {0xcc};
    struct netif_tx_offload off = {.csum_partial = true, .csum_start = 34, .csum_offset = 16};
    off.tail[0] = tail0;
    off.tail_len[0] = sizeof tail0;
    off.tail[1] = tail1;
    off.tail_len[1] = sizeof tail1;
    struct fill_ctx f = {60, 7, 0};
    assert_int_equal(netif_write_offload(n, 63, &off, fill, &f), 0);
    assert_int_equal(backend_take_tx(true, NETIF_RSP_OKAY), 1);
    assert_int_equal(got_len[0], 63);
    check_frame(got[0], 60, 7);
    assert_memory_equal(got[0] + 60, "\xaa\xbb\xcc", 3);
    assert_int_equal(got_flags[0], NETTXF_csum_blank | NETTXF_data_validated);
    /* No TSO here; a checksum field past the frame is refused. */
    struct netif_tx_offload tso = {
        .gso_size = 1448, .hdr_len = 54, .csum_partial = true, .csum_start = 34, .csum_offset = 16};
    assert_int_equal(netif_write_offload(n, 3000, &tso, fill, &f), -LWT_EINVAL);
    struct netif_tx_offload past = {.csum_partial = true, .csum_start = 50, .csum_offset = 16};
    f.len = 60;
    assert_int_equal(netif_write_offload(n, 60, &past, fill, &f), -LWT_EINVAL);
    event();
}

static void frames_come_up_as_slices_and_pages_go_back(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    netif_listen(n, on_frame, NULL);
    uint8_t frame[1514];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)(3 * i);
    backend_rx(frame, 1514, 0);
    backend_rx(frame, 60, 2048); /* anywhere in the page */
    keep = 2;
    event();
    assert_int_equal(received, 2);
    assert_int_equal(kept[0].len, 1514);
    assert_memory_equal(net_slice_data(&kept[0]), frame, 1514);
    assert_int_equal(kept[1].len, 60);
    assert_memory_equal(net_slice_data(&kept[1]), frame, 60);
    assert_int_equal(n->stats.rx_frames, 2);
    assert_int_equal(n->stats.rx_bytes, 1574);
    /* Held pages are replaced from fresh ones: the ring stays full, and
     * the held pages are no longer granted. */
    assert_int_equal(rx_posted(), NETFRONT_RX_POST);
    assert_int_equal(grants_in_use, 2 + NETFRONT_TX_BUFS + NETFRONT_RX_POST);
    release_all();
    drain();
    assert_int_equal(rx_posted(), NETFRONT_RX_POST);
    /* Many more frames than the ring holds, released as they come. */
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 100; i++)
            backend_rx(frame, 100, 0);
        event();
        assert_int_equal(n->stats.rx_frames, 2 + 100u * (unsigned)(round + 1));
        assert_int_equal(rx_posted(), NETFRONT_RX_POST);
    }
    assert_int_equal(n->stats.rx_dropped, 0);
    /* Without a listener, frames are dropped and counted. */
    netif_listen(n, NULL, NULL);
    received = 0;
    backend_rx(frame, 100, 0);
    event();
    assert_int_equal(n->stats.rx_dropped, 1);
    assert_int_equal(received, 0);
}

static void lies_are_dropped_and_counted(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    netif_listen(n, on_frame, NULL);
    uint8_t frame[2048];
    memset(frame, 0x5a, sizeof frame);
    log_set_default_level(LOG_ERROR); /* each is logged; keep the output short */
    /* Broken rules: counted as bad. */
    backend_rx_raw(1, 0, 0, 100, frame, 100);                 /* another slot's id */
    backend_rx_raw(0, 4000, 0, 200, frame, 0);                /* past the page's end */
    backend_rx_raw(0, 4096, 0, 1, frame, 0);                  /* offset outside */
    backend_rx_raw(0, 0, 0, 0, frame, 0);                     /* no bytes */
    backend_rx_raw(0, 0, NETRXF_csum_blank, 100, frame, 100); /* never negotiated */
    /* A three-slot frame, with two extra-info slots after its first. */
    backend_rx_raw(0, 0, NETRXF_more_data | NETRXF_extra_info, 1000, frame, 1000);
    backend_rx_extra(XEN_NETIF_EXTRA_FLAG_MORE);
    backend_rx_extra(0);
    backend_rx_raw(0, 0, NETRXF_more_data, 1000, frame, 1000);
    backend_rx_raw(0, 0, 0, 500, frame, 500);
    /* Not broken rules, but not frames for us either. */
    backend_rx_raw(0, 0, 0, NETIF_RSP_ERROR, frame, 0);
    backend_rx_raw(0, 0, 0, NETIF_RSP_DROPPED, frame, 0);
    backend_rx_raw(0, 0, 0, 13, frame, 13);     /* a runt */
    backend_rx_raw(0, 0, 0, 1515, frame, 1515); /* bigger than the MTU allows */
    /* And a good one after all that. */
    backend_rx_raw(0, 0, 0, 64, frame, 64);
    backend_rx_push();
    event();
    log_set_default_level(LOG_INFO);
    assert_int_equal(received, 1);
    assert_int_equal(last_len, 64);
    const struct netfront_stats *xs = netfront_stats(nf);
    assert_int_equal(xs->rx_bad, 6);
    assert_int_equal(xs->rx_errors, 2);
    assert_int_equal(n->stats.rx_dropped, 10);
    assert_int_equal(n->stats.rx_frames, 1);
    release_all();
    drain();
    /* Every page went back on the ring. */
    assert_int_equal(rx_posted(), NETFRONT_RX_POST);
    assert_false(netfront_broken(nf));

    /* TX responses for ids not in flight, or twice, are ignored. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(send(60, 1), 0);
    assert_int_equal(backend_take_tx(false, 0), 3);
    log_set_default_level(LOG_ERROR);
    backend_tx_response(got_id[0], NETIF_RSP_OKAY);
    backend_tx_response(got_id[0], NETIF_RSP_OKAY);
    backend_tx_response(60000, NETIF_RSP_OKAY);
    event();
    assert_int_equal(xs->tx_bad, 2);
    assert_false(netfront_broken(nf));
    /* A fourth claims more responses than requests: that breaks the ring. */
    backend_tx_response(got_id[1], NETIF_RSP_OKAY);
    event();
    log_set_default_level(LOG_INFO);
    assert_true(netfront_broken(nf));
    assert_int_equal(send(60, 1), -LWT_EIO);
}

static void producers_from_nowhere_break_the_ring(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    struct netif *n = netfront_netif(nf);
    netif_listen(n, on_frame, NULL);
    lwt_t *w = NULL;
    for (int i = 0; i < NETFRONT_TX_BUFS; i++)
        assert_int_equal(send(60, 0), 0);
    w = netif_wait_writable(n);
    assert_pending(w);
    /* RX: responses to more requests than were posted. */
    brx.sring->rsp_prod = brx.rsp_prod_pvt + NETFRONT_RX_POST + 1;
    log_set_default_level(LOG_ERROR);
    event();
    log_set_default_level(LOG_INFO);
    assert_true(netfront_broken(nf));
    assert_int_equal(received, 0);
    assert_rejected(w);
    assert_int_equal(lwt_error(w), -LWT_EIO);
    lwt_unref(w);
    assert_int_equal(send(60, 0), -LWT_EIO);
    w = netif_wait_writable(n);
    assert_rejected(w);
    lwt_unref(w);
    event(); /* nothing more is read */
    /* It still comes apart cleanly (down() checks grants and pages). */
}

static void a_held_page_outlives_the_netfront(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    netif_listen(netfront_netif(nf), on_frame, NULL);
    uint8_t frame[100];
    memset(frame, 0x77, sizeof frame);
    backend_rx(frame, sizeof frame, 100);
    keep = 1;
    event();
    assert_int_equal(received, 1);
    netfront_stop(nf);
    /* The backend still maps a TX page: its grant cannot end yet. */
    grants[8 + 2].mapped = true;
    assert_int_equal(netfront_end_grants(nf), 1);
    grants[8 + 2].mapped = false;
    assert_int_equal(netfront_end_grants(nf), 0);
    netfront_free(nf);
    nf = NULL;
    assert_int_equal(grants_in_use, 0);
    assert_int_equal(live_pages, 1);
    assert_memory_equal(net_slice_data(&kept[0]), frame, sizeof frame);
    release_all();
    assert_int_equal(live_pages, 0);
}

static void a_page_the_backend_keeps_is_left_to_it(void **state)
{
    (void)state;
    netfront_start(nf);
    drain();
    netfront_stop(nf);
    /* One posted RX page stays mapped: after a few tries it is given up. */
    uint32_t ref = RING_GET_REQUEST(&brx, brx.req_cons)->gref;
    grants[ref].mapped = true;
    assert_int_equal(netfront_end_grants(nf), 1);
    log_set_default_level(LOG_ERROR);
    netfront_free(nf);
    log_set_default_level(LOG_INFO);
    nf = NULL;
    assert_int_equal(grants_in_use, 1);
    assert_int_equal(live_pages, 1);
    /* What the backend would do once it lets go; the test frees the page. */
    grants[ref].mapped = false;
    assert_int_equal(end_grant(ref), 0);
    page_free((void *)grants[ref].page);
}

static void bad_arguments(void **state)
{
    (void)state;
    struct netfront *other;
    static const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
    log_set_default_level(LOG_ERROR);
    assert_int_equal(netfront_new(&env, BACKEND, mac, 1501, "vif1", &other), -LWT_EINVAL);
    assert_int_equal(netfront_new(&env, BACKEND, mac, 67, "vif1", &other), -LWT_EINVAL);
    log_set_default_level(LOG_INFO);
    assert_null(other);
    /* The grant table running out midway takes nothing with it. */
    unsigned before = grants_in_use;
    for (int ref = 8; ref < GRANTS; ref++)
        if (!grants[ref].in_use && ref > 8 + (int)before + 100)
            grants[ref].in_use = true;
    log_set_default_level(LOG_ERROR);
    assert_int_equal(netfront_new(&env, BACKEND, mac, 0, "vif1", &other), -LWT_ENOSPC);
    log_set_default_level(LOG_INFO);
    for (int ref = 8; ref < GRANTS; ref++)
        if (ref > 8 + (int)before + 100)
            grants[ref].in_use = false;
    assert_int_equal(grants_in_use, before);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(nothing_moves_before_start),
        T(frames_go_out_in_place),
        T(a_full_ring_waits_for_responses),
        T(partial_checksums_and_tails),
        T(frames_come_up_as_slices_and_pages_go_back),
        T(lies_are_dropped_and_counted),
        T(producers_from_nowhere_break_the_ring),
        T(a_held_page_outlives_the_netfront),
        T(a_page_the_backend_keeps_is_left_to_it),
        T(bad_arguments),
    };
    return RUN_TESTS(tests);
}
