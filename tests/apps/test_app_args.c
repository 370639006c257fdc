/* app_parse_port: the port numbers apps take on their command lines. */
#include "test_support.h"

#include "app.h"
#include "lwt_errno.h"

static void ports_in_range(void **state)
{
    (void)state;
    uint16_t p = 1;
    assert_int_equal(app_parse_port("0", 0, &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(app_parse_port("8080", 1, &p), 0);
    assert_int_equal(p, 8080);
    assert_int_equal(app_parse_port("65535", 1, &p), 0);
    assert_int_equal(p, 65535);
}

static void everything_else_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    const char *bad[] = {"", "0", "65536", "99999999999999999999", "-1", "+1", "80x", " 80", "8 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t p = 7;
        assert_int_equal(app_parse_port(bad[i], 1, &p), -LWT_EINVAL);
        assert_int_equal(p, 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ports_in_range),
        cmocka_unit_test(everything_else_is_refused_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
