/* The bounded stream: ordering, back-pressure, close, cancellation, destroy.
 *
 * Wakeups may run their callbacks later (LWT_DEFER_ALL, or past the inline
 * depth limit), so the tests drain before looking at dependent promises. */
#include "test_support.h"

#include "lwt_stream.h"

static void stream_init_validates_capacity(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 0), -LWT_EINVAL);
    /* Too large to size the ring without overflow. */
    assert_int_equal(lwt_stream_init(&s, SIZE_MAX), -LWT_EINVAL);
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    assert_int_equal(s.capacity, 1);
    assert_int_equal(s.len, 0);
    assert_false(s.closed);
    lwt_stream_destroy(&s);
}

static void stream_push_get_order(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 4), 0);
    for (int i = 1; i <= 4; i++) {
        lwt_t *p = lwt_stream_push(&s, LWT_INT(i));
        assert_fulfilled(p);
        lwt_unref(p);
    }
    assert_int_equal(s.len, 4);
    for (int i = 1; i <= 4; i++) {
        lwt_t *g = lwt_stream_get(&s);
        assert_int_equal(LWT_TO_INT(lwt_value(g)), i);
        lwt_unref(g);
    }
    assert_int_equal(s.len, 0);
    lwt_stream_destroy(&s);
}

static void stream_order_across_ring_wrap(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 3), 0);
    /* Keep 0..3 values buffered while the ring position goes round many
     * times. */
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; round++) {
        int n_in = round % 4 == 0 ? 3 - (int)s.len : 1 + round % 2;
        for (int k = 0; k < n_in && s.len < 3; k++)
            assert_int_equal(lwt_stream_try_push(&s, LWT_INT(next_in++)), 0);
        int n_out = 1 + (round % 3 == 0);
        for (int k = 0; k < n_out && s.len > 0; k++) {
            void *v;
            assert_int_equal(lwt_stream_try_get(&s, &v), 0);
            assert_int_equal(LWT_TO_INT(v), next_out++);
        }
    }
    while (s.len) {
        void *v;
        assert_int_equal(lwt_stream_try_get(&s, &v), 0);
        assert_int_equal(LWT_TO_INT(v), next_out++);
    }
    assert_int_equal(next_in, next_out);
    assert_true(next_out > 1000);
    lwt_stream_destroy(&s);
}

static void stream_back_pressure(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    lwt_t *p1 = lwt_stream_push(&s, LWT_INT(1));
    lwt_t *p2 = lwt_stream_push(&s, LWT_INT(2));
    lwt_t *p3 = lwt_stream_push(&s, LWT_INT(3));
    lwt_t *p4 = lwt_stream_push(&s, LWT_INT(4));
    drain();
    assert_fulfilled(p1);
    assert_fulfilled(p2);
    assert_pending(p3);
    assert_pending(p4);
    assert_int_equal(s.len, 2);

    lwt_t *g = lwt_stream_get(&s);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(g)), 1);
    /* One slot freed: exactly the oldest blocked push got in. */
    assert_fulfilled(p3);
    assert_pending(p4);
    assert_int_equal(s.len, 2);
    lwt_unref(g);

    for (int i = 2; i <= 4; i++) {
        g = lwt_stream_get(&s);
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(g)), i);
        lwt_unref(g);
    }
    assert_fulfilled(p4);
    assert_int_equal(s.len, 0);
    lwt_unref(p1);
    lwt_unref(p2);
    lwt_unref(p3);
    lwt_unref(p4);
    lwt_stream_destroy(&s);
}

static void stream_get_waits_on_empty(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    lwt_t *g1 = lwt_stream_get(&s);
    lwt_t *g2 = lwt_stream_get(&s);
    drain();
    assert_pending(g1);
    assert_pending(g2);
    lwt_t *p = lwt_stream_push(&s, LWT_INT(10));
    drain();
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(g1)), 10);
    assert_pending(g2);
    /* Handed over directly, not buffered. */
    assert_int_equal(s.len, 0);
    lwt_unref(p);
    p = lwt_stream_push(&s, LWT_INT(11));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(g2)), 11);
    assert_int_equal(s.len, 0);
    lwt_unref(p);
    lwt_unref(g1);
    lwt_unref(g2);
    lwt_stream_destroy(&s);
}

static void stream_try_push_try_get_codes(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    void *v = LWT_INT(-1);
    assert_int_equal(lwt_stream_try_get(&s, &v), -LWT_EAGAIN);
    assert_int_equal(LWT_TO_INT(v), -1);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(1)), 0);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(2)), 0);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(3)), -LWT_EAGAIN);
    assert_int_equal(s.len, 2);
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(3)), 0);
    lwt_stream_close(&s);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(4)), -LWT_EPIPE);
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 2);
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 3);
    assert_int_equal(lwt_stream_try_get(&s, &v), -LWT_ENODATA);
    assert_int_equal(lwt_stream_try_get(&s, &v), -LWT_ENODATA);
    lwt_stream_destroy(&s);
}

static void stream_try_push_feeds_waiting_getter(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *g = lwt_stream_get(&s);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(5)), 0);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(g)), 5);
    assert_int_equal(s.len, 0);
    lwt_unref(g);
    lwt_stream_destroy(&s);
}

static void stream_try_get_admits_blocked_pusher(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(1)), 0);
    lwt_t *p = lwt_stream_push(&s, LWT_INT(2));
    void *v;
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
    drain();
    assert_fulfilled(p);
    assert_int_equal(s.len, 1);
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 2);
    lwt_unref(p);
    lwt_stream_destroy(&s);
}

static void stream_close_rejects_blocked_pushers(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *p1 = lwt_stream_push(&s, LWT_INT(1));
    lwt_t *p2 = lwt_stream_push(&s, LWT_INT(2));
    lwt_t *p3 = lwt_stream_push(&s, LWT_INT(3));
    lwt_stream_close(&s);
    drain();
    assert_true(s.closed);
    assert_fulfilled(p1);
    assert_int_equal(lwt_error(p2), -LWT_EPIPE);
    assert_int_equal(lwt_error(p3), -LWT_EPIPE);
    /* Their values were not enqueued; the buffered one is still there. */
    assert_int_equal(s.len, 1);
    lwt_t *g = lwt_stream_get(&s);
    assert_int_equal(LWT_TO_INT(lwt_value(g)), 1);
    lwt_unref(g);
    g = lwt_stream_get(&s);
    drain();
    assert_int_equal(lwt_error(g), -LWT_ENODATA);
    lwt_unref(g);
    lwt_unref(p1);
    lwt_unref(p2);
    lwt_unref(p3);
    lwt_stream_destroy(&s);
}

static void stream_close_getters_drain_then_end(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 4), 0);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(lwt_stream_try_push(&s, LWT_INT(i)), 0);
    lwt_stream_close(&s);
    lwt_stream_close(&s); /* closing twice is harmless */
    for (int i = 1; i <= 3; i++) {
        lwt_t *g = lwt_stream_get(&s);
        drain();
        assert_int_equal(LWT_TO_INT(lwt_value(g)), i);
        lwt_unref(g);
    }
    for (int i = 0; i < 2; i++) {
        lwt_t *g = lwt_stream_get(&s);
        drain();
        assert_int_equal(lwt_error(g), -LWT_ENODATA);
        lwt_unref(g);
    }
    lwt_stream_destroy(&s);
}

static void stream_close_ends_waiting_getters(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    lwt_t *g1 = lwt_stream_get(&s);
    lwt_t *g2 = lwt_stream_get(&s);
    lwt_stream_close(&s);
    drain();
    assert_int_equal(lwt_error(g1), -LWT_ENODATA);
    assert_int_equal(lwt_error(g2), -LWT_ENODATA);
    lwt_unref(g1);
    lwt_unref(g2);
    lwt_stream_destroy(&s);
}

static void stream_push_after_close_rejected(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    lwt_stream_close(&s);
    lwt_t *p = lwt_stream_push(&s, LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(p), -LWT_EPIPE);
    assert_int_equal(s.len, 0);
    lwt_unref(p);
    lwt_t *g = lwt_stream_get(&s);
    assert_int_equal(lwt_error(g), -LWT_ENODATA);
    lwt_unref(g);
    lwt_stream_destroy(&s);
}

static void stream_cancel_blocked_push(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *p1 = lwt_stream_push(&s, LWT_INT(1));
    lwt_t *p2 = lwt_stream_push(&s, LWT_INT(2));
    lwt_t *p3 = lwt_stream_push(&s, LWT_INT(3));
    lwt_cancel(p2);
    drain();
    assert_int_equal(lwt_error(p2), -LWT_ECANCELED);
    assert_pending(p3);
    void *v;
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
    drain();
    assert_fulfilled(p3);
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 3); /* 2 was withdrawn */
    assert_int_equal(lwt_stream_try_get(&s, &v), -LWT_EAGAIN);
    lwt_unref(p1);
    lwt_unref(p2);
    lwt_unref(p3);
    lwt_stream_destroy(&s);
}

/* A get right after the cancel, before deferred work runs, must not admit
 * the withdrawn value. */
static void stream_cancel_blocked_push_then_get_at_once(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(1)), 0);
    lwt_t *p2 = lwt_stream_push(&s, LWT_INT(2));
    lwt_cancel(p2);
    void *v;
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 1);
    assert_int_equal(s.len, 0);
    drain();
    assert_int_equal(lwt_error(p2), -LWT_ECANCELED);
    assert_int_equal(lwt_stream_try_get(&s, &v), -LWT_EAGAIN);
    lwt_unref(p2);
    lwt_stream_destroy(&s);
}

static void stream_cancel_blocked_get(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *g1 = lwt_stream_get(&s);
    lwt_t *g2 = lwt_stream_get(&s);
    lwt_cancel(g1);
    drain();
    assert_int_equal(lwt_error(g1), -LWT_ECANCELED);
    assert_int_equal(lwt_stream_try_push(&s, LWT_INT(7)), 0);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(g2)), 7);
    assert_int_equal(s.len, 0);
    lwt_unref(g1);
    lwt_unref(g2);
    lwt_stream_destroy(&s);
}

/* A push right after the cancel must not hand its value to the cancelled
 * getter, where it would be lost. */
static void stream_cancel_blocked_get_then_push_at_once(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *g = lwt_stream_get(&s);
    lwt_cancel(g);
    lwt_t *p = lwt_stream_push(&s, LWT_INT(9));
    drain();
    assert_int_equal(lwt_error(g), -LWT_ECANCELED);
    assert_fulfilled(p);
    void *v = NULL;
    assert_int_equal(lwt_stream_try_get(&s, &v), 0);
    assert_int_equal(LWT_TO_INT(v), 9);
    lwt_unref(g);
    lwt_unref(p);
    lwt_stream_destroy(&s);
}

static void stream_destroy_rejects_getters(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 2), 0);
    lwt_t *g1 = lwt_stream_get(&s);
    lwt_t *g2 = lwt_stream_get(&s);
    lwt_stream_destroy(&s);
    drain();
    assert_int_equal(lwt_error(g1), -LWT_EPIPE);
    assert_int_equal(lwt_error(g2), -LWT_EPIPE);
    lwt_unref(g1);
    lwt_unref(g2);
}

static void stream_destroy_rejects_pushers(void **state)
{
    (void)state;
    struct lwt_stream s;
    assert_int_equal(lwt_stream_init(&s, 1), 0);
    lwt_t *p1 = lwt_stream_push(&s, LWT_INT(1));
    lwt_t *p2 = lwt_stream_push(&s, LWT_INT(2));
    lwt_t *p3 = lwt_stream_push(&s, LWT_INT(3));
    lwt_stream_destroy(&s);
    drain();
    assert_fulfilled(p1);
    assert_int_equal(lwt_error(p2), -LWT_EPIPE);
    assert_int_equal(lwt_error(p3), -LWT_EPIPE);
    lwt_unref(p1);
    lwt_unref(p2);
    lwt_unref(p3);
}

/* A producer and a consumer chain through a small stream, then close. */
static struct lwt_stream flow;
static intptr_t flow_total, flow_next, flow_errors;

struct counter {
    intptr_t i;
};

static lwt_t *produce(void *v, void *ctx)
{
    (void)v;
    struct counter next = {((struct counter *)ctx)->i + 1};
    if (next.i > flow_total) {
        lwt_stream_close(&flow);
        return lwt_return(NULL);
    }
    return lwt_bind(lwt_stream_push(&flow, LWT_INT(next.i)), produce, LWT_CTX(next));
}

static lwt_t *consume(void *v, void *ctx);

static lwt_t *consume_next(void)
{
    return lwt_bind(lwt_stream_get(&flow), consume, LWT_NOCTX);
}

static lwt_t *consume(void *v, void *ctx)
{
    (void)ctx;
    if (LWT_TO_INT(v) != ++flow_next)
        flow_errors++;
    return consume_next();
}

static lwt_t *end_of_stream(int err, void *ctx)
{
    (void)ctx;
    return err == -LWT_ENODATA ? lwt_return(LWT_INT(flow_next)) : lwt_fail(err);
}

static void stream_producer_consumer(void **state)
{
    (void)state;
    assert_int_equal(lwt_stream_init(&flow, 3), 0);
    flow_total = (intptr_t)test_scale(100000, 5000);
    flow_next = flow_errors = 0;
    struct counter start = {0};
    lwt_t *prod = produce(NULL, &start);
    lwt_t *cons = lwt_catch(consume_next(), end_of_stream, LWT_NOCTX);
    drain();
    assert_fulfilled(prod);
    assert_int_equal(flow_errors, 0);
    assert_int_equal(LWT_TO_INT(lwt_value(cons)), flow_total);
    lwt_unref(prod);
    lwt_unref(cons);
    lwt_stream_destroy(&flow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(stream_init_validates_capacity),
        TEST(stream_push_get_order),
        TEST(stream_order_across_ring_wrap),
        TEST(stream_back_pressure),
        TEST(stream_get_waits_on_empty),
        TEST(stream_try_push_try_get_codes),
        TEST(stream_try_push_feeds_waiting_getter),
        TEST(stream_try_get_admits_blocked_pusher),
        TEST(stream_close_rejects_blocked_pushers),
        TEST(stream_close_getters_drain_then_end),
        TEST(stream_close_ends_waiting_getters),
        TEST(stream_push_after_close_rejected),
        TEST(stream_cancel_blocked_push),
        TEST(stream_cancel_blocked_push_then_get_at_once),
        TEST(stream_cancel_blocked_get),
        TEST(stream_cancel_blocked_get_then_push_at_once),
        TEST(stream_destroy_rejects_getters),
        TEST(stream_destroy_rejects_pushers),
        TEST(stream_producer_consumer),
    };
    return RUN_TESTS(tests);
}
