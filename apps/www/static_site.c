/* See static_site.h. Each request is one struct lookup, alive from the
 * handler until the server releases the response's body (or at once when
 * the answer has none of the store's bytes). */
#include "static_site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwt_errno.h"
#include "http_date.h"
#include "kv_common.h"

struct lookup {
    struct static_site *site;
    const struct http_request *req; /* valid until the handler's promise settles */
    struct http_response *resp;     /* likewise */
    const struct kv_entry *entry;   /* the one served, released with the body */
    bool gz;                        /* the key being looked up is KEY.gz */
    size_t key_len;                 /* KEY's, without ".gz" */
    char key[];                     /* KEY, with room for ".gz" */
};

struct step {
    struct lookup *lk;
};

static const char not_found_text[] = "Not Found\n";
static const char not_allowed_text[] = "Method Not Allowed\n";
static const char server_error_text[] = "Internal Server Error\n";

/* ---- Reading request headers ---------------------------------------------- */

/* A q parameter of 0 (RFC 9110 §12.4.2: "q=0", "q=0.0" up to three zeros)
 * means "not acceptable". */
static bool q_is_zero(const char *params, size_t len)
{
    for (size_t i = 0; i + 2 <= len; i++) {
        if ((params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
            const char *v = params + i + 2;
            size_t n = len - i - 2;
            if (n == 0 || v[0] != '0')
                return false;
            for (size_t k = 1; k < n; k++)
                if (v[k] != '.' && v[k] != '0')
                    return false;
            return true;
        }
    }
    return false;
}

/* Accept-Encoding lets gzip through: listed (or "*") with a q above 0, and
 * not refused by name. */
static bool accepts_gzip(const struct http_request *req)
{
    const struct http_header *h = http_request_header(req, "Accept-Encoding");
    if (!h)
        return false;
    const char *p = h->value, *end = h->value + h->value_len, *elem;
    size_t len;
    bool named = false, star = false;
    while (http_list_next(&p, end, &elem, &len)) {
        size_t name_len = 0;
        while (name_len < len && elem[name_len] != ';' && elem[name_len] != ' ' && elem[name_len] != '\t')
            name_len++;
        bool zero = q_is_zero(elem + name_len, len - name_len);
        if (http_token_is(elem, name_len, "gzip") || http_token_is(elem, name_len, "x-gzip")) {
            if (zero)
                return false;
            named = true;
        } else if (http_token_is(elem, name_len, "*")) {
            star = !zero;
        }
    }
    return named || star;
}

/* Opaque tags equal, ignoring W/ (the weak comparison If-None-Match uses,
 * RFC 9110 §13.1.2). */
static bool etag_matches_weakly(const char *tag, size_t len, const char *ours)
{
    if (len >= 2 && tag[0] == 'W' && tag[1] == '/')
        tag += 2, len -= 2;
    if (ours[0] == 'W' && ours[1] == '/')
        ours += 2;
    return len == strlen(ours) && memcmp(tag, ours, len) == 0;
}

static bool none_match_hits(const struct http_header *h, const char *etag)
{
    const char *p = h->value, *end = h->value + h->value_len, *elem;
    size_t len;
    while (http_list_next(&p, end, &elem, &len))
        if ((len == 1 && elem[0] == '*') || etag_matches_weakly(elem, len, etag))
            return true;
    return false;
}

/* ---- Ranges (RFC 9110 §14) -------------------------------------------------- */

enum range_kind { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

static bool parse_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        uint64_t d = (uint64_t)(**p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
        (*p)++;
    }
    *v = n;
    return *p > s;
}

/* One "bytes=" range against a file of len bytes; several ranges or a
 * malformed header are RANGE_NONE (served whole). */
static enum range_kind parse_range(const struct http_header *h, uint64_t len, uint64_t *first, uint64_t *last)
{
    const char *p = h->value, *end = h->value + h->value_len;
    if (h->value_len < 6 || !http_token_is(p, 6, "bytes="))
        return RANGE_NONE;
    p += 6;
    if (memchr(p, ',', (size_t)(end - p)))
        return RANGE_NONE;
    uint64_t a = 0, b = 0;
    if (p < end && *p == '-') {
        p++;
        if (!parse_u64(&p, end, &b) || p != end)
            return RANGE_NONE;
        if (b == 0 || len == 0)
            return RANGE_UNSATISFIABLE;
        *first = len > b ? len - b : 0;
        *last = len - 1;
        return RANGE_OK;
    }
    if (!parse_u64(&p, end, &a) || p == end || *p != '-')
        return RANGE_NONE;
    p++;
    bool open_ended = p == end;
    if (!open_ended && (!parse_u64(&p, end, &b) || p != end || b < a))
        return RANGE_NONE;
    if (a >= len)
        return RANGE_UNSATISFIABLE;
    *first = a;
    *last = open_ended || b >= len ? len - 1 : b;
    return RANGE_OK;
}

/* If-Range (RFC 9110 §13.1.5): the range applies only to the
 * representation the client has: the same strong ETag, or exactly our
 * Last-Modified date. */
static bool if_range_holds(const struct http_request *req, const struct kv_entry *e)
{
    const struct http_header *h = http_request_header(req, "If-Range");
    if (!h)
        return true;
    if (h->value_len && h->value[0] == '"')
        return h->value_len == strlen(e->etag) && memcmp(h->value, e->etag, h->value_len) == 0;
    int64_t t;
    return http_date_parse(h->value, h->value_len, &t) && t == e->mtime;
}

/* ---- Answers ---------------------------------------------------------------- */

static void release_entry(void *ctx)
{
    struct lookup *lk = ctx;
    kv_release(lk->site->kv, lk->entry);
    free(lk);
}

static lwt_t *answer_text(struct lookup *lk, int status, const char *text)
{
    struct http_response *resp = lk->resp;
    resp->status = status;
    http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    http_response_body(resp, text, strlen(text), NULL, NULL);
    free(lk);
    return lwt_return(NULL);
}

/* ETag, Last-Modified, and Vary wherever a compressed variant may exist
 * (so that caches keep the two apart). */
static void validators(const struct lookup *lk, const struct kv_entry *e)
{
    char date[HTTP_DATE_LEN + 1];
    http_date_format(e->mtime, date);
    http_response_header(lk->resp, "ETag", e->etag);
    http_response_header(lk->resp, "Last-Modified", date);
    if (lk->gz || kv_compressible(lk->key, lk->key_len))
        http_response_header(lk->resp, "Vary", "Accept-Encoding");
}

static lwt_t *serve(struct lookup *lk, const struct kv_entry *e)
{
    const struct http_request *req = lk->req;
    struct http_response *resp = lk->resp;
    lk->entry = e;
    /* Conditionals first (RFC 9110 §13.2.2): If-None-Match, and only
     * without it If-Modified-Since. */
    const struct http_header *inm = http_request_header(req, "If-None-Match");
    const struct http_header *ims = inm ? NULL : http_request_header(req, "If-Modified-Since");
    int64_t since;
    if ((inm && none_match_hits(inm, e->etag)) ||
        (ims && http_date_parse(ims->value, ims->value_len, &since) && e->mtime <= since)) {
        resp->status = 304;
        validators(lk, e);
        release_entry(lk);
        return lwt_return(NULL);
    }
    http_response_header(resp, "Content-Type", e->content_type);
    http_response_header(resp, "Accept-Ranges", "bytes");
    if (lk->gz)
        http_response_header(resp, "Content-Encoding", "gzip");
    validators(lk, e);
    const struct http_header *range = req->method == HTTP_GET ? http_request_header(req, "Range") : NULL;
    uint64_t first = 0, last = 0;
    enum range_kind kind = range && if_range_holds(req, e) ? parse_range(range, e->len, &first, &last) : RANGE_NONE;
    char cr[64];
    if (kind == RANGE_UNSATISFIABLE) {
        resp->status = 416;
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)e->len);
        http_response_header(resp, "Content-Range", cr);
        release_entry(lk);
        return lwt_return(NULL);
    }
    if (kind == RANGE_OK) {
        resp->status = 206;
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
                 (unsigned long long)e->len);
        http_response_header(resp, "Content-Range", cr);
        http_response_body(resp, e->data + first, (size_t)(last - first + 1), release_entry, lk);
        return lwt_return(NULL);
    }
    resp->status = 200;
    http_response_body(resp, e->data, e->len, release_entry, lk);
    return lwt_return(NULL);
}

static lwt_t *found(void *v, void *ctx)
{
    return serve(((struct step *)ctx)->lk, v);
}

static lwt_t *found_404_page(void *v, void *ctx)
{
    struct lookup *lk = ((struct step *)ctx)->lk;
    const struct kv_entry *e = v;
    lk->entry = e;
    lk->resp->status = 404;
    http_response_header(lk->resp, "Content-Type", e->content_type);
    http_response_body(lk->resp, e->data, e->len, release_entry, lk);
    return lwt_return(NULL);
}

static lwt_t *no_404_page(int err, void *ctx)
{
    (void)err;
    return answer_text(((struct step *)ctx)->lk, 404, not_found_text);
}

/* "/docs" is a directory: the client asks again for "/docs/", so that
 * the page's relative links resolve under it. */
static lwt_t *redirect_to_directory(struct lookup *lk)
{
    const struct http_request *req = lk->req;
    size_t path_len = req->query ? (size_t)(req->query - 1 - req->target) : req->target_len;
    size_t query_len = req->query ? req->query_len + 1 : 0;
    char *loc = malloc(path_len + 1 + query_len + 1);
    if (!loc)
        return answer_text(lk, 500, server_error_text);
    memcpy(loc, req->target, path_len);
    loc[path_len] = '/';
    memcpy(loc + path_len + 1, req->query ? req->query - 1 : "", query_len);
    loc[path_len + 1 + query_len] = '\0';
    int rc = http_response_header(lk->resp, "Location", loc);
    free(loc);
    if (rc < 0)
        return answer_text(lk, 500, server_error_text);
    return answer_text(lk, 301, "Moved Permanently\n");
}

static lwt_t *missing(int err, void *ctx)
{
    struct step s = *(struct step *)ctx;
    struct lookup *lk = s.lk;
    if (lk->gz) {
        /* No precompressed variant: the file itself. */
        lk->gz = false;
        lk->key[lk->key_len] = '\0';
        return lwt_try_bind(kv_get(lk->site->kv, lk->key, lk->key_len), found, missing, LWT_CTX(s));
    }
    if (err == -LWT_EISDIR)
        return redirect_to_directory(lk);
    if (err == -LWT_ENOENT || err == -LWT_EINVAL || err == -LWT_ENOTDIR)
        return lwt_try_bind(kv_get(lk->site->kv, "404.html", 8), found_404_page, no_404_page, LWT_CTX(s));
    return answer_text(lk, 500, server_error_text);
}

lwt_t *static_site_handle(void *ctx, const struct http_request *req, struct http_response *resp)
{
    struct static_site *site = ctx;
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        resp->status = 405;
        http_response_header(resp, "Allow", "GET, HEAD");
        http_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        http_response_body(resp, not_allowed_text, sizeof not_allowed_text - 1, NULL, NULL);
        return lwt_return(NULL);
    }
    /* "/a/b" is key "a/b"; "/" and "/a/" serve their index.html. */
    const char *path = req->path[0] == '/' ? req->path + 1 : req->path;
    size_t len = req->path[0] == '/' ? req->path_len - 1 : req->path_len;
    bool dir = len == 0 || path[len - 1] == '/';
    size_t key_len = len + (dir ? sizeof "index.html" - 1 : 0);
    struct lookup *lk = malloc(sizeof *lk + key_len + sizeof ".gz");
    if (!lk)
        return lwt_fail(-LWT_ENOMEM);
    *lk = (struct lookup){.site = site, .req = req, .resp = resp, .key_len = key_len};
    memcpy(lk->key, path, len);
    if (dir)
        memcpy(lk->key + len, "index.html", sizeof "index.html" - 1);
    lk->key[key_len] = '\0';
    if (accepts_gzip(req)) {
        memcpy(lk->key + key_len, ".gz", sizeof ".gz");
        lk->gz = true;
    }
    struct step s = {lk};
    return lwt_try_bind(kv_get(site->kv, lk->key, key_len + (lk->gz ? 3 : 0)), found, missing, LWT_CTX(s));
}
