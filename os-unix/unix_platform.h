/* The Unix platform: what sched/ needs (a monotonic clock and "block until
 * a deadline or until a descriptor is ready"), built on an event engine,
 * plus signals and the console.
 *
 *     unix_platform_start(NULL);         // engine from $TESSERA_ENGINE
 *     int rc = sched_run(app_main(), NULL);
 *     unix_platform_stop();
 *
 * unix_platform_start also: calls sched_init with the platform's hooks,
 * installs the promise library's output and panic hooks (stderr, abort),
 * sends the log to the console's stderr stream, turns SIGINT and SIGTERM
 * into sched_request_shutdown (reason: the signal number) through a
 * self-pipe watched by the engine, and ignores SIGPIPE (a vanished peer is
 * -EPIPE, not death). unix_platform_stop undoes all of it: the job pool
 * stopped (unix_jobs.h), sched_destroy
 * (pending timers are released while the engine still runs), a blocking
 * console flush, the previous signal dispositions, the engine closed.
 * Single instance, loop thread only.
 */
#ifndef TESSERA_UNIX_PLATFORM_H
#define TESSERA_UNIX_PLATFORM_H

#include <stdint.h>

#include "unix_engine.h"

/* 0, or a negative LWT_E* code (logged); -LWT_EBUSY if already started. */
int unix_platform_start(const char *engine_name);
/* A no-op when not started. */
void unix_platform_stop(void);

/* The running engine, for the I/O promises; NULL when not started. */
struct unix_engine *unix_platform_engine(void);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds. */
uint64_t unix_clock_monotonic(void);
uint64_t unix_clock_wall(void);

#endif
