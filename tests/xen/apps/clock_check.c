/* clock-check (a test program): measures a 1 s sleep with the platform's
 * monotonic clock, and prints the date of the wall clock, so that a test
 * can compare both with the host's. */
#include "app.h"
#include "scheduler.h"
#include "wallclock.h"

struct clock_check {
    const struct app_devices *dev;
    uint64_t started;
};

/* Days since 1970-01-01 to a civil date (the proleptic Gregorian
 * calendar, days >= 0). */
static void civil_from_days(int64_t days, int *year, unsigned *month, unsigned *day)
{
    days += 719468;
    int64_t era = days / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int)(yoe + era * 400) + (*month <= 2);
}

static lwt_t *report(void *v, void *ctx)
{
    (void)v;
    struct clock_check *c = ctx;
    uint64_t slept = sched_now() - c->started;
    app_print(c->dev, "slept: %llu ms by the monotonic clock", (unsigned long long)(slept / SCHED_NS_PER_MS));
    if (c->dev->clock) {
        int year;
        unsigned month, day;
        civil_from_days(wallclock_now_s(c->dev->clock) / 86400, &year, &month, &day);
        app_print(c->dev, "wall clock date: %04d-%02u-%02u", year, month, day);
    }
    return lwt_return(NULL);
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    (void)argc, (void)argv;
    struct clock_check c = {dev, sched_now()};
    return lwt_bind(sched_sleep(SCHED_NS_PER_S), report, LWT_CTX(c));
}
