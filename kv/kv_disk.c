/* The store on a block device (kv_disk.h).
 *
 * The index is read once, whole, and kept: the records point into it, and
 * their strings are NUL-terminated there, so an entry's content type and
 * ETag are the index's own bytes. Lookup is a binary search in the
 * record array, as in the compiled-in store. A get reads the sectors that
 * cover the file into one allocation with the entry in front, so release
 * is one free.
 */
#include "kv_disk.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kv_common.h"
#include "kv_image.h"
#include "log.h"
#include "sha256.h"

static struct log_source disk_log = LOG_SOURCE("kv-disk");

static const struct kv_ops disk_ops;

struct kv_disk {
    struct kv kv; /* first: a struct kv * is a struct kv_disk * */
    struct block *dev;
    uint8_t *index_buf; /* the sectors holding the index */
    struct kv_image_record *recs;
    uint32_t count;
    size_t max_file;
    size_t entries_out; /* handed out, not yet released */
};

struct disk_entry {
    struct kv_entry e;
    uint8_t buf[]; /* the file's sectors */
};

/* ---- Opening ---------------------------------------------------------- */

struct opening {
    struct block *dev;
    struct kv_disk_config cfg;
    uint8_t *sector0;
    struct kv_image_header h;
    uint8_t *index_buf; /* until the store takes it */
    size_t index_skip;  /* where the index starts in index_buf */
};

static lwt_t *refuse(const struct opening *o, const char *why)
{
    log_error(&disk_log, "%s: not a usable key/value image: %s", o->dev->name, why);
    return lwt_fail(-LWT_EBADMSG);
}

/* Sectors covering [offset, offset + len), and where offset falls in the
 * first. len > 0 and the range within the device. */
static void cover(const struct block *dev, uint64_t offset, uint64_t len, uint64_t *first, size_t *bytes, size_t *skip)
{
    uint64_t ss = dev->sector_size;
    *first = offset / ss;
    *skip = (size_t)(offset % ss);
    uint64_t last = (offset + len - 1) / ss;
    *bytes = (size_t)((last - *first + 1) * ss);
}

static lwt_t *got_index(void *value, void *ctx)
{
    (void)value;
    struct opening *o = *(struct opening **)ctx;
    const struct kv_image_header *h = &o->h;
    const uint8_t *index = o->index_buf ? o->index_buf + o->index_skip : NULL;
    if (h->index_size && kv_image_crc32(0, index, (size_t)h->index_size) != h->index_crc)
        return refuse(o, "index checksum mismatch");

    struct kv_disk *d = malloc(sizeof *d);
    struct kv_image_record *recs = h->count ? malloc(h->count * sizeof *recs) : NULL;
    if (!d || (h->count && !recs)) {
        free(d);
        free(recs);
        return lwt_fail(-LWT_ENOMEM);
    }
    size_t pos = 0;
    for (uint32_t i = 0; i < h->count; i++) {
        const char *why;
        if (kv_image_record_next(h, index, &pos, i ? &recs[i - 1] : NULL, &recs[i], &why) < 0) {
            log_error(&disk_log, "%s: not a usable key/value image: entry %u: %s", o->dev->name, (unsigned)i, why);
            free(d);
            free(recs);
            return lwt_fail(-LWT_EBADMSG);
        }
    }
    if (pos != h->index_size) {
        free(d);
        free(recs);
        return refuse(o, "bytes after the last index entry");
    }
    *d = (struct kv_disk){
        .kv = {.ops = &disk_ops, .name = "disk"},
        .dev = o->dev,
        .index_buf = o->index_buf,
        .recs = recs,
        .count = h->count,
        .max_file = o->cfg.max_file ? o->cfg.max_file : KV_DISK_DEFAULT_MAX_FILE,
    };
    o->index_buf = NULL;
    log_info(&disk_log, "%s: %u files", o->dev->name, (unsigned)h->count);
    return lwt_return(&d->kv);
}

static lwt_t *got_header(void *value, void *ctx)
{
    (void)value;
    struct opening *o = *(struct opening **)ctx;
    const char *why;
    if (kv_image_header_decode(o->sector0, o->dev->sector_size, &o->h, &why) < 0)
        return refuse(o, why);
    if (o->h.image_size > block_size_bytes(o->dev))
        return refuse(o, "the image is bigger than the device");
    if (o->cfg.max_index && o->h.index_size > o->cfg.max_index) {
        log_error(&disk_log, "%s: the image's index (%llu bytes) is over the %zu this store may load", o->dev->name,
                  (unsigned long long)o->h.index_size, o->cfg.max_index);
        return lwt_fail(-LWT_EFBIG);
    }
    if (o->h.index_size == 0)
        return lwt_return(NULL);
    uint64_t first;
    size_t bytes;
    cover(o->dev, o->h.index_offset, o->h.index_size, &first, &bytes, &o->index_skip);
    o->index_buf = malloc(bytes);
    if (!o->index_buf)
        return lwt_fail(-LWT_ENOMEM);
    return block_read(o->dev, first, o->index_buf, bytes);
}

static lwt_t *opening_free(void *ctx)
{
    struct opening *o = *(struct opening **)ctx;
    free(o->sector0);
    free(o->index_buf);
    free(o);
    return lwt_return(NULL);
}

lwt_t *kv_disk_open(struct block *dev, const struct kv_disk_config *cfg)
{
    if (dev->sectors == 0) {
        log_error(&disk_log, "%s: not a usable key/value image: the device is empty", dev->name);
        return lwt_fail(-LWT_EBADMSG);
    }
    struct opening *o = malloc(sizeof *o);
    uint8_t *sector0 = malloc(dev->sector_size);
    if (!o || !sector0) {
        free(o);
        free(sector0);
        return lwt_fail(-LWT_ENOMEM);
    }
    *o = (struct opening){.dev = dev, .sector0 = sector0};
    if (cfg)
        o->cfg = *cfg;
    lwt_t *p = block_read(dev, 0, sector0, dev->sector_size);
    p = lwt_bind(p, got_header, LWT_CTX(o));
    p = lwt_bind(p, got_index, LWT_CTX(o));
    return lwt_finalize(p, opening_free, LWT_CTX(o));
}

void kv_disk_free(struct kv *kv)
{
    struct kv_disk *d = (struct kv_disk *)kv;
    if (!d)
        return;
    if (d->entries_out)
        log_error(&disk_log, "%s: store freed with %zu entries not released", d->dev->name, d->entries_out);
    free(d->recs);
    free(d->index_buf);
    free(d);
}

size_t kv_disk_count(const struct kv *kv)
{
    return ((const struct kv_disk *)kv)->count;
}

/* ---- Lookup ----------------------------------------------------------- */

/* The order between key[0, len) followed by '/' if slash, and rec's key. */
static int key_cmp(const char *key, size_t len, bool slash, const struct kv_image_record *rec)
{
    int c = memcmp(key, rec->key, len < rec->key_len ? len : rec->key_len);
    if (c != 0)
        return c;
    if (len > rec->key_len)
        return 1;
    if (!slash)
        return len < rec->key_len ? -1 : 0;
    if (len == rec->key_len)
        return 1; /* "dir/" sorts after "dir" */
    c = (unsigned char)'/' - (unsigned char)rec->key[len];
    if (c != 0)
        return c;
    return len + 1 < rec->key_len ? -1 : 0;
}

static size_t lower_bound(const struct kv_disk *d, const char *key, size_t len, bool slash)
{
    size_t lo = 0, hi = d->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (key_cmp(key, len, slash, &d->recs[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool is_directory(const struct kv_disk *d, const char *key, size_t len)
{
    size_t i = lower_bound(d, key, len, true);
    if (i == d->count)
        return false;
    const struct kv_image_record *r = &d->recs[i];
    return r->key_len > len && memcmp(r->key, key, len) == 0 && r->key[len] == '/';
}

struct reading {
    struct kv_disk *d;
    const struct kv_image_record *rec;
    struct disk_entry *de;
    size_t skip;
};

static lwt_t *got_data(void *value, void *ctx)
{
    (void)value;
    struct reading *r = ctx;
    const uint8_t *data = r->de->buf + r->skip;
    size_t len = (size_t)r->rec->data_size;
    uint8_t digest[SHA256_DIGEST_LEN];
    struct sha256 h;
    sha256_init(&h);
    sha256_update(&h, data, len);
    sha256_final(&h, digest);
    if (memcmp(digest, r->rec->sha256, sizeof digest) != 0) {
        log_error(&disk_log, "%s: %s: data does not match its checksum (corrupt image)", r->d->dev->name, r->rec->key);
        free(r->de);
        return lwt_fail(-LWT_EBADMSG);
    }
    r->de->e.data = data;
    r->d->entries_out++;
    return lwt_return(&r->de->e);
}

static lwt_t *read_failed(int err, void *ctx)
{
    struct reading *r = ctx;
    free(r->de);
    return lwt_fail(err);
}

static lwt_t *disk_get(struct kv *kv, const char *key, size_t key_len)
{
    struct kv_disk *d = (struct kv_disk *)kv;
    int err = kv_key_check(key, key_len);
    if (err < 0)
        return lwt_fail(err);
    size_t i = lower_bound(d, key, key_len, false);
    if (i == d->count || key_cmp(key, key_len, false, &d->recs[i]) != 0)
        return lwt_fail(is_directory(d, key, key_len) ? -LWT_EISDIR : -LWT_ENOENT);
    const struct kv_image_record *rec = &d->recs[i];
    if (rec->data_size > d->max_file)
        return lwt_fail(-LWT_EFBIG);

    uint64_t first = 0;
    size_t bytes = 0, skip = 0;
    if (rec->data_size)
        cover(d->dev, rec->data_offset, rec->data_size, &first, &bytes, &skip);
    struct disk_entry *de = malloc(sizeof *de + bytes);
    if (!de)
        return lwt_fail(-LWT_ENOMEM);
    de->e = (struct kv_entry){
        .len = (size_t)rec->data_size,
        .content_type = rec->content_type,
        .etag = rec->etag,
        .mtime = rec->mtime,
    };
    struct reading r = {.d = d, .rec = rec, .de = de, .skip = skip};
    lwt_t *p = bytes ? block_read(d->dev, first, de->buf, bytes) : lwt_return(NULL);
    return lwt_try_bind(p, got_data, read_failed, LWT_CTX(r));
}

static void disk_release(struct kv *kv, const struct kv_entry *e)
{
    struct kv_disk *d = (struct kv_disk *)kv;
    d->entries_out--;
    free((struct disk_entry *)e);
}

static const struct kv_ops disk_ops = {
    .get = disk_get,
    .release = disk_release,
};
