/* A key/value store (kv.h) on a block device: the files of a directory,
 * written to a disk image by the image builder (kvimg, kv/README.md) in
 * the format kv_image.h defines, read through block/block.h. The same
 * code reads an image file on Unix (os-unix/unix_block_file.h), a Xen
 * virtual disk (os-xen/xen_blkfront.h) or a memory device.
 *
 * Opening reads the header and the whole index and checks everything in
 * them (kv_image.h) before the store exists: an image that is not one, or
 * a corrupt one, is refused with -LWT_EBADMSG and one log line saying
 * what is wrong. A get reads the file's sectors (only those) and checks
 * its SHA-256 against the index before handing it out: data that does
 * not match is -LWT_EBADMSG too, logged with the key.
 *
 * Ownership: the device is borrowed for the life of the store. Entries
 * are the store's until kv_release; release them all before kv_disk_free.
 */
#ifndef TESSERA_KV_DISK_H
#define TESSERA_KV_DISK_H

#include <stddef.h>

#include "block.h"
#include "kv.h"

/* Files bigger than this are -LWT_EFBIG on get, unless the config says
 * otherwise: a file is read whole into memory. */
#define KV_DISK_DEFAULT_MAX_FILE ((size_t)16 << 20)

struct kv_disk_config {
    size_t max_file;  /* 0: KV_DISK_DEFAULT_MAX_FILE */
    size_t max_index; /* the index is read whole: 0: KV_IMAGE_INDEX_MAX */
};

/* Fulfilled with a struct kv * (free it with kv_disk_free); rejected with
 * -LWT_EBADMSG (not a key/value image, or a corrupt one, or bigger than
 * the device), -LWT_EFBIG (an index over cfg->max_index), the device's
 * error, or -LWT_ENOMEM. cfg may be NULL and is copied. Cancelable. */
lwt_t *kv_disk_open(struct block *dev, const struct kv_disk_config *cfg);
void kv_disk_free(struct kv *kv);

/* The number of files in the store. */
size_t kv_disk_count(const struct kv *kv);

#endif
