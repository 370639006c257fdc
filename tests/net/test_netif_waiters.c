/* The queue of wait_writable promises a netif device keeps
 * (net/netif_waiters.h): waking and failing everyone, oldest first, only
 * with callbacks on a later turn; a cancelled waiter leaving the queue; waiters queued
 * after a wake waiting for the next one. */
#include "test_support.h"

#include "lwt_errno.h"
#include "netif_waiters.h"

/* Records the order in which promises settle. */
struct seen {
    struct lwt_hook hook;
    int id;
    int *order;
    int *n;
};

static void on_settled(struct lwt_hook *hook, lwt_t *settled)
{
    (void)settled;
    struct seen *s = (struct seen *)(void *)hook;
    s->order[(*s->n)++] = s->id;
}

static void wake_all_fulfils_oldest_first_later(void **state)
{
    (void)state;
    struct netif_waiters q = {0};
    assert_true(netif_waiters_empty(&q));
    lwt_t *p[3];
    struct seen seen[3];
    int order[3], n = 0;
    for (int i = 0; i < 3; i++) {
        p[i] = netif_waiters_wait(&q);
        assert_pending(p[i]);
        seen[i] = (struct seen){.id = i, .order = order, .n = &n};
        lwt_hook_attach(p[i], &seen[i].hook, on_settled);
    }
    assert_false(netif_waiters_empty(&q));
    netif_waiters_wake_all(&q, 0);
    assert_true(netif_waiters_empty(&q));
    assert_int_equal(n, 0); /* no callback runs on the waker's stack */
    drain();
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(order[i], i);
        assert_fulfilled(p[i]);
        assert_null(lwt_value(p[i]));
        lwt_unref(p[i]);
    }
}

static void wake_all_with_an_error_rejects(void **state)
{
    (void)state;
    struct netif_waiters q = {0};
    lwt_t *a = netif_waiters_wait(&q);
    lwt_t *b = netif_waiters_wait(&q);
    netif_waiters_wake_all(&q, -LWT_EIO);
    drain();
    assert_rejected(a);
    assert_rejected(b);
    assert_int_equal(lwt_error(a), -LWT_EIO);
    assert_int_equal(lwt_error(b), -LWT_EIO);
    lwt_unref(a);
    lwt_unref(b);
    /* An empty queue: nothing to do. */
    netif_waiters_wake_all(&q, -LWT_ECANCELED);
    assert_true(netif_waiters_empty(&q));
}

static void a_cancelled_waiter_leaves_the_queue(void **state)
{
    (void)state;
    struct netif_waiters q = {0};
    lwt_t *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = netif_waiters_wait(&q);
    /* The middle, the head and the tail in turn. */
    lwt_cancel(p[1]);
    lwt_cancel(p[0]);
    lwt_cancel(p[3]);
    drain();
    assert_false(netif_waiters_empty(&q));
    for (int i = 0; i < 4; i++)
        if (i != 2)
            assert_int_equal(lwt_error(p[i]), -LWT_ECANCELED);
    assert_pending(p[2]);
    lwt_cancel(p[2]);
    drain();
    assert_true(netif_waiters_empty(&q));
    /* Waking then is a no-op: nobody is left to wake. */
    netif_waiters_wake_all(&q, 0);
    drain();
    for (int i = 0; i < 4; i++) {
        assert_int_equal(lwt_error(p[i]), -LWT_ECANCELED);
        lwt_unref(p[i]);
    }
}

static void cancel_after_wake_is_harmless(void **state)
{
    (void)state;
    struct netif_waiters q = {0};
    lwt_t *a = netif_waiters_wait(&q);
    netif_waiters_wake_all(&q, 0);
    /* Woken but not settled yet: the queue no longer holds it. */
    lwt_t *b = netif_waiters_wait(&q);
    lwt_cancel(a);
    drain();
    assert_false(netif_waiters_empty(&q));
    assert_pending(b);
    netif_waiters_wake_all(&q, 0);
    drain();
    assert_fulfilled(b);
    lwt_unref(a);
    lwt_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(wake_all_fulfils_oldest_first_later),
        TEST(wake_all_with_an_error_rejects),
        TEST(a_cancelled_waiter_leaves_the_queue),
        TEST(cancel_after_wake_is_harmless),
    };
    return RUN_TESTS(tests);
}
