/* What the tests of os-xen/'s C library share: a small seeded generator
 * (the runs are reproducible; a failure prints the case it was on) and the
 * loop scale, smaller under valgrind so that the memcheck rerun stays
 * within minutes.
 */
#ifndef TESSERA_TESTS_LIBC_TEST_H
#define TESSERA_TESTS_LIBC_TEST_H

#include <stdint.h>
#include <stdlib.h>

/* xorshift64*: plenty for test inputs, and the same on every platform. */
static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

/* Uniform enough in [0, n) for n much smaller than 2^64. */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static inline size_t scaled(size_t full, size_t under_valgrind)
{
    const char *v = getenv("TESSERA_UNDER_VALGRIND");
    return v && *v == '1' ? under_valgrind : full;
}

#endif
