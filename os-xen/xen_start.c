/* The C entry point (from _start in boot.S): brings up, in dependency
 * order, what every image needs — shared_info, the exception table, event
 * channels, the console, memory, the timer — and calls the image's main
 * (xen_app_main.c), then stops the domain with the reason it returns.
 */
#include <stdint.h>
#include <string.h>

#include <xen/sched.h>
#include <xen/xen.h>

#include "xen_arch.h"
#include "xen_console.h"
#include "xen_events.h"
#include "xen_hypercall.h"
#include "xen_mm.h"
#include "xen_time.h"
#include "xen_trap.h"

start_info_t *xen_start_info;
shared_info_t *xen_shared_info;
extern char xen_shared_info_page[];

/* The image's main: returns a SCHEDOP_shutdown reason. */
unsigned xen_main(void);
void xen_start(start_info_t *si);

void xen_start(start_info_t *si)
{
    xen_start_info = si;
    /* shared_info is given as a machine address: map it over a page of
     * our own .bss. */
    if (HYPERVISOR_update_va_mapping((uintptr_t)xen_shared_info_page, si->shared_info | 7, UVMF_INVLPG) < 0)
        xen_crash("cannot map shared_info");
    xen_shared_info = (shared_info_t *)(void *)xen_shared_info_page;
    xen_traps_init();
    xen_events_init();
    xen_console_init();
    xen_mm_init();
    xen_time_init();
    xen_shutdown(xen_main());
}

void xen_shutdown(unsigned reason)
{
    xen_console_flush();
    for (;;) {
        sched_shutdown_t op = {.reason = reason};
        HYPERVISOR_sched_op(SCHEDOP_shutdown, &op);
    }
}
