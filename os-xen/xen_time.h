/* Time on Xen: the monotonic clock from the vCPU's pvclock (Xen's system
 * time, nanoseconds since the host booted, extrapolated with the TSC), the
 * wall clock from shared_info, and the one-shot timer that ends a
 * SCHEDOP_block. Private to os-xen/.
 */
#ifndef TESSERA_XEN_TIME_H
#define TESSERA_XEN_TIME_H

#include <stdint.h>

struct wallclock;

/* System time in nanoseconds: the scheduler's clock. */
uint64_t xen_time_monotonic(void);
/* Nanoseconds since the Unix epoch. */
int64_t xen_time_wall(void);
/* Binds VIRQ_TIMER (a timer event must have a bound port to wake a
 * blocked vCPU). Boot only. */
void xen_time_init(void);
/* Arms the one-shot timer for `deadline` (system time; UINT64_MAX
 * disarms). */
void xen_time_set_deadline(uint64_t deadline);
/* The app's wall-clock device. */
struct wallclock *xen_wallclock(void);

#endif
