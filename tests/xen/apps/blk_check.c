/* blk-check (a test program): exercises the app's disk and key/value
 * store, and prints what a test can check from outside.
 *
 *     blk-check [--block DISK] [--kv-disk IMAGE] SEED [KEY...]
 *
 * With a disk: writes a pattern (a xorshift64* stream from SEED, so that
 * a test can compute it too) of 4 MiB and 3 sectors from sector 3 on (an
 * offset and a length that fit no page boundary, and more requests than
 * a ring holds), flushes, reads it back whole and in 8 concurrent pieces,
 * and compares; reads the last sector, and one past the end (which must
 * be refused); cancels a read at once and checks that its buffer stays
 * untouched. Prints the pattern's SHA-256 and where it is, so that the
 * disk can be checked after the program has ended.
 *
 * With a key/value store: prints each KEY's length, content type, ETag
 * and SHA-256.
 *
 * The main promise is rejected (-LWT_EIO) if any check failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "block.h"
#include "kv.h"
#include "sha256.h"

#define FIRST_SECTOR 3
#define PIECES       8

struct check {
    const struct app_devices *dev;
    struct block *b;
    uint64_t seed;
    size_t len;
    uint8_t *out, *in, *canary, *last;
    lwt_t *pieces[PIECES];
    lwt_t *gone; /* a read cancelled as soon as made */
    int failures;
    char **keys;
    int nkeys, next_key;
};

static void fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < len; i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1Dull;
        for (size_t k = 0; k < 8 && i + k < len; k++)
            buf[i + k] = (uint8_t)(v >> (8 * k));
    }
}

static void hex_sha256(const uint8_t *data, size_t len, char hex[SHA256_HEX_LEN])
{
    struct sha256 h;
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_init(&h);
    sha256_update(&h, data, len);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

static void failed(struct check *c, const char *what, int err)
{
    c->failures++;
    app_print(c->dev, "FAILED: %s: %s", what, lwt_strerror(err));
}

static void free_check(struct check *c)
{
    free(c->out);
    free(c->in);
    free(c->canary);
    free(c->last);
    free(c);
}

/* ---- The key/value store ------------------------------------------------ */

static lwt_t *next_key(void *value, void *ctx);

static lwt_t *got_entry(void *value, void *ctx)
{
    struct check *c = *(struct check **)ctx;
    const struct kv_entry *e = value;
    char hex[SHA256_HEX_LEN];
    hex_sha256(e->data, e->len, hex);
    app_print(c->dev, "kv %s: %zu bytes, %s, etag %s, sha256 %s", c->keys[c->next_key], e->len, e->content_type,
              e->etag, hex);
    kv_release(c->dev->kv, e);
    c->next_key++;
    return next_key(NULL, ctx);
}

static lwt_t *no_entry(int err, void *ctx)
{
    struct check *c = *(struct check **)ctx;
    app_print(c->dev, "kv %s: %s", c->keys[c->next_key], lwt_strerror(err));
    c->failures++;
    c->next_key++;
    return next_key(NULL, ctx);
}

static lwt_t *next_key(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    if (!c->dev->kv || c->next_key == c->nkeys) {
        int failures = c->failures;
        app_print(c->dev, "blk-check: %s", failures ? "FAILED" : "all checks passed");
        free_check(c);
        return failures ? lwt_fail(-LWT_EIO) : lwt_return(NULL);
    }
    const char *key = c->keys[c->next_key];
    return lwt_try_bind(kv_get(c->dev->kv, key, strlen(key)), got_entry, no_entry, ctx, sizeof c);
}

/* ---- The disk ------------------------------------------------------------- */

static lwt_t *boundaries(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    struct block *b = c->b;
    /* Past the end: refused at once. */
    lwt_t *p = block_read(b, b->sectors, c->last, b->sector_size);
    if (lwt_state(p) != LWT_REJECTED || lwt_error(p) != -LWT_ERANGE)
        failed(c, "a read past the end was not refused with ERANGE", lwt_error(p));
    lwt_unref(p);
    /* The cancelled read was rejected, and never touched its buffer. */
    if (lwt_error(c->gone) != -LWT_ECANCELED)
        failed(c, "a cancelled read was not rejected with ECANCELED", lwt_error(c->gone));
    lwt_unref(c->gone);
    c->gone = NULL;
    for (size_t i = 0; i < c->len; i++) {
        if (c->canary[i] != 0x5A) {
            failed(c, "a cancelled read wrote into its buffer", 0);
            break;
        }
    }
    const struct block_stats *s = &b->stats;
    app_print(c->dev, "disk stats: %llu reads (%llu bytes), %llu writes (%llu bytes), %llu flushes, %llu errors",
              (unsigned long long)s->reads, (unsigned long long)s->read_bytes, (unsigned long long)s->writes,
              (unsigned long long)s->written_bytes, (unsigned long long)s->flushes, (unsigned long long)s->errors);
    return next_key(NULL, ctx);
}

static lwt_t *last_read(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    char hex[SHA256_HEX_LEN];
    hex_sha256(c->last, c->b->sector_size, hex);
    app_print(c->dev, "last sector %llu: sha256 %s", (unsigned long long)(c->b->sectors - 1), hex);
    return boundaries(NULL, ctx);
}

static lwt_t *step_failed(int err, void *ctx)
{
    failed(*(struct check **)ctx, "disk request", err);
    return boundaries(NULL, ctx);
}

static lwt_t *pieces_read(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    if (memcmp(c->in, c->out, c->len) != 0)
        failed(c, "the concurrent reads differ from the pattern", 0);
    else
        app_print(c->dev, "concurrent reads: %d pieces verified", PIECES);
    lwt_t *p = block_read(c->b, c->b->sectors - 1, c->last, c->b->sector_size);
    return lwt_try_bind(p, last_read, step_failed, ctx, sizeof c);
}

static lwt_t *read_back(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    char hex[SHA256_HEX_LEN];
    hex_sha256(c->in, c->len, hex);
    if (memcmp(c->in, c->out, c->len) != 0)
        failed(c, "the data read back differs from the pattern", 0);
    else
        app_print(c->dev, "read back: %zu bytes verified, sha256 %s", c->len, hex);
    /* Again, in pieces all in flight at once, each a few sectors off the
     * last one's end. */
    memset(c->in, 0, c->len);
    size_t ss = c->b->sector_size, sectors = c->len / ss, per = sectors / PIECES;
    for (int i = 0; i < PIECES; i++) {
        size_t first = (size_t)i * per, n = i == PIECES - 1 ? sectors - first : per;
        c->pieces[i] = block_read(c->b, FIRST_SECTOR + first, c->in + first * ss, n * ss);
    }
    return lwt_try_bind(lwt_join(c->pieces, PIECES), pieces_read, step_failed, ctx, sizeof c);
}

static lwt_t *flushed(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    app_print(c->dev, "flushed");
    memset(c->in, 0, c->len);
    return lwt_try_bind(block_read(c->b, FIRST_SECTOR, c->in, c->len), read_back, step_failed, ctx, sizeof c);
}

static lwt_t *written(void *value, void *ctx)
{
    (void)value;
    struct check *c = *(struct check **)ctx;
    char hex[SHA256_HEX_LEN];
    hex_sha256(c->out, c->len, hex);
    app_print(c->dev, "pattern: %zu bytes at sector %d (%u-byte sectors), sha256 %s", c->len, FIRST_SECTOR,
              (unsigned)c->b->sector_size, hex);
    return lwt_try_bind(block_flush(c->b), flushed, step_failed, ctx, sizeof c);
}

static lwt_t *check_disk(struct check *c)
{
    struct block *b = c->b;
    app_print(c->dev, "disk %s: %llu sectors of %u bytes, %s", b->name, (unsigned long long)b->sectors,
              (unsigned)b->sector_size, b->read_only ? "read-only" : "read-write");
    uint64_t room = b->sectors > FIRST_SECTOR + 1 ? (b->sectors - FIRST_SECTOR - 1) * b->sector_size : 0;
    size_t want = ((size_t)4 << 20) + 3 * (size_t)b->sector_size;
    c->len = room < want ? (size_t)room : want;
    if (c->len == 0 || b->read_only) {
        failed(c, "the disk is too small or read-only", 0);
        return next_key(NULL, &c);
    }
    c->out = malloc(c->len);
    c->in = malloc(c->len);
    c->canary = malloc(c->len);
    c->last = malloc(b->sector_size);
    if (!c->out || !c->in || !c->canary || !c->last) {
        free_check(c);
        return lwt_fail(-LWT_ENOMEM);
    }
    fill_pattern(c->out, c->len, c->seed);
    memset(c->canary, 0x5A, c->len);
    c->gone = block_read(b, FIRST_SECTOR, c->canary, c->len);
    lwt_cancel(c->gone);
    return lwt_try_bind(block_write(b, FIRST_SECTOR, c->out, c->len), written, step_failed, LWT_CTX(c));
}

lwt_t *app_main(const struct app_devices *dev, int argc, char **argv)
{
    if (argc < 2) {
        app_print(dev, "usage: blk-check [--block DISK] [--kv-disk IMAGE] SEED [KEY...]");
        return lwt_fail(-LWT_EINVAL);
    }
    struct check *c = malloc(sizeof *c);
    if (!c)
        return lwt_fail(-LWT_ENOMEM);
    memset(c, 0, sizeof *c);
    c->dev = dev;
    c->b = dev->block;
    for (const char *s = argv[1]; *s >= '0' && *s <= '9'; s++)
        c->seed = c->seed * 10 + (uint64_t)(*s - '0');
    c->keys = argv + 2;
    c->nkeys = argc - 2;
    if (!dev->block)
        app_print(dev, "no disk");
    if (!dev->kv)
        app_print(dev, "no key/value store");
    if (dev->block)
        return check_disk(c);
    return next_key(NULL, &c);
}
