/* A key/value store (kv/kv.h) backed by a directory on Unix: the same
 * files as an ASSETS directory, read at request time, so a site can be
 * edited without rebuilding. Content types come from the extension as in
 * the compiled-in store; the ETag from the file's size and modification
 * time (strong within one file system, as nginx's); files are read whole
 * (up to a limit: -LWT_EFBIG past it) and never outside the root (keys
 * with "..", symlinks leaving the root, and special files are refused).
 *
 * Ownership: root is copied. unix_kv_dir_free frees the store; entries
 * still held must have been released first.
 */
#ifndef TESSERA_UNIX_KV_DIR_H
#define TESSERA_UNIX_KV_DIR_H

#include "kv.h"

/* 0, or -LWT_ENOENT / -LWT_ENOTDIR if root is not a directory, or
 * -LWT_ENOMEM. */
int unix_kv_dir_new(const char *root, struct kv **out);
void unix_kv_dir_free(struct kv *kv);

#endif
