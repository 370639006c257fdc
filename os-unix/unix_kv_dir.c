/* The directory store (unix_kv_dir.h).
 *
 * Staying inside the root: keys are checked first (kv_key_check: no "..",
 * no leading '/'), and the file is opened relative to the root's
 * descriptor with openat2's RESOLVE_BENEATH, which lets symlinks resolve
 * only while they stay under the root (an absolute symlink counts as
 * leaving). Kernels without openat2 (before 5.6) get realpath and a prefix
 * check instead, which has a window between check and open; there the
 * final component is at least opened with O_NOFOLLOW. A special file is
 * refused after the open, which is non-blocking so that a FIFO cannot hang
 * it.
 *
 * Reading runs on the job pool (unix_jobs.h) when it has been started, so
 * a large or cold file does not stall the loop; otherwise it runs on the
 * loop thread and the promise is settled at once. A job owns its request;
 * the entry it loaded becomes the caller's only if the promise was
 * fulfilled with it (a cancel can discard a finished job's value), which
 * the job's cleanup checks on the request's own reference to the promise.
 * Jobs also hold a reference to the store, so that freeing it while a
 * cancelled read still runs does not close the root under the worker.
 */
#define _GNU_SOURCE
#include "unix_kv_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "kv_common.h"
#include "lwt_errno.h"
#include "unix_jobs.h"

/* Files are read whole into memory: past this, -LWT_EFBIG. */
#define KV_DIR_MAX_BYTES ((off_t)64 << 20)

struct kv_dir {
    struct kv kv;    /* first: a struct kv * is a struct kv_dir * */
    int fd;          /* the root, O_DIRECTORY */
    char *root_real; /* realpath of the root, for kernels without openat2 */
    size_t refs;     /* the caller's, and one per job; loop thread only */
};

struct dir_entry {
    struct kv_entry e;
    char etag[40]; /* "\"<size hex>-<mtime hex>\"" */
    uint8_t data[];
};

static void dir_unref(struct kv_dir *d)
{
    if (--d->refs > 0)
        return;
    close(d->fd);
    free(d->root_real);
    free(d);
}

static int neg_errno(int e)
{
    /* Too many symlinks: as good as a refusal. */
    return e == ELOOP ? -LWT_EACCES : -e;
}

static int open_beneath(const struct kv_dir *d, const char *key)
{
    int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
#ifdef SYS_openat2
    struct open_how how = {.flags = (uint64_t)flags, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, d->fd, key, &how, sizeof how);
    if (fd >= 0)
        return (int)fd;
    if (errno == EXDEV)
        return -LWT_EACCES; /* it would leave the root */
    /* ENOSYS, or EPERM from a seccomp filter that does not know it. */
    if (errno != ENOSYS && errno != EPERM)
        return neg_errno(errno);
#endif
    size_t rl = strlen(d->root_real), kl = strlen(key);
    char *path = malloc(rl + kl + 2);
    if (!path)
        return -LWT_ENOMEM;
    memcpy(path, d->root_real, rl);
    path[rl] = '/';
    memcpy(path + rl + 1, key, kl + 1);
    char *real = realpath(path, NULL);
    int e = errno;
    free(path);
    if (!real)
        return neg_errno(e);
    int rc;
    if (rl > 1 && (strncmp(real, d->root_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0')))
        rc = -LWT_EACCES;
    else if ((rc = open(real, flags | O_NOFOLLOW)) < 0)
        rc = neg_errno(errno);
    free(real);
    return rc;
}

/* Opens, checks and reads the file at key; thread-safe. */
static int dir_load(const struct kv_dir *d, const char *key, struct dir_entry **out)
{
    int fd = open_beneath(d, key);
    if (fd < 0)
        return fd;
    struct stat st;
    int rc = 0;
    struct dir_entry *de = NULL;
    if (fstat(fd, &st) != 0)
        rc = neg_errno(errno);
    else if (S_ISDIR(st.st_mode))
        rc = -LWT_EISDIR;
    else if (!S_ISREG(st.st_mode))
        rc = -LWT_EACCES;
    else if (st.st_size > KV_DIR_MAX_BYTES)
        rc = -LWT_EFBIG;
    else if (!(de = malloc(sizeof *de + (size_t)st.st_size)))
        rc = -LWT_ENOMEM;
    size_t len = 0;
    while (rc == 0 && len < (size_t)st.st_size) {
        ssize_t n = read(fd, de->data + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = neg_errno(errno);
        else if (n == 0)
            break; /* shrank since fstat: what is there */
        else
            len += (size_t)n;
    }
    close(fd);
    if (rc < 0) {
        free(de);
        return rc;
    }
    de->e.data = de->data;
    de->e.len = len;
    de->e.content_type = kv_content_type(key, strlen(key));
    de->e.mtime = (int64_t)st.st_mtim.tv_sec;
    snprintf(de->etag, sizeof de->etag, "\"%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st.st_size,
             (uint64_t)st.st_mtim.tv_sec);
    de->e.etag = de->etag;
    *out = de;
    return 0;
}

/* ---- On the job pool ------------------------------------------------ */

struct dir_req {
    struct kv_dir *d;        /* a reference */
    lwt_t *promise;          /* a reference, set on the loop after submit */
    struct dir_entry *entry; /* written by the worker */
    char key[];
};

static void *dir_job(void *arg, int *err)
{
    struct dir_req *r = arg;
    int rc = dir_load(r->d, r->key, &r->entry);
    if (rc < 0) {
        r->entry = NULL;
        *err = rc;
        return NULL;
    }
    return &r->entry->e;
}

static void dir_job_cleanup(void *arg)
{
    struct dir_req *r = arg;
    /* Unless the caller got the entry, nobody will release it. */
    if (r->entry && !(r->promise && lwt_state(r->promise) == LWT_FULFILLED))
        free(r->entry);
    if (r->promise)
        lwt_unref(r->promise);
    dir_unref(r->d);
    free(r);
}

static lwt_t *dir_get(struct kv *kv, const char *key, size_t key_len)
{
    struct kv_dir *d = (struct kv_dir *)kv;
    int rc = kv_key_check(key, key_len);
    if (rc < 0)
        return lwt_fail(rc);

    struct dir_req *r = malloc(sizeof *r + key_len + 1);
    if (!r)
        return lwt_fail(-LWT_ENOMEM);
    r->d = d;
    d->refs++;
    r->promise = NULL;
    r->entry = NULL;
    memcpy(r->key, key, key_len);
    r->key[key_len] = '\0';
    lwt_t *p = unix_job_submit(dir_job, r, dir_job_cleanup);
    if (lwt_state(p) != LWT_REJECTED || lwt_error(p) != -LWT_ESHUTDOWN) {
        r->promise = lwt_ref(p);
        return p;
    }
    /* No job pool running (r is gone already): read here and now. */
    lwt_unref(p);
    char *k = malloc(key_len + 1);
    if (!k)
        return lwt_fail(-LWT_ENOMEM);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    struct dir_entry *de;
    rc = dir_load(d, k, &de);
    free(k);
    return rc < 0 ? lwt_fail(rc) : lwt_return(&de->e);
}

static void dir_release(struct kv *kv, const struct kv_entry *e)
{
    (void)kv;
    free((struct dir_entry *)e);
}

static const struct kv_ops dir_ops = {
    .get = dir_get,
    .release = dir_release,
};

int unix_kv_dir_new(const char *root, struct kv **out)
{
    *out = NULL;
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return neg_errno(errno);
    struct kv_dir *d = malloc(sizeof *d);
    char *real = realpath(root, NULL);
    if (!d || !real) {
        int rc = real ? -LWT_ENOMEM : neg_errno(errno);
        free(d);
        free(real);
        close(fd);
        return rc;
    }
    d->kv.ops = &dir_ops;
    d->kv.name = "directory";
    d->fd = fd;
    d->root_real = real;
    d->refs = 1;
    *out = &d->kv;
    return 0;
}

void unix_kv_dir_free(struct kv *kv)
{
    if (kv)
        dir_unref((struct kv_dir *)kv);
}
