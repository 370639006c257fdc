/* tcp-bulk: moves a known amount of data over one TCP connection and says
 * how much, how fast and what it was (SHA-256), so that a peer on another
 * stack can check every byte.
 *
 *     tcp-bulk send HOST PORT BYTES [--chunk N] [--retry-ms N] [--no-hash]
 *         connects (retrying a refused or failed connect for up to
 *         --retry-ms, for a peer that is still starting), sends BYTES bytes
 *         of a fixed pseudo-random stream (xorshift64* from a fixed seed),
 *         shuts down its side and waits for the peer to close.
 *     tcp-bulk sink PORT [--count N] [--read-size N] [--rcvbuf N]
 *                        [--read-delay-ms N] [--slow-bytes N] [--no-hash]
 *         accepts N connections in a row (default 1, 0: until stopped) and
 *         reads each to its end; with --read-delay-ms it sleeps that long
 *         after each read (for the first --slow-bytes bytes, or all), a
 *         slow reader that makes its receive window close.
 *
 * --no-hash is for benchmarks, which measure the stack and not SHA-256:
 * nothing is hashed, and the sender makes one chunk of the stream and
 * sends it over and over (as the Linux sender in bench/tcp writes one
 * fixed buffer) instead of making the stream as it goes.
 *
 * Sizes take a K, M or G suffix (KiB, MiB, GiB). Each finished transfer
 * prints one line, which tests parse and which therefore stays as it is:
 *
 *     bytes=N seconds=S mbit_per_s=R sha256=HEX
 *
 * (sha256=none with --no-hash).
 *
 * The seconds run from the connection's establishment to the peer's FIN.
 * Before it ends, the app waits (at most BULK_LINGER) for TCP to finish
 * closing, since the stack goes away with the app.
 *
 * The main promise is fulfilled once the job is done; a shutdown request
 * before that resets the connection and rejects it with -LWT_ECANCELED
 * (except for a sink without a count, for which stopping is the end). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "scheduler.h"
#include "sha256.h"
#include "stack.h"
#include "tcp.h"
#include "wire_ip4.h"

#define BULK_CHUNK      65536
#define BULK_RETRY_GAP  (200 * SCHED_NS_PER_MS)
#define BULK_SEED       0x9e3779b97f4a7c15ull
#define BULK_LINGER     (10 * SCHED_NS_PER_S)
#define BULK_LINGER_GAP (10 * SCHED_NS_PER_MS)

static struct log_source bulk_log = LOG_SOURCE("tcp-bulk");

enum bulk_mode { BULK_SEND, BULK_SINK };

struct bulk {
    struct app_devices dev;
    enum bulk_mode mode;
    /* Options. */
    uint32_t dst;
    uint16_t port;
    uint64_t total;      /* send: bytes to send */
    size_t chunk;        /* send: bytes per write, a multiple of 8 */
    uint64_t retry_ns;   /* send: how long to keep retrying the connect */
    unsigned count;      /* sink: connections to take; 0: no limit */
    size_t read_size;    /* sink: bytes per read at most */
    uint32_t rcvbuf;     /* sink: receive buffer (0: the default) */
    uint64_t delay_ns;   /* sink: sleep after each read */
    uint64_t slow_bytes; /* sink: read slowly only this far (0: throughout) */
    bool no_hash;        /* no SHA-256; the sender repeats one chunk */
    /* State. */
    struct tcp_listener *listener;
    struct tcp_conn *c; /* the handle we hold, if any */
    bool stopping;
    unsigned done; /* transfers finished */
    uint64_t retry_deadline, linger_deadline;
    struct sha256 h;
    uint64_t bytes, unexpected, start_ns;
    uint64_t rng;
    uint8_t *buf;
    size_t buf_size;
};

struct bstep {
    struct bulk *b;
};

#define BSTEP sizeof(struct bstep)

static void report(struct bulk *b)
{
    uint64_t ns = sched_now() - b->start_ns;
    uint8_t digest[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_final(&b->h, digest);
    /* Fixed point: the freestanding snprintf need not format doubles. */
    unsigned long long ms = ns / SCHED_NS_PER_MS;
    unsigned long long centi_mbit = ns ? b->bytes * 800000 / ns : 0; /* bits/ns = Gbit/s */
    app_print(&b->dev, "bytes=%llu seconds=%llu.%03llu mbit_per_s=%llu.%02llu sha256=%s", (unsigned long long)b->bytes,
              ms / 1000, ms % 1000, centi_mbit / 100, centi_mbit % 100, b->no_hash ? "none" : sha256_hex(digest, hex));
}

static void transfer_begin(struct bulk *b, struct tcp_conn *c)
{
    b->c = c;
    b->bytes = 0;
    b->unexpected = 0;
    b->start_ns = sched_now();
    b->rng = BULK_SEED;
    sha256_init(&b->h);
}

/* Our FIN, or the ACK of the peer's, may still be on its way (held by a
 * lossy link, or due for a retransmission), and the stack lives only as
 * long as the app: wait, boundedly, until TCP has nothing left but
 * TIME_WAIT, so that the peer sees a clean end. */
static lwt_t *linger(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    const struct tcp_stats *st = tcp_stats(b->dev.net);
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    if (!b->linger_deadline)
        b->linger_deadline = sched_now() + BULK_LINGER;
    if (st->conns <= st->time_wait)
        return lwt_return(NULL);
    if (sched_now() >= b->linger_deadline) {
        log_warn(&bulk_log, "a connection is still closing; leaving it");
        return lwt_return(NULL);
    }
    return lwt_bind(sched_sleep(BULK_LINGER_GAP), linger, ctx, BSTEP);
}

/* ---- send --------------------------------------------------------------- */

/* xorshift64*: a fixed stream, the same however it is cut into writes. */
static void fill_stream(struct bulk *b, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        b->rng ^= b->rng >> 12;
        b->rng ^= b->rng << 25;
        b->rng ^= b->rng >> 27;
        uint64_t w = b->rng * 0x2545f4914f6cdd1dull;
        for (size_t j = 0; j < 8 && i + j < n; j++)
            p[i + j] = (uint8_t)(w >> (8 * j));
    }
}

static lwt_t *send_connect(void *v, void *ctx);

static lwt_t *send_drained(void *v, void *ctx);

static lwt_t *send_drain(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_bind(tcp_read(b->c, b->buf, b->buf_size), send_drained, ctx, BSTEP);
}

static lwt_t *send_drained(void *v, void *ctx)
{
    struct bulk *b = ((struct bstep *)ctx)->b;
    intptr_t n = LWT_TO_INT(v);
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    if (n > 0) {
        b->unexpected += (uint64_t)n;
        return send_drain(NULL, ctx);
    }
    /* The peer has closed: it has everything. */
    tcp_close(b->c);
    b->c = NULL;
    if (b->unexpected)
        log_warn(&bulk_log, "the peer sent %llu bytes, ignored", (unsigned long long)b->unexpected);
    report(b);
    b->done++;
    return linger(NULL, ctx);
}

static lwt_t *send_write(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    uint64_t left = b->total - b->bytes;
    if (left == 0) {
        /* Our FIN after the last byte; then wait for the peer's. */
        return lwt_bind(tcp_shutdown(b->c), send_drain, ctx, BSTEP);
    }
    size_t n = left < b->chunk ? (size_t)left : b->chunk;
    if (!b->no_hash) {
        fill_stream(b, b->buf, n);
        sha256_update(&b->h, b->buf, n);
    } else if (b->bytes == 0) {
        fill_stream(b, b->buf, b->chunk);
    }
    b->bytes += n;
    /* buf is borrowed until the write settles: the next chunk is only made
     * then. */
    return lwt_bind(tcp_write(b->c, b->buf, n), send_write, ctx, BSTEP);
}

static lwt_t *send_connected(void *v, void *ctx)
{
    struct bulk *b = ((struct bstep *)ctx)->b;
    struct tcp_conn *c = v;
    if (b->stopping) {
        tcp_abort(c);
        return lwt_fail(-LWT_ECANCELED);
    }
    transfer_begin(b, c);
    return send_write(NULL, ctx);
}

/* Failures that a peer still starting up causes. */
static bool retryable(int err)
{
    return err == -LWT_ECONNREFUSED || err == -LWT_ETIMEDOUT || err == -LWT_EHOSTUNREACH || err == -LWT_ENETUNREACH ||
           err == -LWT_ECONNRESET;
}

static lwt_t *send_connect_failed(int err, void *ctx)
{
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping || err == -LWT_ECANCELED)
        return lwt_fail(err);
    if (retryable(err) && sched_now() < b->retry_deadline) {
        log_info(&bulk_log, "connect: %s; trying again", lwt_strerror(err));
        return lwt_bind(sched_sleep(BULK_RETRY_GAP), send_connect, ctx, BSTEP);
    }
    char a[16];
    log_error(&bulk_log, "cannot connect to %s:%u: %s", ip4_ntoa(b->dst, a), (unsigned)b->port, lwt_strerror(err));
    return lwt_fail(err);
}

static lwt_t *send_connect(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_try_bind(tcp_connect(b->dev.net, b->dst, b->port, NULL), send_connected, send_connect_failed, ctx,
                        BSTEP);
}

/* ---- sink --------------------------------------------------------------- */

static lwt_t *sink_accept(void *v, void *ctx);
static lwt_t *sink_read(void *v, void *ctx);

static lwt_t *sink_got(void *v, void *ctx)
{
    struct bulk *b = ((struct bstep *)ctx)->b;
    intptr_t n = LWT_TO_INT(v);
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    if (n == 0) {
        /* Everything read: close sends our FIN. */
        tcp_close(b->c);
        b->c = NULL;
        report(b);
        b->done++;
        return sink_accept(NULL, ctx);
    }
    if (!b->no_hash)
        sha256_update(&b->h, b->buf, (size_t)n);
    b->bytes += (uint64_t)n;
    if (b->delay_ns && (b->slow_bytes == 0 || b->bytes < b->slow_bytes))
        return lwt_bind(sched_sleep(b->delay_ns), sink_read, ctx, BSTEP);
    return sink_read(NULL, ctx);
}

static lwt_t *sink_read(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    return lwt_bind(tcp_read(b->c, b->buf, b->read_size), sink_got, ctx, BSTEP);
}

static lwt_t *sink_accepted(void *v, void *ctx)
{
    struct bulk *b = ((struct bstep *)ctx)->b;
    struct tcp_conn *c = v;
    if (b->stopping) {
        tcp_abort(c);
        return lwt_fail(-LWT_ECANCELED);
    }
    struct tcp_endpoints ep;
    char a[16];
    tcp_conn_endpoints(c, &ep);
    log_info(&bulk_log, "connection from %s:%u", ip4_ntoa(ep.remote_addr, a), (unsigned)ep.remote_port);
    transfer_begin(b, c);
    return sink_read(NULL, ctx);
}

static lwt_t *sink_accept(void *v, void *ctx)
{
    (void)v;
    struct bulk *b = ((struct bstep *)ctx)->b;
    if (b->stopping)
        return lwt_fail(-LWT_ECANCELED);
    if (b->count && b->done == b->count) {
        tcp_listener_close(b->listener);
        b->listener = NULL;
        return linger(NULL, ctx);
    }
    return lwt_bind(tcp_accept(b->listener), sink_accepted, ctx, BSTEP);
}

/* ---- Stopping ----------------------------------------------------------- */

struct ending {
    struct bulk *b;
    lwt_t *job; /* our own reference */
};

static lwt_t *ignore_error(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL);
}

struct result {
    struct bulk *b;
    int err;
};

static lwt_t *finish(void *v, void *ctx)
{
    (void)v;
    struct result *r = ctx;
    free(r->b->buf);
    free(r->b);
    return r->err ? lwt_fail(r->err) : lwt_return(NULL);
}

/* Frees the state once the job has settled, so that nothing the job still
 * waits for can reach it afterwards. */
static lwt_t *wind_down(struct ending *en, int err)
{
    struct bulk *b = en->b;
    b->stopping = true;
    lwt_cancel(en->job);
    if (b->c) {
        if (err)
            log_error(&bulk_log, "stopped after %llu bytes of transfer %u", (unsigned long long)b->bytes, b->done + 1);
        tcp_abort(b->c);
        b->c = NULL;
    }
    if (b->listener) {
        tcp_listener_close(b->listener);
        b->listener = NULL;
    }
    struct result r = {b, err};
    return lwt_bind(lwt_catch(en->job, ignore_error, LWT_NOCTX), finish, LWT_CTX(r));
}

static lwt_t *on_first(void *v, void *ctx)
{
    (void)v;
    struct ending *en = ctx;
    struct bulk *b = en->b;
    int err = 0;
    enum lwt_state st = lwt_state(en->job);
    if (st == LWT_REJECTED) {
        err = lwt_error(en->job);
    } else if (st == LWT_PENDING && !(b->mode == BULK_SINK && b->count == 0)) {
        log_warn(&bulk_log, "interrupted after %u of %u transfers", b->done, b->mode == BULK_SEND ? 1 : b->count);
        err = -LWT_ECANCELED;
    }
    return wind_down(en, err);
}

static lwt_t *on_job_error(int err, void *ctx)
{
    struct ending *en = ctx;
    log_error(&bulk_log, "%s failed: %s", en->b->mode == BULK_SEND ? "send" : "sink", lwt_strerror(err));
    return wind_down(en, err);
}

/* ---- Options ------------------------------------------------------------ */

/* A decimal number with an optional K, M or G (binary) suffix, in 0..max. */
static int parse_size(const char *text, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*text)
        return -LWT_EINVAL;
    for (; *text >= '0' && *text <= '9'; text++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -LWT_EINVAL;
        v = v * 10 + (uint64_t)(*text - '0');
    }
    unsigned shift = 0;
    if (*text == 'K' || *text == 'k')
        shift = 10;
    else if (*text == 'M' || *text == 'm')
        shift = 20;
    else if (*text == 'G' || *text == 'g')
        shift = 30;
    else if (*text)
        return -LWT_EINVAL;
    if (shift && text[1])
        return -LWT_EINVAL;
    if (v > (max >> shift))
        return -LWT_EINVAL;
    *out = v << shift;
    return 0;
}

static lwt_t *usage(const char *why, const char *word)
{
    log_error(&bulk_log, "%s%s%s", why, word ? ": " : "", word ? word : "");
    log_error(&bulk_log, "usage: tcp-bulk send HOST PORT BYTES [--chunk N] [--retry-ms N] [--no-hash]");
    log_error(&bulk_log, "       tcp-bulk sink PORT [--count N] [--read-size N] [--rcvbuf N] [--read-delay-ms N] "
                         "[--slow-bytes N] [--no-hash]");
    return lwt_fail(-LWT_EINVAL);
}

/* Options after the positional words; NULL if all are good, else the
 * promise to return. */
static lwt_t *parse_options(struct bulk *b, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        const char *opt = argv[i];
        uint64_t v;
        bool send = b->mode == BULK_SEND;
        if (strcmp(opt, "--no-hash") == 0) {
            b->no_hash = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage("an option without a value, or an unexpected word", opt);
        const char *val = argv[++i];
        if (send && strcmp(opt, "--chunk") == 0 && parse_size(val, 1 << 24, &v) == 0 && v > 0) {
            b->chunk = (size_t)((v + 7) & ~(uint64_t)7);
        } else if (send && strcmp(opt, "--retry-ms") == 0 && parse_size(val, 3600000, &v) == 0) {
            b->retry_ns = v * SCHED_NS_PER_MS;
        } else if (!send && strcmp(opt, "--count") == 0 && parse_size(val, 1000000, &v) == 0) {
            b->count = (unsigned)v;
        } else if (!send && strcmp(opt, "--read-size") == 0 && parse_size(val, 1 << 24, &v) == 0 && v > 0) {
            b->read_size = (size_t)v;
        } else if (!send && strcmp(opt, "--rcvbuf") == 0 && parse_size(val, TCP_MAX_BUF, &v) == 0) {
            b->rcvbuf = (uint32_t)v;
        } else if (!send && strcmp(opt, "--read-delay-ms") == 0 && parse_size(val, 60000, &v) == 0) {
            b->delay_ns = v * SCHED_NS_PER_MS;
        } else if (!send && strcmp(opt, "--slow-bytes") == 0 && parse_size(val, UINT64_MAX, &v) == 0) {
            b->slow_bytes = v;
        } else {
            return usage("a bad option or value", opt);
        }
    }
    return NULL;
}

static lwt_t *start(struct bulk *b)
{
    struct bstep s = {b};
    if (b->mode == BULK_SEND) {
        char a[16];
        log_info(&bulk_log, "sending %llu bytes to %s:%u", (unsigned long long)b->total, ip4_ntoa(b->dst, a),
                 (unsigned)b->port);
        b->retry_deadline = sched_now() + b->retry_ns;
        return send_connect(NULL, &s);
    }
    char a[16];
    log_info(&bulk_log, "listening on %s:%u", ip4_ntoa(net_stack_config(b->dev.net)->addr, a), (unsigned)b->port);
    return sink_accept(NULL, &s);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    struct bulk tmp = {.dev = *dev, .chunk = BULK_CHUNK, .count = 1, .read_size = BULK_CHUNK};
    lwt_t *bad;
    if (argc >= 5 && strcmp(argv[1], "send") == 0) {
        tmp.mode = BULK_SEND;
        if (ip4_aton(argv[2], &tmp.dst) < 0 || tmp.dst == 0)
            return usage("HOST must be an address A.B.C.D", argv[2]);
        if (app_parse_port(argv[3], 1, &tmp.port) < 0)
            return usage("PORT must be in 1..65535", argv[3]);
        if (parse_size(argv[4], UINT64_MAX, &tmp.total) < 0)
            return usage("BYTES must be a size such as 1048576 or 100M", argv[4]);
        bad = parse_options(&tmp, argc, argv, 5);
    } else if (argc >= 3 && strcmp(argv[1], "sink") == 0) {
        tmp.mode = BULK_SINK;
        if (app_parse_port(argv[2], 1, &tmp.port) < 0)
            return usage("PORT must be in 1..65535", argv[2]);
        bad = parse_options(&tmp, argc, argv, 3);
    } else {
        return usage("expected 'send' or 'sink' and their arguments", argc > 1 ? argv[1] : NULL);
    }
    if (bad)
        return bad;
    if (!dev->net) {
        log_error(&bulk_log, "needs a network stack: build it as a network app");
        return lwt_fail(-LWT_ENODEV);
    }

    struct bulk *b = malloc(sizeof *b);
    if (!b)
        return lwt_fail(-LWT_ENOMEM);
    *b = tmp;
    b->buf_size = b->chunk > b->read_size ? b->chunk : b->read_size;
    b->buf = malloc(b->buf_size);
    if (!b->buf) {
        free(b);
        return lwt_fail(-LWT_ENOMEM);
    }
    if (b->mode == BULK_SINK) {
        struct tcp_options opts = {.rcvbuf = b->rcvbuf};
        int rc = tcp_listen(dev->net, b->port, 4, &opts, &b->listener);
        if (rc < 0) {
            log_error(&bulk_log, "cannot listen on TCP port %u: %s", (unsigned)b->port, lwt_strerror(rc));
            free(b->buf);
            free(b);
            return lwt_fail(rc);
        }
    }

    /* The job ends by itself; a shutdown request may come first. */
    lwt_t *job = start(b);
    lwt_t *ps[2] = {lwt_ref(job), sched_shutdown_requested()};
    struct ending en = {b, job};
    return lwt_try_bind(lwt_choose(ps, 2), on_first, on_job_error, LWT_CTX(en));
}
