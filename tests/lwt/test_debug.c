/* Error descriptions and the pending-promise dump. Debug builds (LWT_DEBUG)
 * report creation and bind sites; release builds only the error, and the dump
 * is a one-line note there. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lwt_t *pass(void *v, void *ctx)
{
    (void)ctx;
    return lwt_return(v);
}

static void *ident(void *v, void *ctx)
{
    (void)ctx;
    return v;
}

/* Where needle occurs in hay, or -1. */
static long find(const char *hay, const char *needle)
{
    const char *at = strstr(hay, needle);
    return at ? (long)(at - hay) : -1;
}

static void describe(lwt_t *p, char *buf, size_t size)
{
    size_t n = lwt_describe_error(p, buf, size);
    assert_int_equal(n, strlen(buf));
}

/* ---- lwt_describe_error: both builds ------------------------------------- */

static void describe_names_the_error(void **state)
{
    (void)state;
    char buf[512];
    lwt_t *p = lwt_fail(LWT_ECONNREFUSED);
    describe(p, buf, sizeof buf);
    char want[64];
    snprintf(want, sizeof want, "error %d (connection refused)", -LWT_ECONNREFUSED);
    assert_int_equal(find(buf, want), 0);
    lwt_unref(p);
}

static void describe_broken_promise(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    lwt_resolver_drop(r);
    describe(p, buf, sizeof buf);
    assert_true(find(buf, lwt_strerror(LWT_EBROKEN)) > 0);
    lwt_unref(p);
}

static void describe_returns_needed_length(void **state)
{
    (void)state;
    char full[512], small[8];
    lwt_t *p = lwt_bind(lwt_fail(LWT_EIO), pass, LWT_NOCTX);
    size_t need = lwt_describe_error(p, full, sizeof full);
    assert_int_equal(need, strlen(full));
    memset(small, 'x', sizeof small);
    assert_int_equal(lwt_describe_error(p, small, sizeof small), need);
    assert_int_equal(small[sizeof small - 1], '\0');
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, full, sizeof small - 1);
    lwt_unref(p);
}

static void describe_with_no_room(void **state)
{
    (void)state;
    char full[512], one[1] = {'x'}, zero[1] = {'x'};
    lwt_t *p = lwt_fail(LWT_EIO);
    size_t need = lwt_describe_error(p, full, sizeof full);
    assert_int_equal(lwt_describe_error(p, one, 1), need);
    assert_int_equal(one[0], '\0');
    assert_int_equal(lwt_describe_error(p, zero, 0), need);
    assert_int_equal(zero[0], 'x'); /* size 0: nothing written */
    assert_int_equal(lwt_describe_error(p, NULL, 0), need);
    lwt_unref(p);
}

static lwt_resolver_t *inner_resolver;
static lwt_t *inner_handle;

static lwt_t *return_inner(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    lwt_t *w = lwt_wait(&inner_resolver);
    inner_handle = lwt_ref(w);
    return w;
}

static void describe_through_proxy(void **state)
{
    (void)state;
    char a[512], b[512];
    lwt_resolver_t *r;
    lwt_t *q = lwt_bind(lwt_wait(&r), return_inner, LWT_NOCTX);
    lwt_wakeup(r, NULL);
    drain();
    /* inner_handle is now merged into q; both describe the same rejection. */
    lwt_wakeup_fail(inner_resolver, LWT_EIO);
    drain();
    describe(q, a, sizeof a);
    describe(inner_handle, b, sizeof b);
    assert_string_equal(a, b);
    assert_true(find(a, lwt_strerror(LWT_EIO)) > 0);
    lwt_unref(inner_handle);
    inner_handle = NULL;
    lwt_unref(q);
}

static void null_platform_discards_output(void **state)
{
    (void)state;
    lwt_set_platform(NULL);
    lwt_async(lwt_fail(LWT_EIO), NULL, LWT_NOCTX);
    drain();
    lwt_dump_pending();
    test_support_install_platform();
    assert_int_equal(test_output_len, 0);
}

static void unhandled_report_is_one_line_per_rejection(void **state)
{
    (void)state;
    lwt_async(lwt_fail(LWT_EIO), NULL, LWT_NOCTX);
    lwt_async(lwt_fail(LWT_EPIPE), NULL, LWT_NOCTX);
    drain();
    size_t lines = 0;
    for (size_t i = 0; i < test_output_len; i++)
        lines += test_output[i] == '\n';
    assert_int_equal(lines, 2);
    assert_int_equal(test_output[test_output_len - 1], '\n');
    assert_true(find(test_output, lwt_strerror(LWT_EIO)) >= 0);
    assert_true(find(test_output, lwt_strerror(LWT_EPIPE)) > find(test_output, lwt_strerror(LWT_EIO)));
}

/* ---- lwt_report_rejection: both builds ---------------------------------- */

static void report_is_one_line_with_what_and_description(void **state)
{
    (void)state;
    char desc[512], want[640];
    lwt_t *p = lwt_bind(lwt_fail(LWT_EPROTO), pass, LWT_NOCTX);
    describe(p, desc, sizeof desc);
    snprintf(want, sizeof want, "lwt: main went wrong: %s\n", desc);
    lwt_report_rejection(p, "main went wrong");
    assert_string_equal(test_output, want);
    lwt_unref(p);
}

static void report_of_unrejected_writes_nothing(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *pending = lwt_wait(&r);
    lwt_t *ok = lwt_return(LWT_INT(1));
    lwt_report_rejection(pending, "x");
    lwt_report_rejection(ok, "x");
    assert_int_equal(test_output_len, 0);
    lwt_wakeup(r, NULL);
    lwt_unref(pending);
    lwt_unref(ok);
}

/* A chain far longer than any fixed line buffer is written whole. */
static void report_of_a_long_chain_is_whole(void **state)
{
    (void)state;
    enum { BINDS = 60 };
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    for (int i = 0; i < BINDS; i++)
        p = lwt_bind(p, pass, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    size_t need = lwt_describe_error(p, NULL, 0);
    char *desc = malloc(need + 1);
    assert_non_null(desc);
    describe(p, desc, need + 1);
    lwt_report_rejection(p, "long");
    assert_int_equal(test_output_len, strlen("lwt: long: ") + need + 1);
    assert_memory_equal(test_output + strlen("lwt: long: "), desc, need);
    assert_int_equal(test_output[test_output_len - 1], '\n');
#ifdef LWT_DEBUG
    assert_true(need > 1024); /* every site is there */
#endif
    free(desc);
    lwt_unref(p);
}

#ifdef LWT_DEBUG

/* ---- Debug builds: sites ------------------------------------------------- */

static lwt_t *fail_enoent(void *v, void *ctx)
{
    (void)v;
    (void)ctx;
    return lwt_fail(LWT_ENOENT);
}

static lwt_t *cleanup(void *ctx)
{
    (void)ctx;
    return lwt_return(NULL);
}

/* "test_debug.c:<line>" as the library prints a site of this file. */
static const char *site(int line)
{
    static char buf[8][64];
    static int next;
    char *s = buf[next++ % 8];
    snprintf(s, sizeof buf[0], "test_debug.c:%d", line);
    return s;
}

static void describe_gives_creation_site(void **state)
{
    (void)state;
    char buf[512];
    int line = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_fail(LWT_EIO);
    describe(p, buf, sizeof buf);
    assert_true(find(buf, "rejected at") > 0);
    assert_true(find(buf, site(line)) > 0);
    lwt_unref(p);
}

static void describe_gives_wait_site_after_wakeup_fail(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    int line = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_wait(&r);
    lwt_wakeup_fail(r, LWT_EPIPE);
    describe(p, buf, sizeof buf);
    assert_true(find(buf, site(line)) > 0);
    assert_int_equal(find(buf, "bind at"), -1); /* no bind passed */
    lwt_unref(p);
}

static void describe_lists_bind_sites_of_settled_chain(void **state)
{
    (void)state;
    char buf[512];
    lwt_t *p = lwt_fail(LWT_EIO);
    int l1 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    int l2 = __LINE__ + 1; /* the call below */
    p = lwt_map(p, ident, LWT_NOCTX);
    int l3 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    describe(p, buf, sizeof buf);
    long s1 = find(buf, site(l1)), s2 = find(buf, site(l2)), s3 = find(buf, site(l3));
    assert_true(find(buf, "through bind at") > 0);
    /* Newest first. */
    assert_true(s3 > 0);
    assert_true(s2 > s3);
    assert_true(s1 > s2);
    lwt_unref(p);
}

static void describe_lists_bind_sites_of_pending_chain(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    int l1 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    int l2 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_ETIMEDOUT);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(find(buf, lwt_strerror(LWT_ETIMEDOUT)) > 0);
    long s1 = find(buf, site(l1)), s2 = find(buf, site(l2));
    assert_true(find(buf, "through bind at") > 0);
    assert_true(s2 > 0);
    assert_true(s1 > s2);
    lwt_unref(p);
}

static void describe_lists_site_where_callback_failed(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    p = lwt_bind(p, fail_enoent, LWT_NOCTX);
    int l2 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    lwt_wakeup(r, NULL);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(find(buf, lwt_strerror(LWT_ENOENT)) > 0);
    assert_true(find(buf, site(l2)) > 0);
    lwt_unref(p);
}

/* ---- Debug builds: where a rejection began, and nested binds ------------- */

static int origin_line; /* where fail_eproto made its rejection */

static lwt_t *fail_eproto(void *v, void *ctx)
{
    (void)v, (void)ctx;
    origin_line = __LINE__ + 1; /* the call below */
    return lwt_fail(LWT_EPROTO);
}

/* Whether description buf says "rejected at" this file's line. */
static bool rejected_at(const char *buf, int line)
{
    const char *at = strstr(buf, "rejected at ");
    if (!at)
        return false;
    const char *end = strchr(at, ';');
    const char *s = strstr(at, site(line));
    return s && (!end || s < end) && s[strlen(site(line))] == (end ? ';' : '\0');
}

static void describe_names_where_the_rejection_began(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    int l1 = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_bind(lwt_wait(&r), fail_eproto, LWT_NOCTX);
    int l2 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    lwt_wakeup(r, NULL);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(rejected_at(buf, origin_line));
    /* Out through the bind whose continuation failed, then the next one. */
    long s1 = find(buf, site(l1)), s2 = find(buf, site(l2));
    assert_true(s2 > find(buf, "through bind at"));
    assert_true(s1 > s2);
    lwt_unref(p);
}

/* Three levels, each continuation returning a pending bind, as an app's
 * request/reply code does: those promises are merged into the outer one,
 * and the rejection still names each of them, innermost last. */
static lwt_resolver_t *nested_r[3];
static int nested_line[3];

static lwt_t *nested_level2(void *v, void *ctx)
{
    (void)v, (void)ctx;
    nested_line[2] = __LINE__ + 1; /* the call below */
    return lwt_bind(lwt_wait(&nested_r[2]), fail_eproto, LWT_NOCTX);
}

static lwt_t *nested_level1(void *v, void *ctx)
{
    (void)v, (void)ctx;
    nested_line[1] = __LINE__ + 1; /* the call below */
    return lwt_bind(lwt_wait(&nested_r[1]), nested_level2, LWT_NOCTX);
}

static void describe_lists_merged_nested_binds(void **state)
{
    (void)state;
    char buf[1024];
    nested_line[0] = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_bind(lwt_wait(&nested_r[0]), nested_level1, LWT_NOCTX);
    for (int i = 0; i < 3; i++) {
        lwt_wakeup(nested_r[i], NULL);
        drain();
    }
    describe(p, buf, sizeof buf);
    assert_true(find(buf, lwt_strerror(LWT_EPROTO)) > 0);
    assert_true(rejected_at(buf, origin_line));
    long s0 = find(buf, site(nested_line[0])), s1 = find(buf, site(nested_line[1])),
         s2 = find(buf, site(nested_line[2]));
    assert_true(s0 > find(buf, "through bind at"));
    assert_true(s1 > s0);
    assert_true(s2 > s1);
    lwt_unref(p);
}

static lwt_resolver_t *merged_wait_r;
static int merged_wait_line;

static lwt_t *return_a_wait(void *v, void *ctx)
{
    (void)v, (void)ctx;
    merged_wait_line = __LINE__ + 1; /* the call below */
    return lwt_wait(&merged_wait_r);
}

static void describe_names_a_merged_wait_rejected_later(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    int l1 = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_bind(lwt_wait(&r), return_a_wait, LWT_NOCTX);
    lwt_wakeup(r, NULL);
    drain();
    lwt_wakeup_fail(merged_wait_r, LWT_EIO);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(rejected_at(buf, merged_wait_line));
    assert_true(find(buf, site(l1)) > find(buf, "; through bind at"));
    lwt_unref(p);
}

/* A recursive loop merges each step into its first promise: what the
 * rejection records of them stays bounded, and a repeated site is named
 * once. With `distinct`, each step's bind claims one of 20 made-up lines,
 * more than are kept. */
struct steps {
    int left;
    bool distinct;
};

enum { LOOP_LINE = 10000, LOOP_SITES = 20 };

static lwt_t *loop_step(void *v, void *ctx);

static lwt_t *loop_next(struct steps *s)
{
    if (s->left-- == 0)
        return lwt_fail(LWT_EIO);
    lwt_resolver_t *r;
    lwt_t *w = lwt_wait(&r);
    int line = s->distinct ? LOOP_LINE + 1 + s->left % LOOP_SITES : LOOP_LINE;
    lwt_t *next = lwt__bind(__FILE__, line, w, loop_step, s, sizeof *s);
    lwt_wakeup_later(r, NULL);
    return next;
}

static lwt_t *loop_step(void *v, void *ctx)
{
    (void)v;
    return loop_next(ctx);
}

static size_t occurrences(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *at = hay; (at = strstr(at, needle)); at++)
        n++;
    return n;
}

static void merged_sites_of_a_loop_stay_bounded(void **state)
{
    (void)state;
    char buf[4096];
    for (int distinct = 0; distinct < 2; distinct++) {
        struct steps s = {1000, distinct};
        lwt_t *p = loop_next(&s);
        /* The peak of the second half is no higher than the first's. */
        size_t peak[2] = {0, 0};
        for (int i = 0; i < 1000; i++) {
            lwt_run_deferred(1);
            size_t m = lwt_memory_in_use();
            if (m > peak[i >= 500])
                peak[i >= 500] = m;
        }
        assert_true(peak[1] <= peak[0]);
        drain();
        describe(p, buf, sizeof buf);
        size_t sites = occurrences(buf, "bind at");
        if (!distinct) {
            assert_int_equal(sites, 1);
            assert_int_equal(occurrences(buf, site(LOOP_LINE)), 1);
        } else {
            /* The first step, and the last few, where it failed. */
            assert_true(sites >= 4);
            assert_true(sites <= 10);
            assert_int_equal(occurrences(buf, site(LOOP_LINE + 1 + 999 % LOOP_SITES)), 1);
            assert_int_equal(occurrences(buf, site(LOOP_LINE + 1 + 0 % LOOP_SITES)), 1);
        }
        lwt_unref(p);
    }
}

static void describe_lists_finalize_site(void **state)
{
    (void)state;
    char buf[512];
    lwt_resolver_t *r;
    int l1 = __LINE__ + 1; /* the call below */
    lwt_t *p = lwt_finalize(lwt_wait(&r), cleanup, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(find(buf, site(l1)) > 0);
    lwt_unref(p);
}

static lwt_t *fail_again(int err, void *ctx)
{
    (void)err;
    (void)ctx;
    return lwt_fail(LWT_EACCES);
}

static void new_error_from_handler_starts_new_trace(void **state)
{
    (void)state;
    char buf[512];
    lwt_t *p = lwt_fail(LWT_EIO);
    int l1 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    p = lwt_catch(p, fail_again, LWT_NOCTX);
    drain();
    describe(p, buf, sizeof buf);
    assert_true(find(buf, lwt_strerror(LWT_EACCES)) > 0);
    /* EACCES never went through the bind that EIO passed. */
    assert_int_equal(find(buf, site(l1)), -1);
    lwt_unref(p);
}

static void unhandled_report_includes_bind_sites(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    int l1 = __LINE__ + 1; /* the call below */
    p = lwt_bind(p, pass, LWT_NOCTX);
    lwt_async(p, NULL, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_EIO);
    drain();
    assert_true(find(test_output, "unhandled rejection") >= 0);
    assert_true(find(test_output, site(l1)) > 0);
}

/* ---- Debug builds: the pending dump -------------------------------------- */

static void dump_pending_counts_and_names_sites(void **state)
{
    (void)state;
    lwt_resolver_t *r1, *r2, *r3;
    int l1 = __LINE__ + 1; /* the call below */
    lwt_t *a = lwt_wait(&r1);
    int l2 = __LINE__ + 1; /* the call below */
    lwt_t *b = lwt_task(&r2);
    int l3 = __LINE__ + 1; /* the call below */
    lwt_t *c = lwt_bind(lwt_wait(&r3), pass, LWT_NOCTX);
    lwt_t *settled = lwt_return(LWT_INT(1));
    test_output_clear();
    assert_int_equal(lwt_dump_pending(), 4); /* c's source is pending too */
    assert_true(find(test_output, site(l1)) >= 0);
    assert_true(find(test_output, site(l2)) >= 0);
    assert_true(find(test_output, site(l3)) >= 0);
    assert_true(find(test_output, "4 pending") >= 0);
    lwt_wakeup(r1, NULL);
    lwt_wakeup(r2, NULL);
    lwt_wakeup(r3, NULL);
    drain();
    lwt_unref(a);
    lwt_unref(b);
    lwt_unref(c);
    lwt_unref(settled);
}

static void dump_pending_skips_settled(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *a = lwt_wait(&r);
    int line = __LINE__ + 1; /* the call below */
    lwt_t *f = lwt_fail(LWT_EIO);
    lwt_t *v = lwt_return(LWT_INT(3));
    test_output_clear();
    assert_int_equal(lwt_dump_pending(), 1);
    assert_int_equal(find(test_output, site(line)), -1);
    lwt_wakeup(r, NULL);
    test_output_clear();
    assert_int_equal(lwt_dump_pending(), 0);
    assert_true(find(test_output, "0 pending") >= 0);
    lwt_unref(a);
    lwt_unref(f);
    lwt_unref(v);
}

static void dump_pending_follows_progress(void **state)
{
    (void)state;
    lwt_resolver_t *r[5];
    lwt_t *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = lwt_wait(&r[i]);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lwt_dump_pending(), (size_t)(5 - i));
        lwt_wakeup(r[i], NULL);
    }
    assert_int_equal(lwt_dump_pending(), 0);
    for (int i = 0; i < 5; i++)
        lwt_unref(p[i]);
}

#else

/* ---- Release builds: the documented reduced behaviour --------------------- */

static void describe_is_only_the_error(void **state)
{
    (void)state;
    char buf[512], want[64];
    lwt_resolver_t *r;
    lwt_t *p = lwt_bind(lwt_bind(lwt_wait(&r), pass, LWT_NOCTX), pass, LWT_NOCTX);
    lwt_wakeup_fail(r, LWT_ETIMEDOUT);
    drain();
    describe(p, buf, sizeof buf);
    snprintf(want, sizeof want, "error %d (%s)", -LWT_ETIMEDOUT, lwt_strerror(LWT_ETIMEDOUT));
    assert_string_equal(buf, want);
    assert_int_equal(find(buf, "test_debug.c"), -1);
    lwt_unref(p);
}

static void describe_settled_chain_is_only_the_error(void **state)
{
    (void)state;
    char buf[512], want[64];
    lwt_t *p = lwt_map(lwt_bind(lwt_fail(LWT_EIO), pass, LWT_NOCTX), ident, LWT_NOCTX);
    describe(p, buf, sizeof buf);
    snprintf(want, sizeof want, "error %d (%s)", -LWT_EIO, lwt_strerror(LWT_EIO));
    assert_string_equal(buf, want);
    lwt_unref(p);
}

static void unhandled_report_has_no_sites(void **state)
{
    (void)state;
    lwt_async(lwt_bind(lwt_fail(LWT_EIO), pass, LWT_NOCTX), NULL, LWT_NOCTX);
    drain();
    assert_true(find(test_output, "unhandled rejection") >= 0);
    assert_int_equal(find(test_output, "test_debug.c"), -1);
}

static void dump_pending_is_a_note(void **state)
{
    (void)state;
    lwt_resolver_t *r;
    lwt_t *p = lwt_wait(&r);
    test_output_clear();
    assert_int_equal(lwt_dump_pending(), 0);
    assert_true(test_output_len > 0);
    assert_non_null(strchr(test_output, '\n'));
    assert_int_equal(strchr(test_output, '\n') - test_output + 1, (long)test_output_len); /* one line */
    assert_int_equal(find(test_output, "test_debug.c"), -1);
    lwt_wakeup(r, NULL);
    lwt_unref(p);
}

static void dump_pending_with_nothing_pending(void **state)
{
    (void)state;
    test_output_clear();
    assert_int_equal(lwt_dump_pending(), 0);
    assert_true(test_output_len > 0);
}

#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(describe_names_the_error),
        TEST(describe_broken_promise),
        TEST(describe_returns_needed_length),
        TEST(describe_with_no_room),
        TEST(describe_through_proxy),
        TEST(null_platform_discards_output),
        TEST(unhandled_report_is_one_line_per_rejection),
        TEST(report_is_one_line_with_what_and_description),
        TEST(report_of_unrejected_writes_nothing),
        TEST(report_of_a_long_chain_is_whole),
#ifdef LWT_DEBUG
        TEST(describe_gives_creation_site),
        TEST(describe_gives_wait_site_after_wakeup_fail),
        TEST(describe_lists_bind_sites_of_settled_chain),
        TEST(describe_lists_bind_sites_of_pending_chain),
        TEST(describe_lists_site_where_callback_failed),
        TEST(describe_names_where_the_rejection_began),
        TEST(describe_lists_merged_nested_binds),
        TEST(describe_names_a_merged_wait_rejected_later),
        TEST(merged_sites_of_a_loop_stay_bounded),
        TEST(describe_lists_finalize_site),
        TEST(new_error_from_handler_starts_new_trace),
        TEST(unhandled_report_includes_bind_sites),
        TEST(dump_pending_counts_and_names_sites),
        TEST(dump_pending_skips_settled),
        TEST(dump_pending_follows_progress),
#else
        TEST(describe_is_only_the_error),
        TEST(describe_settled_chain_is_only_the_error),
        TEST(unhandled_report_has_no_sites),
        TEST(dump_pending_is_a_note),
        TEST(dump_pending_with_nothing_pending),
#endif
    };
    return RUN_TESTS(tests);
}
