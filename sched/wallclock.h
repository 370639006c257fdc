/* The wall-clock device interface (DESIGN.md §4): the time of day, for
 * Date and Last-Modified headers and log lines. The scheduler never uses it
 * (its timers run on the monotonic clock); each platform provides one
 * (clock_gettime(CLOCK_REALTIME) on Unix, the shared-info wall clock on
 * Xen, a settable one in tests). Declarations and inline helpers only.
 */
#ifndef TESSERA_WALLCLOCK_H
#define TESSERA_WALLCLOCK_H

#include <stdint.h>

struct wallclock;

struct wallclock_ops {
    /* Nanoseconds since 1970-01-01 00:00:00 UTC. */
    int64_t (*now_ns)(struct wallclock *c);
};

struct wallclock {
    const struct wallclock_ops *ops; /* ro */
};

static inline int64_t wallclock_now_ns(struct wallclock *c)
{
    return c->ops->now_ns(c);
}

static inline int64_t wallclock_now_s(struct wallclock *c)
{
    return c->ops->now_ns(c) / 1000000000;
}

#endif
