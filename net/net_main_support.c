/* See net_main_support.h. */
#include "net_main_support.h"

#include "lwt_errno.h"
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

int net_main_configure(struct net_stack *s, const struct net_cli *c, struct log_source *log,
                       struct dhcp_client **dhcp_out)
{
    int rc;
    if (c->has_ip) {
        rc = net_stack_configure(s, &c->ip);
        if (rc < 0) {
            /* The stack refuses the subnet's network or broadcast address. */
            log_error(log, "--ip: cannot use this address: %s", lwt_strerror(rc));
            return rc;
        }
        return 1;
    }
    rc = dhcp_client_start(s, dhcp_out);
    if (rc < 0) {
        log_error(log, "cannot start the DHCP client: %s", lwt_strerror(rc));
        return rc;
    }
    log_info(log, "dhcp: waiting for a lease");
    rc = net_main_wait_for_lease(*dhcp_out);
    if (rc < 0)
        log_error(log, "dhcp: %s", lwt_strerror(rc));
    else if (rc == 0)
        log_info(log, "stopped before a lease was bound");
    return rc;
}

void net_main_finish_tcp(struct net_stack *s)
{
    const struct tcp_stats *st = tcp_stats(s);
    for (int i = 0; i < 50 && st->conns > st->time_wait; i++)
        sched_run(sched_sleep(NET_MAIN_TCP_FINISH_NS / 50), NULL);
}
