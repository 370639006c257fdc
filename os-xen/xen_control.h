/* The toolstack's requests: a watch on control/shutdown, which `xl
 * shutdown` sets to "poweroff" and `xl reboot` to "reboot". Each request is
 * acknowledged (the node emptied, as the toolstack expects) and passed on
 * as a SHUTDOWN_* code. Private to os-xen/.
 */
#ifndef TESSERA_XEN_CONTROL_H
#define TESSERA_XEN_CONTROL_H

#include <stdbool.h>

/* Starts watching, over xen_store(); on_request(code) runs for each
 * request. 0 or a negative LWT_E* code. */
int xen_control_start(void (*on_request)(unsigned code));

/* Whether the start-up's conversation is over: the watch's first event has
 * come and its node has been read. */
bool xen_control_settled(void);

#endif
