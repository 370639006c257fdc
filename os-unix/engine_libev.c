/* The libev engine (epoll underneath on Linux): the default.
 *
 * Each started watch gets one ev_io, held in a small wrapper that the engine
 * owns; stopped wrappers are kept on a free list for reuse (bounded), so a
 * steady stream of one-shot watches does not call malloc each time. Only
 * loops from ev_loop_new are used: the default loop keeps static state and
 * installs a SIGCHLD handler.
 *
 * Why a wrapper remembers its descriptor: ev_io_init marks a watcher as
 * possibly naming a new file, which makes libev re-register the descriptor
 * with epoll (a failing EPOLL_CTL_ADD) even when it never left. A typical
 * promise reads, is woken, and waits on the same descriptor again, so a
 * start on a descriptor whose wrapper was stopped is given that same
 * wrapper back, started without ev_io_init: libev then issues no system
 * call at all. The price is libev's own rule made ours: a descriptor closed
 * and reopened under the same number must be announced (unix_close does it),
 * or a watch on the new file could be missed.
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
    struct lev_io *prev, *next; /* on the active list or the spare list */
};

/* A doubly linked list of wrappers. */
struct lev_list {
    struct lev_io *head;
    size_t len;
};

struct lev_state {
    struct ev_loop *loop;
    ev_timer timeout;
    struct lev_list active; /* so that destroy can release them all */
    struct lev_list spare;
    /* by_fd[fd]: a spare wrapper last started on fd, which may be started
     * again without ev_io_init; NULL when there is none. */
    struct lev_io **by_fd;
    size_t by_fd_len;
};

static void list_push(struct lev_list *l, struct lev_io *x)
{
    x->prev = NULL;
    x->next = l->head;
    if (l->head)
        l->head->prev = x;
    l->head = x;
    l->len++;
}

static void list_remove(struct lev_list *l, struct lev_io *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    l->len--;
}

/* The wrapper remembered for fd, if it is still x. */
static bool remembered(const struct lev_state *s, const struct lev_io *x)
{
    int fd = x->io.fd;
    return fd >= 0 && (size_t)fd < s->by_fd_len && s->by_fd[fd] == x;
}

static void remember(struct lev_state *s, struct lev_io *x)
{
    size_t fd = (size_t)x->io.fd;
    if (fd >= s->by_fd_len) {
        size_t len = s->by_fd_len ? s->by_fd_len : 64;
        while (len <= fd)
            len *= 2;
        struct lev_io **n = realloc(s->by_fd, len * sizeof *n);
        if (!n)
            return; /* only an optimisation is lost */
        for (size_t i = s->by_fd_len; i < len; i++)
            n[i] = NULL;
        s->by_fd = n;
        s->by_fd_len = len;
    }
    s->by_fd[fd] = x;
}

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

static void forget(struct lev_state *s, struct lev_io *x)
{
    if (remembered(s, x))
        s->by_fd[x->io.fd] = NULL;
}

/* Moves a stopped wrapper from the active list to the spares. `reusable`:
 * libev still has the descriptor as the wrapper last set it. */
static void release(struct lev_state *s, struct lev_io *x, bool reusable)
{
    list_remove(&s->active, x);
    x->w->active = false;
    x->w->engine_ = NULL;
    x->w = NULL;
    if (s->spare.len >= SPARE_MAX) {
        forget(s, x);
        free(x);
        return;
    }
    list_push(&s->spare, x);
    if (reusable)
        remember(s, x);
    else
        forget(s, x);
}

static void lev_destroy(struct unix_engine *e)
{
    struct lev_state *s = e->state;
    while (s->active.head) {
        ev_io_stop(s->loop, &s->active.head->io);
        release(s, s->active.head, false);
    }
    while (s->spare.head) {
        struct lev_io *x = s->spare.head;
        list_remove(&s->spare, x);
        free(x);
    }
    free(s->by_fd);
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
            release(ev_userdata(loop), x, false);
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
    int ev = (w->events & UNIX_READABLE ? EV_READ : 0) | (w->events & UNIX_WRITABLE ? EV_WRITE : 0);
    struct lev_io *x = (size_t)w->fd < s->by_fd_len ? s->by_fd[w->fd] : NULL;
    if (x && (x->io.events & (EV_READ | EV_WRITE)) == ev) {
        /* Same descriptor, same events: libev's registration still holds. */
        s->by_fd[w->fd] = NULL;
        list_remove(&s->spare, x);
    } else {
        if ((x = s->spare.head)) {
            list_remove(&s->spare, x);
            forget(s, x);
        } else if (!(x = malloc(sizeof *x))) {
            return -LWT_ENOMEM;
        }
        ev_io_init(&x->io, io_ready, w->fd, ev);
    }
    x->w = w;
    list_push(&s->active, x);
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
    release(s, x, true);
}

static void lev_forget_fd(struct unix_engine *e, int fd)
{
    struct lev_state *s = e->state;
    if (fd >= 0 && (size_t)fd < s->by_fd_len)
        s->by_fd[fd] = NULL;
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
    .forget_fd = lev_forget_fd,
};
