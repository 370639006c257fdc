/* The chunked transfer coding (RFC 9112 §7.1), decoded incrementally: each
 * call takes whatever bytes have arrived, appends the data to a body and
 * keeps its place in a small state, so a body that trickles in costs O(1)
 * per byte. Strict: CRLF only, a size of hex digits (no whitespace), chunk
 * extensions skipped, trailer fields checked for form and discarded.
 * Private to http/ (the request parser and the client). */
#ifndef TESSERA_HTTP_CHUNKED_H
#define TESSERA_HTTP_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "http_body.h"

/* A chunk line (size and extensions) longer than this is refused (400). */
#define HTTP_CHUNK_LINE_MAX 1024

struct http_chunked {
    int state;            /* private */
    uint64_t left;        /* private: size digits, then data still to come */
    size_t line_bytes;    /* private: of the chunk line so far */
    size_t trailer_bytes; /* private: of the trailer section so far */
    size_t max_trailer;   /* the trailer section's bound (431 past it) */
};

#define HTTP_CHUNKED_MORE 0
#define HTTP_CHUNKED_DONE 1

void http__chunked_init(struct http_chunked *c, size_t max_trailer);
/* Decodes in[0..len), appending data to body; *used says how many bytes it
 * took (all of them unless the body ended). HTTP_CHUNKED_MORE,
 * HTTP_CHUNKED_DONE (*used: up to the end of the body), or the status of
 * a refusal: 400 (malformed), 413 (past body->max), 431 (trailers too
 * large), 503 (no memory). */
int http__chunked_decode(struct http_chunked *c, const uint8_t *in, size_t len, size_t *used, struct http_body *body);

#endif
