/* The key/value store (kv/kv.h) on a Xen virtual disk: blkfront
 * (xen_blkfront.h) and the store that reads a disk image through it
 * (kv/kv_disk.h), with the limits sized to the domain's memory (running
 * out of memory stops a domain): a file or an index may take at most a
 * quarter of the memory still free when the store is opened.
 *
 * For the mains of images whose app serves files: with the disk image
 * built by tessera_add_kv_image (or tessera_kvimg) and named in the xl
 * config (disk = ['format=raw, vdev=xvdb, access=ro, target=site.img']),
 *
 *     lwt_t *p = xen_blk_kv_open("xvdb");   // then dev.kv = the value
 *     ...
 *     xen_blk_kv_close(dev.kv);             // after the app
 *
 * Most mains want xen_app_storage.h instead, which also parses the
 * command line's --kv-disk and falls back on the compiled-in assets.
 * Private to os-xen/.
 */
#ifndef TESSERA_XEN_BLK_KV_H
#define TESSERA_XEN_BLK_KV_H

#include "kv.h"
#include "lwt.h"

/* Fulfilled with the struct kv *; rejected with xen_blkfront_open's
 * errors or kv_disk_open's (-LWT_EBADMSG for a disk that holds no usable
 * image: logged with the reason). Cancelable. */
lwt_t *xen_blk_kv_open(const char *vdev);

/* Frees the store (entries released first) and disconnects its disk.
 * Fulfilled with NULL, or rejected as xen_blkfront_close is. */
lwt_t *xen_blk_kv_close(struct kv *kv);

#endif
