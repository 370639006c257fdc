/* A key/value store (kv.h) of files compiled into the image: what
 * tessera_add_unikernel(... ASSETS dir) builds. At build time the asset
 * compiler (kv/assetc.c, a host tool) turns the directory into a C table
 * with each file's bytes, content type, length, strong ETag (from its
 * SHA-256) and modification time; the store only looks keys up in it.
 *
 * The generated table is named tessera_assets; a platform main declares it
 * weak and gives the app a store only if the image has one.
 *
 * Ownership: the table is static; kv_assets_free frees the store.
 */
#ifndef TESSERA_KV_ASSETS_H
#define TESSERA_KV_ASSETS_H

#include "kv.h"

struct kv_asset {
    const char *key; /* "index.html", "img/logo.png" */
    const uint8_t *data;
    size_t len;
    const char *content_type;
    const char *etag; /* with its quotes */
    int64_t mtime;
};

struct kv_asset_table {
    const struct kv_asset *assets; /* sorted by key (strcmp), for lookup */
    size_t count;
};

extern const struct kv_asset_table tessera_assets;

/* NULL if out of memory. */
struct kv *kv_assets_new(const struct kv_asset_table *table);
void kv_assets_free(struct kv *kv);

#endif
