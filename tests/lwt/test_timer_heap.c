/* The intrusive timer heap: order, ties, removal from anywhere, pop_due, and
 * a randomised comparison against a simple reference model. */
#include "test_support.h"

#include <stdlib.h>
#include <string.h>

#include "lwt_timer_heap.h"

/* Fixed-seed generator (splitmix64), so failures reproduce. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

/* Checks the heap's internal invariants: every slot knows its index, and no
 * child is earlier than its parent. */
static void check_heap(const struct lwt_timer_heap *h)
{
    assert_true(h->len <= h->cap);
    for (size_t i = 0; i < h->len; i++) {
        const struct lwt_timer *t = h->slots[i].timer;
        assert_int_equal(t->index, i);
        assert_int_equal(h->slots[i].deadline, t->deadline);
        if (i == 0)
            continue;
        const struct lwt_timer *p = h->slots[(i - 1) / 2].timer;
        assert_true(p->deadline < t->deadline || (p->deadline == t->deadline && p->seq < t->seq));
    }
}

static void insert_ok(struct lwt_timer_heap *h, struct lwt_timer *t)
{
    assert_int_equal(lwt_timer_heap_insert(h, t), 0);
    assert_true(lwt_timer_is_armed(t));
}

static void heap_empty(void **state)
{
    (void)state;
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    assert_int_equal(h.len, 0);
    assert_null(lwt_timer_heap_peek(&h));
    assert_null(lwt_timer_heap_pop_due(&h, UINT64_MAX));
    lwt_timer_heap_destroy(&h);
    assert_null(h.slots);
}

static void heap_orders_by_deadline(void **state)
{
    (void)state;
    static const uint64_t deadlines[] = {50, 10, 90, 30, 70, 20, 80, 0, 60, 40, UINT64_MAX, 5};
    enum { N = sizeof deadlines / sizeof deadlines[0] };
    struct lwt_timer t[N];
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        lwt_timer_init(&t[i], deadlines[i]);
        insert_ok(&h, &t[i]);
        check_heap(&h);
    }
    assert_int_equal(h.len, N);
    assert_int_equal(lwt_timer_heap_peek(&h)->deadline, 0);
    uint64_t last = 0;
    for (size_t i = 0; i < N; i++) {
        struct lwt_timer *x = lwt_timer_heap_pop_due(&h, UINT64_MAX);
        assert_non_null(x);
        assert_false(lwt_timer_is_armed(x));
        assert_true(x->deadline >= last);
        last = x->deadline;
        check_heap(&h);
    }
    assert_int_equal(last, UINT64_MAX);
    assert_int_equal(h.len, 0);
    lwt_timer_heap_destroy(&h);
}

static void heap_ties_fire_in_insertion_order(void **state)
{
    (void)state;
    enum { N = 40 };
    struct lwt_timer t[N];
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    /* Three deadlines interleaved, so ties are spread through the heap. */
    for (size_t i = 0; i < N; i++) {
        lwt_timer_init(&t[i], 100 * (3 - i % 3));
        insert_ok(&h, &t[i]);
    }
    check_heap(&h);
    for (uint64_t d = 100; d <= 300; d += 100) {
        size_t prev = SIZE_MAX;
        for (size_t i = 0; i < N; i++) {
            if (t[i].deadline != d)
                continue;
            struct lwt_timer *x = lwt_timer_heap_pop_due(&h, UINT64_MAX);
            assert_ptr_equal(x, &t[i]);
            assert_true(prev == SIZE_MAX || (size_t)(x - t) > prev);
            prev = (size_t)(x - t);
        }
    }
    assert_null(lwt_timer_heap_peek(&h));

    /* A re-inserted timer goes behind the ones already waiting. */
    for (size_t i = 0; i < 3; i++) {
        lwt_timer_init(&t[i], 7);
        insert_ok(&h, &t[i]);
    }
    lwt_timer_heap_remove(&h, &t[0]);
    insert_ok(&h, &t[0]);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 7), &t[1]);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 7), &t[2]);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 7), &t[0]);
    lwt_timer_heap_destroy(&h);
}

/* 15 timers, deadlines 10..150 in a scrambled insertion order. */
enum { SMALL = 15 };

static void fill_small(struct lwt_timer_heap *h, struct lwt_timer *t)
{
    static const int perm[SMALL] = {7, 3, 11, 0, 14, 5, 9, 1, 13, 2, 8, 12, 4, 10, 6};
    lwt_timer_heap_init(h);
    for (size_t i = 0; i < SMALL; i++)
        lwt_timer_init(&t[i], 10 * (i + 1));
    for (size_t i = 0; i < SMALL; i++)
        insert_ok(h, &t[perm[i]]);
    check_heap(h);
}

/* Pops everything and checks it is t in order, minus `gone`. */
static void expect_rest(struct lwt_timer_heap *h, struct lwt_timer *t, const bool *gone)
{
    for (size_t i = 0; i < SMALL; i++) {
        if (gone[i])
            continue;
        assert_ptr_equal(lwt_timer_heap_pop_due(h, UINT64_MAX), &t[i]);
        check_heap(h);
    }
    assert_null(lwt_timer_heap_peek(h));
}

static void heap_remove_top(void **state)
{
    (void)state;
    struct lwt_timer t[SMALL];
    struct lwt_timer_heap h;
    fill_small(&h, t);
    bool gone[SMALL] = {false};
    assert_ptr_equal(lwt_timer_heap_peek(&h), &t[0]);
    lwt_timer_heap_remove(&h, &t[0]);
    gone[0] = true;
    assert_false(lwt_timer_is_armed(&t[0]));
    check_heap(&h);
    assert_ptr_equal(lwt_timer_heap_peek(&h), &t[1]);
    lwt_timer_heap_remove(&h, &t[1]);
    gone[1] = true;
    check_heap(&h);
    assert_int_equal(h.len, SMALL - 2);
    expect_rest(&h, t, gone);
    lwt_timer_heap_destroy(&h);
}

static void heap_remove_middle(void **state)
{
    (void)state;
    struct lwt_timer t[SMALL];
    struct lwt_timer_heap h;
    fill_small(&h, t);
    bool gone[SMALL] = {false};
    /* Remove whatever sits in the middle slots, which moves the last timer
     * there and may need it to go up or down. */
    for (size_t k = 0; k < 4; k++) {
        struct lwt_timer *x = h.slots[h.len / 2].timer;
        lwt_timer_heap_remove(&h, x);
        gone[x - t] = true;
        assert_false(lwt_timer_is_armed(x));
        check_heap(&h);
    }
    assert_int_equal(h.len, SMALL - 4);
    expect_rest(&h, t, gone);
    lwt_timer_heap_destroy(&h);
}

static void heap_remove_middle_sifts_up(void **state)
{
    (void)state;
    /* Inserted in heap order, so slot i holds d[i]. Slot 5 sits under 100
     * while the last slot holds 13, from the other subtree: filling the
     * hole with 13 must move it up past 100. */
    struct lwt_timer a[8];
    static const uint64_t d[8] = {0, 10, 100, 11, 12, 101, 102, 13};
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    for (size_t i = 0; i < 8; i++) {
        lwt_timer_init(&a[i], d[i]);
        insert_ok(&h, &a[i]);
        assert_ptr_equal(h.slots[i].timer, &a[i]);
    }
    struct lwt_timer *x = &a[5];
    lwt_timer_heap_remove(&h, x);
    check_heap(&h);
    assert_ptr_equal(h.slots[2].timer, &a[7]);
    uint64_t last = 0;
    for (size_t i = 0; i < 7; i++) {
        struct lwt_timer *y = lwt_timer_heap_pop_due(&h, UINT64_MAX);
        assert_non_null(y);
        assert_ptr_not_equal(y, x);
        assert_true(y->deadline >= last);
        last = y->deadline;
    }
    assert_null(lwt_timer_heap_peek(&h));
    lwt_timer_heap_destroy(&h);
}

static void heap_remove_bottom(void **state)
{
    (void)state;
    struct lwt_timer t[SMALL];
    struct lwt_timer_heap h;
    fill_small(&h, t);
    bool gone[SMALL] = {false};
    /* The last slot, then the latest timer wherever it is. */
    struct lwt_timer *x = h.slots[h.len - 1].timer;
    lwt_timer_heap_remove(&h, x);
    gone[x - t] = true;
    check_heap(&h);
    if (!gone[SMALL - 1]) {
        lwt_timer_heap_remove(&h, &t[SMALL - 1]);
        gone[SMALL - 1] = true;
        check_heap(&h);
    }
    expect_rest(&h, t, gone);
    lwt_timer_heap_destroy(&h);
}

static void heap_remove_unarmed_is_noop(void **state)
{
    (void)state;
    struct lwt_timer t[SMALL];
    struct lwt_timer_heap h;
    fill_small(&h, t);
    struct lwt_timer stray;
    lwt_timer_init(&stray, 0);
    lwt_timer_heap_remove(&h, &stray);
    assert_int_equal(h.len, SMALL);
    check_heap(&h);
    /* Removing twice: the second is a no-op. */
    lwt_timer_heap_remove(&h, &t[3]);
    lwt_timer_heap_remove(&h, &t[3]);
    assert_int_equal(h.len, SMALL - 1);
    check_heap(&h);
    /* A popped timer too. */
    struct lwt_timer *x = lwt_timer_heap_pop_due(&h, UINT64_MAX);
    assert_ptr_equal(x, &t[0]);
    lwt_timer_heap_remove(&h, x);
    assert_int_equal(h.len, SMALL - 2);
    check_heap(&h);
    bool gone[SMALL] = {[0] = true, [3] = true};
    expect_rest(&h, t, gone);
    /* And on an empty heap. */
    lwt_timer_heap_remove(&h, &stray);
    assert_int_equal(h.len, 0);
    lwt_timer_heap_destroy(&h);
}

static void heap_is_armed(void **state)
{
    (void)state;
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    struct lwt_timer a, b, c;
    lwt_timer_init(&a, 1);
    lwt_timer_init(&b, 2);
    lwt_timer_init(&c, 3);
    assert_false(lwt_timer_is_armed(&a));
    insert_ok(&h, &a);
    insert_ok(&h, &b);
    insert_ok(&h, &c);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 1), &a);
    assert_false(lwt_timer_is_armed(&a));
    lwt_timer_heap_remove(&h, &b);
    assert_false(lwt_timer_is_armed(&b));
    assert_true(lwt_timer_is_armed(&c));
    /* destroy disarms what is left: the timers are the caller's. */
    lwt_timer_heap_destroy(&h);
    assert_false(lwt_timer_is_armed(&c));
    assert_null(h.slots);
    assert_int_equal(h.len, 0);
}

static void heap_pop_due_respects_now(void **state)
{
    (void)state;
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    struct lwt_timer t10, t20, t30, t20b;
    lwt_timer_init(&t10, 10);
    lwt_timer_init(&t20, 20);
    lwt_timer_init(&t30, 30);
    lwt_timer_init(&t20b, 20);
    insert_ok(&h, &t30);
    insert_ok(&h, &t20);
    insert_ok(&h, &t10);
    insert_ok(&h, &t20b);
    assert_null(lwt_timer_heap_pop_due(&h, 0));
    assert_null(lwt_timer_heap_pop_due(&h, 9));
    assert_int_equal(h.len, 4);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 10), &t10); /* due exactly now */
    assert_null(lwt_timer_heap_pop_due(&h, 19));
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 25), &t20);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 25), &t20b);
    assert_null(lwt_timer_heap_pop_due(&h, 25));
    assert_true(lwt_timer_is_armed(&t30));
    assert_ptr_equal(lwt_timer_heap_peek(&h), &t30);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, UINT64_MAX), &t30);
    assert_null(lwt_timer_heap_pop_due(&h, UINT64_MAX));
    lwt_timer_heap_destroy(&h);
}

static void heap_timer_reuse_with_new_deadline(void **state)
{
    (void)state;
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    struct lwt_timer a, b;
    lwt_timer_init(&a, 100);
    lwt_timer_init(&b, 50);
    insert_ok(&h, &a);
    insert_ok(&h, &b);
    /* Re-arm a earlier: take it out, change the deadline, put it back. */
    lwt_timer_heap_remove(&h, &a);
    a.deadline = 10;
    insert_ok(&h, &a);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 10), &a);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 50), &b);
    lwt_timer_init(&a, 5);
    insert_ok(&h, &a);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, 5), &a);
    lwt_timer_heap_destroy(&h);
}

/* ---- Randomised against a reference ------------------------------------ */

struct model_timer {
    struct lwt_timer t;
    uint64_t order; /* our own insertion counter */
    bool armed;
};

static int model_cmp(const void *a, const void *b)
{
    const struct model_timer *x = *(struct model_timer *const *)a;
    const struct model_timer *y = *(struct model_timer *const *)b;
    if (x->t.deadline != y->t.deadline)
        return x->t.deadline < y->t.deadline ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static struct model_timer *model_min(struct model_timer *m, size_t n)
{
    struct model_timer *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (m[i].armed && (!best || model_cmp(&(struct model_timer *){&m[i]}, &best) < 0))
            best = &m[i];
    }
    return best;
}

static void heap_random_ops_match_reference(void **state)
{
    (void)state;
    enum { POOL = 1024 };
    size_t ops = test_scale(100000, 20000);
    struct model_timer *m = calloc(POOL, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < POOL; i++)
        lwt_timer_init(&m[i].t, 0);
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    rng_state = 12345;
    uint64_t order = 0;
    size_t armed = 0, pops = 0, removes = 0;
    for (size_t op = 0; op < ops; op++) {
        size_t r = rng_below(10);
        struct model_timer *x = &m[rng_below(POOL)];
        if (r < 5 && !x->armed) {
            /* Few distinct deadlines, so ties are common. */
            x->t.deadline = rng_below(256);
            x->order = order++;
            insert_ok(&h, &x->t);
            x->armed = true;
            armed++;
        } else if (r < 7) {
            uint64_t now = rng_below(300);
            struct model_timer *want = model_min(m, POOL);
            if (want && want->t.deadline > now)
                want = NULL;
            struct lwt_timer *got = lwt_timer_heap_pop_due(&h, now);
            assert_ptr_equal(got, want ? &want->t : NULL);
            if (want) {
                want->armed = false;
                armed--;
                pops++;
            }
        } else {
            lwt_timer_heap_remove(&h, &x->t);
            if (x->armed) {
                x->armed = false;
                armed--;
                removes++;
            }
        }
        assert_int_equal(h.len, armed);
        assert_int_equal(lwt_timer_is_armed(&x->t), x->armed);
        if (op % 997 == 0)
            check_heap(&h);
    }
    check_heap(&h);
    /* Both kinds of removal happened a fair number of times. */
    assert_true(pops > ops / 20);
    assert_true(removes > ops / 20);

    /* What is left pops in sorted (deadline, insertion) order. */
    struct model_timer **ref = malloc((armed ? armed : 1) * sizeof *ref);
    assert_non_null(ref);
    size_t n = 0;
    for (size_t i = 0; i < POOL; i++)
        if (m[i].armed)
            ref[n++] = &m[i];
    assert_int_equal(n, armed);
    qsort(ref, n, sizeof *ref, model_cmp);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(lwt_timer_heap_pop_due(&h, UINT64_MAX), &ref[i]->t);
    assert_null(lwt_timer_heap_pop_due(&h, UINT64_MAX));
    assert_null(h.slots);
    free(ref);
    free(m);
    lwt_timer_heap_destroy(&h);
}

/* ---- Memory ------------------------------------------------------------ */

static void heap_frees_array_when_emptied(void **state)
{
    (void)state;
    enum { N = 100 };
    struct lwt_timer t[N];
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        lwt_timer_init(&t[i], i % 7);
        insert_ok(&h, &t[i]);
    }
    assert_non_null(h.slots);
    for (size_t i = 0; i < N; i++)
        lwt_timer_heap_remove(&h, &t[(i * 37) % N]);
    assert_int_equal(h.len, 0);
    assert_null(h.slots);
    assert_int_equal(h.cap, 0);
    /* Usable again afterwards. */
    insert_ok(&h, &t[0]);
    assert_ptr_equal(lwt_timer_heap_pop_due(&h, UINT64_MAX), &t[0]);
    assert_null(h.slots);
    lwt_timer_heap_destroy(&h);
}

static void heap_destroy_frees_array(void **state)
{
    (void)state;
    enum { N = 50 };
    struct lwt_timer t[N];
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        lwt_timer_init(&t[i], i);
        insert_ok(&h, &t[i]);
    }
    lwt_timer_heap_destroy(&h);
    assert_null(h.slots);
    assert_int_equal(h.len, 0);
    assert_int_equal(h.cap, 0);
    for (size_t i = 0; i < N; i++)
        assert_false(lwt_timer_is_armed(&t[i]));
}

static void heap_shrinks_after_burst(void **state)
{
    (void)state;
    enum { N = 4096 };
    struct lwt_timer *t = calloc(N, sizeof *t);
    assert_non_null(t);
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    for (size_t i = 0; i < N; i++) {
        lwt_timer_init(&t[i], N - i);
        insert_ok(&h, &t[i]);
    }
    assert_true(h.cap >= N);
    for (size_t i = 10; i < N; i++)
        lwt_timer_heap_remove(&h, &t[i]);
    assert_int_equal(h.len, 10);
    /* A burst does not pin its peak memory. */
    assert_true(h.cap <= 128);
    check_heap(&h);
    for (size_t i = 0; i < 10; i++)
        assert_ptr_equal(lwt_timer_heap_pop_due(&h, UINT64_MAX), &t[9 - i]);
    assert_null(h.slots);
    lwt_timer_heap_destroy(&h);
    free(t);
}

static void heap_million_insert_then_remove_all(void **state)
{
    (void)state;
    size_t n = test_scale(1000000, 50000);
    struct lwt_timer *t = malloc(n * sizeof *t);
    size_t *perm = malloc(n * sizeof *perm);
    assert_non_null(t);
    assert_non_null(perm);
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    rng_state = 777;
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        lwt_timer_init(&t[i], rng_next() >> 20);
        if (t[i].deadline < min)
            min = t[i].deadline;
        assert_int_equal(lwt_timer_heap_insert(&h, &t[i]), 0);
        perm[i] = i;
    }
    assert_int_equal(h.len, n);
    assert_int_equal(lwt_timer_heap_peek(&h)->deadline, min);
    check_heap(&h);
    /* Remove in a random order: most removals are from the middle. */
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = rng_below(i + 1);
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (size_t i = 0; i < n; i++) {
        lwt_timer_heap_remove(&h, &t[perm[i]]);
        if (lwt_timer_is_armed(&t[perm[i]]))
            fail_msg("timer %zu still armed after remove", perm[i]);
        if (i % (n / 4) == 0)
            check_heap(&h);
    }
    assert_int_equal(h.len, 0);
    assert_null(h.slots);
    assert_int_equal(h.cap, 0);
    lwt_timer_heap_destroy(&h);
    free(perm);
    free(t);
}

static void heap_million_pop_in_order(void **state)
{
    (void)state;
    size_t n = test_scale(1000000, 50000);
    struct lwt_timer *t = malloc(n * sizeof *t);
    assert_non_null(t);
    struct lwt_timer_heap h;
    lwt_timer_heap_init(&h);
    rng_state = 4242;
    for (size_t i = 0; i < n; i++) {
        /* Many ties: insertion order must decide among them. */
        lwt_timer_init(&t[i], rng_below(1000));
        assert_int_equal(lwt_timer_heap_insert(&h, &t[i]), 0);
    }
    struct lwt_timer *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        struct lwt_timer *x = lwt_timer_heap_pop_due(&h, UINT64_MAX);
        if (!x)
            fail_msg("heap ran dry after %zu of %zu", i, n);
        if (prev && (x->deadline < prev->deadline || (x->deadline == prev->deadline && x < prev)))
            fail_msg("out of order at pop %zu", i);
        prev = x;
    }
    assert_null(lwt_timer_heap_pop_due(&h, UINT64_MAX));
    assert_null(h.slots);
    lwt_timer_heap_destroy(&h);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(heap_empty),
        TEST(heap_orders_by_deadline),
        TEST(heap_ties_fire_in_insertion_order),
        TEST(heap_remove_top),
        TEST(heap_remove_middle),
        TEST(heap_remove_middle_sifts_up),
        TEST(heap_remove_bottom),
        TEST(heap_remove_unarmed_is_noop),
        TEST(heap_is_armed),
        TEST(heap_pop_due_respects_now),
        TEST(heap_timer_reuse_with_new_deadline),
        TEST(heap_random_ops_match_reference),
        TEST(heap_frees_array_when_emptied),
        TEST(heap_destroy_frees_array),
        TEST(heap_shrinks_after_burst),
        TEST(heap_million_insert_then_remove_all),
        TEST(heap_million_pop_in_order),
    };
    return RUN_TESTS(tests);
}
