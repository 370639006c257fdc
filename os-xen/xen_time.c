/* See xen_time.h. The pvclock read follows Xen's vcpu_time_info contract:
 * an odd version means an update is in progress, a changed version means
 * the fields we read may be torn; retry in both cases. */
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>

#include "wallclock.h"
#include "xen_arch.h"
#include "xen_events.h"
#include "xen_hypercall.h"
#include "xen_time.h"

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t xen_time_monotonic(void)
{
    volatile vcpu_time_info_t *t = &xen_vcpu()->time;
    uint32_t version;
    uint64_t ns;
    do {
        version = t->version;
        xen_rmb();
        uint64_t delta = rdtsc() - t->tsc_timestamp;
        int8_t shift = t->tsc_shift;
        if (shift >= 0)
            delta <<= shift;
        else
            delta >>= -shift;
        ns = t->system_time + (uint64_t)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
        xen_rmb();
    } while ((version & 1) || version != t->version);
    return ns;
}

int64_t xen_time_wall(void)
{
    volatile shared_info_t *s = xen_shared_info;
    uint32_t version;
    uint64_t sec, nsec;
    do {
        version = s->wc_version;
        xen_rmb();
        sec = ((uint64_t)s->wc_sec_hi << 32) | s->wc_sec;
        nsec = s->wc_nsec;
        xen_rmb();
    } while ((version & 1) || version != s->wc_version);
    return (int64_t)(sec * 1000000000ull + nsec + xen_time_monotonic());
}

static void on_timer(uint32_t port, void *ctx)
{
    /* Nothing to do: the scheduler fires its due timers after every block. */
    (void)port, (void)ctx;
}

void xen_time_init(void)
{
    if (xen_event_bind_virq(VIRQ_TIMER, on_timer, NULL) < 0)
        xen_crash("cannot bind VIRQ_TIMER");
}

void xen_time_set_deadline(uint64_t deadline)
{
    /* 0 disarms; a deadline in the past fires at once. */
    HYPERVISOR_set_timer_op(deadline == UINT64_MAX ? 0 : deadline);
}

static int64_t wall_now(struct wallclock *c)
{
    (void)c;
    return xen_time_wall();
}

static const struct wallclock_ops wall_ops = {.now_ns = wall_now};
static struct wallclock wall = {.ops = &wall_ops};

struct wallclock *xen_wallclock(void)
{
    return &wall;
}
