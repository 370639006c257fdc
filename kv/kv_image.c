/* The key/value image format (kv_image.h): little-endian accessors, the
 * CRC, and the checks a reader makes before it trusts anything. */
#include "kv_image.h"

#include <string.h>

#include "kv_common.h"
#include "lwt_errno.h"

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

uint32_t kv_image_crc32(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

void kv_image_header_encode(const struct kv_image_header *h, uint8_t out[KV_IMAGE_HEADER_SIZE])
{
    memset(out, 0, KV_IMAGE_HEADER_SIZE);
    memcpy(out, KV_IMAGE_MAGIC, 8);
    put_le(out + 8, KV_IMAGE_VERSION, 4);
    put_le(out + 12, KV_IMAGE_HEADER_SIZE, 4);
    put_le(out + 16, h->count, 4);
    put_le(out + 24, h->index_offset, 8);
    put_le(out + 32, h->index_size, 8);
    put_le(out + 40, h->image_size, 8);
    put_le(out + 48, h->index_crc, 4);
    put_le(out + 60, kv_image_crc32(0, out, 60), 4);
}

size_t kv_image_record_size(size_t key_len, size_t type_len, size_t etag_len)
{
    size_t n = KV_IMAGE_RECORD_HEAD + key_len + 1 + type_len + 1 + etag_len + 1;
    return (n + 7) & ~(size_t)7;
}

size_t kv_image_record_encode(const struct kv_image_record *r, uint8_t *out)
{
    size_t size = kv_image_record_size(r->key_len, r->type_len, r->etag_len);
    memset(out, 0, size);
    put_le(out, r->data_offset, 8);
    put_le(out + 8, r->data_size, 8);
    put_le(out + 16, (uint64_t)r->mtime, 8);
    memcpy(out + 24, r->sha256, 32);
    put_le(out + 56, r->key_len, 2);
    put_le(out + 58, r->type_len, 1);
    put_le(out + 59, r->etag_len, 1);
    uint8_t *s = out + KV_IMAGE_RECORD_HEAD;
    memcpy(s, r->key, r->key_len);
    s += r->key_len + 1;
    memcpy(s, r->content_type, r->type_len);
    s += r->type_len + 1;
    memcpy(s, r->etag, r->etag_len);
    return size;
}

static int bad(const char **why, const char *reason)
{
    *why = reason;
    return -LWT_EBADMSG;
}

int kv_image_header_decode(const uint8_t *buf, size_t len, struct kv_image_header *h, const char **why)
{
    if (len < KV_IMAGE_HEADER_SIZE)
        return bad(why, "shorter than a header");
    if (memcmp(buf, KV_IMAGE_MAGIC, 8) != 0)
        return bad(why, "not a key/value image (bad magic)");
    if (get_le(buf + 60, 4) != kv_image_crc32(0, buf, 60))
        return bad(why, "header checksum mismatch");
    if (get_le(buf + 8, 4) != KV_IMAGE_VERSION)
        return bad(why, "unsupported format version");
    if (get_le(buf + 12, 4) != KV_IMAGE_HEADER_SIZE)
        return bad(why, "unexpected header size");
    if (get_le(buf + 20, 4) != 0 || get_le(buf + 52, 8) != 0)
        return bad(why, "unknown flags or reserved bits set");
    h->count = (uint32_t)get_le(buf + 16, 4);
    h->index_offset = get_le(buf + 24, 8);
    h->index_size = get_le(buf + 32, 8);
    h->image_size = get_le(buf + 40, 8);
    h->index_crc = (uint32_t)get_le(buf + 48, 4);
    if (h->count > KV_IMAGE_MAX_ENTRIES)
        return bad(why, "too many entries");
    if (h->index_size > KV_IMAGE_INDEX_MAX)
        return bad(why, "index too large");
    if ((uint64_t)h->count * KV_IMAGE_RECORD_MIN > h->index_size)
        return bad(why, "index too small for its entry count");
    if (h->index_offset < KV_IMAGE_HEADER_SIZE)
        return bad(why, "index overlaps the header");
    if (h->index_offset > h->image_size || h->index_size > h->image_size - h->index_offset)
        return bad(why, "index past the end of the image");
    return 0;
}

int kv_image_key_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    if (c != 0)
        return c;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static bool type_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool etag_ok(const char *s, size_t len)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == '"' || c > 0x7e)
            return false;
    }
    return true;
}

/* Whether [a, a + alen) and [b, b + blen) share a byte. */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

int kv_image_record_next(const struct kv_image_header *h, const uint8_t *index, size_t *pos,
                         const struct kv_image_record *prev, struct kv_image_record *r, const char **why)
{
    size_t size = (size_t)h->index_size, at = *pos;
    if (at > size || size - at < KV_IMAGE_RECORD_HEAD)
        return bad(why, "index ends inside a record");
    const uint8_t *p = index + at;
    r->data_offset = get_le(p, 8);
    r->data_size = get_le(p + 8, 8);
    r->mtime = (int64_t)get_le(p + 16, 8);
    memcpy(r->sha256, p + 24, 32);
    r->key_len = (size_t)get_le(p + 56, 2);
    r->type_len = p[58];
    r->etag_len = p[59];
    if (r->key_len == 0 || r->key_len > KV_KEY_MAX)
        return bad(why, "key length out of range");
    if (r->type_len == 0 || r->type_len > KV_IMAGE_TYPE_MAX)
        return bad(why, "content type length out of range");
    if (r->etag_len < 2 || r->etag_len > KV_IMAGE_ETAG_MAX)
        return bad(why, "ETag length out of range");
    size_t rec = kv_image_record_size(r->key_len, r->type_len, r->etag_len);
    if (rec > size - at)
        return bad(why, "index ends inside a record");
    const char *s = (const char *)p + KV_IMAGE_RECORD_HEAD;
    r->key = s;
    r->content_type = s + r->key_len + 1;
    r->etag = r->content_type + r->type_len + 1;
    const char *end = r->etag + r->etag_len;
    if (r->content_type[-1] != '\0' || r->etag[-1] != '\0' || end[0] != '\0')
        return bad(why, "string not NUL-terminated");
    for (const char *z = end + 1; z < (const char *)p + rec; z++)
        if (*z != '\0')
            return bad(why, "padding not zero");
    if (kv_key_check(r->key, r->key_len) < 0)
        return bad(why, "malformed key");
    if (!type_ok(r->content_type, r->type_len))
        return bad(why, "content type with a byte outside printable ASCII");
    if (!etag_ok(r->etag, r->etag_len))
        return bad(why, "malformed ETag");
    if (prev && kv_image_key_cmp(prev->key, prev->key_len, r->key, r->key_len) >= 0)
        return bad(why, "keys out of order or repeated");
    if (r->data_offset > h->image_size || r->data_size > h->image_size - r->data_offset)
        return bad(why, "data past the end of the image");
    if (overlaps(r->data_offset, r->data_size, 0, KV_IMAGE_HEADER_SIZE) ||
        overlaps(r->data_offset, r->data_size, h->index_offset, h->index_size))
        return bad(why, "data overlaps the header or the index");
    *pos = at + rec;
    return 0;
}
