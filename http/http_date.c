/* See http_date.h. Civil dates from day numbers and back with Howard
 * Hinnant's era algorithms (eras of 400 years from 0000-03-01): exact, no
 * tables. */
#include "http_date.h"

#include <string.h>

static const char wdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* 1970-01-01: a Thursday */
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct civil {
    int64_t year;
    unsigned month, day, hour, min, sec, wday; /* month 1..12 */
};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static struct civil to_civil(int64_t secs)
{
    /* 0000-01-01 and 9999-12-31 23:59:59, so that the year has 4 digits. */
    const int64_t first = -62167219200, last = 253402300799;
    secs = secs < first ? first : secs > last ? last : secs;
    int64_t days = floor_div(secs, 86400), rem = secs - days * 86400;
    struct civil c = {.hour = (unsigned)(rem / 3600), .min = (unsigned)(rem / 60 % 60), .sec = (unsigned)(rem % 60)};
    c.wday = (unsigned)(days - floor_div(days, 7) * 7);
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c.day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    c.month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    c.year = yoe + era * 400 + (c.month <= 2);
    return c;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static char *two(char *at, unsigned v)
{
    at[0] = (char)('0' + v / 10 % 10);
    at[1] = (char)('0' + v % 10);
    return at + 2;
}

static char *put(char *at, const char *s, size_t n)
{
    memcpy(at, s, n);
    return at + n;
}

static char *year4(char *at, int64_t year)
{
    return two(two(at, (unsigned)(year / 100)), (unsigned)(year % 100));
}

static char *clock_time(char *at, const struct civil *c)
{
    at = two(at, c->hour);
    *at++ = ':';
    at = two(at, c->min);
    *at++ = ':';
    return two(at, c->sec);
}

void http_date_format(int64_t secs, char out[HTTP_DATE_LEN + 1])
{
    struct civil c = to_civil(secs);
    char *at = put(out, wdays[c.wday], 3);
    at = put(at, ", ", 2);
    at = two(at, c.day);
    *at++ = ' ';
    at = put(at, months[c.month - 1], 3);
    *at++ = ' ';
    at = year4(at, c.year);
    *at++ = ' ';
    at = clock_time(at, &c);
    at = put(at, " GMT", 4);
    *at = '\0';
}

void http_date_clf(int64_t secs, char out[HTTP_DATE_CLF_LEN + 1])
{
    struct civil c = to_civil(secs);
    char *at = two(out, c.day);
    *at++ = '/';
    at = put(at, months[c.month - 1], 3);
    *at++ = '/';
    at = year4(at, c.year);
    *at++ = ':';
    at = clock_time(at, &c);
    at = put(at, " +0000", 6);
    *at = '\0';
}

static bool digits(const char *s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool http_date_parse(const char *s, size_t len, int64_t *secs)
{
    /* Fixed width: "Sun, 06 Nov 1994 08:49:37 GMT". */
    if (len != HTTP_DATE_LEN || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
        return false;
    int wday = -1, month = -1;
    for (int i = 0; i < 7; i++)
        if (memcmp(s, wdays[i], 3) == 0)
            wday = i;
    for (int i = 0; i < 12; i++)
        if (memcmp(s + 8, months[i], 3) == 0)
            month = i + 1;
    unsigned day, year, hour, min, sec;
    if (wday < 0 || month < 0 || !digits(s + 5, 2, &day) || !digits(s + 12, 4, &year) || !digits(s + 17, 2, &hour) ||
        !digits(s + 20, 2, &min) || !digits(s + 23, 2, &sec) || day < 1 || hour > 23 || min > 59 || sec > 60)
        return false;
    int64_t days = days_from_civil(year, (unsigned)month, day);
    struct civil c = to_civil(days * 86400);
    if (c.day != day || c.month != (unsigned)month)
        return false; /* 31 Feb and the like */
    /* The weekday is redundant; a wrong one is ignored, as most servers do. */
    *secs = days * 86400 + hour * 3600 + min * 60 + (sec == 60 ? 59 : sec);
    return true;
}
