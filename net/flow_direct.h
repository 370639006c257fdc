/* The flow interface (flow.h) over Tessera's own TCP (tcp.h): what the
 * unix-direct and xen targets, and tests over the hub, give an app.
 *
 * Ownership: the stack is borrowed and must outlive the flow stack and
 * every flow and listener made from it. flow_direct_free frees the flow
 * stack only (close the flows and listeners first).
 */
#ifndef TESSERA_NET_FLOW_DIRECT_H
#define TESSERA_NET_FLOW_DIRECT_H

#include "flow.h"
#include "stack.h"
#include "tcp.h"

/* NULL if out of memory. opts (copied; NULL: defaults) apply to every
 * connection made through it. */
struct flow_stack *flow_direct_new(struct net_stack *s, const struct tcp_options *opts);
void flow_direct_free(struct flow_stack *fs);

#endif
