/* The load client of the UDP echo benchmark (see run): one program measures
 * both servers, Tessera's udp-echo over a tap and socat over Linux's stack.
 *
 * Usage: udp_load HOST PORT SIZE COUNT WINDOW
 *
 * Sends COUNT datagrams of SIZE bytes (16..65507) to HOST:PORT, keeping at
 * most WINDOW of them unanswered at a time. A datagram not answered within
 * 200 ms counts as lost and frees its slot; an answer that comes later is
 * noted but not counted. Every echo is checked byte for byte: the payload
 * carries its sequence number, a tag drawn for this run (so that a stray
 * echo from an earlier run cannot pass) and a pattern derived from both.
 *
 * Prints one line on stdout, `pps=X lost=N bytes=SIZE`, where X is echoes
 * per second of wall time (from the first send until the last datagram is
 * answered or given up), and details on stderr. The whole run is bounded
 * (UDP_LOAD_LIMIT_S seconds, 60 by default): past that it reports what it
 * has. Exit status 0; 1 if nothing came back or an echo was wrong; 2 for a
 * usage error.
 *
 * A plain POSIX program for Linux (sendmmsg and recvmmsg, so that the client
 * spends as few system calls as it can on the shared cores and the server
 * stays the bottleneck); not part of the portable layers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MIN_SIZE      16 /* sequence number and tag */
#define MAX_SIZE      65507
#define MAX_WINDOW    4096
#define MAX_COUNT     100000000ull
#define LOSS_NS       200000000ull /* an unanswered datagram is lost after 200 ms */
#define BATCH         64           /* datagrams per sendmmsg / recvmmsg */
#define DEFAULT_LIMIT 60           /* seconds */

enum slot { UNSENT, OUTSTANDING, ANSWERED, LOST };

struct run {
    int fd;
    size_t size;
    uint64_t count, window, tag;
    uint8_t *state;    /* enum slot, per sequence number */
    uint64_t *sent_ns; /* when each was sent */
    uint64_t next;     /* the next sequence number to send */
    uint64_t oldest;   /* no datagram below this one is outstanding */
    uint64_t outstanding, answered, lost, late, dup, bad, refused;
    uint8_t *tx;            /* BATCH send buffers of size bytes */
    uint8_t *rx;            /* BATCH receive buffers of size + 1 bytes (to see oversized echoes) */
    uint64_t last_event_ns; /* the last answer or loss: the end of the run */
};

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

/* The byte at offset i of datagram seq: cheap to compute, and different for
 * neighbouring datagrams, so a mixed-up or shifted payload shows. */
static uint8_t pattern(uint64_t seq, uint64_t tag, size_t i)
{
    return (uint8_t)((seq * 131u) ^ (tag >> (i % 7 * 8)) ^ (i * 7u));
}

static void fill(const struct run *r, uint64_t seq, uint8_t *buf)
{
    memcpy(buf, &seq, 8);
    memcpy(buf + 8, &r->tag, 8);
    for (size_t i = MIN_SIZE; i < r->size; i++)
        buf[i] = pattern(seq, r->tag, i);
}

/* Whether buf (len bytes, truncated says there was more) is the echo of a
 * datagram we sent; its sequence number in *seq. */
static int check(const struct run *r, const uint8_t *buf, size_t len, int truncated, uint64_t *seq)
{
    uint64_t tag;
    if (truncated || len != r->size)
        return 0;
    memcpy(seq, buf, 8);
    memcpy(&tag, buf + 8, 8);
    if (tag != r->tag || *seq >= r->next)
        return 0;
    for (size_t i = MIN_SIZE; i < len; i++)
        if (buf[i] != pattern(*seq, r->tag, i))
            return 0;
    return 1;
}

/* Gives up on datagrams unanswered for LOSS_NS; returns how long (ns) until
 * the oldest outstanding one expires, or UINT64_MAX if none is. */
static uint64_t expire(struct run *r, uint64_t now)
{
    while (r->oldest < r->next) {
        uint64_t s = r->oldest;
        if (r->state[s] == OUTSTANDING) {
            if (now - r->sent_ns[s] < LOSS_NS)
                return r->sent_ns[s] + LOSS_NS - now;
            r->state[s] = LOST;
            r->lost++;
            r->outstanding--;
            r->last_event_ns = now;
        }
        r->oldest++;
    }
    return UINT64_MAX;
}

/* Sends as many datagrams as the window allows; 0, or -1 on a hard error. */
static int send_some(struct run *r)
{
    while (r->outstanding < r->window && r->next < r->count) {
        uint64_t n = r->window - r->outstanding;
        if (n > r->count - r->next)
            n = r->count - r->next;
        if (n > BATCH)
            n = BATCH;
        struct mmsghdr msgs[BATCH];
        struct iovec iov[BATCH];
        for (uint64_t i = 0; i < n; i++) {
            uint8_t *buf = r->tx + i * r->size;
            fill(r, r->next + i, buf);
            iov[i] = (struct iovec){buf, r->size};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int sent = sendmmsg(r->fd, msgs, (unsigned)n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR)
                return 0; /* the socket is full: try again after the next wait */
            if (errno == ECONNREFUSED) {
                /* An ICMP port unreachable from before the server listened:
                 * the datagrams it concerned time out as lost. */
                r->refused++;
                continue;
            }
            perror("udp_load: sendmmsg");
            return -1;
        }
        uint64_t t = now_ns();
        for (int i = 0; i < sent; i++) {
            r->state[r->next] = OUTSTANDING;
            r->sent_ns[r->next] = t;
            r->next++;
            r->outstanding++;
        }
        if ((uint64_t)sent < n)
            return 0;
    }
    return 0;
}

/* Reads every echo waiting; 0, or -1 on a hard error. */
static int receive_all(struct run *r)
{
    size_t cap = r->size + 1;
    for (;;) {
        struct mmsghdr msgs[BATCH];
        struct iovec iov[BATCH];
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){r->rx + (size_t)i * cap, cap};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int got = recvmmsg(r->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return 0;
            if (errno == ECONNREFUSED) {
                r->refused++;
                continue;
            }
            perror("udp_load: recvmmsg");
            return -1;
        }
        uint64_t t = now_ns();
        for (int i = 0; i < got; i++) {
            uint64_t seq;
            int truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
            if (!check(r, r->rx + (size_t)i * cap, msgs[i].msg_len, truncated, &seq)) {
                if (r->bad++ < 5)
                    fprintf(stderr, "udp_load: a wrong echo: %u bytes%s\n", msgs[i].msg_len,
                            truncated ? " (truncated)" : "");
                continue;
            }
            switch (r->state[seq]) {
            case OUTSTANDING:
                r->state[seq] = ANSWERED;
                r->answered++;
                r->outstanding--;
                r->last_event_ns = t;
                break;
            case LOST:
                r->late++;
                break;
            default:
                r->dup++;
                break;
            }
        }
        if (got < BATCH)
            return 0;
    }
}

/* Asks for socket buffers that hold a full window both ways; as root the
 * system-wide maximum does not apply. */
static void size_buffers(int fd, size_t want)
{
    int v = want > (size_t)1 << 30 ? 1 << 30 : (int)want;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
}

static int open_socket(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "udp_load: %s:%s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "udp_load: connecting to %s:%s: %s\n", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static uint64_t draw_tag(void)
{
    uint64_t t = now_ns() ^ ((uint64_t)getpid() << 32);
    /* splitmix64's finaliser, so that close start times give unrelated tags */
    t = (t ^ (t >> 30)) * 0xbf58476d1ce4e5b9ull;
    t = (t ^ (t >> 27)) * 0x94d049bb133111ebull;
    return t ^ (t >> 31);
}

int main(int argc, char **argv)
{
    struct run r = {.fd = -1};
    uint64_t port, size, limit_s = DEFAULT_LIMIT;
    const char *limit_env = getenv("UDP_LOAD_LIMIT_S");
    if (argc != 6 || parse_u64(argv[2], 1, 65535, &port) < 0 || parse_u64(argv[3], MIN_SIZE, MAX_SIZE, &size) < 0 ||
        parse_u64(argv[4], 1, MAX_COUNT, &r.count) < 0 || parse_u64(argv[5], 1, MAX_WINDOW, &r.window) < 0 ||
        (limit_env && parse_u64(limit_env, 1, 86400, &limit_s) < 0)) {
        fprintf(stderr,
                "usage: udp_load HOST PORT SIZE COUNT WINDOW\n"
                "  SIZE %d..%d bytes, COUNT 1..%llu, WINDOW 1..%d; UDP_LOAD_LIMIT_S: overall limit (s, default %d)\n",
                MIN_SIZE, MAX_SIZE, MAX_COUNT, MAX_WINDOW, DEFAULT_LIMIT);
        return 2;
    }
    r.size = (size_t)size;
    r.tag = draw_tag();
    r.state = calloc(r.count, 1);
    r.sent_ns = malloc(r.count * sizeof *r.sent_ns);
    r.tx = malloc(BATCH * r.size);
    r.rx = malloc(BATCH * (r.size + 1));
    if (!r.state || !r.sent_ns || !r.tx || !r.rx) {
        fprintf(stderr, "udp_load: out of memory for %llu datagrams\n", (unsigned long long)r.count);
        return 1;
    }
    r.fd = open_socket(argv[1], argv[2]);
    if (r.fd < 0)
        return 1;
    /* Twice the window's payload plus per-packet overhead, at least 1 MiB. */
    size_t want = (size_t)r.window * (r.size + 2048) * 2;
    size_buffers(r.fd, want < (1u << 20) ? 1u << 20 : want);

    uint64_t start = now_ns(), deadline = start + limit_s * 1000000000ull;
    int failed = 0, timed_out = 0;
    r.last_event_ns = start;
    while (r.next < r.count || r.outstanding > 0) {
        uint64_t now = now_ns();
        if (now >= deadline) {
            timed_out = 1;
            break;
        }
        expire(&r, now);
        if (send_some(&r) < 0) {
            failed = 1;
            break;
        }
        if (r.outstanding == 0)
            continue; /* everything due has expired; more to send */
        uint64_t wait_ns = expire(&r, now_ns());
        if (wait_ns > deadline - now)
            wait_ns = deadline - now;
        struct pollfd pfd = {.fd = r.fd, .events = POLLIN};
        /* Round up: waking a little late only delays a loss verdict. */
        int ms = wait_ns == UINT64_MAX ? 1000 : (int)((wait_ns + 999999) / 1000000);
        int rc = poll(&pfd, 1, ms);
        if (rc < 0 && errno != EINTR) {
            perror("udp_load: poll");
            failed = 1;
            break;
        }
        if (rc > 0 && receive_all(&r) < 0) {
            failed = 1;
            break;
        }
    }
    uint64_t end = r.last_event_ns > start ? r.last_event_ns : now_ns();
    uint64_t unsent = r.count - r.next;
    /* What is still outstanding at the limit was not answered in time. */
    r.lost += r.outstanding;
    double wall = (double)(end - start) / 1e9;
    double pps = wall > 0 ? (double)r.answered / wall : 0;

    fprintf(stderr,
            "udp_load: %s:%s size=%zu window=%llu sent=%llu answered=%llu lost=%llu late=%llu dup=%llu bad=%llu "
            "refused=%llu unsent=%llu wall=%.3fs%s\n",
            argv[1], argv[2], r.size, (unsigned long long)r.window, (unsigned long long)r.next,
            (unsigned long long)r.answered, (unsigned long long)r.lost, (unsigned long long)r.late,
            (unsigned long long)r.dup, (unsigned long long)r.bad, (unsigned long long)r.refused,
            (unsigned long long)unsent, wall, timed_out ? " (stopped at the time limit)" : "");
    printf("pps=%.0f lost=%llu bytes=%zu\n", pps, (unsigned long long)r.lost, r.size);
    fflush(stdout);

    close(r.fd);
    free(r.state);
    free(r.sent_ns);
    free(r.tx);
    free(r.rx);
    if (r.answered == 0) {
        fprintf(stderr, "udp_load: no echo came back from %s:%s\n", argv[1], argv[2]);
        return 1;
    }
    if (r.bad) {
        fprintf(stderr, "udp_load: %llu echoes did not match what was sent\n", (unsigned long long)r.bad);
        return 1;
    }
    return failed ? 1 : 0;
}
