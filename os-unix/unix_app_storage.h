/* The storage a Unix main gives an app built with tessera_add_block_app
 * (app_devices.block and app_devices.kv), from the command line, which
 * starts with the main's options, as on Xen (os-xen/xen_app_storage.h):
 *
 *     NAME [--block FILE] [--kv-disk FILE] [--] [app args...]
 *
 *   --block FILE     the file (a disk image, or a block special file) as
 *                    app_devices.block, read-write (unix_block_file.h)
 *   --kv-disk FILE   app_devices.kv is the key/value store on the disk
 *                    image FILE (kv/kv_disk.h), opened read-only
 *
 * Both run on the job pool, which is started for them and stopped at
 * close. Compiled into the executables of such apps with their main, as
 * unix_app_kv.c is.
 */
#ifndef TESSERA_UNIX_APP_STORAGE_H
#define TESSERA_UNIX_APP_STORAGE_H

#include "app.h"

struct unix_app_storage {
    const char *block_path; /* --block, or NULL */
    const char *kv_path;    /* --kv-disk, or NULL */
    struct block *block;    /* private: what open opened */
    struct block *kv_dev;   /* private */
    struct kv *kv;          /* private */
    bool jobs;              /* private: the pool was started here */
};

/* Takes the options above from the front of the words, leaving argv[0]
 * in front of the app's. 0, or -LWT_EINVAL (an option without its value;
 * said on stderr). */
int unix_app_storage_options(int *argc, char ***argv, struct unix_app_storage *st);

/* Opens what the options name (running the loop for the store's open)
 * and sets dev->block and dev->kv. 0, or the first error (logged), after
 * closing what was opened. */
int unix_app_storage_open(struct unix_app_storage *st, struct app_devices *dev);
void unix_app_storage_close(struct unix_app_storage *st);

#endif
