/* See unix_io.h.
 *
 * Each operation that has to wait owns one struct io_op: the watch on the
 * engine and the hook on its promise. The hook runs when the promise
 * settles, however that happens; if the watch is still on (the promise was
 * cancelled), it stops it. Either way it frees the op, so a cancelled
 * operation leaves nothing behind once its callbacks have run.
 */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <errno.h>
#include <fcntl.h>
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
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return would_block(errno) ? -EAGAIN : -errno;
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
    free(op);
}

/* Tries op at once; if it would block, hands op to a pending promise that
 * waits for `events`. Takes ownership of op. */
static lwt_t *run(struct io_op *op, unsigned events, bool try_first)
{
    if (try_first) {
        long n = attempt(op);
        if (n != -EAGAIN) {
            free(op);
            return n < 0 ? lwt_fail((int)n) : lwt_return(LWT_INT(n));
        }
    }
    op->engine = unix_platform_engine();
    if (!op->engine) {
        free(op);
        return lwt_fail(LWT_EINVAL); /* the platform is not running */
    }
    op->watch.events = events;
    op->watch.cb = on_ready;
    op->watch.active = false;
    int rc = unix_watch_start(op->engine, &op->watch);
    if (rc < 0) {
        free(op);
        return lwt_fail(rc);
    }
    live_watches++;
    lwt_t *p = lwt_task(&op->resolver);
    lwt_hook_attach(p, &op->hook, on_settled);
    return p;
}

static struct io_op *new_op(int fd, enum io_kind kind, void *buf, size_t len, int flags)
{
    struct io_op *op = malloc(sizeof *op);
    if (!op)
        return NULL;
    op->watch.fd = fd;
    op->kind = kind;
    op->buf = buf;
    op->len = len;
    op->flags = flags;
    op->resolver = NULL;
    return op;
}

static lwt_t *start(int fd, enum io_kind kind, void *buf, size_t len, int flags, unsigned events, bool try_first)
{
    struct io_op *op = new_op(fd, kind, buf, len, flags);
    return op ? run(op, events, try_first) : lwt_fail(LWT_ENOMEM);
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
    return start(fd, IO_READ, buf, len, 0, UNIX_READABLE, true);
}

lwt_t *unix_write(int fd, const void *buf, size_t len)
{
    return start(fd, IO_WRITE, (void *)buf, len, 0, UNIX_WRITABLE, true);
}

lwt_t *unix_recv(int fd, void *buf, size_t len, int flags)
{
    return start(fd, IO_RECV, buf, len, flags, UNIX_READABLE, true);
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
