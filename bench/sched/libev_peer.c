/* The raw-libev peer of bench_sched's cases (see run): what a C program
 * written directly against libev does for the same job, with no promises
 * at all.
 *
 *   sleepers  one array of ev_timer watchers, a callback that counts down,
 *             ev_run until nothing is left. Prints
 *             `cpu_s=X rss_bytes_per_item=Y ns_per_op=0`, measured as
 *             bench_sched.c does: CPU (user + system) from just before the
 *             first timer is set up until ev_run returns, and peak RSS after
 *             the run minus RSS just before, per timer. The deadlines are the
 *             very ones bench_sched arms (same generator, same seed).
 *   pingpong  the same one-byte round trips over a socketpair, with one
 *             ev_io per end that stays started and callbacks that read and
 *             write directly: a write, an epoll_wait and a read per side, the
 *             fewest system calls a readiness loop can make. Prints
 *             `cpu_s=0 rss_bytes_per_item=0 ns_per_op=Z` (wall time per
 *             round trip).
 *
 * Usage: bench_sched_libev {sleepers|pingpong} [COUNT].
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "measure.h"

/* Uniform in [0, 1] second: the same values as bench_sched's, in seconds. */
static double random_deadline_s(void)
{
    return (double)random_deadline_ns() / 1e9;
}

static size_t remaining;

static void fired(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    remaining--;
}

static void sleepers(size_t n)
{
    struct ev_loop *loop = ev_default_loop(0);
    check(loop != NULL, "ev_default_loop");

    double rss0 = status_bytes("VmRSS:");
    double cpu0 = cpu_seconds();
    double t0 = now_ns();
    ev_timer *timers = malloc(n * sizeof *timers);
    check(timers != NULL, "allocation");
    for (size_t i = 0; i < n; i++) {
        ev_timer_init(&timers[i], fired, random_deadline_s(), 0.);
        ev_timer_start(loop, &timers[i]);
    }
    remaining = n;
    ev_run(loop, 0); /* returns once no watcher is active */
    double cpu = cpu_seconds() - cpu0;
    double peak = status_bytes("VmHWM:");
    check(remaining == 0, "every timer fired");
    fprintf(stderr, "bench_sched_libev: sleepers: %.3f s wall, %.1f ns CPU per timer\n", (now_ns() - t0) / 1e9,
            cpu * 1e9 / (double)n);
    free(timers);
    ev_loop_destroy(loop);
    printf("cpu_s=%.4f rss_bytes_per_item=%.2f ns_per_op=0\n", cpu, (peak - rss0) / (double)n);
}

/* ---- pingpong ---------------------------------------------------------- */

static struct {
    size_t rounds, pinged, ponged;
    unsigned char buf[64];
} pp;

static void pinger_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    ssize_t r = read(w->fd, pp.buf, sizeof pp.buf);
    if (r < 0)
        return; /* spurious */
    check(r == 1 && pp.buf[0] == (unsigned char)pp.pinged, "echoed byte");
    if (++pp.pinged == pp.rounds) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    pp.buf[0] = (unsigned char)pp.pinged;
    check(write(w->fd, pp.buf, 1) == 1, "pinger wrote one byte");
}

static void ponger_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop, (void)revents;
    ssize_t r = read(w->fd, pp.buf, sizeof pp.buf);
    if (r < 0)
        return;
    check(r == 1, "ponger read one byte");
    check(write(w->fd, pp.buf, 1) == 1, "ponger wrote one byte");
    pp.ponged++;
}

static void pingpong(size_t n)
{
    int fd[2];
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0, "socketpair");
    struct ev_loop *loop = ev_default_loop(0);
    check(loop != NULL, "ev_default_loop");
    ev_io ping, pong;
    ev_io_init(&ping, pinger_readable, fd[0], EV_READ);
    ev_io_init(&pong, ponger_readable, fd[1], EV_READ);
    ev_io_start(loop, &ping);
    ev_io_start(loop, &pong);
    pp.rounds = n;
    double t0 = now_ns();
    pp.buf[0] = 0;
    check(write(fd[0], pp.buf, 1) == 1, "first ping");
    ev_run(loop, 0);
    double ns = (now_ns() - t0) / (double)n;
    check(pp.pinged == n && pp.ponged == n, "every round trip made");
    ev_io_stop(loop, &ping);
    ev_io_stop(loop, &pong);
    close(fd[0]);
    close(fd[1]);
    ev_loop_destroy(loop);
    printf("cpu_s=0 rss_bytes_per_item=0 ns_per_op=%.2f\n", ns);
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (strcmp(c, "sleepers") == 0) {
        sleepers(n ? n : 1000000);
    } else if (strcmp(c, "pingpong") == 0) {
        pingpong(n ? n : 100000);
    } else {
        fprintf(stderr, "usage: bench_sched_libev {sleepers|pingpong} [COUNT]\n");
        return 2;
    }
    return 0;
}
