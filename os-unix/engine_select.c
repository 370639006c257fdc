/* The select(2) engine: the classic, limited to FD_SETSIZE descriptors.
 *
 * Watches live in an array. Stopping one leaves a hole (NULL) that the next
 * poll compacts away, so that callbacks may stop or start any watch while
 * the array is being dispatched: a hole is skipped, and a watch started
 * during dispatch sits past the end of this round.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/select.h>
#include <time.h>

#include "log.h"
#include "lwt_errno.h"
#include "unix_engine.h"

static struct log_source select_log = LOG_SOURCE("select");

struct select_state {
    struct unix_watch **watches; /* may hold NULL holes */
    size_t len, cap;
    size_t holes;
};

static int sel_init(struct unix_engine *e)
{
    struct select_state *s = calloc(1, sizeof *s);
    if (!s)
        return -LWT_ENOMEM;
    e->state = s;
    return 0;
}

static void sel_destroy(struct unix_engine *e)
{
    struct select_state *s = e->state;
    for (size_t i = 0; i < s->len; i++)
        if (s->watches[i])
            s->watches[i]->active = false;
    free(s->watches);
    free(s);
    e->state = NULL;
}

static int sel_start(struct unix_engine *e, struct unix_watch *w)
{
    struct select_state *s = e->state;
    if (w->active)
        return -LWT_EBUSY;
    if (w->fd < 0)
        return -LWT_EBADF;
    if (w->fd >= FD_SETSIZE) {
        /* FD_SET past the end of an fd_set is undefined behaviour. */
        log_error(&select_log, "descriptor %d is beyond FD_SETSIZE (%d); use the libev engine", w->fd, FD_SETSIZE);
        return -LWT_ERANGE;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct unix_watch **n = realloc(s->watches, cap * sizeof *n);
        if (!n)
            return -LWT_ENOMEM;
        s->watches = n;
        s->cap = cap;
    }
    w->index_ = (int)s->len;
    w->engine_ = s;
    w->active = true;
    s->watches[s->len++] = w;
    return 0;
}

static void sel_stop(struct unix_engine *e, struct unix_watch *w)
{
    struct select_state *s = e->state;
    s->watches[w->index_] = NULL;
    s->holes++;
    w->active = false;
    w->engine_ = NULL;
}

static void compact(struct select_state *s)
{
    if (!s->holes)
        return;
    size_t j = 0;
    for (size_t i = 0; i < s->len; i++) {
        struct unix_watch *w = s->watches[i];
        if (!w)
            continue;
        w->index_ = (int)j;
        s->watches[j++] = w;
    }
    s->len = j;
    s->holes = 0;
}

/* select failed with EBADF: some watched descriptor was closed. Report those
 * as ready, so that their owners' next call fails with EBADF and they stop
 * watching, rather than failing the whole loop. */
static void report_bad(struct select_state *s)
{
    size_t n = s->len;
    for (size_t i = 0; i < n; i++) {
        struct unix_watch *w = s->watches[i];
        if (w && fcntl(w->fd, F_GETFD) < 0 && errno == EBADF)
            w->cb(w, w->events);
    }
}

static int sel_poll(struct unix_engine *e, int64_t timeout_ns)
{
    struct select_state *s = e->state;
    compact(s);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    int maxfd = -1;
    for (size_t i = 0; i < s->len; i++) {
        struct unix_watch *w = s->watches[i];
        if (w->events & UNIX_READABLE)
            FD_SET(w->fd, &rd);
        if (w->events & UNIX_WRITABLE)
            FD_SET(w->fd, &wr);
        if (w->fd > maxfd)
            maxfd = w->fd;
    }
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    int n = pselect(maxfd + 1, &rd, &wr, NULL, tsp, NULL);
    if (n < 0) {
        if (errno == EINTR)
            return 0; /* a signal: its self-pipe is seen on the next poll */
        if (errno == EBADF) {
            report_bad(s);
            return 0;
        }
        int err = -errno;
        log_error(&select_log, "select: %s", lwt_strerror(err));
        return err;
    }
    size_t len = s->len;
    for (size_t i = 0; i < len; i++) {
        struct unix_watch *w = s->watches[i];
        if (!w)
            continue;
        unsigned revents = 0;
        if ((w->events & UNIX_READABLE) && FD_ISSET(w->fd, &rd))
            revents |= UNIX_READABLE;
        if ((w->events & UNIX_WRITABLE) && FD_ISSET(w->fd, &wr))
            revents |= UNIX_WRITABLE;
        if (revents)
            w->cb(w, revents);
    }
    return 0;
}

const struct unix_engine_ops unix_engine_select = {
    .name = "select",
    .init = sel_init,
    .destroy = sel_destroy,
    .start = sel_start,
    .stop = sel_stop,
    .poll = sel_poll,
};
