/* An intrusive binary min-heap of timers, ordered by deadline and then by
 * insertion order (so equal deadlines fire first-in, first-out).
 *
 * The caller embeds a struct lwt_timer in its own object and owns it; the heap
 * only keeps pointers. Insert and remove are O(log n); remove takes a timer out
 * from anywhere, so a cancelled timeout releases its memory at once. The heap's
 * pointer array is allocated by the heap and grows and shrinks with it.
 */
#ifndef TESSERA_LWT_TIMER_HEAP_H
#define TESSERA_LWT_TIMER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lwt_timer {
    uint64_t deadline; /* rw while not in a heap: the time it is due */
    uint64_t seq;      /* private: insertion order, breaks ties */
    size_t index;      /* private: slot in the heap, SIZE_MAX when not in one */
};

/* A heap slot keeps a copy of its timer's deadline, so that ordering the
 * heap reads the slot array only and touches a timer just to record where
 * it moved (with a million timers, chasing each pointer to compare would
 * miss the cache at every step). */
struct lwt_timer_slot {
    uint64_t deadline;
    struct lwt_timer *timer;
};

struct lwt_timer_heap {
    struct lwt_timer_slot *slots; /* private */
    size_t len;                   /* ro */
    size_t cap;                   /* private */
    uint64_t next_seq;            /* private */
};

void lwt_timer_heap_init(struct lwt_timer_heap *h);
/* Frees the pointer array; the timers themselves are the caller's. */
void lwt_timer_heap_destroy(struct lwt_timer_heap *h);

/* Marks a timer as in no heap. */
void lwt_timer_init(struct lwt_timer *t, uint64_t deadline);
bool lwt_timer_is_armed(const struct lwt_timer *t);

/* Adds t (which must not be in a heap). 0, or -LWT_ENOMEM. */
int lwt_timer_heap_insert(struct lwt_timer_heap *h, struct lwt_timer *t);
/* Takes t out of h; a no-op if t is not armed. */
void lwt_timer_heap_remove(struct lwt_timer_heap *h, struct lwt_timer *t);
/* The earliest timer, or NULL. */
struct lwt_timer *lwt_timer_heap_peek(const struct lwt_timer_heap *h);
/* Removes and returns the earliest timer whose deadline is <= now, or NULL. */
struct lwt_timer *lwt_timer_heap_pop_due(struct lwt_timer_heap *h, uint64_t now);

#endif
