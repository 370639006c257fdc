/* The asset compiler: a host tool run at build time (not part of any
 * image), so it may use POSIX. It turns a directory into one C file that
 * defines the table kv_assets.h declares:
 *
 *     assetc [--gz GZDIR] -o OUT.c DIR
 *
 * Every regular file under DIR becomes an entry keyed by its path relative
 * to DIR, with its bytes, length, content type (kv_common.h), a strong
 * ETag (the first 16 hex digits of its SHA-256, quoted) and its mtime, or
 * $SOURCE_DATE_EPOCH if set, for reproducible builds. Names starting with
 * '.' are skipped; symlinks to files are followed, symlinks to directories
 * are not (they could loop). Entries are sorted by key (strcmp), so the
 * output depends only on the files.
 *
 * Precompressed variants: for a compressible key K (kv_compressible), if
 * GZDIR/K.gz exists (the build makes it with gzip -9 -n) and is smaller
 * than K, it is embedded as the key "K.gz", unless DIR has a K.gz of its
 * own. Stale files in GZDIR are thus ignored.
 *
 * The bytes are written as string literals with octal escapes, which
 * compilers take far faster than a list of integers. The output is written
 * to OUT.c.tmp and renamed, so a failed run leaves no half-written file.
 * Errors name the file and the reason, and exit with status 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv_common.h"
#include "sha256.h"

/* Bigger than any file that belongs in an image. */
#define ASSET_MAX_BYTES ((off_t)256 << 20)

struct asset {
    char *key;  /* relative to the root, '/' between segments */
    char *path; /* where to read it */
    off_t size;
    int64_t mtime;
};

static struct {
    struct asset *v;
    size_t n, cap;
} assets;

static const char *out_tmp; /* removed on error */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("assetc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (out_tmp)
        unlink(out_tmp);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = xmalloc(la + lb + 2);
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static void add(const char *key, const char *path, const struct stat *st)
{
    int err = kv_key_check(key, strlen(key));
    if (err < 0)
        die("%s: not usable as a key (%s)", path, strlen(key) > KV_KEY_MAX ? "name too long" : "malformed");
    if (st->st_size > ASSET_MAX_BYTES)
        die("%s: too big (%jd bytes; at most %jd)", path, (intmax_t)st->st_size, (intmax_t)ASSET_MAX_BYTES);
    if (assets.n == assets.cap) {
        assets.cap = assets.cap ? 2 * assets.cap : 64;
        assets.v = realloc(assets.v, assets.cap * sizeof *assets.v);
        if (!assets.v)
            die("out of memory");
    }
    struct asset *a = &assets.v[assets.n++];
    a->key = strdup(key);
    a->path = strdup(path);
    if (!a->key || !a->path)
        die("out of memory");
    a->size = st->st_size;
    a->mtime = (int64_t)st->st_mtime;
}

/* Adds the files under root/rel (rel NULL: root itself). */
static void walk(const char *root, const char *rel)
{
    char *dir = rel ? join(root, rel) : strdup(root);
    if (!dir)
        die("out of memory");
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        die("%s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.') {
            free(names[i]);
            continue;
        }
        char *path = join(dir, name);
        char *key = rel ? join(rel, name) : strdup(name);
        if (!key)
            die("out of memory");
        struct stat st;
        if (lstat(path, &st) != 0)
            die("%s: %s", path, strerror(errno));
        bool link = S_ISLNK(st.st_mode);
        if (link && stat(path, &st) != 0)
            die("%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            if (link)
                fprintf(stderr, "assetc: %s: a symlink to a directory, not followed\n", path);
            else
                walk(root, key);
        } else if (S_ISREG(st.st_mode)) {
            add(key, path, &st);
        } else {
            die("%s: not a regular file or directory", path);
        }
        free(path);
        free(key);
        free(names[i]);
    }
    free(names);
    free(dir);
}

static struct asset *find(const char *key)
{
    for (size_t i = 0; i < assets.n; i++)
        if (strcmp(assets.v[i].key, key) == 0)
            return &assets.v[i];
    return NULL;
}

/* The precompressed variants from gzdir, where smaller. */
static void add_gz_variants(const char *gzdir)
{
    size_t n = assets.n;
    for (size_t i = 0; i < n; i++) {
        const char *key = assets.v[i].key;
        if (!kv_compressible(key, strlen(key)))
            continue;
        size_t kl = strlen(key);
        char *gzkey = xmalloc(kl + 4);
        memcpy(gzkey, key, kl);
        memcpy(gzkey + kl, ".gz", 4);
        char *path = join(gzdir, gzkey);
        struct stat st;
        if (!find(gzkey) && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < assets.v[i].size) {
            /* The variant is as old as what it was made from. */
            st.st_mtime = (time_t)assets.v[i].mtime;
            add(gzkey, path, &st);
        }
        free(gzkey);
        free(path);
    }
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct asset *)a)->key, ((const struct asset *)b)->key);
}

static uint8_t *read_all(const struct asset *a, size_t *len)
{
    FILE *f = fopen(a->path, "rb");
    if (!f)
        die("%s: %s", a->path, strerror(errno));
    size_t cap = (size_t)a->size + 1, n = 0;
    uint8_t *buf = xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            /* Grew since stat: read on, within the limit. */
            if ((off_t)cap > ASSET_MAX_BYTES)
                die("%s: too big (grew past %jd bytes)", a->path, (intmax_t)ASSET_MAX_BYTES);
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                die("out of memory");
        }
    }
    if (ferror(f))
        die("%s: read error: %s", a->path, strerror(errno));
    fclose(f);
    *len = n;
    return buf;
}

/* Writes data as the body of a C string literal, in lines. */
static void put_string(FILE *out, const uint8_t *data, size_t len, bool lines)
{
    size_t col = 0;
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '?') {
            fputc(c, out);
            col++;
        } else {
            /* Three digits always, so a digit after it stays itself. */
            fprintf(out, "\\%03o", c);
            col += 4;
        }
        if (lines && col >= 76 && i + 1 < len) {
            fputs("\"\n\"", out);
            col = 0;
        }
    }
    fputc('"', out);
}

static int64_t source_date_epoch(bool *set)
{
    const char *s = getenv("SOURCE_DATE_EPOCH");
    *set = s && *s;
    if (!*set)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        die("SOURCE_DATE_EPOCH=%s: not a count of seconds", s);
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: assetc [--gz GZDIR] -o OUT.c DIR\n");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *out_path = NULL, *gzdir = NULL, *root = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (strcmp(argv[i], "--gz") == 0 && i + 1 < argc)
            gzdir = argv[++i];
        else if (argv[i][0] == '-' || root)
            usage();
        else
            root = argv[i];
    }
    if (!out_path || !root)
        usage();
    struct stat st;
    if (stat(root, &st) != 0)
        die("%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        die("%s: not a directory", root);
    bool sde_set;
    int64_t sde = source_date_epoch(&sde_set);

    walk(root, NULL);
    if (gzdir)
        add_gz_variants(gzdir);
    if (assets.n > 0)
        qsort(assets.v, assets.n, sizeof *assets.v, by_key);

    size_t tl = strlen(out_path);
    char *tmp = xmalloc(tl + 5);
    memcpy(tmp, out_path, tl);
    memcpy(tmp + tl, ".tmp", 5);
    FILE *out = fopen(tmp, "w");
    if (!out)
        die("%s: %s", tmp, strerror(errno));
    out_tmp = tmp;

    fprintf(out, "/* Generated by the asset compiler (kv/assetc.c): %zu files. Do not edit. */\n", assets.n);
    fputs("#include <stddef.h>\n#include <stdint.h>\n\n#include \"kv_assets.h\"\n\n", out);
    char(*etags)[SHA256_HEX_LEN] = xmalloc(assets.n * sizeof *etags);
    for (size_t i = 0; i < assets.n; i++) {
        size_t len;
        uint8_t *data = read_all(&assets.v[i], &len);
        struct sha256 h;
        uint8_t digest[SHA256_DIGEST_LEN];
        sha256_init(&h);
        sha256_update(&h, data, len);
        sha256_final(&h, digest);
        sha256_hex(digest, etags[i]);
        assets.v[i].size = (off_t)len;
        fprintf(out, "static const uint8_t asset_%zu[%zu] =\n", i, len + 1);
        put_string(out, data, len, true);
        fputs(";\n", out);
        free(data);
    }
    if (assets.n > 0) {
        fputs("\nstatic const struct kv_asset assets[] = {\n", out);
        for (size_t i = 0; i < assets.n; i++) {
            const struct asset *a = &assets.v[i];
            fputs("    {", out);
            put_string(out, (const uint8_t *)a->key, strlen(a->key), false);
            fprintf(out, ", asset_%zu, %jd, \"%s\", \"\\\"%.16s\\\"\", INT64_C(%" PRId64 ")},\n", i, (intmax_t)a->size,
                    kv_content_type(a->key, strlen(a->key)), etags[i], sde_set ? sde : a->mtime);
        }
        fputs("};\n\n", out);
        fprintf(out, "const struct kv_asset_table tessera_assets = {assets, %zu};\n", assets.n);
    } else {
        fputs("const struct kv_asset_table tessera_assets = {NULL, 0};\n", out);
    }
    if (fflush(out) != 0 || ferror(out) || fclose(out) != 0)
        die("%s: write error: %s", tmp, strerror(errno));
    if (rename(tmp, out_path) != 0)
        die("%s: %s", out_path, strerror(errno));
    out_tmp = NULL;
    for (size_t i = 0; i < assets.n; i++) {
        free(assets.v[i].key);
        free(assets.v[i].path);
    }
    free(assets.v);
    free(etags);
    free(tmp);
    return 0;
}
