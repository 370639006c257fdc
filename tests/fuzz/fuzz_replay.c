/* A driver for fuzz_stack.c without libFuzzer, so the harness also runs in
 * every ordinary build (and under valgrind): it feeds the files named on
 * the command line, then a fixed-seed stream of inputs, both random bytes
 * and mutations of valid packets, and checks that nothing is left alive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwt.h"
#include "net_buf.h"
#include "net_csum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_stack_finish(void);

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Valid starting points: a ping, a UDP datagram to port 53, a first and a
 * last fragment, an ARP request (mode bytes included). */
static size_t seed_packet(unsigned which, uint8_t *p)
{
    static const uint8_t ping[] = {2, 0x45, 0, 36, 0, 1, 0, 0, 64, 1,   0,   0,   10,  0,   0,   9,   10,  0, 0,
                                   1, 8,    0, 0,  0, 0, 1, 0, 1,  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0};
    static const uint8_t udp[] = {2, 0x45, 0, 33, 0,  2, 0,  0, 64, 17, 0, 0,   10,  0,   0,   9,  10,
                                  0, 0,    1, 0,  99, 0, 53, 0, 13, 0,  0, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t frag_first[] = {1, 0x45, 0, 44, 0, 3, 0x20, 0,  64, 17, 0,  0,  10, 0,  0,
                                         9, 10,   0, 0,  1, 0, 99,   0,  53, 0,  40, 0,  0,  1,  2,
                                         3, 4,    5, 6,  7, 8, 9,    10, 11, 12, 13, 14, 15, 16, 17};
    static const uint8_t frag_last[] = {1, 0x45, 0, 36, 0, 3, 0, 3, 64, 17, 0, 0,  10, 0,  0,  9,  10, 0,
                                        0, 1,    1, 2,  3, 4, 5, 6, 7,  8,  9, 10, 11, 12, 13, 14, 15, 16};
    static const uint8_t arp[] = {0, 2, 0, 0, 0, 0, 1, 2,  0, 0, 0, 0, 9, 8, 6, 0, 1, 8,  0, 6, 4, 0,
                                  1, 2, 0, 0, 0, 0, 9, 10, 0, 0, 9, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
    const uint8_t *src[] = {ping, udp, frag_first, frag_last, arp};
    const size_t len[] = {sizeof ping - 1, sizeof udp, sizeof frag_first, sizeof frag_last, sizeof arp};
    memcpy(p, src[which % 5], len[which % 5]);
    return len[which % 5];
}

static void feed_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        exit(1);
    }
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    LLVMFuzzerTestOneInput(buf, n);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        feed_file(argv[i]);
    const char *vg = getenv("TESSERA_UNDER_VALGRIND");
    unsigned count = vg && *vg == '1' ? 5000 : 200000;
    static uint8_t p[2048];
    for (unsigned i = 0; i < count; i++) {
        size_t n;
        if (i % 2) {
            n = next() % 1600;
            for (size_t k = 0; k < n; k++)
                p[k] = (uint8_t)next();
        } else {
            /* A valid packet with a few bytes changed, truncated or grown. */
            n = seed_packet(next(), p);
            for (unsigned m = next() % 4; m-- > 0;)
                p[1 + next() % (n - 1)] = (uint8_t)next();
            if (next() % 4 == 0)
                n = 1 + next() % n;
            else if (next() % 8 == 0)
                n += next() % 64;
        }
        LLVMFuzzerTestOneInput(p, n);
    }
    fuzz_stack_finish();
    if (lwt_live_count() || net_buf_live_count()) {
        fprintf(stderr, "fuzz_replay: %zu promises and %zu buffers left alive\n", lwt_live_count(),
                net_buf_live_count());
        return 1;
    }
    printf("fuzz_replay: %u inputs, nothing left alive\n", count + (unsigned)(argc - 1));
    return 0;
}
