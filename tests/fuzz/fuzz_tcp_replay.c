/* A driver for fuzz_tcp.c without libFuzzer, so the harness also runs in
 * every ordinary build (and under valgrind). It feeds the files named on
 * the command line, or else every file in tests/fuzz/regressions, each on
 * a fresh stack and followed by a drain; then a fixed-seed stream of inputs
 * built the way the harness reads them (mostly plausible segments and
 * application calls, some of them mangled). Along the way TCP's memory and
 * connection counts must stay bounded; at the end every connection must
 * end on its own, and nothing may be left alive. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwt.h"
#include "net_buf.h"
#include "tcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void fuzz_tcp_finish(void);
void fuzz_tcp_drain(void);
void fuzz_tcp_counts(size_t *memory, unsigned *conns, unsigned *setup_failures);

/* Far more than the harness's few connections and their orphans need. */
#define MEMORY_CAP (64u * 1024 * 1024)

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* True with probability pct/100. */
static bool chance(unsigned pct)
{
    return next() % 100 < pct;
}

struct out {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct out *o, uint32_t b)
{
    if (o->n < o->cap)
        o->p[o->n++] = (uint8_t)b;
}

static void put16(struct out *o, uint32_t v)
{
    put(o, v >> 8);
    put(o, v);
}

/* Mostly the fixed connections, sometimes the others. */
static void gen_target(struct out *o)
{
    unsigned r = next() % 100;
    if (r < 70)
        put(o, (next() % 2) << 2); /* slot 0 or 1 */
    else if (r < 78)
        put(o, (2 + next() % 2) << 2); /* slot 2 or 3 */
    else if (r < 86)
        put(o, 1 | (next() % 16) << 2); /* any flow */
    else if (r < 96)
        put(o, 2 | (next() % 4) << 2); /* a new peer */
    else
        put(o, 3 | (next() % 4) << 2); /* a closed port */
}

static void gen_segment(struct out *o)
{
    unsigned op = next() % 4;
    op |= chance(20) ? 0x08 : 0;
    op |= chance(3) ? 0x10 : 0;
    op |= chance(3) ? 0x20 : 0;
    op |= chance(3) ? 0x40 : 0;
    op |= chance(30) ? 0x80 : 0;
    put(o, op);
    gen_target(o);
    static const uint8_t flags[] = {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x18, 0x18,
                                    0x18, 0x11, 0x11, 0x19, 0x04, 0x14, 0x02, 0x02, 0x12, 0x12};
    put(o, chance(85) ? flags[next() % sizeof flags] : next());
    unsigned r = next() % 100;
    put16(o, r < 70 ? 0 : r < 85 ? (uint32_t)((int)(next() % 6001) - 3000) : next());
    r = next() % 100;
    put16(o, r < 60 ? 0 : r < 85 ? (uint32_t) - (int)(next() % 3001) : next());
    r = next() % 100;
    put16(o, r < 50 ? 0xffff : r < 65 ? 0 : r < 80 ? next() % 2048 : next());
    unsigned m = chance(50) ? 0 : chance(50) ? 0x08 : next() & 0xff;
    put(o, m);
    if (m & 0x01)
        put16(o, chance(80) ? 536 + next() % 1000 : next() % 64);
    if (m & 0x02)
        put(o, next() % 16);
    if (m & 0x08)
        put(o, chance(80) ? next() % 8 : next());
    if (m & 0x10) {
        unsigned b = next();
        put(o, b);
        for (unsigned k = 0; k < (b & 3) + 1; k++)
            put16(o, next());
    }
    if (m & 0x20) {
        unsigned n = next() % 16;
        put(o, n);
        for (unsigned k = 0; k < n; k++)
            put(o, chance(30) ? next() % 9 : next());
    }
    if (m & 0x80)
        put(o, next());
    r = next() % 100;
    put(o, r < 40 ? 0 : r < 80 ? next() % 128 : next());
}

static void gen_app(struct out *o)
{
    static const uint8_t actions[] = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6, 7, 8, 9, 10, 11};
    put(o, 6 | (next() & 0xf8));
    put(o, next() % 4);
    put(o, chance(1) ? 12 : actions[next() % sizeof actions]);
    put(o, next());
}

static size_t gen_input(uint8_t *p, size_t cap)
{
    struct out o = {p, 0, cap};
    unsigned ops = 1 + next() % 24;
    for (unsigned i = 0; i < ops; i++) {
        unsigned r = next() % 100;
        if (r < 55) {
            gen_segment(&o);
        } else if (r < 63) {
            put(&o, 4 | (next() & 0xf8));
            gen_target(&o);
            put(&o, next());
            put(&o, chance(25) ? 0 : next());
        } else if (r < 66) {
            put(&o, 5 | 0x08 | (chance(3) ? 0x10 : 0) | (next() & 0xe0));
            put(&o, next());
        } else if (r < 73) {
            put(&o, 5 | (next() & 0xe0));
            unsigned c = next() % 100;
            put(&o, c < 60 ? next() % 100 : c < 90 ? 100 + next() % 100 : 200 + next() % 56);
        } else {
            gen_app(&o);
        }
    }
    /* Now and then a few bytes mangled. */
    if (o.n && chance(10))
        for (unsigned m = 1 + next() % 4; m-- > 0;)
            p[next() % o.n] = (uint8_t)next();
    return o.n;
}

static void feed_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz_tcp_replay: cannot open %s\n", path);
        exit(1);
    }
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    /* Each on a fresh stack, as when libFuzzer reproduces it. */
    LLVMFuzzerTestOneInput(buf, n);
    fuzz_tcp_drain();
    fuzz_tcp_finish();
    if (lwt_live_count() || net_buf_live_count()) {
        fprintf(stderr, "fuzz_tcp_replay: %s: %zu promises and %zu buffers left alive\n", path, lwt_live_count(),
                net_buf_live_count());
        exit(1);
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file in dir, in name order. */
static unsigned feed_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[1024];
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 1024;)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], by_name);
    for (unsigned i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        feed_file(path);
        free(names[i]);
    }
    return n;
}

static void check_counts(unsigned input)
{
    size_t memory;
    unsigned conns, failures;
    fuzz_tcp_counts(&memory, &conns, &failures);
    if (memory > MEMORY_CAP || conns > TCP_MAX_CONNS) {
        fprintf(stderr, "fuzz_tcp_replay: input %u: %zu bytes in %u connections\n", input, memory, conns);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    unsigned files = 0;
    for (int i = 1; i < argc; i++, files++)
        feed_file(argv[i]);
#ifdef FUZZ_TCP_REGRESSIONS
    if (argc == 1)
        files += feed_dir(FUZZ_TCP_REGRESSIONS);
#endif
    const char *vg = getenv("TESSERA_UNDER_VALGRIND");
    unsigned count = vg && *vg == '1' ? 3000 : 50000;
    if (getenv("FUZZ_TCP_INPUTS"))
        count = (unsigned)strtoul(getenv("FUZZ_TCP_INPUTS"), NULL, 0);
    static uint8_t p[4096];
    size_t max_memory = 0;
    unsigned max_conns = 0;
    /* FUZZ_TCP_SAVE=file keeps the input being fed there, so that the one
     * that fails can become a regression input. */
    const char *save = getenv("FUZZ_TCP_SAVE");
    for (unsigned i = 0; i < count; i++) {
        size_t n = gen_input(p, sizeof p);
        if (save) {
            FILE *fp = fopen(save, "wb");
            if (fp) {
                fwrite(p, 1, n, fp);
                fclose(fp);
            }
        }
        LLVMFuzzerTestOneInput(p, n);
        check_counts(i);
        if (i == count / 2) {
            /* Halfway, the stack goes away under everything that is open
             * and pending; then the stream goes on with a new one. */
            fuzz_tcp_finish();
            if (lwt_live_count() || net_buf_live_count()) {
                fprintf(stderr, "fuzz_tcp_replay: %zu promises and %zu buffers left alive by net_stack_free\n",
                        lwt_live_count(), net_buf_live_count());
                return 1;
            }
        }
        size_t memory;
        unsigned conns, failures;
        fuzz_tcp_counts(&memory, &conns, &failures);
        max_memory = memory > max_memory ? memory : max_memory;
        max_conns = conns > max_conns ? conns : max_conns;
    }
    unsigned failures;
    {
        size_t memory;
        unsigned conns;
        fuzz_tcp_counts(&memory, &conns, &failures);
    }
    fuzz_tcp_drain();
    fuzz_tcp_finish();
    if (lwt_live_count() || net_buf_live_count()) {
        fprintf(stderr, "fuzz_tcp_replay: %zu promises and %zu buffers left alive\n", lwt_live_count(),
                net_buf_live_count());
        return 1;
    }
    printf("fuzz_tcp_replay: %u inputs (%u from files), at most %u connections and %zu bytes; %u set-ups failed; "
           "nothing left alive\n",
           count + files, files, max_conns, max_memory, failures);
    return 0;
}
