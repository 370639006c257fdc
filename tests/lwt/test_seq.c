/* Sequential composition: bind, map, catch, try_bind, finalize, the on_*
 * callbacks and async, on fulfilled, rejected and pending promises. */
#include "test_support.h"

#include <stdbool.h>
#include <string.h>

/* What the callbacks saw, in call order. */
static intptr_t seen[64];
static size_t nseen;

static void see(intptr_t x)
{
    if (nseen < sizeof seen / sizeof seen[0])
        seen[nseen++] = x;
}

static int setup(void **state)
{
    nseen = 0;
    return test_setup(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, test_teardown)

/* ---- Callbacks ----------------------------------------------------------- */

struct tag {
    intptr_t id;
};

static lwt_t *bind_add_one(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
    return lwt_return(LWT_INT(LWT_TO_INT(v) + 1));
}

static lwt_t *bind_fail_eproto(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
    return lwt_fail(LWT_EPROTO);
}

static lwt_t *bind_tagged(void *v, void *ctx)
{
    see(((struct tag *)ctx)->id);
    return lwt_return(v);
}

static void *map_double(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
    return LWT_INT(LWT_TO_INT(v) * 2);
}

static void *map_tagged(void *v, void *ctx)
{
    see(((struct tag *)ctx)->id);
    return v;
}

static lwt_t *catch_recover(int err, void *ctx)
{
    (void)ctx;
    see(err);
    return lwt_return(LWT_INT(1000));
}

static lwt_t *catch_rethrow_eacces(int err, void *ctx)
{
    (void)ctx;
    see(err);
    return lwt_fail(LWT_EACCES);
}

static lwt_t *catch_tagged(int err, void *ctx)
{
    (void)err;
    see(((struct tag *)ctx)->id);
    return lwt_return(NULL);
}

static lwt_t *try_ok(void *v, void *ctx)
{
    see(((struct tag *)ctx)->id);
    see(LWT_TO_INT(v));
    return lwt_return(LWT_INT(1));
}

static lwt_t *try_err(int err, void *ctx)
{
    see(-((struct tag *)ctx)->id);
    see(err);
    return lwt_return(LWT_INT(2));
}

static void on_value(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
}

static void on_error(int err, void *ctx)
{
    (void)ctx;
    see(err);
}

static void on_value_tagged(void *v, void *ctx)
{
    (void)v;
    see(((struct tag *)ctx)->id);
}

static void on_error_tagged(int err, void *ctx)
{
    (void)err;
    see(-((struct tag *)ctx)->id);
}

static void on_unit_tagged(void *ctx)
{
    see(((struct tag *)ctx)->id);
}

/* ---- bind ---------------------------------------------------------------- */

static void bind_on_fulfilled(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(lwt_return(LWT_INT(41)), bind_add_one, LWT_NOCTX);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 42);
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 41);
    lwt_unref(p);
}

#ifndef LWT_DEFER_ALL
static void bind_on_fulfilled_runs_at_once(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(lwt_return(LWT_INT(1)), bind_add_one, LWT_NOCTX);
    assert_int_equal(nseen, 1);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    lwt_unref(p);
}
#endif

static void bind_on_rejected_skips_callback(void **state)
{
    (void)state;
    lwt_t *p = lwt_bind(lwt_fail(LWT_EIO), bind_add_one, LWT_NOCTX);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EIO);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void bind_on_pending_fulfilled(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_add_one, LWT_NOCTX);
    drain();
    assert_pending(p);
    assert_int_equal(nseen, 0);
    lwt_wakeup(r, LWT_INT(9));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 10);
    assert_int_equal(nseen, 1);
    lwt_unref(p);
}

static void bind_on_pending_rejected_skips_callback(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_add_one, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_ECONNREFUSED);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECONNREFUSED);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void bind_callback_failure_rejects_result(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_fail_eproto, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(3));
    drain();
    assert_int_equal(lwt_error(p), -LWT_EPROTO);
    assert_int_equal(nseen, 1);
    lwt_unref(p);
}

static void bind_copies_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {5};
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_tagged, LWT_CTX(t));
    t.id = 99; /* the callback must see the value at the time of the call */
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 5);
    lwt_unref(p);
}

struct big {
    unsigned char bytes[300];
    intptr_t check;
};

static lwt_t *bind_big(void *v, void *ctx)
{
    struct big *b = ctx;
    intptr_t sum = 0;
    for (size_t i = 0; i < sizeof b->bytes; i++)
        sum += b->bytes[i];
    see(sum);
    see(b->check);
    return lwt_return(v);
}

static lwt_t *bind_on_stack_ctx(lwt_t *p)
{
    struct big b;
    for (size_t i = 0; i < sizeof b.bytes; i++)
        b.bytes[i] = (unsigned char)i;
    b.check = 12345;
    return lwt_bind(p, bind_big, LWT_CTX(b));
}

static void bind_copies_large_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = bind_on_stack_ctx(lwt_wait(&r));
    /* b's frame is gone by now; the copy must not be. */
    lwt_wakeup(r, NULL);
    drain();
    intptr_t want = 0;
    for (size_t i = 0; i < 300; i++)
        want += (unsigned char)i;
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], want);
    assert_int_equal(seen[1], 12345);
    lwt_unref(p);
}

static void bind_chain_on_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    for (int i = 0; i < 10; i++)
        p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(0));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 10);
    assert_int_equal(nseen, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(seen[i], i);
    lwt_unref(p);
}

/* ---- The callback's context is its own copy -------------------------------- */

/* A callback may use its context as scratch: it is a copy (lwt.h), so the
 * caller's struct must not change, whether the callback runs at once or
 * later. */
static lwt_t *bind_scribbles(void *v, void *ctx)
{
    ((struct tag *)ctx)->id = -1;
    return lwt_return(v);
}

static void *map_scribbles(void *v, void *ctx)
{
    ((struct tag *)ctx)->id = -1;
    return v;
}

static lwt_t *catch_scribbles(int err, void *ctx)
{
    (void)err;
    ((struct tag *)ctx)->id = -1;
    return lwt_return(NULL);
}

static void bind_on_fulfilled_leaves_caller_ctx(void **state)
{
    (void)state;
    struct tag t = {5};
    lwt_t *p = lwt_bind(lwt_return(LWT_INT(1)), bind_scribbles, LWT_CTX(t));
    drain();
    lwt_unref(p);
    assert_int_equal(t.id, 5);
}

static void map_on_fulfilled_leaves_caller_ctx(void **state)
{
    (void)state;
    struct tag t = {5};
    lwt_t *p = lwt_map(lwt_return(LWT_INT(1)), map_scribbles, LWT_CTX(t));
    drain();
    lwt_unref(p);
    assert_int_equal(t.id, 5);
}

static void catch_on_rejected_leaves_caller_ctx(void **state)
{
    (void)state;
    struct tag t = {5};
    lwt_t *p = lwt_catch(lwt_fail(LWT_EIO), catch_scribbles, LWT_CTX(t));
    drain();
    lwt_unref(p);
    assert_int_equal(t.id, 5);
}

static void try_bind_on_settled_leaves_caller_ctx(void **state)
{
    (void)state;
    struct tag t = {5};
    lwt_t *a = lwt_try_bind(lwt_return(LWT_INT(1)), bind_scribbles, catch_scribbles, LWT_CTX(t));
    lwt_t *b = lwt_try_bind(lwt_fail(LWT_EIO), bind_scribbles, catch_scribbles, LWT_CTX(t));
    drain();
    lwt_unref(a);
    lwt_unref(b);
    assert_int_equal(t.id, 5);
}

static lwt_t *bind_scribbles_big(void *v, void *ctx)
{
    memset(ctx, 0, sizeof(struct big));
    return lwt_return(v);
}

static void bind_on_fulfilled_leaves_large_caller_ctx(void **state)
{
    (void)state;
    struct big b;
    memset(&b, 7, sizeof b);
    lwt_t *p = lwt_try_bind(lwt_return(LWT_INT(1)), bind_scribbles_big, catch_scribbles, LWT_CTX(b));
    drain();
    lwt_unref(p);
    assert_int_equal(b.bytes[0], 7);
    assert_int_equal(b.bytes[sizeof b.bytes - 1], 7);
}

static void bind_on_pending_leaves_caller_ctx(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {5};
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_scribbles, LWT_CTX(t));
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(t.id, 5);
    lwt_unref(p);
}

/* ---- map ----------------------------------------------------------------- */

static void map_on_fulfilled(void **state)
{
    (void)state;
    lwt_t *p = lwt_map(lwt_return(LWT_INT(21)), map_double, LWT_NOCTX);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 42);
    assert_int_equal(nseen, 1);
    lwt_unref(p);
}

static void map_on_rejected_skips_callback(void **state)
{
    (void)state;
    lwt_t *p = lwt_map(lwt_fail(LWT_EBADF), map_double, LWT_NOCTX);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EBADF);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void map_on_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_map(lwt_wait(&r), map_double, LWT_NOCTX);
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(8));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 16);
    lwt_unref(p);
}

static void map_on_pending_rejected_skips_callback(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_map(lwt_wait(&r), map_double, LWT_NOCTX);
    lwt_resolver_drop(r);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EBROKEN);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void map_copies_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {17};
    lwt_t *p = lwt_map(lwt_wait(&r), map_tagged, LWT_CTX(t));
    t.id = -1;
    lwt_wakeup(r, LWT_INT(2));
    drain();
    assert_int_equal(seen[0], 17);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    lwt_unref(p);
}

static void map_may_return_null(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {1};
    lwt_t *p = lwt_map(lwt_wait(&r), map_tagged, LWT_CTX(t));
    lwt_wakeup(r, NULL);
    drain();
    assert_fulfilled(p);
    assert_null(lwt_value(p));
    lwt_unref(p);
}

/* ---- catch --------------------------------------------------------------- */

static void catch_on_fulfilled_passes_value(void **state)
{
    (void)state;
    lwt_t *p = lwt_catch(lwt_return(LWT_INT(6)), catch_recover, LWT_NOCTX);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 6);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void catch_on_rejected_recovers(void **state)
{
    (void)state;
    lwt_t *p = lwt_catch(lwt_fail(LWT_ENOENT), catch_recover, LWT_NOCTX);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1000);
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], -LWT_ENOENT);
    lwt_unref(p);
}

static void catch_on_pending_rejected_recovers(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_catch(lwt_wait(&r), catch_recover, LWT_NOCTX);
    assert_pending(p);
    lwt_wakeup_fail(r, LWT_ENODATA);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1000);
    assert_int_equal(seen[0], -LWT_ENODATA);
    lwt_unref(p);
}

static void catch_on_pending_fulfilled_passes_value(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_catch(lwt_wait(&r), catch_recover, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(3));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 3);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void catch_handler_may_fail_again(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_catch(lwt_wait(&r), catch_rethrow_eacces, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EPERM);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EACCES);
    assert_int_equal(seen[0], -LWT_EPERM);
    lwt_unref(p);
}

static void catch_handles_cancellation(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_catch(lwt_ref(t), catch_recover, LWT_NOCTX);
    lwt_cancel(t);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1000);
    assert_int_equal(seen[0], -LWT_ECANCELED);
    lwt_resolver_drop(r);
    lwt_unref(t);
    lwt_unref(p);
}

static void catch_copies_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {23};
    lwt_t *p = lwt_catch(lwt_wait(&r), catch_tagged, LWT_CTX(t));
    t.id = 0;
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(seen[0], 23);
    lwt_unref(p);
}

/* ---- Rejection through chains -------------------------------------------- */

static void rejection_skips_chain_of_callbacks(void **state)
{
    (void)state;
    lwt_t *p = lwt_fail(LWT_EMSGSIZE);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    p = lwt_map(p, map_double, LWT_NOCTX);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    p = lwt_map(p, map_double, LWT_NOCTX);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EMSGSIZE);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void pending_rejection_skips_chain_of_callbacks(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    p = lwt_map(p, map_double, LWT_NOCTX);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EOVERFLOW);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EOVERFLOW);
    assert_int_equal(nseen, 0);
    lwt_unref(p);
}

static void catch_in_chain_recovers_and_continues(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX); /* skipped */
    p = lwt_catch(p, catch_recover, LWT_NOCTX);
    p = lwt_map(p, map_double, LWT_NOCTX);
    p = lwt_catch(p, catch_recover, LWT_NOCTX); /* nothing to catch */
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2000);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], -LWT_EIO);
    assert_int_equal(seen[1], 1000);
    lwt_unref(p);
}

static void failure_in_middle_of_chain_skips_rest(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    p = lwt_bind(p, bind_fail_eproto, LWT_NOCTX);
    p = lwt_bind(p, bind_add_one, LWT_NOCTX);
    p = lwt_map(p, map_double, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_int_equal(lwt_error(p), -LWT_EPROTO);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 2);
    lwt_unref(p);
}

/* ---- try_bind ------------------------------------------------------------ */

static void try_bind_on_fulfilled_calls_f(void **state)
{
    (void)state;
    struct tag t = {7};
    lwt_t *p = lwt_try_bind(lwt_return(LWT_INT(4)), try_ok, try_err, LWT_CTX(t));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 7);
    assert_int_equal(seen[1], 4);
    lwt_unref(p);
}

static void try_bind_on_rejected_calls_h(void **state)
{
    (void)state;
    struct tag t = {7};
    lwt_t *p = lwt_try_bind(lwt_fail(LWT_EINTR), try_ok, try_err, LWT_CTX(t));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], -7);
    assert_int_equal(seen[1], -LWT_EINTR);
    lwt_unref(p);
}

static void try_bind_on_pending_fulfilled(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {8};
    lwt_t *p = lwt_try_bind(lwt_wait(&r), try_ok, try_err, LWT_CTX(t));
    t.id = 0;
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(5));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 8);
    assert_int_equal(seen[1], 5);
    lwt_unref(p);
}

static void try_bind_on_pending_rejected(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {8};
    lwt_t *p = lwt_try_bind(lwt_wait(&r), try_ok, try_err, LWT_CTX(t));
    t.id = 0;
    lwt_wakeup_fail(r, LWT_ENOTCONN);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], -8);
    assert_int_equal(seen[1], -LWT_ENOTCONN);
    lwt_unref(p);
}

static void try_bind_handler_failure_rejects(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_try_bind(lwt_wait(&r), bind_add_one, catch_rethrow_eacces, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EACCES);
    lwt_unref(p);
}

/* ---- finalize ------------------------------------------------------------ */

static int cleanups;
static lwt_resolver_t *cleanup_resolver;

static lwt_t *cleanup_ok(void *ctx)
{
    (void)ctx;
    cleanups++;
    return lwt_return(NULL);
}

static lwt_t *cleanup_tagged(void *ctx)
{
    see(((struct tag *)ctx)->id);
    return lwt_return(NULL);
}

static lwt_t *cleanup_pending(void *ctx)
{
    (void)ctx;
    cleanups++;
    return lwt_wait(&cleanup_resolver);
}

static lwt_t *cleanup_task(void *ctx)
{
    (void)ctx;
    cleanups++;
    return lwt_task(&cleanup_resolver);
}

static lwt_t *cleanup_fails(void *ctx)
{
    (void)ctx;
    cleanups++;
    return lwt_fail(LWT_ENOSPC);
}

static void finalize_on_fulfilled(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_t *p = lwt_finalize(lwt_return(LWT_INT(5)), cleanup_ok, LWT_NOCTX);
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 5);
    lwt_unref(p);
}

static void finalize_on_rejected(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_t *p = lwt_finalize(lwt_fail(LWT_EPIPE), cleanup_ok, LWT_NOCTX);
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(lwt_error(p), -LWT_EPIPE);
    lwt_unref(p);
}

static void finalize_waits_for_source(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_ok, LWT_NOCTX);
    drain();
    assert_int_equal(cleanups, 0);
    assert_pending(p);
    lwt_wakeup(r, LWT_INT(6));
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 6);
    lwt_unref(p);
}

static void finalize_runs_on_pending_failure(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_ok, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_ECONNABORTED);
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(lwt_error(p), -LWT_ECONNABORTED);
    lwt_unref(p);
}

static void finalize_waits_for_pending_cleanup(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_pending, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(7));
    drain();
    assert_int_equal(cleanups, 1);
    assert_pending(p);
    lwt_wakeup(cleanup_resolver, LWT_INT(123)); /* its value is ignored */
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 7);
    lwt_unref(p);
}

static void finalize_pending_cleanup_keeps_source_error(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_t *p = lwt_finalize(lwt_fail(LWT_EIO), cleanup_pending, LWT_NOCTX);
    drain();
    assert_pending(p);
    lwt_wakeup(cleanup_resolver, NULL);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EIO);
    lwt_unref(p);
}

static void finalize_pending_cleanup_failure_wins(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_t *p = lwt_finalize(lwt_return(LWT_INT(1)), cleanup_pending, LWT_NOCTX);
    drain();
    assert_pending(p);
    lwt_wakeup_fail(cleanup_resolver, LWT_EADDRINUSE);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EADDRINUSE);
    lwt_unref(p);
}

static void finalize_cleanup_failure_overrides_value(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_fails, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(lwt_error(p), -LWT_ENOSPC);
    lwt_unref(p);
}

static void finalize_cleanup_failure_overrides_error(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_t *p = lwt_finalize(lwt_fail(LWT_EPIPE), cleanup_fails, LWT_NOCTX);
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(lwt_error(p), -LWT_ENOSPC);
    lwt_unref(p);
}

static void finalize_runs_on_cancel(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_finalize(lwt_ref(t), cleanup_ok, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(cleanups, 1);
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_resolver_drop(r);
    lwt_unref(t);
    lwt_unref(p);
}

static void finalize_copies_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {31};
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_tagged, LWT_CTX(t));
    t.id = 0;
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 31);
    lwt_unref(p);
}

/* ---- At the depth limit ---------------------------------------------------- */

struct deep {
    int level;
    void (*fn)(void);
    bool *done;
};

static lwt_t *descend(void *v, void *ctx)
{
    (void)v;
    struct deep d = *(struct deep *)ctx;
    if (d.level >= LWT_MAX_INLINE_DEPTH) {
        d.fn();
        *d.done = true;
        return lwt_return(NULL);
    }
    d.level++;
    return lwt_bind(lwt_return(NULL), descend, LWT_CTX(d));
}

/* Calls fn where callbacks no longer run inline (see test_core.c), leaving
 * the queue holding exactly what fn enqueued. */
static void at_depth_limit(void (*fn)(void))
{
    bool done = false;
    struct deep d = {1, fn, &done};
    assert_false(lwt_has_deferred());
    lwt_t *p = lwt_bind(lwt_return(NULL), descend, LWT_CTX(d));
    while (!done)
        assert_int_equal(lwt_run_deferred(1), 1);
    lwt_unref(p);
}

static lwt_t *deep_result;

static void deep_bind(void)
{
    struct tag t = {3};
    deep_result = lwt_bind(lwt_return(LWT_INT(5)), bind_tagged, LWT_CTX(t));
    t.id = 0;
}

static void deep_map(void)
{
    deep_result = lwt_map(lwt_return(LWT_INT(5)), map_double, LWT_NOCTX);
}

static void deep_catch(void)
{
    struct tag t = {4};
    deep_result = lwt_catch(lwt_fail(LWT_EIO), catch_tagged, LWT_CTX(t));
    t.id = 0;
}

static void deep_try_bind(void)
{
    struct tag t = {6};
    deep_result = lwt_try_bind(lwt_fail(LWT_EIO), try_ok, try_err, LWT_CTX(t));
    t.id = 0;
}

static void deep_finalize(void)
{
    struct tag t = {9};
    deep_result = lwt_finalize(lwt_return(LWT_INT(5)), cleanup_tagged, LWT_CTX(t));
    t.id = 0;
}

static void deep_on_any(void)
{
    struct tag t = {10};
    deep_result = lwt_return(LWT_INT(5));
    lwt_on_any(deep_result, on_value_tagged, on_error_tagged, LWT_CTX(t));
    t.id = 0;
}

static void bind_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_bind);
    assert_pending(deep_result);
    assert_int_equal(nseen, 0);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(deep_result)), 5);
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 3);
    lwt_unref(deep_result);
}

static void map_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_map);
    assert_pending(deep_result);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(deep_result)), 10);
    lwt_unref(deep_result);
}

static void catch_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_catch);
    assert_pending(deep_result);
    drain();
    assert_fulfilled(deep_result);
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 4);
    lwt_unref(deep_result);
}

static void try_bind_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_try_bind);
    assert_pending(deep_result);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(deep_result)), 2);
    assert_int_equal(seen[0], -6);
    assert_int_equal(seen[1], -LWT_EIO);
    lwt_unref(deep_result);
}

static void finalize_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_finalize);
    assert_pending(deep_result);
    assert_int_equal(nseen, 0);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(deep_result)), 5);
    assert_int_equal(seen[0], 9);
    lwt_unref(deep_result);
}

static void on_any_at_depth_limit_is_deferred(void **state)
{
    (void)state;
    at_depth_limit(deep_on_any);
    assert_int_equal(nseen, 0);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 10);
    lwt_unref(deep_result);
}

static lwt_resolver_t *mixed_resolver;
static lwt_t *mixed[4];

static void deep_mixed(void)
{
    struct tag t1 = {1}, t2 = {2}, t3 = {3}, t4 = {4};
    mixed[0] = lwt_return(LWT_INT(1));
    lwt_on_success(mixed[0], on_value_tagged, LWT_CTX(t1));
    lwt_on_success(mixed[1], on_value_tagged, LWT_CTX(t2));
    lwt_wakeup(mixed_resolver, NULL);
    mixed[2] = lwt_bind(lwt_return(LWT_INT(1)), bind_tagged, LWT_CTX(t3));
    mixed[3] = lwt_finalize(lwt_return(LWT_INT(1)), cleanup_tagged, LWT_CTX(t4));
}

static void deferred_work_runs_in_order_across_kinds(void **state)
{
    (void)state;
    mixed[1] = lwt_wait(&mixed_resolver);
    at_depth_limit(deep_mixed);
    assert_int_equal(nseen, 0);
    drain();
    assert_int_equal(nseen, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(seen[i], i + 1);
        lwt_unref(mixed[i]);
    }
}

/* ---- Cancelling sequential results ----------------------------------------- */

static void cancel_bind_result_cancels_source(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *t = lwt_task(&r);
    lwt_t *p = lwt_bind(lwt_ref(t), bind_add_one, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(t), -LWT_ECANCELED);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_wakeup(r, LWT_INT(1)); /* too late: a no-op */
    drain();
    assert_int_equal(nseen, 0);
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(t);
    lwt_unref(p);
}

static void cancel_map_result_skips_callback(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_map(lwt_task(&r), map_double, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    assert_int_equal(nseen, 0);
    lwt_resolver_drop(r);
    lwt_unref(p);
}

static void cancel_finalize_waiting_for_cleanup(void **state)
{
    (void)state;
    cleanups = 0;
    lwt_resolver_t *r;
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup_task, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(1));
    drain();
    assert_int_equal(cleanups, 1);
    assert_pending(p);
    /* The cleanup is what the result waits on now: cancel reaches it. */
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_resolver_drop(cleanup_resolver);
    lwt_unref(p);
}

static void cancel_catch_result_runs_handler(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_catch(lwt_task(&r), catch_recover, LWT_NOCTX);
    lwt_cancel(p);
    drain();
    assert_int_equal(seen[0], -LWT_ECANCELED);
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 1000);
    lwt_resolver_drop(r);
    lwt_unref(p);
}

static void cancel_try_bind_result(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {1};
    lwt_t *p = lwt_try_bind(lwt_task(&r), try_ok, try_err, LWT_CTX(t));
    lwt_cancel(p);
    drain();
    /* Cancellation is a rejection like any other: h recovers it. */
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 2);
    assert_int_equal(seen[1], -LWT_ECANCELED);
    lwt_resolver_drop(r);
    lwt_unref(p);
}

/* ---- on_success, on_failure, on_termination, on_any ---------------------- */

static void on_success_on_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_on_success(p, on_value, LWT_NOCTX);
    drain();
    assert_int_equal(nseen, 0);
    lwt_wakeup(r, LWT_INT(11));
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 11);
    lwt_unref(p);
}

static void on_success_ignores_rejection(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_on_success(p, on_value, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EIO);
    lwt_t *q = lwt_fail(LWT_EIO);
    lwt_on_success(q, on_value, LWT_NOCTX);
    drain();
    assert_int_equal(nseen, 0);
    lwt_unref(p);
    lwt_unref(q);
}

static void on_success_on_fulfilled(void **state)
{
    (void)state;
    lwt_t *p = lwt_return(LWT_INT(12));
    lwt_on_success(p, on_value, LWT_NOCTX);
#ifndef LWT_DEFER_ALL
    assert_int_equal(nseen, 1); /* runs at once */
#endif
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 12);
    lwt_unref(p);
}

static void on_failure_on_pending(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_on_failure(p, on_error, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EALREADY);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], -LWT_EALREADY);
    lwt_unref(p);
}

static void on_failure_ignores_fulfilment(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_on_failure(p, on_error, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(1));
    lwt_t *q = lwt_return(LWT_INT(1));
    lwt_on_failure(q, on_error, LWT_NOCTX);
    drain();
    assert_int_equal(nseen, 0);
    lwt_unref(p);
    lwt_unref(q);
}

static void on_failure_on_rejected(void **state)
{
    (void)state;
    lwt_t *p = lwt_fail(LWT_EINPROGRESS);
    lwt_on_failure(p, on_error, LWT_NOCTX);
#ifndef LWT_DEFER_ALL
    assert_int_equal(nseen, 1);
#endif
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], -LWT_EINPROGRESS);
    lwt_unref(p);
}

static void on_termination_on_both_outcomes(void **state)
{
    (void)state;
    lwt_resolver_t *r1, *r2;
    struct tag a = {1}, b = {2}, c = {3}, d = {4};
    lwt_t *p1 = lwt_wait(&r1);
    lwt_t *p2 = lwt_wait(&r2);
    lwt_on_termination(p1, on_unit_tagged, LWT_CTX(a));
    lwt_on_termination(p2, on_unit_tagged, LWT_CTX(b));
    lwt_wakeup(r1, NULL);
    lwt_wakeup_fail(r2, LWT_EIO);
    drain();
    lwt_on_termination(p1, on_unit_tagged, LWT_CTX(c));
    lwt_on_termination(p2, on_unit_tagged, LWT_CTX(d));
    drain();
    assert_int_equal(nseen, 4);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 2);
    assert_int_equal(seen[2], 3);
    assert_int_equal(seen[3], 4);
    lwt_unref(p1);
    lwt_unref(p2);
}

static void on_any_on_both_outcomes(void **state)
{
    (void)state;
    lwt_resolver_t *r1, *r2;
    lwt_t *p1 = lwt_wait(&r1);
    lwt_t *p2 = lwt_wait(&r2);
    lwt_on_any(p1, on_value, on_error, LWT_NOCTX);
    lwt_on_any(p2, on_value, on_error, LWT_NOCTX);
    lwt_wakeup(r1, LWT_INT(50));
    drain();
    lwt_wakeup_fail(r2, LWT_ESHUTDOWN);
    drain();
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 50);
    assert_int_equal(seen[1], -LWT_ESHUTDOWN);
    lwt_unref(p1);
    lwt_unref(p2);
}

static void on_any_on_settled(void **state)
{
    (void)state;
    lwt_t *p1 = lwt_return(LWT_INT(60));
    lwt_t *p2 = lwt_fail(LWT_ENETDOWN);
    lwt_on_any(p1, on_value, on_error, LWT_NOCTX);
    lwt_on_any(p2, on_value, on_error, LWT_NOCTX);
#ifndef LWT_DEFER_ALL
    assert_int_equal(nseen, 2);
#endif
    drain();
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 60);
    assert_int_equal(seen[1], -LWT_ENETDOWN);
    lwt_unref(p1);
    lwt_unref(p2);
}

static void on_callbacks_copy_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    struct tag t = {70};
    lwt_on_success(p, on_value_tagged, LWT_CTX(t));
    t.id = 71;
    lwt_on_any(p, on_value_tagged, on_error_tagged, LWT_CTX(t));
    t.id = 72;
    lwt_on_termination(p, on_unit_tagged, LWT_CTX(t));
    t.id = 0;
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(nseen, 3);
    assert_int_equal(seen[0], 70);
    assert_int_equal(seen[1], 71);
    assert_int_equal(seen[2], 72);
    lwt_unref(p);
}

static void callbacks_run_in_registration_order(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    struct tag t[6] = {{1}, {2}, {3}, {4}, {5}, {6}};
    lwt_on_success(p, on_value_tagged, LWT_CTX(t[0]));
    lwt_t *b = lwt_bind(lwt_ref(p), bind_tagged, LWT_CTX(t[1]));
    lwt_on_any(p, on_value_tagged, on_error_tagged, LWT_CTX(t[2]));
    lwt_t *m = lwt_map(lwt_ref(p), map_tagged, LWT_CTX(t[3]));
    lwt_on_termination(p, on_unit_tagged, LWT_CTX(t[4]));
    lwt_t *tb = lwt_try_bind(lwt_ref(p), try_ok, try_err, LWT_CTX(t[5]));
    lwt_wakeup(r, LWT_INT(0));
    drain();
    assert_int_equal(nseen, 7);
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], i + 1);
    assert_int_equal(seen[6], 0); /* try_ok's second note */
    lwt_unref(p);
    lwt_unref(b);
    lwt_unref(m);
    lwt_unref(tb);
}

static void failure_callbacks_run_in_registration_order(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    struct tag t[4] = {{1}, {2}, {3}, {4}};
    lwt_on_failure(p, on_error_tagged, LWT_CTX(t[0]));
    lwt_t *c = lwt_catch(lwt_ref(p), catch_tagged, LWT_CTX(t[1]));
    lwt_on_any(p, on_value_tagged, on_error_tagged, LWT_CTX(t[2]));
    lwt_on_termination(p, on_unit_tagged, LWT_CTX(t[3]));
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(nseen, 4);
    assert_int_equal(seen[0], -1);
    assert_int_equal(seen[1], 2);
    assert_int_equal(seen[2], -3);
    assert_int_equal(seen[3], 4);
    lwt_unref(p);
    lwt_unref(c);
}

/* ---- async --------------------------------------------------------------- */

static void async_handler_gets_error(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_async(lwt_wait(&r), on_error, LWT_NOCTX);
    drain();
    assert_int_equal(nseen, 0);
    lwt_wakeup_fail(r, LWT_ECONNRESET);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], -LWT_ECONNRESET);
    assert_int_equal(test_output_len, 0);
}

static void async_handler_on_rejected(void **state)
{
    (void)state;
    lwt_async(lwt_fail(LWT_EMFILE), on_error, LWT_NOCTX);
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], -LWT_EMFILE);
}

static void async_handler_copies_context(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    struct tag t = {88};
    lwt_async(lwt_wait(&r), on_error_tagged, LWT_CTX(t));
    t.id = 0;
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_int_equal(seen[0], -88);
}

static void async_success_is_silent(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_async(lwt_wait(&r), on_error, LWT_NOCTX);
    lwt_async(lwt_return(LWT_INT(1)), NULL, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(2));
    drain();
    assert_int_equal(nseen, 0);
    assert_int_equal(test_output_len, 0);
}

static void async_without_handler_reports_rejection(void **state)
{
    (void)state;
    lwt_async(lwt_fail(LWT_EHOSTUNREACH), NULL, LWT_NOCTX);
    drain();
    assert_non_null(strstr(test_output, "unhandled rejection"));
    assert_non_null(strstr(test_output, lwt_strerror(LWT_EHOSTUNREACH)));
}

static void async_without_handler_reports_later_rejection(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_async(lwt_bind(lwt_wait(&r), bind_add_one, LWT_NOCTX), NULL, LWT_NOCTX);
    drain();
    assert_int_equal(test_output_len, 0);
    lwt_resolver_drop(r);
    drain();
    assert_non_null(strstr(test_output, "unhandled rejection"));
    assert_non_null(strstr(test_output, lwt_strerror(LWT_EBROKEN)));
}

static void async_keeps_pending_work_alive(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_async(lwt_map(lwt_wait(&r), map_double, LWT_NOCTX), on_error, LWT_NOCTX);
    assert_true(lwt_live_count() > 0);
    lwt_wakeup(r, LWT_INT(4));
    drain();
    assert_int_equal(nseen, 1);
    assert_int_equal(seen[0], 4);
    assert_live_zero();
}

/* ---- Random graphs against a model ------------------------------------------ */

/* Random DAGs of sources and combinators, settled in random order with random
 * cancels and the queue run in random slices; every promise must end as a
 * straightforward model of Lwt predicts. "follow" kinds return an earlier
 * promise from the callback, which exercises merging. */
enum gkind {
    G_WAIT,
    G_TASK,
    G_BIND_INC,
    G_BIND_FOLLOW,
    G_MAP,
    G_CATCH,
    G_CATCH_FOLLOW,
    G_TRY,
    G_FIN,
    G_FIN_FAIL,
    G_FIN_FOLLOW,
    G_KINDS
};

#define GN 24

struct gnode {
    enum gkind kind;
    int in;    /* input index (derived kinds) */
    int other; /* the promise a follow kind returns */
    lwt_t *p;
    lwt_resolver_t *r;
    bool settled_src;
    bool ok; /* model outcome */
    intptr_t v;
};

static struct gnode g[GN];
static uint64_t grng;

static unsigned grand(unsigned n)
{
    grng ^= grng << 13;
    grng ^= grng >> 7;
    grng ^= grng << 17;
    return (unsigned)(grng % n);
}

static lwt_t *g_inc(void *v, void *ctx)
{
    (void)ctx;
    return lwt_return(LWT_INT((LWT_TO_INT(v) + 1) % 1000));
}

static lwt_t *g_follow(void *v, void *ctx)
{
    (void)v;
    return lwt_ref(g[*(int *)ctx].p);
}

static void *g_double(void *v, void *ctx)
{
    (void)ctx;
    return LWT_INT(LWT_TO_INT(v) * 2 % 1000);
}

static lwt_t *g_recover(int err, void *ctx)
{
    (void)ctx;
    return lwt_return(LWT_INT(1000 - err));
}

static lwt_t *g_catch_follow(int err, void *ctx)
{
    (void)err;
    return lwt_ref(g[*(int *)ctx].p);
}

static lwt_t *g_try_ok(void *v, void *ctx)
{
    (void)ctx;
    return lwt_return(LWT_INT((LWT_TO_INT(v) + 3) % 1000));
}

static lwt_t *g_try_err(int err, void *ctx)
{
    (void)ctx;
    return err == -LWT_EIO ? lwt_return(LWT_INT(7)) : lwt_fail(LWT_EBADMSG);
}

static lwt_t *g_fin_ok(void *ctx)
{
    (void)ctx;
    return lwt_return(NULL);
}

static lwt_t *g_fin_fail(void *ctx)
{
    (void)ctx;
    return lwt_fail(LWT_ERANGE);
}

static lwt_t *g_fin_follow(void *ctx)
{
    return lwt_ref(g[*(int *)ctx].p);
}

static void model(int i)
{
    struct gnode *n = &g[i];
    if (n->kind == G_WAIT || n->kind == G_TASK)
        return; /* set when settled */
    struct gnode *in = &g[n->in], *o = &g[n->other];
    bool ok = in->ok;
    intptr_t v = in->v;
    switch (n->kind) {
    case G_BIND_INC:
        if (ok)
            v = (v + 1) % 1000;
        break;
    case G_BIND_FOLLOW:
        if (ok)
            ok = o->ok, v = o->v;
        break;
    case G_MAP:
        if (ok)
            v = v * 2 % 1000;
        break;
    case G_CATCH:
        if (!ok)
            ok = true, v = 1000 - v;
        break;
    case G_CATCH_FOLLOW:
        if (!ok)
            ok = o->ok, v = o->v;
        break;
    case G_TRY:
        if (ok)
            v = (v + 3) % 1000;
        else if (v == -LWT_EIO)
            ok = true, v = 7;
        else
            v = -LWT_EBADMSG;
        break;
    case G_FIN:
        break;
    case G_FIN_FAIL:
        ok = false, v = -LWT_ERANGE;
        break;
    case G_FIN_FOLLOW:
        if (!o->ok)
            ok = false, v = o->v;
        break;
    default:
        break;
    }
    n->ok = ok;
    n->v = v;
}

static void build_graph(void)
{
    for (int i = 0; i < GN; i++) {
        struct gnode *n = &g[i];
        n->kind = i < 3 ? (enum gkind)grand(2) : (enum gkind)grand(G_KINDS);
        n->in = i ? (int)grand((unsigned)i) : 0;
        n->other = i ? (int)grand((unsigned)i) : 0;
        n->r = NULL;
        n->settled_src = false;
        lwt_t *in = i ? lwt_ref(g[n->in].p) : NULL;
        switch (n->kind) {
        case G_WAIT:
            n->p = lwt_wait(&n->r);
            lwt_unref(in);
            break;
        case G_TASK:
            n->p = lwt_task(&n->r);
            lwt_unref(in);
            break;
        case G_BIND_INC:
            n->p = lwt_bind(in, g_inc, LWT_NOCTX);
            break;
        case G_BIND_FOLLOW:
            n->p = lwt_bind(in, g_follow, LWT_CTX(n->other));
            break;
        case G_MAP:
            n->p = lwt_map(in, g_double, LWT_NOCTX);
            break;
        case G_CATCH:
            n->p = lwt_catch(in, g_recover, LWT_NOCTX);
            break;
        case G_CATCH_FOLLOW:
            n->p = lwt_catch(in, g_catch_follow, LWT_CTX(n->other));
            break;
        case G_TRY:
            n->p = lwt_try_bind(in, g_try_ok, g_try_err, LWT_NOCTX);
            break;
        case G_FIN:
            n->p = lwt_finalize(in, g_fin_ok, LWT_NOCTX);
            break;
        case G_FIN_FAIL:
            n->p = lwt_finalize(in, g_fin_fail, LWT_NOCTX);
            break;
        case G_FIN_FOLLOW:
            n->p = lwt_finalize(in, g_fin_follow, LWT_CTX(n->other));
            break;
        default:
            break;
        }
    }
}

static void settle_sources(void)
{
    static const int errs[] = {LWT_EIO, LWT_EPIPE, LWT_EAGAIN};
    for (;;) {
        int left[GN], nleft = 0;
        for (int i = 0; i < GN; i++)
            if (g[i].r && !g[i].settled_src)
                left[nleft++] = i;
        if (!nleft)
            break;
        /* Cancelling anything only ever rejects tasks it reaches. */
        if (grand(6) == 0)
            lwt_cancel(g[grand(GN)].p);
        struct gnode *n = &g[left[grand((unsigned)nleft)]];
        n->settled_src = true;
        unsigned how = grand(8);
        if (n->kind == G_TASK && lwt_error(n->p) == -LWT_ECANCELED) {
            n->ok = false, n->v = -LWT_ECANCELED;
            lwt_wakeup(n->r, LWT_INT(1)); /* cancelled: a no-op */
        } else if (how == 0 && n->kind == G_TASK) {
            lwt_cancel(n->p);
            n->ok = false, n->v = -LWT_ECANCELED;
            lwt_wakeup(n->r, LWT_INT(1));
        } else if (how < 3) {
            int e = errs[grand(3)];
            n->ok = false, n->v = -e;
            lwt_wakeup_fail(n->r, e);
        } else {
            n->ok = true, n->v = (intptr_t)grand(1000);
            lwt_wakeup(n->r, LWT_INT(n->v));
        }
        n->r = NULL;
        lwt_run_deferred(grand(4) == 0 ? SIZE_MAX : grand(3));
    }
    drain();
}

static void random_graphs_match_model(void **state)
{
    (void)state;
    size_t rounds = test_scale(3000, 200);
    grng = 0x2545f4914f6cdd1dull;
    for (size_t round = 0; round < rounds; round++) {
        build_graph();
        settle_sources();
        for (int i = 0; i < GN; i++) {
            model(i);
            enum lwt_state st = lwt_state(g[i].p);
            intptr_t got = st == LWT_FULFILLED ? LWT_TO_INT(lwt_value(g[i].p)) : lwt_error(g[i].p);
            if (st != (g[i].ok ? LWT_FULFILLED : LWT_REJECTED) || got != g[i].v)
                fail_msg("round %zu node %d (kind %d, in %d, other %d): state %d value %ld, model %s %ld", round, i,
                         g[i].kind, g[i].in, g[i].other, st, (long)got, g[i].ok ? "ok" : "err", (long)g[i].v);
        }
        for (int i = 0; i < GN; i++)
            lwt_unref(g[i].p);
        drain();
        assert_live_zero();
    }
}

/* ---- Nested wakeups ------------------------------------------------------ */

static lwt_resolver_t *next_resolver;

static void wake_next(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
    lwt_resolver_t *r = next_resolver;
    next_resolver = NULL;
    lwt_wakeup(r, LWT_INT(LWT_TO_INT(v) + 1));
}

static void callback_wakes_another_promise(void **state)
{
    (void)state;
    lwt_resolver_t *ra;
    lwt_t *a = lwt_wait(&ra);
    lwt_t *b = lwt_wait(&next_resolver);
    lwt_on_success(a, wake_next, LWT_NOCTX);
    lwt_t *c = lwt_map(lwt_ref(b), map_double, LWT_NOCTX);
    lwt_wakeup(ra, LWT_INT(1));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 2);
    assert_int_equal(LWT_TO_INT(lwt_value(c)), 4);
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], 2);
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(c);
}

/* Each promise's callback wakes the next: deeper than the inline limit. */
#define RELAY 200
static lwt_resolver_t *relay_resolvers[RELAY];

static void relay_on(void *v, void *ctx)
{
    int i = *(int *)ctx;
    if (i + 1 < RELAY)
        lwt_wakeup(relay_resolvers[i + 1], LWT_INT(LWT_TO_INT(v) + 1));
}

static void relay_of_wakeups_completes(void **state)
{
    (void)state;
    lwt_t *ps[RELAY];
    for (int i = 0; i < RELAY; i++) {
        ps[i] = lwt_wait(&relay_resolvers[i]);
        lwt_on_success(ps[i], relay_on, LWT_CTX(i));
    }
    lwt_t *last = lwt_map(lwt_ref(ps[RELAY - 1]), map_double, LWT_NOCTX);
    lwt_wakeup(relay_resolvers[0], LWT_INT(0));
    drain();
    for (int i = 0; i < RELAY; i++) {
        assert_int_equal(LWT_TO_INT(lwt_value(ps[i])), i);
        lwt_unref(ps[i]);
    }
    assert_int_equal(LWT_TO_INT(lwt_value(last)), 2 * (RELAY - 1));
    lwt_unref(last);
}

static lwt_t *settled_source;

static void register_more(void *v, void *ctx)
{
    (void)ctx;
    see(LWT_TO_INT(v));
    /* The promise is settled by now: this one runs (soon) too. */
    lwt_on_success(settled_source, on_value, LWT_NOCTX);
}

static void callback_registers_on_its_own_promise(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    settled_source = lwt_wait(&r);
    lwt_on_success(settled_source, register_more, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(3));
    drain();
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0], 3);
    assert_int_equal(seen[1], 3);
    lwt_unref(settled_source);
    settled_source = NULL;
}

static lwt_t *bind_wakes_then_returns(void *v, void *ctx)
{
    (void)ctx;
    lwt_resolver_t *r;
    lwt_t *w = lwt_wait(&r);
    lwt_wakeup(r, LWT_INT(LWT_TO_INT(v) * 3));
    return w;
}

static void bind_returning_promise_it_woke(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_wait(&r), bind_wakes_then_returns, LWT_NOCTX);
    lwt_wakeup(r, LWT_INT(5));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 15);
    lwt_unref(p);
}

static lwt_resolver_t *late_resolver;

static lwt_t *bind_returns_late(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    return lwt_wait(&late_resolver);
}

static void wake_late(void *v, void *ctx)
{
    (void)ctx;
    lwt_wakeup(late_resolver, v);
}

static void callback_resolves_promise_returned_by_bind(void **state)
{
    (void)state;
    lwt_resolver_t *ra, *rb;
    lwt_t *a = lwt_wait(&ra);
    lwt_t *b = lwt_wait(&rb);
    lwt_t *p = lwt_bind(a, bind_returns_late, LWT_NOCTX);
    lwt_on_success(b, wake_late, LWT_NOCTX);
    lwt_wakeup(ra, NULL);
    drain();
    assert_pending(p);
    lwt_wakeup(rb, LWT_INT(44));
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(p)), 44);
    lwt_unref(b);
    lwt_unref(p);
}

static lwt_resolver_t *drop_me;

static void drop_other(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    lwt_resolver_drop(drop_me);
}

static void callback_drops_another_resolver(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *a = lwt_wait(&r);
    lwt_t *b = lwt_catch(lwt_wait(&drop_me), catch_recover, LWT_NOCTX);
    lwt_on_success(a, drop_other, LWT_NOCTX);
    lwt_wakeup(r, NULL);
    drain();
    assert_int_equal(LWT_TO_INT(lwt_value(b)), 1000);
    assert_int_equal(seen[0], -LWT_EBROKEN);
    lwt_unref(a);
    lwt_unref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(bind_on_fulfilled),
#ifndef LWT_DEFER_ALL
        T(bind_on_fulfilled_runs_at_once),
#endif
        T(bind_on_rejected_skips_callback),
        T(bind_on_pending_fulfilled),
        T(bind_on_pending_rejected_skips_callback),
        T(bind_callback_failure_rejects_result),
        T(bind_copies_context),
        T(bind_copies_large_context),
        T(bind_chain_on_pending),
        T(bind_on_fulfilled_leaves_caller_ctx),
        T(map_on_fulfilled_leaves_caller_ctx),
        T(catch_on_rejected_leaves_caller_ctx),
        T(try_bind_on_settled_leaves_caller_ctx),
        T(bind_on_fulfilled_leaves_large_caller_ctx),
        T(bind_on_pending_leaves_caller_ctx),
        T(map_on_fulfilled),
        T(map_on_rejected_skips_callback),
        T(map_on_pending),
        T(map_on_pending_rejected_skips_callback),
        T(map_copies_context),
        T(map_may_return_null),
        T(catch_on_fulfilled_passes_value),
        T(catch_on_rejected_recovers),
        T(catch_on_pending_rejected_recovers),
        T(catch_on_pending_fulfilled_passes_value),
        T(catch_handler_may_fail_again),
        T(catch_handles_cancellation),
        T(catch_copies_context),
        T(rejection_skips_chain_of_callbacks),
        T(pending_rejection_skips_chain_of_callbacks),
        T(catch_in_chain_recovers_and_continues),
        T(failure_in_middle_of_chain_skips_rest),
        T(try_bind_on_fulfilled_calls_f),
        T(try_bind_on_rejected_calls_h),
        T(try_bind_on_pending_fulfilled),
        T(try_bind_on_pending_rejected),
        T(try_bind_handler_failure_rejects),
        T(finalize_on_fulfilled),
        T(finalize_on_rejected),
        T(finalize_waits_for_source),
        T(finalize_runs_on_pending_failure),
        T(finalize_waits_for_pending_cleanup),
        T(finalize_pending_cleanup_keeps_source_error),
        T(finalize_pending_cleanup_failure_wins),
        T(finalize_cleanup_failure_overrides_value),
        T(finalize_cleanup_failure_overrides_error),
        T(finalize_runs_on_cancel),
        T(finalize_copies_context),
        T(bind_at_depth_limit_is_deferred),
        T(map_at_depth_limit_is_deferred),
        T(catch_at_depth_limit_is_deferred),
        T(try_bind_at_depth_limit_is_deferred),
        T(finalize_at_depth_limit_is_deferred),
        T(on_any_at_depth_limit_is_deferred),
        T(deferred_work_runs_in_order_across_kinds),
        T(cancel_bind_result_cancels_source),
        T(cancel_map_result_skips_callback),
        T(cancel_finalize_waiting_for_cleanup),
        T(cancel_catch_result_runs_handler),
        T(cancel_try_bind_result),
        T(on_success_on_pending),
        T(on_success_ignores_rejection),
        T(on_success_on_fulfilled),
        T(on_failure_on_pending),
        T(on_failure_ignores_fulfilment),
        T(on_failure_on_rejected),
        T(on_termination_on_both_outcomes),
        T(on_any_on_both_outcomes),
        T(on_any_on_settled),
        T(on_callbacks_copy_context),
        T(callbacks_run_in_registration_order),
        T(failure_callbacks_run_in_registration_order),
        T(async_handler_gets_error),
        T(async_handler_on_rejected),
        T(async_handler_copies_context),
        T(async_success_is_silent),
        T(async_without_handler_reports_rejection),
        T(async_without_handler_reports_later_rejection),
        T(async_keeps_pending_work_alive),
        T(random_graphs_match_model),
        T(callback_wakes_another_promise),
        T(relay_of_wakeups_completes),
        T(callback_registers_on_its_own_promise),
        T(bind_returning_promise_it_woke),
        T(callback_resolves_promise_returned_by_bind),
        T(callback_drops_another_resolver),
    };
    return RUN_TESTS(tests);
}
