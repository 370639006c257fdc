/* fault (a test program for the crash handler): logs a line, then writes
 * through a pointer to memory that is not mapped, so that the platform's
 * crash report (registers, backtrace, early log) can be checked. Only
 * meaningful as a Xen image; on Unix it dies of SIGSEGV. */
#include "app.h"
#include "log.h"

static struct log_source fault_log = LOG_SOURCE("fault");

/* Not inlined, so that the backtrace has a frame of ours in it. */
__attribute__((noinline)) static void write_to_nowhere(volatile int *p)
{
    *p = 42;
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    log_info(&fault_log, "about to write to an unmapped address");
    app_print(dev, "faulting now");
    /* Far above any memory a small guest has, and below Xen's area. */
    write_to_nowhere((volatile int *)(uintptr_t)0x7ff000000000ull);
    return lwt_return(NULL);
}
