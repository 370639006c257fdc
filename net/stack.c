/* The direct stack's life cycle and configuration; the layers are in
 * eth.c, arp.c, ip4.c, ip4_reasm.c, icmp.c and udp.c. */
#include "lwt_errno.h"
#include "scheduler.h"
#include "stack_internal.h"

struct log_source net__log = LOG_SOURCE("net");

int net_stack_new(struct netif *nif, struct net_stack **out)
{
    struct net_stack *s = malloc(sizeof *s);
    if (!s)
        return -LWT_ENOMEM;
    memset(s, 0, sizeof *s);
    s->nif = nif;
    arp__init(s);
    s->udp.next_ephemeral = 49152;
    s->icmp.tokens = ICMP_ERROR_BURST;
    s->icmp.tokens_at = sched_now();
    /* Different stacks start their IP ids apart (MAC bytes). */
    s->ip_id = (uint16_t)(nif->mac[4] << 8 | nif->mac[5]);
    if (tcp__init(s) < 0) {
        free(s);
        return -LWT_ENOMEM;
    }
    netif_listen(nif, eth__input, s);
    *out = s;
    return 0;
}

void net_stack_free(struct net_stack *s)
{
    if (!s)
        return;
    netif_listen(s->nif, NULL, NULL);
    tcp__destroy(s);
    udp__destroy(s);
    ip4_reasm__destroy(s);
    arp__destroy(s);
    free(s);
}

int net_stack_configure(struct net_stack *s, const struct ip4_config *c)
{
    if (c->addr) {
        uint32_t inv = ~c->netmask;
        /* A contiguous mask, an address that is neither the network nor
         * its broadcast (unless /31 or /32), a gateway inside the subnet. */
        if (c->netmask == 0 || (inv & (inv + 1)) != 0)
            return -LWT_EINVAL;
        if (inv > 1 && ((c->addr & inv) == 0 || (c->addr & inv) == inv))
            return -LWT_EINVAL;
        if (c->gateway && (c->gateway & c->netmask) != (c->addr & c->netmask))
            return -LWT_EINVAL;
    }
    char a[16], m[16], g[16];
    if (c->addr)
        log_info(&net__log, "%s: address %s netmask %s gateway %s", s->nif->name ? s->nif->name : "netif",
                 ip4_ntoa(c->addr, a), ip4_ntoa(c->netmask, m), ip4_ntoa(c->gateway, g));
    else
        log_info(&net__log, "%s: no address", s->nif->name ? s->nif->name : "netif");
    s->cfg = c->addr ? *c : (struct ip4_config){0};
    arp__announce(s);
    return 0;
}

const struct ip4_config *net_stack_config(const struct net_stack *s)
{
    return &s->cfg;
}

const struct net_stack_stats *net_stack_stats(const struct net_stack *s)
{
    return &s->stats;
}

struct netif *net_stack_netif(const struct net_stack *s)
{
    return s->nif;
}

void net_stack_seed(struct net_stack *s, const void *bytes, size_t len)
{
    tcp__seed(s, bytes, len);
}
