/* The libev engine (epoll underneath on Linux): the default.
 *
 * Each started watch gets one ev_io, held in a small wrapper that the engine
 * owns; stopped wrappers are kept on a free list for reuse (bounded), so a
 * steady stream of one-shot watches does not call malloc each time. Only
 * loops from ev_loop_new are used: the default loop keeps static state and
 * installs a SIGCHLD handler.
 */
#include <ev.h>
#include <stdlib.h>

#include "log.h"
#include "lwt_errno.h"
#include "unix_engine.h"

static struct log_source libev_log = LOG_SOURCE("libev");

#define SPARE_MAX 1024

struct lev_io {
    ev_io io; /* first: the callback gets &io */
    struct unix_watch *w;
    struct lev_io *prev, *next; /* the active list, or the free list (next) */
};

struct lev_state {
    struct ev_loop *loop;
    ev_timer timeout;
    struct lev_io *active; /* so that destroy can release them all */
    struct lev_io *spare;
    size_t spare_len;
};

static int lev_init(struct unix_engine *e)
{
    struct lev_state *s = calloc(1, sizeof *s);
    if (!s)
        return -LWT_ENOMEM;
    s->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!s->loop)
        s->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
    if (!s->loop) {
        free(s);
        log_error(&libev_log, "no usable libev backend");
        return -LWT_ENOSYS;
    }
    ev_set_userdata(s->loop, s); /* for io_ready */
    ev_init(&s->timeout, NULL);
    e->state = s;
    return 0;
}

static void release(struct lev_state *s, struct lev_io *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        s->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->w->active = false;
    x->w->engine_ = NULL;
    if (s->spare_len < SPARE_MAX) {
        x->next = s->spare;
        s->spare = x;
        s->spare_len++;
    } else {
        free(x);
    }
}

static void lev_destroy(struct unix_engine *e)
{
    struct lev_state *s = e->state;
    while (s->active) {
        ev_io_stop(s->loop, &s->active->io);
        release(s, s->active);
    }
    while (s->spare) {
        struct lev_io *x = s->spare;
        s->spare = x->next;
        free(x);
    }
    ev_loop_destroy(s->loop);
    free(s);
    e->state = NULL;
}

static void io_ready(struct ev_loop *loop, ev_io *io, int revents)
{
    struct lev_io *x = (struct lev_io *)io;
    struct unix_watch *w = x->w;
    unsigned r = 0;
    if (revents & EV_ERROR) {
        /* libev has stopped the ev_io (a bad descriptor): report it ready so
         * that the owner's next call fails with the real error. */
        r = w->events;
        if (!ev_is_active(io))
            release(ev_userdata(loop), x);
    } else {
        if (revents & EV_READ)
            r |= UNIX_READABLE;
        if (revents & EV_WRITE)
            r |= UNIX_WRITABLE;
    }
    if (r)
        w->cb(w, r); /* may stop w and reuse x: touch neither after this */
}

static int lev_start(struct unix_engine *e, struct unix_watch *w)
{
    struct lev_state *s = e->state;
    if (w->active)
        return -LWT_EBUSY;
    if (w->fd < 0)
        return -LWT_EBADF;
    struct lev_io *x = s->spare;
    if (x) {
        s->spare = x->next;
        s->spare_len--;
    } else if (!(x = malloc(sizeof *x))) {
        return -LWT_ENOMEM;
    }
    int ev = (w->events & UNIX_READABLE ? EV_READ : 0) | (w->events & UNIX_WRITABLE ? EV_WRITE : 0);
    ev_io_init(&x->io, io_ready, w->fd, ev);
    x->w = w;
    x->prev = NULL;
    x->next = s->active;
    if (s->active)
        s->active->prev = x;
    s->active = x;
    w->engine_ = x;
    w->active = true;
    ev_io_start(s->loop, &x->io);
    return 0;
}

static void lev_stop(struct unix_engine *e, struct unix_watch *w)
{
    struct lev_state *s = e->state;
    struct lev_io *x = w->engine_;
    ev_io_stop(s->loop, &x->io); /* also drops it from libev's pending list */
    release(s, x);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
}

static int lev_poll(struct unix_engine *e, int64_t timeout_ns)
{
    struct lev_state *s = e->state;
    if (timeout_ns == 0) {
        ev_run(s->loop, EVRUN_NOWAIT);
        return 0;
    }
    if (timeout_ns > 0) {
        /* The loop's cached time is stale after a turn of callbacks. */
        ev_now_update(s->loop);
        ev_timer_init(&s->timeout, timeout_cb, (ev_tstamp)timeout_ns / 1e9, 0.);
        ev_timer_start(s->loop, &s->timeout);
    }
    ev_run(s->loop, EVRUN_ONCE);
    ev_timer_stop(s->loop, &s->timeout);
    return 0;
}

const struct unix_engine_ops unix_engine_libev = {
    .name = "libev",
    .init = lev_init,
    .destroy = lev_destroy,
    .start = lev_start,
    .stop = lev_stop,
    .poll = lev_poll,
};
