/* The PV console: the app's console device (sched/console.h) over the
 * ring page xenconsoled reads. Writes go to a software buffer that is
 * pushed into the ring as the daemon drains it; flushing waits (bounded)
 * until both are empty, so shutdown loses nothing. Private to os-xen/.
 */
#ifndef TESSERA_XEN_CONSOLE_H
#define TESSERA_XEN_CONSOLE_H

#include <stddef.h>

struct console;

/* Finds the ring from start_info and binds its event channel. Boot only. */
void xen_console_init(void);
/* After xen_console_init: the console device (one per domain). */
struct console *xen_console(void);
/* Writes to the console device; the log's and the promise library's
 * output hook. */
void xen_console_write(const char *text, size_t len);
/* Waits until everything written has reached xenconsoled, or until it has
 * made no progress for a while (a daemon that is gone must not hang the
 * shutdown). */
void xen_console_flush(void);

#endif
