/* The Linux-side programs of the TCP benchmark (see run). The same program
 * plays the same role against both stacks, so that only the stack under
 * test differs:
 *
 *     tcp_load sink PORT
 *         accepts one connection on PORT (any address), reads it to its
 *         end and prints `bytes=N seconds=S mbit_per_s=R`, the seconds
 *         running from the first byte received to the last. The receiver
 *         for both bulk streams (Tessera's tcp-bulk send, and `send` below).
 *     tcp_load send HOST PORT SECONDS
 *         connects, writes a fixed pattern for SECONDS (a decimal such as
 *         0.5), shuts its side down and waits for the peer to close. The
 *         Linux sender of the bulk stream; prints `bytes=N seconds=S` (its
 *         own view) on stderr.
 *     tcp_load echo PORT
 *         a TCP echo server for Linux's side of the connection-rate case:
 *         one thread, one epoll loop, nonblocking sockets with TCP_NODELAY,
 *         as Tessera's tcp-echo is one event loop. Runs until SIGTERM or
 *         SIGINT, then prints its counts on stderr and exits 0.
 *     tcp_load cps HOST PORT COUNT PARALLEL [SRC_FIRST SRC_COUNT]
 *         opens COUNT connections in all, PARALLEL at a time; on each it
 *         writes one byte, reads the echo (which must be that byte), and
 *         closes. Prints `cps=X conns=N failed=F seconds=S`, X being the
 *         connections completed per second of wall time. With SRC_FIRST
 *         and SRC_COUNT the connections take their source address in turn
 *         from SRC_COUNT consecutive addresses starting at SRC_FIRST (all
 *         on the client's interface): we close first, so every connection
 *         leaves a TIME_WAIT that holds its address and port for 60 s, and
 *         with one source address a few tens of thousands of them make
 *         connect() search at length for a free port.
 *
 * A peer that stops answering ends a run with an error rather than a hang:
 * sink and cps stop after TCP_LOAD_LIMIT_S seconds in all (120 by default),
 * send after a write or read that waits 10 s; echo runs until signalled.
 * Exit status 0; 1 on a failure (a wrong echo, no connection at all, the
 * time limit); 2 for a usage error.
 *
 * A plain POSIX program for Linux (epoll, accept4), not part of the
 * portable layers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LIMIT 120          /* seconds */
#define SINK_BUF      (256 * 1024) /* bytes per read */
#define SEND_BUF      (128 * 1024) /* bytes per write */
#define ECHO_BUF      16384
#define MAX_PARALLEL  1024
#define MAX_COUNT     10000000ull
#define MAX_EVENTS    64

static uint64_t limit_ns = DEFAULT_LIMIT * 1000000000ull;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A decimal number of seconds in (0, 86400], as nanoseconds. */
static int parse_seconds(const char *text, uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || v > 86400)
        return -1;
    *ns = (uint64_t)(v * 1e9);
    return 0;
}

/* Milliseconds left until deadline, for poll (at least 1 while any is). */
static int ms_left(uint64_t deadline)
{
    uint64_t now = now_ns();
    if (now >= deadline)
        return 0;
    uint64_t ms = (deadline - now + 999999) / 1000000;
    return ms > 1000 ? 1000 : (int)ms;
}

static int resolve(const char *host, const char *port, struct sockaddr_in *sa)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "tcp_load: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, ai->ai_addr, sizeof *sa);
    freeaddrinfo(ai);
    return 0;
}

static int listen_on(uint16_t port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) {
        fprintf(stderr, "tcp_load: cannot listen on TCP port %u: %s\n", (unsigned)port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Waits (bounded) for fd to become readable or writable; 1 if it did, 0 at
 * the deadline, -1 on an error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        int ms = ms_left(deadline);
        if (ms == 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, ms);
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- sink --------------------------------------------------------------- */

static int run_sink(uint16_t port)
{
    uint64_t deadline = now_ns() + limit_ns;
    int lfd = listen_on(port, 1);
    if (lfd < 0)
        return 1;
    if (wait_fd(lfd, POLLIN, deadline) <= 0) {
        fprintf(stderr, "tcp_load sink: no connection on port %u in time\n", (unsigned)port);
        close(lfd);
        return 1;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    close(lfd);
    if (fd < 0) {
        perror("tcp_load sink: accept");
        return 1;
    }
    char *buf = malloc(SINK_BUF);
    if (!buf) {
        close(fd);
        return 1;
    }
    uint64_t bytes = 0, first = 0, last = 0;
    int status = 0;
    for (;;) {
        ssize_t n = read(fd, buf, SINK_BUF);
        if (n > 0) {
            /* The clock is read only for the first and (each time) the
             * latest read: one call per read of up to 256 KiB. */
            last = now_ns();
            if (bytes == 0)
                first = last;
            bytes += (uint64_t)n;
            continue;
        }
        if (n == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            perror("tcp_load sink: read");
            status = 1;
            break;
        }
        int rc = wait_fd(fd, POLLIN, deadline);
        if (rc <= 0) {
            fprintf(stderr, "tcp_load sink: %s after %llu bytes\n", rc == 0 ? "time limit reached" : strerror(errno),
                    (unsigned long long)bytes);
            status = 1;
            break;
        }
    }
    close(fd);
    free(buf);
    double secs = (double)(last - first) / 1e9;
    printf("bytes=%llu seconds=%.6f mbit_per_s=%.2f\n", (unsigned long long)bytes, secs,
           secs > 0 ? (double)bytes * 8 / secs / 1e6 : 0.0);
    fflush(stdout);
    if (bytes == 0) {
        fprintf(stderr, "tcp_load sink: the connection carried no data\n");
        status = 1;
    }
    return status;
}

/* ---- send --------------------------------------------------------------- */

static int run_send(const char *host, const char *port, uint64_t duration_ns)
{
    struct sockaddr_in sa;
    if (resolve(host, port, &sa) < 0)
        return 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "tcp_load send: connecting to %s:%s: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    /* Blocking writes: the kernel's send buffer is the back-pressure, as
     * tcp-bulk's writes wait for room in ours. The pattern is fixed, made
     * once; tcp-bulk computes its stream as it goes (see the README). */
    char *buf = malloc(SEND_BUF);
    if (!buf) {
        close(fd);
        return 1;
    }
    for (size_t i = 0; i < SEND_BUF; i++)
        buf[i] = (char)(i * 131u >> 3);
    struct timeval tv = {.tv_sec = 10};
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint64_t start = now_ns(), end = start + duration_ns, bytes = 0, t = start;
    int status = 0;
    while (t < end) {
        ssize_t n = write(fd, buf, SEND_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "tcp_load send: write: %s\n", n < 0 ? strerror(errno) : "wrote nothing");
            status = 1;
            break;
        }
        bytes += (uint64_t)n;
        t = now_ns();
    }
    /* Our FIN, then the peer's once it has read everything. */
    if (status == 0 && shutdown(fd, SHUT_WR) < 0) {
        perror("tcp_load send: shutdown");
        status = 1;
    }
    while (status == 0) {
        ssize_t n = read(fd, buf, SEND_BUF);
        if (n == 0)
            break;
        if (n < 0 && errno != EINTR) {
            perror("tcp_load send: waiting for the peer to close");
            status = 1;
        }
    }
    fprintf(stderr, "tcp_load send: bytes=%llu seconds=%.3f\n", (unsigned long long)bytes,
            (double)(now_ns() - start) / 1e9);
    close(fd);
    free(buf);
    return status;
}

/* ---- echo --------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct echo_conn {
    int fd;
    int want_out;    /* waiting for room to write (EPOLLOUT), not reading */
    size_t off, len; /* what is still to be written back */
    char buf[ECHO_BUF];
};

/* Reads and writes back until the socket would block; 1 while the
 * connection stays open, 0 once it is closed. Reading pauses while an
 * echo is only partly written (EPOLLOUT then waits for room). */
static int echo_serve(int ep, struct echo_conn *k, uint64_t *bytes)
{
    for (;;) {
        while (k->off < k->len) {
            ssize_t n = write(k->fd, k->buf + k->off, k->len - k->off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!k->want_out) {
                    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = k};
                    epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
                    k->want_out = 1;
                }
                return 1;
            }
            if (n <= 0)
                goto gone;
            k->off += (size_t)n;
        }
        ssize_t n = read(k->fd, k->buf, sizeof k->buf);
        if (n > 0) {
            *bytes += (uint64_t)n;
            k->off = 0;
            k->len = (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (k->want_out) {
                /* Back to waiting for data after a partial write. */
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
                epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
                k->want_out = 0;
            }
            return 1;
        }
        goto gone; /* the peer's FIN (we close too), or an error */
    }
gone:
    close(k->fd);
    free(k);
    return 0;
}

static int run_echo(uint16_t port)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int lfd = listen_on(port, 1024);
    if (lfd < 0)
        return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int flags = fcntl(lfd, F_GETFL);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("tcp_load echo: epoll");
        return 1;
    }
    fprintf(stderr, "tcp_load echo: serving on port %u\n", (unsigned)port);
    uint64_t accepted = 0, bytes = 0, open = 0;
    while (!stop_requested) {
        struct epoll_event evs[MAX_EVENTS];
        int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
        if (n < 0 && errno != EINTR) {
            perror("tcp_load echo: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct echo_conn *k = evs[i].data.ptr;
            if (k) {
                if (!echo_serve(ep, k, &bytes))
                    open--;
                continue;
            }
            /* The listener: take every connection waiting. */
            for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0)
                    break; /* EAGAIN, or an aborted connection: nothing to do */
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                k = malloc(sizeof *k);
                if (!k) {
                    close(fd);
                    continue;
                }
                k->fd = fd;
                k->want_out = 0;
                k->off = k->len = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                    close(fd);
                    free(k);
                    continue;
                }
                accepted++;
                open++;
            }
        }
    }
    fprintf(stderr, "tcp_load echo: stopped after %llu connections, %llu bytes echoed, %llu still open\n",
            (unsigned long long)accepted, (unsigned long long)bytes, (unsigned long long)open);
    close(ep);
    close(lfd);
    return 0;
}

/* ---- cps ---------------------------------------------------------------- */

enum slot_state { IDLE, CONNECTING, AWAITING_ECHO };

struct slot {
    int fd;
    enum slot_state state;
    uint8_t sent; /* the byte written, to check the echo against */
};

struct cps {
    struct sockaddr_in sa;
    uint32_t src_first, src_count; /* host order; src_count 0: the kernel picks */
    int ep;
    struct slot *slots;
    uint64_t count, started, done, failed, bad;
};

static void slot_end(struct cps *c, struct slot *s, int ok)
{
    close(s->fd); /* also takes it out of the epoll set */
    s->fd = -1;
    s->state = IDLE;
    if (ok)
        c->done++;
    else
        c->failed++;
}

/* Starts the next connection in slot s; -1 on a local error (no socket). */
static int slot_start(struct cps *c, struct slot *s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("tcp_load cps: socket");
        return -1;
    }
    s->fd = fd;
    s->sent = (uint8_t)(c->started * 131u + 7);
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->src_count) {
        /* The port is chosen at connect, for the whole 4-tuple, rather than
         * reserved here for the address alone. */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(c->src_first + (uint32_t)(c->started % c->src_count));
        if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
            perror("tcp_load cps: binding the source address");
            close(fd);
            s->fd = -1;
            return -1;
        }
    }
    c->started++;
    if (connect(fd, (struct sockaddr *)&c->sa, sizeof c->sa) < 0 && errno != EINPROGRESS) {
        /* Refused at once, or no ephemeral port left: a failed connection. */
        if (c->failed < 5)
            fprintf(stderr, "tcp_load cps: connect: %s\n", strerror(errno));
        slot_end(c, s, 0);
        return 0;
    }
    s->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("tcp_load cps: epoll_ctl");
        return -1;
    }
    return 0;
}

static void slot_event(struct cps *c, struct slot *s)
{
    if (s->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == 0 && write(s->fd, &s->sent, 1) != 1)
            err = errno ? errno : EIO;
        if (err) {
            if (c->failed < 5)
                fprintf(stderr, "tcp_load cps: connection: %s\n", strerror(err));
            slot_end(c, s, 0);
            return;
        }
        s->state = AWAITING_ECHO;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(c->ep, EPOLL_CTL_MOD, s->fd, &ev);
        return;
    }
    uint8_t got;
    ssize_t n = read(s->fd, &got, 1);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n == 1 && got != s->sent) {
        if (c->bad++ < 5)
            fprintf(stderr, "tcp_load cps: echo 0x%02x for 0x%02x\n", got, s->sent);
    }
    if (n != 1 && c->failed < 5)
        fprintf(stderr, "tcp_load cps: reading the echo: %s\n", n == 0 ? "closed by the peer" : strerror(errno));
    slot_end(c, s, n == 1 && got == s->sent);
}

static int run_cps(const char *host, const char *port, uint64_t count, uint64_t parallel, const char *src_first,
                   uint64_t src_count)
{
    struct cps c = {.count = count, .src_count = (uint32_t)src_count};
    if (resolve(host, port, &c.sa) < 0)
        return 1;
    if (src_count) {
        struct in_addr a;
        if (inet_pton(AF_INET, src_first, &a) != 1) {
            fprintf(stderr, "tcp_load cps: SRC_FIRST must be an address A.B.C.D, not '%s'\n", src_first);
            return 2;
        }
        c.src_first = ntohl(a.s_addr);
    }
    c.ep = epoll_create1(EPOLL_CLOEXEC);
    c.slots = calloc(parallel, sizeof *c.slots);
    if (c.ep < 0 || !c.slots) {
        perror("tcp_load cps: setting up");
        return 1;
    }
    for (uint64_t i = 0; i < parallel; i++)
        c.slots[i] = (struct slot){.fd = -1, .state = IDLE};
    uint64_t start = now_ns(), deadline = start + limit_ns;
    int status = 0, timed_out = 0;
    /* Failed connections count towards COUNT too: the loop ends whatever
     * the server does. */
    while (c.done + c.failed < count) {
        for (uint64_t i = 0; i < parallel && c.started < count; i++) {
            if (c.slots[i].state == IDLE && slot_start(&c, &c.slots[i]) < 0) {
                status = 1;
                goto out;
            }
        }
        if (c.done + c.failed >= count)
            break;
        int ms = ms_left(deadline);
        if (ms == 0) {
            timed_out = 1;
            break;
        }
        struct epoll_event evs[MAX_EVENTS];
        int n = epoll_wait(c.ep, evs, MAX_EVENTS, ms);
        if (n < 0 && errno != EINTR) {
            perror("tcp_load cps: epoll_wait");
            status = 1;
            break;
        }
        for (int i = 0; i < n; i++)
            slot_event(&c, evs[i].data.ptr);
    }
out:;
    uint64_t end = now_ns();
    for (uint64_t i = 0; i < parallel; i++)
        if (c.slots[i].fd >= 0)
            close(c.slots[i].fd);
    double secs = (double)(end - start) / 1e9;
    fprintf(stderr, "tcp_load cps: %s:%s parallel=%llu done=%llu failed=%llu bad=%llu wall=%.3fs%s\n", host, port,
            (unsigned long long)parallel, (unsigned long long)c.done, (unsigned long long)c.failed,
            (unsigned long long)c.bad, secs, timed_out ? " (stopped at the time limit)" : "");
    printf("cps=%.0f conns=%llu failed=%llu seconds=%.3f\n", secs > 0 ? (double)c.done / secs : 0.0,
           (unsigned long long)c.done, (unsigned long long)c.failed, secs);
    fflush(stdout);
    free(c.slots);
    close(c.ep);
    if (c.done == 0) {
        fprintf(stderr, "tcp_load cps: no connection completed against %s:%s\n", host, port);
        return 1;
    }
    if (c.bad || timed_out)
        return 1;
    return status;
}

/* ---- main --------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: tcp_load sink PORT\n"
                    "       tcp_load send HOST PORT SECONDS\n"
                    "       tcp_load echo PORT\n"
                    "       tcp_load cps HOST PORT COUNT PARALLEL [SRC_FIRST SRC_COUNT]\n"
                    "  TCP_LOAD_LIMIT_S: overall time limit in seconds (default 120)\n");
    return 2;
}

int main(int argc, char **argv)
{
    uint64_t port, v, count, parallel;
    const char *limit_env = getenv("TCP_LOAD_LIMIT_S");
    if (limit_env) {
        if (parse_u64(limit_env, 1, 86400, &v) < 0)
            return usage();
        limit_ns = v * 1000000000ull;
    }
    /* A peer that resets while we write must be an error, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 3 && strcmp(argv[1], "sink") == 0 && parse_u64(argv[2], 1, 65535, &port) == 0)
        return run_sink((uint16_t)port);
    if (argc == 5 && strcmp(argv[1], "send") == 0 && parse_u64(argv[3], 1, 65535, &port) == 0 &&
        parse_seconds(argv[4], &v) == 0)
        return run_send(argv[2], argv[3], v);
    if (argc == 3 && strcmp(argv[1], "echo") == 0 && parse_u64(argv[2], 1, 65535, &port) == 0)
        return run_echo((uint16_t)port);
    if ((argc == 6 || argc == 8) && strcmp(argv[1], "cps") == 0 && parse_u64(argv[3], 1, 65535, &port) == 0 &&
        parse_u64(argv[4], 1, MAX_COUNT, &count) == 0 && parse_u64(argv[5], 1, MAX_PARALLEL, &parallel) == 0 &&
        (argc == 6 || parse_u64(argv[7], 1, 65536, &v) == 0))
        return run_cps(argv[2], argv[3], count, parallel, argc == 8 ? argv[6] : NULL, argc == 8 ? v : 0);
    return usage();
}
