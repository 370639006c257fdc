/* Serving a key/value store (kv/kv.h) as a static web site: the request
 * handler of apps/www.
 *
 * - GET and HEAD; anything else gets 405 with Allow.
 * - "/a/b" is key "a/b"; a path ending in '/' serves its index.html; a key
 *   that is a directory redirects (301) to the path with '/' added.
 * - Missing keys get 404 with the store's 404.html if it has one.
 * - Content-Type from the store, a strong ETag, Last-Modified,
 *   Accept-Ranges; If-None-Match, then If-Modified-Since, give 304.
 * - A single byte range gives 206 (with If-Range honoured), one that cannot
 *   be satisfied 416; several ranges, or a malformed Range, are ignored
 *   (the whole file, as RFC 9110 §14.2 allows).
 * - A client that accepts gzip gets KEY.gz with Content-Encoding: gzip when
 *   the store has one (the asset compiler makes them for text files).
 *
 * Ownership: the store is borrowed and must outlive the site and every
 * response it made (each body holds its entry until the server releases
 * it).
 */
#ifndef TESSERA_WWW_STATIC_SITE_H
#define TESSERA_WWW_STATIC_SITE_H

#include "http.h"
#include "kv.h"

struct static_site {
    struct kv *kv;
};

/* The http_handler_fn; ctx is a struct static_site. */
lwt_t *static_site_handle(void *ctx, const struct http_request *req, struct http_response *resp);

#endif
