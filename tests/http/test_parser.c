/* The request parser on its own: requests, pipelining, chunked bodies,
 * keep-alive rules, every refusal with its status, the limits exactly at
 * and one past, and that feeding a byte at a time gives the same result
 * as feeding everything at once. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_date.h"
#include "http_parser.h"

/* What a stream of bytes parsed into: each request's method, path, query,
 * body and keep-alive, one line each, and the refusal at the end. */
struct outcome {
    char text[8192];
    size_t len;
    int status; /* 0: every request was complete; else the refusal */
    unsigned requests;
    bool more; /* ended waiting for bytes */
};

static void note(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n < sizeof o->text - o->len ? (size_t)n : sizeof o->text - o->len - 1;
}

/* Feeds in pieces of `step` bytes (0: all at once). */
static struct outcome parse_in_steps(const char *in, size_t len, size_t step, const struct http_limits *lim)
{
    struct outcome o = {0};
    struct http_parser p;
    assert_int_equal(http_parser_init(&p, lim), 0);
    size_t off = 0;
    for (;;) {
        enum http_parse r = http_parser_run(&p);
        if (r == HTTP_PARSE_HEAD)
            continue;
        if (r == HTTP_PARSE_REQUEST) {
            const struct http_request *q = http_parser_request(&p);
            note(&o, "%.*s %s ?%.*s v%d ka%d body[%zu]=%.*s\n", (int)q->method_len, q->method_str, q->path,
                 (int)q->query_len, q->query ? q->query : "", q->version, q->keep_alive, q->body_len,
                 (int)(q->body_len > 64 ? 64 : q->body_len), q->body ? (const char *)q->body : "");
            o.requests++;
            http_parser_next(&p);
            continue;
        }
        if (r == HTTP_PARSE_ERROR) {
            o.status = http_parser_status(&p);
            break;
        }
        if (off == len) {
            o.more = http_parser_started(&p);
            break;
        }
        size_t n = step && step < len - off ? step : len - off;
        uint8_t *at;
        size_t room = http_parser_space(&p, &at);
        assert_true(room > 0);
        if (n > room)
            n = room;
        memcpy(at, in + off, n);
        http_parser_commit(&p, n);
        off += n;
    }
    http_parser_free(&p);
    return o;
}

/* Parses all at once and a byte at a time (and in 7-byte pieces), checks
 * that all agree, and returns the outcome. */
static struct outcome parse_lim(const char *in, size_t len, const struct http_limits *lim)
{
    struct outcome whole = parse_in_steps(in, len, 0, lim);
    struct outcome bytes = parse_in_steps(in, len, 1, lim);
    struct outcome sevens = parse_in_steps(in, len, 7, lim);
    assert_int_equal(whole.status, bytes.status);
    assert_int_equal(whole.requests, bytes.requests);
    assert_string_equal(whole.text, bytes.text);
    assert_int_equal(whole.status, sevens.status);
    assert_string_equal(whole.text, sevens.text);
    return whole;
}

static struct outcome parse(const char *in)
{
    return parse_lim(in, strlen(in), NULL);
}

/* The status of the first refusal, 0 if everything was accepted. */
static int status_of(const char *in)
{
    return parse(in).status;
}

/* ---- Requests ------------------------------------------------------------- */

static void a_simple_get(void **state)
{
    (void)state;
    struct http_parser p;
    assert_int_equal(http_parser_init(&p, NULL), 0);
    const char *in = "GET /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: example.org\r\nX-Thing:  spaced value \t\r\n"
                     "Accept: */*\r\n\r\n";
    assert_int_equal(http_parser_feed(&p, in, strlen(in)), strlen(in));
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_REQUEST);
    const struct http_request *r = http_parser_request(&p);
    assert_int_equal(r->method, HTTP_GET);
    assert_int_equal(r->version, 11);
    assert_true(r->keep_alive);
    assert_string_equal(r->path, "/a b/c");
    assert_int_equal(r->path_len, 6);
    assert_int_equal(r->query_len, 9);
    assert_memory_equal(r->query, "x=1&y=%41", 9);
    assert_int_equal(r->target_len, 18);
    assert_memory_equal(r->target, "/a%20b/c?x=1&y=%41", 18);
    assert_int_equal(r->nheaders, 3);
    const struct http_header *h = http_request_header(r, "x-THING");
    assert_non_null(h);
    assert_int_equal(h->value_len, 12);
    assert_memory_equal(h->value, "spaced value", 12);
    assert_null(http_request_header(r, "missing"));
    assert_null(r->body);
    assert_int_equal(r->body_len, 0);
    assert_false(http_parser_expects_continue(&p));
    http_parser_next(&p);
    assert_false(http_parser_started(&p));
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_MORE);
    http_parser_free(&p);
}

static void methods_and_target_forms(void **state)
{
    (void)state;
    struct outcome o = parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"
                             "GET http://example.org:8080/x/y?q HTTP/1.1\r\nHost: example.org:8080\r\n\r\n"
                             "GET http://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n"
                             "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"
                             "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(o.status, 0);
    assert_string_equal(o.text, "OPTIONS * ? v11 ka1 body[0]=\n"
                                "GET /x/y ?q v11 ka1 body[0]=\n"
                                "GET / ? v11 ka1 body[0]=\n"
                                "CONNECT example.org:443 ? v11 ka1 body[0]=\n"
                                "BREW /pot ? v11 ka1 body[0]=\n");
    struct http_parser p;
    assert_int_equal(http_parser_init(&p, NULL), 0);
    const char *in = "BREW / HTTP/1.1\r\nHost: h\r\n\r\n";
    http_parser_feed(&p, in, strlen(in));
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_REQUEST);
    assert_int_equal(http_parser_request(&p)->method, HTTP_OTHER);
    http_parser_free(&p);
}

static void keep_alive_rules(void **state)
{
    (void)state;
    assert_string_equal(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").text, "GET / ? v11 ka1 body[0]=\n");
    assert_string_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n").text,
                        "GET / ? v11 ka0 body[0]=\n");
    assert_string_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n").text,
                        "GET / ? v11 ka0 body[0]=\n");
    assert_string_equal(parse("GET / HTTP/1.0\r\n\r\n").text, "GET / ? v10 ka0 body[0]=\n");
    assert_string_equal(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").text, "GET / ? v10 ka1 body[0]=\n");
    assert_string_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n").text,
                        "GET / ? v10 ka0 body[0]=\n");
    /* 1.x above 1.1 is served as 1.1 */
    assert_string_equal(parse("GET / HTTP/1.7\r\nHost: h\r\n\r\n").text, "GET / ? v11 ka1 body[0]=\n");
}

static void bodies_by_length_and_chunks(void **state)
{
    (void)state;
    struct outcome o = parse("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
                             "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n6;name=value;x\r\n world\r\nA\r\n0123456789\r\n0\r\n\r\n"
                             "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                             "000\r\nExpires: never\r\nX-Sum: 1\r\n\r\n"
                             "PUT /d HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc"
                             "POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
    assert_int_equal(o.status, 0);
    assert_string_equal(o.text, "POST /a ? v11 ka1 body[5]=hello\n"
                                "POST /b ? v11 ka1 body[21]=hello world0123456789\n"
                                "POST /c ? v11 ka1 body[0]=\n"
                                "PUT /d ? v11 ka1 body[3]=abc\n"
                                "POST /e ? v11 ka1 body[0]=\n");
}

static void pipelined_requests_and_a_partial_one(void **state)
{
    (void)state;
    char in[4096];
    size_t len = 0;
    for (int i = 0; i < 20; i++)
        len += (size_t)snprintf(in + len, sizeof in - len, "GET /%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
    len += (size_t)snprintf(in + len, sizeof in - len, "GET /partial HTTP/1.1\r\nHo");
    struct outcome o = parse_lim(in, len, NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.requests, 20);
    assert_true(o.more);
    assert_non_null(strstr(o.text, "GET /19 ?"));
}

static void expect_100_continue(void **state)
{
    (void)state;
    struct http_parser p;
    assert_int_equal(http_parser_init(&p, NULL), 0);
    const char *in = "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
    http_parser_feed(&p, in, strlen(in));
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_HEAD);
    assert_true(http_parser_expects_continue(&p));
    assert_false(http_parser_body_started(&p));
    assert_string_equal(http_parser_request(&p)->path, "/x");
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_MORE);
    http_parser_feed(&p, "abc", 3);
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_REQUEST);
    assert_int_equal(http_parser_request(&p)->body_len, 3);
    http_parser_free(&p);
    /* HTTP/1.0 cannot expect it; anything but 100-continue is refused. */
    assert_int_equal(http_parser_init(&p, NULL), 0);
    in = "PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    http_parser_feed(&p, in, strlen(in));
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_HEAD);
    assert_false(http_parser_expects_continue(&p));
    http_parser_free(&p);
    assert_int_equal(status_of("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n"), 417);
}

static void empty_lines_before_a_request_are_skipped(void **state)
{
    (void)state;
    assert_string_equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").text, "GET / ? v11 ka1 body[0]=\n");
}

/* ---- Refusals --------------------------------------------------------------- */

static void every_refusal_has_its_status(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int status;
    } cases[] = {
        /* the request line */
        {"GET /\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
        {" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
        {"GET / HTTP/3.0\r\n\r\n", 505},
        {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a\x80 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET ht!tp://x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* line ends */
        {"GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
        {"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
        {"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* fields */
        {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400},
        /* Host */
        {"GET / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        /* framing and smuggling */
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3 3\r\n\r\nabc", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        /* chunks */
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", 413},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded: x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Name: x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \x01\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", 400},
        {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x01\r\nx\r\n0\r\n\r\n", 400},
        /* the path */
        {"GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a%zzb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a% HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /a%4g HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        /* Expect */
        {"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, foo\r\n\r\n", 417},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = status_of(cases[i].in);
        if (got != cases[i].status)
            fail_msg("case %zu (%s): %d, expected %d", i, cases[i].in, got, cases[i].status);
    }
}

#define LIT(s)                                                                                                         \
    {                                                                                                                  \
        s, sizeof(s) - 1                                                                                               \
    }

static void nul_bytes_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
    } with_nul[] = {
        LIT("GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"),
        LIT("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"),
        LIT("GET / HTTP/1.1\r\nHost: h\r\nX\0: ab\r\n\r\n"),
        LIT("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"),
        LIT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\0\r\nx\r\n0\r\n\r\n"),
        LIT("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: \0\r\n\r\n"),
    };
    for (size_t i = 0; i < sizeof with_nul / sizeof with_nul[0]; i++)
        assert_int_equal(parse_lim(with_nul[i].in, with_nul[i].len, NULL).status, 400);
}

/* List values: elements trimmed, empty ones skipped, the end reached. */
static void list_values_are_walked_element_by_element(void **state)
{
    (void)state;
    const char *v = " ,gzip;q=0.5 ,, \tbr\t,identity,";
    const char *at = v, *end = v + strlen(v), *e;
    size_t len;
    const char *want[] = {"gzip;q=0.5", "br", "identity"};
    for (size_t i = 0; i < 3; i++) {
        assert_true(http_list_next(&at, end, &e, &len));
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(e, want[i], len);
    }
    assert_false(http_list_next(&at, end, &e, &len));
    assert_true(at == end);
    assert_true(http_token_is("GZip", 4, "gzip"));
    assert_false(http_token_is("gzi", 3, "gzip"));
    assert_false(http_token_is("gzips", 5, "gzip"));
}

/* A TLS handshake or binary junk on the plain port: refused at its first
 * byte that no method may hold, without waiting for a line end. */
static void junk_is_refused_before_any_line_end(void **state)
{
    (void)state;
    static const char *const junk[] = {"\x16\x03\x01\x02\x00", "G(T", "\xff", "GET\x01"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(status_of(junk[i]), 400);
    assert_int_equal(status_of("\r\n\r\nGE"), 0); /* empty lines, then a method still arriving */
}

/* ---- Limits ----------------------------------------------------------------------- */

/* A GET whose head is exactly `size` bytes, padded with one header. */
static size_t head_of_size(char *out, size_t size)
{
    const char *start = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
    size_t n = strlen(start);
    memcpy(out, start, n);
    while (n < size - 4)
        out[n++] = 'p';
    memcpy(out + n, "\r\n\r\n", 4);
    return n + 4;
}

static void head_limit_exactly_and_one_past(void **state)
{
    (void)state;
    static char buf[HTTP_DEFAULT_MAX_HEAD + 64];
    size_t n = head_of_size(buf, HTTP_DEFAULT_MAX_HEAD);
    struct outcome o = parse_lim(buf, n, NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.requests, 1);
    n = head_of_size(buf, HTTP_DEFAULT_MAX_HEAD + 1);
    assert_int_equal(parse_lim(buf, n, NULL).status, 431);
    /* A smaller limit, and a client that never ends its head. */
    struct http_limits lim = {.max_head_bytes = 100};
    n = head_of_size(buf, 100);
    assert_int_equal(parse_lim(buf, n, &lim).status, 0);
    n = head_of_size(buf, 101);
    assert_int_equal(parse_lim(buf, n, &lim).status, 431);
    memset(buf, 'a', 200);
    memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
    assert_int_equal(parse_lim(buf, 200, &lim).status, 431);
}

static void header_count_exactly_and_one_past(void **state)
{
    (void)state;
    static char buf[4096];
    struct http_limits lim = {.max_headers = 10};
    for (int extra = 0; extra < 2; extra++) {
        size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 0; i < 9 + extra; i++)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "X-%d: v\r\n", i);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\r\n");
        assert_int_equal(parse_lim(buf, n, &lim).status, extra ? 431 : 0);
    }
    /* The default: 100. */
    size_t n = (size_t)snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "Host%d: h\r\n", i);
    memcpy(buf + n, "Host: h\r\n\r\n", 11);
    assert_int_equal(parse_lim(buf, n + 11, NULL).status, 431);
}

static void target_limit_exactly_and_one_past(void **state)
{
    (void)state;
    static char buf[HTTP_DEFAULT_MAX_HEAD + 64];
    for (size_t extra = 0; extra < 2; extra++) {
        size_t n = 0;
        memcpy(buf, "GET /", 5);
        n = 5;
        while (n < 4 + HTTP_DEFAULT_MAX_TARGET + extra)
            buf[n++] = 't';
        memcpy(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n", 22);
        assert_int_equal(parse_lim(buf, n + 22, NULL).status, extra ? 414 : 0);
    }
    /* Told while the target arrives: the line never ends. */
    memset(buf, 'x', sizeof buf);
    memcpy(buf, "GET /", 5);
    struct outcome o = parse_in_steps(buf, 5 + HTTP_DEFAULT_MAX_TARGET, 1, NULL);
    assert_int_equal(o.status, 414);
}

static void body_limit_exactly_and_one_past(void **state)
{
    (void)state;
    struct http_limits lim = {.max_body_bytes = 10};
    const char *at = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789";
    const char *past = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n0123456789a";
    assert_int_equal(parse_lim(at, strlen(at), &lim).status, 0);
    assert_int_equal(parse_lim(past, strlen(past), &lim).status, 413);
    const char *ch_at = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n";
    const char *ch_past = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "4\r\n0123\r\n7\r\n456789a\r\n0\r\n\r\n";
    assert_int_equal(parse_lim(ch_at, strlen(ch_at), &lim).status, 0);
    assert_int_equal(parse_lim(ch_past, strlen(ch_past), &lim).status, 413);
    /* The default: 1 MiB, refused from the head alone. */
    assert_int_equal(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n"), 413);
    struct outcome o = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n");
    assert_int_equal(o.status, 0);
    assert_true(o.more);
}

static void a_large_body_in_pieces(void **state)
{
    (void)state;
    size_t body = HTTP_DEFAULT_MAX_BODY;
    char *in = malloc(body + 128);
    int n = snprintf(in, 128, "PUT /big HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", body);
    for (size_t i = 0; i < body; i++)
        in[n + (int)i] = (char)('a' + i % 26);
    struct outcome o = parse_in_steps(in, (size_t)n + body, 1000, NULL);
    assert_int_equal(o.status, 0);
    assert_int_equal(o.requests, 1);
    assert_non_null(strstr(o.text, "body[1048576]=abcdef"));
    free(in);
}

/* A slow client: the head one byte per call must not be rescanned. The
 * work is roughly linear: a head 8 times larger takes far less than 64
 * times as long. (Measured in parser calls' effect, not time: the count
 * of bytes examined is the position, which only moves forward.) */
static void byte_at_a_time_never_goes_back(void **state)
{
    (void)state;
    static char buf[HTTP_DEFAULT_MAX_HEAD];
    size_t n = head_of_size(buf, sizeof buf);
    struct http_parser p;
    assert_int_equal(http_parser_init(&p, NULL), 0);
    size_t last_pos = 0;
    for (size_t i = 0; i < n - 1; i++) {
        http_parser_feed(&p, buf + i, 1);
        assert_int_equal(http_parser_run(&p), HTTP_PARSE_MORE);
        /* Each call examined exactly the one new byte. */
        assert_int_equal(p.pos, last_pos + 1);
        last_pos = p.pos;
    }
    http_parser_feed(&p, buf + n - 1, 1);
    assert_int_equal(http_parser_run(&p), HTTP_PARSE_REQUEST);
    http_parser_free(&p);
}

/* ---- The date ------------------------------------------------------------------ */

static void imf_fixdate(void **state)
{
    (void)state;
    char d[HTTP_DATE_LEN + 1];
    http_date_format(784111777, d);
    assert_string_equal(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_format(0, d);
    assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(951782400, d); /* a leap day in a year divisible by 400 */
    assert_string_equal(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_format(4102444799, d);
    assert_string_equal(d, "Thu, 31 Dec 2099 23:59:59 GMT");
    http_date_format(-1, d);
    assert_string_equal(d, "Wed, 31 Dec 1969 23:59:59 GMT");
    http_date_format(INT64_MAX, d);
    assert_string_equal(d, "Fri, 31 Dec 9999 23:59:59 GMT");
}

static void imf_fixdate_parses_back_and_refuses_the_rest(void **state)
{
    (void)state;
    const int64_t times[] = {784111777, 0, 951782400, 4102444799, -1, 1700000000};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char d[HTTP_DATE_LEN + 1];
        int64_t t = 42;
        http_date_format(times[i], d);
        assert_true(http_date_parse(d, HTTP_DATE_LEN, &t));
        assert_int_equal(t, times[i]);
    }
    const char *bad[] = {
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850: obsolete */
        "Sun Nov  6 08:49:37 1994",       /* asctime: obsolete */
        "Sun, 06 Nov 1994 08:49:37 UTC",  "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Now 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",  "Sun, 6 Nov 1994 08:49:37 GMT",  "Sun, 06 Nov 1994 08:49:3x GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        assert_false(http_date_parse(bad[i], strlen(bad[i]), &t));
    }
}

static void access_log_date(void **state)
{
    (void)state;
    char d[HTTP_DATE_CLF_LEN + 1];
    http_date_clf(784111777, d);
    assert_string_equal(d, "06/Nov/1994:08:49:37 +0000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(a_simple_get),
        TEST(methods_and_target_forms),
        TEST(keep_alive_rules),
        TEST(bodies_by_length_and_chunks),
        TEST(pipelined_requests_and_a_partial_one),
        TEST(expect_100_continue),
        TEST(empty_lines_before_a_request_are_skipped),
        TEST(every_refusal_has_its_status),
        TEST(nul_bytes_are_refused),
        TEST(head_limit_exactly_and_one_past),
        TEST(header_count_exactly_and_one_past),
        TEST(target_limit_exactly_and_one_past),
        TEST(body_limit_exactly_and_one_past),
        TEST(a_large_body_in_pieces),
        TEST(byte_at_a_time_never_goes_back),
        TEST(list_values_are_walked_element_by_element),
        TEST(junk_is_refused_before_any_line_end),
        TEST(imf_fixdate),
        TEST(imf_fixdate_parses_back_and_refuses_the_rest),
        TEST(access_log_date),
    };
    return RUN_TESTS(tests);
}
