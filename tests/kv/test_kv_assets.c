/* The compiled-in store: lookups and every error code on a table written
 * by hand, and the table the asset compiler made at build time from
 * tests/kv/assets (tessera_add_assets in this directory's CMakeLists.txt),
 * checked against the files themselves. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv_assets.h"
#include "sha256.h"

/* ---- A table written by hand ------------------------------------------ */

static const uint8_t hello[] = "hello";

#define ASSET(k)                                                                                                       \
    {                                                                                                                  \
        k, hello, 5, "text/plain; charset=utf-8", "\"" k "\"", 42                                                      \
    }
static const struct kv_asset by_hand[] = {
    ASSET("a"),        ASSET("b.txt"),           ASSET("docs-old/x"),   ASSET("docs.txt"),
    ASSET("docs/a/b"), ASSET("docs/index.html"), ASSET("img/logo.png"), ASSET("z"),
};
#undef ASSET
static const struct kv_asset_table by_hand_table = {by_hand, sizeof by_hand / sizeof by_hand[0]};

/* Gets key; the promise must have settled at once. Returns its error, or 0
 * with the entry in *out. */
static int get(struct kv *kv, const char *key, size_t len, const struct kv_entry **out)
{
    lwt_t *p = kv_get(kv, key, len);
    assert_int_not_equal(lwt_state(p), LWT_PENDING);
    int err = lwt_state(p) == LWT_REJECTED ? lwt_error(p) : 0;
    if (out)
        *out = err ? NULL : lwt_value(p);
    lwt_unref(p);
    return err;
}

static int get_s(struct kv *kv, const char *key)
{
    return get(kv, key, strlen(key), NULL);
}

static void finds_every_key(void **state)
{
    (void)state;
    struct kv *kv = kv_assets_new(&by_hand_table);
    assert_non_null(kv);
    assert_non_null(kv->name);
    for (size_t i = 0; i < by_hand_table.count; i++) {
        const struct kv_entry *e;
        const char *key = by_hand[i].key;
        assert_int_equal(get(kv, key, strlen(key), &e), 0);
        assert_ptr_equal(e->data, hello);
        assert_int_equal(e->len, 5);
        assert_string_equal(e->content_type, "text/plain; charset=utf-8");
        assert_ptr_equal(e->etag, by_hand[i].etag);
        assert_int_equal(e->mtime, 42);
        kv_release(kv, e);
    }
    /* A key given with a length, not NUL-terminated there. */
    const struct kv_entry *e;
    assert_int_equal(get(kv, "docs.txtXYZ", 8, &e), 0);
    assert_ptr_equal(e->etag, by_hand[3].etag);
    kv_release(kv, e);
    kv_assets_free(kv);
}

static void directories_are_eisdir(void **state)
{
    (void)state;
    struct kv *kv = kv_assets_new(&by_hand_table);
    assert_non_null(kv);
    /* "docs" has "docs-old/..." and "docs.txt" sorting between it and
     * "docs/". */
    assert_int_equal(get_s(kv, "docs"), -LWT_EISDIR);
    assert_int_equal(get_s(kv, "docs/a"), -LWT_EISDIR);
    assert_int_equal(get_s(kv, "docs-old"), -LWT_EISDIR);
    assert_int_equal(get_s(kv, "img"), -LWT_EISDIR);
    kv_assets_free(kv);
}

static void missing_keys_are_enoent(void **state)
{
    (void)state;
    struct kv *kv = kv_assets_new(&by_hand_table);
    assert_non_null(kv);
    const char *missing[] = {"0",     "b",          "b.tx",           "b.txtt",     "doc",
                             "docs/", "docs/a/b/c", "docs/index.htm", "docs.txt/x", "img/logo",
                             "y",     "zz",         "\x7f",           "a/b"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        int err = get_s(kv, missing[i]);
        /* "docs/" is malformed (an empty segment) rather than missing. */
        int want = strcmp(missing[i], "docs/") == 0 ? -LWT_EINVAL : -LWT_ENOENT;
        if (err != want)
            fail_msg("\"%s\": %d", missing[i], err);
    }
    kv_assets_free(kv);
}

static void malformed_keys_are_einval(void **state)
{
    (void)state;
    struct kv *kv = kv_assets_new(&by_hand_table);
    assert_non_null(kv);
    const char *bad[] = {"", "/a", "/", "docs//index.html", "./a", "docs/../a", "..", "docs/."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(get_s(kv, bad[i]), -LWT_EINVAL);
    assert_int_equal(get(kv, "a\0", 2, NULL), -LWT_EINVAL);
    char long_key[2000];
    memset(long_key, 'a', sizeof long_key);
    assert_int_equal(get(kv, long_key, sizeof long_key, NULL), -LWT_ENAMETOOLONG);
    kv_assets_free(kv);
}

static void empty_table(void **state)
{
    (void)state;
    static const struct kv_asset_table none = {NULL, 0};
    struct kv *kv = kv_assets_new(&none);
    assert_non_null(kv);
    assert_int_equal(get_s(kv, "index.html"), -LWT_ENOENT);
    assert_int_equal(get_s(kv, ".."), -LWT_EINVAL);
    kv_assets_free(kv);
    kv_assets_free(NULL);
}

/* ---- The table compiled from tests/kv/assets --------------------------- */

static uint8_t *read_file(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TEST_ASSETS_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open", path);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

struct expect {
    const char *key;
    const char *type;
};

static const struct expect compiled[] = {
    {"a.txt", "text/plain; charset=utf-8"},
    {"bytes.bin", "application/octet-stream"},
    {"docs-old/x.txt", "text/plain; charset=utf-8"},
    {"docs.txt", "text/plain; charset=utf-8"},
    {"docs/index.html", "text/html; charset=utf-8"},
    {"empty", "application/octet-stream"},
    {"img/Logo.PNG", "image/png"},
    {"index.html", "text/html; charset=utf-8"},
    {"index.html.gz", "text/html; charset=utf-8"},
    {"style.css", "text/css; charset=utf-8"},
    {"style.css.gz", "text/css; charset=utf-8"},
};

static void compiled_table_is_sorted_and_complete(void **state)
{
    (void)state;
    const struct kv_asset_table *t = &tessera_assets;
    size_t n = sizeof compiled / sizeof compiled[0];
    for (size_t i = 0; i < t->count; i++)
        if (i >= n || strcmp(t->assets[i].key, compiled[i].key) != 0)
            fail_msg("entry %zu is \"%s\"", i, t->assets[i].key);
    assert_int_equal(t->count, n);
    for (size_t i = 1; i < t->count; i++)
        assert_true(strcmp(t->assets[i - 1].key, t->assets[i].key) < 0);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(t->assets[i].content_type, compiled[i].type);
}

static void compiled_entries_match_the_files(void **state)
{
    (void)state;
    struct kv *kv = kv_assets_new(&tessera_assets);
    assert_non_null(kv);
    for (size_t i = 0; i < tessera_assets.count; i++) {
        const struct kv_asset *a = &tessera_assets.assets[i];
        const struct kv_entry *e;
        assert_int_equal(get(kv, a->key, strlen(a->key), &e), 0);
        assert_ptr_equal(e->data, a->data);
        assert_int_equal(e->len, a->len);
        assert_string_equal(e->content_type, a->content_type);
        assert_string_equal(e->etag, a->etag);
        assert_true(e->mtime > 0);

        /* The strong ETag: the first 16 hex digits of the SHA-256. */
        struct sha256 h;
        uint8_t d[SHA256_DIGEST_LEN];
        char hex[SHA256_HEX_LEN], etag[20];
        sha256_init(&h);
        sha256_update(&h, e->data, e->len);
        sha256_final(&h, d);
        sha256_hex(d, hex);
        snprintf(etag, sizeof etag, "\"%.16s\"", hex);
        assert_string_equal(e->etag, etag);

        size_t klen = strlen(a->key);
        if (klen > 3 && strcmp(a->key + klen - 3, ".gz") == 0) {
            /* A gzip stream, smaller than what it compresses. */
            char orig[256];
            snprintf(orig, sizeof orig, "%.*s", (int)(klen - 3), a->key);
            size_t olen;
            free(read_file(orig, &olen));
            assert_true(e->len >= 2 && e->data[0] == 0x1f && e->data[1] == 0x8b);
            assert_true(e->len < olen);
        } else {
            size_t len;
            uint8_t *bytes = read_file(a->key, &len);
            assert_int_equal(e->len, len);
            assert_memory_equal(e->data, bytes, len);
            free(bytes);
        }
        kv_release(kv, e);
    }
    assert_int_equal(get_s(kv, "docs"), -LWT_EISDIR);
    assert_int_equal(get_s(kv, ".hidden"), -LWT_ENOENT);
    assert_int_equal(get_s(kv, "a.txt.gz"), -LWT_ENOENT); /* not smaller */
    kv_assets_free(kv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(finds_every_key),
        TEST(directories_are_eisdir),
        TEST(missing_keys_are_enoent),
        TEST(malformed_keys_are_einval),
        TEST(empty_table),
        TEST(compiled_table_is_sorted_and_complete),
        TEST(compiled_entries_match_the_files),
    };
    return RUN_TESTS(tests);
}
