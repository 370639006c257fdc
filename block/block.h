/* The block device (DESIGN.md §4): a disk of fixed-size sectors, read and
 * written as promises. Implementations:
 *
 *   a file on Unix                 os-unix/unix_block_file.h (job pool)
 *   blkfront on Xen                os-xen/xen_blkfront.h
 *   memory, for tests              block/block_mem.h
 *
 * A request names its first sector and a length in bytes, a multiple of
 * the sector size, of any size: the device splits it as its medium needs
 * (pieces of the file, ring requests of 11 pages). Arguments are checked
 * the same way everywhere (block_check): a length that is not a multiple
 * of the sector size is -LWT_EINVAL, a range past the last sector
 * -LWT_ERANGE, a write to a read-only device -LWT_EROFS. A length of 0 is
 * fulfilled at once.
 *
 * Ownership: read and write borrow buf until their promise settles, and
 * not a moment longer. They are cancelable: a cancelled request is
 * rejected with -LWT_ECANCELED at once and the device never touches buf
 * again (devices that complete later work on buffers of their own). A
 * cancelled write may have reached the medium in part or in whole.
 *
 * Durability: a write is fulfilled once the device has it, which may be in
 * a volatile cache. flush is fulfilled once every write fulfilled before
 * the flush was called is on stable storage (a device with no volatile
 * cache fulfils it at once). Writes still pending when flush is called are
 * not covered: wait for them first.
 *
 * Everything runs on the scheduler's thread.
 */
#ifndef TESSERA_BLOCK_H
#define TESSERA_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwt.h"

struct block;

struct block_stats {
    uint64_t reads, read_bytes;     /* requests fulfilled */
    uint64_t writes, written_bytes; /* requests fulfilled */
    uint64_t flushes;               /* fulfilled */
    uint64_t errors;                /* requests rejected by the medium (not argument errors, not cancels) */
};

struct block_ops {
    /* Reads len bytes from sector on into buf. Fulfilled with NULL. */
    lwt_t *(*read)(struct block *b, uint64_t sector, void *buf, size_t len);
    /* Writes len bytes from buf to sector on. Fulfilled with NULL. */
    lwt_t *(*write)(struct block *b, uint64_t sector, const void *buf, size_t len);
    /* Fulfilled with NULL once earlier fulfilled writes are durable. */
    lwt_t *(*flush)(struct block *b);
};

struct block {
    const struct block_ops *ops; /* ro */
    uint32_t sector_size;        /* ro: bytes; a power of two, 512 to 4096 */
    uint64_t sectors;            /* ro: the device's size in sectors */
    bool read_only;              /* ro */
    struct block_stats stats;    /* ro: kept by the device */
    const char *name;            /* ro: for logs */
};

/* The checks every device applies before it does anything: 0, or
 * -LWT_EINVAL (len not a multiple of the sector size, or buf NULL with a
 * length), -LWT_ERANGE (past the end), -LWT_EROFS (a write to a read-only
 * device). */
int block_check(const struct block *b, uint64_t sector, const void *buf, size_t len, bool write);

/* Whether s is a sector size this interface allows. */
bool block_sector_size_ok(uint32_t s);

static inline lwt_t *block_read(struct block *b, uint64_t sector, void *buf, size_t len)
{
    return b->ops->read(b, sector, buf, len);
}

static inline lwt_t *block_write(struct block *b, uint64_t sector, const void *buf, size_t len)
{
    return b->ops->write(b, sector, buf, len);
}

static inline lwt_t *block_flush(struct block *b)
{
    return b->ops->flush(b);
}

/* The device's size in bytes. */
static inline uint64_t block_size_bytes(const struct block *b)
{
    return b->sectors * b->sector_size;
}

#endif
