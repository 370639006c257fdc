/* The HTTP/1.1 client: one keep-alive connection, opened on first use and
 * again when the server closed it between requests (a request that fails
 * before a byte of its answer arrived, on a connection that carried one
 * before, is sent once more on a new one). Answers are framed by
 * Content-Length, chunked coding or the end of the connection; interim 1xx
 * answers are skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_body.h"
#include "http_chars.h"
#include "http_chunked.h"

#define CLIENT_MAX_HEAD  (64 * 1024)
#define CLIENT_BUF       (CLIENT_MAX_HEAD + 16 * 1024)
#define CLIENT_MAX_BODY  (64 * 1024 * 1024)
#define CLIENT_MAX_LINES 256

enum { R_HEAD, R_LENGTH, R_CHUNKED, R_UNTIL_CLOSE, R_DONE };

struct http_client {
    struct flow_stack *fs;
    struct flow_endpoint to;
    struct flow *flow; /* NULL: not connected */
    bool reused;       /* the flow carried an earlier exchange */
    bool retried;
    bool busy;
    bool head_request;
    bool server_closes;
    lwt_t *writing; /* the request going out while the answer is read */
    char *req;      /* the request's head */
    size_t req_len;
    const void *body; /* borrowed until the request settles */
    size_t body_len;
    uint8_t *in;
    size_t in_len, scan, head_end;
    uint64_t received; /* bytes of the answer so far */
    int state;
    uint64_t left;
    struct http_chunked chunked;
    struct http_body rbody;
    struct http_header headers[CLIENT_MAX_LINES];
    struct http_client_response resp;
};

struct http_client *http_client_new(struct flow_stack *fs, struct flow_endpoint to)
{
    struct http_client *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, offsetof(struct http_client, headers));
    c->fs = fs;
    c->to = to;
    c->in = malloc(CLIENT_BUF);
    if (!c->in) {
        free(c);
        return NULL;
    }
    c->rbody.max = CLIENT_MAX_BODY;
    return c;
}

static void drop_flow(struct http_client *c, bool reset)
{
    if (!c->flow)
        return;
    struct flow *f = c->flow;
    c->flow = NULL;
    if (reset)
        flow_abort(f);
    else
        flow_close(f);
}

void http_client_free(struct http_client *c)
{
    drop_flow(c, true);
    http__body_reset(&c->rbody);
    free(c->req);
    free(c->in);
    free(c);
}

/* ---- Reading the answer ----------------------------------------------------------- */

static int parse_head(struct http_client *c)
{
    const char *s = (const char *)c->in;
    size_t end = c->head_end - 2; /* the last line's CRLF starts the blank line */
    if (end < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
        return -LWT_EPROTO;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -LWT_EPROTO;
        status = status * 10 + (s[i] - '0');
    }
    bool v10 = s[7] == '0';
    size_t line = (const char *)memchr(s, '\n', end) - s + 1;
    size_t n = 0;
    bool chunked = false, has_length = false, close = v10, keep = false;
    uint64_t length = 0;
    while (line < end) {
        const char *l = s + line;
        const char *lf = memchr(l, '\n', end - line);
        size_t len = (size_t)(lf - l);
        if (len == 0 || l[len - 1] != '\r')
            return -LWT_EPROTO;
        len--;
        const char *colon = memchr(l, ':', len);
        if (!colon || colon == l || n == CLIENT_MAX_LINES)
            return -LWT_EPROTO;
        size_t nlen = (size_t)(colon - l), vs = nlen + 1, ve = len;
        for (size_t i = 0; i < nlen; i++)
            if (!http__is_tchar((uint8_t)l[i]))
                return -LWT_EPROTO;
        while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
            vs++;
        while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
            ve--;
        struct http_header *h = &c->headers[n++];
        *h = (struct http_header){l, l + vs, nlen, ve - vs};
        if (http__eq_nocase(l, nlen, "content-length")) {
            uint64_t v = 0;
            if (h->value_len == 0 || h->value_len > 19)
                return -LWT_EPROTO;
            for (size_t i = 0; i < h->value_len; i++) {
                if (h->value[i] < '0' || h->value[i] > '9')
                    return -LWT_EPROTO;
                v = v * 10 + (uint64_t)(h->value[i] - '0');
            }
            if (has_length && v != length)
                return -LWT_EPROTO;
            has_length = true;
            length = v;
        } else if (http__eq_nocase(l, nlen, "transfer-encoding")) {
            size_t vl = h->value_len;
            chunked = vl >= 7 && http__eq_nocase(h->value + vl - 7, 7, "chunked");
        } else if (http__eq_nocase(l, nlen, "connection")) {
            if (http__eq_nocase(h->value, h->value_len, "close"))
                close = true;
            else if (http__eq_nocase(h->value, h->value_len, "keep-alive"))
                keep = true;
        }
        line += len + 2;
    }
    c->resp.status = status;
    c->resp.headers = c->headers;
    c->resp.nheaders = n;
    c->server_closes = close && !(v10 && keep);
    if (status >= 100 && status < 200)
        return 1; /* interim: another head follows */
    if (c->head_request || status == 204 || status == 304) {
        c->state = R_DONE;
    } else if (chunked) {
        c->state = R_CHUNKED;
        http__chunked_init(&c->chunked, CLIENT_MAX_HEAD);
    } else if (has_length) {
        c->state = length ? R_LENGTH : R_DONE;
        c->left = length;
        if (length > CLIENT_MAX_BODY)
            return -LWT_EMSGSIZE;
    } else {
        c->state = R_UNTIL_CLOSE;
        c->server_closes = true;
    }
    return 0;
}

/* 0: more bytes needed; 1: the answer is complete; or an error. */
static int parse_answer(struct http_client *c)
{
    while (c->state == R_HEAD) {
        size_t from = c->scan;
        const uint8_t *end = NULL;
        for (size_t i = from; i + 3 < c->in_len + 0 && !end; i++)
            if (c->in[i] == '\r' && c->in[i + 1] == '\n' && c->in[i + 2] == '\r' && c->in[i + 3] == '\n')
                end = c->in + i;
        if (!end) {
            c->scan = c->in_len > 3 ? c->in_len - 3 : 0;
            return c->in_len >= CLIENT_MAX_HEAD ? -LWT_EMSGSIZE : 0;
        }
        c->head_end = (size_t)(end - c->in) + 4;
        int rc = parse_head(c);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            memmove(c->in, c->in + c->head_end, c->in_len - c->head_end);
            c->in_len -= c->head_end;
            c->scan = 0;
        }
    }
    size_t avail = c->in_len - c->head_end;
    const uint8_t *at = c->in + c->head_end;
    int rc = 0;
    if (c->state == R_LENGTH) {
        size_t n = avail < c->left ? avail : (size_t)c->left;
        rc = http__body_append(&c->rbody, at, n);
        c->left -= n;
        if (c->left == 0)
            c->state = R_DONE;
    } else if (c->state == R_CHUNKED) {
        size_t used;
        int r = http__chunked_decode(&c->chunked, at, avail, &used, &c->rbody);
        if (r == HTTP_CHUNKED_DONE)
            c->state = R_DONE;
        else if (r != HTTP_CHUNKED_MORE)
            rc = -LWT_EPROTO;
    } else if (c->state == R_UNTIL_CLOSE) {
        rc = http__body_append(&c->rbody, at, avail);
    }
    if (rc < 0)
        return rc;
    c->in_len = c->head_end; /* what followed is consumed (or stray) */
    return c->state == R_DONE;
}

struct cstep {
    struct http_client *c;
};

static lwt_t *read_more(void *v, void *ctx);

/* Whether the request was still going out (then cancelled). */
static bool stop_writing(struct http_client *c)
{
    lwt_t *w = c->writing;
    if (!w)
        return false;
    c->writing = NULL;
    bool pending = lwt_state(w) == LWT_PENDING;
    if (pending)
        lwt_cancel(w);
    lwt_unref(w);
    return pending;
}

static lwt_t *answered(struct http_client *c)
{
    c->resp.body = c->rbody.len ? c->rbody.data : NULL;
    c->resp.body_len = c->rbody.len;
    /* An answer before the whole request went (a refusal): the connection
     * is in no state to reuse. */
    if (stop_writing(c))
        drop_flow(c, true);
    else if (c->server_closes)
        drop_flow(c, false);
    else
        c->reused = true;
    return lwt_return(&c->resp);
}

static lwt_t *got(void *v, void *ctx)
{
    struct http_client *c = ((struct cstep *)ctx)->c;
    intptr_t n = LWT_TO_INT(v);
    if (n == 0) {
        if (c->state == R_UNTIL_CLOSE)
            return answered(c);
        return lwt_fail(c->received ? -LWT_EPROTO : -LWT_ECONNRESET);
    }
    c->in_len += (size_t)n;
    c->received += (uint64_t)n;
    int rc = parse_answer(c);
    if (rc < 0)
        return lwt_fail(rc);
    if (rc == 1)
        return answered(c);
    return read_more(NULL, ctx);
}

static lwt_t *read_more(void *v, void *ctx)
{
    (void)v;
    struct http_client *c = ((struct cstep *)ctx)->c;
    return lwt_bind(flow_read(c->flow, c->in + c->in_len, CLIENT_BUF - c->in_len), got, ctx, sizeof(struct cstep));
}

/* ---- Sending ------------------------------------------------------------------------ */

static lwt_t *send_body(void *v, void *ctx)
{
    (void)v;
    struct http_client *c = ((struct cstep *)ctx)->c;
    if (!c->body_len)
        return lwt_return(NULL);
    return flow_write(c->flow, c->body, c->body_len);
}

/* A failed write is not the answer: a server may refuse a request and
 * reset the connection while its body is still going out, after its
 * answer, which the reads still deliver. */
static lwt_t *write_failed(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL);
}

/* Writes the request and, at the same time, reads the answer. */
static lwt_t *exchange(struct http_client *c)
{
    struct cstep s = {c};
    c->in_len = c->scan = c->head_end = 0;
    c->received = 0;
    c->state = R_HEAD;
    c->server_closes = false;
    http__body_reset(&c->rbody);
    c->resp = (struct http_client_response){0};
    lwt_t *w = lwt_bind(flow_write(c->flow, c->req, c->req_len), send_body, LWT_CTX(s));
    c->writing = lwt_catch(w, write_failed, LWT_CTX(s));
    return read_more(NULL, &s);
}

static lwt_t *connected(void *v, void *ctx)
{
    struct http_client *c = ((struct cstep *)ctx)->c;
    c->flow = v;
    c->reused = false;
    flow_set_nodelay(c->flow, true);
    return exchange(c);
}

static lwt_t *attempt(struct http_client *c)
{
    struct cstep s = {c};
    if (c->flow)
        return exchange(c);
    return lwt_bind(flow_connect(c->fs, c->to), connected, LWT_CTX(s));
}

static lwt_t *finished(void *v, void *ctx)
{
    ((struct cstep *)ctx)->c->busy = false;
    return lwt_return(v);
}

static lwt_t *failed(int err, void *ctx);

static lwt_t *failed(int err, void *ctx)
{
    struct http_client *c = ((struct cstep *)ctx)->c;
    /* The server closed a kept-alive connection before it saw this
     * request: a new connection, once. */
    bool stale = c->reused && !c->retried && c->received == 0 && err != -LWT_ECANCELED;
    stop_writing(c);
    drop_flow(c, true);
    if (stale) {
        c->retried = true;
        return lwt_try_bind(attempt(c), finished, failed, ctx, sizeof(struct cstep));
    }
    c->busy = false;
    return lwt_fail(err);
}

lwt_t *http_client_request(struct http_client *c, const char *method, const char *target, const char *extra_headers,
                           const void *body, size_t body_len)
{
    if (c->busy)
        return lwt_fail(-LWT_EBUSY);
    const char *extra = extra_headers ? extra_headers : "";
    size_t cap = strlen(method) + strlen(target) + strlen(extra) + 128;
    char *req = malloc(cap);
    if (!req)
        return lwt_fail(-LWT_ENOMEM);
    uint32_t a = c->to.addr;
    int n =
        snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %u.%u.%u.%u:%u\r\n%s", method, target, (unsigned)(a >> 24),
                 (unsigned)(a >> 16 & 255), (unsigned)(a >> 8 & 255), (unsigned)(a & 255), (unsigned)c->to.port, extra);
    if (body || body_len)
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    free(c->req);
    c->req = req;
    c->req_len = (size_t)n;
    c->body = body;
    c->body_len = body_len;
    c->head_request = strcmp(method, "HEAD") == 0;
    c->busy = true;
    c->retried = false;
    struct cstep s = {c};
    return lwt_try_bind(attempt(c), finished, failed, LWT_CTX(s));
}
