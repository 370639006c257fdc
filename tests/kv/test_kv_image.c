/* The key/value image format on its own (kv_image.h): the CRC, headers and
 * records encoded and decoded, and every check a reader makes, each hit by
 * an image that breaks just that rule (with its checksums right, as a
 * careful liar would make it). */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv_common.h"
#include "kv_image.h"

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

static void crc32_known_values(void **state)
{
    (void)state;
    assert_int_equal(kv_image_crc32(0, "", 0), 0);
    assert_int_equal(kv_image_crc32(0, "123456789", 9), 0xCBF43926u);
    /* In pieces, as zlib's. */
    assert_int_equal(kv_image_crc32(kv_image_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static const struct kv_image_header good_header = {
    .count = 2,
    .index_offset = 512,
    .index_size = 160,
    .image_size = 8192,
    .index_crc = 0x12345678,
};

static void header_round_trip(void **state)
{
    (void)state;
    uint8_t buf[KV_IMAGE_HEADER_SIZE];
    kv_image_header_encode(&good_header, buf);
    assert_memory_equal(buf, "TESSERKV", 8);
    struct kv_image_header h;
    const char *why = NULL;
    assert_int_equal(kv_image_header_decode(buf, sizeof buf, &h, &why), 0);
    assert_int_equal(h.count, 2);
    assert_int_equal(h.index_offset, 512);
    assert_int_equal(h.index_size, 160);
    assert_int_equal(h.image_size, 8192);
    assert_int_equal(h.index_crc, 0x12345678);
}

/* Decodes buf after setting the n-byte field at `at` to v and fixing the
 * header's CRC: the reason it is refused, or NULL if it is not. */
static const char *header_with(const struct kv_image_header *base, size_t at, uint64_t v, unsigned n)
{
    uint8_t buf[KV_IMAGE_HEADER_SIZE];
    kv_image_header_encode(base, buf);
    put_le(buf + at, v, n);
    put_le(buf + 60, kv_image_crc32(0, buf, 60), 4);
    struct kv_image_header h;
    const char *why = NULL;
    int rc = kv_image_header_decode(buf, sizeof buf, &h, &why);
    if (rc == 0)
        return NULL;
    assert_int_equal(rc, -LWT_EBADMSG);
    assert_non_null(why);
    return why;
}

static void header_checks(void **state)
{
    (void)state;
    uint8_t buf[KV_IMAGE_HEADER_SIZE];
    struct kv_image_header h;
    const char *why;
    kv_image_header_encode(&good_header, buf);
    assert_int_equal(kv_image_header_decode(buf, 63, &h, &why), -LWT_EBADMSG);
    assert_string_equal(why, "shorter than a header");
    /* Any one bit changed anywhere is caught. */
    for (size_t i = 0; i < sizeof buf; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1 << bit);
            assert_int_equal(kv_image_header_decode(buf, sizeof buf, &h, &why), -LWT_EBADMSG);
            buf[i] ^= (uint8_t)(1 << bit);
        }
    }
    buf[0] = 'X';
    kv_image_header_decode(buf, sizeof buf, &h, &why);
    assert_string_equal(why, "not a key/value image (bad magic)");
    buf[0] = 'T';
    buf[30] ^= 1;
    kv_image_header_decode(buf, sizeof buf, &h, &why);
    assert_string_equal(why, "header checksum mismatch");

    /* Lies with the checksum right. */
    assert_null(header_with(&good_header, 16, 2, 4));
    assert_string_equal(header_with(&good_header, 8, 2, 4), "unsupported format version");
    assert_string_equal(header_with(&good_header, 12, 128, 4), "unexpected header size");
    assert_string_equal(header_with(&good_header, 20, 1, 4), "unknown flags or reserved bits set");
    assert_string_equal(header_with(&good_header, 56, 1, 4), "unknown flags or reserved bits set");
    assert_string_equal(header_with(&good_header, 16, KV_IMAGE_MAX_ENTRIES + 1, 4), "too many entries");
    assert_string_equal(header_with(&good_header, 32, KV_IMAGE_INDEX_MAX + 1, 8), "index too large");
    assert_string_equal(header_with(&good_header, 16, 3, 4), "index too small for its entry count");
    assert_string_equal(header_with(&good_header, 24, 32, 8), "index overlaps the header");
    assert_string_equal(header_with(&good_header, 24, 8100, 8), "index past the end of the image");
    assert_string_equal(header_with(&good_header, 24, UINT64_MAX - 10, 8), "index past the end of the image");
    assert_string_equal(header_with(&good_header, 40, 600, 8), "index past the end of the image");
}

/* ---- Records ---------------------------------------------------------- */

static uint8_t index_buf[4096];

static struct kv_image_record rec(const char *key, uint64_t offset, uint64_t size)
{
    struct kv_image_record r = {
        .data_offset = offset,
        .data_size = size,
        .mtime = -5,
        .key = key,
        .key_len = strlen(key),
        .content_type = "text/plain; charset=utf-8",
        .etag = "\"0123456789abcdef\"",
    };
    r.type_len = strlen(r.content_type);
    r.etag_len = strlen(r.etag);
    for (int i = 0; i < 32; i++)
        r.sha256[i] = (uint8_t)i;
    return r;
}

static struct kv_image_header header_for(size_t index_size, uint32_t count)
{
    return (struct kv_image_header){.count = count, .index_offset = 512, .index_size = index_size, .image_size = 65536};
}

static void record_round_trip(void **state)
{
    (void)state;
    struct kv_image_record a = rec("a.txt", 4096, 3), b = rec("docs/index.html", 8192, 0);
    assert_int_equal(kv_image_record_size(5, 25, 18), 112);
    size_t n = kv_image_record_encode(&a, index_buf);
    assert_int_equal(n, kv_image_record_size(a.key_len, a.type_len, a.etag_len));
    assert_int_equal(n % 8, 0);
    n += kv_image_record_encode(&b, index_buf + n);
    struct kv_image_header h = header_for(n, 2);
    size_t pos = 0;
    struct kv_image_record r[2];
    const char *why;
    assert_int_equal(kv_image_record_next(&h, index_buf, &pos, NULL, &r[0], &why), 0);
    assert_int_equal(kv_image_record_next(&h, index_buf, &pos, &r[0], &r[1], &why), 0);
    assert_int_equal(pos, n);
    assert_string_equal(r[0].key, "a.txt"); /* NUL-terminated in the index */
    assert_int_equal(r[0].key_len, 5);
    assert_string_equal(r[0].content_type, "text/plain; charset=utf-8");
    assert_string_equal(r[0].etag, "\"0123456789abcdef\"");
    assert_int_equal(r[0].data_offset, 4096);
    assert_int_equal(r[0].data_size, 3);
    assert_int_equal(r[0].mtime, -5);
    assert_memory_equal(r[0].sha256, a.sha256, 32);
    assert_string_equal(r[1].key, "docs/index.html");
    assert_int_equal(r[1].data_size, 0);
    /* Nothing more. */
    assert_int_equal(kv_image_record_next(&h, index_buf, &pos, &r[1], &r[0], &why), -LWT_EBADMSG);
    assert_string_equal(why, "index ends inside a record");
}

/* Encodes prev (if any) then r, applies a poke to r's bytes, decodes: the
 * reason r is refused, or NULL. */
struct poke {
    size_t at; /* from r's start */
    uint64_t v;
    unsigned n; /* 0: no poke */
};

static const char *refused(const struct kv_image_record *prev, const struct kv_image_record *r, struct poke pk,
                           size_t cut)
{
    memset(index_buf, 0, sizeof index_buf);
    size_t n = 0;
    if (prev)
        n += kv_image_record_encode(prev, index_buf);
    size_t start = n;
    n += kv_image_record_encode(r, index_buf + n);
    if (pk.n)
        put_le(index_buf + start + pk.at, pk.v, pk.n);
    struct kv_image_header h = header_for(n - cut, prev ? 2 : 1);
    size_t pos = 0;
    struct kv_image_record out[2];
    const char *why = NULL;
    if (prev)
        assert_int_equal(kv_image_record_next(&h, index_buf, &pos, NULL, &out[0], &why), 0);
    int rc = kv_image_record_next(&h, index_buf, &pos, prev ? &out[0] : NULL, &out[1], &why);
    if (rc == 0)
        return NULL;
    assert_int_equal(rc, -LWT_EBADMSG);
    return why;
}

#define NOPOKE ((struct poke){0, 0, 0})

static void record_checks(void **state)
{
    (void)state;
    struct kv_image_record a = rec("a.txt", 4096, 3), r = rec("b.txt", 8192, 10);
    assert_null(refused(&a, &r, NOPOKE, 0));
    assert_string_equal(refused(NULL, &r, NOPOKE, 1), "index ends inside a record");
    assert_string_equal(refused(NULL, &r, NOPOKE, 80), "index ends inside a record");
    assert_string_equal(refused(NULL, &r, (struct poke){56, 0, 2}, 0), "key length out of range");
    assert_string_equal(refused(NULL, &r, (struct poke){56, KV_KEY_MAX + 1, 2}, 0), "key length out of range");
    assert_string_equal(refused(NULL, &r, (struct poke){58, 0, 1}, 0), "content type length out of range");
    assert_string_equal(refused(NULL, &r, (struct poke){58, KV_IMAGE_TYPE_MAX + 1, 1}, 0),
                        "content type length out of range");
    assert_string_equal(refused(NULL, &r, (struct poke){59, 1, 1}, 0), "ETag length out of range");
    assert_string_equal(refused(NULL, &r, (struct poke){59, KV_IMAGE_ETAG_MAX + 1, 1}, 0), "ETag length out of range");
    /* A longer key than written swallows the NUL. */
    assert_string_equal(refused(NULL, &r, (struct poke){56, 6, 2}, 0), "string not NUL-terminated");
    /* The last NUL (after the ETag) overwritten. */
    size_t etag_end = KV_IMAGE_RECORD_HEAD + r.key_len + 1 + r.type_len + 1 + r.etag_len;
    assert_string_equal(refused(NULL, &r, (struct poke){etag_end, 'x', 1}, 0), "string not NUL-terminated");
    assert_string_equal(refused(NULL, &r, (struct poke){etag_end + 1, 'x', 1}, 0), "padding not zero");

    const char *bad_keys[] = {"../x", "/a", "a//b", "a/./b", "."};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        struct kv_image_record k = rec(bad_keys[i], 8192, 1);
        assert_string_equal(refused(NULL, &k, NOPOKE, 0), "malformed key");
    }
    struct kv_image_record t = r;
    t.content_type = "text/html\r\nSet-Cookie: x=1";
    t.type_len = strlen(t.content_type);
    assert_string_equal(refused(NULL, &t, NOPOKE, 0), "content type with a byte outside printable ASCII");
    t.content_type = "text/\x80html";
    t.type_len = strlen(t.content_type);
    assert_string_equal(refused(NULL, &t, NOPOKE, 0), "content type with a byte outside printable ASCII");
    const char *bad_etags[] = {"0123456789abcdef", "\"01234\"5\"", "\"0123 4\"", "\"abc\r\n\"", "W/\"abc\""};
    for (size_t i = 0; i < sizeof bad_etags / sizeof bad_etags[0]; i++) {
        struct kv_image_record e = r;
        e.etag = bad_etags[i];
        e.etag_len = strlen(e.etag);
        assert_string_equal(refused(NULL, &e, NOPOKE, 0), "malformed ETag");
    }
    /* Order: strictly increasing, bytewise. */
    struct kv_image_record same = rec("a.txt", 8192, 1), before = rec("a", 8192, 1), dir = rec("a.txt/b", 8192, 1);
    assert_string_equal(refused(&a, &same, NOPOKE, 0), "keys out of order or repeated");
    assert_string_equal(refused(&a, &before, NOPOKE, 0), "keys out of order or repeated");
    assert_null(refused(&a, &dir, NOPOKE, 0));
    /* Data inside the image (65536 bytes) and clear of header and index. */
    struct kv_image_record d = rec("b", 65536 - 10, 10);
    assert_null(refused(NULL, &d, NOPOKE, 0));
    d.data_size = 11;
    assert_string_equal(refused(NULL, &d, NOPOKE, 0), "data past the end of the image");
    d = rec("b", UINT64_MAX - 4, 10);
    assert_string_equal(refused(NULL, &d, NOPOKE, 0), "data past the end of the image");
    d = rec("b", 10, UINT64_MAX - 4);
    assert_string_equal(refused(NULL, &d, NOPOKE, 0), "data past the end of the image");
    d = rec("b", 60, 10);
    assert_string_equal(refused(NULL, &d, NOPOKE, 0), "data overlaps the header or the index");
    d = rec("b", 520, 1);
    assert_string_equal(refused(NULL, &d, NOPOKE, 0), "data overlaps the header or the index");
    d = rec("b", 100, 0); /* empty: overlaps nothing */
    assert_null(refused(NULL, &d, NOPOKE, 0));
}

/* Whatever the bytes, decoding stays inside the index: every prefix of an
 * index, and every index with one byte changed, decoded by a loop that
 * stops at the first error. Run under valgrind, reads past the buffer
 * would be reported. */
static void arbitrary_bytes_stay_in_bounds(void **state)
{
    (void)state;
    struct kv_image_record a = rec("a.txt", 4096, 3), b = rec("b/c.html", 8192, 5);
    uint8_t good[512];
    size_t n = kv_image_record_encode(&a, good);
    n += kv_image_record_encode(&b, good + n);
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t at = 0; at < n; at++) {
            uint8_t *idx = malloc(cut ? cut : 1);
            assert_non_null(idx);
            memcpy(idx, good, cut);
            if (at < cut)
                idx[at] ^= 0xA5;
            struct kv_image_header h = header_for(cut, 2);
            size_t pos = 0;
            struct kv_image_record r[2];
            const char *why;
            for (int i = 0; i < 2; i++)
                if (kv_image_record_next(&h, idx, &pos, i ? &r[0] : NULL, &r[i], &why) < 0)
                    break;
            assert_true(pos <= cut);
            free(idx);
        }
        if (cut > 64 && cut < n - 64)
            cut += 7; /* the middle of the long records needs no exhaustive pass */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(crc32_known_values), TEST(header_round_trip), TEST(header_checks),
        TEST(record_round_trip),  TEST(record_checks),     TEST(arbitrary_bytes_stay_in_bounds),
    };
    return RUN_TESTS(tests);
}
