/* A virtual platform for the scheduler in unit tests: time moves only when
 * the loop blocks, straight to the deadline it asked for, so tests of
 * timers, retransmissions and delays are exact and independent of the
 * machine's speed. A loop that would block forever (nothing can happen)
 * makes sched_run fail with -LWT_EBUSY instead of hanging.
 */
#ifndef TESSERA_TEST_VCLOCK_H
#define TESSERA_TEST_VCLOCK_H

#include <stdint.h>

/* sched_init with the virtual platform, the clock at start_ns. */
void test_vclock_install(uint64_t start_ns);
/* sched_destroy. */
void test_vclock_uninstall(void);
uint64_t test_vclock_now(void);
/* Moves the clock forward by ns without running the loop. */
void test_vclock_advance(uint64_t ns);

#endif
