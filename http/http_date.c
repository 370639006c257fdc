#include "http_date.h"

static void two(char *at, unsigned v)
{
    at[0] = (char)('0' + v / 10 % 10);
    at[1] = (char)('0' + v % 10);
}

void http__date_format(int64_t secs, char out[HTTP_DATE_LEN + 1])
{
    static const char wdays[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* 0000-01-01 and 9999-12-31 23:59:59, so that the year has 4 digits. */
    const int64_t first = -62167219200, last = 253402300799;
    if (secs < first)
        secs = first;
    if (secs > last)
        secs = last;
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* Howard Hinnant's civil_from_days: eras of 400 years from 0000-03-01. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    unsigned day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    int64_t year = yoe + era * 400 + (month <= 2);
    int64_t wday = days % 7;
    if (wday < 0)
        wday += 7;

    const char *w = wdays[wday], *m = months[month - 1];
    out[0] = w[0], out[1] = w[1], out[2] = w[2];
    out[3] = ',', out[4] = ' ';
    two(out + 5, day);
    out[7] = ' ';
    out[8] = m[0], out[9] = m[1], out[10] = m[2];
    out[11] = ' ';
    two(out + 12, (unsigned)(year / 100));
    two(out + 14, (unsigned)(year % 100));
    out[16] = ' ';
    two(out + 17, (unsigned)(rem / 3600));
    out[19] = ':';
    two(out + 20, (unsigned)(rem / 60 % 60));
    out[22] = ':';
    two(out + 23, (unsigned)(rem % 60));
    out[25] = ' ', out[26] = 'G', out[27] = 'M', out[28] = 'T';
    out[29] = '\0';
}
