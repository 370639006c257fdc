/* Binary min-heap of timers keyed by (deadline, insertion order). */
#include <stdlib.h>
#include <string.h>

#include "lwt_errno.h"
#include "lwt_timer_heap.h"

void lwt_timer_heap_init(struct lwt_timer_heap *h)
{
    h->slots = NULL;
    h->len = h->cap = 0;
    h->next_seq = 0;
}

void lwt_timer_heap_destroy(struct lwt_timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        h->slots[i].timer->index = SIZE_MAX;
    free(h->slots);
    lwt_timer_heap_init(h);
}

void lwt_timer_init(struct lwt_timer *t, uint64_t deadline)
{
    t->deadline = deadline;
    t->seq = 0;
    t->index = SIZE_MAX;
}

bool lwt_timer_is_armed(const struct lwt_timer *t)
{
    return t->index != SIZE_MAX;
}

static bool earlier(const struct lwt_timer_slot *a, const struct lwt_timer_slot *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->timer->seq < b->timer->seq);
}

static void place(struct lwt_timer_heap *h, size_t i, struct lwt_timer_slot s)
{
    h->slots[i] = s;
    s.timer->index = i;
}

static void sift_up(struct lwt_timer_heap *h, size_t i)
{
    struct lwt_timer_slot s = h->slots[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&s, &h->slots[parent]))
            break;
        place(h, i, h->slots[parent]);
        i = parent;
    }
    place(h, i, s);
}

static void sift_down(struct lwt_timer_heap *h, size_t i)
{
    struct lwt_timer_slot s = h->slots[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len)
            break;
        if (child + 1 < h->len && earlier(&h->slots[child + 1], &h->slots[child]))
            child++;
        if (!earlier(&h->slots[child], &s))
            break;
        place(h, i, h->slots[child]);
        i = child;
    }
    place(h, i, s);
}

/* malloc and free are all the freestanding subset promises (no realloc). */
static bool resize(struct lwt_timer_heap *h, size_t cap)
{
    struct lwt_timer_slot *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return false;
    if (h->len)
        memcpy(slots, h->slots, h->len * sizeof *slots);
    free(h->slots);
    h->slots = slots;
    h->cap = cap;
    return true;
}

int lwt_timer_heap_insert(struct lwt_timer_heap *h, struct lwt_timer *t)
{
    if (h->len == h->cap) {
        if (!resize(h, h->cap ? h->cap * 2 : 16))
            return -LWT_ENOMEM;
    }
    t->seq = h->next_seq++;
    place(h, h->len++, (struct lwt_timer_slot){t->deadline, t});
    sift_up(h, t->index);
    return 0;
}

void lwt_timer_heap_remove(struct lwt_timer_heap *h, struct lwt_timer *t)
{
    if (t->index == SIZE_MAX)
        return;
    size_t i = t->index;
    t->index = SIZE_MAX;
    struct lwt_timer_slot last = h->slots[--h->len];
    if (i < h->len) {
        place(h, i, last);
        sift_down(h, i);
        sift_up(h, last.timer->index);
    }
    /* Shrink when mostly empty, so a burst of timers does not pin memory. */
    if (h->len == 0) {
        free(h->slots);
        h->slots = NULL;
        h->cap = 0;
    } else if (h->cap > 64 && h->len < h->cap / 4) {
        resize(h, h->cap / 2); /* on failure the larger array stays */
    }
}

struct lwt_timer *lwt_timer_heap_peek(const struct lwt_timer_heap *h)
{
    return h->len ? h->slots[0].timer : NULL;
}

struct lwt_timer *lwt_timer_heap_pop_due(struct lwt_timer_heap *h, uint64_t now)
{
    if (!h->len || h->slots[0].deadline > now)
        return NULL;
    struct lwt_timer *t = h->slots[0].timer;
    lwt_timer_heap_remove(h, t);
    return t;
}
