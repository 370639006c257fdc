/* The HTTP request parser under libFuzzer (LLVMFuzzerTestOneInput), and
 * under the replay driver in fuzz_http_replay.c.
 *
 * An input's first byte picks the limits (the defaults, or small ones that
 * the input can reach) and how the rest is cut into pieces; the rest is
 * the byte stream a client sends. The harness parses the stream twice, all
 * at once and in those pieces, and checks that both give the same
 * requests and the same refusal; along the way, that every request is
 * well formed (a NUL-terminated path, strings inside the input buffer,
 * lengths within the limits) and every refusal one of the statuses the
 * parser documents. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A running digest of what the parser produced. */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_http: %s\n", what);
        abort();
    }
}

static bool inside(const struct http_parser *p, const void *s, size_t n)
{
    const uint8_t *b = s;
    return b >= p->buf && b + n <= p->buf + p->cap;
}

static uint64_t digest_request(const struct http_parser *p, const struct http_request *r, uint64_t h)
{
    check(r->version == 10 || r->version == 11, "version");
    check(inside(p, r->method_str, r->method_len) && r->method_len > 0, "method");
    check(inside(p, r->target, r->target_len) && r->target_len <= p->lim.max_target_bytes, "target");
    check(r->path && strlen(r->path) == r->path_len, "path");
    check(!r->query || inside(p, r->query, r->query_len), "query");
    check(r->nheaders <= p->lim.max_headers, "header count");
    for (size_t i = 0; i < r->nheaders; i++) {
        const struct http_header *hd = &r->headers[i];
        check(inside(p, hd->name, hd->name_len) && inside(p, hd->value, hd->value_len), "header");
        check(memchr(hd->value, '\r', hd->value_len) == NULL && memchr(hd->value, '\n', hd->value_len) == NULL,
              "CR or LF in a value");
        h = mix(h, hd->name, hd->name_len);
        h = mix(h, hd->value, hd->value_len);
    }
    check(r->body_len <= p->lim.max_body_bytes, "body length");
    check((r->body == NULL) == (r->body_len == 0), "body pointer");
    h = mix(h, &r->method, sizeof r->method);
    h = mix(h, r->target, r->target_len);
    h = mix(h, r->path, r->path_len);
    h = mix(h, &r->keep_alive, sizeof r->keep_alive);
    h = mix(h, &r->version, sizeof r->version);
    if (r->body)
        h = mix(h, r->body, r->body_len);
    return h;
}

/* Parses in pieces of step bytes (0: as much as fits); returns a digest of
 * the requests and the refusal. */
static uint64_t parse(const uint8_t *in, size_t len, size_t step, const struct http_limits *lim)
{
    struct http_parser p;
    if (http_parser_init(&p, lim) < 0)
        abort();
    uint64_t h = 0xcbf29ce484222325ull;
    size_t off = 0;
    unsigned requests = 0;
    for (;;) {
        enum http_parse r = http_parser_run(&p);
        if (r == HTTP_PARSE_HEAD) {
            check(!http_parser_request(&p)->body, "a body with the head");
            continue;
        }
        if (r == HTTP_PARSE_REQUEST) {
            h = digest_request(&p, http_parser_request(&p), h);
            requests++;
            http_parser_next(&p);
            continue;
        }
        if (r == HTTP_PARSE_ERROR) {
            int s = http_parser_status(&p);
            check(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505, "status");
            h = mix(h, &s, sizeof s);
            break;
        }
        if (off == len)
            break;
        uint8_t *at;
        size_t room = http_parser_space(&p, &at);
        check(room > 0, "no room while more is wanted");
        size_t n = len - off;
        if (step && n > step)
            n = step;
        if (n > room)
            n = room;
        memcpy(at, in + off, n);
        http_parser_commit(&p, n);
        off += n;
    }
    h = mix(h, &requests, sizeof requests);
    http_parser_free(&p);
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    struct http_limits small = {.max_head_bytes = 256, .max_headers = 8, .max_target_bytes = 64, .max_body_bytes = 512};
    const struct http_limits *lim = mode & 0x80 ? &small : NULL;
    size_t step = (size_t)(mode & 0x0f) + 1;
    uint64_t whole = parse(data + 1, size - 1, 0, lim);
    uint64_t pieces = parse(data + 1, size - 1, step, lim);
    check(whole == pieces, "pieces and the whole disagree");
    return 0;
}
