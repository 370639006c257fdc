/* The Xen platform as the rest of the system sees it: start (after boot:
 * the scheduler's engine, the promise library's and the log's output,
 * xenstore and the control/shutdown watch) and stop, and the shutdown
 * reason the domain should end with. Used by the per-image main
 * (xen_app_main.c), like unix_platform.h on Unix.
 *
 *     xen_platform_start();
 *     int rc = sched_run(app_main(&dev, argc, argv), NULL);
 *     xen_platform_stop();
 *     xen_shutdown(xen_platform_exit_reason(rc));
 */
#ifndef TESSERA_XEN_PLATFORM_H
#define TESSERA_XEN_PLATFORM_H

/* 0 or a negative LWT_E* code (logged). */
int xen_platform_start(void);
/* Releases the scheduler (pending timers) and flushes the console. */
void xen_platform_stop(void);

/* What sched_request_shutdown tells apps on Xen: the SHUTDOWN_* code the
 * toolstack asked for, plus one (so that poweroff is 1, reboot 2: never 0). */
#define XEN_SHUTDOWN_REQUEST(code) ((int)(code) + 1)

/* The SCHEDOP_shutdown reason for an app that returned rc: crash if it
 * failed, else what the toolstack asked for (poweroff or reboot), else
 * poweroff. */
unsigned xen_platform_exit_reason(int rc);

/* The words of the guest's command line (xl's extra=), split on spaces,
 * after argv[0] = name; a static vector, NULL-terminated. */
int xen_platform_args(const char *name, char ***argv_out);

#endif
