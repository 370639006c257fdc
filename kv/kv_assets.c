/* The compiled-in store (kv_assets.h): a binary search in the sorted table.
 * The entries handed out are made once, at kv_assets_new, so a get costs no
 * allocation beyond its promise and kv_release has nothing to do. */
#include "kv_assets.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kv_common.h"
#include "lwt_errno.h"

struct kv_assets {
    struct kv kv; /* first: a struct kv * is a struct kv_assets * */
    const struct kv_asset_table *table;
    struct kv_entry *entries; /* one per asset, same order */
};

/* strcmp's order between key[0, len) (no NUL in it), followed by a '/'
 * if slash, and the C string s. */
static int key_cmp(const char *key, size_t len, bool slash, const char *s)
{
    size_t n = len + (slash ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)(i < len ? key[i] : '/'), b = (unsigned char)s[i];
        if (b == '\0' || a != b)
            return a < b ? -1 : 1;
    }
    return s[n] == '\0' ? 0 : -1;
}

/* The first index whose key is not below key[0, len) (+ '/'). */
static size_t lower_bound(const struct kv_asset_table *t, const char *key, size_t len, bool slash)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(key, len, slash, t->assets[mid].key) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The keys under a directory sort together from "dir/" on: the first key
 * at or after it says whether there are any. */
static bool is_directory(const struct kv_asset_table *t, const char *key, size_t len)
{
    size_t i = lower_bound(t, key, len, true);
    return i < t->count && strncmp(t->assets[i].key, key, len) == 0 && t->assets[i].key[len] == '/';
}

static lwt_t *assets_get(struct kv *kv, const char *key, size_t key_len)
{
    struct kv_assets *a = (struct kv_assets *)kv;
    int err = kv_key_check(key, key_len);
    if (err < 0)
        return lwt_fail(err);
    size_t i = lower_bound(a->table, key, key_len, false);
    if (i < a->table->count && key_cmp(key, key_len, false, a->table->assets[i].key) == 0)
        return lwt_return((void *)&a->entries[i]);
    if (is_directory(a->table, key, key_len))
        return lwt_fail(-LWT_EISDIR);
    return lwt_fail(-LWT_ENOENT);
}

static void assets_release(struct kv *kv, const struct kv_entry *e)
{
    (void)kv;
    (void)e;
}

static const struct kv_ops assets_ops = {
    .get = assets_get,
    .release = assets_release,
};

struct kv *kv_assets_new(const struct kv_asset_table *table)
{
    struct kv_assets *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    a->kv.ops = &assets_ops;
    a->kv.name = "assets";
    a->table = table;
    a->entries = NULL;
    if (table->count > 0) {
        a->entries = malloc(table->count * sizeof *a->entries);
        if (!a->entries) {
            free(a);
            return NULL;
        }
    }
    for (size_t i = 0; i < table->count; i++) {
        const struct kv_asset *s = &table->assets[i];
        a->entries[i] = (struct kv_entry){
            .data = s->data,
            .len = s->len,
            .content_type = s->content_type,
            .etag = s->etag,
            .mtime = s->mtime,
        };
    }
    return &a->kv;
}

void kv_assets_free(struct kv *kv)
{
    struct kv_assets *a = (struct kv_assets *)kv;
    if (!a)
        return;
    free(a->entries);
    free(a);
}
