#include <stdlib.h>
#include <string.h>

#include "http_chars.h"
#include "http_parser.h"
#include "lwt_errno.h"

enum {
    P_REQUEST_LINE,
    P_HEADERS,
    P_BODY_LENGTH,
    P_BODY_CHUNKED,
    P_DONE,
    P_ERROR,
};

#define HEADERS_FIRST_CAP 16

int http_parser_init(struct http_parser *p, const struct http_limits *lim)
{
    memset(p, 0, sizeof *p);
    if (lim)
        p->lim = *lim;
    if (!p->lim.max_head_bytes)
        p->lim.max_head_bytes = HTTP_DEFAULT_MAX_HEAD;
    if (!p->lim.max_headers)
        p->lim.max_headers = HTTP_DEFAULT_MAX_HEADERS;
    if (!p->lim.max_target_bytes)
        p->lim.max_target_bytes = HTTP_DEFAULT_MAX_TARGET;
    if (!p->lim.max_body_bytes)
        p->lim.max_body_bytes = HTTP_DEFAULT_MAX_BODY;
    p->cap = p->lim.max_head_bytes + HTTP_PARSER_SLACK;
    p->buf = malloc(p->cap);
    if (!p->buf)
        return -LWT_ENOMEM;
    p->body.max = p->lim.max_body_bytes;
    return 0;
}

static void forget_request(struct http_parser *p)
{
    free(p->path);
    p->path = NULL;
    http__body_reset(&p->body);
    p->nheaders = 0;
    p->sp1 = p->sp2 = p->head_end = p->line = 0;
    p->has_length = p->te_seen = p->te_chunked = p->te_chunked_last = p->te_other = p->te_twice = false;
    p->conn_close = p->conn_keep_alive = p->expect_continue = false;
    p->hosts = 0;
    p->length = 0;
    p->state = P_REQUEST_LINE;
    memset(&p->req, 0, sizeof p->req);
}

void http_parser_free(struct http_parser *p)
{
    forget_request(p);
    free(p->headers);
    free(p->buf);
    p->headers = NULL;
    p->buf = NULL;
}

size_t http_parser_space(struct http_parser *p, uint8_t **at)
{
    *at = p->buf + p->len;
    return p->cap - p->len;
}

void http_parser_commit(struct http_parser *p, size_t n)
{
    p->len += n;
}

size_t http_parser_feed(struct http_parser *p, const void *data, size_t len)
{
    uint8_t *at;
    size_t room = http_parser_space(p, &at);
    size_t n = len < room ? len : room;
    memcpy(at, data, n);
    http_parser_commit(p, n);
    return n;
}

static enum http_parse refuse(struct http_parser *p, int status)
{
    p->state = P_ERROR;
    p->status = status;
    return HTTP_PARSE_ERROR;
}

/* ---- The request line -------------------------------------------------------- */

static enum http_method method_of(const char *s, size_t n)
{
    static const struct {
        const char *name;
        enum http_method m;
    } known[] = {
        {"GET", HTTP_GET},     {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
        {"PUT", HTTP_PUT},     {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS},
        {"PATCH", HTTP_PATCH}, {"TRACE", HTTP_TRACE},   {"CONNECT", HTTP_CONNECT},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == n && memcmp(known[i].name, s, n) == 0)
            return known[i].m;
    return HTTP_OTHER;
}

/* Decodes the path's percent escapes into a new NUL-terminated string;
 * 0 or the refusal's status. */
static int decode_path(struct http_parser *p, const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return 503;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? http__hex_value((uint8_t)s[i + 1]) : -1;
        int lo = i + 2 < n ? http__hex_value((uint8_t)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return 400;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    p->path = out;
    p->req.path = out;
    p->req.path_len = o;
    return 0;
}

/* Splits the target into path and query by its form (RFC 9112 §3.2). */
static int parse_target(struct http_parser *p, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)t[i] <= 0x20 || (uint8_t)t[i] >= 0x7f || t[i] == '#')
            return 400;
    const char *path = t;
    size_t path_len = n;
    if (p->req.method == HTTP_CONNECT) {
        /* authority-form: no path to decode. */
        if (t[0] == '/')
            return 400;
        p->path = malloc(n + 1);
        if (!p->path)
            return 503;
        memcpy(p->path, t, n);
        p->path[n] = '\0';
        p->req.path = p->path;
        p->req.path_len = n;
        return 0;
    }
    if (n == 1 && t[0] == '*') {
        if (p->req.method != HTTP_OPTIONS)
            return 400;
    } else if (t[0] != '/') {
        /* absolute-form: scheme "://" authority, then the path. */
        const char *sep = NULL;
        for (size_t i = 0; i + 2 < n; i++) {
            if (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/') {
                sep = t + i + 3;
                break;
            }
            uint8_t c = (uint8_t)t[i];
            bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            if (!alpha && (i == 0 || ((c < '0' || c > '9') && c != '+' && c != '-' && c != '.')))
                return 400; /* RFC 3986 §3.1: the scheme */
        }
        if (!sep)
            return 400;
        path = sep;
        while (path < t + n && *path != '/' && *path != '?')
            path++;
        path_len = (size_t)(t + n - path);
    }
    const char *q = memchr(path, '?', path_len);
    size_t raw_len = q ? (size_t)(q - path) : path_len;
    if (q) {
        p->req.query = q + 1;
        p->req.query_len = path_len - raw_len - 1;
    }
    if (raw_len == 0)
        return decode_path(p, "/", 1);
    return decode_path(p, path, raw_len);
}

static int parse_request_line(struct http_parser *p, const char *s, size_t n)
{
    const char *sp1 = memchr(s, ' ', n);
    if (!sp1 || sp1 == s)
        return 400;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', n - (size_t)(t - s));
    if (!sp2 || sp2 == t)
        return 400;
    size_t mlen = (size_t)(sp1 - s), tlen = (size_t)(sp2 - t);
    for (size_t i = 0; i < mlen; i++)
        if (!http__is_tchar((uint8_t)s[i]))
            return 400;
    if (tlen > p->lim.max_target_bytes)
        return 414;
    const char *v = sp2 + 1;
    size_t vlen = n - (size_t)(v - s);
    if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    p->req.version = v[7] == '0' ? 10 : 11;
    p->req.method_str = s;
    p->req.method_len = mlen;
    p->req.method = method_of(s, mlen);
    p->req.target = t;
    p->req.target_len = tlen;
    return parse_target(p, t, tlen);
}

/* ---- Header fields -------------------------------------------------------------- */

/* Calls each(element, len) for the comma-separated elements of a list
 * value, whitespace trimmed, empty ones skipped; stops at a nonzero
 * return. */
static int for_each_element(struct http_parser *p, const char *v, size_t n,
                            int (*each)(struct http_parser *p, const char *e, size_t len))
{
    const char *at = v, *e;
    size_t len;
    while (http_list_next(&at, v + n, &e, &len)) {
        int rc = each(p, e, len);
        if (rc)
            return rc;
    }
    return 0;
}

static int content_length_element(struct http_parser *p, const char *e, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i] < '0' || e[i] > '9')
            return 400;
        if (v > (UINT64_MAX - 9) / 10)
            return 400;
        v = v * 10 + (uint64_t)(e[i] - '0');
    }
    if (p->has_length && v != p->length)
        return 400;
    p->has_length = true;
    p->length = v;
    return 0;
}

static int transfer_coding(struct http_parser *p, const char *e, size_t n)
{
    size_t name = 0;
    while (name < n && e[name] != ';' && e[name] != ' ' && e[name] != '\t')
        name++;
    if (http__eq_nocase(e, name, "chunked")) {
        if (p->te_chunked)
            p->te_twice = true;
        p->te_chunked = p->te_chunked_last = true;
    } else {
        p->te_chunked_last = false;
        p->te_other = true;
    }
    return 0;
}

static int connection_option(struct http_parser *p, const char *e, size_t n)
{
    if (http__eq_nocase(e, n, "close"))
        p->conn_close = true;
    else if (http__eq_nocase(e, n, "keep-alive"))
        p->conn_keep_alive = true;
    return 0;
}

static bool valid_host(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)v[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != 0 && strchr("-._~!$&'()*+,;=:[]%", c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

static int parse_header_line(struct http_parser *p, const char *s, size_t n)
{
    if (s[0] == ' ' || s[0] == '\t')
        return 400; /* obs-fold */
    size_t colon = 0;
    while (colon < n && s[colon] != ':') {
        if (!http__is_tchar((uint8_t)s[colon]))
            return 400; /* whitespace before the colon, a CTL, ... */
        colon++;
    }
    if (colon == n || colon == 0)
        return 400;
    size_t vs = colon + 1, ve = n;
    for (size_t i = vs; i < n; i++)
        if (!http__is_value_char((uint8_t)s[i]))
            return 400;
    while (vs < ve && (s[vs] == ' ' || s[vs] == '\t'))
        vs++;
    while (ve > vs && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
        ve--;
    if (p->nheaders == p->lim.max_headers)
        return 431;
    if (p->nheaders == p->headers_cap) {
        size_t cap = p->headers_cap ? p->headers_cap * 2 : HEADERS_FIRST_CAP;
        if (cap > p->lim.max_headers)
            cap = p->lim.max_headers;
        struct http_header *h = malloc(cap * sizeof *h);
        if (!h)
            return 503;
        if (p->nheaders)
            memcpy(h, p->headers, p->nheaders * sizeof *h);
        free(p->headers);
        p->headers = h;
        p->headers_cap = cap;
    }
    const char *v = s + vs;
    size_t vlen = ve - vs;
    p->headers[p->nheaders++] = (struct http_header){s, v, colon, vlen};

    if (http__eq_nocase(s, colon, "content-length")) {
        if (vlen == 0)
            return 400;
        return for_each_element(p, v, vlen, content_length_element) ? 400 : 0;
    }
    if (http__eq_nocase(s, colon, "transfer-encoding")) {
        p->te_seen = true;
        return for_each_element(p, v, vlen, transfer_coding);
    }
    if (http__eq_nocase(s, colon, "host")) {
        p->hosts++;
        return valid_host(v, vlen) ? 0 : 400;
    }
    if (http__eq_nocase(s, colon, "connection"))
        return for_each_element(p, v, vlen, connection_option);
    if (http__eq_nocase(s, colon, "expect")) {
        if (!http__eq_nocase(v, vlen, "100-continue"))
            return 417;
        p->expect_continue = true;
    }
    return 0;
}

/* The empty line: decide the framing (RFC 9112 §6.3). */
static int end_of_head(struct http_parser *p)
{
    if (p->hosts > 1 || (p->req.version == 11 && p->hosts == 0))
        return 400;
    if (p->te_seen) {
        if (p->has_length || p->req.version == 10 || p->te_twice || !p->te_chunked_last)
            return 400;
        if (p->te_other)
            return 501;
        p->state = P_BODY_CHUNKED;
        http__chunked_init(&p->chunked, p->lim.max_head_bytes);
    } else if (p->has_length && p->length > 0) {
        if (p->length > p->lim.max_body_bytes)
            return 413;
        p->state = P_BODY_LENGTH;
    } else {
        p->state = P_DONE;
    }
    if (p->req.version == 11)
        p->req.keep_alive = !p->conn_close;
    else
        p->req.keep_alive = p->conn_keep_alive && !p->conn_close;
    if (p->req.version == 10)
        p->expect_continue = false; /* RFC 9110 §10.1.1: ignored in 1.0 */
    p->req.headers = p->headers;
    p->req.nheaders = p->nheaders;
    return 0;
}

/* Examines the head's new bytes, a line at a time as each completes. */
static enum http_parse run_head(struct http_parser *p)
{
    while (p->pos < p->len) {
        uint8_t c = p->buf[p->pos++];
        if (c != '\n' && p->state == P_REQUEST_LINE) {
            if (c == ' ' && p->sp1 == 0)
                p->sp1 = p->pos;
            /* Bytes that cannot be a method (TLS, binary junk) are refused
             * at once, not after a head's worth or the header timeout. */
            else if (p->sp1 == 0 && c != '\r' && !http__is_tchar(c))
                return refuse(p, 400);
            else if (c == ' ' && p->sp2 == 0)
                p->sp2 = p->pos;
            /* The target is refused while it arrives, not once a whole
             * head's worth has. */
            else if (p->sp1 && !p->sp2 && p->pos - p->sp1 > p->lim.max_target_bytes)
                return refuse(p, 414);
        }
        if (p->pos > p->lim.max_head_bytes)
            return refuse(p, 431);
        if (c != '\n')
            continue;
        size_t end = p->pos - 1; /* the LF */
        if (end == p->line || p->buf[end - 1] != '\r')
            return refuse(p, 400); /* a bare LF */
        const char *s = (const char *)p->buf + p->line;
        size_t n = end - 1 - p->line;
        p->line = p->pos;
        int status;
        if (p->state == P_REQUEST_LINE) {
            if (n == 0)
                continue; /* RFC 9112 §2.2: empty lines before a request */
            p->sp1 = p->sp2 = 0;
            status = parse_request_line(p, s, n);
            if (!status)
                p->state = P_HEADERS;
        } else if (n == 0) {
            status = end_of_head(p);
            if (status)
                return refuse(p, status);
            p->head_end = p->pos;
            if (p->state == P_DONE)
                return HTTP_PARSE_REQUEST;
            return HTTP_PARSE_HEAD;
        } else {
            status = parse_header_line(p, s, n);
        }
        if (status)
            return refuse(p, status);
    }
    return HTTP_PARSE_MORE;
}

/* ---- The body ------------------------------------------------------------------ */

/* Decoded body bytes leave the input buffer at once: only the head and
 * what follows the body stay. */
static enum http_parse run_body(struct http_parser *p)
{
    if (p->state == P_BODY_LENGTH) {
        size_t avail = p->len - p->pos;
        size_t n = p->length < avail ? (size_t)p->length : avail;
        int rc = http__body_append(&p->body, p->buf + p->pos, n);
        if (rc < 0)
            return refuse(p, rc == -LWT_EMSGSIZE ? 413 : 503);
        p->pos += n;
        p->length -= n;
        if (p->length == 0)
            p->state = P_DONE;
    } else {
        size_t used = 0;
        int rc = http__chunked_decode(&p->chunked, p->buf + p->pos, p->len - p->pos, &used, &p->body);
        p->pos += used;
        if (rc == HTTP_CHUNKED_DONE)
            p->state = P_DONE;
        else if (rc != HTTP_CHUNKED_MORE)
            return refuse(p, rc);
    }
    if (p->state != P_DONE) {
        p->len = p->pos = p->head_end;
        return HTTP_PARSE_MORE;
    }
    p->req.body = p->body.len ? p->body.data : NULL;
    p->req.body_len = p->body.len;
    return HTTP_PARSE_REQUEST;
}

enum http_parse http_parser_run(struct http_parser *p)
{
    switch (p->state) {
    case P_REQUEST_LINE:
    case P_HEADERS:
        return run_head(p);
    case P_BODY_LENGTH:
    case P_BODY_CHUNKED:
        return run_body(p);
    case P_DONE:
        return HTTP_PARSE_REQUEST;
    default:
        return HTTP_PARSE_ERROR;
    }
}

const struct http_request *http_parser_request(struct http_parser *p)
{
    return &p->req;
}

int http_parser_status(const struct http_parser *p)
{
    return p->status;
}

bool http_parser_expects_continue(const struct http_parser *p)
{
    return p->expect_continue;
}

bool http_parser_started(const struct http_parser *p)
{
    return p->len > 0 || p->state != P_REQUEST_LINE;
}

bool http_parser_body_started(const struct http_parser *p)
{
    return p->len > p->head_end || p->body.len > 0;
}

void http_parser_next(struct http_parser *p)
{
    size_t rest = p->len - p->pos;
    memmove(p->buf, p->buf + p->pos, rest);
    p->len = rest;
    p->pos = 0;
    forget_request(p);
}
