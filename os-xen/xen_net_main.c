/* main for network apps on Xen (the xen target of tessera_add_unikernel and
 * tessera_add_net_app): like os-unix/unix_net_main.c, over netfront.
 * Reads its options from the command line (xl's extra=), connects a vif,
 * builds the direct stack on it, gives it an address (static, or from
 * DHCP), and runs app_main with dev.net and dev.flows set, the console,
 * the wall clock, and a key/value store: the one on the virtual disk
 * --kv-disk names (xen_app_storage.h), else the compiled-in one when the
 * image has ASSETS; and the disk --block names as dev.block. On the way
 * out (the app returned, or xl shutdown asked it to): connections get a
 * bounded time to finish, the counters are logged as one `stats:` line,
 * the stack goes, the disks and the vif disconnect (every grant back),
 * and the domain powers off (or reboots, or crashes if the app failed).
 *
 *     extra="[--vif ID] [--block VDEV] [--kv-disk VDEV] " NET_CLI_USAGE " [--] [app args...]"
 *
 * --vif names the vif (device/vif/ID; default: the first there is).
 * Options are read up to the first word that is not one of ours (or `--`);
 * that word and the rest go to the app.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dhcp_client.h"
#include "flow_direct.h"
#include "log.h"
#include "net_cli.h"
#include "net_main_support.h"
#include "scheduler.h"
#include "stack.h"
#include "tcp.h"
#include "wire_ip4.h"
#include "xen_app_storage.h"
#include "xen_console.h"
#include "xen_arch.h"
#include "xen_gnttab.h"
#include "xen_mm.h"
#include "xen_netfront.h"
#include "xen_platform.h"
#include "xen_time.h"
#include "xenstore.h"

#ifndef TESSERA_APP_NAME
#define TESSERA_APP_NAME "app"
#endif

static struct log_source main_log = LOG_SOURCE("main");

struct options {
    struct net_cli net;
    const char *vif; /* NULL: the first */
    struct xen_app_storage storage;
    int app_argc; /* the app's words, argv[0] included */
    char **app_argv;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    char err[160];
    int i = 1;
    for (; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        int used = net_cli_option(&o->net, argc, argv, i, err, sizeof err);
        if (used < 0)
            goto bad;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        used = xen_app_storage_option(&o->storage, argc, argv, i);
        if (used < 0) {
            snprintf(err, sizeof err, "%s needs a virtual disk, such as xvdb", opt);
            goto bad;
        }
        if (used > 0) {
            i += used - 1;
            continue;
        }
        if (strcmp(opt, "--vif") != 0)
            break; /* the app's */
        unsigned long n;
        if (i + 1 >= argc || net_cli_parse_uint(argv[i + 1], 9999, &n) < 0) {
            snprintf(err, sizeof err, "--vif needs a vif number, such as 0");
            goto bad;
        }
        o->vif = argv[++i];
    }
    if (net_cli_check(&o->net, err, sizeof err) < 0)
        goto bad;
    if (o->net.mtu > 1500) {
        snprintf(err, sizeof err, "--mtu %u: a vif takes at most 1500", o->net.mtu);
        goto bad;
    }
    argv[i - 1] = argv[0];
    o->app_argc = argc - (i - 1);
    o->app_argv = argv + (i - 1);
    return 0;
bad:
    log_error(&main_log, "%s", err);
    log_error(&main_log,
              "usage: extra=\"[--vif ID] [--block VDEV] [--kv-disk VDEV] " NET_CLI_USAGE " [--] [app args...]\"");
    return -LWT_EINVAL;
}

/* ---- Entropy ---------------------------------------------------------------- */

static bool cpu_has_rdrand(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (c >> 30) & 1;
}

/* The secret behind TCP's initial sequence numbers (RFC 6528): the CPU's
 * random numbers where it has them, else the cycle counter and the clocks. */
static void seed_stack(struct net_stack *s)
{
    uint64_t key[4];
    bool hw = cpu_has_rdrand();
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        unsigned char ok = 0;
        for (int tries = 0; hw && !ok && tries < 10; tries++)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        key[i] = v ^ ((uint64_t)hi << 32 | lo) ^ (uint64_t)xen_time_wall() ^ xen_time_monotonic() << 17;
        hw = hw && ok;
    }
    if (!hw)
        log_warn(&main_log, "no RDRAND: TCP sequence numbers come from the clocks only");
    net_stack_seed(s, key, sizeof key);
}

/* ---- The stack's life ---------------------------------------------------------- */

/* The vif to use: --vif's, or the first the toolstack gave us. */
static int pick_vif(const char *wanted, char *id, size_t size)
{
    void *v = NULL;
    int rc = sched_run(xen_netfront_list(), &v);
    if (rc < 0) {
        log_error(&main_log, "cannot list the vifs: %s", lwt_strerror(rc));
        return rc;
    }
    struct xenstore_dir *d = v;
    rc = -LWT_ENODEV;
    for (size_t i = 0; i < d->count; i++)
        if (!wanted || strcmp(d->names[i], wanted) == 0) {
            snprintf(id, size, "%s", d->names[i]);
            rc = 0;
            break;
        }
    if (rc < 0 && wanted)
        log_error(&main_log, "no vif %s: the domain has %zu vif(s)", wanted, d->count);
    else if (rc < 0)
        log_error(&main_log, "no vif: add one to the domain's config, such as vif = ['bridge=xenbr0']");
    free(d);
    return rc;
}

unsigned xen_main(void);

unsigned xen_main(void)
{
    int rc = xen_platform_start();
    if (rc < 0)
        return xen_platform_exit_reason(rc);
    char **argv;
    int argc = xen_platform_args(TESSERA_APP_NAME, &argv);
    struct options o = {0};
    rc = parse_options(argc, argv, &o);
    if (rc == 0 && o.net.log_spec && log_configure(o.net.log_spec) < 0) {
        log_error(&main_log, "--log '%s': expected a level or name=level list, such as info or arp=debug",
                  o.net.log_spec);
        rc = -LWT_EINVAL;
    }
    if (rc < 0) {
        xen_platform_stop();
        return xen_platform_exit_reason(rc);
    }

    struct xen_netfront *vif = NULL;
    struct net_stack *stack = NULL;
    struct dhcp_client *dhcp = NULL;
    struct flow_stack *flows = NULL;
    char id[12];
    void *v = NULL;
    rc = pick_vif(o.vif, id, sizeof id);
    if (rc == 0)
        rc = sched_run(xen_netfront_open(id, o.net.mtu), &v);
    if (rc < 0)
        goto out;
    vif = v;
    struct netif *nif = xen_netfront_netif(vif);

    rc = net_stack_new(nif, &stack);
    if (rc < 0) {
        log_error(&main_log, "cannot create the stack: %s", lwt_strerror(rc));
        goto out;
    }
    seed_stack(stack);
    /* Out of memory stops a Xen domain: TCP's buffers may take half of
     * what is free now, and connections past that are refused (RST). */
    size_t tcp_budget = xen_mm_free_pages() * XEN_PAGE_SIZE / 2;
    tcp_set_memory_limit(stack, tcp_budget);
    log_info(&main_log, "TCP buffers: at most %zu KiB", tcp_budget / 1024);
    /* 0 (stopped before a lease) powers off as a clean exit does. */
    rc = net_main_configure(stack, &o.net, &main_log, &dhcp);
    if (rc <= 0)
        goto stats;
    rc = 0;
    if (o.net.has_ip) {
        char a[16];
        log_info(&main_log, "%s: address %s", xen_netfront_name(vif), ip4_ntoa(o.net.ip.addr, a));
    } else {
        char lease[NET_CLI_LEASE_TEXT_MAX];
        net_cli_lease_text(lease, sizeof lease, dhcp_client_lease(dhcp));
        log_info(&main_log, "lease: %s", lease);
    }

    flows = flow_direct_new(stack, NULL);
    if (!flows) {
        rc = -LWT_ENOMEM;
        log_error(&main_log, "cannot create the flows: %s", lwt_strerror(rc));
        goto stats;
    }
    struct app_devices dev = {
        .console = xen_console(),
        .clock = xen_wallclock(),
        .flows = flows,
        .net = stack,
    };
    rc = sched_run(xen_app_storage_open(&o.storage, &dev), NULL);
    if (rc < 0)
        goto stats;
    rc = sched_run(app_main(&dev, o.app_argc, o.app_argv), NULL);
    if (rc < 0)
        log_error(&main_log, "stopped: %s", lwt_strerror(rc));
    net_main_finish_tcp(stack);

stats:;
    /* One line, past the log's own line length, straight to the console. */
    char line[2048];
    size_t len = net_cli_stats_line(line, sizeof line - 1, nif, stack, dhcp);
    line[len++] = '\n';
    xen_console_write(line, len);
out:
    /* Top down: nothing may outlive what it stands on. */
    if (dhcp) {
        dhcp_client_stop(dhcp);
        /* The RELEASE goes out while the stack is still there. */
        sched_run(sched_pause(), NULL);
    }
    sched_run(xen_app_storage_close(&o.storage), NULL);
    if (flows)
        flow_direct_free(flows);
    if (stack)
        net_stack_free(stack);
    if (vif)
        sched_run(xen_netfront_close(vif), NULL);
    log_info(&main_log, "grants in use: %u", xen_gnttab_in_use());
    xen_platform_stop();
    return xen_platform_exit_reason(rc);
}
