/* What the two build-time tools share, the asset compiler (assetc.c) and
 * the image builder (kvimg.c): finding the files of a directory, in the
 * order and with the names, times and precompressed variants both give
 * them, and reading them. Host code (POSIX), never part of an image.
 * Errors print "<tool>: <message>" and exit with status 1, after removing
 * the output file being written, if any.
 */
#ifndef TESSERA_ASSET_SCAN_H
#define TESSERA_ASSET_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sha256.h"

/* Bigger than any file that belongs in an image. */
#define ASSET_MAX_BYTES ((off_t)256 << 20)

struct asset {
    char *key;  /* relative to the root, '/' between segments */
    char *path; /* where to read it */
    off_t size;
    int64_t mtime; /* $SOURCE_DATE_EPOCH when set */
};

struct asset_list {
    struct asset *v;
    size_t n, cap;
};

/* The tools' common command line, `NAME [--gz GZDIR] -o OUT DIR`: sets
 * the program name for messages (asset_set_program) and the three paths
 * (*gzdir NULL when not given); prints the usage, with out_kind naming
 * OUT (such as "OUT.c"), and exits 1 on anything else. */
void asset_parse_args(int argc, char **argv, const char *name, const char *out_kind, const char **out_path,
                      const char **gzdir, const char **root);
/* The tool's name for messages. */
void asset_set_program(const char *name);
/* A file to remove if the tool dies (NULL: none). Borrowed. */
void asset_set_output(const char *path);
void asset_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *asset_xmalloc(size_t n);

/* Every regular file under root, then (gzdir non-NULL) the precompressed
 * variants from gzdir where smaller, sorted by key (strcmp). Names
 * starting with '.' are skipped; symlinks to files are followed, symlinks
 * to directories are not. */
void asset_scan(const char *root, const char *gzdir, struct asset_list *out);
void asset_list_free(struct asset_list *l);

/* The file's bytes (malloc'd; *len of them). */
uint8_t *asset_read(const struct asset *a, size_t *len);

/* The strong ETag both stores of built files use: the first 16 hex digits
 * of the SHA-256, quoted. out has room for 19 bytes. */
void asset_etag(const uint8_t digest[SHA256_DIGEST_LEN], char out[19]);

#endif
