/* The wall clock (sched/wallclock.h) on Unix: clock_gettime(CLOCK_REALTIME).
 * It may step (NTP, the administrator): use it for dates, never to time
 * anything, which is what the scheduler's monotonic clock is for.
 *
 * Ownership: a static object, never freed; usable before the platform
 * starts.
 */
#ifndef TESSERA_UNIX_WALLCLOCK_H
#define TESSERA_UNIX_WALLCLOCK_H

#include "wallclock.h"

struct wallclock *unix_wallclock(void);

#endif
