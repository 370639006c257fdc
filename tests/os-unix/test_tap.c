/* The tap netif against Linux's own stack. Each test that needs a link
 * makes a network namespace of its own, moves the kernel side of a fresh
 * tap into it (10.200.0.1/24; we are 10.200.0.2) and talks to it with
 * frames built here by hand, so that nothing leaves that namespace.
 *
 * Needs root and /dev/net/tun; without them the tests say why and skip.
 * write(2) is wrapped (-Wl,--wrap=write) so that a test can make the tap's
 * writes fail with EAGAIN. Waits are bounded (10 s) only against hangs:
 * nothing asserts on time.
 */
#define _GNU_SOURCE
#include "test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "net_buf.h"
#include "netif.h"
#include "scheduler.h"
#include "unix_platform.h"
#include "unix_tap.h"

#define LINUX_IP   0x0ac80001u /* 10.200.0.1, the kernel side */
#define OUR_IP     0x0ac80002u /* 10.200.0.2 */
#define ECHO_ID    0x7e55
#define ECHO_BYTES 32
#define WAIT_LIMIT (10 * SCHED_NS_PER_S)

/* ---- Making the tap's writes say EAGAIN --------------------------------- */

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __real_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt);

static int tap_eagain; /* writes to /dev/net/tun still to fail */

static bool is_tun(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 10 && minor(st.st_rdev) == 200;
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
    if (tap_eagain > 0 && is_tun(fd)) {
        tap_eagain--;
        errno = EAGAIN;
        return -1;
    }
    return __real_write(fd, buf, len);
}

ssize_t __wrap_writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (tap_eagain > 0 && is_tun(fd)) {
        tap_eagain--;
        errno = EAGAIN;
        return -1;
    }
    return __real_writev(fd, iov, iovcnt);
}

/* ---- The log, captured --------------------------------------------------- */

static char log_text[4096];
static size_t log_len;

static void capture_log(const char *text, size_t len)
{
    size_t room = sizeof log_text - 1 - log_len;
    if (len > room)
        len = room;
    memcpy(log_text + log_len, text, len);
    log_len += len;
    log_text[log_len] = '\0';
}

static void capture_log_start(void)
{
    log_len = 0;
    log_text[0] = '\0';
    log_set_output(capture_log);
}

/* ---- The namespace and the tap -------------------------------------------- */

static struct {
    char ns[32];
    char ifname[IFNAMSIZ];
    struct unix_tap *tap;
    bool ns_made;
    pid_t bg; /* a background command, ended at teardown */
} env;
static unsigned env_seq;

static const char *why_not_root(void)
{
    if (geteuid() != 0)
        return "not running as root";
    if (access("/dev/net/tun", R_OK | W_OK) != 0)
        return "no usable /dev/net/tun";
    return NULL;
}

#define REQUIRE_ROOT()                                                                                                 \
    do {                                                                                                               \
        const char *why_ = why_not_root();                                                                             \
        if (why_) {                                                                                                    \
            printf("test_tap: skipped: %s (a tap needs root and /dev/net/tun)\n", why_);                               \
            skip();                                                                                                    \
        }                                                                                                              \
    } while (0)

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st != 0)
        fprintf(stderr, "test_tap: `%s` failed (status %d)\n", cmd, st);
    return st;
}

/* Runs cmd in the background, output discarded. */
static pid_t spawn(const char *cmd)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void format_mac(char out[18], const uint8_t mac[6])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

static void name_env(void)
{
    unsigned seq = ++env_seq;
    snprintf(env.ns, sizeof env.ns, "tsrtap-%d-%u", (int)getpid(), seq);
    snprintf(env.ifname, sizeof env.ifname, "tsrt%d-%u", (int)getpid(), seq);
}

/* The platform running, the tap open, its kernel side up in a namespace
 * of its own, with 10.200.0.2 pinned to our MAC. */
static struct netif *env_up(const uint8_t *mac)
{
    name_env();
    assert_int_equal(unix_platform_start(NULL), 0);
    assert_int_equal(unix_tap_open(env.ifname, mac, 0, &env.tap), 0);
    struct netif *n = unix_tap_netif(env.tap);
    char mac_text[18];
    format_mac(mac_text, n->mac);
    assert_int_equal(sh("ip netns add %s", env.ns), 0);
    env.ns_made = true;
    assert_int_equal(sh("ip link set %s netns %s", env.ifname, env.ns), 0);
    assert_int_equal(sh("ip -n %s addr add 10.200.0.1/24 dev %s", env.ns, env.ifname), 0);
    assert_int_equal(sh("ip -n %s link set %s up", env.ns, env.ifname), 0);
    assert_int_equal(
        sh("ip -n %s neigh replace 10.200.0.2 lladdr %s dev %s nud permanent", env.ns, mac_text, env.ifname), 0);
    return n;
}

static int tap_setup(void **state)
{
    memset(&env, 0, sizeof env);
    tap_eagain = 0;
    return test_setup(state);
}

/* Always: the tap closed, the namespace gone, nothing leaked. */
static int tap_teardown(void **state)
{
    if (env.bg > 0) {
        kill(env.bg, SIGTERM);
        waitpid(env.bg, NULL, 0);
        env.bg = 0;
    }
    tap_eagain = 0;
    unix_tap_close(env.tap);
    env.tap = NULL;
    unix_platform_stop();
    log_set_output(NULL);
    if (env.ns_made)
        sh("ip netns del %s", env.ns);
    env.ns_made = false;
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "test left %zu packet buffer(s) alive\n", net_buf_live_count());
        return -1;
    }
    return test_teardown(state);
}
#define TEST_TAP(f) cmocka_unit_test_setup_teardown(f, tap_setup, tap_teardown)

/* ---- Frames, by hand ------------------------------------------------------ */

static uint16_t inet_csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* who-has 10.200.0.1 tell 10.200.0.2; ctx: our MAC. */
static int fill_arp_request(struct net_slice *frame, void *ctx)
{
    const uint8_t *mac = ctx;
    static const uint8_t unknown[6];
    struct net_wr w = net_wr_of(frame);
    net_put_bytes(&w, 0, broadcast, 6);
    net_put_bytes(&w, 6, mac, 6);
    net_put_be16(&w, 12, 0x0806);
    net_put_be16(&w, 14, 1);      /* Ethernet */
    net_put_be16(&w, 16, 0x0800); /* IPv4 */
    net_put_u8(&w, 18, 6);
    net_put_u8(&w, 19, 4);
    net_put_be16(&w, 20, 1); /* request */
    net_put_bytes(&w, 22, mac, 6);
    net_put_be32(&w, 28, OUR_IP);
    net_put_bytes(&w, 32, unknown, 6);
    net_put_be32(&w, 38, LINUX_IP);
    return w.bad ? -LWT_EINVAL : 42;
}
#define ARP_FRAME 42

struct echo_req {
    const uint8_t *mac, *peer;
    uint16_t seq;
};

static uint8_t echo_byte(size_t i)
{
    return (uint8_t)(0xa0 + i);
}

/* An ICMP echo request from 10.200.0.2 to 10.200.0.1. */
static int fill_echo_request(struct net_slice *frame, void *ctx)
{
    const struct echo_req *e = ctx;
    struct net_wr w = net_wr_of(frame);
    if (w.len < 14 + 20 + 8 + ECHO_BYTES)
        return -LWT_EINVAL;
    net_put_bytes(&w, 0, e->peer, 6);
    net_put_bytes(&w, 6, e->mac, 6);
    net_put_be16(&w, 12, 0x0800);
    net_put_u8(&w, 14, 0x45);
    net_put_u8(&w, 15, 0);
    net_put_be16(&w, 16, 20 + 8 + ECHO_BYTES);
    net_put_be16(&w, 18, 0x1234); /* id */
    net_put_be16(&w, 20, 0x4000); /* don't fragment */
    net_put_u8(&w, 22, 64);       /* ttl */
    net_put_u8(&w, 23, 1);        /* ICMP */
    net_put_be16(&w, 24, 0);
    net_put_be32(&w, 26, OUR_IP);
    net_put_be32(&w, 30, LINUX_IP);
    net_put_be16(&w, 24, inet_csum(w.p + 14, 20));
    net_put_u8(&w, 34, 8); /* echo request */
    net_put_u8(&w, 35, 0);
    net_put_be16(&w, 36, 0);
    net_put_be16(&w, 38, ECHO_ID);
    net_put_be16(&w, 40, e->seq);
    for (size_t i = 0; i < ECHO_BYTES; i++)
        net_put_u8(&w, 42 + i, echo_byte(i));
    net_put_be16(&w, 36, inet_csum(w.p + 34, 8 + ECHO_BYTES));
    return w.bad ? -LWT_EINVAL : 14 + 20 + 8 + ECHO_BYTES;
}
#define ECHO_FRAME (14 + 20 + 8 + ECHO_BYTES)

/* A TCP segment from 10.200.0.2 to a closed port of 10.200.0.1 with
 * TSO_BYTES of data and no ACK flag, its checksum left partial, to go as
 * one TSO frame: Linux answers it with a RST that acknowledges all of it.
 * The fill writes the data too, unless it is lent only the headers' room
 * (the data is then the write's tail). */
#define TSO_BYTES 60000
#define TSO_HDRS  (14 + 20 + 20)

struct tso_req {
    const uint8_t *mac, *peer;
    uint32_t seq;
};

static int fill_tso_segment(struct net_slice *frame, void *ctx)
{
    const struct tso_req *e = ctx;
    struct net_wr w = net_wr_of(frame);
    bool data = w.len != TSO_HDRS;
    if (w.len < TSO_HDRS + (data ? TSO_BYTES : 0))
        return -LWT_EINVAL;
    memset(w.p, 0, TSO_HDRS); /* the buffer is reused: no stale bytes */
    net_put_bytes(&w, 0, e->peer, 6);
    net_put_bytes(&w, 6, e->mac, 6);
    net_put_be16(&w, 12, 0x0800);
    net_put_u8(&w, 14, 0x45);
    net_put_be16(&w, 16, 20 + 20 + TSO_BYTES);
    net_put_be16(&w, 18, 0x4321); /* id */
    net_put_u8(&w, 22, 64);       /* ttl */
    net_put_u8(&w, 23, 6);        /* TCP */
    net_put_be32(&w, 26, OUR_IP);
    net_put_be32(&w, 30, LINUX_IP);
    net_put_be16(&w, 24, inet_csum(w.p + 14, 20));
    net_put_be16(&w, 34, 40000); /* source port */
    net_put_be16(&w, 36, 9);     /* discard: nobody listens */
    net_put_be32(&w, 38, e->seq);
    net_put_u8(&w, 46, 5 << 4);  /* no options */
    net_put_u8(&w, 47, 0x08);    /* PSH */
    net_put_be16(&w, 48, 65535); /* window */
    if (data)
        memset(w.p + TSO_HDRS, 0x5a, TSO_BYTES);
    /* The pseudo-header's sum, uncomplemented: the kernel does the rest. */
    uint32_t sum = (OUR_IP >> 16) + (OUR_IP & 0xffff) + (LINUX_IP >> 16) + (LINUX_IP & 0xffff) + 6 + 20 + TSO_BYTES;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    net_put_be16(&w, 50, (uint16_t)sum);
    return w.bad ? -LWT_EINVAL : TSO_HDRS + (data ? TSO_BYTES : 0);
}

static int fill_never(struct net_slice *frame, void *ctx)
{
    (void)frame;
    (void)ctx;
    fail_msg("fill called when write should have refused");
    return -LWT_EINVAL;
}

static int fill_refuse(struct net_slice *frame, void *ctx)
{
    (void)frame;
    (void)ctx;
    return -LWT_ENOBUFS;
}

static int fill_too_short(struct net_slice *frame, void *ctx)
{
    (void)frame;
    (void)ctx;
    return NETIF_ETH_HDR - 1;
}

/* ---- What the listener saw ------------------------------------------------ */

enum want { WANT_ARP_REPLY, WANT_ECHO_REPLY, WANT_REQUESTS, WANT_RST };

struct rx_log {
    const uint8_t *mac; /* ours */
    uint8_t peer[6];    /* the kernel side's, from its ARP reply */
    bool arp_reply;
    uint16_t echo_reply_seq; /* 0: none yet */
    size_t requests;         /* echo requests from Linux's ping */
    bool rst;                /* a RST from Linux, intact */
    uint32_t rst_ack;        /* its acknowledgement number */
    enum want want;
    size_t want_requests;
    lwt_resolver_t *done; /* woken once what is wanted has come */
};

static bool satisfied(const struct rx_log *log)
{
    switch (log->want) {
    case WANT_ARP_REPLY:
        return log->arp_reply;
    case WANT_ECHO_REPLY:
        return log->echo_reply_seq != 0;
    case WANT_REQUESTS:
        return log->requests >= log->want_requests;
    case WANT_RST:
        return log->rst;
    }
    return false;
}

static void note_arp(struct rx_log *log, struct net_rd *r)
{
    uint8_t target[6], sender[6];
    net_rd_bytes(r, 32, target, 6);
    net_rd_bytes(r, 22, sender, 6);
    if (net_be16(r, 20) == 2 && net_be32(r, 28) == LINUX_IP && net_be32(r, 38) == OUR_IP && !r->bad &&
        memcmp(target, log->mac, 6) == 0) {
        memcpy(log->peer, sender, 6);
        log->arp_reply = true;
    }
}

static void note_icmp(struct rx_log *log, struct net_rd *r)
{
    size_t ihl = (size_t)(net_u8(r, 14) & 0x0f) * 4;
    size_t total = net_be16(r, 16);
    if (r->bad || ihl < 20 || total < ihl + 8 || !net_rd_has(r, 14, total))
        return;
    /* A header or message that sums to zero with its checksum is intact. */
    if (inet_csum(r->p + 14, ihl) != 0 || inet_csum(r->p + 14 + ihl, total - ihl) != 0)
        return;
    size_t icmp = 14 + ihl;
    uint8_t type = net_u8(r, icmp);
    if (type == 8 && net_be32(r, 30) == OUR_IP) {
        log->requests++;
        return;
    }
    if (type != 0 || net_be32(r, 26) != LINUX_IP || net_be32(r, 30) != OUR_IP || net_be16(r, icmp + 4) != ECHO_ID ||
        total - ihl != 8 + ECHO_BYTES)
        return;
    for (size_t i = 0; i < ECHO_BYTES; i++)
        if (net_u8(r, icmp + 8 + i) != echo_byte(i))
            return;
    log->echo_reply_seq = net_be16(r, icmp + 6);
}

static void note_tcp(struct rx_log *log, struct net_rd *r)
{
    size_t total = net_be16(r, 16);
    if (r->bad || net_u8(r, 14) != 0x45 || total < 40 || !net_rd_has(r, 14, total) || net_be32(r, 26) != LINUX_IP ||
        net_be32(r, 30) != OUR_IP || net_be16(r, 34) != 9 || net_be16(r, 36) != 40000 || !(net_u8(r, 47) & 0x04))
        return;
    /* The TCP checksum, over the pseudo-header, segment and all. */
    uint8_t pseudo[12 + 60];
    size_t tcp_len = total - 20;
    if (tcp_len > 60)
        return;
    memcpy(pseudo, r->p + 26, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    pseudo[10] = (uint8_t)(tcp_len >> 8);
    pseudo[11] = (uint8_t)tcp_len;
    memcpy(pseudo + 12, r->p + 34, tcp_len);
    if (inet_csum(pseudo, 12 + tcp_len) != 0)
        return;
    log->rst = true;
    log->rst_ack = net_be32(r, 42);
}

static void on_frame(void *ctx, struct net_slice frame)
{
    struct rx_log *log = ctx;
    struct net_rd r = net_rd_of(&frame);
    uint8_t dst[6];
    net_rd_bytes(&r, 0, dst, 6);
    if (memcmp(dst, log->mac, 6) == 0) {
        uint16_t type = net_be16(&r, 12);
        if (type == 0x0806)
            note_arp(log, &r);
        else if (type == 0x0800 && net_u8(&r, 23) == 1)
            note_icmp(log, &r);
        else if (type == 0x0800 && net_u8(&r, 23) == 6)
            note_tcp(log, &r);
    }
    net_slice_release(&frame);
    if (log->done && satisfied(log)) {
        lwt_resolver_t *done = log->done;
        log->done = NULL;
        lwt_wakeup(done, NULL);
    }
}

/* Runs the loop until the listener has seen what is wanted. */
static void wait_for(struct rx_log *log, enum want want)
{
    log->want = want;
    if (satisfied(log))
        return;
    lwt_t *p = lwt_task(&log->done);
    int rc = sched_run(sched_with_timeout(p, WAIT_LIMIT), NULL);
    if (log->done) {
        lwt_resolver_drop(log->done);
        log->done = NULL;
    }
    if (rc != 0)
        fail_msg("the awaited frame did not come: %s", lwt_strerror(rc));
}

/* ---- Tests ---------------------------------------------------------------- */

/* ARP and ping with Linux: the frames we write reach its stack, and its
 * replies, addressed to our MAC, reach the listener. */
static void arp_and_echo_with_linux(void **state)
{
    (void)state;
    REQUIRE_ROOT();
    struct netif *n = env_up(NULL);
    assert_int_equal(n->mac[0] & 0x03, 0x02); /* random: unicast, locally administered */
    assert_int_equal(n->mtu, 1500);
    assert_string_equal(n->name, env.ifname);
    assert_string_equal(unix_tap_ifname(env.tap), env.ifname);

    lwt_t *w = netif_wait_writable(n);
    assert_fulfilled(w);
    lwt_unref(w);
    assert_int_equal(netif_write(n, 1500 + NETIF_ETH_HDR + 1, fill_never, NULL), -LWT_EMSGSIZE);

    struct rx_log log = {.mac = n->mac};
    netif_listen(n, on_frame, &log);
    struct netif_stats before = n->stats;

    assert_int_equal(netif_write(n, ARP_FRAME, fill_arp_request, n->mac), 0);
    assert_int_equal(n->stats.tx_frames, before.tx_frames + 1);
    assert_int_equal(n->stats.tx_bytes, before.tx_bytes + ARP_FRAME);
    wait_for(&log, WANT_ARP_REPLY);

    struct echo_req req = {.mac = n->mac, .peer = log.peer, .seq = 1};
    assert_int_equal(netif_write(n, ECHO_FRAME, fill_echo_request, &req), 0);
    wait_for(&log, WANT_ECHO_REPLY);
    assert_int_equal(log.echo_reply_seq, 1);

    assert_int_equal(n->stats.tx_frames, before.tx_frames + 2);
    assert_int_equal(n->stats.tx_bytes, before.tx_bytes + ARP_FRAME + ECHO_FRAME);
    assert_true(n->stats.rx_frames >= before.rx_frames + 2);
    assert_true(n->stats.rx_bytes >= before.rx_bytes + ARP_FRAME + ECHO_FRAME);
    assert_int_equal(n->stats.tx_errors, 0);
    assert_int_equal(n->stats.tx_dropped, 0);
    netif_listen(n, NULL, NULL);
}

/* A frame the kernel cannot take at once is kept and sent when the tap is
 * writable; meanwhile writes refuse without filling, and wait_writable
 * waits (and can be cancelled). Closing rejects whoever still waits. */
static void pending_frame_goes_out_when_writable(void **state)
{
    (void)state;
    REQUIRE_ROOT();
    struct netif *n = env_up(NULL);
    struct rx_log log = {.mac = n->mac};
    netif_listen(n, on_frame, &log);
    struct netif_stats before = n->stats;

    tap_eagain = 2; /* the write itself and the first retry */
    assert_int_equal(netif_write(n, ARP_FRAME, fill_arp_request, n->mac), 0);
    assert_int_equal(n->stats.tx_frames, before.tx_frames);
    assert_int_equal(netif_write(n, ARP_FRAME, fill_never, NULL), -LWT_EAGAIN);
    lwt_t *ready = netif_wait_writable(n);
    lwt_t *gave_up = netif_wait_writable(n);
    assert_pending(ready);
    assert_pending(gave_up);
    lwt_cancel(gave_up);
    drain();
    assert_int_equal(lwt_error(gave_up), -LWT_ECANCELED);
    lwt_unref(gave_up);

    assert_int_equal(sched_run(sched_with_timeout(ready, WAIT_LIMIT), NULL), 0);
    assert_int_equal(tap_eagain, 0);
    assert_int_equal(n->stats.tx_frames, before.tx_frames + 1);
    assert_int_equal(n->stats.tx_bytes, before.tx_bytes + ARP_FRAME);
    /* What went out late was the frame as filled: Linux answers it. */
    wait_for(&log, WANT_ARP_REPLY);

    tap_eagain = 1 << 30;
    assert_int_equal(netif_write(n, ARP_FRAME, fill_arp_request, n->mac), 0);
    lwt_t *orphan = netif_wait_writable(n);
    assert_pending(orphan);
    unix_tap_close(env.tap);
    env.tap = NULL;
    drain();
    assert_int_equal(lwt_error(orphan), -LWT_ECANCELED);
    lwt_unref(orphan);
    tap_eagain = 0;
}

/* Linux pings us in a burst: many frames queue up and each reaches the
 * listener; frames bigger than our MTU allows are dropped and counted. */
static void burst_and_oversized_frames(void **state)
{
    (void)state;
    REQUIRE_ROOT();
    struct netif *n = env_up(NULL);
    struct rx_log log = {.mac = n->mac};
    netif_listen(n, on_frame, &log);
    uint64_t dropped = n->stats.rx_dropped;

    /* Linux may now send up to 2000-byte packets; we take 1500. For a
     * second (-w 1 sends until then) these frames pile up in the kernel's
     * queue, as the loop is not running: the next wake-ups read full
     * batches. */
    assert_int_equal(sh("ip -n %s link set %s mtu 2000", env.ns, env.ifname), 0);
    sh("ip netns exec %s ping -q -c 3 -i 0.01 -s 1600 -w 1 10.200.0.2 >/dev/null 2>&1 || true", env.ns);

    /* A frame every 2 ms; ping goes on until the teardown ends it. */
    const size_t burst = 50;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "exec ip netns exec %s ping -q -c %zu -i 0.002 -s 100 -w 20 10.200.0.2", env.ns, burst);
    env.bg = spawn(cmd);
    log.want_requests = burst;
    wait_for(&log, WANT_REQUESTS);
    assert_true(log.requests >= burst);
    assert_true(n->stats.rx_frames >= burst);
    /* The big ones were queued first. */
    assert_true(n->stats.rx_dropped >= dropped + 3);
    netif_listen(n, NULL, NULL);
}

/* Writes the TSO segment at seq (its data as a tail in two pieces, or
 * filled in) and waits for Linux's RST, which must acknowledge every byte. */
static void tso_round(struct netif *n, struct rx_log *log, uint32_t seq, bool tail, int eagain)
{
    static uint8_t data[TSO_BYTES];
    memset(data, 0x5a, sizeof data);
    struct tso_req req = {.mac = n->mac, .peer = log->peer, .seq = seq};
    struct netif_tx_offload off = {
        .csum_partial = true, .csum_start = 34, .csum_offset = 16, .gso_size = 1460, .hdr_len = TSO_HDRS};
    if (tail) {
        off.tail[0] = data;
        off.tail_len[0] = 1000;
        off.tail[1] = data + 1000;
        off.tail_len[1] = TSO_BYTES - 1000;
    }
    struct netif_stats before = n->stats;
    log->rst = false;
    tap_eagain = eagain;
    assert_int_equal(netif_write_offload(n, TSO_HDRS + TSO_BYTES, &off, fill_tso_segment, &req), 0);
    wait_for(log, WANT_RST);
    assert_int_equal(log->rst_ack, seq + TSO_BYTES);
    assert_int_equal(n->stats.tx_frames, before.tx_frames + 1);
    assert_int_equal(n->stats.tx_bytes, before.tx_bytes + TSO_HDRS + TSO_BYTES);
}

/* A TSO frame (60000 bytes of TCP data, its checksum partial) goes to
 * Linux in one write and arrives whole: its RST acknowledges every byte.
 * So does one whose data is a tail, sent at once (writev) or, refused at
 * first, kept (the tail copied) and sent once the tap is writable. */
static void a_tso_frame_reaches_linux_whole(void **state)
{
    (void)state;
    REQUIRE_ROOT();
    struct netif *n = env_up(NULL);
    assert_int_equal(n->tso_max, UNIX_TAP_TSO_MAX);
    assert_true(n->tx_csum);
    struct rx_log log = {.mac = n->mac};
    netif_listen(n, on_frame, &log);
    assert_int_equal(netif_write(n, ARP_FRAME, fill_arp_request, n->mac), 0);
    wait_for(&log, WANT_ARP_REPLY);

    struct netif_tx_offload off = {
        .csum_partial = true, .csum_start = 34, .csum_offset = 16, .gso_size = 1460, .hdr_len = TSO_HDRS};
    /* Without TSO asked for, it is too big. */
    struct netif_tx_offload csum_only = {.csum_partial = true, .csum_start = 34, .csum_offset = 16};
    assert_int_equal(netif_write_offload(n, TSO_HDRS + TSO_BYTES, &csum_only, fill_never, NULL), -LWT_EMSGSIZE);
    assert_int_equal(netif_write_offload(n, UNIX_TAP_TSO_MAX + NETIF_ETH_HDR + 1, &off, fill_never, NULL),
                     -LWT_EMSGSIZE);
    tso_round(n, &log, 0x12345678u, false, 0);
    tso_round(n, &log, 0x22345678u, true, 0);
    tso_round(n, &log, 0x32345678u, true, 1);
    assert_int_equal(tap_eagain, 0);
    assert_int_equal(n->stats.tx_errors, 0);
    assert_int_equal(n->stats.tx_dropped, 0);
    netif_listen(n, NULL, NULL);
}

/* Write failures and refusals, each counted where netif.h says. */
static void write_errors_are_counted(void **state)
{
    (void)state;
    REQUIRE_ROOT();
    name_env();
    assert_int_equal(unix_platform_start(NULL), 0);
    const uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};
    assert_int_equal(unix_tap_open(env.ifname, mac, 1400, &env.tap), 0);
    struct netif *n = unix_tap_netif(env.tap);
    assert_memory_equal(n->mac, mac, 6);
    assert_int_equal(n->mtu, 1400);
    assert_int_equal(sh("ip link show %s | grep -q 'mtu 1400 '", env.ifname), 0);
    assert_int_equal(netif_write(n, 1400 + NETIF_ETH_HDR + 1, fill_never, NULL), -LWT_EMSGSIZE);

    assert_int_equal(netif_write(n, 100, fill_refuse, NULL), -LWT_ENOBUFS);
    assert_int_equal(n->stats.tx_dropped, 1);
    assert_int_equal(netif_write(n, 100, fill_too_short, NULL), -LWT_EINVAL);
    assert_int_equal(n->stats.tx_dropped, 2);
    /* The interface is down: the kernel refuses the frame. */
    int rc = netif_write(n, ARP_FRAME, fill_arp_request, n->mac);
    assert_true(rc < 0);
    assert_int_equal(n->stats.tx_errors, 1);
    assert_int_equal(n->stats.tx_frames, 0);

    /* Taken: by our own descriptor, or by an interface of another kind. */
    struct unix_tap *again = NULL;
    capture_log_start();
    assert_int_equal(unix_tap_open(env.ifname, NULL, 0, &again), -LWT_EBUSY);
    assert_null(again);
    assert_non_null(strstr(log_text, "in use"));
    assert_int_equal(unix_tap_open("lo", NULL, 0, &again), -LWT_EINVAL);
    assert_null(again);
}

static void open_unprivileged(void)
{
    if (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
        abort();
    capture_log_start();
    struct unix_tap *t = NULL;
    int rc = unix_tap_open("tsrtap-perm", NULL, 0, &t);
    if ((rc != -LWT_EPERM && rc != -LWT_EACCES) || t || !strstr(log_text, "needs root or CAP_NET_ADMIN"))
        abort();
}

/* Bad arguments fail before touching the device; without privileges the
 * error says what is missing. */
static void open_errors(void **state)
{
    (void)state;
    struct unix_tap *t = NULL;
    capture_log_start();
    assert_int_equal(unix_tap_open("tsrtap-too-long0", NULL, 0, &t), -LWT_EINVAL);
    assert_null(t);
    assert_non_null(strstr(log_text, "too long"));
    assert_int_equal(unix_tap_open("tsrtap", NULL, 67, &t), -LWT_EINVAL);
    assert_null(t);

    REQUIRE_ROOT();
    struct test_child c = test_run_in_child(open_unprivileged);
    assert_true(c.returned);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST_TAP(open_errors),
        TEST_TAP(write_errors_are_counted),
        TEST_TAP(arp_and_echo_with_linux),
        TEST_TAP(pending_frame_goes_out_when_writable),
        TEST_TAP(burst_and_oversized_frames),
        TEST_TAP(a_tso_frame_reaches_linux_whole),
    };
    return RUN_TESTS(tests);
}
