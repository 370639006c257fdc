/* See unix_app_kv.h. */
#include <stddef.h>

#include "log.h"
#include "lwt.h"
#include "unix_app_kv.h"

#ifdef TESSERA_HAVE_KV
#include "kv_assets.h"
#include "kv_disk.h"
#include "scheduler.h"
#include "unix_block_file.h"
#include "unix_kv_dir.h"

/* Defined only in images built with ASSETS. */
extern const struct kv_asset_table tessera_assets __attribute__((weak));
#endif

static struct log_source kv_log = LOG_SOURCE("main");

/* Which constructor made the store, for unix_app_kv_close. */
static enum { KV_NONE, KV_DIR, KV_ASSETS, KV_DISK } kind;
static struct block *disk; /* KV_DISK: the image's file */

int unix_app_kv_open(const char *dir, struct kv **out)
{
    *out = NULL;
    kind = KV_NONE;
#ifdef TESSERA_HAVE_KV
    if (dir) {
        int rc = unix_kv_dir_new(dir, out);
        if (rc < 0) {
            log_error(&kv_log, "--kv-dir '%s': %s", dir, lwt_strerror(rc));
            return rc;
        }
        kind = KV_DIR;
        log_info(&kv_log, "files from the directory %s", dir);
        return 0;
    }
    if (&tessera_assets != NULL) {
        *out = kv_assets_new(&tessera_assets);
        if (!*out)
            return -LWT_ENOMEM;
        kind = KV_ASSETS;
        return 0;
    }
    return 0;
#else
    if (dir) {
        log_error(&kv_log, "--kv-dir: this build has no key/value stores (kv/)");
        return -LWT_ENOSYS;
    }
    return 0;
#endif
}

int unix_app_kv_open_disk(const char *path, struct kv **out)
{
    *out = NULL;
    kind = KV_NONE;
#ifdef TESSERA_HAVE_KV
    int rc = unix_block_file_open(path, true, 0, &disk);
    void *kv = NULL;
    if (rc == 0)
        rc = sched_run(kv_disk_open(disk, NULL), &kv);
    if (rc < 0) {
        log_error(&kv_log, "--kv-disk '%s': %s", path, lwt_strerror(rc));
        unix_block_file_close(disk);
        disk = NULL;
        return rc;
    }
    *out = kv;
    kind = KV_DISK;
    log_info(&kv_log, "files from the disk image %s", path);
    return 0;
#else
    (void)path;
    log_error(&kv_log, "--kv-disk: this build has no key/value stores (kv/)");
    return -LWT_ENOSYS;
#endif
}

void unix_app_kv_close(struct kv *kv)
{
    if (!kv)
        return;
#ifdef TESSERA_HAVE_KV
    if (kind == KV_DIR)
        unix_kv_dir_free(kv);
    else if (kind == KV_ASSETS)
        kv_assets_free(kv);
    else if (kind == KV_DISK) {
        kv_disk_free(kv);
        unix_block_file_close(disk);
        disk = NULL;
    }
#endif
    kind = KV_NONE;
}
