/* The options every network main shares (net/net_cli.h): each option and
 * its value, the refusals with their messages, the checks across options,
 * where the app's words begin, the stats line of a fresh stack, the words
 * of a lease, and (net_main_support.h) a static address and the end of a
 * stack with nothing to finish. */
#include "test_support.h"

#include <string.h>

#include "hub.h"
#include "log.h"
#include "lwt_errno.h"
#include "dhcp_client.h"
#include "net_cli.h"
#include "net_main_support.h"
#include "stack.h"
#include "test_vclock.h"

/* Runs the loop a main runs: common options, then the app's words. Returns
 * the index of the first app word, or the negative code of the first
 * refusal (err says why). */
static int parse(struct net_cli *c, int argc, char **argv, char *err, size_t size)
{
    memset(c, 0, sizeof *c);
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        int used = net_cli_option(c, argc, argv, i, err, size);
        if (used < 0)
            return used;
        if (used == 0)
            break;
        i += used - 1;
    }
    int rc = net_cli_check(c, err, size);
    return rc < 0 ? rc : i;
}

#define ARGV(...)          ((char *[]){"app", __VA_ARGS__, NULL})
#define ARGC(...)          ((int)(sizeof((char *[]){"app", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(c, err, ...) parse((c), ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (err), sizeof(err))

static void static_address_and_app_words(void **state)
{
    (void)state;
    struct net_cli c;
    char err[160] = "";
    int i = PARSE(&c, err, "--ip", "10.0.0.2/24", "--gateway", "10.0.0.1", "--mtu", "1400", "--log", "tcp=debug",
                  "--port", "7");
    assert_int_equal(i, 9);
    assert_true(c.has_ip);
    assert_false(c.dhcp);
    assert_int_equal(c.ip.addr, 0x0a000002);
    assert_int_equal(c.ip.netmask, 0xffffff00);
    assert_int_equal(c.ip.gateway, 0x0a000001);
    assert_int_equal(c.mtu, 1400);
    assert_string_equal(c.log_spec, "tcp=debug");
}

static void dhcp_and_double_dash(void **state)
{
    (void)state;
    struct net_cli c;
    char err[160] = "";
    /* After --, even a word that looks like ours is the app's. */
    assert_int_equal(PARSE(&c, err, "--dhcp", "--", "--ip", "x"), 3);
    assert_true(c.dhcp);
    assert_false(c.has_ip);
    assert_int_equal(c.mtu, 0);
    assert_null(c.log_spec);
}

static void bad_values_are_refused_with_a_reason(void **state)
{
    (void)state;
    struct net_cli c;
    char err[160];
    static const struct {
        const char *opt, *val, *says;
    } bad[] = {
        {"--ip", "10.0.0.2", "expected A.B.C.D/PREFIX"},
        {"--ip", "10.0.0.2/33", "expected A.B.C.D/PREFIX"},
        {"--ip", "10.0.0.2/0", "expected A.B.C.D/PREFIX"},
        {"--ip", "0.0.0.0/8", "expected A.B.C.D/PREFIX"},
        {"--ip", "10.0.0/24", "expected A.B.C.D/PREFIX"},
        {"--ip", "10.0.0.256/24", "expected A.B.C.D/PREFIX"},
        {"--ip", "/24", "expected A.B.C.D/PREFIX"},
        {"--ip", "1.2.3.4.5.6.7.8/24", "expected"},
        {"--gateway", "10.0.0", "expected A.B.C.D"},
        {"--mtu", "67", "68..65535"},
        {"--mtu", "65536", "68..65535"},
        {"--mtu", "", "68..65535"},
        {"--mtu", "15x", "68..65535"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *argv[] = {"app", (char *)bad[k].opt, (char *)bad[k].val, NULL};
        err[0] = '\0';
        assert_int_equal(parse(&c, 3, argv, err, sizeof err), -LWT_EINVAL);
        assert_non_null(strstr(err, bad[k].opt));
        assert_non_null(strstr(err, bad[k].says));
    }
    /* A missing value. */
    char *argv[] = {"app", "--dhcp", "--mtu", NULL};
    assert_int_equal(parse(&c, 3, argv, err, sizeof err), -LWT_EINVAL);
    assert_string_equal(err, "--mtu needs a value");
}

static void checks_across_options(void **state)
{
    (void)state;
    struct net_cli c;
    char err[160];
    assert_int_equal(PARSE(&c, err, "--port", "7"), -LWT_EINVAL);
    assert_non_null(strstr(err, "exactly one of --ip"));
    assert_int_equal(PARSE(&c, err, "--ip", "10.0.0.2/24", "--dhcp"), -LWT_EINVAL);
    assert_non_null(strstr(err, "exactly one of --ip"));
    assert_int_equal(PARSE(&c, err, "--dhcp", "--gateway", "10.0.0.1"), -LWT_EINVAL);
    assert_non_null(strstr(err, "goes with --ip"));
    assert_int_equal(PARSE(&c, err, "--ip", "10.0.0.2/24", "--gateway", "10.0.1.1"), -LWT_EINVAL);
    assert_non_null(strstr(err, "on the --ip subnet"));
    /* The last of a repeated option wins. */
    assert_int_equal(PARSE(&c, err, "--ip", "10.0.0.2/24", "--ip", "192.0.2.2/16"), 5);
    assert_int_equal(c.ip.addr, 0xc0000202);
    assert_int_equal(c.ip.netmask, 0xffff0000);
    /* A zero-length error buffer is never written. */
    char *argv[] = {"app", "--mtu", "1", NULL};
    assert_int_equal(net_cli_option(&c, 3, argv, 1, NULL, 0), -LWT_EINVAL);
}

static void macs(void **state)
{
    (void)state;
    uint8_t mac[6] = {0};
    assert_int_equal(net_cli_parse_mac("02:00:5E:0a:ff:01", mac), 0);
    assert_memory_equal(mac, ((uint8_t[]){2, 0, 0x5e, 0x0a, 0xff, 1}), 6);
    static const char *bad[] = {"01:00:5e:00:00:01",
                                "02:00:00:00:00",
                                "02:00:00:00:00:01:",
                                "02-00-00-00-00-01",
                                "02:00:00:00:00:0g",
                                "2:00:00:00:00:01",
                                ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        uint8_t before[6];
        memcpy(before, mac, 6);
        assert_int_equal(net_cli_parse_mac(bad[k], mac), -LWT_EINVAL);
        assert_memory_equal(mac, before, 6); /* untouched */
    }
}

static void uints(void **state)
{
    (void)state;
    unsigned long v = 0;
    assert_int_equal(net_cli_parse_uint("65535", 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(net_cli_parse_uint("65536", 65535, &v), -LWT_EINVAL);
    assert_int_equal(net_cli_parse_uint("99999999999999999999999", 65535, &v), -LWT_EINVAL);
    assert_int_equal(net_cli_parse_uint("-1", 65535, &v), -LWT_EINVAL);
    assert_int_equal(v, 65535);
}

/* A fresh stack on a hub's port, on a virtual clock. */
struct fresh {
    struct net_hub *hub;
    struct netif *port;
    struct net_stack *s;
};

#define FRESH_T0 1000

static void fresh_open(struct fresh *f)
{
    test_vclock_install(FRESH_T0);
    f->hub = net_hub_new(1);
    assert_int_equal(net_hub_add_port(f->hub, (const uint8_t[]){2, 0, 0, 0, 0, 1}, 1500, "p0", &f->port), 0);
    assert_int_equal(net_stack_new(f->port, &f->s), 0);
}

static void fresh_close(struct fresh *f)
{
    net_stack_free(f->s);
    net_hub_free(f->hub);
    drain();
    test_vclock_uninstall();
}

static void stats_line(void **state)
{
    (void)state;
    struct fresh f;
    fresh_open(&f);
    struct netif *port = f.port;
    struct net_stack *s = f.s;
    char buf[2048];
    size_t len = net_cli_stats_line(buf, sizeof buf, port, s, NULL);
    assert_int_equal(len, strlen(buf));
    assert_true(strncmp(buf, "stats: rx_frames=0 rx_bytes=0 ", 30) == 0);
    assert_non_null(strstr(buf, " udp_out=0 tcp_segs_in=0 "));
    assert_non_null(strstr(buf, " tcp_dup_segs=0"));
    assert_null(strstr(buf, "dhcp"));
    assert_null(strchr(buf, '\n'));
    /* Cut short, still terminated. */
    char small[40];
    len = net_cli_stats_line(small, sizeof small, port, s, NULL);
    assert_int_equal(len, strlen(small));
    assert_true(len < sizeof small);
    assert_int_equal(net_cli_stats_line(small, 0, port, s, NULL), 0);
    fresh_close(&f);
}

static void lease_text(void **state)
{
    (void)state;
    struct dhcp_lease l = {.addr = 0x0a000002,
                           .netmask = 0xffffff00,
                           .gateway = 0x0a000001,
                           .server = 0x0a0000fe,
                           .lease_s = 3600,
                           .t1_s = 1800};
    char buf[NET_CLI_LEASE_TEXT_MAX];
    size_t len = net_cli_lease_text(buf, sizeof buf, &l);
    assert_string_equal(buf, "address 10.0.0.2 netmask 255.255.255.0 gateway 10.0.0.1 server 10.0.0.254 for 3600 s");
    assert_int_equal(len, strlen(buf));
    l.gateway = 0;
    net_cli_lease_text(buf, sizeof buf, &l);
    assert_non_null(strstr(buf, " gateway none "));
    /* The longest lease there is fits. */
    l = (struct dhcp_lease){
        .addr = 0xffffffff, .netmask = 0xffffffff, .gateway = 0xffffffff, .server = 0xffffffff, .lease_s = 0xffffffff};
    len = net_cli_lease_text(buf, sizeof buf, &l);
    assert_true(len < sizeof buf - 1);
    /* Cut short, still terminated. */
    char small[12];
    assert_int_equal(net_cli_lease_text(small, sizeof small, &l), sizeof small - 1);
    assert_string_equal(small, "address 255");
    assert_int_equal(net_cli_lease_text(small, 0, &l), 0);
}

/* With no connection left to finish, the stack goes at once. */
static void finish_tcp_without_connections(void **state)
{
    (void)state;
    struct fresh f;
    fresh_open(&f);
    net_main_finish_tcp(f.s);
    assert_int_equal(test_vclock_now(), FRESH_T0);
    fresh_close(&f);
}

static struct log_source main_log = LOG_SOURCE("main");

/* A static address: taken, or refused with the stack's code; no client. */
static void configure_static(void **state)
{
    (void)state;
    struct fresh f;
    fresh_open(&f);
    struct dhcp_client *dhcp = NULL;
    struct net_cli c = {.has_ip = true, .ip = {.addr = 0x0a000002, .netmask = 0xffffff00}};
    assert_int_equal(net_main_configure(f.s, &c, &main_log, &dhcp), 1);
    assert_null(dhcp);
    fresh_close(&f);

    fresh_open(&f);
    c.ip.addr = 0x0a0000ff; /* the subnet's broadcast address */
    assert_true(net_main_configure(f.s, &c, &main_log, &dhcp) < 0);
    assert_null(dhcp);
    fresh_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(static_address_and_app_words),
        TEST(dhcp_and_double_dash),
        TEST(bad_values_are_refused_with_a_reason),
        TEST(checks_across_options),
        TEST(macs),
        TEST(uints),
        TEST(stats_line),
        TEST(lease_text),
        TEST(finish_tcp_without_connections),
        TEST(configure_static),
    };
    return RUN_TESTS(tests);
}
