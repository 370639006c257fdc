/* Finding and reading the files of a directory for the build-time tools
 * (asset_scan.h). */
#define _GNU_SOURCE
#include "asset_scan.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv_common.h"

static const char *program = "asset";
static const char *output; /* removed on error */

void asset_parse_args(int argc, char **argv, const char *name, const char *out_kind, const char **out_path,
                      const char **gzdir, const char **root)
{
    *out_path = *gzdir = *root = NULL;
    bool bad = false;
    for (int i = 1; i < argc && !bad; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            *out_path = argv[++i];
        else if (strcmp(argv[i], "--gz") == 0 && i + 1 < argc)
            *gzdir = argv[++i];
        else if (argv[i][0] == '-' || *root)
            bad = true;
        else
            *root = argv[i];
    }
    if (bad || !*out_path || !*root) {
        fprintf(stderr, "usage: %s [--gz GZDIR] -o %s DIR\n", name, out_kind);
        exit(1);
    }
    asset_set_program(name);
}

void asset_set_program(const char *name)
{
    program = name;
}

void asset_set_output(const char *path)
{
    output = path;
}

void asset_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (output)
        unlink(output);
    exit(1);
}

void *asset_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        asset_die("out of memory");
    return p;
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = asset_xmalloc(la + lb + 2);
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        asset_die("out of memory");
    return d;
}

static void add(struct asset_list *l, const char *key, const char *path, const struct stat *st)
{
    int err = kv_key_check(key, strlen(key));
    if (err < 0)
        asset_die("%s: not usable as a key (%s)", path, strlen(key) > KV_KEY_MAX ? "name too long" : "malformed");
    if (st->st_size > ASSET_MAX_BYTES)
        asset_die("%s: too big (%jd bytes; at most %jd)", path, (intmax_t)st->st_size, (intmax_t)ASSET_MAX_BYTES);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            asset_die("out of memory");
    }
    struct asset *a = &l->v[l->n++];
    a->key = xstrdup(key);
    a->path = xstrdup(path);
    a->size = st->st_size;
    a->mtime = (int64_t)st->st_mtime;
}

/* Adds the files under root/rel (rel NULL: root itself). */
static void walk(struct asset_list *l, const char *root, const char *rel)
{
    char *dir = rel ? join(root, rel) : xstrdup(root);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        asset_die("%s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (name[0] == '.') {
            free(names[i]);
            continue;
        }
        char *path = join(dir, name);
        char *key = rel ? join(rel, name) : xstrdup(name);
        struct stat st;
        if (lstat(path, &st) != 0)
            asset_die("%s: %s", path, strerror(errno));
        bool link = S_ISLNK(st.st_mode);
        if (link && stat(path, &st) != 0)
            asset_die("%s: %s", path, strerror(errno));
        if (S_ISDIR(st.st_mode)) {
            if (link)
                fprintf(stderr, "%s: %s: a symlink to a directory, not followed\n", program, path);
            else
                walk(l, root, key);
        } else if (S_ISREG(st.st_mode)) {
            add(l, key, path, &st);
        } else {
            asset_die("%s: not a regular file or directory", path);
        }
        free(path);
        free(key);
        free(names[i]);
    }
    free(names);
    free(dir);
}

static struct asset *find(struct asset_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].key, key) == 0)
            return &l->v[i];
    return NULL;
}

/* The precompressed variants from gzdir, where smaller. */
static void add_gz_variants(struct asset_list *l, const char *gzdir)
{
    size_t n = l->n;
    for (size_t i = 0; i < n; i++) {
        const char *key = l->v[i].key;
        if (!kv_compressible(key, strlen(key)))
            continue;
        size_t kl = strlen(key);
        char *gzkey = asset_xmalloc(kl + 4);
        memcpy(gzkey, key, kl);
        memcpy(gzkey + kl, ".gz", 4);
        char *path = join(gzdir, gzkey);
        struct stat st;
        if (!find(l, gzkey) && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < l->v[i].size) {
            /* The variant is as old as what it was made from. */
            st.st_mtime = (time_t)l->v[i].mtime;
            add(l, gzkey, path, &st);
        }
        free(gzkey);
        free(path);
    }
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct asset *)a)->key, ((const struct asset *)b)->key);
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
        asset_die("SOURCE_DATE_EPOCH=%s: not a count of seconds", s);
    return v;
}

void asset_scan(const char *root, const char *gzdir, struct asset_list *out)
{
    struct stat st;
    if (stat(root, &st) != 0)
        asset_die("%s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        asset_die("%s: not a directory", root);
    bool sde_set;
    int64_t sde = source_date_epoch(&sde_set);
    *out = (struct asset_list){0};
    walk(out, root, NULL);
    if (gzdir)
        add_gz_variants(out, gzdir);
    if (out->n > 0)
        qsort(out->v, out->n, sizeof *out->v, by_key);
    if (sde_set)
        for (size_t i = 0; i < out->n; i++)
            out->v[i].mtime = sde;
}

void asset_list_free(struct asset_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].path);
    }
    free(l->v);
    *l = (struct asset_list){0};
}

uint8_t *asset_read(const struct asset *a, size_t *len)
{
    FILE *f = fopen(a->path, "rb");
    if (!f)
        asset_die("%s: %s", a->path, strerror(errno));
    size_t cap = (size_t)a->size + 1, n = 0;
    uint8_t *buf = asset_xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            /* Grew since stat: read on, within the limit. */
            if ((off_t)cap > ASSET_MAX_BYTES)
                asset_die("%s: too big (grew past %jd bytes)", a->path, (intmax_t)ASSET_MAX_BYTES);
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                asset_die("out of memory");
        }
    }
    if (ferror(f))
        asset_die("%s: read error: %s", a->path, strerror(errno));
    fclose(f);
    *len = n;
    return buf;
}

void asset_etag(const uint8_t digest[SHA256_DIGEST_LEN], char out[19])
{
    char hex[SHA256_HEX_LEN];
    sha256_hex(digest, hex);
    snprintf(out, 19, "\"%.16s\"", hex);
}
