/* A driver for fuzz_http.c without libFuzzer, so the parser's harness runs
 * in every ordinary build (and under valgrind): every file in
 * tests/fuzz/http-seeds (or those named on the command line), then a
 * fixed-seed stream of mutations of them: bytes changed, inserted from a
 * list of troublesome ones (CR, LF, NUL, SP, ':', ',', '%', hex digits),
 * removed, and pieces spliced from other seeds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS 64
#define INPUT_MAX 4096

static uint8_t seeds[MAX_SEEDS][INPUT_MAX];
static size_t seed_len[MAX_SEEDS];
static unsigned nseeds;

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void load(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz_http_replay: cannot open %s\n", path);
        exit(1);
    }
    if (nseeds < MAX_SEEDS) {
        seed_len[nseeds] = fread(seeds[nseeds], 1, INPUT_MAX, fp);
        LLVMFuzzerTestOneInput(seeds[nseeds], seed_len[nseeds]);
        nseeds++;
    }
    fclose(fp);
}

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz_http_replay: cannot open %s\n", dir);
        exit(1);
    }
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        load(path);
    }
    closedir(d);
}

static size_t mutate(uint8_t *p, size_t n)
{
    static const uint8_t tricky[] = {'\r', '\n', 0, ' ', '\t', ':', ',', '%', '0', 'f', ';', 'x', 0x7f, 0x80};
    for (unsigned m = 1 + next() % 4; m-- > 0;) {
        unsigned what = next() % 5;
        size_t at = n ? 1 + next() % n : 1;
        if (at > n)
            at = n;
        if (what == 0 && n > 1) {
            p[1 + next() % (n - 1)] = (uint8_t)next();
        } else if (what == 1 && n < INPUT_MAX) {
            memmove(p + at + 1, p + at, n - at);
            p[at] = tricky[next() % sizeof tricky];
            n++;
        } else if (what == 2 && n > 1 && at < n) {
            memmove(p + at, p + at + 1, n - at - 1);
            n--;
        } else if (what == 3 && nseeds) {
            unsigned s = next() % nseeds;
            size_t from = seed_len[s] > 1 ? 1 + next() % (seed_len[s] - 1) : 0;
            size_t len = next() % 64;
            if (from + len > seed_len[s])
                len = seed_len[s] - from;
            if (at + len <= INPUT_MAX && n - at <= INPUT_MAX - at - len) {
                memmove(p + at + len, p + at, n - at);
                memcpy(p + at, seeds[s] + from, len);
                n += len;
            }
        } else if (n > 0) {
            p[0] = (uint8_t)next(); /* other limits, other pieces */
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            load(argv[i]);
    } else {
        load_dir(FUZZ_HTTP_SEEDS);
    }
    const char *vg = getenv("TESSERA_UNDER_VALGRIND");
    unsigned count = vg && *vg == '1' ? 3000 : 100000;
    static uint8_t p[INPUT_MAX];
    for (unsigned i = 0; i < count && nseeds; i++) {
        unsigned s = next() % nseeds;
        memcpy(p, seeds[s], seed_len[s]);
        size_t n = mutate(p, seed_len[s]);
        LLVMFuzzerTestOneInput(p, n);
    }
    if (lwt_live_count()) {
        fprintf(stderr, "fuzz_http_replay: %zu promises left alive\n", lwt_live_count());
        return 1;
    }
    printf("fuzz_http_replay: %u seeds, %u mutations\n", nseeds, count);
    return 0;
}
