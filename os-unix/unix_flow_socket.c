/* See unix_flow_socket.h.
 *
 * Each pending operation is a struct sock_op inside its flow or listener:
 * the caller's promise (a task whose resolver we keep) and the promise we
 * wait on inside (a readiness wait or recv from unix_io, or a back-off
 * sleep), each with a hook. When the inner promise settles, the operation
 * advances: it finishes the caller's promise or waits again. When the
 * caller's promise settles without us (cancelled, or the flow closed),
 * its hook cancels the inner one. Keeping our own task in front, rather
 * than handing out unix_io's promise, is what lets us map errors, write
 * until the last byte, and reject an accept with -LWT_ESHUTDOWN.
 *
 * A flow or listener counts references: the owner's handle, plus one per
 * hook that has yet to run. Hooks may run from the deferred queue after
 * close; the descriptor is closed and the memory freed only when the last
 * one has run, which is also after unix_io has stopped its watches (its
 * hook on the inner promise comes before ours), as unix_close requires.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"
#include "unix_flow_socket.h"
#include "unix_io.h"

static struct log_source flow_log = LOG_SOURCE("flow");

struct sock_stack {
    struct flow_stack fs;
    struct unix_flow_socket_config cfg;
    struct unix_flow_socket_stats stats;
    bool freed; /* by its owner; the memory goes with the last flow */
};

/* What flows and listeners share. */
struct usock {
    struct sock_stack *st;
    void *mem; /* the containing object, freed with the last reference */
    int fd;
    unsigned refs; /* the owner's handle, plus one per hook still to run */
};

struct sock_op;
/* Called when the inner promise settles; op->waiter is NULL if the caller
 * has gone (cancelled or closed). */
typedef void (*op_advance_fn)(struct sock_op *op, lwt_t *settled);

struct sock_op {
    struct usock *u;
    lwt_resolver_t *waiter; /* the caller's pending promise; NULL when none */
    lwt_t *inner;           /* our reference to what we wait on, or NULL */
    op_advance_fn advance;
    bool waiter_hooked; /* waiter_hook still to run */
    struct lwt_hook waiter_hook, inner_hook;
    const uint8_t *buf; /* a write's bytes */
    size_t len, done;
};

struct sock_flow {
    struct flow f;
    struct usock u;
    struct sock_op rd, wr, sh; /* read; write or connect; shutdown */
    bool wr_shut;              /* shutdown asked: writes get -LWT_EPIPE */
};

struct sock_listener {
    struct flow_listener l;
    struct usock u;
    struct sock_op acc;
    uint16_t port;
    uint32_t backoff_ms; /* 0 while descriptors are to be had */
};

/* ---- Errors ----------------------------------------------------------------- */

int unix_flow_socket_error(int e)
{
    if (e >= 0)
        return e;
    switch (-e) {
    case ENFILE:
        return -LWT_EMFILE;
    case ECONNABORTED:
    case ENETRESET:
        return -LWT_ECONNRESET;
    case EHOSTDOWN:
        return -LWT_EHOSTUNREACH;
    /* The LWT_E* codes are Linux's numbers (a unit test checks them). */
    case EPERM:
    case ENOENT:
    case EINTR:
    case EIO:
    case EBADF:
    case EAGAIN:
    case ENOMEM:
    case EACCES:
    case EFAULT:
    case EBUSY:
    case EEXIST:
    case ENODEV:
    case EINVAL:
    case EMFILE:
    case ENOSPC:
    case EPIPE:
    case ERANGE:
    case ENOSYS:
    case EPROTO:
    case EOVERFLOW:
    case EMSGSIZE:
    case ENOPROTOOPT:
    case EOPNOTSUPP:
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case ENETDOWN:
    case ENETUNREACH:
    case ECONNRESET:
    case ENOBUFS:
    case EISCONN:
    case ENOTCONN:
    case ESHUTDOWN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case EALREADY:
    case EINPROGRESS:
    case ECANCELED:
        return e;
    default:
        return -LWT_EIO;
    }
}

static lwt_t *fail_errno(int neg_errno)
{
    return lwt_fail(unix_flow_socket_error(neg_errno));
}

/* ---- References ------------------------------------------------------------- */

static void usock_init(struct usock *u, struct sock_stack *st, void *mem, int fd)
{
    u->st = st;
    u->mem = mem;
    u->fd = fd;
    u->refs = 1;
    st->stats.live++;
}

static void usock_unref(struct usock *u)
{
    if (--u->refs)
        return;
    struct sock_stack *st = u->st;
    if (u->fd >= 0)
        unix_close(u->fd);
    free(u->mem);
    if (--st->stats.live == 0 && st->freed)
        free(st);
}

/* ---- Operations ------------------------------------------------------------- */

static void op_init(struct sock_op *op, struct usock *u)
{
    *op = (struct sock_op){.u = u};
}

/* A new operation must wait until the last one's hooks have run. */
static bool op_busy(const struct sock_op *op)
{
    return op->waiter || op->waiter_hooked || op->inner;
}

static void waiter_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct sock_op *op = (struct sock_op *)((char *)hook - offsetof(struct sock_op, waiter_hook));
    struct usock *u = op->u;
    op->waiter_hooked = false;
    if (op->waiter) {
        /* Settled without us: cancelled. */
        lwt_resolver_t *r = op->waiter;
        op->waiter = NULL;
        lwt_resolver_drop(r);
    }
    if (op->inner)
        lwt_cancel(op->inner);
    usock_unref(u);
}

static void inner_settled(struct lwt_hook *hook, lwt_t *settled)
{
    struct sock_op *op = (struct sock_op *)((char *)hook - offsetof(struct sock_op, inner_hook));
    struct usock *u = op->u;
    lwt_t *in = op->inner;
    op->inner = NULL;
    op->advance(op, settled);
    lwt_unref(in);
    usock_unref(u);
}

/* The caller's promise for a new operation. */
static lwt_t *op_begin(struct sock_op *op, op_advance_fn advance)
{
    lwt_t *p = lwt_task(&op->waiter);
    op->advance = advance;
    op->waiter_hooked = true;
    op->u->refs++;
    lwt_hook_attach(p, &op->waiter_hook, waiter_settled);
    return p;
}

/* Waits on inner (consumed); advance runs when it settles, at once if it
 * already has. */
static void op_wait(struct sock_op *op, lwt_t *inner)
{
    op->inner = inner;
    op->u->refs++;
    lwt_hook_attach(inner, &op->inner_hook, inner_settled);
}

static void op_finish(struct sock_op *op, void *value)
{
    lwt_resolver_t *r = op->waiter;
    op->waiter = NULL;
    lwt_wakeup(r, value);
}

static void op_fail(struct sock_op *op, int err)
{
    lwt_resolver_t *r = op->waiter;
    op->waiter = NULL;
    lwt_wakeup_fail(r, unix_flow_socket_error(err));
}

static void op_cancel(struct sock_op *op)
{
    if (op->waiter)
        lwt_cancel(lwt_resolver_promise(op->waiter));
}

/* ---- Flows ------------------------------------------------------------------ */

static const struct flow_ops sock_flow_ops;

static struct sock_flow *flow_of(struct usock *u)
{
    return (struct sock_flow *)((char *)u - offsetof(struct sock_flow, u));
}

static void set_nodelay(int fd, bool on)
{
    int v = on;
    /* Only fails on a descriptor that is not a TCP socket. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

/* Takes fd (closed on failure). */
static struct sock_flow *flow_new(struct sock_stack *st, int fd)
{
    struct sock_flow *s = malloc(sizeof *s);
    if (!s) {
        close(fd);
        return NULL;
    }
    s->f.ops = &sock_flow_ops;
    s->wr_shut = false;
    usock_init(&s->u, st, s, fd);
    op_init(&s->rd, &s->u);
    op_init(&s->wr, &s->u);
    op_init(&s->sh, &s->u);
    if (!st->cfg.nagle)
        set_nodelay(fd, true);
    return s;
}

static void flow_give_up(struct sock_flow *s, bool reset)
{
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(s->u.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    s->wr_shut = true;
    op_cancel(&s->rd);
    op_cancel(&s->wr);
    op_cancel(&s->sh);
    usock_unref(&s->u);
}

static void advance_read(struct sock_op *op, lwt_t *settled)
{
    if (!op->waiter)
        return;
    if (lwt_state(settled) == LWT_REJECTED)
        op_fail(op, lwt_error(settled));
    else
        op_finish(op, lwt_value(settled));
}

static lwt_t *sock_read(struct flow *f, void *buf, size_t len)
{
    struct sock_flow *s = (struct sock_flow *)f;
    if (len == 0)
        return lwt_fail(-LWT_EINVAL);
    if (op_busy(&s->rd))
        return lwt_fail(-LWT_EBUSY);
    lwt_t *in = unix_recv(s->u.fd, buf, len, 0);
    if (lwt_state(in) == LWT_FULFILLED)
        return in;
    if (lwt_state(in) == LWT_REJECTED) {
        int err = lwt_error(in);
        lwt_unref(in);
        return fail_errno(err);
    }
    lwt_t *p = op_begin(&s->rd, advance_read);
    op_wait(&s->rd, in);
    return p;
}

/* Sends until done (0), the socket is full (-EAGAIN) or it fails. */
static int send_rest(int fd, struct sock_op *op)
{
    while (op->done < op->len) {
        ssize_t n = send(fd, op->buf + op->done, op->len - op->done, MSG_NOSIGNAL);
        if (n >= 0)
            op->done += (size_t)n;
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        else if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static void advance_write(struct sock_op *op, lwt_t *settled)
{
    if (!op->waiter)
        return;
    if (lwt_state(settled) == LWT_REJECTED) {
        op_fail(op, lwt_error(settled));
        return;
    }
    int rc = send_rest(op->u->fd, op);
    if (rc == -EAGAIN)
        op_wait(op, unix_wait_writable(op->u->fd));
    else if (rc < 0)
        op_fail(op, rc);
    else
        op_finish(op, LWT_INT(op->len));
}

static lwt_t *sock_write(struct flow *f, const void *buf, size_t len)
{
    struct sock_flow *s = (struct sock_flow *)f;
    if (s->wr_shut)
        return lwt_fail(-LWT_EPIPE);
    if (op_busy(&s->wr))
        return lwt_fail(-LWT_EBUSY);
    if (len == 0)
        return lwt_return(LWT_INT(0));
    s->wr.buf = buf;
    s->wr.len = len;
    s->wr.done = 0;
    int rc = send_rest(s->u.fd, &s->wr);
    if (rc == 0)
        return lwt_return(LWT_INT(len));
    if (rc != -EAGAIN)
        return fail_errno(rc);
    lwt_t *p = op_begin(&s->wr, advance_write);
    op_wait(&s->wr, unix_wait_writable(s->u.fd));
    return p;
}

static int shutdown_now(int fd)
{
    return shutdown(fd, SHUT_WR) < 0 ? unix_flow_socket_error(-errno) : 0;
}

static void advance_shutdown(struct sock_op *op, lwt_t *settled)
{
    (void)settled; /* the write's own caller hears how it went */
    if (!op->waiter)
        return;
    int rc = shutdown_now(op->u->fd);
    if (rc < 0)
        op_fail(op, rc);
    else
        op_finish(op, NULL);
}

static lwt_t *sock_shutdown(struct flow *f)
{
    struct sock_flow *s = (struct sock_flow *)f;
    if (s->wr_shut)
        return lwt_return(NULL);
    s->wr_shut = true;
    if (!s->wr.waiter) {
        int rc = shutdown_now(s->u.fd);
        return rc < 0 ? lwt_fail(rc) : lwt_return(NULL);
    }
    /* FIN after the pending write's bytes, as the direct stack does. */
    lwt_t *p = op_begin(&s->sh, advance_shutdown);
    op_wait(&s->sh, lwt_protected(lwt_ref(lwt_resolver_promise(s->wr.waiter))));
    return p;
}

static void sock_close(struct flow *f)
{
    flow_give_up((struct sock_flow *)f, false);
}

static void sock_abort(struct flow *f)
{
    flow_give_up((struct sock_flow *)f, true);
}

static void sock_set_nodelay(struct flow *f, bool on)
{
    set_nodelay(((struct sock_flow *)f)->u.fd, on);
}

static void to_endpoint(const struct sockaddr_in *sa, struct flow_endpoint *e)
{
    e->addr = ntohl(sa->sin_addr.s_addr);
    e->port = ntohs(sa->sin_port);
}

static void sock_endpoints(const struct flow *f, struct flow_endpoint *local, struct flow_endpoint *remote)
{
    int fd = ((const struct sock_flow *)f)->u.fd;
    struct sockaddr_in sa;
    socklen_t len;
    if (local) {
        *local = (struct flow_endpoint){0};
        len = sizeof sa;
        if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET)
            to_endpoint(&sa, local);
    }
    if (remote) {
        *remote = (struct flow_endpoint){0};
        len = sizeof sa;
        if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET)
            to_endpoint(&sa, remote);
    }
}

static const struct flow_ops sock_flow_ops = {
    .read = sock_read,
    .write = sock_write,
    .shutdown = sock_shutdown,
    .close = sock_close,
    .abort = sock_abort,
    .set_nodelay = sock_set_nodelay,
    .endpoints = sock_endpoints,
};

/* ---- Connect ---------------------------------------------------------------- */

static void advance_connect(struct sock_op *op, lwt_t *settled)
{
    struct sock_flow *s = flow_of(op->u);
    if (!op->waiter) {
        flow_give_up(s, true); /* cancelled: nobody has the handle */
        return;
    }
    int err = 0;
    if (lwt_state(settled) == LWT_REJECTED) {
        err = lwt_error(settled);
    } else {
        socklen_t len = sizeof err;
        if (getsockopt(s->u.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        err = -err;
    }
    if (err) {
        op_fail(op, err);
        flow_give_up(s, true);
        return;
    }
    s->u.st->stats.connected++;
    op_finish(op, &s->f);
}

static lwt_t *stack_connect(struct flow_stack *fs, struct flow_endpoint to)
{
    struct sock_stack *st = (struct sock_stack *)fs;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(-errno);
    struct sock_flow *s = flow_new(st, fd);
    if (!s)
        return lwt_fail(-LWT_ENOMEM);
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(to.port),
        .sin_addr.s_addr = htonl(to.addr),
    };
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        st->stats.connected++;
        return lwt_return(&s->f);
    }
    /* EINTR: the connection goes on in the background, as EINPROGRESS. */
    if (errno != EINPROGRESS && errno != EINTR) {
        int err = -errno;
        flow_give_up(s, true);
        return fail_errno(err);
    }
    lwt_t *p = op_begin(&s->wr, advance_connect);
    op_wait(&s->wr, unix_wait_writable(fd));
    return p;
}

/* ---- Listeners -------------------------------------------------------------- */

static const struct flow_listener_ops sock_listener_ops;

static struct sock_listener *listener_of(struct usock *u)
{
    return (struct sock_listener *)((char *)u - offsetof(struct sock_listener, u));
}

/* One connection: 0 and *fd_out, -EAGAIN when none is waiting, -EMFILE
 * when out of descriptors or memory (time to back off), or another
 * -errno. */
static int try_accept(int lfd, int *fd_out)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            *fd_out = fd;
            return 0;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED: /* the peer gave up before we took it */
        case EPROTO:
            continue;
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return -EAGAIN;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            return -EMFILE;
        default:
            return -errno;
        }
    }
}

/* The accepted descriptor as a flow; NULL (fd closed) if out of memory. */
static struct sock_flow *accepted(struct sock_listener *l, int fd)
{
    l->backoff_ms = 0;
    struct sock_flow *s = flow_new(l->u.st, fd);
    if (s)
        l->u.st->stats.accepted++;
    return s;
}

/* Waits for the next connection, or out of descriptors, for a while: the
 * listening socket stays readable then, and waiting for readiness would
 * spin. */
static void accept_wait(struct sock_listener *l, int rc)
{
    if (rc == -EAGAIN) {
        op_wait(&l->acc, unix_wait_readable(l->u.fd));
        return;
    }
    if (l->backoff_ms == 0) {
        l->backoff_ms = UNIX_FLOW_ACCEPT_BACKOFF_MS;
        log_warn(&flow_log, "port %u: out of descriptors; accepting again in %u ms", (unsigned)l->port,
                 (unsigned)l->backoff_ms);
    } else if (l->backoff_ms < UNIX_FLOW_ACCEPT_BACKOFF_MAX_MS) {
        l->backoff_ms *= 2;
        if (l->backoff_ms > UNIX_FLOW_ACCEPT_BACKOFF_MAX_MS)
            l->backoff_ms = UNIX_FLOW_ACCEPT_BACKOFF_MAX_MS;
    }
    l->u.st->stats.accept_backoffs++;
    op_wait(&l->acc, sched_sleep(l->backoff_ms * SCHED_NS_PER_MS));
}

static void advance_accept(struct sock_op *op, lwt_t *settled)
{
    if (!op->waiter)
        return;
    if (lwt_state(settled) == LWT_REJECTED) {
        op_fail(op, lwt_error(settled));
        return;
    }
    struct sock_listener *l = listener_of(op->u);
    int fd, rc = try_accept(l->u.fd, &fd);
    if (rc == 0) {
        struct sock_flow *s = accepted(l, fd);
        if (s)
            op_finish(op, &s->f);
        else
            accept_wait(l, -EMFILE);
    } else if (rc == -EAGAIN || rc == -EMFILE) {
        accept_wait(l, rc);
    } else {
        op_fail(op, rc);
    }
}

static lwt_t *sock_accept(struct flow_listener *fl)
{
    struct sock_listener *l = (struct sock_listener *)fl;
    if (op_busy(&l->acc))
        return lwt_fail(-LWT_EBUSY);
    int fd, rc = try_accept(l->u.fd, &fd);
    if (rc == 0) {
        struct sock_flow *s = accepted(l, fd);
        if (s)
            return lwt_return(&s->f);
        rc = -EMFILE;
    }
    if (rc != -EAGAIN && rc != -EMFILE)
        return fail_errno(rc);
    lwt_t *p = op_begin(&l->acc, advance_accept);
    accept_wait(l, rc);
    return p;
}

static uint16_t sock_listener_port(const struct flow_listener *fl)
{
    return ((const struct sock_listener *)fl)->port;
}

static void sock_listener_close(struct flow_listener *fl)
{
    struct sock_listener *l = (struct sock_listener *)fl;
    if (l->acc.waiter) {
        lwt_resolver_t *r = l->acc.waiter;
        l->acc.waiter = NULL;
        lwt_wakeup_fail(r, -LWT_ESHUTDOWN); /* its hook cancels the wait */
    }
    usock_unref(&l->u);
}

static const struct flow_listener_ops sock_listener_ops = {
    .accept = sock_accept,
    .port = sock_listener_port,
    .close = sock_listener_close,
};

static int stack_listen(struct flow_stack *fs, uint16_t port, int backlog, struct flow_listener **out)
{
    struct sock_stack *st = (struct sock_stack *)fs;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return unix_flow_socket_error(-errno);
    int one = 1;
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(st->cfg.listen_addr),
    };
    socklen_t len = sizeof sa;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int err = -errno;
        close(fd);
        return unix_flow_socket_error(err);
    }
    struct sock_listener *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return -LWT_ENOMEM;
    }
    l->l.ops = &sock_listener_ops;
    l->port = ntohs(sa.sin_port);
    l->backoff_ms = 0;
    usock_init(&l->u, st, l, fd);
    op_init(&l->acc, &l->u);
    *out = &l->l;
    return 0;
}

/* ---- The stack -------------------------------------------------------------- */

static const struct flow_stack_ops sock_stack_ops = {
    .listen = stack_listen,
    .connect = stack_connect,
};

int unix_flow_socket_new(const struct unix_flow_socket_config *cfg, struct flow_stack **out)
{
    struct sock_stack *st = calloc(1, sizeof *st);
    if (!st)
        return -LWT_ENOMEM;
    st->fs.ops = &sock_stack_ops;
    st->fs.name = "unix-socket";
    st->cfg = cfg ? *cfg : (struct unix_flow_socket_config){.listen_addr = UNIX_FLOW_LOOPBACK};
    *out = &st->fs;
    return 0;
}

void unix_flow_socket_free(struct flow_stack *fs)
{
    struct sock_stack *st = (struct sock_stack *)fs;
    if (!st)
        return;
    /* Closed flows may still wait for their last hooks to run. */
    st->freed = true;
    if (st->stats.live == 0)
        free(st);
}

void unix_flow_socket_stats(const struct flow_stack *fs, struct unix_flow_socket_stats *out)
{
    *out = ((const struct sock_stack *)fs)->stats;
}
