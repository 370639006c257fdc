/* The on-disk format of a key/value image: the files of a directory on a
 * block device, read by the store in kv_disk.h and written by the image
 * builder (kvimg.c). This header is the format's one definition: its
 * layout, its limits, and the encoders and decoders both sides use.
 * Freestanding C; decoding is pure (no I/O) and never reads outside the
 * buffer it is given, whatever the bytes say.
 *
 * All integers are little-endian. Offsets count bytes from the start of
 * the device.
 *
 * Header, at offset 0 (KV_IMAGE_HEADER_SIZE bytes):
 *
 *     0   8  magic "TESSERKV"
 *     8   4  version (1)
 *    12   4  header size (64)
 *    16   4  entry count
 *    20   4  flags (0)
 *    24   8  index offset
 *    32   8  index size, bytes
 *    40   8  image size, bytes (the device must hold at least this)
 *    48   4  CRC-32 of the index
 *    52   8  reserved (0)
 *    60   4  CRC-32 of bytes 0..59
 *
 * Index: `count` records, one after the other, sorted by key (bytewise,
 * as strcmp), each padded with zeros to a multiple of 8 bytes:
 *
 *     0   8  data offset
 *     8   8  data size, bytes
 *    16   8  mtime, seconds since the epoch (signed)
 *    24  32  SHA-256 of the data
 *    56   2  key length (1..KV_KEY_MAX)
 *    58   1  content type length (1..KV_IMAGE_TYPE_MAX)
 *    59   1  ETag length (2..KV_IMAGE_ETAG_MAX)
 *    60      key, NUL, content type, NUL, ETag, NUL, padding
 *
 * A key is a well-formed kv key (kv_common.h). A content type is printable
 * ASCII (space to '~'); an ETag is a strong one with its quotes, as it goes
 * in an HTTP header ('"', then '!' or '#' to '~', then '"'): nothing in an
 * image can put a line break into a response. A file's data lies within
 * the image and outside the header and the index. The builder puts the
 * index at KV_IMAGE_ALIGN and each file's data at a multiple of it, and
 * rounds the image up to 4096 bytes; readers require none of that.
 */
#ifndef TESSERA_KV_IMAGE_H
#define TESSERA_KV_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_IMAGE_MAGIC       "TESSERKV"
#define KV_IMAGE_VERSION     1
#define KV_IMAGE_HEADER_SIZE 64
#define KV_IMAGE_ALIGN       512
#define KV_IMAGE_RECORD_HEAD 60 /* the fixed part of a record */
#define KV_IMAGE_RECORD_MIN  72 /* the smallest record, padded */
#define KV_IMAGE_TYPE_MAX    127
#define KV_IMAGE_ETAG_MAX    80
/* Bounds a reader enforces before it allocates anything. */
#define KV_IMAGE_MAX_ENTRIES (1u << 20)
#define KV_IMAGE_INDEX_MAX   ((uint64_t)64 << 20)

struct kv_image_header {
    uint32_t count;
    uint64_t index_offset, index_size;
    uint64_t image_size;
    uint32_t index_crc;
};

/* A record; the strings point into the index buffer it was decoded from
 * (or, to encode, anywhere), NUL-terminated there. */
struct kv_image_record {
    uint64_t data_offset, data_size;
    int64_t mtime;
    uint8_t sha256[32];
    const char *key;
    size_t key_len;
    const char *content_type;
    size_t type_len;
    const char *etag;
    size_t etag_len;
};

/* CRC-32 (IEEE 802.3, as zlib's crc32): start with crc 0. */
uint32_t kv_image_crc32(uint32_t crc, const void *data, size_t len);

/* ---- Writing ---------------------------------------------------------- */

void kv_image_header_encode(const struct kv_image_header *h, uint8_t out[KV_IMAGE_HEADER_SIZE]);
/* A record's encoded size (padding included). */
size_t kv_image_record_size(size_t key_len, size_t type_len, size_t etag_len);
/* Writes r at out (kv_image_record_size bytes); returns that size. */
size_t kv_image_record_encode(const struct kv_image_record *r, uint8_t *out);

/* ---- Reading ---------------------------------------------------------- */

/* Decodes and checks the header in buf[0, len): 0, or -LWT_EBADMSG with
 * *why a static sentence saying what is wrong ("not a key/value image (bad
 * magic)", "header checksum mismatch", ...). */
int kv_image_header_decode(const uint8_t *buf, size_t len, struct kv_image_header *h, const char **why);

/* Decodes the record at index[*pos] (index being the header's whole
 * index, h->index_size bytes) and checks it alone and against the one
 * before it (prev, NULL for the first): well-formed strings, keys in
 * strictly increasing order, data inside the image and outside the header
 * and index. Advances *pos past it. 0, or -LWT_EBADMSG with *why. */
int kv_image_record_next(const struct kv_image_header *h, const uint8_t *index, size_t *pos,
                         const struct kv_image_record *prev, struct kv_image_record *r, const char **why);

/* bytewise order of two keys, as strcmp's: <0, 0, >0. */
int kv_image_key_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
