/* See unix_console.h. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lwt_errno.h"
#include "unix_console.h"

struct stream {
    struct console console; /* first: the interface */
    int fd;
    struct unix_watch watch; /* active while buf holds data */
    size_t head, len;        /* pending bytes: buf[head .. head+len) */
    char buf[UNIX_CONSOLE_BUFFER];
};

static struct stream streams[2];
static struct unix_engine *engine;

static int con_write(struct console *c, const char *text, size_t len);
static int con_flush(struct console *c);
static const struct console_ops con_ops = {.write = con_write, .flush = con_flush};

static struct stream *stream_of(int stream)
{
    if (stream != UNIX_CONSOLE_STDOUT && stream != UNIX_CONSOLE_STDERR)
        return NULL;
    struct stream *s = &streams[stream - 1];
    if (!s->console.ops) {
        s->console.ops = &con_ops;
        s->fd = stream;
    }
    return s;
}

/* Waits for fd to take output (timeout_ms: -1 forever, 0 just look).
 * 1 if writable, 0 if not, or -errno. */
static int writable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n >= 0)
            return n > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)) ? 1 : 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Writes from text while fd is writable. Returns the bytes written, or
 * -errno. A chunk of at most PIPE_BUF fits once poll says writable. */
static long push(int fd, const char *text, size_t len, int timeout_ms)
{
    size_t done = 0;
    while (done < len) {
        int w = writable(fd, timeout_ms);
        if (w < 0)
            return w;
        if (w == 0)
            break;
        size_t chunk = len - done < PIPE_BUF ? len - done : PIPE_BUF;
        ssize_t n = write(fd, text + done, chunk);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return (long)done;
}

static void discard(struct stream *s)
{
    s->head = s->len = 0;
    if (engine)
        unix_watch_stop(engine, &s->watch);
}

/* Writes buffered bytes; blocking unless timeout_ms is 0. */
static int drain_buffer(struct stream *s, int timeout_ms)
{
    while (s->len) {
        size_t run = s->len < UNIX_CONSOLE_BUFFER - s->head ? s->len : UNIX_CONSOLE_BUFFER - s->head;
        long n = push(s->fd, s->buf + s->head, run, timeout_ms);
        if (n < 0) {
            discard(s);
            return (int)n;
        }
        s->head = (s->head + (size_t)n) % UNIX_CONSOLE_BUFFER;
        s->len -= (size_t)n;
        if ((size_t)n < run)
            return 0;
    }
    s->head = 0;
    if (engine)
        unix_watch_stop(engine, &s->watch);
    return 0;
}

static void on_writable(struct unix_watch *w, unsigned revents)
{
    (void)revents;
    struct stream *s = (struct stream *)((char *)w - offsetof(struct stream, watch));
    drain_buffer(s, 0);
}

static void append(struct stream *s, const char *text, size_t len)
{
    while (len) {
        size_t tail = (s->head + s->len) % UNIX_CONSOLE_BUFFER;
        /* The caller made room for len bytes, so tail == head means empty. */
        size_t room = tail >= s->head ? UNIX_CONSOLE_BUFFER - tail : s->head - tail;
        size_t n = len < room ? len : room;
        memcpy(s->buf + tail, text, n);
        s->len += n;
        text += n;
        len -= n;
    }
}

static int stream_write(struct stream *s, const char *text, size_t len)
{
    if (!engine) {
        long n = push(s->fd, text, len, -1);
        return n < 0 ? (int)n : 0;
    }
    if (s->len == 0) {
        long n = push(s->fd, text, len, 0);
        if (n < 0)
            return (int)n;
        text += n;
        len -= (size_t)n;
    }
    if (!len)
        return 0;
    if (len > UNIX_CONSOLE_BUFFER - s->len) {
        /* Full: wait for the device rather than drop output. */
        int rc = drain_buffer(s, -1);
        if (rc < 0)
            return rc;
        if (len > UNIX_CONSOLE_BUFFER) {
            long n = push(s->fd, text, len - UNIX_CONSOLE_BUFFER, -1);
            if (n < 0)
                return (int)n;
            text += n;
            len -= (size_t)n;
        }
    }
    append(s, text, len);
    if (!s->watch.active) {
        s->watch.fd = s->fd;
        s->watch.events = UNIX_WRITABLE;
        s->watch.cb = on_writable;
        int rc = unix_watch_start(engine, &s->watch);
        if (rc < 0)
            return drain_buffer(s, -1); /* cannot watch it: write it now */
    }
    return 0;
}

int unix_console_write(int stream, const char *text, size_t len)
{
    struct stream *s = stream_of(stream);
    return s ? stream_write(s, text, len) : -LWT_EINVAL;
}

int unix_console_flush(void)
{
    int first = 0;
    for (int i = UNIX_CONSOLE_STDOUT; i <= UNIX_CONSOLE_STDERR; i++) {
        int rc = drain_buffer(stream_of(i), -1);
        if (rc < 0 && first == 0)
            first = rc;
    }
    return first;
}

size_t unix_console_pending(int stream)
{
    struct stream *s = stream_of(stream);
    return s ? s->len : 0;
}

void unix_console_start(struct unix_engine *e)
{
    engine = e;
}

void unix_console_stop(void)
{
    unix_console_flush();
    for (int i = UNIX_CONSOLE_STDOUT; i <= UNIX_CONSOLE_STDERR; i++)
        if (engine)
            unix_watch_stop(engine, &stream_of(i)->watch);
    engine = NULL;
}

static int con_write(struct console *c, const char *text, size_t len)
{
    return stream_write((struct stream *)c, text, len);
}

static int con_flush(struct console *c)
{
    return drain_buffer((struct stream *)c, -1);
}

struct console *unix_console_stdout(void)
{
    return &stream_of(UNIX_CONSOLE_STDOUT)->console;
}

struct console *unix_console_stderr(void)
{
    return &stream_of(UNIX_CONSOLE_STDERR)->console;
}
