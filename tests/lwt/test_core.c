/* Core promise behaviour: states, resolvers, references, the deferred queue,
 * and the recursive-bind-loop guarantees (constant memory and stack). */
#include "test_support.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void return_is_fulfilled(void **state)
{
    (void)state;
    lwt_t *p = lwt_return(LWT_INT(7));
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 7);
    assert_int_equal(lwt_error(p), 0);
    lwt_unref(p);
}

static void return_null_allocates_nothing(void **state)
{
    (void)state;
    size_t before = lwt_live_count();
    lwt_t *p = lwt_return(NULL);
    assert_int_equal(lwt_live_count(), before);
    assert_fulfilled(p);
    lwt_unref(p);
}

static void fail_is_rejected_negative(void **state)
{
    (void)state;
    lwt_t *p = lwt_fail(LWT_EIO);
    assert_rejected(p);
    assert_int_equal(lwt_error(p), -LWT_EIO);
    assert_null(lwt_value(p));
    lwt_unref(p);
}

static void wait_then_wakeup(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(3));
    assert_fulfilled(p);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 3);
    lwt_unref(p);
}

static void resolver_drop_rejects_broken(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_resolver_drop(r);
    assert_int_equal(lwt_error(p), -LWT_EBROKEN);
    lwt_unref(p);
}

static lwt_t *add_one(void *v, void *ctx)
{
    (void)ctx;
    return lwt_return(LWT_INT(LWT_TO_INT(v) + 1));
}

static void bind_on_pending_runs_on_wakeup(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_wait(&r), add_one, LWT_NOCTX);
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(41));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 42);
    lwt_unref(p);
}

/* ---- 10 million step loops ---------------------------------------------- */

struct loop {
    size_t left;
};

static lwt_resolver_t *loop_resolver;

static lwt_t *resolved_step(void *v, void *ctx)
{
    (void)v;
    struct loop next = {((struct loop *)ctx)->left - 1};
    if (next.left == 0)
        return lwt_return(LWT_INT(1));
    return lwt_bind(lwt_return(NULL), resolved_step, LWT_CTX(next));
}

static lwt_t *pending_step(void *v, void *ctx)
{
    (void)v;
    struct loop next = {((struct loop *)ctx)->left - 1};
    if (next.left == 0)
        return lwt_return(LWT_INT(1));
    return lwt_bind(lwt_wait(&loop_resolver), pending_step, LWT_CTX(next));
}

struct loop_result {
    size_t steps;
    size_t peak_live;
    int ok;
};

static void *run_resolved_loop(void *arg)
{
    struct loop_result *res = arg;
    struct loop first = {res->steps};
    lwt_t *p = lwt_bind(lwt_return(NULL), resolved_step, LWT_CTX(first));
    while (lwt_has_deferred()) {
        if (lwt_live_count() > res->peak_live)
            res->peak_live = lwt_live_count();
        lwt_run_deferred(1);
    }
    res->ok = lwt_state(p) == LWT_FULFILLED && LWT_TO_INT(lwt_value(p)) == 1;
    lwt_unref(p);
    return NULL;
}

static void *run_pending_loop(void *arg)
{
    struct loop_result *res = arg;
    struct loop first = {res->steps};
    lwt_t *p = lwt_bind(lwt_wait(&loop_resolver), pending_step, LWT_CTX(first));
    while (loop_resolver) {
        lwt_resolver_t *r = loop_resolver;
        loop_resolver = NULL;
        lwt_wakeup(r, NULL);
        while (lwt_run_deferred(SIZE_MAX))
            ;
        if (lwt_live_count() > res->peak_live)
            res->peak_live = lwt_live_count();
    }
    res->ok = lwt_state(p) == LWT_FULFILLED && LWT_TO_INT(lwt_value(p)) == 1;
    lwt_unref(p);
    return NULL;
}

/* Runs fn on a thread with a 64 KiB stack: Xen stacks are that small, so
 * any recursion proportional to the loop length would crash here. */
static void on_small_stack(void *(*fn)(void *), struct loop_result *res)
{
    pthread_attr_t attr;
    pthread_t thread;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
    assert_int_equal(pthread_create(&thread, &attr, fn, res), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    pthread_attr_destroy(&attr);
}

static void ten_million_resolved_binds_constant_memory(void **state)
{
    (void)state;
    struct loop_result res = {test_scale(10000000, 200000), 0, 0};
    on_small_stack(run_resolved_loop, &res);
    assert_true(res.ok);
    assert_true(res.peak_live <= 8);
}

static void ten_million_pending_binds_constant_memory(void **state)
{
    (void)state;
    struct loop_result res = {test_scale(10000000, 200000), 0, 0};
    on_small_stack(run_pending_loop, &res);
    assert_true(res.ok);
    assert_true(res.peak_live <= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(return_is_fulfilled),
        TEST(return_null_allocates_nothing),
        TEST(fail_is_rejected_negative),
        TEST(wait_then_wakeup),
        TEST(resolver_drop_rejects_broken),
        TEST(bind_on_pending_runs_on_wakeup),
        TEST(ten_million_resolved_binds_constant_memory),
        TEST(ten_million_pending_binds_constant_memory),
    };
    return RUN_TESTS(tests);
}
