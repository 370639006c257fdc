/* See unix_app_kv.h. */
#include <stddef.h>

#include "log.h"
#include "lwt.h"
#include "unix_app_kv.h"

#ifdef TESSERA_HAVE_KV
#include "kv_assets.h"
#include "unix_kv_dir.h"

/* Defined only in images built with ASSETS. */
extern const struct kv_asset_table tessera_assets __attribute__((weak));
#endif

static struct log_source kv_log = LOG_SOURCE("main");

/* Which constructor made the store, for unix_app_kv_close. */
static enum { KV_NONE, KV_DIR, KV_ASSETS } kind;

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

void unix_app_kv_close(struct kv *kv)
{
    if (!kv)
        return;
#ifdef TESSERA_HAVE_KV
    if (kind == KV_DIR)
        unix_kv_dir_free(kv);
    else if (kind == KV_ASSETS)
        kv_assets_free(kv);
#endif
    kind = KV_NONE;
}
