/* See netif_faults.h. Each direction keeps the frames it holds in a queue
 * sorted by (due time, sequence number) with one scheduler timer armed for
 * the head, as the hub does; the fates are drawn the same way too. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lwt_errno.h"
#include "net_fault_draw.h"
#include "netif_faults.h"
#include "scheduler.h"

static struct log_source faults_log = LOG_SOURCE("netif_faults");

struct flt_dir;

/* One frame held back. */
struct flt_frame {
    struct flt_frame *prev, *next; /* the queue */
    uint64_t at;                   /* when it goes */
    uint64_t base_at;              /* when it would go without a hold */
    uint64_t seq;                  /* breaks ties in arrival order */
    struct net_slice frame;        /* owned */
    uint8_t copies;                /* left to send: 2 when duplicated */
};

/* The armed timer. Apart from the direction so that a cancelled one whose
 * hook runs later (deferred) never touches a freed wrapper: dir is NULL
 * then. */
struct flt_timer {
    struct lwt_hook hook;
    struct flt_dir *dir;
    lwt_t *sleep; /* owned */
    uint64_t deadline;
};

/* Waiting for the inner netif to take frames again; same reason. */
struct flt_waiter {
    struct lwt_hook hook;
    struct flt_dir *dir;
    lwt_t *writable; /* owned */
};

struct flt_dir {
    struct netif_faults *owner;
    bool is_tx;
    struct netif_faults_config cfg;
    uint64_t rng;
    struct flt_frame *head, *tail;
    size_t count;
    uint64_t next_seq;
    struct flt_frame *held;    /* held for reordering, waiting to be overtaken */
    struct flt_timer *timer;   /* NULL when none is armed */
    struct flt_waiter *waiter; /* tx: the inner netif said -LWT_EAGAIN */
    uint64_t not_before;       /* tx: no retry before this */
    uint64_t lost, duplicated, reordered, delayed;
    bool warned_full;
};

struct netif_faults {
    struct netif netif; /* the stack's */
    struct netif *inner;
    netif_rx_fn up; /* the stack's listener */
    void *up_ctx;
    struct flt_dir tx, rx;
};

static const struct netif_ops faults_ops;

/* ---- Fates -------------------------------------------------------------- */

struct fate {
    bool lost, dup, hold;
    uint64_t at; /* when it goes, before any hold */
};

static struct fate draw(struct flt_dir *d, uint64_t now)
{
    /* The same draws for every frame, so one knob does not shift the
     * stream that another sees. */
    const struct netif_faults_config *c = &d->cfg;
    uint64_t r_loss = net_splitmix(&d->rng), r_dup = net_splitmix(&d->rng), r_reorder = net_splitmix(&d->rng);
    uint64_t r_jitter = net_splitmix(&d->rng);
    uint64_t jitter = c->jitter_ns == UINT64_MAX ? r_jitter : r_jitter % (c->jitter_ns + 1);
    return (struct fate){
        .lost = net_chance(r_loss, c->loss_ppm),
        .dup = net_chance(r_dup, c->dup_ppm),
        /* An overtaker is never held itself: pairs swap. */
        .hold = !d->held && net_chance(r_reorder, c->reorder_ppm),
        .at = net_add_sat(net_add_sat(now, c->delay_ns), jitter),
    };
}

/* Whether a frame with this fate may skip the queue: nothing to do to it,
 * and nothing due before it that it would overtake. */
static bool passes(const struct flt_dir *d, const struct fate *fate, uint64_t now)
{
    return !fate->lost && !fate->dup && !fate->hold && fate->at <= now && !(d->head && d->head->at <= now);
}

/* ---- The queue ---------------------------------------------------------- */

static bool before(const struct flt_frame *a, const struct flt_frame *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

/* Inserts in order, scanning from the tail: frames mostly come in order. */
static void enqueue(struct flt_dir *d, struct flt_frame *f)
{
    struct flt_frame *after = d->tail;
    while (after && before(f, after))
        after = after->prev;
    f->prev = after;
    f->next = after ? after->next : d->head;
    if (f->next)
        f->next->prev = f;
    else
        d->tail = f;
    if (after)
        after->next = f;
    else
        d->head = f;
}

static void unlink_frame(struct flt_dir *d, struct flt_frame *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        d->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        d->tail = f->prev;
    f->prev = f->next = NULL;
    if (d->held == f)
        d->held = NULL;
    d->count--;
}

static void free_frame(struct flt_frame *f)
{
    net_slice_release(&f->frame);
    free(f);
}

/* ---- The timer and the wait for the inner netif ------------------------- */

static void deliver_due(struct flt_dir *d);
static void rearm(struct flt_dir *d);

static void timer_settled(struct lwt_hook *hook, lwt_t *settled)
{
    struct flt_timer *t = (struct flt_timer *)hook;
    struct flt_dir *d = t->dir;
    int err = lwt_error(settled);
    lwt_unref(t->sleep); /* the library holds settled while hooks run */
    free(t);
    if (!d)
        return; /* cancelled */
    d->timer = NULL;
    if (err) {
        /* No memory for the timer, or the scheduler is going away
         * (-LWT_EBROKEN): the frames wait for the next one to arm one. */
        if (err != -LWT_EBROKEN)
            log_warn(&faults_log, "%s: delivery timer failed: %s", d->owner->netif.name, lwt_strerror(err));
        return;
    }
    deliver_due(d);
    rearm(d);
}

static void cancel_timer(struct flt_dir *d)
{
    struct flt_timer *t = d->timer;
    if (!t)
        return;
    d->timer = NULL;
    t->dir = NULL;
    lwt_cancel(t->sleep); /* frees the scheduler's timer; our hook frees t */
}

/* Makes sure a timer fires no later than the head of the queue is due. */
static void rearm(struct flt_dir *d)
{
    if (!d->head || d->waiter)
        return;
    uint64_t due = d->head->at > d->not_before ? d->head->at : d->not_before;
    if (d->timer && d->timer->deadline <= due)
        return;
    cancel_timer(d);
    struct flt_timer *t = malloc(sizeof *t);
    if (!t) {
        log_warn(&faults_log, "%s: no memory for the delivery timer", d->owner->netif.name);
        return;
    }
    t->dir = d;
    t->deadline = due;
    t->sleep = sched_sleep_until(due);
    d->timer = t;
    /* May run the hook at once (a failed sleep); t is not touched after. */
    lwt_hook_attach(t->sleep, &t->hook, timer_settled);
}

static void waiter_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct flt_waiter *w = (struct flt_waiter *)hook;
    struct flt_dir *d = w->dir;
    lwt_unref(w->writable);
    free(w);
    if (!d)
        return; /* cancelled */
    d->waiter = NULL;
    /* Whatever the answer, the next try tells: from the timer, on a later
     * turn, not from inside the inner netif's own wakeup. */
    rearm(d);
}

static void cancel_waiter(struct flt_dir *d)
{
    struct flt_waiter *w = d->waiter;
    if (!w)
        return;
    d->waiter = NULL;
    w->dir = NULL;
    lwt_cancel(w->writable); /* a non-cancelable one frees w when it settles */
}

/* The inner netif refused a frame: try again once it may take one. */
static void wait_for_inner(struct flt_dir *d)
{
    lwt_t *p = netif_wait_writable(d->owner->inner);
    struct flt_waiter *w = NULL;
    if (lwt_state(p) != LWT_PENDING || !(w = malloc(sizeof *w))) {
        /* Writable at once, yet it was not: poll instead of spinning. */
        lwt_cancel(p);
        lwt_unref(p);
        d->not_before = net_add_sat(sched_now(), NETIF_FAULTS_RETRY_NS);
        rearm(d);
        return;
    }
    w->dir = d;
    w->writable = p;
    d->waiter = w;
    lwt_hook_attach(p, &w->hook, waiter_settled);
}

/* ---- Delivery ----------------------------------------------------------- */

/* Hands one received frame (owned) to the stack. */
static void deliver_up(struct netif_faults *f, struct net_slice frame)
{
    if (!f->up) {
        f->netif.stats.rx_dropped++;
        net_slice_release(&frame);
        return;
    }
    f->netif.stats.rx_frames++;
    f->netif.stats.rx_bytes += frame.len;
    f->up(f->up_ctx, frame);
}

static int copy_fill(struct net_slice *frame, void *ctx)
{
    const struct net_slice *src = ctx;
    if (frame->len < src->len)
        return -LWT_EMSGSIZE;
    memcpy(net_slice_data(frame), net_slice_data(src), src->len);
    return (int)src->len;
}

/* Writes the frame's copies still to go to the inner netif: false when it
 * is full (the frame stays, with the copies left). */
static bool send_copies(struct flt_dir *d, struct flt_frame *fr)
{
    struct netif_faults *f = d->owner;
    while (fr->copies > 0) {
        int rc = netif_write(f->inner, fr->frame.len, copy_fill, &fr->frame);
        if (rc == -LWT_EAGAIN)
            return false;
        if (rc < 0) {
            f->netif.stats.tx_errors++;
            log_debug(&faults_log, "%s: write: %s", f->netif.name, lwt_strerror(rc));
        }
        fr->copies--;
    }
    return true;
}

static void deliver_due(struct flt_dir *d)
{
    /* Only frames queued before this turn, so a frame released by one
     * delivered now waits for the next turn, as a new one would. */
    uint64_t now = sched_now();
    uint64_t limit = d->next_seq;
    if (now < d->not_before)
        return;
    d->not_before = 0;
    while (d->head && d->head->at <= now && d->head->seq < limit) {
        struct flt_frame *fr = d->head;
        if (d->is_tx) {
            if (!send_copies(d, fr)) {
                wait_for_inner(d);
                return;
            }
            unlink_frame(d, fr);
            free_frame(fr);
            continue;
        }
        /* Out of the queue before the listener runs: it may write, listen
         * or change the faults. */
        unlink_frame(d, fr);
        struct net_slice frame = fr->frame;
        uint8_t copies = fr->copies;
        free(fr);
        for (uint8_t c = 1; c < copies; c++)
            deliver_up(d->owner, net_slice_share(&frame));
        deliver_up(d->owner, frame);
    }
}

/* ---- Holding frames ----------------------------------------------------- */

/* The held frame (if any) was overtaken by one going at `at`: it follows. */
static void release_held(struct flt_dir *d, uint64_t at)
{
    struct flt_frame *h = d->held;
    if (!h)
        return;
    unlink_frame(d, h);
    d->count++; /* still held, only moved */
    h->at = h->base_at > at ? h->base_at : at;
    h->seq = d->next_seq++;
    enqueue(d, h);
    d->reordered++;
    rearm(d);
}

/* A frame for the queue, its slice empty; NULL (and counted) past the
 * bound or without memory. */
static struct flt_frame *frame_new(struct flt_dir *d)
{
    struct netif_stats *st = &d->owner->netif.stats;
    if (d->count >= NETIF_FAULTS_MAX_HELD) {
        if (!d->warned_full)
            log_warn(&faults_log, "%s: %u frames held on %s: dropping", d->owner->netif.name, NETIF_FAULTS_MAX_HELD,
                     d->is_tx ? "tx" : "rx");
        d->warned_full = true;
    } else {
        struct flt_frame *fr = malloc(sizeof *fr);
        if (fr) {
            *fr = (struct flt_frame){0};
            return fr;
        }
    }
    if (d->is_tx)
        st->tx_dropped++;
    else
        st->rx_dropped++;
    return NULL;
}

/* Queues fr (its slice set) according to its fate. */
static void hold_frame(struct flt_dir *d, struct flt_frame *fr, const struct fate *fate, uint64_t now)
{
    fr->base_at = fr->at = fate->at;
    fr->seq = d->next_seq++;
    fr->copies = fate->dup ? 2 : 1;
    d->count++;
    if (fate->dup)
        d->duplicated++;
    if (fate->at > now)
        d->delayed++;
    if (d->held) {
        enqueue(d, fr);
        release_held(d, fr->at);
    } else {
        if (fate->hold) {
            uint64_t hold = d->cfg.reorder_hold_ns ? d->cfg.reorder_hold_ns : NETIF_FAULTS_REORDER_HOLD_NS;
            fr->at = net_add_sat(fr->at, hold);
            d->held = fr;
        }
        enqueue(d, fr);
    }
    rearm(d);
}

/* ---- The netif ---------------------------------------------------------- */

/* The zero-copy path: the caller's fill, run by the inner netif, watched
 * for the statistics. */
struct pass {
    netif_fill_fn fill;
    void *ctx;
    int len;
    bool ran;
};

static int pass_fill(struct net_slice *frame, void *ctx)
{
    struct pass *p = ctx;
    p->ran = true;
    p->len = p->fill(frame, p->ctx);
    return p->len;
}

static int write_through(struct netif_faults *f, size_t size, netif_fill_fn fill, void *ctx)
{
    struct pass p = {fill, ctx, 0, false};
    int rc = netif_write(f->inner, size, pass_fill, &p);
    struct netif_stats *st = &f->netif.stats;
    bool refused = p.ran && (p.len < 0 || (size_t)p.len > size);
    if (rc == 0 && p.ran && !refused) {
        st->tx_frames++;
        st->tx_bytes += (uint64_t)p.len;
    } else if (rc == 0 || refused) {
        st->tx_dropped++; /* the medium was full, or the fill refused */
    } else if (rc != -LWT_EAGAIN && rc != -LWT_EMSGSIZE) {
        st->tx_errors++;
    }
    return rc;
}

static int faults_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    struct netif_faults *f = (struct netif_faults *)n;
    struct flt_dir *d = &f->tx;
    if (size > (size_t)n->mtu + NETIF_ETH_HDR)
        return -LWT_EMSGSIZE;
    uint64_t now = sched_now();
    struct fate fate = draw(d, now);
    if (passes(d, &fate, now)) {
        int rc = write_through(f, size, fill, ctx);
        if (rc == 0)
            release_held(d, now);
        return rc;
    }

    /* Built now, into a buffer of our own, since it goes later or twice;
     * a lost one too, so that the fill's errors and the statistics are
     * those of a frame that went. */
    struct flt_frame *fr = NULL;
    if (!fate.lost && !(fr = frame_new(d)))
        return 0;
    struct net_slice frame;
    if (net_slice_alloc(&frame, 0, size) != 0) {
        free(fr);
        n->stats.tx_dropped++;
        return -LWT_ENOMEM;
    }
    struct net_slice lent = frame; /* what the fill does to its copy is its own */
    int len = fill(&lent, ctx);
    if (len < 0 || (size_t)len > size) {
        net_slice_release(&frame);
        free(fr);
        n->stats.tx_dropped++;
        return len < 0 ? len : -LWT_EINVAL;
    }
    net_slice_trim(&frame, (size_t)len);
    n->stats.tx_frames++;
    n->stats.tx_bytes += (uint64_t)len;
    if (fate.lost) {
        d->lost++;
        net_slice_release(&frame);
        return 0;
    }
    fr->frame = frame;
    hold_frame(d, fr, &fate, now);
    return 0;
}

static void on_inner_rx(void *ctx, struct net_slice frame)
{
    struct netif_faults *f = ctx;
    struct flt_dir *d = &f->rx;
    uint64_t now = sched_now();
    struct fate fate = draw(d, now);
    if (fate.lost) {
        d->lost++;
        net_slice_release(&frame);
        return;
    }
    if (passes(d, &fate, now)) {
        release_held(d, now);
        deliver_up(f, frame);
        return;
    }
    struct flt_frame *fr = frame_new(d);
    if (!fr) {
        net_slice_release(&frame);
        return;
    }
    fr->frame = frame;
    hold_frame(d, fr, &fate, now);
}

static lwt_t *faults_wait_writable(struct netif *n)
{
    return netif_wait_writable(((struct netif_faults *)n)->inner);
}

static void faults_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    struct netif_faults *f = (struct netif_faults *)n;
    f->up = rx;
    f->up_ctx = rx ? ctx : NULL;
    /* Only while the stack listens, so that the inner netif keeps its own
     * behaviour without one (the tap then leaves frames in the kernel). */
    netif_listen(f->inner, rx ? on_inner_rx : NULL, rx ? f : NULL);
}

static const struct netif_ops faults_ops = {
    .write = faults_write,
    .wait_writable = faults_wait_writable,
    .listen = faults_listen,
};

/* ---- The wrapper -------------------------------------------------------- */

int netif_faults_wrap(struct netif *inner, uint64_t seed, struct netif_faults **out)
{
    *out = NULL;
    if (!inner)
        return -LWT_EINVAL;
    struct netif_faults *f = malloc(sizeof *f);
    if (!f)
        return -LWT_ENOMEM;
    *f = (struct netif_faults){0};
    f->netif.ops = &faults_ops;
    memcpy(f->netif.mac, inner->mac, sizeof f->netif.mac);
    f->netif.mtu = inner->mtu;
    f->netif.name = inner->name ? inner->name : "faults";
    f->inner = inner;
    /* Each direction its own stream: tx from the seed, rx from its hash. */
    uint64_t s = seed;
    f->tx = (struct flt_dir){.owner = f, .is_tx = true, .rng = seed};
    f->rx = (struct flt_dir){.owner = f, .is_tx = false, .rng = net_splitmix(&s)};
    *out = f;
    return 0;
}

struct netif *netif_faults_netif(struct netif_faults *f)
{
    return &f->netif;
}

void netif_faults_set(struct netif_faults *f, const struct netif_faults_config *tx,
                      const struct netif_faults_config *rx)
{
    f->tx.cfg = tx ? *tx : (struct netif_faults_config){0};
    f->rx.cfg = rx ? *rx : (struct netif_faults_config){0};
}

void netif_faults_stats(const struct netif_faults *f, struct netif_faults_stats *out)
{
    *out = (struct netif_faults_stats){
        .tx_lost = f->tx.lost,
        .rx_lost = f->rx.lost,
        .tx_duplicated = f->tx.duplicated,
        .rx_duplicated = f->rx.duplicated,
        .tx_reordered = f->tx.reordered,
        .rx_reordered = f->rx.reordered,
        .tx_delayed = f->tx.delayed,
        .rx_delayed = f->rx.delayed,
    };
}

size_t netif_faults_held(const struct netif_faults *f)
{
    return f->tx.count + f->rx.count;
}

static void dir_free(struct flt_dir *d)
{
    cancel_timer(d);
    cancel_waiter(d);
    while (d->head) {
        struct flt_frame *fr = d->head;
        unlink_frame(d, fr);
        free_frame(fr);
    }
}

void netif_faults_free(struct netif_faults *f)
{
    if (!f)
        return;
    netif_listen(f->inner, NULL, NULL);
    dir_free(&f->tx);
    dir_free(&f->rx);
    free(f);
}
