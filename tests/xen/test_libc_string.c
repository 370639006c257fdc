/* os-xen/xen_string.c (linked as xt_*) against glibc: every alignment and
 * every length to well past the word loops, random contents full of bytes
 * >= 0x80 (comparisons are of unsigned chars), overlapping moves in both
 * directions. Writes are checked over the whole surrounding buffer, so a
 * byte written outside the range shows; inputs that are only read sit in
 * allocations of their exact size, so that valgrind and ASan see any read
 * past them.
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
#include "xt_libc.h"

#define ALIGNS 16 /* every offset within the 8-byte words, and then some */
#define MAXLEN 80 /* lengths 0..MAXLEN: head, words and tail in every mix */
#define GUARD  32 /* bytes either side of a destination that must not change */

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void fill_random(uint64_t *rng, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rng_next(rng);
}

/* Random bytes none of which is NUL. */
static void fill_nonzero(uint64_t *rng, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(1 + rng_below(rng, 255));
}

static size_t first_difference(const unsigned char *a, const unsigned char *b, size_t n)
{
    size_t i = 0;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* One memcpy or memmove (non-overlapping) of n bytes from an exact-size
 * source at offset so to dst offset d, by glibc and by xt, compared over
 * the whole destination area. */
static void copy_case(uint64_t *rng, bool move, size_t n, size_t so, size_t d)
{
    size_t area = GUARD + d + n + GUARD;
    unsigned char *src = malloc(so + n);
    unsigned char *ref = malloc(area), *got = malloc(area);
    assert_non_null(src);
    assert_non_null(ref);
    assert_non_null(got);
    fill_random(rng, src, so + n);
    fill_random(rng, ref, area);
    memcpy(got, ref, area);
    void *r = move ? xt_memmove(got + GUARD + d, src + so, n) : xt_memcpy(got + GUARD + d, src + so, n);
    if (move)
        memmove(ref + GUARD + d, src + so, n);
    else
        memcpy(ref + GUARD + d, src + so, n);
    if (r != got + GUARD + d)
        fail_msg("%s n=%zu src+%zu dst+%zu: returned dst%+td", move ? "memmove" : "memcpy", n, so, d,
                 (unsigned char *)r - (got + GUARD + d));
    size_t at = first_difference(ref, got, area);
    if (at != area)
        fail_msg("%s n=%zu src+%zu dst+%zu: byte %td from dst differs", move ? "memmove" : "memcpy", n, so, d,
                 (ptrdiff_t)at - (ptrdiff_t)(GUARD + d));
    free(src);
    free(ref);
    free(got);
}

static void memcpy_every_alignment_and_length(void **state)
{
    (void)state;
    uint64_t rng = 0x1234;
    for (size_t n = 0; n <= MAXLEN; n++)
        for (size_t so = 0; so < ALIGNS; so++)
            for (size_t d = 0; d < ALIGNS; d++)
                copy_case(&rng, false, n, so, d);
}

static void memmove_apart_every_alignment_and_length(void **state)
{
    (void)state;
    uint64_t rng = 0x2345;
    for (size_t n = 0; n <= MAXLEN; n++)
        for (size_t so = 0; so < ALIGNS; so++)
            for (size_t d = 0; d < ALIGNS; d++)
                copy_case(&rng, true, n, so, d);
}

static void copies_of_random_large_lengths(void **state)
{
    (void)state;
    uint64_t rng = 0x3456;
    size_t rounds = scaled(2000, 200);
    for (size_t i = 0; i < rounds; i++) {
        size_t n = (size_t)rng_below(&rng, 9000);
        size_t so = (size_t)rng_below(&rng, ALIGNS), d = (size_t)rng_below(&rng, ALIGNS);
        copy_case(&rng, i & 1, n, so, d);
    }
}

/* Source and destination inside one buffer at every pair of offsets up to
 * WINDOW apart, so the regions overlap by every amount in both directions
 * (and, further apart, not at all). */
#define WINDOW 40
static void memmove_overlapping_both_directions(void **state)
{
    (void)state;
    uint64_t rng = 0x4567;
    enum { AREA = GUARD + WINDOW + MAXLEN + GUARD };
    unsigned char ref[AREA], got[AREA];
    size_t step = scaled(1, 3); /* lengths; every offset pair either way */
    for (size_t n = 0; n <= MAXLEN; n += step)
        for (size_t s = 0; s <= WINDOW; s++)
            for (size_t d = 0; d <= WINDOW; d++) {
                fill_random(&rng, ref, AREA);
                memcpy(got, ref, AREA);
                void *r = xt_memmove(got + GUARD + d, got + GUARD + s, n);
                memmove(ref + GUARD + d, ref + GUARD + s, n);
                if (r != got + GUARD + d)
                    fail_msg("memmove n=%zu from +%zu to +%zu: wrong return", n, s, d);
                size_t at = first_difference(ref, got, AREA);
                if (at != AREA)
                    fail_msg("memmove n=%zu from +%zu to +%zu: byte %td from dst differs", n, s, d,
                             (ptrdiff_t)at - (ptrdiff_t)(GUARD + d));
            }
}

static void memmove_overlapping_large(void **state)
{
    (void)state;
    uint64_t rng = 0x5678;
    enum { AREA = 3 * 4096 };
    static unsigned char ref[AREA], got[AREA];
    size_t rounds = scaled(3000, 300);
    for (size_t i = 0; i < rounds; i++) {
        size_t s = (size_t)rng_below(&rng, AREA / 3), d = (size_t)rng_below(&rng, AREA / 3);
        size_t n = (size_t)rng_below(&rng, AREA - (s > d ? s : d));
        fill_random(&rng, ref, AREA);
        memcpy(got, ref, AREA);
        xt_memmove(got + d, got + s, n);
        memmove(ref + d, ref + s, n);
        size_t at = first_difference(ref, got, AREA);
        if (at != AREA)
            fail_msg("memmove n=%zu from %zu to %zu: byte %zu differs", n, s, d, at);
    }
}

static void memset_every_alignment_length_and_value(void **state)
{
    (void)state;
    uint64_t rng = 0x6789;
    /* Only the low byte counts, however c is passed. */
    static const int values[] = {0, 1, 0x5a, 0x7f, 0x80, 0xa5, 0xff, -1, -128, 0x1ab, 0x7fffff00, INT32_MIN};
    enum { AREA = GUARD + ALIGNS + MAXLEN + GUARD };
    unsigned char ref[AREA], got[AREA];
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
        for (size_t n = 0; n <= MAXLEN; n++)
            for (size_t d = 0; d < ALIGNS; d++) {
                fill_random(&rng, ref, AREA);
                memcpy(got, ref, AREA);
                void *r = xt_memset(got + GUARD + d, values[v], n);
                memset(ref + GUARD + d, values[v], n);
                if (r != got + GUARD + d)
                    fail_msg("memset(+%zu, %#x, %zu): wrong return", d, values[v], n);
                size_t at = first_difference(ref, got, AREA);
                if (at != AREA)
                    fail_msg("memset(+%zu, %#x, %zu): byte %td from dst differs", d, values[v], n,
                             (ptrdiff_t)at - (ptrdiff_t)(GUARD + d));
            }
    size_t rounds = scaled(1000, 100);
    static unsigned char bref[9000 + 2 * GUARD], bgot[9000 + 2 * GUARD];
    for (size_t i = 0; i < rounds; i++) {
        size_t n = (size_t)rng_below(&rng, 9000 - ALIGNS), d = (size_t)rng_below(&rng, ALIGNS);
        int c = (int)rng_next(&rng);
        fill_random(&rng, bref, sizeof bref);
        memcpy(bgot, bref, sizeof bref);
        xt_memset(bgot + GUARD + d, c, n);
        memset(bref + GUARD + d, c, n);
        assert_int_equal(first_difference(bref, bgot, sizeof bref), sizeof bref);
    }
}

/* Two exact-size inputs that agree up to a random point, where they may
 * differ (by any byte values) and then go on at random. */
static void make_pair(uint64_t *rng, unsigned char *a, unsigned char *b, size_t n, bool nonzero)
{
    (nonzero ? fill_nonzero : fill_random)(rng, a, n);
    memcpy(b, a, n);
    if (n && rng_below(rng, 4)) {
        size_t at = (size_t)rng_below(rng, n);
        (nonzero ? fill_nonzero : fill_random)(rng, b + at, n - at);
    }
}

static void memcmp_sign_matches(void **state)
{
    (void)state;
    uint64_t rng = 0x789a;
    for (size_t n = 0; n <= MAXLEN; n++)
        for (size_t ao = 0; ao < ALIGNS; ao++)
            for (size_t bo = 0; bo < ALIGNS; bo += 3) {
                unsigned char *a = malloc(ao + n), *b = malloc(bo + n);
                assert_non_null(a);
                assert_non_null(b);
                unsigned char *pa = a + ao, *pb = b + bo;
                make_pair(&rng, pa, pb, n, false);
                /* Also a shorter compare that ends before the difference. */
                size_t m = n ? (size_t)rng_below(&rng, n + 1) : 0;
                if (sign(xt_memcmp(pa, pb, n)) != sign(memcmp(pa, pb, n)) ||
                    sign(xt_memcmp(pb, pa, n)) != sign(memcmp(pb, pa, n)) ||
                    sign(xt_memcmp(pa, pb, m)) != sign(memcmp(pa, pb, m)))
                    fail_msg("memcmp n=%zu m=%zu at +%zu +%zu: first difference at %zu", n, m, ao, bo,
                             first_difference(pa, pb, n));
                free(a);
                free(b);
            }
}

/* The values memchr and strchr are asked for: the byte itself, and the
 * same byte given as an int that is negative or above 255. */
static int char_variant(uint64_t *rng, unsigned char byte)
{
    switch (rng_below(rng, 3)) {
    case 0:
        return byte;
    case 1:
        return (int)byte - 256;
    default:
        return (int)byte + 256 * (int)(1 + rng_below(rng, 1000));
    }
}

static void memchr_matches(void **state)
{
    (void)state;
    uint64_t rng = 0x89ab;
    for (size_t n = 0; n <= MAXLEN; n++)
        for (size_t o = 0; o < ALIGNS; o++)
            for (int k = 0; k < 4; k++) {
                unsigned char *buf = malloc(o + n);
                assert_non_null(buf);
                unsigned char *p = buf + o;
                /* Few distinct values, so that a byte is often present more
                 * than once, and often absent. */
                for (size_t i = 0; i < n; i++)
                    p[i] = (unsigned char)(0x7e + rng_below(&rng, 6));
                unsigned char want = k == 0 && n ? p[rng_below(&rng, n)] : (unsigned char)(0x7c + rng_below(&rng, 10));
                int c = char_variant(&rng, want);
                void *got = xt_memchr(p, c, n), *ref = memchr(p, c, n);
                if (got != ref)
                    fail_msg("memchr(+%zu, %#x, %zu): %td instead of %td", o, c, n, got ? (unsigned char *)got - p : -1,
                             ref ? (unsigned char *)ref - p : -1);
                free(buf);
            }
}

/* An exact-size string of len random non-NUL bytes at offset o. */
static char *make_string(uint64_t *rng, size_t o, size_t len, char **base)
{
    unsigned char *buf = malloc(o + len + 1);
    assert_non_null(buf);
    fill_nonzero(rng, buf + o, len);
    buf[o + len] = 0;
    *base = (char *)buf;
    return (char *)buf + o;
}

static void strlen_and_strnlen_match(void **state)
{
    (void)state;
    uint64_t rng = 0x9abc;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t o = 0; o < ALIGNS; o++) {
            char *base, *s = make_string(&rng, o, len, &base);
            assert_int_equal(xt_strlen(s), strlen(s));
            const size_t maxes[] = {
                0, len ? len - 1 : 0, len, len + 1, len + 64, SIZE_MAX, (size_t)rng_below(&rng, MAXLEN + 1)};
            for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++)
                if (xt_strnlen(s, maxes[m]) != strnlen(s, maxes[m]))
                    fail_msg("strnlen(len %zu at +%zu, %zu) = %zu", len, o, maxes[m], xt_strnlen(s, maxes[m]));
            free(base);
        }
}

/* strnlen on an array with no NUL in its first max bytes reads only those. */
static void strnlen_reads_no_further_than_max(void **state)
{
    (void)state;
    uint64_t rng = 0xabcd;
    for (size_t max = 0; max <= MAXLEN; max++)
        for (size_t o = 0; o < ALIGNS; o++) {
            unsigned char *buf = malloc(o + max);
            assert_non_null(buf);
            fill_nonzero(&rng, buf + o, max);
            assert_int_equal(xt_strnlen((char *)buf + o, max), strnlen((char *)buf + o, max));
            free(buf);
        }
}

static void strcmp_and_strncmp_signs_match(void **state)
{
    (void)state;
    uint64_t rng = 0xbcde;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t ao = 0; ao < ALIGNS; ao++)
            for (size_t bo = 0; bo < ALIGNS; bo += 5) {
                /* b is a's prefix, or a's prefix and a different tail. */
                size_t blen = rng_below(&rng, 3) ? len : (size_t)rng_below(&rng, len + 1);
                char *abase, *a = make_string(&rng, ao, len, &abase);
                char *bbase, *b = make_string(&rng, bo, blen, &bbase);
                memcpy(b, a, blen);
                if (blen && rng_below(&rng, 4)) {
                    size_t at = (size_t)rng_below(&rng, blen);
                    fill_nonzero(&rng, (unsigned char *)b + at, blen - at);
                }
                if (sign(xt_strcmp(a, b)) != sign(strcmp(a, b)) || sign(xt_strcmp(b, a)) != sign(strcmp(b, a)) ||
                    sign(xt_strcmp(a, a)) != 0)
                    fail_msg("strcmp lengths %zu %zu at +%zu +%zu, first difference at %zu", len, blen, ao, bo,
                             first_difference((unsigned char *)a, (unsigned char *)b, blen + 1));
                size_t diff = first_difference((unsigned char *)a, (unsigned char *)b, blen + 1);
                const size_t ns[] = {
                    0, 1, diff ? diff - 1 : 0, diff, diff + 1, len + 5, SIZE_MAX, (size_t)rng_below(&rng, MAXLEN + 2)};
                for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
                    if (sign(xt_strncmp(a, b, ns[k])) != sign(strncmp(a, b, ns[k])) ||
                        sign(xt_strncmp(b, a, ns[k])) != sign(strncmp(b, a, ns[k])))
                        fail_msg("strncmp lengths %zu %zu, n %zu, first difference at %zu", len, blen, ns[k], diff);
                free(abase);
                free(bbase);
            }
}

/* strncmp of arrays without a NUL reads only the first n bytes of each. */
static void strncmp_reads_no_further_than_n(void **state)
{
    (void)state;
    uint64_t rng = 0xcdef;
    for (size_t n = 0; n <= MAXLEN; n++)
        for (size_t o = 0; o < ALIGNS; o++) {
            unsigned char *a = malloc(o + n), *b = malloc(n);
            assert_non_null(a);
            assert_non_null(b);
            make_pair(&rng, a + o, b, n, true);
            if (n && rng_below(&rng, 2))
                memcpy(b, a + o, n);
            assert_int_equal(sign(xt_strncmp((char *)a + o, (char *)b, n)), sign(strncmp((char *)a + o, (char *)b, n)));
            free(a);
            free(b);
        }
}

static void strchr_matches(void **state)
{
    (void)state;
    uint64_t rng = 0xdef0;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t o = 0; o < ALIGNS; o++)
            for (int k = 0; k < 4; k++) {
                char *base, *s = make_string(&rng, o, len, &base);
                for (size_t i = 0; i < len; i++)
                    s[i] = (char)(0x7e + rng_below(&rng, 6));
                /* A byte of the string, NUL (found at the end), or maybe absent. */
                unsigned char want = k == 0 && len ? (unsigned char)s[rng_below(&rng, len)]
                                     : k == 1      ? 0
                                                   : (unsigned char)(0x7c + rng_below(&rng, 10));
                int c = char_variant(&rng, want);
                char *got = xt_strchr(s, c), *ref = strchr(s, c);
                if (got != ref)
                    fail_msg("strchr(len %zu at +%zu, %#x): %td instead of %td", len, o, c, got ? got - s : -1,
                             ref ? ref - s : -1);
                free(base);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memcpy_every_alignment_and_length),
        cmocka_unit_test(memmove_apart_every_alignment_and_length),
        cmocka_unit_test(copies_of_random_large_lengths),
        cmocka_unit_test(memmove_overlapping_both_directions),
        cmocka_unit_test(memmove_overlapping_large),
        cmocka_unit_test(memset_every_alignment_length_and_value),
        cmocka_unit_test(memcmp_sign_matches),
        cmocka_unit_test(memchr_matches),
        cmocka_unit_test(strlen_and_strnlen_match),
        cmocka_unit_test(strnlen_reads_no_further_than_max),
        cmocka_unit_test(strcmp_and_strncmp_signs_match),
        cmocka_unit_test(strncmp_reads_no_further_than_n),
        cmocka_unit_test(strchr_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
