/* See unix_wallclock.h. */
#include "unix_wallclock.h"
#include "unix_platform.h"

static int64_t realtime_ns(struct wallclock *c)
{
    (void)c;
    return (int64_t)unix_clock_wall();
}

static const struct wallclock_ops unix_wallclock_ops = {.now_ns = realtime_ns};
static struct wallclock unix_wallclock_obj = {.ops = &unix_wallclock_ops};

struct wallclock *unix_wallclock(void)
{
    return &unix_wallclock_obj;
}
