/* The Unix wall clock: the time of day, in step with the kernel's. */
#include "test_support.h"

#include <time.h>

#include "unix_wallclock.h"

static void agrees_with_time(void **state)
{
    (void)state;
    struct wallclock *c = unix_wallclock();
    assert_ptr_equal(c, unix_wallclock());
    time_t before = time(NULL);
    int64_t s = wallclock_now_s(c);
    int64_t ns = wallclock_now_ns(c);
    time_t after = time(NULL);
    assert_true(s >= (int64_t)before && s <= (int64_t)after);
    assert_true(ns / 1000000000 >= s && ns / 1000000000 <= (int64_t)after);
    /* Well after 2020, whatever the machine: nanoseconds, not seconds. */
    assert_true(ns > 1577836800ll * 1000000000ll);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(agrees_with_time),
    };
    return RUN_TESTS(tests);
}
