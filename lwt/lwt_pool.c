/* Size-class allocator for promises and callback nodes.
 *
 * Promise traffic is many small, short-lived objects of a handful of sizes;
 * a free list per 16-byte class makes allocation a pointer pop and removes
 * malloc's per-object header (a pending promise with one bind is 64 bytes).
 * Chunks are never returned, so leak checkers would see them as "still
 * reachable": the debug and sanitizer builds compile the pool out
 * (LWT_POOL=0) and hand every object to malloc, where valgrind and ASan can
 * track each one.
 *
 * Either way, objects up to 512 bytes have a class (their size rounded up to
 * 16) and larger ones carry their size in a small header, so the bytes held
 * by the library are known exactly (lwt_memory_in_use).
 */
#include <stdlib.h>

#include "lwt_internal.h"

#ifndef LWT_POOL
#define LWT_POOL 1
#endif

size_t lwt__bytes_in_use;

size_t lwt_memory_in_use(void)
{
    return lwt__bytes_in_use;
}

/* Objects too big for a class: malloc'd with their size in front. */
struct large_header {
    size_t size;
    max_align_t payload[];
};

static void *alloc_large(size_t size)
{
    struct large_header *h = malloc(sizeof *h + size);
    if (!h)
        lwt__panic("out of memory");
    h->size = size;
    lwt__bytes_in_use += size;
    return h->payload;
}

static void free_large(void *ptr)
{
    struct large_header *h = LWT__CONTAINER(ptr, struct large_header, payload);
    lwt__bytes_in_use -= h->size;
    free(h);
}

#if LWT_POOL

#define CHUNK_BYTES (64 * 1024)

struct lwt__free_slot *lwt__free_lists[LWT__CLASS_COUNT + 1];
static char *bump_next, *bump_end;

static void *carve(size_t bytes)
{
    if ((size_t)(bump_end - bump_next) < bytes) {
        /* The chunk tail that does not fit is abandoned: at most 511 bytes
         * per 64 KiB. */
        char *chunk = malloc(CHUNK_BYTES);
        if (!chunk)
            lwt__panic("out of memory (promise pool)");
        bump_next = chunk;
        bump_end = chunk + CHUNK_BYTES;
    }
    void *p = bump_next;
    bump_next += bytes;
    return p;
}

static void *alloc_class(size_t cls)
{
    struct lwt__free_slot *s = lwt__free_lists[cls];
    if (s) {
        lwt__free_lists[cls] = s->next;
        return s;
    }
    return carve(cls * LWT__CLASS_BYTES);
}

static void free_class(void *ptr, uint8_t cls)
{
    struct lwt__free_slot *s = ptr;
    s->next = lwt__free_lists[cls];
    lwt__free_lists[cls] = s;
}

#else

static void *alloc_class(size_t cls)
{
    void *p = malloc(cls * LWT__CLASS_BYTES);
    if (!p)
        lwt__panic("out of memory");
    return p;
}

static void free_class(void *ptr, uint8_t cls)
{
    (void)cls;
    free(ptr);
}

#endif

void *lwt__alloc_slow(size_t size, uint8_t *cls_out)
{
    size_t cls = (size + LWT__CLASS_BYTES - 1) / LWT__CLASS_BYTES;
    if (cls == 0 || cls > LWT__CLASS_COUNT) {
        *cls_out = 0;
        return alloc_large(size);
    }
    *cls_out = (uint8_t)cls;
    lwt__bytes_in_use += cls * LWT__CLASS_BYTES;
    return alloc_class(cls);
}

void lwt__free(void *ptr, uint8_t cls)
{
    if (cls == 0) {
        free_large(ptr);
        return;
    }
    lwt__bytes_in_use -= (size_t)cls * LWT__CLASS_BYTES;
    free_class(ptr, cls);
}
