/* The image builder: a host tool (not part of any image), so it may use
 * POSIX. It writes the files of a directory into a disk image that the
 * store in kv_disk.h reads through a block device:
 *
 *     kvimg [--gz GZDIR] -o OUT.img DIR
 *
 * The files, their keys, their precompressed variants (--gz, as for the
 * asset compiler), their content types, strong ETags (the first 16 hex
 * digits of the SHA-256, quoted) and mtimes ($SOURCE_DATE_EPOCH if set)
 * are exactly those the asset compiler would compile in (asset_scan.h),
 * so a site served from a disk image looks the same as one compiled into
 * the image. The format is kv_image.h's: the header, the index at 512,
 * each file's data at a multiple of 512, the whole rounded up to 4096
 * bytes. The output depends only on the files.
 *
 * The image is written to OUT.img.tmp and renamed, so a failed run leaves
 * no half-written image. Errors name the file and the reason, and exit
 * with status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "asset_scan.h"
#include "kv_common.h"
#include "kv_image.h"
#include "sha256.h"

#define ETAG_LEN 18 /* '"', 16 hex digits, '"' */

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static void put_at(FILE *out, const char *path, const void *data, size_t len, uint64_t offset)
{
    if (fseeko(out, (off_t)offset, SEEK_SET) != 0 || (len && fwrite(data, 1, len, out) != len))
        asset_die("%s: write error: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    const char *out_path, *gzdir, *root;
    asset_parse_args(argc, argv, "kvimg", "OUT.img", &out_path, &gzdir, &root);
    struct asset_list assets;
    asset_scan(root, gzdir, &assets);
    if (assets.n > KV_IMAGE_MAX_ENTRIES)
        asset_die("%s: %zu files; an image holds at most %u", root, assets.n, KV_IMAGE_MAX_ENTRIES);

    /* The index's size depends only on the names, so the data can be
     * written as each file is read, once. */
    uint64_t index_size = 0;
    for (size_t i = 0; i < assets.n; i++) {
        const char *key = assets.v[i].key;
        size_t kl = strlen(key);
        index_size += kv_image_record_size(kl, strlen(kv_content_type(key, kl)), ETAG_LEN);
    }
    if (index_size > KV_IMAGE_INDEX_MAX)
        asset_die("%s: the index would take %ju bytes; at most %ju", root, (uintmax_t)index_size,
                  (uintmax_t)KV_IMAGE_INDEX_MAX);
    uint8_t *index = asset_xmalloc((size_t)index_size);
    char(*etags)[19] = asset_xmalloc(assets.n * sizeof *etags);

    size_t tl = strlen(out_path);
    char *tmp = asset_xmalloc(tl + 5);
    memcpy(tmp, out_path, tl);
    memcpy(tmp + tl, ".tmp", 5);
    FILE *out = fopen(tmp, "w+b");
    if (!out)
        asset_die("%s: %s", tmp, strerror(errno));
    asset_set_output(tmp);

    const uint64_t index_offset = KV_IMAGE_ALIGN;
    uint64_t at = align_up(index_offset + index_size, KV_IMAGE_ALIGN);
    size_t pos = 0;
    for (size_t i = 0; i < assets.n; i++) {
        const struct asset *a = &assets.v[i];
        size_t len;
        uint8_t *data = asset_read(a, &len);
        struct kv_image_record r = {.data_offset = at, .data_size = len, .mtime = a->mtime};
        struct sha256 h;
        sha256_init(&h);
        sha256_update(&h, data, len);
        sha256_final(&h, r.sha256);
        asset_etag(r.sha256, etags[i]);
        r.key = a->key;
        r.key_len = strlen(a->key);
        r.content_type = kv_content_type(r.key, r.key_len);
        r.type_len = strlen(r.content_type);
        r.etag = etags[i];
        r.etag_len = ETAG_LEN;
        pos += kv_image_record_encode(&r, index + pos);
        put_at(out, tmp, data, len, at);
        at = align_up(at + len, KV_IMAGE_ALIGN);
        free(data);
    }
    uint64_t image_size = align_up(at, 4096);

    struct kv_image_header hdr = {
        .count = (uint32_t)assets.n,
        .index_offset = index_offset,
        .index_size = index_size,
        .image_size = image_size,
        .index_crc = kv_image_crc32(0, index, (size_t)index_size),
    };
    uint8_t head[KV_IMAGE_HEADER_SIZE];
    kv_image_header_encode(&hdr, head);
    put_at(out, tmp, head, sizeof head, 0);
    put_at(out, tmp, index, (size_t)index_size, index_offset);
    if (fflush(out) != 0 || ftruncate(fileno(out), (off_t)image_size) != 0 || ferror(out) || fclose(out) != 0)
        asset_die("%s: write error: %s", tmp, strerror(errno));
    if (rename(tmp, out_path) != 0)
        asset_die("%s: %s", out_path, strerror(errno));
    asset_set_output(NULL);
    asset_list_free(&assets);
    free(index);
    free(etags);
    free(tmp);
    return 0;
}
