/* Steps of a network app's life that the mains share
 * (os-unix/unix_net_main.c, os-xen/xen_net_main.c), beside net_cli.h's
 * options and stats line. Unlike those, these run the scheduler
 * (sched_run): only a main calls them, never from a promise's callback.
 */
#ifndef TESSERA_NET_MAIN_SUPPORT_H
#define TESSERA_NET_MAIN_SUPPORT_H

#include "dhcp_client.h"
#include "scheduler.h"
#include "stack.h"

/* Runs the loop until dhcp (borrowed) has its first lease or a shutdown is
 * requested. 1 once bound, 0 if asked to stop first, or the client's
 * negative code. */
int net_main_wait_for_lease(struct dhcp_client *dhcp);

/* Runs the loop for at most a bounded time (NET_MAIN_TCP_FINISH_NS) while
 * connections of s other than those in TIME-WAIT remain: those the app has
 * closed may still be sending their last data and FIN. */
#define NET_MAIN_TCP_FINISH_NS (5 * SCHED_NS_PER_S)
void net_main_finish_tcp(struct net_stack *s);

#endif
