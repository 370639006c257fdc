/* What both key/value stores (the compiled-in assets, the Unix directory)
 * and the asset compiler share: which keys are well formed, and the content
 * type a key's extension gives. Freestanding C.
 */
#ifndef TESSERA_KV_COMMON_H
#define TESSERA_KV_COMMON_H

#include <stdbool.h>
#include <stddef.h>

/* Longest key a store accepts (bytes, without a NUL). */
#define KV_KEY_MAX 1024

/* 0 if key is well formed (kv.h): non-empty, no leading '/', no empty, "."
 * or ".." segment, no NUL byte; -LWT_EINVAL if not; -LWT_ENAMETOOLONG past
 * KV_KEY_MAX. */
int kv_key_check(const char *key, size_t len);

/* The content type for a key, from its extension (ASCII case ignored):
 * "text/html; charset=utf-8" for "index.html", and so on; text types carry
 * "; charset=utf-8". "x.css.gz", a precompressed variant of "x.css", has the
 * type of "x.css" (the server adds Content-Encoding: gzip); a ".gz" without
 * a known inner extension is "application/gzip". Anything else is
 * "application/octet-stream". Never NULL; a static string. */
const char *kv_content_type(const char *key, size_t len);

/* Whether a key's type is text worth compressing ahead of time (html, htm,
 * css, js, mjs, svg, json, txt, xml): the asset build makes a "KEY.gz"
 * variant of these. */
bool kv_compressible(const char *key, size_t len);

#endif
