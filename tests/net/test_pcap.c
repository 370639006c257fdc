/* The pcap writer: the bytes of its headers, latched sink errors, and a
 * capture taken on the hub that the real tshark reads back. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub.h"
#include "lwt_errno.h"
#include "net_buf.h"
#include "pcap.h"
#include "scheduler.h"
#include "test_vclock.h"

static int setup(void **state)
{
    test_vclock_install(0);
    return test_setup(state);
}

static int teardown(void **state)
{
    int rc = 0;
    if (net_buf_live_count() != 0) {
        fprintf(stderr, "test left %zu packet buffer(s) alive\n", net_buf_live_count());
        rc = -1;
    }
    test_vclock_uninstall();
    return test_teardown(state) || rc;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- A memory sink ------------------------------------------------------ */

struct mem_sink {
    uint8_t bytes[4096];
    size_t len;
    int calls;
    int fail_at; /* the call (1-based) that fails; 0: none */
};

static int mem_write(void *ctx, const void *bytes, size_t len)
{
    struct mem_sink *m = ctx;
    m->calls++;
    if (m->fail_at && m->calls >= m->fail_at)
        return -LWT_ENOSPC;
    assert_true(m->len + len <= sizeof m->bytes);
    memcpy(m->bytes + m->len, bytes, len);
    m->len += len;
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void file_header_bytes(void **state)
{
    (void)state;
    static struct mem_sink m;
    struct net_pcap p = {.write = mem_write, .ctx = &m};
    assert_int_equal(net_pcap_start(&p), 0);
    const uint8_t want[24] = {
        0x4d, 0x3c, 0xb2, 0xa1, /* nanosecond magic, little-endian */
        2,    0,    4,    0,    /* version 2.4 */
        0,    0,    0,    0,    /* thiszone */
        0,    0,    0,    0,    /* sigfigs */
        0,    0,    4,    0,    /* snaplen 262144 */
        1,    0,    0,    0,    /* LINKTYPE_ETHERNET */
    };
    assert_int_equal(m.len, 24);
    assert_memory_equal(m.bytes, want, 24);
    assert_int_equal(p.snaplen, NET_PCAP_SNAPLEN_MAX);
}

static void record_is_truncated_to_snaplen(void **state)
{
    (void)state;
    static struct mem_sink m;
    memset(&m, 0, sizeof m);
    struct net_pcap p = {.write = mem_write, .ctx = &m, .snaplen = 64};
    assert_int_equal(net_pcap_start(&p), 0);
    assert_int_equal(le32(m.bytes + 16), 64);
    uint8_t data[100];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 8, data, sizeof data), 0);
    assert_int_equal(net_pcap_frame(&p, 3 * SCHED_NS_PER_S + 123, &s), 0);
    const uint8_t *r = m.bytes + 24;
    assert_int_equal(le32(r), 3);        /* ts_sec */
    assert_int_equal(le32(r + 4), 123);  /* ts_nsec */
    assert_int_equal(le32(r + 8), 64);   /* incl_len */
    assert_int_equal(le32(r + 12), 100); /* orig_len */
    assert_memory_equal(r + 16, data, 64);
    assert_int_equal(m.len, 24 + 16 + 64);

    /* A short frame is kept whole. */
    assert_int_equal(net_slice_trim(&s, 10), 0);
    assert_int_equal(net_pcap_frame(&p, 0, &s), 0);
    r = m.bytes + 24 + 16 + 64;
    assert_int_equal(le32(r + 8), 10);
    assert_int_equal(le32(r + 12), 10);
    assert_memory_equal(r + 16, data, 10);
    assert_int_equal(p.frames, 2);
    net_slice_release(&s);
}

static void sink_errors_are_latched(void **state)
{
    (void)state;
    static struct mem_sink m;
    memset(&m, 0, sizeof m);
    m.fail_at = 3; /* the header goes, a record header goes, its data fails */
    struct net_pcap p = {.write = mem_write, .ctx = &m};
    assert_int_equal(net_pcap_start(&p), 0);
    struct net_slice s;
    assert_int_equal(net_slice_copy(&s, 0, "0123456789abcdef", 16), 0);
    assert_int_equal(net_pcap_frame(&p, 0, &s), -LWT_ENOSPC);
    assert_int_equal(p.error, -LWT_ENOSPC);
    assert_int_equal(p.frames, 0);
    int calls = m.calls;
    assert_int_equal(net_pcap_frame(&p, 0, &s), -LWT_ENOSPC);
    assert_int_equal(m.calls, calls); /* the sink is not called again */
    net_slice_release(&s);

    struct net_pcap none = {0};
    assert_int_equal(net_pcap_start(&none), -LWT_EINVAL);
}

/* ---- tshark reads a capture taken on the hub ---------------------------- */

static int file_write(void *ctx, const void *bytes, size_t len)
{
    return fwrite(bytes, 1, len, ctx) == len ? 0 : -LWT_EIO;
}

struct frame_spec {
    const uint8_t *src;
    size_t len;
};

static int fill_frame(struct net_slice *frame, void *ctx)
{
    const struct frame_spec *fs = ctx;
    uint8_t *p = net_slice_data(frame);
    if (!p || frame->len < fs->len)
        return -LWT_EINVAL;
    memset(p, 0xff, 6);
    memcpy(p + 6, fs->src, 6);
    p[12] = 0x88;
    p[13] = 0xb5;
    memset(p + 14, 0xab, fs->len - 14);
    return (int)fs->len;
}

static void drop_rx(void *ctx, struct net_slice frame)
{
    (void)ctx;
    net_slice_release(&frame);
}

static void tshark_reads_a_hub_capture(void **state)
{
    (void)state;
    FILE *probe = popen("command -v tshark", "r");
    char path[256] = "";
    assert_non_null(probe);
    bool found = fgets(path, sizeof path, probe) != NULL;
    pclose(probe);
    if (!found)
        fail_msg("tshark is not installed (Debian package tshark): it is needed to check the pcap writer");

    char name[] = "/tmp/tessera-pcap-XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    struct net_pcap cap = {.write = file_write, .ctx = f};
    assert_int_equal(net_pcap_start(&cap), 0);

    static const uint8_t macs[3][6] = {{2, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 2}, {0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34}};
    struct net_hub *h = net_hub_new(7);
    struct netif *ports[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(net_hub_add_port(h, macs[i], 1500, "p", &ports[i]), 0);
        netif_listen(ports[i], drop_rx, NULL);
    }
    net_hub_set_pcap(h, &cap);
    /* The tap sees frames before faults: even lost ones are recorded. */
    net_hub_set_faults(h, &(struct net_hub_faults){.loss_ppm = 500000, .delay_ns = 1000});
    static const struct {
        int port;
        size_t len;
        uint64_t at; /* virtual ns */
    } sent[] = {
        {0, 60, 1 * SCHED_NS_PER_S + 5},
        {1, 1514, 1 * SCHED_NS_PER_S + 999999999},
        {2, 98, 2 * SCHED_NS_PER_S},
        {0, 342, 7 * SCHED_NS_PER_S + 123456789},
    };
    const size_t n = sizeof sent / sizeof sent[0];
    for (size_t i = 0; i < n; i++) {
        test_vclock_advance(sent[i].at - test_vclock_now());
        struct frame_spec fs = {macs[sent[i].port], sent[i].len};
        assert_int_equal(netif_write(ports[sent[i].port], sent[i].len, fill_frame, &fs), 0);
    }
    assert_int_equal(sched_run(sched_sleep(SCHED_NS_PER_S), NULL), 0);
    net_hub_free(h);
    assert_int_equal(cap.error, 0);
    assert_int_equal(cap.frames, n);
    assert_int_equal(fclose(f), 0);

    char cmd[512];
    snprintf(cmd, sizeof cmd, "tshark -r %s -T fields -e frame.len -e eth.src -e frame.time_epoch 2>/dev/null", name);
    FILE *out = popen(cmd, "r");
    assert_non_null(out);
    char got[2048] = "";
    size_t got_len = fread(got, 1, sizeof got - 1, out);
    got[got_len] = '\0';
    int status = pclose(out);
    unlink(name);
    char want[2048] = "";
    size_t want_len = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *m = macs[sent[i].port];
        want_len += (size_t)snprintf(want + want_len, sizeof want - want_len,
                                     "%zu\t%02x:%02x:%02x:%02x:%02x:%02x\t%llu.%09llu\n", sent[i].len, m[0], m[1], m[2],
                                     m[3], m[4], m[5], (unsigned long long)(sent[i].at / SCHED_NS_PER_S),
                                     (unsigned long long)(sent[i].at % SCHED_NS_PER_S));
    }
    if (strcmp(got, want) != 0)
        fail_msg("tshark read back:\n%s\nexpected:\n%s", got, want);
    assert_int_equal(status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(file_header_bytes),
        T(record_is_truncated_to_snaplen),
        T(sink_errors_are_latched),
        T(tshark_reads_a_hub_capture),
    };
    return RUN_TESTS(tests);
}
