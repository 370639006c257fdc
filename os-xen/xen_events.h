/* Event channels: binding (VIRQs, inter-domain ports, unbound ports for a
 * backend to bind), masking, notifying, and the demultiplexing of pending
 * ports that the scheduler's engine runs outside any upcall (DESIGN.md §3).
 * A handler runs from xen_events_dispatch, on the scheduler's stack, and
 * like every event source it only enqueues (lwt_wakeup_later) or does
 * short, non-blocking work. Single vCPU; private to os-xen/ and its
 * drivers.
 */
#ifndef TESSERA_XEN_EVENTS_H
#define TESSERA_XEN_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*xen_event_handler)(uint32_t port, void *ctx);

/* Sets up the upcall and masks every port. Boot only. */
void xen_events_init(void);

/* Binds a virtual IRQ (VIRQ_TIMER, ...) to a new port with a handler and
 * unmasks it: the port, or a negative LWT_E* code. */
int xen_event_bind_virq(uint32_t virq, xen_event_handler fn, void *ctx);
/* Attaches a handler to a port that already exists (the console's and
 * xenstore's from start_info, or one from xen_event_bind_interdomain) and
 * unmasks it. 0 or a negative LWT_E* code. */
int xen_event_attach(uint32_t port, xen_event_handler fn, void *ctx);
/* Binds to a port another domain offered: our local port or an error. */
int xen_event_bind_interdomain(uint16_t remote_dom, uint32_t remote_port, xen_event_handler fn, void *ctx);
/* Allocates a port for remote_dom to bind to: our local port or an error. */
int xen_event_alloc_unbound(uint16_t remote_dom, xen_event_handler fn, void *ctx);
/* Detaches the handler, masks the port and closes it. */
void xen_event_close(uint32_t port);

void xen_event_mask(uint32_t port);
void xen_event_unmask(uint32_t port);
/* Notifies the other end of port. */
void xen_event_notify(uint32_t port);

/* Whether an unmasked event is pending: the engine's "don't block" test. */
bool xen_events_pending(void);
/* Clears and runs the handlers of every pending, unmasked port; returns
 * how many ran. Events must be masked (they always are outside
 * SCHEDOP_block). */
unsigned xen_events_dispatch(void);

#endif
