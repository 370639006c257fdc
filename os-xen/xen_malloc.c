/* malloc and free for everything that runs on Xen: boundary tags with
 * segregated free lists, on the one heap xen_mm grows upward.
 *
 * A chunk is a 16-byte header (the previous chunk's size, valid only when
 * that one is free; this chunk's size with bit 0 set when the previous one
 * is in use and, while the chunk is allocated, a tag derived from its
 * address in the top bits) and its payload; a free chunk links into its
 * bin through its payload. Sizes under 1 KiB have a bin each (16-byte
 * steps), larger ones a bin per power of two; a bitmap finds the first
 * non-empty bin. The top chunk is the free space at the heap's end; it
 * grows in 64 KiB steps.
 *
 * Running out of memory is not an error the system could recover from
 * half-way (DESIGN.md §6 bounds what peers can make us allocate): it stops
 * the domain with a message saying how much was asked and what was in use.
 * A free of something that is not an allocated block stops it too, rather
 * than corrupt the heap. The tag is what tells an allocated chunk's header
 * from the same 16 bytes inside someone's block, which may hold anything
 * (all ones, a small number repeated): such a word passes for a header
 * only by a 1 in 2^15 chance.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xen_arch.h"
#include "xen_mm.h"

struct chunk {
    size_t prev_size;
    size_t head; /* tag | size | PREV_INUSE */
    /* Free chunks only: */
    struct chunk *next, *prev;
};

#define PREV_INUSE 1ul
#define SIZE_MASK  0x0000fffffffffff0ul /* sizes are multiples of 16, below 2^48 */
#define TAG_SHIFT  48
#define HEADER     16ul
#define MIN_CHUNK  32ul
#define SMALL_BINS 64 /* sizes 0..1008 by 16 */
#define NBINS      (SMALL_BINS + 48)
#define GROW_STEP  (64ul * 1024)

static struct {
    struct chunk *bins[NBINS];
    uint64_t bitmap[(NBINS + 63) / 64];
    struct chunk *top; /* NULL before the first allocation */
    uintptr_t heap_start;
    size_t in_use; /* bytes in allocated chunks, headers included */
} H;

static inline size_t chunk_size(const struct chunk *c)
{
    return c->head & SIZE_MASK;
}

/* The tag of an allocated chunk at c: 15 bits, never 0 nor all ones. */
static inline size_t tag_of(const struct chunk *c)
{
    uint64_t h = ((uint64_t)(uintptr_t)c >> 4) * 0x9e3779b97f4a7c15ull;
    return (size_t)(1 + (h >> 49) % 0x7ffe) << TAG_SHIFT;
}

static inline struct chunk *chunk_at(uintptr_t addr)
{
    return (struct chunk *)addr;
}

static inline struct chunk *next_chunk(const struct chunk *c)
{
    return chunk_at((uintptr_t)c + chunk_size(c));
}

static unsigned bin_index(size_t size)
{
    if (size < SMALL_BINS * 16)
        return (unsigned)(size / 16);
    unsigned log2 = 63u - (unsigned)__builtin_clzl(size);
    unsigned i = SMALL_BINS + (log2 - 10);
    return i < NBINS ? i : NBINS - 1;
}

static void bin_insert(struct chunk *c)
{
    unsigned i = bin_index(chunk_size(c));
    c->prev = NULL;
    c->next = H.bins[i];
    if (c->next)
        c->next->prev = c;
    H.bins[i] = c;
    H.bitmap[i / 64] |= 1ull << (i % 64);
}

static void bin_unlink(struct chunk *c)
{
    unsigned i = bin_index(chunk_size(c));
    if (c->prev)
        c->prev->next = c->next;
    else
        H.bins[i] = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (!H.bins[i])
        H.bitmap[i / 64] &= ~(1ull << (i % 64));
}

/* Marks c in use: the next chunk's PREV_INUSE. */
static void set_in_use(struct chunk *c)
{
    next_chunk(c)->head |= PREV_INUSE;
}

/* Splits c (free, unlinked) to `size`, binning the rest. */
static void split(struct chunk *c, size_t size)
{
    size_t total = chunk_size(c);
    if (total - size < MIN_CHUNK)
        return;
    c->head = size | (c->head & PREV_INUSE);
    struct chunk *rest = next_chunk(c);
    rest->head = (total - size) | PREV_INUSE;
    next_chunk(rest)->prev_size = total - size;
    next_chunk(rest)->head &= ~PREV_INUSE;
    bin_insert(rest);
}

static struct chunk *take_from_bins(size_t size)
{
    unsigned i = bin_index(size);
    /* The own bin first: exact for small sizes, first fit for large. */
    for (struct chunk *c = H.bins[i]; c; c = c->next)
        if (chunk_size(c) >= size) {
            bin_unlink(c);
            return c;
        }
    /* Then any chunk of a larger bin fits. */
    for (unsigned w = (i + 1) / 64; w < sizeof H.bitmap / sizeof H.bitmap[0]; w++) {
        uint64_t bits = H.bitmap[w];
        if (w == (i + 1) / 64)
            bits &= ~0ull << ((i + 1) % 64);
        if (bits) {
            struct chunk *c = H.bins[w * 64 + (unsigned)__builtin_ctzll(bits)];
            bin_unlink(c);
            return c;
        }
    }
    return NULL;
}

__attribute__((noreturn)) static void out_of_memory(size_t request)
{
    char msg[160];
    snprintf(msg, sizeof msg, "out of memory: malloc(%zu) failed with %zu KiB allocated; %zu of %zu pages free",
             request, H.in_use / 1024, xen_mm_free_pages(), xen_mm_total_pages());
    xen_crash(msg);
}

/* Makes the top chunk at least `size` bytes plus room for the end marker. */
static bool grow_top(size_t size)
{
    size_t want = (size + HEADER + GROW_STEP - 1) & ~(GROW_STEP - 1);
    if (!H.top) {
        void *start = xen_heap_grow(want);
        if (!start)
            return false;
        H.heap_start = (uintptr_t)start;
        H.top = start;
        H.top->prev_size = 0;
        H.top->head = (want - HEADER) | PREV_INUSE;
        return true;
    }
    if (chunk_size(H.top) >= size + HEADER)
        return true;
    if (!xen_heap_grow(want))
        return false;
    H.top->head += want;
    return true;
}

void *malloc(size_t n)
{
    if (n > (1ul << 40))
        out_of_memory(n);
    size_t size = (n + HEADER + 15) & ~15ul;
    if (size < MIN_CHUNK)
        size = MIN_CHUNK;
    struct chunk *c = take_from_bins(size);
    if (c) {
        split(c, size);
        set_in_use(c);
    } else {
        if (!grow_top(size))
            out_of_memory(n);
        c = H.top;
        size_t total = chunk_size(c);
        c->head = size | (c->head & PREV_INUSE);
        H.top = next_chunk(c);
        H.top->head = (total - size) | PREV_INUSE;
    }
    H.in_use += chunk_size(c);
    c->head |= tag_of(c);
    return (char *)c + HEADER;
}

/* Not in the C subset, but gcc turns malloc followed by a zeroing memset
 * into calloc in code compiled for a hosted system, which the portable
 * libraries are. */
void *calloc(size_t count, size_t size);
void *calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        out_of_memory(SIZE_MAX);
    void *p = malloc(count * size);
    memset(p, 0, count * size);
    return p;
}

void free(void *p)
{
    if (!p)
        return;
    struct chunk *c = chunk_at((uintptr_t)p - HEADER);
    uintptr_t top = (uintptr_t)H.top;
    /* Beyond the tag (and the bits that must be clear), the size is
     * compared by subtraction: a lying one could make an addition wrap. */
    if (((uintptr_t)p & 15) || (uintptr_t)c < H.heap_start || (uintptr_t)c >= top ||
        (c->head & ~(SIZE_MASK | PREV_INUSE)) != tag_of(c) || chunk_size(c) < MIN_CHUNK ||
        chunk_size(c) > top - (uintptr_t)c || !(next_chunk(c)->head & PREV_INUSE))
        xen_crash("free() of a pointer that is not an allocated block");
    c->head &= SIZE_MASK | PREV_INUSE; /* a second free of it finds no tag */
    size_t size = chunk_size(c);
    H.in_use -= size;
    struct chunk *next = next_chunk(c);
    if (!(c->head & PREV_INUSE)) {
        struct chunk *prev = chunk_at((uintptr_t)c - c->prev_size);
        bin_unlink(prev);
        size += chunk_size(prev);
        prev->head = size | (prev->head & PREV_INUSE);
        c = prev;
    }
    if (next == H.top) {
        c->head = (size + chunk_size(next)) | (c->head & PREV_INUSE);
        H.top = c;
        return;
    }
    if (!(next_chunk(next)->head & PREV_INUSE)) {
        bin_unlink(next);
        size += chunk_size(next);
        c->head = size | (c->head & PREV_INUSE);
    }
    next = next_chunk(c);
    next->prev_size = size;
    next->head &= ~PREV_INUSE;
    bin_insert(c);
}
