/* Key checks and content types, shared by both stores and the asset
 * compiler. */
#include "test_support.h"

#include <string.h>

#include "kv_common.h"

static int check(const char *key)
{
    return kv_key_check(key, strlen(key));
}

static void good_keys(void **state)
{
    (void)state;
    assert_int_equal(check("index.html"), 0);
    assert_int_equal(check("img/logo.png"), 0);
    assert_int_equal(check("a/b/c"), 0);
    assert_int_equal(check(".well-known/x"), 0);
    assert_int_equal(check("a..b"), 0);
    assert_int_equal(check("..."), 0);
}

static void malformed_keys(void **state)
{
    (void)state;
    const char *bad[] = {"", "/", "/index.html", "a//b", "a/", ".", "..", "./a", "a/.", "../a", "a/../b", "a/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (check(bad[i]) != -LWT_EINVAL)
            fail_msg("\"%s\" accepted", bad[i]);
    /* A NUL inside the length. */
    assert_int_equal(kv_key_check("a\0b", 3), -LWT_EINVAL);
    /* Only the given length counts. */
    assert_int_equal(kv_key_check("ab/..", 2), 0);
}

static void long_keys(void **state)
{
    (void)state;
    char key[KV_KEY_MAX + 2];
    memset(key, 'a', sizeof key);
    assert_int_equal(kv_key_check(key, KV_KEY_MAX), 0);
    assert_int_equal(kv_key_check(key, KV_KEY_MAX + 1), -LWT_ENAMETOOLONG);
}

static const char *type(const char *key)
{
    return kv_content_type(key, strlen(key));
}

static void content_types(void **state)
{
    (void)state;
    static const char *const table[][2] = {
        {"index.html", "text/html; charset=utf-8"},
        {"a/b.htm", "text/html; charset=utf-8"},
        {"style.css", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"mod.mjs", "text/javascript; charset=utf-8"},
        {"data.json", "application/json"},
        {"logo.svg", "image/svg+xml"},
        {"logo.png", "image/png"},
        {"photo.jpg", "image/jpeg"},
        {"photo.jpeg", "image/jpeg"},
        {"anim.gif", "image/gif"},
        {"pic.webp", "image/webp"},
        {"favicon.ico", "image/x-icon"},
        {"readme.txt", "text/plain; charset=utf-8"},
        {"feed.xml", "application/xml"},
        {"paper.pdf", "application/pdf"},
        {"f.woff", "font/woff"},
        {"f.woff2", "font/woff2"},
        {"m.wasm", "application/wasm"},
        /* Case does not matter. */
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"img/Logo.PNG", "image/png"},
        /* Precompressed variants take the type of what they compress. */
        {"style.css.gz", "text/css; charset=utf-8"},
        {"docs/index.html.GZ", "text/html; charset=utf-8"},
        {"backup.tar.gz", "application/gzip"},
        {"x.gz", "application/gzip"},
        /* No extension, an unknown one, a dotfile, a dot in a directory. */
        {"LICENSE", "application/octet-stream"},
        {"a.bin", "application/octet-stream"},
        {".htaccess", "application/octet-stream"},
        {"dir/.html", "application/octet-stream"},
        {"v1.2/notes", "application/octet-stream"},
        {"x.html.", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(type(table[i][0]), table[i][1]) != 0)
            fail_msg("%s: %s, wanted %s", table[i][0], type(table[i][0]), table[i][1]);
    /* Only the given length counts. */
    assert_string_equal(kv_content_type("a.css.gz", 5), "text/css; charset=utf-8");
}

static void compressible(void **state)
{
    (void)state;
    const char *yes[] = {"a.html", "a.htm", "a.css", "a.js", "a.mjs", "a.svg", "a.json", "a.txt", "a.XML"};
    const char *no[] = {"a.png", "a.jpg", "a.gz", "a.css.gz", "a.woff2", "a", "a.wasm", "a.pdf"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(kv_compressible(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(kv_compressible(no[i], strlen(no[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(good_keys), TEST(malformed_keys), TEST(long_keys), TEST(content_types), TEST(compressible),
    };
    return RUN_TESTS(tests);
}
