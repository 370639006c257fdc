/* Shared set-up for cmocka unit tests of the portable layers.
 *
 * Every test group calls test_support_setup/teardown (as cmocka group or
 * per-test fixtures): the promise library's output goes to stderr (or to a
 * capture buffer), a panic becomes a cmocka failure via abort, and teardown
 * drains the deferred queue and asserts that no promise is left alive.
 */
#ifndef TESSERA_TEST_SUPPORT_H
#define TESSERA_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lwt.h"

/* Platform hooks for tests; output is also appended to test_output. */
void test_support_install_platform(void);
extern char test_output[8192];
extern size_t test_output_len;
void test_output_clear(void);

/* Runs the deferred queue until it is empty (what the scheduler would do). */
void drain(void);

/* cmocka fixtures: install the platform; assert nothing leaked. */
int test_setup(void **state);
int test_teardown(void **state);

/* Loop counts shrink under valgrind (TESSERA_UNDER_VALGRIND=1) so that the
 * memcheck run stays within minutes; the normal run uses full counts. */
size_t test_scale(size_t full, size_t under_valgrind);

/* Misuse panics abort; tests run them in a child process so that the test
 * runner survives. Whether fn returned is reported through a pipe, since a
 * memory checker may change the child's exit code. */
struct test_child {
    int status;    /* as from waitpid */
    bool returned; /* fn came back (rather than dying in it) */
};
struct test_child test_run_in_child(void (*fn)(void));
/* fn must die of SIGABRT (a panic) without returning. */
void test_expect_abort(void (*fn)(void));

#define assert_live_zero()  assert_int_equal(lwt_live_count(), 0)
#define assert_fulfilled(p) assert_int_equal(lwt_state(p), LWT_FULFILLED)
#define assert_rejected(p)  assert_int_equal(lwt_state(p), LWT_REJECTED)
#define assert_pending(p)   assert_int_equal(lwt_state(p), LWT_PENDING)

/* cmocka's group runner with our fixtures on every test. */
#define RUN_TESTS(tests) cmocka_run_group_tests(tests, NULL, NULL)
#define TEST(f)          cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

#endif
