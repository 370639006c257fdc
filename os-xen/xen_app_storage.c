/* See xen_app_storage.h. */
#include <stddef.h>
#include <string.h>

#include "block.h"
#include "kv_assets.h"
#include "log.h"
#include "xen_app_storage.h"
#include "xen_blk_kv.h"
#include "xen_blkfront.h"

/* Defined only in images built with assets. */
extern const struct kv_asset_table tessera_assets __attribute__((weak));

static struct log_source main_log = LOG_SOURCE("main");

int xen_app_storage_option(struct xen_app_storage *st, int argc, char **argv, int i)
{
    const char *opt = argv[i];
    bool block = strcmp(opt, "--block") == 0, kv = strcmp(opt, "--kv-disk") == 0;
    if (!block && !kv)
        return 0;
    if (i + 1 >= argc) {
        log_error(&main_log, "%s needs a virtual disk's name (such as xvdb)", opt);
        return -LWT_EINVAL;
    }
    if (block)
        st->block_vdev = argv[i + 1];
    else
        st->kv_vdev = argv[i + 1];
    return 2;
}

int xen_app_storage_options(int *argc, char ***argv, struct xen_app_storage *st)
{
    int n = *argc, i = 1;
    char **v = *argv;
    while (i < n) {
        if (strcmp(v[i], "--") == 0) {
            i++;
            break;
        }
        int used = xen_app_storage_option(st, n, v, i);
        if (used < 0)
            return used;
        if (used == 0)
            break; /* the app's */
        i += used;
    }
    /* The app sees its own words behind the program's name. */
    v[i - 1] = v[0];
    *argc = n - (i - 1);
    *argv = v + (i - 1);
    return 0;
}

struct opening {
    struct xen_app_storage *st;
    struct app_devices *dev;
};

static lwt_t *got_kv(void *value, void *ctx)
{
    struct opening *o = ctx;
    o->st->kv = value;
    o->dev->kv = value;
    return lwt_return(NULL);
}

static lwt_t *open_kv(void *value, void *ctx)
{
    (void)value;
    struct opening *o = ctx;
    if (o->st->kv_vdev)
        return lwt_bind(xen_blk_kv_open(o->st->kv_vdev), got_kv, ctx, sizeof *o);
    if (&tessera_assets != NULL) {
        struct kv *kv = kv_assets_new(&tessera_assets);
        if (!kv)
            return lwt_fail(-LWT_ENOMEM);
        o->st->kv_assets = true;
        return got_kv(kv, ctx);
    }
    return lwt_return(NULL);
}

static lwt_t *got_block(void *value, void *ctx)
{
    struct opening *o = ctx;
    o->st->block = value;
    o->dev->block = value;
    return lwt_return(NULL);
}

static lwt_t *refail(void *value, void *ctx)
{
    (void)value;
    return lwt_fail(*(int *)ctx);
}

static lwt_t *open_failed(int err, void *ctx)
{
    struct opening *o = ctx;
    log_error(&main_log, "the app's storage: %s", lwt_strerror(err));
    o->dev->block = NULL;
    o->dev->kv = NULL;
    return lwt_bind(xen_app_storage_close(o->st), refail, LWT_CTX(err));
}

lwt_t *xen_app_storage_open(struct xen_app_storage *st, struct app_devices *dev)
{
    struct opening o = {st, dev};
    lwt_t *p = st->block_vdev ? lwt_bind(xen_blkfront_open(st->block_vdev), got_block, LWT_CTX(o)) : lwt_return(NULL);
    p = lwt_bind(p, open_kv, LWT_CTX(o));
    return lwt_catch(p, open_failed, LWT_CTX(o));
}

struct closing {
    struct xen_app_storage *st;
    int err;
};

static lwt_t *close_block(void *value, void *ctx);

static lwt_t *kv_closed(int err, void *ctx)
{
    ((struct closing *)ctx)->err = err;
    return close_block(NULL, ctx);
}

static lwt_t *block_closed(void *value, void *ctx)
{
    (void)value;
    struct closing *c = ctx;
    return c->err ? lwt_fail(c->err) : lwt_return(NULL);
}

static lwt_t *block_failed(int err, void *ctx)
{
    struct closing *c = ctx;
    return lwt_fail(c->err ? c->err : err);
}

static lwt_t *close_block(void *value, void *ctx)
{
    (void)value;
    struct closing *c = ctx;
    struct block *b = c->st->block;
    c->st->block = NULL;
    lwt_t *p = b ? xen_blkfront_close(b) : lwt_return(NULL);
    return lwt_try_bind(p, block_closed, block_failed, ctx, sizeof *c);
}

lwt_t *xen_app_storage_close(struct xen_app_storage *st)
{
    struct closing c = {st, 0};
    struct kv *kv = st->kv;
    st->kv = NULL;
    lwt_t *p = lwt_return(NULL);
    if (kv && st->kv_assets)
        kv_assets_free(kv);
    else if (kv)
        p = xen_blk_kv_close(kv);
    st->kv_assets = false;
    return lwt_try_bind(p, close_block, kv_closed, LWT_CTX(c));
}
