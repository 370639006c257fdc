/* See xen_blk_kv.h. The store does not own its device, so each store
 * opened here is paired with its disk in a small table, for close. */
#include <stddef.h>
#include <stdint.h>

#include "kv_disk.h"
#include "log.h"
#include "xen_arch.h"
#include "xen_blk_kv.h"
#include "xen_blkfront.h"
#include "xen_mm.h"

#define MAX_STORES 4

static struct {
    struct kv *kv;
    struct block *dev;
} stores[MAX_STORES];

static struct log_source kv_log = LOG_SOURCE("kv-disk");

static lwt_t *store_open(void *value, void *ctx)
{
    (void)ctx;
    struct block *dev = value;
    size_t quarter = xen_mm_free_pages() * XEN_PAGE_SIZE / 4;
    struct kv_disk_config cfg = {.max_file = quarter, .max_index = quarter};
    if (cfg.max_file > KV_DISK_DEFAULT_MAX_FILE)
        cfg.max_file = KV_DISK_DEFAULT_MAX_FILE;
    return kv_disk_open(dev, &cfg);
}

static lwt_t *refail(void *value, void *ctx)
{
    (void)value;
    return lwt_fail(*(int *)ctx);
}

static lwt_t *swallow(int err, void *ctx)
{
    (void)err, (void)ctx;
    return lwt_return(NULL);
}

struct opened {
    lwt_t *dev; /* the disk's promise, fulfilled */
};

static lwt_t *paired(void *value, void *ctx)
{
    struct block *dev = lwt_value(((struct opened *)ctx)->dev);
    lwt_unref(((struct opened *)ctx)->dev);
    for (unsigned i = 0; i < MAX_STORES; i++) {
        if (!stores[i].kv) {
            stores[i].kv = value;
            stores[i].dev = dev;
            return lwt_return(value);
        }
    }
    log_error(&kv_log, "more than %d stores on disks", MAX_STORES);
    kv_disk_free(value);
    int err = -LWT_EMFILE;
    return lwt_bind(lwt_catch(xen_blkfront_close(dev), swallow, LWT_NOCTX), refail, LWT_CTX(err));
}

static lwt_t *store_failed(int err, void *ctx)
{
    lwt_t *devp = ((struct opened *)ctx)->dev;
    struct block *dev = lwt_state(devp) == LWT_FULFILLED ? lwt_value(devp) : NULL;
    lwt_unref(devp);
    if (!dev)
        return lwt_fail(err);
    lwt_t *p = lwt_catch(xen_blkfront_close(dev), swallow, LWT_NOCTX);
    return lwt_bind(p, refail, LWT_CTX(err));
}

lwt_t *xen_blk_kv_open(const char *vdev)
{
    lwt_t *dev = xen_blkfront_open(vdev);
    struct opened o = {lwt_ref(dev)};
    lwt_t *p = lwt_bind(dev, store_open, LWT_NOCTX);
    return lwt_try_bind(p, paired, store_failed, LWT_CTX(o));
}

lwt_t *xen_blk_kv_close(struct kv *kv)
{
    for (unsigned i = 0; i < MAX_STORES; i++) {
        if (stores[i].kv == kv && kv) {
            struct block *dev = stores[i].dev;
            stores[i].kv = NULL;
            stores[i].dev = NULL;
            kv_disk_free(kv);
            return xen_blkfront_close(dev);
        }
    }
    return lwt_fail(-LWT_EINVAL);
}
