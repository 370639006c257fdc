/* The xenstore client (os-xen/xenstore.h) against a scripted xenstored on
 * the other side of a real ring page in memory.
 *
 * The peer below plays the other domain: it reads requests out of the
 * request ring, answers them from a small key/value tree of its own (with
 * transactions and watches), and writes answers and watch events into the
 * response ring as many bytes at a time as the test lets it. It can hold
 * its answers back so that the test sends them in any order, fail the next
 * request with a given error, and the test can write raw bytes into the
 * ring. The test plays the event channel: it calls xenstore_on_event after
 * the peer acted, and drains the deferred queue as the scheduler would.
 */
#include <errno.h> /* first: xs_wire.h then declares its xsd_errors table */

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xenstore.h"

#define HDR sizeof(struct xsd_sockmsg)

/* ---- The peer's tree ------------------------------------------------------ */

struct node {
    char *path;
    char *value;
    size_t len;
};

struct tree {
    struct node *n;
    size_t count;
};

static char *dup_bytes(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    assert_non_null(d);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static void tree_free(struct tree *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->n[i].path);
        free(t->n[i].value);
    }
    free(t->n);
    t->n = NULL;
    t->count = 0;
}

static struct tree tree_copy(const struct tree *t)
{
    struct tree c = {malloc((t->count + 1) * sizeof *c.n), t->count};
    assert_non_null(c.n);
    for (size_t i = 0; i < t->count; i++) {
        c.n[i].path = dup_bytes(t->n[i].path, strlen(t->n[i].path));
        c.n[i].value = dup_bytes(t->n[i].value, t->n[i].len);
        c.n[i].len = t->n[i].len;
    }
    return c;
}

static struct node *tree_find(struct tree *t, const char *path)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->n[i].path, path) == 0)
            return &t->n[i];
    return NULL;
}

static struct node *tree_add(struct tree *t, const char *path, size_t plen)
{
    t->n = realloc(t->n, (t->count + 1) * sizeof *t->n);
    assert_non_null(t->n);
    struct node *n = &t->n[t->count++];
    n->path = dup_bytes(path, plen);
    n->value = dup_bytes("", 0);
    n->len = 0;
    return n;
}

/* path and its parents exist afterwards; returns path's node. */
static struct node *tree_ensure(struct tree *t, const char *path)
{
    size_t len = strlen(path);
    for (size_t i = 1; i < len; i++) {
        if (path[i] != '/')
            continue;
        char *parent = dup_bytes(path, i);
        if (!tree_find(t, parent))
            tree_add(t, parent, i);
        free(parent);
    }
    struct node *n = tree_find(t, path);
    return n ? n : tree_add(t, path, len);
}

static bool is_below(const char *path, const char *top)
{
    size_t n = strlen(top);
    return strncmp(path, top, n) == 0 && path[n] == '/';
}

static void tree_rm(struct tree *t, const char *path)
{
    size_t kept = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->n[i].path, path) == 0 || is_below(t->n[i].path, path)) {
            free(t->n[i].path);
            free(t->n[i].value);
        } else {
            t->n[kept++] = t->n[i];
        }
    }
    t->count = kept;
}

/* ---- The peer ------------------------------------------------------------- */

struct msg {
    char *data;
    size_t len;
};

struct peer_watch {
    char *path, *token;
};

#define PEER_MAX_HELD 256
#define PEER_MAX_TX   8

static struct {
    struct xenstore_domain_interface *page;
    char req[HDR + XENSTORE_PAYLOAD_MAX];
    size_t req_got;
    size_t served;           /* requests handled */
    struct xsd_sockmsg last; /* the last request's header */
    struct tree tree;
    uint64_t gen; /* bumped by every change outside a transaction */
    struct {
        uint32_t id;
        struct tree t;
        uint64_t base;
    } tx[PEER_MAX_TX];
    uint32_t next_tx;
    struct peer_watch watches[64];
    size_t nwatches;
    bool hold; /* keep messages in held[] for the test to release */
    struct msg held[PEER_MAX_HELD];
    size_t nheld;
    char *out; /* the stream still to go into the response ring */
    size_t out_len, out_off;
    const char *fail_next; /* answer the next request with this error */
} peer;

static void out_append(const void *data, size_t len)
{
    peer.out = realloc(peer.out, peer.out_len + len + 1);
    assert_non_null(peer.out);
    memcpy(peer.out + peer.out_len, data, len);
    peer.out_len += len;
}

static void peer_message(uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload, size_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = (uint32_t)len};
    char *m = malloc(HDR + len + 1);
    assert_non_null(m);
    memcpy(m, &h, HDR);
    memcpy(m + HDR, payload, len);
    if (peer.hold) {
        assert_true(peer.nheld < PEER_MAX_HELD);
        peer.held[peer.nheld++] = (struct msg){m, HDR + len};
    } else {
        out_append(m, HDR + len);
        free(m);
    }
}

/* Held message i goes into the outgoing stream (and out of held[]). */
static void peer_release(size_t i)
{
    assert_true(i < peer.nheld);
    out_append(peer.held[i].data, peer.held[i].len);
    free(peer.held[i].data);
    memmove(&peer.held[i], &peer.held[i + 1], (peer.nheld - i - 1) * sizeof peer.held[0]);
    peer.nheld--;
}

static void peer_release_all(void)
{
    while (peer.nheld)
        peer_release(0);
}

static void peer_event(const char *path, const char *token)
{
    size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
    char buf[HDR + XENSTORE_PAYLOAD_MAX];
    memcpy(buf, path, pl);
    memcpy(buf + pl, token, tl);
    peer_message(XS_WATCH_EVENT, 0, 0, buf, pl + tl);
}

/* What xenstored does after a change to path (or the removal of it). */
static void peer_fire(const char *path, bool removed)
{
    for (size_t i = 0; i < peer.nwatches; i++) {
        struct peer_watch *w = &peer.watches[i];
        if (strcmp(path, w->path) == 0 || is_below(path, w->path))
            peer_event(path, w->token);
        else if (removed && is_below(w->path, path))
            peer_event(w->path, w->token);
    }
}

static void answer_error(const struct xsd_sockmsg *h, const char *name)
{
    peer_message(XS_ERROR, h->req_id, h->tx_id, name, strlen(name) + 1);
}

static void answer_ok(const struct xsd_sockmsg *h)
{
    peer_message(h->type, h->req_id, h->tx_id, "OK", 3);
}

/* The single NUL-terminated string a payload must be. */
static const char *one_string(const char *pl, uint32_t len)
{
    assert_true(len > 0);
    assert_int_equal(pl[len - 1], '\0');
    assert_int_equal(strlen(pl), len - 1);
    return pl;
}

static int tx_index(uint32_t id)
{
    for (int i = 0; i < PEER_MAX_TX; i++)
        if (peer.tx[i].id && peer.tx[i].id == id)
            return i;
    return -1;
}

static void peer_handle(void)
{
    struct xsd_sockmsg h;
    memcpy(&h, peer.req, HDR);
    const char *pl = peer.req + HDR;
    uint32_t len = h.len;
    peer.served++;
    peer.last = h;
    if (peer.fail_next) {
        answer_error(&h, peer.fail_next);
        peer.fail_next = NULL;
        return;
    }
    struct tree *t = &peer.tree;
    if (h.tx_id && h.type != XS_TRANSACTION_END) {
        int i = tx_index(h.tx_id);
        if (i < 0) {
            answer_error(&h, "ENOENT");
            return;
        }
        t = &peer.tx[i].t;
    }
    bool global = t == &peer.tree;

    switch (h.type) {
    case XS_READ: {
        struct node *n = tree_find(t, one_string(pl, len));
        if (!n)
            answer_error(&h, "ENOENT");
        else
            peer_message(XS_READ, h.req_id, h.tx_id, n->value, n->len);
        break;
    }
    case XS_WRITE: {
        /* "path\0value", the value without a NUL. */
        const char *nul = memchr(pl, '\0', len);
        assert_non_null(nul);
        size_t plen = (size_t)(nul - pl);
        struct node *n = tree_ensure(t, pl);
        free(n->value);
        n->len = len - plen - 1;
        n->value = dup_bytes(nul + 1, n->len);
        answer_ok(&h);
        if (global) {
            peer.gen++;
            peer_fire(pl, false);
        }
        break;
    }
    case XS_MKDIR: {
        const char *path = one_string(pl, len);
        bool existed = tree_find(t, path) != NULL;
        tree_ensure(t, path);
        answer_ok(&h);
        if (global && !existed) {
            peer.gen++;
            peer_fire(path, false);
        }
        break;
    }
    case XS_RM: {
        const char *path = one_string(pl, len);
        if (!tree_find(t, path)) {
            answer_error(&h, "ENOENT");
            break;
        }
        tree_rm(t, path);
        answer_ok(&h);
        if (global) {
            peer.gen++;
            peer_fire(path, true);
        }
        break;
    }
    case XS_DIRECTORY: {
        const char *path = one_string(pl, len);
        if (!tree_find(t, path)) {
            answer_error(&h, "ENOENT");
            break;
        }
        char buf[XENSTORE_PAYLOAD_MAX];
        size_t blen = 0;
        for (size_t i = 0; i < t->count; i++) {
            const char *c = t->n[i].path;
            if (!is_below(c, path) || strchr(c + strlen(path) + 1, '/'))
                continue;
            size_t cl = strlen(c + strlen(path) + 1) + 1;
            assert_true(blen + cl <= sizeof buf);
            memcpy(buf + blen, c + strlen(path) + 1, cl);
            blen += cl;
        }
        peer_message(XS_DIRECTORY, h.req_id, h.tx_id, buf, blen);
        break;
    }
    case XS_TRANSACTION_START: {
        assert_int_equal(len, 1);
        assert_int_equal(pl[0], '\0');
        int i;
        for (i = 0; i < PEER_MAX_TX && peer.tx[i].id; i++)
            ;
        assert_true(i < PEER_MAX_TX);
        peer.tx[i].id = 1000 + ++peer.next_tx;
        peer.tx[i].t = tree_copy(&peer.tree);
        peer.tx[i].base = peer.gen;
        char id[16];
        int n = snprintf(id, sizeof id, "%u", peer.tx[i].id);
        peer_message(XS_TRANSACTION_START, h.req_id, 0, id, (size_t)n + 1);
        break;
    }
    case XS_TRANSACTION_END: {
        const char *how = one_string(pl, len);
        assert_true(strcmp(how, "T") == 0 || strcmp(how, "F") == 0);
        int i = tx_index(h.tx_id);
        if (i < 0) {
            answer_error(&h, "ENOENT");
            break;
        }
        bool commit = how[0] == 'T';
        if (commit && peer.tx[i].base != peer.gen) {
            answer_error(&h, "EAGAIN");
            tree_free(&peer.tx[i].t);
        } else if (commit) {
            tree_free(&peer.tree);
            peer.tree = peer.tx[i].t;
            peer.gen++;
            answer_ok(&h);
        } else {
            tree_free(&peer.tx[i].t);
            answer_ok(&h);
        }
        peer.tx[i].id = 0;
        break;
    }
    case XS_WATCH:
    case XS_UNWATCH: {
        /* "path\0token\0" */
        const char *nul = memchr(pl, '\0', len);
        assert_non_null(nul);
        const char *token = one_string(nul + 1, len - (uint32_t)(nul + 1 - pl));
        size_t i;
        for (i = 0; i < peer.nwatches; i++)
            if (strcmp(peer.watches[i].path, pl) == 0 && strcmp(peer.watches[i].token, token) == 0)
                break;
        if (h.type == XS_WATCH) {
            if (i < peer.nwatches) {
                answer_error(&h, "EEXIST");
                break;
            }
            assert_true(peer.nwatches < 64);
            peer.watches[peer.nwatches++] =
                (struct peer_watch){dup_bytes(pl, strlen(pl)), dup_bytes(token, strlen(token))};
            answer_ok(&h);
            /* Fired once up front, as xenstored does. */
            peer_event(pl, token);
        } else {
            if (i == peer.nwatches) {
                answer_error(&h, "ENOENT");
                break;
            }
            free(peer.watches[i].path);
            free(peer.watches[i].token);
            peer.watches[i] = peer.watches[--peer.nwatches];
            answer_ok(&h);
        }
        break;
    }
    default:
        fail_msg("unexpected request type %u", h.type);
    }
}

/* Reads every request byte the client produced; returns how many. */
static size_t peer_serve(void)
{
    struct xenstore_domain_interface *pg = peer.page;
    size_t moved = 0;
    assert_true(pg->req_prod - pg->req_cons <= XENSTORE_RING_SIZE);
    while (pg->req_cons != pg->req_prod) {
        peer.req[peer.req_got++] = pg->req[MASK_XENSTORE_IDX(pg->req_cons)];
        pg->req_cons++;
        moved++;
        if (peer.req_got < HDR)
            continue;
        struct xsd_sockmsg h;
        memcpy(&h, peer.req, HDR);
        assert_true(h.len <= XENSTORE_PAYLOAD_MAX);
        if (peer.req_got == HDR + h.len) {
            peer.req_got = 0;
            peer_handle();
        }
    }
    return moved;
}

/* Writes up to max bytes of the outgoing stream into the response ring;
 * returns how many. */
static size_t peer_pump(size_t max)
{
    struct xenstore_domain_interface *pg = peer.page;
    size_t moved = 0;
    while (moved < max && peer.out_off < peer.out_len && pg->rsp_prod - pg->rsp_cons < XENSTORE_RING_SIZE) {
        pg->rsp[MASK_XENSTORE_IDX(pg->rsp_prod)] = peer.out[peer.out_off++];
        pg->rsp_prod++;
        moved++;
    }
    if (peer.out_off == peer.out_len)
        peer.out_off = peer.out_len = 0;
    return moved;
}

static void peer_init(void)
{
    memset(&peer, 0, sizeof peer);
    peer.page = calloc(1, sizeof *peer.page); /* exactly a page's struct: reads past it are caught */
    assert_non_null(peer.page);
    tree_ensure(&peer.tree, "/");
}

static void peer_free(void)
{
    tree_free(&peer.tree);
    for (int i = 0; i < PEER_MAX_TX; i++)
        if (peer.tx[i].id)
            tree_free(&peer.tx[i].t);
    for (size_t i = 0; i < peer.nwatches; i++) {
        free(peer.watches[i].path);
        free(peer.watches[i].token);
    }
    for (size_t i = 0; i < peer.nheld; i++)
        free(peer.held[i].data);
    free(peer.out);
    free(peer.page);
}

/* ---- The client side ---------------------------------------------------------- */

static struct xenstore *xs;
static unsigned notified;
static char logged[8192];
static size_t logged_len;

static void notify(void *ctx)
{
    assert_ptr_equal(ctx, &notified);
    notified++;
}

static void capture_log(const char *text, size_t len)
{
    if (len > sizeof logged - 1 - logged_len)
        len = sizeof logged - 1 - logged_len;
    memcpy(logged + logged_len, text, len);
    logged_len += len;
    logged[logged_len] = '\0';
}

/* A new client over the peer's page, whose indexes all start at idx. */
static void connect_at(uint32_t idx)
{
    peer.page->req_cons = peer.page->req_prod = idx;
    peer.page->rsp_cons = peer.page->rsp_prod = idx;
    assert_int_equal(xenstore_init(xs, peer.page, notify, &notified), 0);
}

static int setup(void **state)
{
    test_setup(state);
    log_set_output(capture_log);
    logged_len = 0;
    logged[0] = '\0';
    notified = 0;
    peer_init();
    xs = malloc(sizeof *xs);
    assert_non_null(xs);
    connect_at(0);
    return 0;
}

static int teardown(void **state)
{
    xenstore_teardown(xs);
    drain();
    free(xs);
    peer_free();
    log_set_output(NULL);
    return test_teardown(state);
}

#define TEST_XS(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* The event channel until nothing moves: the peer serves what was sent,
 * releases its answers (unless holding them) and fills the response ring;
 * the client consumes and sends more. */
static void run(void)
{
    for (int i = 0; i < 100000; i++) {
        size_t moved = peer_serve();
        if (!peer.hold)
            peer_release_all();
        moved += peer_pump(SIZE_MAX);
        xenstore_on_event(xs);
        drain();
        if (!moved)
            return;
    }
    fail_msg("the exchange does not settle");
}

/* The value of a fulfilled promise (the caller frees it); consumes p. */
#define take_value(p) take_value_at((p), __LINE__)
static void *take_value_at(lwt_t *p, int line)
{
    if (lwt_state(p) != LWT_FULFILLED)
        fail_msg("line %d: not fulfilled: state %d, %s", line, lwt_state(p), lwt_strerror(lwt_error(p)));
    void *v = lwt_value(p);
    lwt_unref(p);
    return v;
}

/* The error of a rejected promise; consumes p. */
#define take_error(p) take_error_at((p), __LINE__)
static int take_error_at(lwt_t *p, int line)
{
    if (lwt_state(p) != LWT_REJECTED)
        fail_msg("line %d: not rejected: state %d", line, lwt_state(p));
    int err = lwt_error(p);
    lwt_unref(p);
    return err;
}

static void expect_ok(lwt_t *p)
{
    assert_null(take_value(p));
}

static void expect_read(const char *path, const char *want)
{
    lwt_t *p = xenstore_read(xs, 0, path);
    run();
    char *v = take_value(p);
    assert_string_equal(v, want);
    free(v);
}

static void must(lwt_t *p)
{
    run();
    expect_ok(p);
}

/* ---- Operations ------------------------------------------------------------------ */

static void write_then_read(void **state)
{
    (void)state;
    unsigned before = notified;
    lwt_t *w = xenstore_write(xs, 0, "/vm/name", "guest-1");
    assert_true(notified > before); /* it went into the ring at once */
    assert_pending(w);
    run();
    expect_ok(w);
    assert_string_equal(tree_find(&peer.tree, "/vm/name")->value, "guest-1");
    assert_int_equal(peer.last.type, XS_WRITE);
    assert_int_equal(peer.last.tx_id, 0);
    expect_read("/vm/name", "guest-1");
    /* An empty value, and a parent made implicitly. */
    must(xenstore_write(xs, 0, "/vm/empty", ""));
    expect_read("/vm/empty", "");
    expect_read("/vm", "");
    assert_int_equal(xenstore_outstanding(xs), 0);
    assert_int_equal(xenstore_error(xs), 0);
}

static void mkdir_directory_rm(void **state)
{
    (void)state;
    must(xenstore_mkdir(xs, 0, "/d"));
    expect_read("/d", "");
    must(xenstore_write(xs, 0, "/d/a", "1"));
    must(xenstore_write(xs, 0, "/d/bb", "2"));
    must(xenstore_mkdir(xs, 0, "/d/c/deeper"));

    lwt_t *p = xenstore_directory(xs, 0, "/d");
    run();
    struct xenstore_dir *d = take_value(p);
    assert_int_equal(d->count, 3);
    assert_string_equal(d->names[0], "a");
    assert_string_equal(d->names[1], "bb");
    assert_string_equal(d->names[2], "c");
    free(d);

    /* No children. */
    p = xenstore_directory(xs, 0, "/d/a");
    run();
    d = take_value(p);
    assert_int_equal(d->count, 0);
    free(d);

    must(xenstore_rm(xs, 0, "/d/c"));
    assert_null(tree_find(&peer.tree, "/d/c/deeper"));
    p = xenstore_directory(xs, 0, "/d");
    run();
    d = take_value(p);
    assert_int_equal(d->count, 2);
    free(d);
    must(xenstore_rm(xs, 0, "/d"));
    assert_null(tree_find(&peer.tree, "/d/a"));
}

/* Some daemons answer an empty directory with a single NUL; empty names
 * are no names. */
static void directory_with_empty_names(void **state)
{
    (void)state;
    peer.hold = true;
    lwt_t *p = xenstore_directory(xs, 0, "/");
    run();
    assert_int_equal(peer.nheld, 1);
    struct xsd_sockmsg h;
    memcpy(&h, peer.held[0].data, HDR);
    free(peer.held[0].data);
    peer.nheld = 0;
    static const char odd[] = "\0x\0\0yz\0";
    peer_message(XS_DIRECTORY, h.req_id, 0, odd, sizeof odd - 1);
    peer_release_all();
    run();
    struct xenstore_dir *d = take_value(p);
    assert_int_equal(d->count, 2);
    assert_string_equal(d->names[0], "x");
    assert_string_equal(d->names[1], "yz");
    free(d);

    p = xenstore_directory(xs, 0, "/");
    run();
    memcpy(&h, peer.held[0].data, HDR);
    free(peer.held[0].data);
    peer.nheld = 0;
    peer_message(XS_DIRECTORY, h.req_id, 0, "", 1);
    peer_release_all();
    run();
    d = take_value(p);
    assert_int_equal(d->count, 0);
    free(d);
    assert_int_equal(xenstore_error(xs), 0);
}

static void missing_nodes(void **state)
{
    (void)state;
    lwt_t *ps[] = {
        xenstore_read(xs, 0, "/nope"),
        xenstore_directory(xs, 0, "/nope"),
        xenstore_rm(xs, 0, "/nope"),
        xenstore_unwatch(xs, "/nope", "t"), /* refused here: no such watch */
        xenstore_transaction_end(xs, 4242, true),
        xenstore_read(xs, 4242, "/"), /* no such transaction */
    };
    run();
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        assert_int_equal(take_error(ps[i]), -LWT_ENOENT);
    assert_int_equal(xenstore_error(xs), 0);
    expect_read("/", "");
}

/* Every error xenstored names maps to the code of the same name. */
static void error_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof xsd_errors / sizeof xsd_errors[0]; i++) {
        peer.fail_next = xsd_errors[i].errstring;
        lwt_t *p = xenstore_read(xs, 0, "/");
        run();
        int err = take_error(p);
        if (err != -xsd_errors[i].errnum)
            fail_msg("%s gave %d (%s)", xsd_errors[i].errstring, err, lwt_strerror(err));
    }
    static const struct {
        const char *name;
        int err;
    } more[] = {
        {"EQUOTA", -LWT_ENOSPC},  {"EINVAL: Could not convert 'x' to int", -LWT_EINVAL},
        {"EACCES:", -LWT_EACCES}, {"ENOTAREALERROR", -LWT_EINVAL},
        {"", -LWT_EINVAL},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        peer.fail_next = more[i].name;
        lwt_t *p = xenstore_write(xs, 0, "/x", "y");
        run();
        assert_int_equal(take_error(p), more[i].err);
    }
    assert_non_null(strstr(logged, "ENOTAREALERROR"));
    assert_int_equal(xenstore_error(xs), 0);
    assert_int_equal(xenstore_outstanding(xs), 0);
}

static void bad_arguments(void **state)
{
    (void)state;
    size_t prod = peer.page->req_prod;
    assert_int_equal(take_error(xenstore_read(xs, 0, NULL)), -LWT_EINVAL);
    assert_int_equal(take_error(xenstore_write(xs, 0, "/a", NULL)), -LWT_EINVAL);
    assert_int_equal(take_error(xenstore_watch(xs, "/a", NULL, NULL, NULL)), -LWT_EINVAL);
    assert_int_equal(take_error(xenstore_unwatch(xs, NULL, "t")), -LWT_EINVAL);
    assert_int_equal(xenstore_init(xs, NULL, notify, NULL), -LWT_EINVAL);
    assert_int_equal(peer.page->req_prod, prod);
    assert_int_equal(xenstore_outstanding(xs), 0);
}

/* The payload limit is checked before anything is sent: path, its NUL and
 * the value may make exactly XENSTORE_PAYLOAD_MAX bytes. */
static void payload_limit(void **state)
{
    (void)state;
    char *value = malloc(XENSTORE_PAYLOAD_MAX + 1);
    memset(value, 'v', XENSTORE_PAYLOAD_MAX);
    value[XENSTORE_PAYLOAD_MAX - 5] = '\0'; /* "/big" + NUL + 4091 */
    must(xenstore_write(xs, 0, "/big", value));
    expect_read("/big", value);

    uint32_t prod = peer.page->req_prod;
    unsigned before = notified;
    value[XENSTORE_PAYLOAD_MAX - 5] = 'v';
    value[XENSTORE_PAYLOAD_MAX - 4] = '\0'; /* one more */
    assert_int_equal(take_error(xenstore_write(xs, 0, "/big", value)), -LWT_EINVAL);
    /* A path alone: its NUL counts. */
    value[XENSTORE_PAYLOAD_MAX - 4] = 'v';
    value[0] = '/';
    value[XENSTORE_PAYLOAD_MAX] = '\0';
    assert_int_equal(take_error(xenstore_read(xs, 0, value)), -LWT_EINVAL);
    assert_int_equal(peer.page->req_prod, prod);
    assert_int_equal(notified, before);
    assert_int_equal(xenstore_outstanding(xs), 0);
    value[XENSTORE_PAYLOAD_MAX - 1] = '\0';
    lwt_t *p = xenstore_read(xs, 0, value);
    run();
    assert_int_equal(take_error(p), -LWT_ENOENT);
    assert_int_equal(peer.last.len, XENSTORE_PAYLOAD_MAX);
    free(value);
}

/* ---- The rings --------------------------------------------------------------------- */

/* Messages straddle the end of both rings, and the indexes wrap past
 * 2^32 too. */
static void wrap_around(void **state)
{
    (void)state;
    static const uint32_t starts[] = {XENSTORE_RING_SIZE - 7, 3 * XENSTORE_RING_SIZE - 1, UINT32_MAX - 20};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        xenstore_teardown(xs);
        connect_at(starts[s]);
        for (int i = 0; i < 40; i++) {
            char path[32], value[64];
            snprintf(path, sizeof path, "/wrap/%d", i);
            snprintf(value, sizeof value, "value number %d, a little longer %d", i, i * i);
            must(xenstore_write(xs, 0, path, value));
            expect_read(path, value);
        }
        lwt_t *p = xenstore_directory(xs, 0, "/wrap");
        run();
        struct xenstore_dir *d = take_value(p);
        assert_int_equal(d->count, 40);
        free(d);
        must(xenstore_rm(xs, 0, "/wrap"));
        assert_true(peer.page->rsp_prod - starts[s] > 40 * XENSTORE_RING_SIZE / 16);
    }
    assert_int_equal(xenstore_error(xs), 0);
}

/* An answer, and a watch event, that arrive one byte per event. */
static void one_byte_at_a_time(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/slow", "drip, drip"));
    peer.hold = true;
    lwt_t *p = xenstore_read(xs, 0, "/slow");
    run();
    assert_int_equal(peer.nheld, 1);
    size_t total = peer.held[0].len;
    peer_release_all();
    for (size_t i = 0; i < total; i++) {
        assert_pending(p);
        unsigned before = notified;
        assert_int_equal(peer_pump(1), 1);
        xenstore_on_event(xs);
        drain();
        assert_int_equal(notified, before + 1); /* consumed: tell the other end */
    }
    char *v = take_value(p);
    assert_string_equal(v, "drip, drip");
    free(v);

    /* Nothing new: no notification. */
    unsigned before = notified;
    xenstore_on_event(xs);
    assert_int_equal(notified, before);
    assert_int_equal(xenstore_outstanding(xs), 0);
}

/* Two answers in one event, the second split across two events. */
static void answers_in_pieces(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/p", "piece"));
    peer.hold = true;
    lwt_t *a = xenstore_read(xs, 0, "/p");
    lwt_t *b = xenstore_read(xs, 0, "/p");
    run();
    peer_release_all();
    size_t first = HDR + 5 + 7;
    assert_int_equal(peer_pump(first), first);
    xenstore_on_event(xs);
    drain();
    assert_fulfilled(a);
    assert_pending(b);
    peer_pump(SIZE_MAX);
    xenstore_on_event(xs);
    drain();
    char *va = take_value(a), *vb = take_value(b);
    assert_string_equal(va, "piece");
    assert_string_equal(vb, "piece");
    free(va);
    free(vb);
}

/* A request larger than the room in the request ring goes in pieces, more
 * of it each time the other end makes room; so does a large answer. */
static void large_request_in_pieces(void **state)
{
    (void)state;
    char value[3001];
    for (size_t i = 0; i < sizeof value - 1; i++)
        value[i] = (char)('a' + i % 26);
    value[sizeof value - 1] = '\0';

    lwt_t *w = xenstore_write(xs, 0, "/large", value);
    struct xenstore_domain_interface *pg = peer.page;
    assert_int_equal(pg->req_prod - pg->req_cons, XENSTORE_RING_SIZE); /* full */
    /* Behind it, a small one waits its turn (and does not notify). */
    unsigned before = notified;
    lwt_t *r = xenstore_read(xs, 0, "/large");
    assert_int_equal(notified, before);
    assert_int_equal(xenstore_outstanding(xs), 2);

    int rounds = 0;
    while (lwt_state(w) == LWT_PENDING) {
        assert_true(++rounds < 100);
        assert_pending(r);
        assert_true(peer_serve() <= XENSTORE_RING_SIZE);
        peer_pump(SIZE_MAX);
        xenstore_on_event(xs);
        drain();
    }
    assert_true(rounds >= 3); /* 16 + 7 + 3000 bytes through a 1 KiB ring */
    expect_ok(w);
    run(); /* the answer to the read is as large */
    char *v = take_value(r);
    assert_string_equal(v, value);
    free(v);
    assert_int_equal(tree_find(&peer.tree, "/large")->len, sizeof value - 1);
}

/* 64 requests at once; xenstored answers them in another order, some with
 * errors; each settles with its own answer. One more is refused. */
static void many_out_of_order(void **state)
{
    (void)state;
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i += 2) {
        char path[32], value[32];
        snprintf(path, sizeof path, "/many/%d", i);
        snprintf(value, sizeof value, "v%d", i * 7);
        must(xenstore_write(xs, 0, path, value));
    }
    peer.hold = true;
    lwt_t *ps[XENSTORE_MAX_REQUESTS];
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++) {
        char path[32];
        snprintf(path, sizeof path, "/many/%d", i);
        ps[i] = xenstore_read(xs, 0, path);
    }
    assert_int_equal(xenstore_outstanding(xs), XENSTORE_MAX_REQUESTS);
    assert_int_equal(take_error(xenstore_read(xs, 0, "/many/0")), -LWT_EBUSY);
    assert_int_equal(take_error(xenstore_transaction_start(xs)), -LWT_EBUSY);
    run();
    assert_int_equal(peer.nheld, XENSTORE_MAX_REQUESTS);
    /* A fixed pseudo-random order, a few answers per event. */
    srand(12345);
    while (peer.nheld) {
        peer_release((size_t)rand() % peer.nheld);
        if (rand() % 4 == 0) {
            peer_pump(SIZE_MAX);
            xenstore_on_event(xs);
            drain();
        }
    }
    run();
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++) {
        if (i % 2) {
            assert_int_equal(take_error(ps[i]), -LWT_ENOENT);
            continue;
        }
        char want[32];
        snprintf(want, sizeof want, "v%d", i * 7);
        char *v = take_value(ps[i]);
        assert_string_equal(v, want);
        free(v);
    }
    assert_int_equal(xenstore_outstanding(xs), 0);
    /* The slots are free again. */
    peer.hold = false;
    expect_read("/many/0", "v0");
}

/* Answers left in the ring from before are not taken for ours. */
static void stale_answers_at_start(void **state)
{
    (void)state;
    xenstore_teardown(xs);
    peer.page->req_cons = peer.page->req_prod = 0;
    peer.page->rsp_cons = peer.page->rsp_prod = 0;
    struct xsd_sockmsg h = {.type = XS_READ, .req_id = 64, .len = 3};
    out_append(&h, HDR);
    out_append("old", 3);
    peer_pump(SIZE_MAX);
    unsigned before = notified;
    assert_int_equal(xenstore_init(xs, peer.page, notify, &notified), 0);
    assert_int_equal(peer.page->rsp_cons, peer.page->rsp_prod);
    assert_int_equal(notified, before + 1);
    must(xenstore_write(xs, 0, "/fresh", "new"));
    expect_read("/fresh", "new");
}

/* ---- Transactions ------------------------------------------------------------------ */

static uint32_t start_tx(void)
{
    lwt_t *p = xenstore_transaction_start(xs);
    run();
    assert_fulfilled(p);
    uint32_t id = XENSTORE_TX_ID(lwt_value(p));
    lwt_unref(p);
    assert_int_not_equal(id, 0);
    return id;
}

static void transaction_commit_and_abort(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/t/a", "before"));
    uint32_t tx = start_tx();
    must(xenstore_write(xs, tx, "/t/a", "inside"));
    assert_int_equal(peer.last.tx_id, tx);
    must(xenstore_mkdir(xs, tx, "/t/new"));
    lwt_t *p = xenstore_read(xs, tx, "/t/a");
    run();
    char *v = take_value(p);
    assert_string_equal(v, "inside");
    free(v);
    expect_read("/t/a", "before"); /* not outside it, yet */
    must(xenstore_transaction_end(xs, tx, true));
    assert_int_equal(peer.last.tx_id, tx);
    expect_read("/t/a", "inside");
    expect_read("/t/new", "");

    tx = start_tx();
    must(xenstore_rm(xs, tx, "/t/a"));
    must(xenstore_transaction_end(xs, tx, false));
    expect_read("/t/a", "inside");
    /* It is gone on the other side. */
    lwt_t *again = xenstore_transaction_end(xs, tx, false);
    run();
    assert_int_equal(take_error(again), -LWT_ENOENT);
}

static void transaction_conflict(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/c", "0"));
    uint32_t tx = start_tx();
    must(xenstore_write(xs, tx, "/c", "mine"));
    must(xenstore_write(xs, 0, "/c", "theirs")); /* someone else, meanwhile */
    lwt_t *p = xenstore_transaction_end(xs, tx, true);
    run();
    assert_int_equal(take_error(p), -LWT_EAGAIN);
    expect_read("/c", "theirs");
    /* Again, without interference. */
    tx = start_tx();
    must(xenstore_write(xs, tx, "/c", "mine"));
    must(xenstore_transaction_end(xs, tx, true));
    expect_read("/c", "mine");
    assert_int_equal(xenstore_error(xs), 0);
}

/* ---- Watches ------------------------------------------------------------------------ */

#define MAX_EVENTS 64
static struct {
    char path[128], token[64];
    void *ctx;
} events[MAX_EVENTS];
static size_t nevents;

static void on_watch(const char *path, const char *token, void *ctx)
{
    assert_true(nevents < MAX_EVENTS);
    snprintf(events[nevents].path, sizeof events[nevents].path, "%s", path);
    snprintf(events[nevents].token, sizeof events[nevents].token, "%s", token);
    events[nevents].ctx = ctx;
    nevents++;
}

static void expect_event(size_t i, const char *path, const char *token)
{
    assert_true(i < nevents);
    assert_string_equal(events[i].path, path);
    assert_string_equal(events[i].token, token);
}

static void watch_events(void **state)
{
    (void)state;
    int ctx_a, ctx_b;
    nevents = 0;
    must(xenstore_watch(xs, "/w", "tok-a", on_watch, &ctx_a));
    assert_int_equal(nevents, 1); /* the one xenstored sends at once */
    expect_event(0, "/w", "tok-a");
    assert_ptr_equal(events[0].ctx, &ctx_a);
    assert_int_equal(peer.nwatches, 1);
    /* The token on the wire is the client's own. */
    assert_string_not_equal(peer.watches[0].token, "tok-a");

    must(xenstore_write(xs, 0, "/w/x", "1"));
    assert_int_equal(nevents, 2);
    expect_event(1, "/w/x", "tok-a");
    must(xenstore_write(xs, 0, "/other", "1"));
    must(xenstore_write(xs, 0, "/wx", "1")); /* not below /w */
    assert_int_equal(nevents, 2);

    /* A second watch on the same path. */
    must(xenstore_watch(xs, "/w", "tok-b", on_watch, &ctx_b));
    assert_int_equal(nevents, 3);
    expect_event(2, "/w", "tok-b");
    must(xenstore_rm(xs, 0, "/w"));
    assert_int_equal(nevents, 5);
    assert_ptr_not_equal(events[3].ctx, events[4].ctx);

    assert_int_equal(take_error(xenstore_watch(xs, "/w", "tok-a", on_watch, NULL)), -LWT_EEXIST);

    lwt_t *u = xenstore_unwatch(xs, "/w", "tok-a");
    must(u);
    assert_int_equal(peer.nwatches, 1);
    must(xenstore_write(xs, 0, "/w", "again"));
    assert_int_equal(nevents, 6);
    expect_event(5, "/w", "tok-b");
    must(xenstore_unwatch(xs, "/w", "tok-b"));
    assert_int_equal(peer.nwatches, 0);
    assert_int_equal(take_error(xenstore_unwatch(xs, "/w", "tok-b")), -LWT_ENOENT);
    must(xenstore_write(xs, 0, "/w", "quiet"));
    assert_int_equal(nevents, 6);
}

/* Events for a watch that is gone (in flight when it was removed, or
 * never ours) are dropped; the connection stays up. */
static void stale_watch_events(void **state)
{
    (void)state;
    nevents = 0;
    must(xenstore_watch(xs, "/s", "t", on_watch, NULL));
    assert_int_equal(nevents, 1);
    char wire[32];
    snprintf(wire, sizeof wire, "%s", peer.watches[0].token);
    lwt_t *u = xenstore_unwatch(xs, "/s", "t");
    peer_event("/s", wire); /* already on its way */
    peer_event("/s", "never-registered");
    run();
    expect_ok(u);
    assert_int_equal(nevents, 1);
    /* A new watch on the same pair gets a new wire token. */
    must(xenstore_watch(xs, "/s", "t", on_watch, NULL));
    assert_int_equal(nevents, 2);
    assert_string_not_equal(peer.watches[0].token, wire);
    peer_event("/s", wire);
    run();
    assert_int_equal(nevents, 2);
    assert_int_equal(xenstore_error(xs), 0);
}

/* xenstored may send the first event before its acknowledgement; a
 * refused watch leaves nothing registered. */
static void watch_ordering_and_refusal(void **state)
{
    (void)state;
    nevents = 0;
    peer.hold = true;
    lwt_t *p = xenstore_watch(xs, "/o", "t", on_watch, NULL);
    run();
    assert_int_equal(peer.nheld, 2); /* the ack, then the event */
    peer_release(1);
    run();
    assert_int_equal(nevents, 1);
    assert_pending(p);
    peer_release(0);
    run();
    expect_ok(p);
    peer.hold = false;

    peer.fail_next = "EACCES";
    p = xenstore_watch(xs, "/secret", "t", on_watch, NULL);
    run();
    assert_int_equal(take_error(p), -LWT_EACCES);
    assert_int_equal(take_error(xenstore_unwatch(xs, "/secret", "t")), -LWT_ENOENT);
    must(xenstore_watch(xs, "/secret", "t", on_watch, NULL));
    assert_int_equal(nevents, 2);
}

static void watch_bound(void **state)
{
    (void)state;
    nevents = 0;
    char path[32];
    for (int i = 0; i < XENSTORE_MAX_WATCHES; i++) {
        snprintf(path, sizeof path, "/b/%d", i);
        must(xenstore_watch(xs, path, "t", on_watch, NULL));
    }
    assert_int_equal(take_error(xenstore_watch(xs, "/b/more", "t", on_watch, NULL)), -LWT_ENOSPC);
    assert_int_equal(nevents, XENSTORE_MAX_WATCHES);
    must(xenstore_unwatch(xs, "/b/3", "t"));
    must(xenstore_watch(xs, "/b/more", "t", on_watch, NULL));
    /* Watches still registered at teardown are simply dropped (the
     * fixture tears down). */
}

/* A callback may start requests, and may unwatch its own watch. */
static lwt_t *reread;
static void reread_and_unwatch(const char *path, const char *token, void *ctx)
{
    (void)ctx;
    on_watch(path, token, NULL);
    if (nevents == 2) {
        reread = xenstore_read(xs, 0, path);
        lwt_unref(xenstore_unwatch(xs, "/r", token));
    }
}

static void watch_callback_reenters(void **state)
{
    (void)state;
    nevents = 0;
    reread = NULL;
    must(xenstore_watch(xs, "/r", "t", reread_and_unwatch, NULL));
    must(xenstore_write(xs, 0, "/r/k", "seen"));
    assert_int_equal(nevents, 2);
    assert_non_null(reread);
    char *v = take_value(reread);
    assert_string_equal(v, "seen");
    free(v);
    assert_int_equal(peer.nwatches, 0);
    must(xenstore_write(xs, 0, "/r/k", "unseen"));
    assert_int_equal(nevents, 2);
}

/* ---- Cancellation ------------------------------------------------------------------- */

static char *filler(size_t n)
{
    char *v = malloc(n + 1);
    memset(v, 'f', n);
    v[n] = '\0';
    return v;
}

/* Cancelled before a byte of it was sent: it never goes out. */
static void cancel_queued(void **state)
{
    (void)state;
    char *big = filler(2000);
    lwt_t *w = xenstore_write(xs, 0, "/big", big);
    lwt_t *r = xenstore_read(xs, 0, "/big");
    assert_int_equal(xenstore_outstanding(xs), 2);
    lwt_cancel(r);
    drain(); /* the cancel hook may be deferred */
    assert_int_equal(take_error(r), -LWT_ECANCELED);
    assert_int_equal(xenstore_outstanding(xs), 1);
    run();
    expect_ok(w);
    assert_int_equal(peer.served, 1);
    assert_int_equal(peer.last.type, XS_WRITE);
    assert_int_equal(xenstore_outstanding(xs), 0);
    free(big);
}

/* Cancelled after it went out: its answer, when it comes, is consumed and
 * dropped (valgrind sees that nothing leaks), and the connection goes on. */
static void cancel_then_late_answer(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/late", "value"));
    peer.hold = true;
    lwt_t *r = xenstore_read(xs, 0, "/late");
    lwt_t *d = xenstore_directory(xs, 0, "/");
    lwt_t *m = xenstore_mkdir(xs, 0, "/late2");
    run();
    assert_int_equal(peer.nheld, 3);
    lwt_cancel(r);
    lwt_cancel(d);
    lwt_cancel(m);
    drain();
    assert_int_equal(take_error(r), -LWT_ECANCELED);
    assert_int_equal(take_error(d), -LWT_ECANCELED);
    assert_int_equal(take_error(m), -LWT_ECANCELED);
    assert_int_equal(xenstore_outstanding(xs), 3); /* their answers are still due */
    peer.hold = false;
    run();
    assert_int_equal(xenstore_outstanding(xs), 0);
    assert_int_equal(xenstore_error(xs), 0);
    /* The mkdir went out before the cancel: it happened. */
    assert_non_null(tree_find(&peer.tree, "/late2"));
    expect_read("/late", "value");
}

/* The answer comes before the cancel hook has run (it is deferred when
 * callbacks nest deeply, and always in LWT_DEFER_ALL builds): it is still
 * dropped, and the hook then finds nothing to do. */
static void cancel_racing_the_answer(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/race", "value"));
    peer.hold = true;
    lwt_t *r = xenstore_read(xs, 0, "/race");
    lwt_t *d = xenstore_directory(xs, 0, "/");
    run();
    lwt_cancel(r);
    lwt_cancel(d);
    peer_release_all();
    peer_pump(SIZE_MAX);
    xenstore_on_event(xs); /* no drain in between */
    assert_int_equal(xenstore_outstanding(xs), 0);
    drain();
    assert_int_equal(take_error(r), -LWT_ECANCELED);
    assert_int_equal(take_error(d), -LWT_ECANCELED);
    assert_int_equal(xenstore_error(xs), 0);
    peer.hold = false;
    expect_read("/race", "value");
}

/* Cancelled halfway into the ring: the rest still goes (a message cannot
 * be taken back), the answer is dropped. */
static void cancel_partly_sent(void **state)
{
    (void)state;
    char *big = filler(2500);
    lwt_t *w = xenstore_write(xs, 0, "/half", big);
    assert_int_equal(peer.page->req_prod - peer.page->req_cons, XENSTORE_RING_SIZE);
    lwt_cancel(w);
    drain();
    assert_int_equal(take_error(w), -LWT_ECANCELED);
    assert_int_equal(xenstore_outstanding(xs), 1);
    run();
    assert_int_equal(xenstore_outstanding(xs), 0);
    assert_int_equal(tree_find(&peer.tree, "/half")->len, 2500);
    assert_int_equal(xenstore_error(xs), 0);
    free(big);
    expect_read("/", "");
}

/* A cancel after the answer arrived changes nothing. */
static void cancel_after_answer(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/done", "yes"));
    lwt_t *r = xenstore_read(xs, 0, "/done");
    run();
    lwt_cancel(r);
    char *v = take_value(r);
    assert_string_equal(v, "yes");
    free(v);
}

/* The non-cancelable operations ignore a cancel. */
static void some_operations_ignore_cancel(void **state)
{
    (void)state;
    peer.hold = true;
    lwt_t *t = xenstore_transaction_start(xs);
    lwt_t *w = xenstore_watch(xs, "/n", "t", on_watch, NULL);
    lwt_cancel(t);
    lwt_cancel(w);
    assert_pending(t);
    assert_pending(w);
    peer.hold = false;
    run();
    uint32_t id = XENSTORE_TX_ID(take_value(t));
    expect_ok(w);
    must(xenstore_transaction_end(xs, id, false));
}

/* ---- Broken connections ------------------------------------------------------------ */

/* Three requests whose answers are held; inject() then sends something
 * malformed (and perhaps some of the held answers). Afterwards everything
 * still outstanding is rejected with -LWT_EIO, the reason is logged, the
 * ring is left alone and later calls fail. */
static struct {
    lwt_t *read, *dir, *tx;
    struct xsd_sockmsg h[3]; /* the held answers' headers */
} br;

static void inject_header(uint32_t type, uint32_t req_id, uint32_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .len = len};
    out_append(&h, HDR);
}

static void expect_broken(void (*inject)(void), const char *why)
{
    must(xenstore_write(xs, 0, "/a", "a"));
    nevents = 0;
    must(xenstore_watch(xs, "/a", "t", on_watch, NULL));
    assert_int_equal(nevents, 1);
    peer.hold = true;
    br.read = xenstore_read(xs, 0, "/a");
    br.dir = xenstore_directory(xs, 0, "/");
    br.tx = xenstore_transaction_start(xs);
    run();
    assert_int_equal(peer.nheld, 3);
    for (int i = 0; i < 3; i++)
        memcpy(&br.h[i], peer.held[i].data, HDR);

    inject();
    peer_pump(SIZE_MAX);
    unsigned before = notified;
    xenstore_on_event(xs);
    drain();
    assert_int_equal(notified, before);
    assert_int_equal(xenstore_error(xs), -LWT_EIO);
    assert_non_null(strstr(logged, "connection broken"));
    assert_non_null(strstr(logged, why));

    /* Settled by the injection or rejected with EIO. */
    if (lwt_state(br.read) == LWT_FULFILLED)
        free(take_value(br.read));
    else
        assert_int_equal(take_error(br.read), -LWT_EIO);
    if (lwt_state(br.dir) == LWT_FULFILLED)
        free(take_value(br.dir));
    else
        assert_int_equal(take_error(br.dir), -LWT_EIO);
    assert_int_equal(take_error(br.tx), -LWT_EIO);
    assert_int_equal(xenstore_outstanding(xs), 0);

    /* The ring is not touched again. */
    uint32_t rsp_cons = peer.page->rsp_cons, req_prod = peer.page->req_prod;
    peer_release_all();
    peer_event("/a", peer.watches[0].token);
    peer_pump(SIZE_MAX);
    xenstore_on_event(xs);
    drain();
    assert_int_equal(peer.page->rsp_cons, rsp_cons);
    assert_int_equal(nevents, 1);
    assert_int_equal(take_error(xenstore_read(xs, 0, "/a")), -LWT_EIO);
    assert_int_equal(take_error(xenstore_transaction_end(xs, 5, true)), -LWT_EIO);
    assert_int_equal(take_error(xenstore_watch(xs, "/b", "t", on_watch, NULL)), -LWT_EIO);
    assert_int_equal(take_error(xenstore_unwatch(xs, "/a", "t")), -LWT_EIO);
    assert_int_equal(peer.page->req_prod, req_prod);
    assert_int_equal(notified, before);
}

static void inject_oversized(void)
{
    inject_header(XS_READ, br.h[0].req_id, XENSTORE_PAYLOAD_MAX + 1);
}

static void inject_ones(void)
{
    char garbage[64];
    memset(garbage, 0xff, sizeof garbage);
    out_append(garbage, sizeof garbage);
}

static void inject_unknown_id(void)
{
    inject_header(XS_READ, 12345, 0);
}

/* An id whose slot is in use, by a later request than the one it names. */
static void inject_stale_id(void)
{
    inject_header(XS_READ, br.h[0].req_id - XENSTORE_MAX_REQUESTS, 0);
}

static void inject_duplicate(void)
{
    /* The read's answer, twice. */
    struct msg m = peer.held[0];
    out_append(m.data, m.len);
    peer_release(0);
}

static void inject_error_without_nul(void)
{
    inject_header(XS_ERROR, br.h[1].req_id, 6);
    out_append("ENOENT", 6);
}

static void inject_empty_error(void)
{
    inject_header(XS_ERROR, br.h[1].req_id, 0);
}

static void inject_wrong_type(void)
{
    inject_header(XS_WRITE, br.h[0].req_id, 3);
    out_append("OK", 3);
}

static void inject_event_without_token(void)
{
    inject_header(XS_WATCH_EVENT, 0, 3);
    out_append("/a", 3);
}

static void inject_event_without_nul(void)
{
    inject_header(XS_WATCH_EVENT, 0, 4);
    out_append("/a/b", 4);
}

static void inject_directory_without_nul(void)
{
    inject_header(XS_DIRECTORY, br.h[1].req_id, 3);
    out_append("a\0b", 3);
}

static void inject_bad_tx_id(void)
{
    inject_header(XS_TRANSACTION_START, br.h[2].req_id, 4);
    out_append("12x", 4);
}

static void inject_zero_tx_id(void)
{
    inject_header(XS_TRANSACTION_START, br.h[2].req_id, 2);
    out_append("0", 2);
}

static void inject_bad_indexes(void)
{
    peer.page->rsp_prod = peer.page->rsp_cons + XENSTORE_RING_SIZE + 1;
}

static void inject_random(void)
{
    /* Not from our peer: a fixed stream of noise. */
    uint32_t x = 0x9e3779b9;
    char noise[700];
    for (size_t i = 0; i < sizeof noise; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (char)x;
    }
    out_append(noise, sizeof noise);
}

static void broken_oversized(void **state)
{
    (void)state;
    expect_broken(inject_oversized, "payload maximum");
}

static void broken_all_ones(void **state)
{
    (void)state;
    expect_broken(inject_ones, "payload maximum");
}

static void broken_unknown_id(void **state)
{
    (void)state;
    expect_broken(inject_unknown_id, "no outstanding request");
}

static void broken_stale_id(void **state)
{
    (void)state;
    expect_broken(inject_stale_id, "no outstanding request");
}

static void broken_duplicate(void **state)
{
    (void)state;
    expect_broken(inject_duplicate, "no outstanding request");
}

static void broken_error_without_nul(void **state)
{
    (void)state;
    expect_broken(inject_error_without_nul, "not NUL-terminated");
}

static void broken_empty_error(void **state)
{
    (void)state;
    expect_broken(inject_empty_error, "not NUL-terminated");
}

static void broken_wrong_type(void **state)
{
    (void)state;
    expect_broken(inject_wrong_type, "wrong type");
}

static void broken_event_without_token(void **state)
{
    (void)state;
    expect_broken(inject_event_without_token, "without a token");
}

static void broken_event_without_nul(void **state)
{
    (void)state;
    expect_broken(inject_event_without_nul, "without a path");
}

static void broken_directory(void **state)
{
    (void)state;
    expect_broken(inject_directory_without_nul, "directory");
}

static void broken_tx_id(void **state)
{
    (void)state;
    expect_broken(inject_bad_tx_id, "transaction id");
}

static void broken_zero_tx_id(void **state)
{
    (void)state;
    expect_broken(inject_zero_tx_id, "transaction id");
}

static void broken_indexes(void **state)
{
    (void)state;
    expect_broken(inject_bad_indexes, "indexes");
}

static void broken_noise(void **state)
{
    (void)state;
    expect_broken(inject_random, "connection broken");
}

/* An answer repeated after its slot went to a later request is not taken
 * for that request's answer. */
static void broken_replayed_answer(void **state)
{
    (void)state;
    must(xenstore_write(xs, 0, "/old", "old"));
    peer.hold = true;
    lwt_t *a = xenstore_read(xs, 0, "/old");
    run();
    assert_int_equal(peer.nheld, 1);
    struct msg replay = {dup_bytes(peer.held[0].data, peer.held[0].len), peer.held[0].len};
    peer_release_all();
    run();
    free(take_value(a));
    lwt_t *b = xenstore_read(xs, 0, "/"); /* the first free slot: a's */
    run();
    out_append(replay.data, replay.len);
    free(replay.data);
    peer_pump(SIZE_MAX);
    xenstore_on_event(xs);
    drain();
    assert_int_equal(take_error(b), -LWT_EIO);
    assert_non_null(strstr(logged, "no outstanding request"));
}

/* The request ring's indexes are checked too, before writing. */
static void broken_request_indexes(void **state)
{
    (void)state;
    peer.hold = true;
    lwt_t *a = xenstore_read(xs, 0, "/");
    peer.page->req_cons = peer.page->req_prod + 5; /* consumed more than produced */
    lwt_t *b = xenstore_read(xs, 0, "/");
    drain();
    assert_int_equal(take_error(a), -LWT_EIO);
    assert_int_equal(take_error(b), -LWT_EIO);
    assert_int_equal(xenstore_error(xs), -LWT_EIO);
    assert_non_null(strstr(logged, "request ring indexes"));
}

/* ---- Teardown ------------------------------------------------------------------------ */

static void teardown_with_outstanding(void **state)
{
    (void)state;
    nevents = 0;
    must(xenstore_watch(xs, "/td", "t", on_watch, NULL));
    peer.hold = true;
    lwt_t *sent = xenstore_read(xs, 0, "/td");   /* answered, answer held */
    lwt_t *orphan = xenstore_read(xs, 0, "/td"); /* cancelled, answer due */
    run();
    lwt_cancel(orphan);
    drain();
    assert_int_equal(take_error(orphan), -LWT_ECANCELED);
    char *big = filler(2000);
    lwt_t *partial = xenstore_write(xs, 0, "/td/big", big); /* partly in the ring */
    lwt_t *queued = xenstore_mkdir(xs, 0, "/td/q");         /* not at all */
    lwt_t *tx = xenstore_transaction_start(xs);
    free(big);
    assert_int_equal(xenstore_outstanding(xs), 5);

    xenstore_teardown(xs);
    drain();
    assert_int_equal(take_error(sent), -LWT_ECANCELED);
    assert_int_equal(take_error(partial), -LWT_ECANCELED);
    assert_int_equal(take_error(queued), -LWT_ECANCELED);
    assert_int_equal(take_error(tx), -LWT_ECANCELED);
    assert_int_equal(xenstore_outstanding(xs), 0);
    assert_live_zero();

    /* Left alone from now on. */
    uint32_t cons = peer.page->rsp_cons;
    peer_release_all();
    run();
    assert_int_equal(peer.page->rsp_cons, cons);
    assert_int_equal(take_error(xenstore_read(xs, 0, "/td")), -LWT_ECANCELED);
    assert_int_equal(nevents, 1);
    xenstore_teardown(xs); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_XS(write_then_read),
        TEST_XS(mkdir_directory_rm),
        TEST_XS(directory_with_empty_names),
        TEST_XS(missing_nodes),
        TEST_XS(error_names),
        TEST_XS(bad_arguments),
        TEST_XS(payload_limit),
        TEST_XS(wrap_around),
        TEST_XS(one_byte_at_a_time),
        TEST_XS(answers_in_pieces),
        TEST_XS(large_request_in_pieces),
        TEST_XS(many_out_of_order),
        TEST_XS(stale_answers_at_start),
        TEST_XS(transaction_commit_and_abort),
        TEST_XS(transaction_conflict),
        TEST_XS(watch_events),
        TEST_XS(stale_watch_events),
        TEST_XS(watch_ordering_and_refusal),
        TEST_XS(watch_bound),
        TEST_XS(watch_callback_reenters),
        TEST_XS(cancel_queued),
        TEST_XS(cancel_then_late_answer),
        TEST_XS(cancel_racing_the_answer),
        TEST_XS(cancel_partly_sent),
        TEST_XS(cancel_after_answer),
        TEST_XS(some_operations_ignore_cancel),
        TEST_XS(broken_oversized),
        TEST_XS(broken_all_ones),
        TEST_XS(broken_unknown_id),
        TEST_XS(broken_stale_id),
        TEST_XS(broken_duplicate),
        TEST_XS(broken_error_without_nul),
        TEST_XS(broken_empty_error),
        TEST_XS(broken_wrong_type),
        TEST_XS(broken_event_without_token),
        TEST_XS(broken_event_without_nul),
        TEST_XS(broken_directory),
        TEST_XS(broken_tx_id),
        TEST_XS(broken_zero_tx_id),
        TEST_XS(broken_indexes),
        TEST_XS(broken_noise),
        TEST_XS(broken_replayed_answer),
        TEST_XS(broken_request_indexes),
        TEST_XS(teardown_with_outstanding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
