/* See unix_io.h.
 *
 * An operation that completes at once allocates nothing but its settled
 * promise. One that has to wait keeps its struct io_op inside its task
 * (lwt_task_with): the watch on the engine and the hook on the promise. The
 * hook runs when the promise settles, however that happens; if the watch is
 * still on (the promise was cancelled), it stops it, so a cancelled
 * operation holds no watch once its callbacks have run, and its memory goes
 * with the promise.
 *
 * Reads skip the first attempt when the last read on the same descriptor
 * came back short: the descriptor was drained then, so trying again would
 * most likely cost a system call that finds nothing (EAGAIN). They wait for
 * readiness instead, which the engine reports at once if data has arrived
 * meanwhile: the hint can cost a loop turn, never a lost wake-up.
 */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "unix_io.h"
#include "unix_platform.h"

enum io_kind { IO_WAIT, IO_READ, IO_WRITE, IO_RECV, IO_SEND, IO_ACCEPT, IO_CONNECT };

struct io_op {
    struct unix_watch watch;
    struct lwt_hook hook;
    lwt_resolver_t *resolver; /* NULL once handed to a wakeup */
    struct unix_engine *engine;
    enum io_kind kind;
    int flags;
    void *buf;
    size_t len;
};

static size_t live_watches;

/* One bit per descriptor below DRAIN_HINT_FDS: its last read was short.
 * Static, so that it needs no set-up or teardown; higher descriptors get no
 * hint and are always tried first. */
#define DRAIN_HINT_FDS 65536
static uint64_t drained_bits[DRAIN_HINT_FDS / 64];

static bool drained(int fd)
{
    return fd >= 0 && fd < DRAIN_HINT_FDS && (drained_bits[fd / 64] >> (fd % 64) & 1);
}

static void set_drained(int fd, bool on)
{
    if (fd < 0 || fd >= DRAIN_HINT_FDS)
        return;
    uint64_t bit = (uint64_t)1 << (fd % 64);
    if (on)
        drained_bits[fd / 64] |= bit;
    else
        drained_bits[fd / 64] &= ~bit;
}

size_t unix_io_watch_count(void)
{
    return live_watches;
}

int unix_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static bool would_block(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK;
}

/* One attempt at the operation: >= 0 done (the value), -EAGAIN to wait, or
 * another -errno. */
static long attempt(struct io_op *op)
{
    for (;;) {
        long n;
        switch (op->kind) {
        case IO_WAIT:
            return 0;
        case IO_READ:
            n = read(op->watch.fd, op->buf, op->len);
            break;
        case IO_WRITE:
            n = write(op->watch.fd, op->buf, op->len);
            break;
        case IO_RECV:
            n = recv(op->watch.fd, op->buf, op->len, op->flags);
            break;
        case IO_SEND:
            n = send(op->watch.fd, op->buf, op->len, op->flags | MSG_NOSIGNAL);
            break;
        case IO_ACCEPT:
            n = accept4(op->watch.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            /* The peer gave up before we took it: wait for the next one. */
            if (n < 0 && errno == ECONNABORTED)
                return -EAGAIN;
            break;
        case IO_CONNECT: {
            int err = 0;
            socklen_t len = sizeof err;
            if (getsockopt(op->watch.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
            return err ? -err : 0;
        }
        default:
            return -EINVAL;
        }
        if (n < 0 && errno == EINTR)
            continue;
        long r = n >= 0 ? n : would_block(errno) ? -EAGAIN : -errno;
        bool reads = op->kind == IO_READ || (op->kind == IO_RECV && !(op->flags & MSG_PEEK));
        if (reads) /* end of file (0) is no sign of a drained descriptor */
            set_drained(op->watch.fd, r == -EAGAIN || (r > 0 && (size_t)r < op->len));
        return r;
    }
}

static void stop_watch(struct io_op *op)
{
    if (op->watch.active) {
        unix_watch_stop(op->engine, &op->watch);
        live_watches--;
    }
}

static void on_ready(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    struct io_op *op = (struct io_op *)w;
    long n = attempt(op);
    if (n == -EAGAIN)
        return; /* spurious: keep waiting */
    stop_watch(op);
    lwt_resolver_t *r = op->resolver;
    op->resolver = NULL;
    if (n < 0)
        lwt_wakeup_fail_later(r, (int)n);
    else
        lwt_wakeup_later(r, LWT_INT(n));
}

static void on_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct io_op *op = (struct io_op *)((char *)hook - offsetof(struct io_op, hook));
    if (op->resolver) {
        /* Settled before the descriptor was ready: cancelled. */
        stop_watch(op);
        lwt_resolver_drop(op->resolver);
    }
}

/* Tries the operation at once (unless try_first is false); if it would
 * block, a pending promise takes a copy of it and waits for `events`. */
static lwt_t *start(int fd, enum io_kind kind, void *buf, size_t len, int flags, unsigned events, bool try_first)
{
    struct io_op now = {.watch.fd = fd, .kind = kind, .buf = buf, .len = len, .flags = flags};
    if (try_first) {
        long n = attempt(&now);
        if (n != -EAGAIN)
            return n < 0 ? lwt_fail((int)n) : lwt_return(LWT_INT(n));
    }
    struct unix_engine *engine = unix_platform_engine();
    if (!engine)
        return lwt_fail(LWT_EINVAL); /* the platform is not running */
    struct io_op *op;
    lwt_resolver_t *r;
    lwt_t *p = lwt_task_with(&r, sizeof *op, (void **)&op);
    *op = now;
    op->engine = engine;
    op->watch.events = events;
    op->watch.cb = on_ready;
    op->watch.active = false;
    int rc = unix_watch_start(engine, &op->watch);
    if (rc < 0) {
        lwt_resolver_drop(r);
        lwt_unref(p);
        return lwt_fail(rc);
    }
    live_watches++;
    op->resolver = r;
    lwt_hook_attach(p, &op->hook, on_settled);
    return p;
}

lwt_t *unix_wait_readable(int fd)
{
    return start(fd, IO_WAIT, NULL, 0, 0, UNIX_READABLE, false);
}

lwt_t *unix_wait_writable(int fd)
{
    return start(fd, IO_WAIT, NULL, 0, 0, UNIX_WRITABLE, false);
}

lwt_t *unix_read(int fd, void *buf, size_t len)
{
    return start(fd, IO_READ, buf, len, 0, UNIX_READABLE, !drained(fd));
}

lwt_t *unix_write(int fd, const void *buf, size_t len)
{
    return start(fd, IO_WRITE, (void *)buf, len, 0, UNIX_WRITABLE, true);
}

lwt_t *unix_recv(int fd, void *buf, size_t len, int flags)
{
    return start(fd, IO_RECV, buf, len, flags, UNIX_READABLE, !drained(fd));
}

lwt_t *unix_send(int fd, const void *buf, size_t len, int flags)
{
    return start(fd, IO_SEND, (void *)buf, len, flags, UNIX_WRITABLE, true);
}

lwt_t *unix_accept(int listen_fd)
{
    return start(listen_fd, IO_ACCEPT, NULL, 0, 0, UNIX_READABLE, true);
}

lwt_t *unix_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    for (;;) {
        if (connect(fd, addr, addrlen) == 0)
            return lwt_return(NULL);
        /* EINTR: the connection goes on in the background, as EINPROGRESS. */
        if (errno == EINPROGRESS || errno == EINTR)
            break;
        return lwt_fail(-errno);
    }
    return start(fd, IO_CONNECT, NULL, 0, 0, UNIX_WRITABLE, false);
}

int unix_close(int fd)
{
    struct unix_engine *engine = unix_platform_engine();
    if (engine)
        unix_engine_forget_fd(engine, fd);
    set_drained(fd, false);
    /* Linux releases the descriptor even when close fails: never retry. */
    return close(fd) < 0 && errno != EINTR ? -errno : 0;
}
