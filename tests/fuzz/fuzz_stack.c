/* Feeds raw frames into a direct stack from Ethernet up, for libFuzzer
 * (LLVMFuzzerTestOneInput) and for the replay driver in fuzz_replay.c.
 *
 * The first input byte picks how much the harness repairs, so that the
 * fuzzer gets past the checksums to the code behind them:
 *   0  the rest is a whole frame, as it came off the wire;
 *   1  the rest is an IPv4 packet: the harness adds an Ethernet header to
 *      the stack's MAC and fixes the IPv4 header checksum;
 *   2  as 1, and also fixes the ICMP or UDP checksum.
 * The stack persists across inputs (state bugs show up), its timers run on
 * a virtual clock that every 64th input moves 40 s on, and every frame it
 * sends is built in full and discarded.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwt.h"
#include "lwt_errno.h"
#include "net_csum.h"
#include "scheduler.h"
#include "stack.h"
#include "test_vclock.h"
#include "wire_eth.h"
#include "wire_ip4.h"
#include "wire_udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t our_mac[ETH_ALEN] = {2, 0, 0, 0, 0, 1};

/* A netif that builds every frame it is asked for and throws it away. */
static struct {
    struct netif nif;
    netif_rx_fn rx;
    void *rx_ctx;
    uint8_t tx[65536];
    struct net_stack *stack;
    struct udp_sock *sock;
    lwt_t *recv;
    unsigned inputs;
} f;

static int fz_write(struct netif *n, size_t size, netif_fill_fn fill, void *ctx)
{
    if (size > n->mtu + NETIF_ETH_HDR)
        return -LWT_EMSGSIZE;
    struct net_buf b;
    net_buf_init(&b, f.tx, size, NULL, NULL);
    struct net_slice s = {&b, 0, (uint32_t)size};
    int len = fill(&s, ctx);
    if (len >= 0) {
        n->stats.tx_frames++;
        n->stats.tx_bytes += (uint64_t)len;
    }
    return len < 0 ? len : 0;
}

static lwt_t *fz_wait_writable(struct netif *n)
{
    (void)n;
    return lwt_return(NULL);
}

static void fz_listen(struct netif *n, netif_rx_fn rx, void *ctx)
{
    (void)n;
    f.rx = rx;
    f.rx_ctx = ctx;
}

static const struct netif_ops fz_ops = {.write = fz_write, .wait_writable = fz_wait_writable, .listen = fz_listen};

/* Keeps one receive pending on UDP port 53, so datagrams are delivered
 * and freed the way an application would. */
static void rearm_receive(void)
{
    if (f.recv && lwt_state(f.recv) != LWT_PENDING) {
        if (lwt_state(f.recv) == LWT_FULFILLED)
            udp_datagram_free(lwt_value(f.recv));
        lwt_unref(f.recv);
        f.recv = NULL;
    }
    if (!f.recv)
        f.recv = udp_recv(f.sock);
}

static void start(void)
{
    test_vclock_install(1);
    f.nif = (struct netif){.ops = &fz_ops, .mtu = 1500, .name = "fuzz"};
    memcpy(f.nif.mac, our_mac, ETH_ALEN);
    net_stack_new(&f.nif, &f.stack);
    struct ip4_config c = {IP4_ADDR(10, 0, 0, 1), 0xffffff00, IP4_ADDR(10, 0, 0, 254)};
    net_stack_configure(f.stack, &c);
    udp_bind(f.stack, 53, &f.sock);
}

/* Used by the replay driver to end with nothing alive. */
void fuzz_stack_finish(void);
void fuzz_stack_finish(void)
{
    if (!f.stack)
        return;
    if (f.recv) {
        lwt_cancel(f.recv);
        if (lwt_state(f.recv) == LWT_FULFILLED)
            udp_datagram_free(lwt_value(f.recv));
        lwt_unref(f.recv);
        f.recv = NULL;
    }
    net_stack_free(f.stack);
    f.stack = NULL;
    lwt_run_deferred(SIZE_MAX);
    test_vclock_uninstall();
}

static void fix_checksums(uint8_t *ip, size_t len, bool upper)
{
    if (len < IP4_HDR_MIN)
        return;
    size_t hlen = (size_t)(ip[0] & 15) * 4;
    if (hlen < IP4_HDR_MIN || hlen > len)
        return;
    ip[IP4_OFF_CSUM] = ip[IP4_OFF_CSUM + 1] = 0;
    uint16_t c = net_csum_fold(net_csum_add(0, ip, hlen));
    ip[IP4_OFF_CSUM] = (uint8_t)(c >> 8), ip[IP4_OFF_CSUM + 1] = (uint8_t)c;
    if (!upper)
        return;
    uint8_t *p = ip + hlen;
    size_t plen = len - hlen;
    uint16_t total = (uint16_t)(ip[IP4_OFF_LEN] << 8 | ip[IP4_OFF_LEN + 1]);
    if (total >= hlen && total - hlen < plen)
        plen = total - hlen;
    if (ip[IP4_OFF_PROTO] == IP4_PROTO_ICMP && plen >= 4) {
        p[2] = p[3] = 0;
        c = net_csum_fold(net_csum_add(0, p, plen));
        p[2] = (uint8_t)(c >> 8), p[3] = (uint8_t)c;
    } else if (ip[IP4_OFF_PROTO] == IP4_PROTO_UDP && plen >= UDP_HDR_LEN) {
        uint16_t ulen = (uint16_t)(p[4] << 8 | p[5]);
        if (ulen < UDP_HDR_LEN || ulen > plen)
            return;
        uint32_t src = (uint32_t)ip[12] << 24 | (uint32_t)ip[13] << 16 | (uint32_t)ip[14] << 8 | ip[15];
        uint32_t dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 | (uint32_t)ip[18] << 8 | ip[19];
        p[6] = p[7] = 0;
        c = net_csum_fold(net_csum_add(net_csum_pseudo(src, dst, IP4_PROTO_UDP, ulen), p, ulen));
        p[6] = (uint8_t)(c >> 8), p[7] = (uint8_t)c;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!f.stack)
        start();
    if (size == 0 || size > 65535)
        return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    struct net_slice frame;
    size_t head = mode == 0 ? 0 : ETH_HDR_LEN;
    if (net_slice_alloc(&frame, 0, head + size) < 0)
        return 0;
    uint8_t *p = net_slice_data(&frame);
    if (mode) {
        memcpy(p, our_mac, ETH_ALEN);
        memcpy(p + ETH_ALEN, "\x02\x00\x00\x00\x00\x09", ETH_ALEN);
        p[12] = 0x08, p[13] = 0x00;
    }
    memcpy(p + head, data, size);
    if (mode)
        fix_checksums(p + head, size, mode == 2);
    rearm_receive();
    f.rx(f.rx_ctx, frame); /* the stack owns the frame now */
    lwt_run_deferred(SIZE_MAX);
    if (++f.inputs % 64 == 0)
        sched_run(sched_sleep(40 * SCHED_NS_PER_S), NULL);
    rearm_receive();
    return 0;
}
