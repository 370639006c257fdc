/* The raw-libev peer of bench_sched's sleepers case (see run): what a C
 * program written directly against libev does for the same job, with no
 * promises at all: one array of ev_timer watchers, a callback that counts
 * down, ev_run until nothing is left.
 *
 * Usage: bench_sched_libev sleepers [COUNT]; prints one line
 * `cpu_s=X rss_bytes_per_item=Y ns_per_op=0`, measured as bench_sched.c
 * does: CPU (user + system) from just before the first timer is set up until
 * ev_run returns, and peak RSS after the run minus RSS just before, per
 * timer. The deadlines are the very ones bench_sched arms (same generator,
 * same seed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

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

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "sleepers") != 0) {
        fprintf(stderr, "usage: bench_sched_libev sleepers [COUNT]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    if (n == 0)
        n = 1000000;
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
    return 0;
}
