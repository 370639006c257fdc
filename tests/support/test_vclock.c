/* See test_vclock.h. */
#include "test_vclock.h"

#include "lwt_errno.h"
#include "scheduler.h"

static uint64_t vnow;

static uint64_t vclock_now(void *ctx)
{
    (void)ctx;
    return vnow;
}

static int vclock_block(void *ctx, uint64_t deadline)
{
    (void)ctx;
    if (deadline == SCHED_FOREVER)
        return -LWT_EBUSY; /* nothing could ever happen: fail, never hang */
    if (deadline > vnow)
        vnow = deadline;
    return 0;
}

void test_vclock_install(uint64_t start_ns)
{
    static const struct sched_platform platform = {.now = vclock_now, .block = vclock_block};
    vnow = start_ns;
    sched_init(&platform);
}

void test_vclock_uninstall(void)
{
    sched_destroy();
}

uint64_t test_vclock_now(void)
{
    return vnow;
}

void test_vclock_advance(uint64_t ns)
{
    vnow += ns;
}
