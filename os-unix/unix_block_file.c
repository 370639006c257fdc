/* The file block device (unix_block_file.h).
 *
 * A request is a chain of pieces (binds), each a job that moves up to
 * UNIX_BLOCK_FILE_CHUNK bytes between the file and the job's own buffer;
 * a read's bytes are copied to the caller's buffer on the loop, by the
 * job's deliver, only while its promise still waits for them. So a
 * cancelled request leaves the caller's buffer alone even when its job is
 * still running on a worker. Each job holds a reference to the device, so
 * that closing it does not close the descriptor under a worker (where a
 * new file could by then have the same number).
 */
#define _GNU_SOURCE
#include "unix_block_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unix_jobs.h"

struct block_file {
    struct block b; /* first: a struct block * is a struct block_file * */
    int fd;
    size_t refs; /* the caller's, and one per job; loop thread only */
};

enum file_op { OP_READ, OP_WRITE, OP_FLUSH };

static void file_unref(struct block_file *f)
{
    if (--f->refs > 0)
        return;
    close(f->fd);
    free(f);
}

/* Moves len bytes between buf and the file at offset; thread-safe. A
 * short transfer (the file ended) is -LWT_EIO. */
static int transfer(int fd, enum file_op op, void *buf, size_t len, off_t offset)
{
    if (op == OP_FLUSH) {
        int rc;
        while ((rc = fdatasync(fd)) < 0 && errno == EINTR)
            ;
        return rc < 0 ? -errno : 0;
    }
    size_t done = 0;
    while (done < len) {
        off_t at = offset + (off_t)done;
        ssize_t n = op == OP_WRITE ? pwrite(fd, (const char *)buf + done, len - done, at)
                                   : pread(fd, (char *)buf + done, len - done, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -LWT_EIO; /* the file is shorter than the device */
        done += (size_t)n;
    }
    return 0;
}

/* ---- One piece on the job pool -------------------------------------- */

struct file_job {
    struct block_file *f; /* a reference */
    enum file_op op;
    off_t offset;
    size_t len;
    void *user_buf; /* a read's destination */
    uint8_t bounce[];
};

static void *job_run(void *arg, int *err)
{
    struct file_job *j = arg;
    *err = transfer(j->f->fd, j->op, j->bounce, j->len, j->offset);
    return NULL;
}

static void job_deliver(void *arg, void *value)
{
    (void)value;
    struct file_job *j = arg;
    if (j->op == OP_READ && j->len)
        memcpy(j->user_buf, j->bounce, j->len);
}

static void job_cleanup(void *arg)
{
    struct file_job *j = arg;
    file_unref(j->f);
    free(j);
}

/* One piece, on the pool if it runs, else here and now. */
static lwt_t *piece(struct block_file *f, enum file_op op, void *buf, size_t len, off_t offset)
{
    if (!unix_jobs_running()) {
        int rc = transfer(f->fd, op, buf, len, offset);
        return rc < 0 ? lwt_fail(rc) : lwt_return(NULL);
    }
    struct file_job *j = malloc(sizeof *j + (op == OP_FLUSH ? 0 : len));
    if (!j)
        return lwt_fail(-LWT_ENOMEM);
    *j = (struct file_job){.f = f, .op = op, .offset = offset, .len = len, .user_buf = buf};
    f->refs++;
    if (op == OP_WRITE && len)
        memcpy(j->bounce, buf, len);
    return unix_job_submit_deliver(job_run, j, job_deliver, job_cleanup);
}

/* ---- Requests --------------------------------------------------------- */

struct file_req {
    struct block_file *f;
    enum file_op op;
    uint8_t *buf;
    size_t len, done;
    off_t offset;
};

static lwt_t *next_piece(void *value, void *ctx)
{
    (void)value;
    struct file_req *r = ctx;
    if (r->done == r->len)
        return lwt_return(NULL);
    size_t n = r->len - r->done;
    if (n > UNIX_BLOCK_FILE_CHUNK)
        n = UNIX_BLOCK_FILE_CHUNK;
    lwt_t *p = piece(r->f, r->op, r->buf + r->done, n, r->offset + (off_t)r->done);
    struct file_req next = *r;
    next.done += n;
    return lwt_bind(p, next_piece, LWT_CTX(next));
}

struct req_end {
    struct block_file *f;
    enum file_op op;
    size_t len;
};

static lwt_t *req_done(void *value, void *ctx)
{
    struct req_end *e = ctx;
    struct block_stats *s = &e->f->b.stats;
    if (e->op == OP_READ) {
        s->reads++;
        s->read_bytes += e->len;
    } else if (e->op == OP_WRITE) {
        s->writes++;
        s->written_bytes += e->len;
    } else {
        s->flushes++;
    }
    return lwt_return(value);
}

static lwt_t *req_failed(int err, void *ctx)
{
    struct req_end *e = ctx;
    if (err != -LWT_ECANCELED)
        e->f->b.stats.errors++;
    return lwt_fail(err);
}

static lwt_t *start(struct block_file *f, enum file_op op, uint64_t sector, void *buf, size_t len)
{
    int rc = op == OP_FLUSH ? 0 : block_check(&f->b, sector, buf, len, op == OP_WRITE);
    if (rc < 0)
        return lwt_fail(rc);
    lwt_t *p;
    if (op == OP_FLUSH) {
        p = piece(f, OP_FLUSH, NULL, 0, 0);
    } else {
        struct file_req r = {.f = f, .op = op, .buf = buf, .len = len, .offset = (off_t)(sector * f->b.sector_size)};
        p = next_piece(NULL, &r);
    }
    struct req_end e = {.f = f, .op = op, .len = len};
    return lwt_try_bind(p, req_done, req_failed, LWT_CTX(e));
}

static lwt_t *file_read(struct block *b, uint64_t sector, void *buf, size_t len)
{
    return start((struct block_file *)b, OP_READ, sector, buf, len);
}

static lwt_t *file_write(struct block *b, uint64_t sector, const void *buf, size_t len)
{
    return start((struct block_file *)b, OP_WRITE, sector, (void *)buf, len);
}

static lwt_t *file_flush(struct block *b)
{
    return start((struct block_file *)b, OP_FLUSH, 0, NULL, 0);
}

static const struct block_ops file_ops = {
    .read = file_read,
    .write = file_write,
    .flush = file_flush,
};

int unix_block_file_open(const char *path, bool read_only, uint32_t sector_size, struct block **out)
{
    *out = NULL;
    if (sector_size == 0)
        sector_size = 512;
    if (!block_sector_size_ok(sector_size))
        return -LWT_EINVAL;
    int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    uint64_t bytes = 0;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = -errno;
    else if (S_ISREG(st.st_mode))
        bytes = (uint64_t)st.st_size;
    else if (S_ISDIR(st.st_mode))
        rc = -LWT_EISDIR;
    else if (!S_ISBLK(st.st_mode))
        rc = -LWT_EINVAL;
    else if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
        rc = -errno;
    struct block_file *f = rc == 0 ? malloc(sizeof *f) : NULL;
    if (!f) {
        close(fd);
        return rc < 0 ? rc : -LWT_ENOMEM;
    }
    *f = (struct block_file){
        .b = {.ops = &file_ops,
              .sector_size = sector_size,
              .sectors = bytes / sector_size,
              .read_only = read_only,
              .name = "file"},
        .fd = fd,
        .refs = 1,
    };
    *out = &f->b;
    return 0;
}

void unix_block_file_close(struct block *b)
{
    if (b)
        file_unref((struct block_file *)b);
}
