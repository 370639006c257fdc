/* Key checks and content types (kv_common.h). */
#include "kv_common.h"

#include <string.h>

#include "lwt_errno.h"

int kv_key_check(const char *key, size_t len)
{
    if (len == 0)
        return -LWT_EINVAL;
    if (len > KV_KEY_MAX)
        return -LWT_ENAMETOOLONG;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && key[i] == '\0')
            return -LWT_EINVAL;
        if (i < len && key[i] != '/')
            continue;
        size_t seg = i - start;
        if (seg == 0 || (seg == 1 && key[start] == '.') || (seg == 2 && key[start] == '.' && key[start + 1] == '.'))
            return -LWT_EINVAL;
        start = i + 1;
    }
    return 0;
}

struct type {
    const char *ext;
    const char *type;
    bool compressible;
};

/* Text types say their charset: the site's files are UTF-8. */
static const struct type types[] = {
    {"html", "text/html; charset=utf-8", true},
    {"htm", "text/html; charset=utf-8", true},
    {"css", "text/css; charset=utf-8", true},
    {"js", "text/javascript; charset=utf-8", true},
    {"mjs", "text/javascript; charset=utf-8", true},
    {"json", "application/json", true},
    {"svg", "image/svg+xml", true},
    {"txt", "text/plain; charset=utf-8", true},
    {"xml", "application/xml", true},
    {"png", "image/png", false},
    {"jpg", "image/jpeg", false},
    {"jpeg", "image/jpeg", false},
    {"gif", "image/gif", false},
    {"webp", "image/webp", false},
    {"ico", "image/x-icon", false},
    {"pdf", "application/pdf", false},
    {"woff", "font/woff", false},
    {"woff2", "font/woff2", false},
    {"wasm", "application/wasm", false},
};

#define DEFAULT_TYPE "application/octet-stream"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The extension of the last segment of key[0, len): after its last '.',
 * not counting a leading dot (".profile" has none). */
static bool extension(const char *key, size_t len, const char **ext, size_t *ext_len)
{
    size_t i = len;
    while (i > 0 && key[i - 1] != '.' && key[i - 1] != '/')
        i--;
    if (i <= 1 || key[i - 1] != '.' || key[i - 2] == '/')
        return false;
    *ext = key + i;
    *ext_len = len - i;
    return true;
}

static bool ext_is(const char *ext, size_t ext_len, const char *name)
{
    if (strlen(name) != ext_len)
        return false;
    for (size_t i = 0; i < ext_len; i++)
        if (lower(ext[i]) != name[i])
            return false;
    return true;
}

static const struct type *lookup(const char *key, size_t len)
{
    const char *ext;
    size_t ext_len;
    if (!extension(key, len, &ext, &ext_len))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (ext_is(ext, ext_len, types[i].ext))
            return &types[i];
    return NULL;
}

const char *kv_content_type(const char *key, size_t len)
{
    const char *ext;
    size_t ext_len;
    if (extension(key, len, &ext, &ext_len) && ext_is(ext, ext_len, "gz")) {
        const struct type *inner = lookup(key, len - 3);
        return inner ? inner->type : "application/gzip";
    }
    const struct type *t = lookup(key, len);
    return t ? t->type : DEFAULT_TYPE;
}

bool kv_compressible(const char *key, size_t len)
{
    const struct type *t = lookup(key, len);
    return t && t->compressible;
}
