/* SHA-256 against the FIPS 180-4 examples (the NIST "SHA256.pdf" and
 * "SHA2_Additional.pdf" vectors) and the padding boundaries, fed whole and
 * in pieces of every size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sha256.h"

static void hash_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN])
{
    struct sha256 h;
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_init(&h);
    sha256_update(&h, data, len);
    sha256_final(&h, d);
    sha256_hex(d, hex);
}

static void expect(const char *msg, size_t len, const char *want)
{
    char hex[SHA256_HEX_LEN];
    hash_hex(msg, len, hex);
    assert_string_equal(hex, want);
}

static void abc(void **state)
{
    (void)state;
    expect("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void empty(void **state)
{
    (void)state;
    expect("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void two_blocks_448_bits(void **state)
{
    (void)state;
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(strlen(m) * 8, 448);
    expect(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void two_blocks_896_bits(void **state)
{
    (void)state;
    const char *m =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqr"
        "stnopqrstu";
    assert_int_equal(strlen(m) * 8, 896);
    expect(m, strlen(m), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

/* One million 'a', fed in uneven pieces so the partial-block path runs. */
static void million_a(void **state)
{
    (void)state;
    static char a[1000];
    memset(a, 'a', sizeof a);
    struct sha256 h;
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN];
    sha256_init(&h);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t n = step < left ? step : left;
        sha256_update(&h, a, n);
        left -= n;
        step = step % 977 + 13; /* at most 989: within a */
    }
    sha256_final(&h, d);
    assert_string_equal(sha256_hex(d, hex), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundary: the length field fits after the
 * marker at 55 bytes and needs a second block from 56 on. */
static void padding_boundaries(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char a[128];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        expect(a, v[i].len, v[i].hex);
}

/* Any split of the input gives the same digest as hashing it whole. */
static void every_split(void **state)
{
    (void)state;
    uint8_t m[300];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = (uint8_t)(i * 131 + 7);
    char whole[SHA256_HEX_LEN], parts[SHA256_HEX_LEN];
    hash_hex(m, sizeof m, whole);
    for (size_t cut = 0; cut <= sizeof m; cut++) {
        struct sha256 h;
        uint8_t d[SHA256_DIGEST_LEN];
        sha256_init(&h);
        sha256_update(&h, m, cut);
        sha256_update(&h, m + cut, sizeof m - cut);
        sha256_final(&h, d);
        assert_string_equal(sha256_hex(d, parts), whole);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(abc),
        cmocka_unit_test(empty),
        cmocka_unit_test(two_blocks_448_bits),
        cmocka_unit_test(two_blocks_896_bits),
        cmocka_unit_test(million_a),
        cmocka_unit_test(padding_boundaries),
        cmocka_unit_test(every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
