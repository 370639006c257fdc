/* The store on a block device, over the image the image builder made at
 * build time from tests/kv/assets (tessera_add_kv_image in this
 * directory's CMakeLists.txt): on memory devices of each sector size and
 * on the image file itself through the Unix file device, every entry
 * compared with the compiled-in store made from the same directory. Then
 * lookups and their errors, the sectors a get reads, corrupt images (any
 * bit of the header, the index, a file's data; lies with their checksums
 * right), device errors, and cancellation while the device holds the
 * requests. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block_mem.h"
#include "kv_assets.h"
#include "kv_disk.h"
#include "kv_image.h"
#include "log.h"
#include "scheduler.h"
#include "unix_block_file.h"
#include "unix_jobs.h"
#include "unix_platform.h"

static uint8_t *image;
static size_t image_len;

/* The log's lines, to check the reasons given. */
static char log_text[4096];
static size_t log_len;

static void log_capture(const char *text, size_t len)
{
    size_t room = sizeof log_text - 1 - log_len;
    if (len > room)
        len = room;
    memcpy(log_text + log_len, text, len);
    log_len += len;
    log_text[log_len] = '\0';
}

static int group_setup(void **state)
{
    (void)state;
    FILE *f = fopen(KV_TEST_IMAGE, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    image_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    image = malloc(image_len);
    size_t got = image ? fread(image, 1, image_len, f) : 0;
    fclose(f);
    return got == image_len ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    free(image);
    return 0;
}

static int setup(void **state)
{
    log_len = 0;
    log_text[0] = '\0';
    log_set_output(log_capture);
    return test_setup(state);
}

static int teardown(void **state)
{
    log_set_output(NULL);
    return test_teardown(state);
}

/* ---- Helpers ------------------------------------------------------------ */

static struct block *device(const uint8_t *bytes, size_t len, uint32_t sector_size)
{
    struct block *b;
    assert_int_equal(block_mem_new_from(bytes, len, sector_size, true, &b), 0);
    return b;
}

/* Opens the store, settling at once (the memory device is not held):
 * its error, or 0 with *out. */
static int open_now(struct block *b, size_t max_file, struct kv **out)
{
    struct kv_disk_config cfg = {.max_file = max_file};
    lwt_t *p = kv_disk_open(b, &cfg);
    drain();
    assert_int_not_equal(lwt_state(p), LWT_PENDING);
    int err = lwt_error(p);
    *out = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

static int get(struct kv *kv, const char *key, const struct kv_entry **out)
{
    lwt_t *p = kv_get(kv, key, strlen(key));
    drain();
    assert_int_not_equal(lwt_state(p), LWT_PENDING);
    int err = lwt_error(p);
    if (out)
        *out = err ? NULL : lwt_value(p);
    else if (!err)
        kv_release(kv, lwt_value(p));
    lwt_unref(p);
    return err;
}

static const struct kv_asset *compiled(const char *key)
{
    for (size_t i = 0; i < tessera_assets.count; i++)
        if (strcmp(tessera_assets.assets[i].key, key) == 0)
            return &tessera_assets.assets[i];
    fail_msg("%s is not in the compiled-in store", key);
    return NULL;
}

static void same_as_compiled(struct kv *kv)
{
    assert_int_equal(kv_disk_count(kv), tessera_assets.count);
    assert_true(tessera_assets.count >= 8);
    for (size_t i = 0; i < tessera_assets.count; i++) {
        const struct kv_asset *a = &tessera_assets.assets[i];
        const struct kv_entry *e;
        assert_int_equal(get(kv, a->key, &e), 0);
        assert_int_equal(e->len, a->len);
        assert_memory_equal(e->data, a->data, a->len);
        assert_string_equal(e->content_type, a->content_type);
        assert_string_equal(e->etag, a->etag);
        assert_int_equal(e->mtime, a->mtime);
        kv_release(kv, e);
    }
}

/* ---- The image as built ------------------------------------------------- */

static void entries_match_the_compiled_store(void **state)
{
    (void)state;
    for (uint32_t ss = 512; ss <= 4096; ss *= 2) {
        struct block *b = device(image, image_len, ss);
        struct kv *kv;
        assert_int_equal(open_now(b, 0, &kv), 0);
        assert_non_null(kv->name);
        same_as_compiled(kv);
        kv_disk_free(kv);
        block_mem_free(b);
    }
}

static lwt_t *check_file_store(void *value, void *ctx)
{
    (void)ctx;
    struct kv *kv = value;
    same_as_compiled(kv);
    kv_disk_free(kv);
    return lwt_return(NULL);
}

static void entries_from_the_image_file(void **state)
{
    (void)state;
    assert_int_equal(unix_platform_start(NULL), 0);
    test_support_install_platform();
    log_set_output(log_capture);
    for (int pool = 0; pool < 2; pool++) {
        if (pool)
            assert_int_equal(unix_jobs_start(2), 0);
        struct block *b;
        assert_int_equal(unix_block_file_open(KV_TEST_IMAGE, true, 0, &b), 0);
        /* On the pool the store's reads are pending for a while; the
         * checks (synchronous gets) then need the loop between them, so
         * they are made on the memory copy above, and here only the open
         * and one get go through the file. */
        lwt_t *p = kv_disk_open(b, NULL);
        if (pool) {
            assert_pending(p);
            void *v;
            assert_int_equal(sched_run(p, &v), 0);
            struct kv *kv = v;
            lwt_t *g = kv_get(kv, "index.html", 10);
            assert_pending(g);
            assert_int_equal(sched_run(lwt_ref(g), &v), 0);
            const struct kv_entry *e = v;
            const struct kv_asset *a = compiled("index.html");
            assert_int_equal(e->len, a->len);
            assert_memory_equal(e->data, a->data, a->len);
            lwt_unref(g);
            kv_release(kv, e);
            kv_disk_free(kv);
        } else {
            assert_int_equal(sched_run(lwt_bind(p, check_file_store, LWT_NOCTX), NULL), 0);
        }
        unix_block_file_close(b);
    }
    unix_jobs_stop();
    unix_platform_stop();
}

static void lookups_and_their_errors(void **state)
{
    (void)state;
    struct block *b = device(image, image_len, 512);
    struct kv *kv;
    assert_int_equal(open_now(b, 1000, &kv), 0);
    assert_int_equal(get(kv, "docs", NULL), -LWT_EISDIR);
    assert_int_equal(get(kv, "img", NULL), -LWT_EISDIR);
    assert_int_equal(get(kv, "docs-old", NULL), -LWT_EISDIR);
    assert_int_equal(get(kv, "doc", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "docs/missing", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "zzz", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "0", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, ".hidden", NULL), -LWT_ENOENT);
    assert_int_equal(get(kv, "../a.txt", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "/a.txt", NULL), -LWT_EINVAL);
    assert_int_equal(get(kv, "", NULL), -LWT_EINVAL);
    /* Bigger than the store will load (index.html is 1620 bytes). */
    assert_int_equal(get(kv, "index.html", NULL), -LWT_EFBIG);
    kv_disk_free(kv);
    struct kv_disk_config small = {.max_index = 100};
    lwt_t *p = kv_disk_open(b, &small);
    drain();
    assert_int_equal(lwt_error(p), -LWT_EFBIG);
    lwt_unref(p);
    assert_non_null(strstr(log_text, "index"));
    assert_int_equal(open_now(b, 1000, &kv), 0);
    /* An empty file reads nothing. */
    uint64_t before = b->stats.reads;
    const struct kv_entry *e;
    assert_int_equal(get(kv, "empty", &e), 0);
    assert_int_equal(e->len, 0);
    assert_non_null(e->data);
    kv_release(kv, e);
    assert_int_equal(b->stats.reads, before);
    /* A small file reads its one sector, no more. */
    before = b->stats.read_bytes;
    assert_int_equal(get(kv, "a.txt", NULL), 0);
    assert_int_equal(b->stats.read_bytes - before, 512);
    kv_disk_free(kv);
    block_mem_free(b);
}

static void an_empty_image(void **state)
{
    (void)state;
    uint8_t img[4096] = {0};
    struct kv_image_header h = {.count = 0, .index_offset = 512, .index_size = 0, .image_size = 4096};
    kv_image_header_encode(&h, img);
    struct block *b = device(img, sizeof img, 512);
    struct kv *kv;
    assert_int_equal(open_now(b, 0, &kv), 0);
    assert_int_equal(kv_disk_count(kv), 0);
    assert_int_equal(get(kv, "index.html", NULL), -LWT_ENOENT);
    kv_disk_free(kv);
    block_mem_free(b);
}

/* ---- Corrupt images ------------------------------------------------------- */

static int open_copy(const uint8_t *bytes, size_t len)
{
    struct block *b = device(bytes, len, 512);
    struct kv *kv;
    int err = open_now(b, 0, &kv);
    if (!err)
        kv_disk_free(kv);
    block_mem_free(b);
    return err;
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Makes both checksums right again after a change. */
static void reseal(uint8_t *img)
{
    uint64_t off = get_le(img + 24, 8), size = get_le(img + 32, 8);
    put_le(img + 48, kv_image_crc32(0, img + off, (size_t)size), 4);
    put_le(img + 60, kv_image_crc32(0, img, 60), 4);
}

static void refused_with(const uint8_t *img, size_t len, const char *reason)
{
    log_len = 0;
    log_text[0] = '\0';
    assert_int_equal(open_copy(img, len), -LWT_EBADMSG);
    if (!strstr(log_text, reason))
        fail_msg("expected '%s' in the log, got: %s", reason, log_text);
}

static void any_bit_of_header_or_index(void **state)
{
    (void)state;
    uint8_t *img = malloc(image_len);
    assert_non_null(img);
    memcpy(img, image, image_len);
    assert_int_equal(open_copy(img, image_len), 0);
    uint64_t index_end = get_le(img + 24, 8) + get_le(img + 32, 8);
    size_t step = (size_t)test_scale(1, 5);
    for (size_t i = 0; i < index_end; i += (i < 64 ? 1 : step)) {
        if (i == 64)
            i = 512; /* the rest of sector 0 is not part of the image's structure */
        uint8_t bit = (uint8_t)(1u << (i % 8));
        img[i] ^= bit;
        assert_int_equal(open_copy(img, image_len), -LWT_EBADMSG);
        img[i] ^= bit;
    }
    free(img);
}

static void lies_with_the_checksums_right(void **state)
{
    (void)state;
    uint8_t *img = malloc(image_len);
    assert_non_null(img);
    const size_t first = 512; /* the first record */
    size_t second =
        first + kv_image_record_size((size_t)get_le(image + first + 56, 2), image[first + 58], image[first + 59]);

    memcpy(img, image, image_len);
    img[0] = 'X';
    refused_with(img, image_len, "not a usable key/value image: not a key/value image (bad magic)");

    memcpy(img, image, image_len);
    img[second + 60] = 'A'; /* "bytes.bin" becomes "Aytes.bin", before "a.txt" */
    reseal(img);
    refused_with(img, image_len, "entry 1: keys out of order or repeated");

    memcpy(img, image, image_len);
    memcpy(img + first + 60, "../..", 5); /* "a.txt" becomes "../.." */
    reseal(img);
    refused_with(img, image_len, "entry 0: malformed key");

    memcpy(img, image, image_len);
    size_t type_at = first + 60 + get_le(image + first + 56, 2) + 1;
    img[type_at + 4] = '\n'; /* "text\nplain" */
    reseal(img);
    refused_with(img, image_len, "entry 0: content type with a byte outside printable ASCII");

    memcpy(img, image, image_len);
    put_le(img + second + 8, image_len, 8); /* bytes.bin runs off the end */
    reseal(img);
    refused_with(img, image_len, "entry 1: data past the end of the image");

    memcpy(img, image, image_len);
    put_le(img + second, 512, 8); /* bytes.bin's data in the index */
    reseal(img);
    refused_with(img, image_len, "entry 1: data overlaps the header or the index");

    memcpy(img, image, image_len);
    put_le(img + 16, get_le(img + 16, 4) - 1, 4); /* one entry fewer than written */
    reseal(img);
    refused_with(img, image_len, "bytes after the last index entry");

    memcpy(img, image, image_len);
    put_le(img + 16, get_le(img + 16, 4) + 1, 4); /* one more than written */
    reseal(img);
    refused_with(img, image_len, "index ends inside a record");

    /* A device shorter than the image says. */
    refused_with(image, image_len - 4096, "the image is bigger than the device");
    /* Not an image at all. */
    uint8_t zeros[4096] = {0};
    refused_with(zeros, sizeof zeros, "bad magic");
    struct block *b;
    assert_int_equal(block_mem_new(512, 0, true, &b), 0);
    struct kv *kv;
    assert_int_equal(open_now(b, 0, &kv), -LWT_EBADMSG);
    assert_non_null(strstr(log_text, "the device is empty"));
    block_mem_free(b);
    free(img);
}

static void corrupt_data_is_refused_on_get(void **state)
{
    (void)state;
    uint8_t *img = malloc(image_len);
    assert_non_null(img);
    memcpy(img, image, image_len);
    /* The last byte of a.txt's data. */
    uint64_t at = get_le(img + 512, 8) + get_le(img + 512 + 8, 8) - 1;
    img[at] ^= 0x20;
    struct block *b = device(img, image_len, 512);
    struct kv *kv;
    assert_int_equal(open_now(b, 0, &kv), 0);
    log_len = 0;
    assert_int_equal(get(kv, "a.txt", NULL), -LWT_EBADMSG);
    assert_non_null(strstr(log_text, "a.txt: data does not match its checksum"));
    assert_int_equal(get(kv, "bytes.bin", NULL), 0);
    kv_disk_free(kv);
    block_mem_free(b);
    free(img);
}

/* ---- The device fails, or takes its time ----------------------------------- */

static void device_errors(void **state)
{
    (void)state;
    struct block *b = device(image, image_len, 512);
    struct kv *kv;
    block_mem_fail(b, 1, 1, -LWT_EIO, false); /* the index */
    assert_int_equal(open_now(b, 0, &kv), -LWT_EIO);
    block_mem_fail(b, 0, 1, -LWT_EIO, false); /* the header */
    assert_int_equal(open_now(b, 0, &kv), -LWT_EIO);
    block_mem_fail(b, 0, 0, 0, false);
    assert_int_equal(open_now(b, 0, &kv), 0);
    uint64_t a_sector = get_le(image + 512, 8) / 512;
    block_mem_fail(b, a_sector, 1, -LWT_EIO, false);
    assert_int_equal(get(kv, "a.txt", NULL), -LWT_EIO);
    assert_int_equal(get(kv, "bytes.bin", NULL), 0);
    kv_disk_free(kv);
    block_mem_free(b);
}

static void cancelled_while_the_device_holds_them(void **state)
{
    (void)state;
    struct block *b = device(image, image_len, 512);
    block_mem_hold(b, true);
    /* Cancelled while the header is being read, then while the index is. */
    lwt_t *p = kv_disk_open(b, NULL);
    assert_pending(p);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);
    assert_int_equal(block_mem_held(b), 0);
    p = kv_disk_open(b, NULL);
    assert_int_equal(block_mem_complete(b, 1), 1);
    drain();
    assert_pending(p);
    assert_int_equal(block_mem_held(b), 1);
    lwt_cancel(p);
    drain();
    assert_int_equal(lwt_error(p), -LWT_ECANCELED);
    lwt_unref(p);

    /* Opened in its own time. */
    p = kv_disk_open(b, NULL);
    while (block_mem_held(b)) {
        block_mem_complete(b, 1);
        drain();
    }
    assert_fulfilled(p);
    struct kv *kv = lwt_value(p);
    lwt_unref(p);
    lwt_t *g1 = kv_get(kv, "a.txt", 5), *g2 = kv_get(kv, "style.css", 9);
    assert_pending(g1);
    assert_pending(g2);
    lwt_cancel(g1);
    drain();
    assert_int_equal(lwt_error(g1), -LWT_ECANCELED);
    lwt_unref(g1);
    assert_int_equal(block_mem_complete(b, 5), 1);
    drain();
    assert_fulfilled(g2);
    const struct kv_entry *e = lwt_value(g2);
    assert_string_equal(e->content_type, "text/css; charset=utf-8");
    kv_release(kv, e);
    lwt_unref(g2);
    kv_disk_free(kv);
    block_mem_free(b);
}

int main(void)
{
#define DISK_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        DISK_TEST(entries_match_the_compiled_store),
        DISK_TEST(entries_from_the_image_file),
        DISK_TEST(lookups_and_their_errors),
        DISK_TEST(an_empty_image),
        DISK_TEST(any_bit_of_header_or_index),
        DISK_TEST(lies_with_the_checksums_right),
        DISK_TEST(corrupt_data_is_refused_on_get),
        DISK_TEST(device_errors),
        DISK_TEST(cancelled_while_the_device_holds_them),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
