/* os-xen/xen_malloc.c (linked as xt_malloc, xt_free) over a fixed arena
 * standing in for xen_mm's heap: a long random stress with every block's
 * contents and placement checked, coalescing, and the ways it must stop
 * the domain (out of memory, double free, freeing what malloc never
 * returned), which here are xen_crash jumping back into the test.
 *
 * The allocator's state lives for the whole process, so the tests share
 * one heap; each leaves it empty, and the teardown checks that an empty
 * heap is again one free block.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libc_test.h"
#include "xen_arch.h"
#include "xen_mm.h"
#include "xt_libc.h"

#define ARENA_SIZE (64ul << 20)
#define HEADER     16 /* a chunk's header, before the pointer malloc returns */

/* xen_mm's heap: contiguous, growing upward from a page boundary. */
static _Alignas(4096) unsigned char arena[ARENA_SIZE];
static size_t grown;                   /* bytes handed out */
static size_t grow_limit = ARENA_SIZE; /* what xen_heap_grow may hand out */
static unsigned long grow_calls;       /* successful ones */
static bool grow_contract_broken;      /* asked for a size not a multiple of 16 */

void *xen_heap_grow(size_t bytes)
{
    if (bytes % 16)
        grow_contract_broken = true;
    if (bytes > grow_limit - grown)
        return NULL;
    void *start = arena + grown;
    grown += bytes;
    grow_calls++;
    return start;
}

size_t xen_mm_total_pages(void)
{
    return ARENA_SIZE / 4096;
}

size_t xen_mm_free_pages(void)
{
    return (ARENA_SIZE - grown) / 4096;
}

/* xen_crash never returns: here it jumps back to the EXPECT_CRASH that
 * armed it, with the message kept. */
static jmp_buf crash_env;
static bool crash_armed;
static char crash_msg[512];
static char crash_case[128]; /* what a loop around EXPECT_CRASH is on, for messages */

void xen_crash(const char *msg)
{
    snprintf(crash_msg, sizeof crash_msg, "%s", msg);
    if (!crash_armed) {
        fprintf(stderr, "unexpected xen_crash: %s\n", msg);
        abort();
    }
    crash_armed = false;
    longjmp(crash_env, 1);
}

/* Runs stmt, which must end in xen_crash with a message containing needle. */
#define EXPECT_CRASH(stmt, needle)                                                                                     \
    do {                                                                                                               \
        crash_msg[0] = 0;                                                                                              \
        if (setjmp(crash_env) == 0) {                                                                                  \
            crash_armed = true;                                                                                        \
            stmt;                                                                                                      \
            crash_armed = false;                                                                                       \
            fail_msg("%s:%d: %s returned instead of stopping %s", __FILE__, __LINE__, #stmt, crash_case);              \
        }                                                                                                              \
        if (!strstr(crash_msg, needle))                                                                                \
            fail_msg("%s:%d: %s stopped with \"%s\", not naming \"%s\" %s", __FILE__, __LINE__, #stmt, crash_msg,      \
                     needle, crash_case);                                                                              \
    } while (0)

#define BAD_FREE "free() of a pointer that is not an allocated block"

static void *must_malloc(size_t n)
{
    void *p = xt_malloc(n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_true((unsigned char *)p >= arena + HEADER && (unsigned char *)p + n <= arena + grown);
    return p;
}

/* Everything freed: the heap is one free block again, so a block nearly
 * as large as all the heap grown so far fits without growing it. */
static void assert_heap_is_one_block(void)
{
    if (!grown)
        return;
    unsigned long calls = grow_calls;
    size_t n = grown - 4 * HEADER;
    void *p = must_malloc(n);
    assert_ptr_equal(p, arena + HEADER);
    assert_int_equal(grow_calls, calls);
    xt_free(p);
}

static int setup(void **state)
{
    (void)state;
    grow_limit = ARENA_SIZE;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    grow_limit = ARENA_SIZE;
    assert_false(grow_contract_broken);
    assert_heap_is_one_block();
    return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* First in main(): nothing has been allocated in this process yet. */
static void first_growth_refused_is_out_of_memory(void **state)
{
    (void)state;
    assert_int_equal(grown, 0);
    grow_limit = 0;
    EXPECT_CRASH(xt_malloc(100), "malloc(100)");
    EXPECT_CRASH(xt_malloc(100), "out of memory");
    grow_limit = ARENA_SIZE;
    void *p = must_malloc(100);
    xt_free(p);
}

static void free_null_does_nothing(void **state)
{
    (void)state;
    unsigned long calls = grow_calls;
    xt_free(NULL);
    assert_int_equal(grow_calls, calls);
}

static void malloc_zero_gives_unique_freeable_pointers(void **state)
{
    (void)state;
    enum { N = 200 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = must_malloc(i % 2 ? 0 : 1);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(p[i], p[j]);
    }
    for (int i = 0; i < N; i += 2)
        xt_free(p[i]);
    for (int i = 1; i < N; i += 2)
        xt_free(p[i]);
}

static void every_small_size_is_aligned_and_usable(void **state)
{
    (void)state;
    enum { N = 1100 };
    static unsigned char *p[N];
    for (size_t n = 0; n < N; n++) {
        p[n] = must_malloc(n);
        memset(p[n], (int)n, n);
    }
    for (size_t n = 0; n < N; n++) {
        for (size_t i = 0; i < n; i++)
            if (p[n][i] != (unsigned char)n)
                fail_msg("block of %zu: byte %zu overwritten", n, i);
        xt_free(p[n]);
    }
}

/* The stress test's blocks. Each is filled with a pattern derived from its
 * own start (so blocks that overlapped would not write the same bytes into
 * the overlap) and kept in a list sorted by address. */
struct block {
    unsigned char *p;
    size_t n;
};

static uint64_t pattern_word(const unsigned char *start, size_t k)
{
    uint64_t x = ((uint64_t)(uintptr_t)start ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    return x ^ (k * 0x94d049bb133111ebull + k);
}

static void fill(const struct block *b)
{
    size_t words = b->n / 8;
    for (size_t k = 0; k < words; k++) {
        uint64_t w = pattern_word(b->p, k);
        memcpy(b->p + 8 * k, &w, 8);
    }
    uint64_t w = pattern_word(b->p, words);
    memcpy(b->p + 8 * words, &w, b->n % 8);
}

static void check(const struct block *b, const char *when)
{
    size_t words = b->n / 8;
    for (size_t k = 0; k <= words; k++) {
        uint64_t w = pattern_word(b->p, k);
        size_t len = k < words ? 8 : b->n % 8;
        if (memcmp(b->p + 8 * k, &w, len) != 0)
            fail_msg("%s: block %p of %zu bytes changed near byte %zu", when, (void *)b->p, b->n, 8 * k);
    }
}

/* Index of the first block at or above p. */
static size_t lower_bound(const struct block *v, size_t count, const unsigned char *p)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].p < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sizes 0 to 200 KiB, most of them small. */
static size_t random_size(uint64_t *rng)
{
    unsigned r = (unsigned)rng_below(rng, 100);
    size_t max = r < 60 ? 128 : r < 85 ? 1024 : r < 97 ? 16384 : 200 * 1024;
    return (size_t)rng_below(rng, max + 1);
}

static void random_stress_keeps_blocks_apart_and_intact(void **state)
{
    (void)state;
    enum { MAX_LIVE = 5000 };
    struct block *live = calloc(MAX_LIVE, sizeof *live);
    assert_non_null(live);
    size_t count = 0, most = 0;
    uint64_t rng = 0xa110c;
    size_t ops = scaled(250000, 12000), target = MAX_LIVE / 2;
    for (size_t op = 0; op < ops; op++) {
        if (op % 8000 == 0)
            target = (size_t)rng_below(&rng, MAX_LIVE);
        bool grow = count == 0 || (count < MAX_LIVE && rng_below(&rng, 10) < (count < target ? 6u : 4u));
        if (grow) {
            struct block b = {NULL, random_size(&rng)};
            b.p = must_malloc(b.n);
            size_t at = lower_bound(live, count, b.p);
            /* Apart from its neighbours, headers included. */
            if (at > 0 && live[at - 1].p + live[at - 1].n + HEADER > b.p)
                fail_msg("op %zu: malloc(%zu) = %p overlaps %p (%zu bytes)", op, b.n, (void *)b.p,
                         (void *)live[at - 1].p, live[at - 1].n);
            if (at < count && b.p + (b.n ? b.n : 1) + HEADER > live[at].p)
                fail_msg("op %zu: malloc(%zu) = %p overlaps %p (%zu bytes)", op, b.n, (void *)b.p, (void *)live[at].p,
                         live[at].n);
            for (size_t i = count; i > at; i--) /* not memmove: ASan's is a byte loop */
                live[i] = live[i - 1];
            live[at] = b;
            count++;
            fill(&b);
        } else {
            size_t at = (size_t)rng_below(&rng, count);
            check(&live[at], "before free");
            xt_free(live[at].p);
            for (size_t i = at; i + 1 < count; i++)
                live[i] = live[i + 1];
            count--;
        }
        if (count > most)
            most = count;
        if (op % 20000 == 0)
            for (size_t i = 0; i < count; i++)
                check(&live[i], "sweep");
    }
    /* Thousands of blocks were live at once. */
    assert_true(most >= (size_t)scaled(3000, 1000));
    while (count) {
        size_t at = (size_t)rng_below(&rng, count);
        check(&live[at], "at the end");
        xt_free(live[at].p);
        live[at] = live[--count];
    }
    free(live);
}

/* Freed neighbours merge: a run of freed blocks serves one request as
 * large as the run, from where the run starts, without growing the heap. */
static void freed_neighbours_coalesce(void **state)
{
    (void)state;
    static const size_t sizes[][3] = {{40, 100, 24}, {1000, 3000, 500}, {70000, 20, 130000}, {0, 0, 0}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (int order = 0; order < 6; order++) {
            unsigned char *p[3];
            for (int i = 0; i < 3; i++)
                p[i] = must_malloc(sizes[k][i]);
            unsigned char *fence = must_malloc(8); /* keeps the run from the top */
            static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
            for (int i = 0; i < 3; i++)
                xt_free(p[orders[order][i]]);
            unsigned long calls = grow_calls;
            size_t run = (size_t)(fence - p[0]);
            unsigned char *q = must_malloc(run - HEADER);
            assert_ptr_equal(q, p[0]);
            assert_int_equal(grow_calls, calls);
            xt_free(q);
            xt_free(fence);
        }
}

static void double_free_stops(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 24, 100, 1000, 5000, 300000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        /* Freed into a bin. */
        unsigned char *a = must_malloc(n), *b = must_malloc(n), *c = must_malloc(n), *d = must_malloc(n);
        xt_free(a);
        EXPECT_CRASH(xt_free(a), BAD_FREE);
        /* Merged into the free block before it. */
        xt_free(b);
        EXPECT_CRASH(xt_free(b), BAD_FREE);
        EXPECT_CRASH(xt_free(a), BAD_FREE);
        /* Merged into the top. */
        xt_free(d);
        EXPECT_CRASH(xt_free(d), BAD_FREE);
        /* Merged into the free block before it, and both into the top. */
        xt_free(c);
        EXPECT_CRASH(xt_free(c), BAD_FREE);
        EXPECT_CRASH(xt_free(b), BAD_FREE);
        /* With the block after it freed first. */
        a = must_malloc(n);
        b = must_malloc(n);
        c = must_malloc(n);
        xt_free(b);
        xt_free(a);
        EXPECT_CRASH(xt_free(a), BAD_FREE);
        EXPECT_CRASH(xt_free(b), BAD_FREE);
        xt_free(c);
    }
}

/* Pointers malloc never returned: elsewhere in memory, misaligned, inside
 * a block (whatever the block holds), inside free space. The heap must
 * come through untouched: the blocks around keep their contents. */
static void foreign_free_stops(void **state)
{
    (void)state;
    uint64_t rng = 0xf0e1;
    _Alignas(16) unsigned char on_stack[64];
    static _Alignas(16) unsigned char in_data[64];
    unsigned char *from_glibc = malloc(64);
    assert_non_null(from_glibc);
    EXPECT_CRASH(xt_free(on_stack + 16), BAD_FREE);
    EXPECT_CRASH(xt_free(in_data + 16), BAD_FREE);
    EXPECT_CRASH(xt_free(from_glibc), BAD_FREE);
    free(from_glibc);

    struct block before = {NULL, 64}, b = {NULL, 4096}, after = {NULL, 64};
    before.p = must_malloc(before.n);
    b.p = must_malloc(b.n);
    after.p = must_malloc(after.n);
    fill(&before);
    fill(&after);
    /* Misaligned, into the heap's unused end, past it, at its start. */
    for (size_t off = 1; off < 16; off++)
        EXPECT_CRASH(xt_free(b.p + off), BAD_FREE);
    EXPECT_CRASH(xt_free(after.p + 256), BAD_FREE);
    EXPECT_CRASH(xt_free(arena + grown + HEADER), BAD_FREE);
    EXPECT_CRASH(xt_free(arena), BAD_FREE);
    /* Inside a block, whatever it holds: zeros, all ones, words that
     * could pass for a size (the same small number over and over, or
     * counting up), random bytes. */
    static const uint64_t repeated[] = {0, UINT64_MAX, 33, 49, 0x81, 0x4001};
    enum { REPEATED = sizeof repeated / sizeof repeated[0], COUNTING = REPEATED + 64 };
    for (int content = 0; content < COUNTING + (int)scaled(50, 5); content++) {
        for (size_t k = 0; k < b.n / 8; k++) {
            uint64_t w = content < REPEATED   ? repeated[content]
                         : content < COUNTING ? (uint64_t)(content - REPEATED) + k
                                              : rng_next(&rng);
            memcpy(b.p + 8 * k, &w, 8);
        }
        for (size_t off = 16; off < b.n; off += 16) {
            snprintf(crash_case, sizeof crash_case, "(content %d, offset %zu)", content, off);
            EXPECT_CRASH(xt_free(b.p + off), BAD_FREE);
        }
    }
    /* Inside a free block (which holds the allocator's links). */
    xt_free(b.p);
    for (size_t off = 16; off < b.n; off += 16) {
        snprintf(crash_case, sizeof crash_case, "(in a free block, offset %zu)", off);
        EXPECT_CRASH(xt_free(b.p + off), BAD_FREE);
    }
    crash_case[0] = 0;
    check(&before, "after the bad frees");
    check(&after, "after the bad frees");
    xt_free(before.p);
    xt_free(after.p);
}

/* Mallocs a MiB at a time until it stops the domain. Static, since they
 * change between setjmp and longjmp. */
enum { MIB = 1 << 20, MAX_MIBS = ARENA_SIZE / MIB };
static struct block mibs[MAX_MIBS];
static size_t mib_count;

static void malloc_mibs_forever(void)
{
    for (;;) {
        assert_true(mib_count < MAX_MIBS);
        mibs[mib_count].n = MIB;
        mibs[mib_count].p = must_malloc(MIB);
        fill(&mibs[mib_count++]);
    }
}

static void out_of_memory_names_the_request(void **state)
{
    (void)state;
    char want[64];
    /* Beyond what the platform will give. */
    void *keep = must_malloc(1000);
    grow_limit = grown;
    size_t big = ARENA_SIZE + 12345;
    snprintf(want, sizeof want, "malloc(%zu)", big);
    EXPECT_CRASH(xt_malloc(big), want);
    snprintf(want, sizeof want, "malloc(%zu)", (size_t)SIZE_MAX);
    EXPECT_CRASH(xt_malloc(SIZE_MAX), want);
    EXPECT_CRASH(xt_malloc(SIZE_MAX / 2), "out of memory");
    grow_limit = ARENA_SIZE;
    xt_free(keep);

    /* Filled up a MiB at a time: the request that does not fit stops it,
     * once nearly all there is has been used, and everything allocated
     * before is intact and freeable. */
    mib_count = 0;
    grow_limit = grown + 8 * MIB < ARENA_SIZE ? grown + 8 * MIB : ARENA_SIZE;
    snprintf(want, sizeof want, "malloc(%d)", MIB);
    EXPECT_CRASH(malloc_mibs_forever(), want);
    assert_true(grow_limit - grown < 2 * MIB);
    assert_true(mib_count * MIB + 2 * MIB > grown);
    grow_limit = ARENA_SIZE;
    for (size_t i = 0; i < mib_count; i++) {
        check(&mibs[i], "after running out");
        xt_free(mibs[i].p);
    }
}

/* The stress again, after all the stopped calls above. */
static void heap_still_sound_after_the_stops(void **state)
{
    random_stress_keeps_blocks_apart_and_intact(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(first_growth_refused_is_out_of_memory),
        T(free_null_does_nothing),
        T(malloc_zero_gives_unique_freeable_pointers),
        T(every_small_size_is_aligned_and_usable),
        T(random_stress_keeps_blocks_apart_and_intact),
        T(freed_neighbours_coalesce),
        T(double_free_stops),
        T(foreign_free_stops),
        T(out_of_memory_names_the_request),
        T(heap_still_sound_after_the_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
