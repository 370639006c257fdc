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
 *
 * Like libev, an engine may keep a descriptor registered after its watches
 * stop. A descriptor that has been watched is therefore closed through
 * unix_engine_forget_fd first (unix_close does both); otherwise a new file
 * that reuses the number within the same loop turn could go unwatched.
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
    /* fd is about to be closed: drop anything kept for it beyond its
     * watches (which must be stopped already). May be NULL. */
    void (*forget_fd)(struct unix_engine *e, int fd);
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
/* To be called before closing a descriptor that has been watched, so that a
 * new file under the same number is not taken for the old one (unix_close
 * in unix_io.h does it). */
static inline void unix_engine_forget_fd(struct unix_engine *e, int fd)
{
    if (e->ops->forget_fd)
        e->ops->forget_fd(e, fd);
}
static inline int unix_engine_poll(struct unix_engine *e, int64_t timeout_ns)
{
    return e->ops->poll(e, timeout_ns);
}

#endif
