/* main() for network apps on the Unix "direct" target: Tessera's own stack
 * over a tap device. Opens the tap, builds the stack, gives it an address
 * (static, or from DHCP), runs app_main with dev.net and dev.flows (flows
 * on that stack, net/flow_direct.h) set, and the wall clock, and a
 * key/value store as unix_app_kv.h picks it, and on the way
 * out prints the device and stack counters on stderr, one `stats:` line,
 * so that tests can check them.
 *
 *     NAME [--engine E] [--log SPEC] --tap IFNAME [--mac aa:bb:cc:dd:ee:ff]
 *          (--ip A.B.C.D/PREFIX [--gateway G] | --dhcp) [--mtu N]
 *          [--kv-dir PATH] [--] [app args...]
 *
 * Options are read up to the first word that is not one of ours (or `--`);
 * that word and the rest go to the app. Exit status: 0 when the app's main
 * promise is fulfilled, 1 when it is rejected (reported with its bind-site
 * chain in debug builds, by sched_run_main) or the tap or stack cannot be
 * set up, 2 for bad options (ours, or the app's: a main promise rejected
 * with -LWT_EINVAL at once). Linked into each network app's
 * executable, like unix_app_main.c for the others.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "dhcp_client.h"
#include "flow_direct.h"
#include "log.h"
#include "net_cli.h"
#include "net_main_support.h"
#include "netif_faults.h"
#include "scheduler.h"
#include "stack.h"
#include "unix_console.h"
#include "unix_platform.h"
#include "unix_app_kv.h"
#include "unix_tap.h"
#include "unix_wallclock.h"

#define EXIT_USAGE 2

static struct log_source main_log = LOG_SOURCE("main");

struct options {
    const char *engine, *tap, *kv_dir;
    uint8_t mac[6];
    bool has_mac;
    struct net_cli net; /* --ip, --gateway, --dhcp, --mtu, --log */
    /* --faults: frames lost, duplicated, reordered, delayed in our process */
    bool has_faults;
    struct netif_faults_config faults_tx, faults_rx;
    uint64_t faults_seed;
    int app_argc; /* the app's words, argv[0] included */
    char **app_argv;
};

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--engine libev|select] [--log SPEC] --tap IFNAME [--mac "
            "aa:bb:cc:dd:ee:ff]\n"
            "       " NET_CLI_USAGE "\n"
            "       [--faults "
            "tx|rx|both:loss=P%%,dup=P%%,reorder=P%%,delay=Nms,jitter=Nms,hold=Nms].."
            ".\n"
            "       [--faults-seed N] [--kv-dir PATH] [--] [app args...]\n",
            prog);
}

/* "P%" with up to four decimals, as parts per million. */
static int parse_percent(const char *text, uint32_t *ppm)
{
    unsigned long whole = 0, frac = 0, scale = 10000;
    if (*text < '0' || *text > '9')
        return -1;
    for (; *text >= '0' && *text <= '9'; text++)
        if ((whole = whole * 10 + (unsigned long)(*text - '0')) > 100)
            return -1;
    if (*text == '.') {
        for (text++; *text >= '0' && *text <= '9'; text++) {
            if (scale == 1)
                return -1;
            scale /= 10;
            frac += (unsigned long)(*text - '0') * scale;
        }
    }
    if (strcmp(text, "%") != 0 || whole * 10000 + frac > 1000000)
        return -1;
    *ppm = (uint32_t)(whole * 10000 + frac);
    return 0;
}

/* "Nms" or "Nus", as nanoseconds. */
static int parse_duration(const char *text, uint64_t *ns)
{
    unsigned long long v = 0;
    if (*text < '0' || *text > '9')
        return -1;
    for (; *text >= '0' && *text <= '9'; text++)
        if ((v = v * 10 + (unsigned long long)(*text - '0')) > 3600000000ull)
            return -1;
    if (strcmp(text, "ms") == 0)
        *ns = v * 1000000ull;
    else if (strcmp(text, "us") == 0)
        *ns = v * 1000ull;
    else
        return -1;
    return 0;
}

/* "tx:loss=5%,dup=1%,reorder=25%,delay=20ms" (tx, rx or both); the named
 * fields replace those of the direction(s), the others stay. */
static int parse_faults(const char *text, struct options *o)
{
    struct netif_faults_config c = {0};
    bool tx, rx;
    if (strncmp(text, "tx:", 3) == 0)
        tx = true, rx = false, text += 3;
    else if (strncmp(text, "rx:", 3) == 0)
        tx = false, rx = true, text += 3;
    else if (strncmp(text, "both:", 5) == 0)
        tx = rx = true, text += 5;
    else
        return -1;
    char buf[256];
    if (strlen(text) >= sizeof buf)
        return -1;
    memcpy(buf, text, strlen(text) + 1);
    uint32_t set = 0; /* which fields were named */
    for (char *item = buf, *next; item && *item; item = next) {
        next = strchr(item, ',');
        if (next)
            *next++ = '\0';
        char *eq = strchr(item, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        const char *val = eq + 1;
        int bad;
        if (strcmp(item, "loss") == 0)
            bad = parse_percent(val, &c.loss_ppm), set |= 1;
        else if (strcmp(item, "dup") == 0)
            bad = parse_percent(val, &c.dup_ppm), set |= 2;
        else if (strcmp(item, "reorder") == 0)
            bad = parse_percent(val, &c.reorder_ppm), set |= 4;
        else if (strcmp(item, "delay") == 0)
            bad = parse_duration(val, &c.delay_ns), set |= 8;
        else if (strcmp(item, "jitter") == 0)
            bad = parse_duration(val, &c.jitter_ns), set |= 16;
        else if (strcmp(item, "hold") == 0)
            bad = parse_duration(val, &c.reorder_hold_ns), set |= 32;
        else
            return -1;
        if (bad)
            return -1;
    }
    for (int d = 0; d < 2; d++) {
        if (!(d == 0 ? tx : rx))
            continue;
        struct netif_faults_config *t = d == 0 ? &o->faults_tx : &o->faults_rx;
        if (set & 1)
            t->loss_ppm = c.loss_ppm;
        if (set & 2)
            t->dup_ppm = c.dup_ppm;
        if (set & 4)
            t->reorder_ppm = c.reorder_ppm;
        if (set & 8)
            t->delay_ns = c.delay_ns;
        if (set & 16)
            t->jitter_ns = c.jitter_ns;
        if (set & 32)
            t->reorder_hold_ns = c.reorder_hold_ns;
    }
    o->has_faults = true;
    return 0;
}

/* 0, or EXIT_USAGE after saying what is wrong. */
static int parse_options(int argc, char **argv, struct options *o)
{
    const char *prog = argv[0];
    int i = 1;
    for (; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout, prog);
            exit(0);
        }
        char err[160];
        int used = net_cli_option(&o->net, argc, argv, i, err, sizeof err);
        if (used < 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            goto bad;
        }
        if (used > 0) {
            i += used - 1;
            continue;
        }
        bool ours = strcmp(opt, "--engine") == 0 || strcmp(opt, "--tap") == 0 || strcmp(opt, "--mac") == 0 ||
                    strcmp(opt, "--faults") == 0 || strcmp(opt, "--faults-seed") == 0 || strcmp(opt, "--kv-dir") == 0;
        if (!ours)
            break; /* the app's */
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, opt);
            goto bad;
        }
        const char *val = argv[++i];
        if (strcmp(opt, "--engine") == 0) {
            o->engine = val;
        } else if (strcmp(opt, "--kv-dir") == 0) {
            o->kv_dir = val;
        } else if (strcmp(opt, "--tap") == 0) {
            if (!*val || strlen(val) > 15) {
                fprintf(stderr, "%s: --tap '%s': an interface name has 1 to 15 characters\n", prog, val);
                goto bad;
            }
            o->tap = val;
        } else if (strcmp(opt, "--mac") == 0) {
            if (net_cli_parse_mac(val, o->mac) < 0) {
                fprintf(stderr,
                        "%s: --mac '%s': expected a unicast address such as "
                        "02:00:00:00:00:01\n",
                        prog, val);
                goto bad;
            }
            o->has_mac = true;
        } else if (strcmp(opt, "--faults") == 0) {
            if (parse_faults(val, o) < 0) {
                fprintf(stderr,
                        "%s: --faults '%s': expected e.g. "
                        "tx:loss=5%%,dup=1%%,reorder=25%%,delay=20ms\n",
                        prog, val);
                goto bad;
            }
        } else if (strcmp(opt, "--faults-seed") == 0) {
            unsigned long long v = 0;
            for (const char *q = val; *q; q++) {
                if (*q < '0' || *q > '9')
                    goto bad_seed;
                v = v * 10 + (unsigned long long)(*q - '0');
            }
            if (!*val) {
            bad_seed:
                fprintf(stderr, "%s: --faults-seed '%s': expected a number\n", prog, val);
                goto bad;
            }
            o->faults_seed = v;
        }
    }
    if (!o->tap) {
        fprintf(stderr, "%s: --tap IFNAME is required\n", prog);
        goto bad;
    }
    char err[160];
    if (net_cli_check(&o->net, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        goto bad;
    }
    /* The app sees its own words behind the program name. */
    argv[i - 1] = (char *)prog;
    o->app_argc = argc - (i - 1);
    o->app_argv = argv + (i - 1);
    return 0;
bad:
    usage(stderr, prog);
    return EXIT_USAGE;
}

/* ---- Statistics --------------------------------------------------------- */

/* One line, written at once, after the log lines still buffered. */
static void print_stats(const struct netif *nif, const struct net_stack *s, const struct dhcp_client *dhcp,
                        const struct netif_faults *faults)
{
    char buf[2048];
    size_t len = net_cli_stats_line(buf, sizeof buf, nif, s, dhcp);
    if (faults && len < sizeof buf) {
        struct netif_faults_stats fs;
        netif_faults_stats(faults, &fs);
        len += (size_t)snprintf(buf + len, sizeof buf - len,
                                " faults_tx_lost=%llu faults_rx_lost=%llu faults_tx_duplicated=%llu"
                                " faults_rx_duplicated=%llu faults_tx_reordered=%llu "
                                "faults_rx_reordered=%llu"
                                " faults_tx_delayed=%llu faults_rx_delayed=%llu",
                                (unsigned long long)fs.tx_lost, (unsigned long long)fs.rx_lost,
                                (unsigned long long)fs.tx_duplicated, (unsigned long long)fs.rx_duplicated,
                                (unsigned long long)fs.tx_reordered, (unsigned long long)fs.rx_reordered,
                                (unsigned long long)fs.tx_delayed, (unsigned long long)fs.rx_delayed);
    }
    if (len >= sizeof buf - 1)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    unix_console_flush();
    fwrite(buf, 1, len, stderr);
    fflush(stderr);
}

/* ---- The stack's life ------------------------------------------------------ */

/* The secret behind TCP's initial sequence numbers (RFC 6528) should not
 * be guessable from outside: the kernel's randomness, when it can be had. */
static void seed_stack(struct net_stack *s)
{
    uint8_t key[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (f && fread(key, 1, sizeof key, f) == sizeof key)
        net_stack_seed(s, key, sizeof key);
    else
        log_warn(&main_log, "no /dev/urandom: TCP sequence numbers come from the MAC and the clock");
    if (f)
        fclose(f);
}

/* ---- Address configuration ---------------------------------------------- */

static void log_lease(const struct dhcp_lease *l)
{
    char text[NET_CLI_LEASE_TEXT_MAX];
    net_cli_lease_text(text, sizeof text, l);
    log_info(&main_log, "lease: %s, renewal after %lu s", text, (unsigned long)l->t1_s);
}

/* What to check when the tap cannot be opened. */
static const char *tap_hint(int rc)
{
    switch (-rc) {
    case LWT_EPERM:
    case LWT_EACCES:
        return " (needs root or CAP_NET_ADMIN)";
    case LWT_ENOENT:
    case LWT_ENODEV:
        return " (is there a /dev/net/tun? modprobe tun)";
    case LWT_EBUSY:
        return " (another process holds it)";
    case LWT_EINVAL:
        return " (an interface that is not a tap has that name, or the MTU is out "
               "of range)";
    default:
        return "";
    }
}

int main(int argc, char **argv)
{
    struct options o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc;

    if (o.net.log_spec && log_configure(o.net.log_spec) < 0) {
        fprintf(stderr,
                "%s: --log '%s': expected a level or name=level list, such as info "
                "or arp=debug\n",
                argv[0], o.net.log_spec);
        return EXIT_USAGE;
    }
    rc = unix_platform_start(o.engine);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot start the platform: %s\n", argv[0], lwt_strerror(rc));
        return rc == -LWT_EINVAL ? EXIT_USAGE : 1;
    }

    int status = 1;
    struct unix_tap *tap = NULL;
    struct net_stack *stack = NULL;
    struct dhcp_client *dhcp = NULL;
    struct netif *nif = NULL;
    struct netif_faults *faults = NULL;
    struct kv *kv = NULL;
    struct flow_stack *flows = NULL;
    rc = unix_tap_open(o.tap, o.has_mac ? o.mac : NULL, o.net.mtu, &tap);
    if (rc < 0) {
        unix_console_flush();
        fprintf(stderr, "%s: cannot open tap '%s': %s%s\n", argv[0], o.tap, lwt_strerror(rc), tap_hint(rc));
        goto out;
    }
    nif = unix_tap_netif(tap);
    if (o.has_faults) {
        rc = netif_faults_wrap(nif, o.faults_seed ? o.faults_seed : 1, &faults);
        if (rc < 0) {
            log_error(&main_log, "cannot wrap the tap for --faults: %s", lwt_strerror(rc));
            goto out;
        }
        netif_faults_set(faults, &o.faults_tx, &o.faults_rx);
        nif = netif_faults_netif(faults);
    }

    rc = net_stack_new(nif, &stack);
    if (rc < 0) {
        log_error(&main_log, "cannot create the stack: %s", lwt_strerror(rc));
        goto out;
    }
    seed_stack(stack);

    rc = net_main_configure(stack, &o.net, &main_log, &dhcp);
    if (rc <= 0) {
        /* Stopped before a lease: a clean exit; a refused --ip: usage. */
        status = rc == 0 ? 0 : o.net.has_ip ? EXIT_USAGE : 1;
        goto stats;
    }
    if (dhcp)
        log_lease(dhcp_client_lease(dhcp));

    flows = flow_direct_new(stack, NULL);
    if (!flows) {
        log_error(&main_log, "cannot create the flows: %s", lwt_strerror(-LWT_ENOMEM));
        goto stats;
    }
    rc = unix_app_kv_open(o.kv_dir, &kv);
    if (rc < 0) {
        status = rc == -LWT_ENOMEM ? 1 : EXIT_USAGE;
        goto stats;
    }
    struct app_devices dev = {
        .console = unix_console_stdout(),
        .clock = unix_wallclock(),
        .flows = flows,
        .net = stack,
        .kv = kv,
    };
    lwt_t *app = app_main(&dev, o.app_argc, o.app_argv);
    /* An app that refuses its arguments does so at once: a usage error. */
    bool refused = lwt_state(app) == LWT_REJECTED && lwt_error(app) == -LWT_EINVAL;
    rc = sched_run_main(app, NULL);
    if (rc < 0)
        log_error(&main_log, "stopped: %s", lwt_strerror(rc));
    status = refused ? EXIT_USAGE : rc < 0 ? 1 : 0;

    net_main_finish_tcp(stack);

stats:
    print_stats(nif, stack, dhcp, faults);
out:
    /* Top down: nothing may outlive what it stands on. */
    if (dhcp) {
        dhcp_client_stop(dhcp);
        /* One more turn: the client's RELEASE goes out and its last
         * callbacks run while the stack is still there. */
        sched_run(sched_pause(), NULL);
    }
    unix_app_kv_close(kv);
    if (flows)
        flow_direct_free(flows);
    if (stack)
        net_stack_free(stack);
    netif_faults_free(faults);
    unix_tap_close(tap);
    unix_platform_stop();
    return status;
}
