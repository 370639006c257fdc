/* See net_main_support.h. */
#include "net_main_support.h"

#include "tcp.h"

int net_main_wait_for_lease(struct dhcp_client *dhcp)
{
    lwt_t *bound = dhcp_client_bound(dhcp);
    lwt_t *watch = lwt_ref(bound);
    /* protected: the shutdown winning must not cancel the client's own
     * promise. */
    lwt_t *ps[2] = {lwt_protected(bound), sched_shutdown_requested()};
    int rc = sched_run(lwt_pick(ps, 2), NULL);
    enum lwt_state st = lwt_state(watch);
    if (st == LWT_REJECTED)
        rc = lwt_error(watch);
    lwt_unref(watch);
    if (rc < 0)
        return rc;
    return st == LWT_FULFILLED;
}

void net_main_finish_tcp(struct net_stack *s)
{
    const struct tcp_stats *st = tcp_stats(s);
    for (int i = 0; i < 50 && st->conns > st->time_wait; i++)
        sched_run(sched_sleep(NET_MAIN_TCP_FINISH_NS / 50), NULL);
}
