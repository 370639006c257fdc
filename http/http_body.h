/* A growable byte buffer with a ceiling: where the request parser and the
 * client gather a body. Grows by doubling (malloc, copy, free: there is no
 * realloc in the freestanding subset), so appending is amortised O(1), and
 * nothing is reserved before the bytes arrive: a peer that announces a
 * large body and sends nothing costs us nothing. Private to http/. */
#ifndef TESSERA_HTTP_BODY_H
#define TESSERA_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>

struct http_body {
    uint8_t *data; /* owned; NULL while empty */
    size_t len, cap;
    size_t max; /* appending past it fails */
};

/* -LWT_EMSGSIZE past max (nothing appended), -LWT_ENOMEM. */
int http__body_append(struct http_body *b, const uint8_t *bytes, size_t n);
/* Forgets the bytes and frees the storage; max stays. */
void http__body_reset(struct http_body *b);

#endif
