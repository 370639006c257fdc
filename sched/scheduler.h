/* The scheduler: the one main loop that drives every promise (DESIGN.md §3).
 *
 * sched_run(main) loops: fire the timers that are due, run the deferred
 * callbacks (a bounded batch, so I/O is never starved for long), stop if
 * main has settled, then ask the platform to block until the next deadline
 * (now, if work is ready or paused; else the earliest timer) or until an
 * event source is ready. Event sources only ever enqueue (lwt_wakeup_later).
 *
 * The platform provides exactly two things: a monotonic clock and "block
 * until this deadline or until an event source is ready". Freestanding C:
 * the same scheduler runs on Unix and on Xen.
 *
 * One scheduler per program, used from one thread.
 */
#ifndef TESSERA_SCHEDULER_H
#define TESSERA_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"

/* No deadline: block until an event source is ready. */
#define SCHED_FOREVER UINT64_MAX

#define SCHED_NS_PER_MS 1000000ull
#define SCHED_NS_PER_S  1000000000ull

struct sched_platform {
    /* Monotonic time in nanoseconds. */
    uint64_t (*now)(void *ctx);
    /* Blocks until `deadline` (monotonic ns; SCHED_FOREVER for none; a
     * deadline already past means: poll without blocking) or until an event
     * source is ready, and dispatches what became ready. Returns 0 or a
     * negative error, which stops sched_run. */
    int (*block)(void *ctx, uint64_t deadline);
    void *ctx;
};

/* Installs the platform. Must come before any other sched_ call. */
void sched_init(const struct sched_platform *platform);
/* Cancels every pending timer and pause and releases the scheduler's
 * memory; the platform can then be torn down. */
void sched_destroy(void);

/* Runs the loop until main settles. Consumes main. Returns 0 with main's
 * value in *value_out (may be NULL), or main's error, or the platform's. */
int sched_run(lwt_t *main, void **value_out);

/* sched_run for a program's main promise, as every platform's main runs
 * it: if main ends rejected, the rejection is reported through the promise
 * library's output (lwt_report_rejection: "main promise rejected", the
 * error and, in debug builds, the bind sites it came through) before main
 * is released. A platform error is returned, not reported. Consumes main;
 * returns as sched_run does. */
int sched_run_main(lwt_t *main, void **value_out);

/* How many deferred callback batches one turn may run before I/O is polled
 * again (bounds how long callbacks can starve I/O). */
#define SCHED_BATCH_BUDGET 1024

/* The platform's monotonic clock, in nanoseconds. */
uint64_t sched_now(void);

/* Fulfilled with NULL once `ns` have passed (or at `deadline`). Cancelable:
 * cancelling removes and frees the timer at once. */
lwt_t *sched_sleep(uint64_t ns);
lwt_t *sched_sleep_until(uint64_t deadline);
/* Rejected with -LWT_ETIMEDOUT once `ns` have passed. Cancelable. */
lwt_t *sched_timeout(uint64_t ns);
/* p, or -LWT_ETIMEDOUT after `ns` if p has not settled by then (p is then
 * cancelled). Consumes p. */
lwt_t *sched_with_timeout(lwt_t *p, uint64_t ns);
/* Fulfilled on the next turn, after pending I/O has been polled: lets a
 * long computation give way. Cancelable. */
lwt_t *sched_pause(void);

/* Number of timers armed now (sleeps, timeouts); a cancelled one is gone at
 * once. */
size_t sched_timer_count(void);

/* Stopping cleanly. The platform calls sched_request_shutdown when it is
 * asked to stop (SIGINT/SIGTERM on Unix, xl shutdown on Xen); apps watch
 * sched_shutdown_requested(), a promise fulfilled with the reason (a
 * platform-specific small integer). Each call returns a new reference to the
 * same promise. */
lwt_t *sched_shutdown_requested(void);
void sched_request_shutdown(int reason);

#endif
