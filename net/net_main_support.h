/* Steps of a network app's life that the mains share
 * (os-unix/unix_net_main.c, os-xen/xen_net_main.c), beside net_cli.h's
 * options and stats line. Unlike those, these run the scheduler
 * (sched_run): only a main calls them, never from a promise's callback.
 */
#ifndef TESSERA_NET_MAIN_SUPPORT_H
#define TESSERA_NET_MAIN_SUPPORT_H

#include "dhcp_client.h"
#include "log.h"
#include "net_cli.h"
#include "scheduler.h"
#include "stack.h"

/* Gives s its address: c's static one (c->has_ip), else a lease from a
 * DHCP client started on s, waiting for it as net_main_wait_for_lease
 * does. The client goes to *dhcp_out (owned by the caller, who stops it,
 * whatever this returns). What goes wrong, and the wait, are logged on
 * log. 1 with an address, 0 if asked to stop before a lease was bound, or
 * a negative code (with c->has_ip, the stack refused the address). */
int net_main_configure(struct net_stack *s, const struct net_cli *c, struct log_source *log,
                       struct dhcp_client **dhcp_out);

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
