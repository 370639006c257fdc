/* See net_cli.h. */
#include <stdio.h>
#include <string.h>

#include "dhcp_client.h"
#include "lwt_errno.h"
#include "net_cli.h"
#include "tcp.h"
#include "wire_ip4.h"

int net_cli_parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!*text)
        return -LWT_EINVAL;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -LWT_EINVAL;
        v = v * 10 + (unsigned long)(*text - '0');
        if (v > max)
            return -LWT_EINVAL;
    }
    *out = v;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int net_cli_parse_mac(const char *text, uint8_t mac[6])
{
    uint8_t m[6];
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(text[0]), lo = hi < 0 ? -1 : hex_digit(text[1]);
        if (lo < 0)
            return -LWT_EINVAL;
        m[i] = (uint8_t)(hi << 4 | lo);
        text += 2;
        if (*text != (i < 5 ? ':' : '\0'))
            return -LWT_EINVAL;
        text++;
    }
    /* The stack is one host: a group address is no address of its own. */
    if (m[0] & 1)
        return -LWT_EINVAL;
    memcpy(mac, m, 6);
    return 0;
}

int net_cli_parse_cidr(const char *text, struct ip4_config *c)
{
    const char *slash = strchr(text, '/');
    char addr[16];
    unsigned long prefix;
    uint32_t a;
    if (!slash || (size_t)(slash - text) >= sizeof addr)
        return -LWT_EINVAL;
    memcpy(addr, text, (size_t)(slash - text));
    addr[slash - text] = '\0';
    if (ip4_aton(addr, &a) < 0 || a == 0 || net_cli_parse_uint(slash + 1, 32, &prefix) < 0 || prefix == 0)
        return -LWT_EINVAL;
    c->addr = a;
    c->netmask = (uint32_t)(0xffffffffull << (32 - prefix));
    return 0;
}

static int say(char *err, size_t size, int rc, const char *fmt, const char *opt, const char *val)
{
    if (size)
        snprintf(err, size, fmt, opt, val);
    return rc;
}

int net_cli_option(struct net_cli *c, int argc, char **argv, int i, char *err, size_t err_size)
{
    const char *opt = argv[i];
    if (strcmp(opt, "--dhcp") == 0) {
        c->dhcp = true;
        return 1;
    }
    if (strcmp(opt, "--ip") != 0 && strcmp(opt, "--gateway") != 0 && strcmp(opt, "--mtu") != 0 &&
        strcmp(opt, "--log") != 0)
        return 0;
    if (i + 1 >= argc)
        return say(err, err_size, -LWT_EINVAL, "%s needs a value%s", opt, "");
    const char *val = argv[i + 1];
    unsigned long n;
    if (strcmp(opt, "--log") == 0) {
        c->log_spec = val;
    } else if (strcmp(opt, "--ip") == 0) {
        if (net_cli_parse_cidr(val, &c->ip) < 0)
            return say(err, err_size, -LWT_EINVAL, "--ip '%s': expected A.B.C.D/PREFIX, such as 10.0.0.2/24%s", val,
                       "");
        c->has_ip = true;
    } else if (strcmp(opt, "--gateway") == 0) {
        if (ip4_aton(val, &c->ip.gateway) < 0)
            return say(err, err_size, -LWT_EINVAL, "--gateway '%s': expected A.B.C.D%s", val, "");
    } else {
        if (net_cli_parse_uint(val, 65535, &n) < 0 || n < 68)
            return say(err, err_size, -LWT_EINVAL, "--mtu '%s': expected 68..65535%s", val, "");
        c->mtu = (uint16_t)n;
    }
    return 2;
}

int net_cli_check(const struct net_cli *c, char *err, size_t err_size)
{
    if (c->has_ip == c->dhcp)
        return say(err, err_size, -LWT_EINVAL, "give exactly one of --ip A.B.C.D/PREFIX and --dhcp%s%s", "", "");
    if (c->ip.gateway && !c->has_ip)
        return say(err, err_size, -LWT_EINVAL, "--gateway goes with --ip (DHCP supplies its own)%s%s", "", "");
    if (c->ip.gateway && (c->ip.gateway & c->ip.netmask) != (c->ip.addr & c->ip.netmask))
        return say(err, err_size, -LWT_EINVAL, "--gateway must be on the --ip subnet%s%s", "", "");
    return 0;
}

/* ---- The stats line ----------------------------------------------------- */

struct counter {
    const char *name;
    size_t off;
};

#define NETIF_COUNTER(f) #f, offsetof(struct netif_stats, f)
#define STACK_COUNTER(f) #f, offsetof(struct net_stack_stats, f)
#define TCP_COUNTER(f)   "tcp_" #f, offsetof(struct tcp_stats, f)

static const struct counter netif_counters[] = {
    {NETIF_COUNTER(rx_frames)}, {NETIF_COUNTER(rx_bytes)},   {NETIF_COUNTER(rx_dropped)}, {NETIF_COUNTER(tx_frames)},
    {NETIF_COUNTER(tx_bytes)},  {NETIF_COUNTER(tx_dropped)}, {NETIF_COUNTER(tx_errors)},
};

static const struct counter stack_counters[] = {
    {STACK_COUNTER(eth_in)},
    {STACK_COUNTER(eth_not_for_us)},
    {STACK_COUNTER(eth_bad)},
    {STACK_COUNTER(eth_unknown_type)},
    {STACK_COUNTER(arp_in)},
    {STACK_COUNTER(arp_bad)},
    {STACK_COUNTER(arp_requests_answered)},
    {STACK_COUNTER(arp_queue_dropped)},
    {STACK_COUNTER(arp_unresolved)},
    {STACK_COUNTER(ip_in)},
    {STACK_COUNTER(ip_bad)},
    {STACK_COUNTER(ip_not_for_us)},
    {STACK_COUNTER(ip_unknown_proto)},
    {STACK_COUNTER(ip_out)},
    {STACK_COUNTER(ip_out_fragments)},
    {STACK_COUNTER(reasm_ok)},
    {STACK_COUNTER(reasm_timeout)},
    {STACK_COUNTER(reasm_dropped)},
    {STACK_COUNTER(icmp_in)},
    {STACK_COUNTER(icmp_bad)},
    {STACK_COUNTER(icmp_echo_answered)},
    {STACK_COUNTER(icmp_unreach_sent)},
    {STACK_COUNTER(icmp_rate_limited)},
    {STACK_COUNTER(udp_in)},
    {STACK_COUNTER(udp_bad)},
    {STACK_COUNTER(udp_no_port)},
    {STACK_COUNTER(udp_queue_full)},
    {STACK_COUNTER(udp_out)},
};

static const struct counter tcp_counters[] = {
    {TCP_COUNTER(segs_in)},
    {TCP_COUNTER(segs_out)},
    {TCP_COUNTER(bad_segs)},
    {TCP_COUNTER(retransmits)},
    {TCP_COUNTER(fast_retransmits)},
    {TCP_COUNTER(repairs_lost)},
    {TCP_COUNTER(tlp_probes)},
    {TCP_COUNTER(undos)},
    {TCP_COUNTER(timeouts)},
    {TCP_COUNTER(rst_sent)},
    {TCP_COUNTER(rst_in)},
    {TCP_COUNTER(challenge_acks)},
    {TCP_COUNTER(challenge_acks_limited)},
    {TCP_COUNTER(syn_dropped)},
    {TCP_COUNTER(accept_overflow)},
    {TCP_COUNTER(ooo_dropped)},
    {TCP_COUNTER(dup_segs)},
    {TCP_COUNTER(mem_refused)},
};

/* A counter added to either struct must be added here too. */
_Static_assert(sizeof netif_counters / sizeof netif_counters[0] == sizeof(struct netif_stats) / sizeof(uint64_t),
               "every netif counter is printed");
_Static_assert(sizeof stack_counters / sizeof stack_counters[0] == sizeof(struct net_stack_stats) / sizeof(uint64_t),
               "every stack counter is printed");

static size_t append(char *buf, size_t size, size_t len, const char *fmt, const char *name, unsigned long long v)
{
    if (len + 1 >= size)
        return len;
    int w = snprintf(buf + len, size - len, fmt, name, v);
    if (w < 0)
        return len;
    return len + (size_t)w < size ? len + (size_t)w : size - 1;
}

static size_t append_counters(char *buf, size_t size, size_t len, const void *stats, const struct counter *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)stats + c[i].off, sizeof v);
        len = append(buf, size, len, " %s=%llu", c[i].name, (unsigned long long)v);
    }
    return len;
}

size_t net_cli_stats_line(char *buf, size_t size, const struct netif *nif, const struct net_stack *s,
                          const struct dhcp_client *dhcp)
{
    if (size == 0)
        return 0;
    int w = snprintf(buf, size, "stats:");
    size_t len = w < 0 ? 0 : (size_t)w < size ? (size_t)w : size - 1;
    len =
        append_counters(buf, size, len, &nif->stats, netif_counters, sizeof netif_counters / sizeof netif_counters[0]);
    len = append_counters(buf, size, len, net_stack_stats(s), stack_counters,
                          sizeof stack_counters / sizeof stack_counters[0]);
    len = append_counters(buf, size, len, tcp_stats(s), tcp_counters, sizeof tcp_counters / sizeof tcp_counters[0]);
    if (dhcp) {
        len = append(buf, size, len, " %s=%llu", "dhcp_renewals", dhcp_client_renewals(dhcp));
        len = append(buf, size, len, " %s=%llu", "dhcp_bad_replies", dhcp_client_bad_replies(dhcp));
    }
    return len;
}

size_t net_cli_lease_text(char *buf, size_t size, const struct dhcp_lease *l)
{
    if (size == 0)
        return 0;
    char a[16], m[16], g[16], sv[16];
    int w = snprintf(buf, size, "address %s netmask %s gateway %s server %s for %lu s", ip4_ntoa(l->addr, a),
                     ip4_ntoa(l->netmask, m), l->gateway ? ip4_ntoa(l->gateway, g) : "none", ip4_ntoa(l->server, sv),
                     (unsigned long)l->lease_s);
    return w < 0 ? 0 : (size_t)w < size ? (size_t)w : size - 1;
}
