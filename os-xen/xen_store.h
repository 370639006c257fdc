/* The domain's xenstore connection: the client (xenstore.h) over the ring
 * page and event channel that start_info names. Drivers and the control
 * watch share it. Private to os-xen/ and its drivers.
 */
#ifndef TESSERA_XEN_STORE_H
#define TESSERA_XEN_STORE_H

struct xenstore;

/* Connects (the event channel's handler feeds the client). 0 or a negative
 * LWT_E* code. */
int xen_store_start(void);
/* Rejects whatever is outstanding and detaches from the event channel. */
void xen_store_stop(void);
/* The connection; NULL when not started. */
struct xenstore *xen_store(void);

#endif
