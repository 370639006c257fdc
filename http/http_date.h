/* Dates as HTTP writes them: IMF-fixdate (RFC 9110 §5.6.7), the only
 * format HTTP/1.1 senders generate, "Sun, 06 Nov 1994 08:49:37 GMT"; and
 * the access log's, "06/Nov/1994:08:49:37 +0000" (common log format).
 * Seconds since the epoch, UTC, no leap seconds (as POSIX time); no libc
 * time functions (the image has none). */
#ifndef TESSERA_HTTP_DATE_H
#define TESSERA_HTTP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_DATE_LEN     29
#define HTTP_DATE_CLF_LEN 26

/* Writes the date of secs and a NUL into out. Years outside 0..9999 are
 * clamped to its ends. */
void http_date_format(int64_t secs, char out[HTTP_DATE_LEN + 1]);
void http_date_clf(int64_t secs, char out[HTTP_DATE_CLF_LEN + 1]);
/* Parses an IMF-fixdate (len bytes, no NUL needed); false for anything
 * else, the obsolete formats included (a recipient may ignore those,
 * RFC 9110 §13.1.3), and for dates that do not exist (31 Feb). */
bool http_date_parse(const char *s, size_t len, int64_t *secs);

#endif
