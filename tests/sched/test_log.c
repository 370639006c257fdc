/* Logging: levels, per-source configuration, the early-boot ring. */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static char out[8192];
static size_t out_len;

static void capture(const char *text, size_t len)
{
    if (len > sizeof out - 1 - out_len)
        len = sizeof out - 1 - out_len;
    memcpy(out + out_len, text, len);
    out_len += len;
    out[out_len] = '\0';
}

static int setup(void **state)
{
    out_len = 0;
    out[0] = '\0';
    log_set_output(capture);
    log_configure("info");
    return test_setup(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, test_teardown)

static struct log_source alpha = LOG_SOURCE("alpha");
static struct log_source beta = LOG_SOURCE("beta");
static struct log_source late = LOG_SOURCE("late");

static void info_is_shown_debug_is_not(void **state)
{
    (void)state;
    log_info(&alpha, "hello %d", 1);
    log_debug(&alpha, "hidden %d", 2);
    assert_string_equal(out, "[info] alpha: hello 1\n");
}

static void error_always_shown(void **state)
{
    (void)state;
    assert_int_equal(log_configure("error"), 0);
    log_warn(&alpha, "no");
    log_error(&alpha, "yes");
    assert_string_equal(out, "[error] alpha: yes\n");
}

static void per_source_levels(void **state)
{
    (void)state;
    assert_int_equal(log_configure("warn,beta=debug"), 0);
    log_info(&alpha, "a");
    log_debug(&beta, "b");
    assert_string_equal(out, "[debug] beta: b\n");
}

static void named_level_applies_to_sources_seen_later(void **state)
{
    (void)state;
    assert_int_equal(log_configure("late=error"), 0);
    log_warn(&late, "dropped");
    log_error(&late, "kept");
    assert_string_equal(out, "[error] late: kept\n");
}

static void star_resets_every_source(void **state)
{
    (void)state;
    assert_int_equal(log_configure("alpha=debug"), 0);
    assert_int_equal(log_configure("*=warn"), 0);
    log_debug(&alpha, "gone");
    log_warn(&alpha, "seen");
    assert_string_equal(out, "[warn] alpha: seen\n");
}

static void bad_specs_are_refused_and_change_nothing(void **state)
{
    (void)state;
    static const char *const bad[] = {"loud", "alpha=", "=debug", "alpha=debug,", ",", "alpha=debug,beta=noisy", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(log_configure(bad[i]), -LWT_EINVAL);
    log_debug(&alpha, "still hidden");
    log_info(&alpha, "still info");
    assert_string_equal(out, "[info] alpha: still info\n");
}

static void too_many_named_sources_refused(void **state)
{
    (void)state;
    char spec[1024] = "";
    for (int i = 0; i < 20; i++) {
        char item[32];
        snprintf(item, sizeof item, "%ssrc%d=debug", i ? "," : "", i);
        strcat(spec, item);
    }
    assert_int_equal(log_configure(spec), -LWT_ENOSPC);
}

static void long_lines_are_cut_with_a_newline(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    log_info(&alpha, "%s", big);
    assert_true(out_len < 600);
    assert_int_equal(out[out_len - 1], '\n');
}

static char dumped[2 * LOG_RING_BYTES];
static size_t dumped_len;

static void dump_to(const char *text, size_t len)
{
    memcpy(dumped + dumped_len, text, len);
    dumped_len += len;
}

static void ring_keeps_the_latest_output_in_order(void **state)
{
    (void)state;
    log_set_output(NULL); /* the ring works without a console */
    for (int i = 0; i < 500; i++)
        log_info(&beta, "line %04d", i);
    dumped_len = 0;
    size_t n = log_ring_dump(dump_to);
    assert_int_equal(n, LOG_RING_BYTES);
    assert_int_equal(dumped_len, LOG_RING_BYTES);
    dumped[dumped_len] = '\0';
    assert_non_null(strstr(dumped, "[info] beta: line 0499\n"));
    assert_null(strstr(dumped, "line 0000"));
    /* Oldest first: 0498 comes before 0499. */
    assert_true(strstr(dumped, "line 0498") < strstr(dumped, "line 0499"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(info_is_shown_debug_is_not),
        T(error_always_shown),
        T(per_source_levels),
        T(named_level_applies_to_sources_seen_later),
        T(star_resets_every_source),
        T(bad_specs_are_refused_and_change_nothing),
        T(too_many_named_sources_refused),
        T(long_lines_are_cut_with_a_newline),
        T(ring_keeps_the_latest_output_in_order),
    };
    return RUN_TESTS(tests);
}
