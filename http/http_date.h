/* IMF-fixdate (RFC 9110 §5.6.7), the only date format HTTP/1.1 senders
 * generate: "Sun, 06 Nov 1994 08:49:37 GMT". Private to http/. */
#ifndef TESSERA_HTTP_DATE_H
#define TESSERA_HTTP_DATE_H

#include <stdint.h>

#define HTTP_DATE_LEN 29

/* Writes the date of secs (since the epoch, UTC) and a NUL into out.
 * Years outside 0..9999 are clamped to its ends. */
void http__date_format(int64_t secs, char out[HTTP_DATE_LEN + 1]);

#endif
