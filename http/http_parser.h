/* The incremental HTTP/1.1 request parser (RFC 9112): bytes in, complete
 * requests out, with the refusals a server owes a malformed or hostile
 * client. Pure: no I/O, no clock; fuzzed (tests/fuzz/fuzz_http.c).
 *
 * The parser owns one input buffer of max_head_bytes + HTTP_PARSER_SLACK
 * bytes. The caller reads into it (http_parser_space, then
 * http_parser_commit, or http_parser_feed to copy) and calls
 * http_parser_run, which examines only the bytes it has not seen: a client
 * that sends one byte at a time costs O(1) per byte. The head stays where
 * it arrived (the request's strings point into it); body bytes are moved
 * out into a body buffer as they are decoded, so the input buffer never
 * needs to hold a body. Whatever follows a complete request stays buffered
 * for the next one (pipelining): http_parser_next moves it to the front.
 *
 * Strictness, and the status of each refusal:
 *  400  a request line that is not "token SP target SP HTTP/d.d"; a bare
 *       CR or LF anywhere in the head (CRLF only; empty lines before the
 *       request line are skipped); a NUL or other control character; an
 *       invalid token character in the method or a field name; whitespace
 *       before a colon; obs-fold (a line starting with SP or HTAB); both
 *       Content-Length and Transfer-Encoding; Content-Length that is not
 *       digits, overflows 64 bits, or whose values differ (several equal
 *       values, in one field or several, are folded into one);
 *       Transfer-Encoding whose last coding is not chunked, with chunked
 *       twice, empty, or in an HTTP/1.0 request; a malformed chunk (size
 *       not hex, overflow, a chunk line over HTTP_CHUNK_LINE_MAX, missing
 *       CRLF); no Host in HTTP/1.1, or more than one Host, or a Host with
 *       characters no host name has; a target with a fragment or bytes
 *       outside 0x21-0x7e; a malformed percent escape or %00 in the path;
 *       the asterisk form for anything but OPTIONS.
 *  413  Content-Length, or the chunks so far, past max_body_bytes (told as
 *       soon as the size is known, before the body is read).
 *  414  a target longer than max_target_bytes (told while it arrives).
 *  417  an Expect other than 100-continue.
 *  431  a head longer than max_head_bytes or with more than max_headers
 *       fields; trailers longer than max_head_bytes.
 *  501  a transfer coding other than chunked (we decode only chunked).
 *  505  a version other than 1.x. HTTP/1.x above 1.1 is served as 1.1.
 *  503  out of memory.
 *
 * Not done here: the path is decoded but not normalised ("..", "//" and
 * "%2F" reach the application as they are); trailer fields are checked and
 * dropped.
 */
#ifndef TESSERA_HTTP_PARSER_H
#define TESSERA_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "http_body.h"
#include "http_chunked.h"

#define HTTP_DEFAULT_MAX_HEAD    (8 * 1024)
#define HTTP_DEFAULT_MAX_HEADERS 100
#define HTTP_DEFAULT_MAX_TARGET  (4 * 1024)
#define HTTP_DEFAULT_MAX_BODY    (1024 * 1024)
/* Room past the head in the input buffer, so that body bytes and the next
 * pipelined request can arrive while a head of the maximum size is held. */
#define HTTP_PARSER_SLACK (8 * 1024)

enum http_parse {
    HTTP_PARSE_MORE,    /* give it more bytes */
    HTTP_PARSE_HEAD,    /* the head is complete and a body follows (told once,
                           for 100-continue); http_parser_request has the head */
    HTTP_PARSE_REQUEST, /* a complete request: http_parser_request */
    HTTP_PARSE_ERROR,   /* refused: http_parser_status; the parser is done */
};

struct http_parser {
    struct http_limits lim; /* ro: the defaults filled in */
    /* private below */
    uint8_t *buf;
    size_t cap, len; /* buffered bytes: buf[0..len) */
    size_t pos;      /* the next byte to examine */
    size_t line;     /* where the head's current line starts */
    size_t sp1, sp2; /* request line: 1 + the first and second SP's offsets, or 0 */
    size_t head_end; /* the body's first byte */
    int state;
    int status;
    struct http_header *headers;
    size_t nheaders, headers_cap;
    char *path;
    bool has_length, te_seen, te_chunked, te_chunked_last, te_other, te_twice;
    bool conn_close, conn_keep_alive, expect_continue;
    unsigned hosts;
    uint64_t length; /* Content-Length, then what is left of it */
    struct http_chunked chunked;
    struct http_body body;
    struct http_request req;
};

/* lim: NULL or zero fields for the defaults. 0 or -LWT_ENOMEM. */
int http_parser_init(struct http_parser *p, const struct http_limits *lim);
void http_parser_free(struct http_parser *p);

/* Where the next bytes may go and how many fit (never 0 while run says
 * MORE). Then commit how many were written there. */
size_t http_parser_space(struct http_parser *p, uint8_t **at);
void http_parser_commit(struct http_parser *p, size_t n);
/* Copies what fits of data; returns how many bytes it took. */
size_t http_parser_feed(struct http_parser *p, const void *data, size_t len);

enum http_parse http_parser_run(struct http_parser *p);

/* After HEAD (head only: body NULL) or REQUEST; valid until
 * http_parser_next or http_parser_free. peer is left zero. */
const struct http_request *http_parser_request(struct http_parser *p);
/* The status of the refusal after ERROR. */
int http_parser_status(const struct http_parser *p);
/* The request is HTTP/1.1 and asked for 100 Continue before its body. */
bool http_parser_expects_continue(const struct http_parser *p);
/* Bytes of a request (this or the next) have arrived and not been
 * answered yet. */
bool http_parser_started(const struct http_parser *p);
/* Body bytes have already arrived (no point in 100 Continue). */
bool http_parser_body_started(const struct http_parser *p);
/* After REQUEST: forgets the request, keeps the bytes that follow it. */
void http_parser_next(struct http_parser *p);

#endif
