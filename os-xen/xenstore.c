/* The xenstore client (xenstore.h): requests into the request ring,
 * answers and watch events out of the response ring.
 *
 * Who owns what: the ring page and the event channel are the platform's;
 * xs->reqs[] and xs->watches[] are this module's, inside the caller's
 * struct xenstore; each request's message (until it is all in the ring),
 * each watch's copy of its path and token, and each answer's value until it
 * is handed to the consumer are malloc'd here. A cancelable request also
 * has a small struct xenstore__task inside its promise (lwt_task_with), so
 * that the cancel hook never points into a struct xenstore that teardown
 * has let the caller free.
 *
 * Request ids: req_id % XENSTORE_MAX_REQUESTS is the slot, the rest counts
 * the slot's uses, so an answer finds its request in O(1) and an answer to
 * an id no longer outstanding is recognised.
 *
 * The rings follow the protocol Linux and Mini-OS use with xenstored (in
 * another domain): read the other side's index with acquire semantics
 * before touching the data it covers, publish our own index with release
 * semantics after the data, and check that the two indexes are at most a
 * ring apart before trusting either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xenstore.h"

static struct log_source xs_log = LOG_SOURCE("xenstore");

enum { REQ_FREE, REQ_QUEUED, REQ_SENT };

/* Lives inside a cancelable request's promise: freed with it. */
struct xenstore__task {
    struct lwt_hook hook;
    struct xenstore *xs; /* NULL once this side settled the promise */
    uint8_t slot;
};

#define HDR_LEN ((uint32_t)sizeof(struct xsd_sockmsg))

/* Slot numbers are int8_t links in the send queue. */
_Static_assert(XENSTORE_MAX_REQUESTS <= 127, "request slots must fit an int8_t");

/* ---- Errors and breakage ---------------------------------------------------- */

/* xenstored's error names (xs_wire.h's xsd_errors, plus oxenstored's EQUOTA). */
static const struct {
    const char *name;
    int err;
} xs_errors[] = {
    {"EINVAL", LWT_EINVAL},       {"EACCES", LWT_EACCES},   {"EEXIST", LWT_EEXIST}, {"EISDIR", LWT_EISDIR},
    {"ENOENT", LWT_ENOENT},       {"ENOMEM", LWT_ENOMEM},   {"ENOSPC", LWT_ENOSPC}, {"EIO", LWT_EIO},
    {"ENOTEMPTY", LWT_ENOTEMPTY}, {"ENOSYS", LWT_ENOSYS},   {"EROFS", LWT_EROFS},   {"EBUSY", LWT_EBUSY},
    {"EAGAIN", LWT_EAGAIN},       {"EISCONN", LWT_EISCONN}, {"E2BIG", LWT_E2BIG},   {"EPERM", LWT_EPERM},
    {"EQUOTA", LWT_ENOSPC},
};

/* The code for an error payload (NUL-terminated). Some daemons append
 * detail after a colon ("EINVAL: ..."). Unknown names are EINVAL, as in
 * Linux. */
static int error_code(const char *text)
{
    size_t n = 0;
    while (text[n] && text[n] != ':')
        n++;
    for (size_t i = 0; i < sizeof xs_errors / sizeof xs_errors[0]; i++)
        if (strlen(xs_errors[i].name) == n && memcmp(xs_errors[i].name, text, n) == 0)
            return -xs_errors[i].err;
    log_warn(&xs_log, "unknown error \"%s\" from xenstored", text);
    return -LWT_EINVAL;
}

/* Hands the request's promise its result (callbacks deferred: this runs
 * from the event source) and frees the slot. */
static void req_finish(struct xenstore__req *q, int err, void *value)
{
    lwt_resolver_t *r = q->r;
    if (q->task)
        q->task->xs = NULL; /* the hook, when it runs, has nothing to do */
    free(q->msg);
    /* req_id stays: it counts the slot's uses. */
    *q = (struct xenstore__req){.req_id = q->req_id, .state = REQ_FREE, .next = -1};
    if (!r)
        return;
    if (err < 0)
        lwt_wakeup_fail_later(r, err);
    else
        lwt_wakeup_later(r, value);
}

/* Settles everything outstanding with err and empties the queue. */
static void reject_all(struct xenstore *xs, int err)
{
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++)
        if (xs->reqs[i].state != REQ_FREE)
            req_finish(&xs->reqs[i], err, NULL);
    xs->queue_head = xs->queue_tail = -1;
}

static void broken(struct xenstore *xs, const char *why)
{
    if (xs->err)
        return;
    log_error(&xs_log, "connection broken: %s", why);
    xs->err = -LWT_EIO;
    reject_all(xs, -LWT_EIO);
}

int xenstore_error(const struct xenstore *xs)
{
    return xs->err;
}

size_t xenstore_outstanding(const struct xenstore *xs)
{
    size_t n = 0;
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++)
        n += xs->reqs[i].state != REQ_FREE;
    return n;
}

/* ---- The request ring ----------------------------------------------------------- */

static void queue_remove(struct xenstore *xs, int slot)
{
    int8_t prev = -1;
    for (int8_t i = xs->queue_head; i >= 0; prev = i, i = xs->reqs[i].next) {
        if (i != slot)
            continue;
        if (prev < 0)
            xs->queue_head = xs->reqs[i].next;
        else
            xs->reqs[prev].next = xs->reqs[i].next;
        if (xs->queue_tail == i)
            xs->queue_tail = prev;
        xs->reqs[i].next = -1;
        return;
    }
}

/* Copies as much of the queued requests as the request ring has room for;
 * a request goes in pieces when it must. Returns whether it produced. */
static bool push(struct xenstore *xs)
{
    struct xenstore_domain_interface *ring = xs->ring;
    if (xs->err || xs->queue_head < 0)
        return false;
    /* Acquire: our writes to the data must not overtake this read. */
    XENSTORE_RING_IDX cons = __atomic_load_n(&ring->req_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX prod = __atomic_load_n(&ring->req_prod, __ATOMIC_RELAXED);
    if (prod - cons > XENSTORE_RING_SIZE) {
        broken(xs, "request ring indexes out of range");
        return false;
    }
    XENSTORE_RING_IDX start = prod;
    while (xs->queue_head >= 0 && prod - cons < XENSTORE_RING_SIZE) {
        struct xenstore__req *q = &xs->reqs[xs->queue_head];
        uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
        uint32_t to_end = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
        uint32_t n = q->len - q->off;
        if (n > room)
            n = room;
        if (n > to_end)
            n = to_end;
        memcpy(ring->req + MASK_XENSTORE_IDX(prod), q->msg + q->off, n);
        prod += n;
        q->off += n;
        if (q->off == q->len) {
            free(q->msg);
            q->msg = NULL;
            q->state = REQ_SENT;
            xs->queue_head = q->next;
            if (xs->queue_head < 0)
                xs->queue_tail = -1;
            q->next = -1;
        }
    }
    if (prod == start)
        return false;
    /* Release: the data is in place before the other side sees the index. */
    __atomic_store_n(&ring->req_prod, prod, __ATOMIC_RELEASE);
    return true;
}

/* ---- Submitting ------------------------------------------------------------------- */

/* The cancel hook of a cancelable request: only the caller's cancel gets
 * here with t->xs set (this side clears it before settling). */
static void task_settled(struct lwt_hook *hook, lwt_t *settled)
{
    struct xenstore__task *t = (struct xenstore__task *)((char *)hook - offsetof(struct xenstore__task, hook));
    struct xenstore *xs = t->xs;
    (void)settled;
    if (!xs)
        return;
    t->xs = NULL;
    struct xenstore__req *q = &xs->reqs[t->slot];
    lwt_resolver_t *r = q->r;
    q->r = NULL;
    q->task = NULL;
    if (q->state == REQ_QUEUED && q->off == 0) {
        /* Not a byte sent yet: forget it. */
        queue_remove(xs, t->slot);
        req_finish(q, 0, NULL);
    }
    /* Otherwise its answer is still to come, and will be dropped. Last:
     * this may free the promise and t with it. */
    lwt_resolver_drop(r);
}

/* Builds a request from parts (each sent with its NUL when nul[i]), queues
 * it and sends what fits. Returns its promise. */
static lwt_t *submit(struct xenstore *xs, enum xsd_sockmsg_type type, uint32_t tx, bool cancelable,
                     const char *const *parts, const bool *nul, size_t nparts, uint32_t watch_id)
{
    if (!xs->ring)
        return lwt_fail(-LWT_ECANCELED);
    if (xs->err)
        return lwt_fail(xs->err);
    size_t len = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (!parts[i])
            return lwt_fail(-LWT_EINVAL);
        len += strnlen(parts[i], XENSTORE_PAYLOAD_MAX + 1) + nul[i];
        if (len > XENSTORE_PAYLOAD_MAX)
            return lwt_fail(-LWT_EINVAL);
    }
    int slot = -1;
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++) {
        if (xs->reqs[i].state == REQ_FREE) {
            slot = i;
            break;
        }
    }
    if (slot < 0)
        return lwt_fail(-LWT_EBUSY);
    char *msg = malloc(HDR_LEN + len);
    if (!msg)
        return lwt_fail(-LWT_ENOMEM);

    struct xenstore__req *q = &xs->reqs[slot];
    /* The slot's use count lives in the high bits of req_id. */
    uint32_t uses = q->req_id / XENSTORE_MAX_REQUESTS + 1;
    struct xsd_sockmsg h = {
        .type = type,
        .req_id = uses * XENSTORE_MAX_REQUESTS + (uint32_t)slot,
        .tx_id = tx,
        .len = (uint32_t)len,
    };
    memcpy(msg, &h, HDR_LEN);
    char *p = msg + HDR_LEN;
    for (size_t i = 0; i < nparts; i++) {
        size_t n = strlen(parts[i]) + nul[i];
        memcpy(p, parts[i], n);
        p += n;
    }

    lwt_resolver_t *r;
    lwt_t *promise;
    struct xenstore__task *t = NULL;
    if (cancelable) {
        void *storage;
        promise = lwt_task_with(&r, sizeof *t, &storage);
        t = storage;
        t->xs = xs;
        t->slot = (uint8_t)slot;
    } else {
        promise = lwt_wait(&r);
    }
    *q = (struct xenstore__req){
        .r = r,
        .task = t,
        .msg = msg,
        .len = HDR_LEN + (uint32_t)len,
        .req_id = h.req_id,
        .watch_id = watch_id,
        .type = (uint16_t)type,
        .state = REQ_QUEUED,
        .next = -1,
    };
    if (xs->queue_tail < 0)
        xs->queue_head = (int8_t)slot;
    else
        xs->reqs[xs->queue_tail].next = (int8_t)slot;
    xs->queue_tail = (int8_t)slot;
    if (t)
        lwt_hook_attach(promise, &t->hook, task_settled);

    if (push(xs))
        xs->notify(xs->notify_ctx);
    return promise;
}

lwt_t *xenstore_read(struct xenstore *xs, uint32_t tx, const char *path)
{
    const char *parts[] = {path};
    static const bool nul[] = {true};
    return submit(xs, XS_READ, tx, true, parts, nul, 1, 0);
}

lwt_t *xenstore_write(struct xenstore *xs, uint32_t tx, const char *path, const char *value)
{
    const char *parts[] = {path, value};
    static const bool nul[] = {true, false};
    return submit(xs, XS_WRITE, tx, true, parts, nul, 2, 0);
}

lwt_t *xenstore_mkdir(struct xenstore *xs, uint32_t tx, const char *path)
{
    const char *parts[] = {path};
    static const bool nul[] = {true};
    return submit(xs, XS_MKDIR, tx, true, parts, nul, 1, 0);
}

lwt_t *xenstore_rm(struct xenstore *xs, uint32_t tx, const char *path)
{
    const char *parts[] = {path};
    static const bool nul[] = {true};
    return submit(xs, XS_RM, tx, true, parts, nul, 1, 0);
}

lwt_t *xenstore_directory(struct xenstore *xs, uint32_t tx, const char *path)
{
    const char *parts[] = {path};
    static const bool nul[] = {true};
    return submit(xs, XS_DIRECTORY, tx, true, parts, nul, 1, 0);
}

lwt_t *xenstore_transaction_start(struct xenstore *xs)
{
    const char *parts[] = {""};
    static const bool nul[] = {true};
    return submit(xs, XS_TRANSACTION_START, 0, false, parts, nul, 1, 0);
}

lwt_t *xenstore_transaction_end(struct xenstore *xs, uint32_t tx, bool commit)
{
    const char *parts[] = {commit ? "T" : "F"};
    static const bool nul[] = {true};
    return submit(xs, XS_TRANSACTION_END, tx, false, parts, nul, 1, 0);
}

/* ---- Watches ---------------------------------------------------------------------- */

static struct xenstore__watch *watch_find(struct xenstore *xs, const char *path, const char *token)
{
    for (int i = 0; i < XENSTORE_MAX_WATCHES; i++) {
        struct xenstore__watch *w = &xs->watches[i];
        if (w->path && strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
            return w;
    }
    return NULL;
}

static void watch_free(struct xenstore__watch *w)
{
    free(w->path);
    memset(w, 0, sizeof *w);
}

lwt_t *xenstore_watch(struct xenstore *xs, const char *path, const char *token, xenstore_watch_fn fn, void *ctx)
{
    if (!path || !token || !fn)
        return lwt_fail(-LWT_EINVAL);
    if (!xs->ring)
        return lwt_fail(-LWT_ECANCELED);
    if (xs->err)
        return lwt_fail(xs->err);
    if (watch_find(xs, path, token))
        return lwt_fail(-LWT_EEXIST);
    struct xenstore__watch *w = NULL;
    for (int i = 0; i < XENSTORE_MAX_WATCHES && !w; i++)
        if (!xs->watches[i].path)
            w = &xs->watches[i];
    if (!w)
        return lwt_fail(-LWT_ENOSPC);
    size_t plen = strlen(path), tlen = strlen(token);
    if (plen + tlen + 2 > XENSTORE_PAYLOAD_MAX)
        return lwt_fail(-LWT_EINVAL);
    char *copy = malloc(plen + tlen + 2);
    if (!copy)
        return lwt_fail(-LWT_ENOMEM);
    memcpy(copy, path, plen + 1);
    memcpy(copy + plen + 1, token, tlen + 1);
    /* Our own token on the wire, unique per registration: an event still in
     * flight for an earlier watch never reaches a later one in its slot. */
    uint32_t id = xs->next_watch_id++;
    *w = (struct xenstore__watch){.path = copy, .token = copy + plen + 1, .fn = fn, .ctx = ctx, .id = id};
    snprintf(w->wire_token, sizeof w->wire_token, "%x", id);

    const char *parts[] = {path, w->wire_token};
    static const bool nul[] = {true, true};
    lwt_t *p = submit(xs, XS_WATCH, 0, false, parts, nul, 2, id);
    if (lwt_state(p) == LWT_REJECTED)
        watch_free(w);
    return p;
}

lwt_t *xenstore_unwatch(struct xenstore *xs, const char *path, const char *token)
{
    if (!path || !token)
        return lwt_fail(-LWT_EINVAL);
    if (!xs->ring)
        return lwt_fail(-LWT_ECANCELED);
    struct xenstore__watch *w = watch_find(xs, path, token);
    if (!w)
        return lwt_fail(-LWT_ENOENT);
    char wire[sizeof w->wire_token];
    memcpy(wire, w->wire_token, sizeof wire);
    const char *parts[] = {path, wire};
    static const bool nul[] = {true, true};
    lwt_t *p = submit(xs, XS_UNWATCH, 0, false, parts, nul, 2, 0);
    /* Kept if the request could not even be queued (-LWT_EBUSY: try again),
     * except on a dead connection, where it can never fire again anyway. */
    if (lwt_state(p) != LWT_REJECTED || xs->err)
        watch_free(w);
    return p;
}

/* "path\0token\0" from xenstored: runs the watch whose wire token it is. */
static void deliver_event(struct xenstore *xs, uint32_t len)
{
    const char *path = xs->in;
    const char *end = memchr(path, '\0', len);
    if (!end) {
        broken(xs, "watch event without a path");
        return;
    }
    const char *wire = end + 1;
    if (!memchr(wire, '\0', len - (uint32_t)(wire - path))) {
        broken(xs, "watch event without a token");
        return;
    }
    for (int i = 0; i < XENSTORE_MAX_WATCHES; i++) {
        struct xenstore__watch *w = &xs->watches[i];
        if (w->path && strcmp(w->wire_token, wire) == 0) {
            w->fn(path, w->token, w->ctx);
            return;
        }
    }
    /* An event already in flight when its watch was removed. */
    log_debug(&xs_log, "event for %s on a watch that is gone", path);
}

/* ---- Answers ---------------------------------------------------------------------- */

/* The children of a directory answer: NUL-terminated names, one after the
 * other (empty ones, as some daemons send for no children, are skipped). */
static int parse_directory(const char *in, uint32_t len, struct xenstore_dir **out)
{
    if (len > 0 && in[len - 1] != '\0')
        return -LWT_EBADMSG;
    size_t count = 0;
    for (uint32_t i = 0; i < len; i++)
        count += in[i] == '\0' && i > 0 && in[i - 1] != '\0';
    struct xenstore_dir *d = malloc(sizeof *d + count * sizeof(char *) + len);
    if (!d)
        return -LWT_ENOMEM;
    char *names = (char *)(d->names + count);
    memcpy(names, in, len);
    d->count = 0;
    for (uint32_t i = 0; i < len; i += (uint32_t)strlen(names + i) + 1)
        if (names[i])
            d->names[d->count++] = names + i;
    *out = d;
    return 0;
}

/* A decimal transaction id, NUL-terminated, not 0. */
static int parse_tx_id(const char *in, uint32_t len, uint32_t *out)
{
    uint64_t v = 0;
    if (len < 2 || in[len - 1] != '\0')
        return -LWT_EBADMSG;
    for (uint32_t i = 0; i + 1 < len; i++) {
        if (in[i] < '0' || in[i] > '9')
            return -LWT_EBADMSG;
        v = v * 10 + (uint64_t)(in[i] - '0');
        if (v > UINT32_MAX)
            return -LWT_EBADMSG;
    }
    if (v == 0)
        return -LWT_EBADMSG;
    *out = (uint32_t)v;
    return 0;
}

/* A complete message is in in_hdr and in[]: settle what it answers. */
static void handle_message(struct xenstore *xs)
{
    const struct xsd_sockmsg *h = &xs->in_hdr;
    uint32_t len = h->len;
    xs->in[len] = '\0';
    if (h->type == XS_WATCH_EVENT) {
        deliver_event(xs, len);
        return;
    }
    struct xenstore__req *q = &xs->reqs[h->req_id % XENSTORE_MAX_REQUESTS];
    if (q->state != REQ_SENT || q->req_id != h->req_id) {
        broken(xs, "answer to no outstanding request");
        return;
    }
    if (h->type == XS_ERROR) {
        if (len == 0 || !memchr(xs->in, '\0', len)) {
            broken(xs, "error answer not NUL-terminated");
            return;
        }
        int err = error_code(xs->in);
        if (q->type == XS_WATCH) {
            /* Refused: drop the registration made at submit time. */
            for (int i = 0; i < XENSTORE_MAX_WATCHES; i++)
                if (xs->watches[i].path && xs->watches[i].id == q->watch_id)
                    watch_free(&xs->watches[i]);
        }
        req_finish(q, err, NULL);
        return;
    }
    if (h->type != q->type) {
        broken(xs, "answer of the wrong type");
        return;
    }

    /* A request cancelled after it went out: drop the answer. Its cancel
     * hook may not have run yet (hooks can be deferred). */
    bool wanted = q->r && lwt_state(lwt_resolver_promise(q->r)) == LWT_PENDING;
    int err = 0;
    void *value = NULL;
    switch (q->type) {
    case XS_READ:
        if (!wanted)
            break;
        value = malloc(len + 1);
        if (!value)
            err = -LWT_ENOMEM;
        else
            memcpy(value, xs->in, len + 1);
        break;
    case XS_DIRECTORY: {
        struct xenstore_dir *d = NULL;
        err = parse_directory(xs->in, len, &d);
        if (err == -LWT_EBADMSG) {
            broken(xs, "directory answer not NUL-terminated");
            return;
        }
        if (!wanted)
            free(d);
        else
            value = d;
        break;
    }
    case XS_TRANSACTION_START: {
        uint32_t id = 0;
        if (parse_tx_id(xs->in, len, &id) < 0) {
            broken(xs, "transaction id is not a number");
            return;
        }
        value = (void *)(uintptr_t)id;
        break;
    }
    default: /* "OK" */
        break;
    }
    req_finish(q, err, value);
}

/* Consumes what the response ring holds now, message by message (a message
 * may arrive in any number of pieces). Returns whether it consumed. */
static bool consume(struct xenstore *xs)
{
    struct xenstore_domain_interface *ring = xs->ring;
    XENSTORE_RING_IDX cons = __atomic_load_n(&ring->rsp_cons, __ATOMIC_RELAXED);
    /* Acquire: the data is read only after the index that covers it. */
    XENSTORE_RING_IDX prod = __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE);
    if (prod - cons > XENSTORE_RING_SIZE) {
        broken(xs, "response ring indexes out of range");
        return false;
    }
    XENSTORE_RING_IDX start = cons;
    while (cons != prod && !xs->err) {
        char *dst;
        uint32_t want;
        if (xs->in_got < HDR_LEN) {
            dst = (char *)&xs->in_hdr + xs->in_got;
            want = HDR_LEN - xs->in_got;
        } else {
            dst = xs->in + (xs->in_got - HDR_LEN);
            want = HDR_LEN + xs->in_hdr.len - xs->in_got;
        }
        uint32_t to_end = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
        uint32_t n = prod - cons;
        if (n > want)
            n = want;
        if (n > to_end)
            n = to_end;
        memcpy(dst, ring->rsp + MASK_XENSTORE_IDX(cons), n);
        cons += n;
        xs->in_got += n;
        /* The header is our private copy now: checked once, never re-read
         * from the page. */
        if (xs->in_got == HDR_LEN && xs->in_hdr.len > XENSTORE_PAYLOAD_MAX) {
            broken(xs, "message longer than the payload maximum");
            break;
        }
        if (xs->in_got >= HDR_LEN && xs->in_got == HDR_LEN + xs->in_hdr.len) {
            xs->in_got = 0;
            handle_message(xs);
        }
    }
    if (cons == start || xs->err)
        return false;
    /* Release: our reads of the data are done before the space is given back. */
    __atomic_store_n(&ring->rsp_cons, cons, __ATOMIC_RELEASE);
    return true;
}

/* ---- Life cycle ------------------------------------------------------------------- */

int xenstore_init(struct xenstore *xs, struct xenstore_domain_interface *ring, xenstore_notify_fn notify,
                  void *notify_ctx)
{
    if (!xs || !ring || !notify)
        return -LWT_EINVAL;
    memset(xs, 0, offsetof(struct xenstore, in));
    memset(xs->reqs, 0, sizeof xs->reqs);
    memset(xs->watches, 0, sizeof xs->watches);
    for (int i = 0; i < XENSTORE_MAX_REQUESTS; i++)
        xs->reqs[i].next = -1;
    xs->ring = ring;
    xs->notify = notify;
    xs->notify_ctx = notify_ctx;
    xs->queue_head = xs->queue_tail = -1;
    /* Leftovers of an earlier client would be answers to nothing of ours. */
    XENSTORE_RING_IDX prod = __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX cons = __atomic_load_n(&ring->rsp_cons, __ATOMIC_RELAXED);
    if (prod != cons) {
        log_warn(&xs_log, "discarding %u stale bytes in the response ring", (unsigned)(prod - cons));
        __atomic_store_n(&ring->rsp_cons, prod, __ATOMIC_RELEASE);
        notify(notify_ctx);
    }
    return 0;
}

void xenstore_teardown(struct xenstore *xs)
{
    if (!xs->ring)
        return;
    reject_all(xs, -LWT_ECANCELED);
    for (int i = 0; i < XENSTORE_MAX_WATCHES; i++)
        if (xs->watches[i].path)
            watch_free(&xs->watches[i]);
    xs->ring = NULL;
}

void xenstore_on_event(struct xenstore *xs)
{
    /* Not from a watch callback; nothing to do once broken or torn down. */
    if (!xs->ring || xs->err || xs->in_event)
        return;
    xs->in_event = true;
    bool consumed = consume(xs);
    bool produced = push(xs);
    xs->in_event = false;
    if ((consumed || produced) && !xs->err)
        xs->notify(xs->notify_ctx);
}
