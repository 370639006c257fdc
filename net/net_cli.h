/* What the mains of network apps share (os-unix/unix_net_main.c,
 * os-xen/xen_net_main.c): the options every one of them takes, and the
 * one-line summary of the interface and stack counters they print on the
 * way out, and the words of a DHCP lease they log. Pure functions over strings and structs, no I/O, so the same
 * parsing runs on every platform and is unit-tested on Unix.
 *
 * The common options:
 *
 *     (--ip A.B.C.D/PREFIX [--gateway A.B.C.D] | --dhcp) [--mtu N] [--log SPEC]
 *
 * A main reads its words one by one: net_cli_option takes a common option
 * (and its value), the main takes its own, and the first word that is
 * neither (or the word after `--`) starts the app's words. net_cli_check
 * then says whether the whole is consistent.
 */
#ifndef TESSERA_NET_CLI_H
#define TESSERA_NET_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stack.h"

struct dhcp_client;

struct net_cli {
    const char *log_spec; /* --log: for log_configure; NULL: none */
    bool has_ip, dhcp;
    struct ip4_config ip; /* --ip and --gateway */
    uint16_t mtu;         /* --mtu; 0: the device's default */
};

/* The usage line of the common options, for a main's help text. */
#define NET_CLI_USAGE "(--ip A.B.C.D/PREFIX [--gateway A.B.C.D] | --dhcp) [--mtu N] [--log SPEC]"

/* If argv[i] is a common option, takes it and its value: returns the
 * number of words used (1 or 2). 0 if argv[i] is not one of them.
 * -LWT_EINVAL for a bad or missing value, with a message (without the
 * program's name) in err. argv is borrowed: the struct points into it. */
int net_cli_option(struct net_cli *c, int argc, char **argv, int i, char *err, size_t err_size);

/* After the last option: exactly one of --ip and --dhcp, --gateway only
 * with --ip and on its subnet. 0, or -LWT_EINVAL with a message in err. */
int net_cli_check(const struct net_cli *c, char *err, size_t err_size);

/* The parsers behind them, for a main's own options. 0 or -LWT_EINVAL. */
int net_cli_parse_uint(const char *text, unsigned long max, unsigned long *out);
/* "A.B.C.D/PREFIX", a prefix of 1..32 and an address that is not 0. */
int net_cli_parse_cidr(const char *text, struct ip4_config *c);
/* "aa:bb:cc:dd:ee:ff", unicast only. */
int net_cli_parse_mac(const char *text, uint8_t mac[6]);

/* Writes "address A netmask M gateway G|none server S for N s" (the lease's
 * words the mains log) into buf, NUL-terminated; returns the length
 * written (cut short to fit size). NET_CLI_LEASE_TEXT_MAX always fits. */
#define NET_CLI_LEASE_TEXT_MAX 128
struct dhcp_lease;
size_t net_cli_lease_text(char *buf, size_t size, const struct dhcp_lease *l);

/* Writes "stats: rx_frames=N ... tcp_dup_segs=N" (the netif's counters,
 * the stack's, TCP's, and the DHCP client's when dhcp is not NULL) into
 * buf, NUL-terminated, without a newline; returns the length written
 * (cut short to fit size). */
size_t net_cli_stats_line(char *buf, size_t size, const struct netif *nif, const struct net_stack *s,
                          const struct dhcp_client *dhcp);

#endif
