/* Event engines: the part of the Unix platform that waits for descriptors.
 *
 * Two engines sit behind one ops table, chosen at start-up: "libev" (the
 * default; epoll underneath) and "select" (the classic; it refuses a
 * descriptor at or above FD_SETSIZE with -LWT_ERANGE and a clear log line,
 * never undefined behaviour). unix_engine_open() reads TESSERA_ENGINE
 * ("libev" or "select") when no name is given.
 *
 * A watch is intrusive: the caller embeds struct unix_watch in its own
 * object, fills fd/events/cb and starts it. The engine keeps only pointers;
 * the caller stops the watch before freeing it. Callbacks run from
 * unix_engine_poll on the loop thread and must only enqueue (settle promises
 * with lwt_wakeup_later); a callback may stop any watch, itself included.
 */
#ifndef TESSERA_UNIX_ENGINE_H
#define TESSERA_UNIX_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

enum {
    UNIX_READABLE = 1,
    UNIX_WRITABLE = 2,
};

struct unix_watch;
typedef void (*unix_watch_cb)(struct unix_watch *w, unsigned revents);

struct unix_watch {
    int fd;           /* rw while stopped */
    unsigned events;  /* rw while stopped: UNIX_READABLE | UNIX_WRITABLE */
    unix_watch_cb cb; /* rw while stopped */
    bool active;      /* ro */
    void *engine_;    /* private: per-engine data */
    int index_;       /* private */
};

struct unix_engine;

struct unix_engine_ops {
    const char *name;
    /* Returns 0 or a negative LWT_E* code. */
    int (*init)(struct unix_engine *e);
    void (*destroy)(struct unix_engine *e);
    int (*start)(struct unix_engine *e, struct unix_watch *w);
    void (*stop)(struct unix_engine *e, struct unix_watch *w);
    /* Waits up to timeout_ns (-1: no limit; 0: just look) for watched
     * descriptors and calls the callbacks of those that are ready. A
     * signal may end the wait early (0 is returned). With no limit and
     * nothing watched, libev returns at once rather than sleep forever. */
    int (*poll)(struct unix_engine *e, int64_t timeout_ns);
};

struct unix_engine {
    const struct unix_engine_ops *ops; /* ro */
    void *state;                       /* private */
};

extern const struct unix_engine_ops unix_engine_select;
extern const struct unix_engine_ops unix_engine_libev;

/* Picks an engine by name (NULL or "": $TESSERA_ENGINE, else libev) and
 * initialises it. Returns 0, or -LWT_EINVAL for an unknown name (logged;
 * e->ops is then NULL), or the engine's own error. Every watch must be
 * stopped before unix_engine_close; close after a failed open is a no-op. */
int unix_engine_open(struct unix_engine *e, const char *name);
void unix_engine_close(struct unix_engine *e);

static inline int unix_watch_start(struct unix_engine *e, struct unix_watch *w)
{
    return e->ops->start(e, w);
}
static inline void unix_watch_stop(struct unix_engine *e, struct unix_watch *w)
{
    if (w->active)
        e->ops->stop(e, w);
}
static inline int unix_engine_poll(struct unix_engine *e, int64_t timeout_ns)
{
    return e->ops->poll(e, timeout_ns);
}

#endif
