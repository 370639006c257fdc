/* The read-only key/value store device (DESIGN.md §4): where an app finds
 * its files (a web site's pages). Implementations:
 *
 *   assets compiled into the image   kv/kv_assets.h (every target; built by
 *                                    tessera_add_unikernel(... ASSETS dir))
 *   a directory on Unix              os-unix/unix_kv_dir.h
 *   a disk image on a block device   kv/kv_disk.h (every target)
 *
 * Keys are relative paths with '/' between segments: "index.html",
 * "img/logo.png". No leading '/', no empty, "." or ".." segment (those get
 * -LWT_EINVAL, so a store never reaches outside its root). A key that is a
 * directory (a prefix of other keys, or a directory on disk) gets
 * -LWT_EISDIR, so that a web server can serve its index.html.
 *
 * An entry carries everything HTTP wants to say about a file: its bytes,
 * its length, its content type (from the extension), a strong ETag (quoted,
 * as it goes in the header) and its modification time. The entry and its
 * bytes are the store's: valid until kv_release. Everything runs on the
 * scheduler's thread.
 */
#ifndef TESSERA_KV_H
#define TESSERA_KV_H

#include <stddef.h>
#include <stdint.h>

#include "lwt.h"

struct kv;

struct kv_entry {
    const uint8_t *data;
    size_t len;
    const char *content_type; /* e.g. "text/html; charset=utf-8" */
    const char *etag;         /* strong, with its quotes: "\"5d41402abc4b2a76\"" */
    int64_t mtime;            /* seconds since the epoch, for Last-Modified */
};

struct kv_ops {
    /* Fulfilled with a const struct kv_entry *, the store's until
     * kv_release; rejected with -LWT_ENOENT, -LWT_EISDIR, -LWT_EINVAL (a
     * malformed key), -LWT_EFBIG (bigger than the store will load) or
     * another LWT_E* code. key is borrowed for the call only. */
    lwt_t *(*get)(struct kv *kv, const char *key, size_t key_len);
    void (*release)(struct kv *kv, const struct kv_entry *e);
};

struct kv {
    const struct kv_ops *ops; /* ro */
    const char *name;         /* for logs */
};

static inline lwt_t *kv_get(struct kv *kv, const char *key, size_t key_len)
{
    return kv->ops->get(kv, key, key_len);
}

static inline void kv_release(struct kv *kv, const struct kv_entry *e)
{
    kv->ops->release(kv, e);
}

#endif
