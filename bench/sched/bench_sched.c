/* The Tessera half of the scheduler benchmark (see run): timers and
 * descriptor I/O through sched/ and the Unix platform, against raw libev
 * (libev_timers.c) and OCaml's Lwt_unix (ocaml/bench_sched.ml).
 *
 * Usage: bench_sched CASE [COUNT]; prints one line
 * `cpu_s=X rss_bytes_per_item=Y ns_per_op=Z` (0 where a figure does not
 * apply).
 *
 *   sleepers  COUNT (1M) sleepers with deadlines uniform in [0, 1 s] (fixed
 *             seed), joined; the loop runs until all have fired. cpu_s: user
 *             + system CPU of the process from just before the first sleeper
 *             is created until the loop returns; rss_bytes_per_item: peak
 *             RSS after the run minus RSS just before, per sleeper (VmHWM
 *             and VmRSS of /proc/self/status, as the OCaml peer reads them).
 *   pingpong  COUNT (100k) round trips of one byte over a socketpair between
 *             two promise threads; ns_per_op: wall time per round trip.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"

#include "lwt.h"
#include "scheduler.h"
#include "unix_io.h"
#include "unix_platform.h"

struct result {
    double cpu_s, bytes_per_item, ns_per_op;
};

/* ---- sleepers ---------------------------------------------------------- */

static void sleepers(size_t n, struct result *res)
{
    double rss0 = status_bytes("VmRSS:");
    double cpu0 = cpu_seconds();
    double t0 = now_ns();
    /* lwt_join borrows the array for the call only. */
    lwt_t **ps = malloc(n * sizeof *ps);
    check(ps != NULL, "allocation");
    for (size_t i = 0; i < n; i++)
        ps[i] = sched_sleep(random_deadline_ns());
    check(sched_timer_count() == n, "every sleeper armed");
    lwt_t *all = lwt_join(ps, n);
    free(ps);
    int rc = sched_run(all, NULL);
    res->cpu_s = cpu_seconds() - cpu0;
    double peak = status_bytes("VmHWM:");
    check(rc == 0, "sched_run fulfilled");
    check(sched_timer_count() == 0, "every sleeper fired");
    res->bytes_per_item = (peak - rss0) / (double)n;
    fprintf(stderr, "bench_sched: sleepers: %.3f s wall, %.1f ns CPU per sleeper\n", (now_ns() - t0) / 1e9,
            res->cpu_s * 1e9 / (double)n);
}

/* ---- pingpong ---------------------------------------------------------- */

/* Two promise threads: the pinger writes one byte on its end and reads the
 * echo; the ponger reads on the other end and writes the byte back. Reads
 * offer a buffer larger than the message, as protocol code does (the OCaml
 * side does the same). */
#define PP_BUF 64
static struct {
    int fd[2];
    size_t rounds, pinged, ponged;
    unsigned char ping_buf[PP_BUF], pong_buf[PP_BUF];
} pp;

static lwt_t *pinger(void *v, void *ctx);
static lwt_t *ponger(void *v, void *ctx);

static lwt_t *pinger_got_echo(void *v, void *ctx)
{
    (void)ctx;
    check(LWT_TO_INT(v) == 1, "pinger read one byte");
    check(pp.ping_buf[0] == (unsigned char)pp.pinged, "echoed byte");
    pp.pinged++;
    return pinger(NULL, NULL);
}

static lwt_t *pinger_sent(void *v, void *ctx)
{
    (void)ctx;
    check(LWT_TO_INT(v) == 1, "pinger wrote one byte");
    return lwt_bind(unix_read(pp.fd[0], pp.ping_buf, PP_BUF), pinger_got_echo, LWT_NOCTX);
}

static lwt_t *pinger(void *v, void *ctx)
{
    (void)v, (void)ctx;
    if (pp.pinged == pp.rounds)
        return lwt_return(NULL);
    pp.ping_buf[0] = (unsigned char)pp.pinged;
    return lwt_bind(unix_write(pp.fd[0], pp.ping_buf, 1), pinger_sent, LWT_NOCTX);
}

static lwt_t *ponger_sent(void *v, void *ctx)
{
    (void)ctx;
    check(LWT_TO_INT(v) == 1, "ponger wrote one byte");
    pp.ponged++;
    return ponger(NULL, NULL);
}

static lwt_t *ponger_got_ping(void *v, void *ctx)
{
    (void)ctx;
    check(LWT_TO_INT(v) == 1, "ponger read one byte");
    return lwt_bind(unix_write(pp.fd[1], pp.pong_buf, 1), ponger_sent, LWT_NOCTX);
}

static lwt_t *ponger(void *v, void *ctx)
{
    (void)v, (void)ctx;
    if (pp.ponged == pp.rounds)
        return lwt_return(NULL);
    return lwt_bind(unix_read(pp.fd[1], pp.pong_buf, PP_BUF), ponger_got_ping, LWT_NOCTX);
}

static void pingpong(size_t n, struct result *res)
{
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, pp.fd) == 0, "socketpair");
    check(unix_set_nonblocking(pp.fd[0]) == 0 && unix_set_nonblocking(pp.fd[1]) == 0, "non-blocking");
    pp.rounds = n;
    pp.pinged = pp.ponged = 0;
    double t0 = now_ns();
    lwt_t *both[2] = {ponger(NULL, NULL), pinger(NULL, NULL)};
    int rc = sched_run(lwt_join(both, 2), NULL);
    res->ns_per_op = (now_ns() - t0) / (double)n;
    check(rc == 0, "sched_run fulfilled");
    check(pp.pinged == n && pp.ponged == n, "every round trip made");
    check(unix_io_watch_count() == 0, "no watcher left");
    unix_close(pp.fd[0]);
    unix_close(pp.fd[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sched {sleepers|pingpong} [COUNT]\n");
        return 2;
    }
    const char *c = argv[1];
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    void (*run)(size_t, struct result *);
    if (strcmp(c, "sleepers") == 0) {
        run = sleepers;
        n = n ? n : 1000000;
    } else if (strcmp(c, "pingpong") == 0) {
        run = pingpong;
        n = n ? n : 100000;
    } else {
        fprintf(stderr, "bench_sched: unknown case %s\n", c);
        return 2;
    }
    check(unix_platform_start(NULL) == 0, "unix_platform_start");
    struct result res = {0, 0, 0};
    run(n, &res);
    unix_platform_stop();
    check(lwt_live_count() == 0, "no promise left alive");
    printf("cpu_s=%.4f rss_bytes_per_item=%.2f ns_per_op=%.2f\n", res.cpu_s, res.bytes_per_item, res.ns_per_op);
    return 0;
}
