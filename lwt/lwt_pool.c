/* Size-class allocator for promises and callback nodes.
 *
 * Promise traffic is many small, short-lived objects of a handful of sizes;
 * a free list per 16-byte class makes allocation a pointer pop and removes
 * malloc's per-object header (a pending promise with one bind is 64 bytes).
 * Chunks are never returned, so leak checkers would see them as "still
 * reachable": the debug and sanitizer builds compile the pool out
 * (LWT_POOL=0) and hand every object to malloc, where valgrind and ASan can
 * track each one.
 */
#include <stdlib.h>

#include "lwt_internal.h"

#ifndef LWT_POOL
#define LWT_POOL 1
#endif

#if LWT_POOL

#define CLASS_BYTES 16
#define CLASS_COUNT 32 /* objects up to 512 bytes */
#define CHUNK_BYTES (64 * 1024)

struct free_slot {
    struct free_slot *next;
};

static struct free_slot *free_lists[CLASS_COUNT + 1];
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

void *lwt__alloc(size_t size, uint8_t *cls_out)
{
    size_t cls = (size + CLASS_BYTES - 1) / CLASS_BYTES;
    if (cls == 0 || cls > CLASS_COUNT) {
        void *p = malloc(size);
        if (!p)
            lwt__panic("out of memory");
        *cls_out = 0;
        return p;
    }
    *cls_out = (uint8_t)cls;
    struct free_slot *s = free_lists[cls];
    if (s) {
        free_lists[cls] = s->next;
        return s;
    }
    return carve(cls * CLASS_BYTES);
}

void lwt__free(void *ptr, uint8_t cls)
{
    if (cls == 0) {
        free(ptr);
        return;
    }
    struct free_slot *s = ptr;
    s->next = free_lists[cls];
    free_lists[cls] = s;
}

#else

void *lwt__alloc(size_t size, uint8_t *cls_out)
{
    void *p = malloc(size);
    if (!p)
        lwt__panic("out of memory");
    *cls_out = 0;
    return p;
}

void lwt__free(void *ptr, uint8_t cls)
{
    (void)cls;
    free(ptr);
}

#endif
