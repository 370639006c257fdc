/* The storage an image's main gives its app on Xen (app_devices.block and
 * app_devices.kv), from the domain's virtual disks and the command line
 * (xl's extra=), which starts with the main's options:
 *
 *     [--block VDEV] [--kv-disk VDEV] [--] [app args...]
 *
 *   --block VDEV     the disk VDEV ("xvda", as in the xl config's vdev=)
 *                    as app_devices.block, read-write unless the config
 *                    says access=ro (xen_blkfront.h)
 *   --kv-disk VDEV   app_devices.kv is the key/value store on the disk
 *                    image on VDEV (xen_blk_kv.h); without it, the assets
 *                    compiled into the image if there are any, else none
 *
 * Options are read up to the first word that is not one of them (or
 * "--"); that word and the rest are the app's, as on Unix. A main uses
 * it as xen_app_main.c does:
 *
 *     struct xen_app_storage st = {0};
 *     rc = xen_app_storage_options(&argc, &argv, &st);   // 0 or -LWT_EINVAL
 *     rc = sched_run(xen_app_storage_open(&st, &dev), NULL);
 *     rc = sched_run_main(app_main(&dev, argc, argv), NULL);
 *     sched_run(xen_app_storage_close(&st), NULL);         // before xen_platform_stop
 *
 * (tessera_add_block_app builds an app's image with this; an image with
 * network and files calls the same three.) Private to os-xen/.
 */
#ifndef TESSERA_XEN_APP_STORAGE_H
#define TESSERA_XEN_APP_STORAGE_H

#include <stdbool.h>

#include "app.h"
#include "lwt.h"

struct xen_app_storage {
    const char *block_vdev; /* --block, or NULL */
    const char *kv_vdev;    /* --kv-disk, or NULL */
    struct block *block;    /* private: what open opened */
    struct kv *kv;          /* private */
    bool kv_assets;         /* private: kv is the compiled-in store */
};

/* Takes the options above from the front of the words, leaving argv[0]
 * (the program's name) in front of the app's. 0, or -LWT_EINVAL (an
 * option without its value; logged). */
int xen_app_storage_options(int *argc, char ***argv, struct xen_app_storage *st);

/* For a main that reads options of its own too, one word at a time: if
 * argv[i] is --block or --kv-disk, takes it and its value and returns 2
 * (the words used); 0 if it is neither; -LWT_EINVAL (logged) if its value
 * is missing. argv is borrowed: st points into it. */
int xen_app_storage_option(struct xen_app_storage *st, int argc, char **argv, int i);

/* Connects what the options name and sets dev->block and dev->kv (NULL
 * where there is none). Fulfilled with NULL; rejected with the first
 * error (logged), after closing what was opened. */
lwt_t *xen_app_storage_open(struct xen_app_storage *st, struct app_devices *dev);

/* Frees the store and disconnects the disks: fulfilled with NULL, or
 * rejected with the first error (everything is closed either way). */
lwt_t *xen_app_storage_close(struct xen_app_storage *st);

#endif
