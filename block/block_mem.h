/* A block device in memory (block.h), for tests: on any target, of any
 * sector size. It completes requests at once, unless the test holds them
 * (to see them pending, cancel them, or complete them in its own time),
 * and it can be told to fail requests that touch given sectors.
 *
 * Ownership: the device owns its bytes (block_mem_data lends them);
 * block_mem_free frees it, after rejecting requests still held with
 * -LWT_ECANCELED.
 */
#ifndef TESSERA_BLOCK_MEM_H
#define TESSERA_BLOCK_MEM_H

#include "block.h"

/* A zeroed device of `sectors` sectors. 0, or -LWT_EINVAL (a sector size
 * block_sector_size_ok refuses, or a size that does not fit in memory), or
 * -LWT_ENOMEM. */
int block_mem_new(uint32_t sector_size, uint64_t sectors, bool read_only, struct block **out);
/* A device holding a copy of data[0, len), zero-padded to whole sectors. */
int block_mem_new_from(const void *data, size_t len, uint32_t sector_size, bool read_only, struct block **out);
void block_mem_free(struct block *b);

/* The device's bytes: sectors * sector_size of them. */
uint8_t *block_mem_data(struct block *b);

/* While held, requests (reads, writes and flushes) wait in order until
 * block_mem_complete; they copy their data only then. */
void block_mem_hold(struct block *b, bool hold);
/* Requests waiting. */
size_t block_mem_held(const struct block *b);
/* Completes up to n of the held requests, oldest first, whether or not
 * the device is still held; returns how many. */
size_t block_mem_complete(struct block *b, size_t n);

/* From now on, reads and writes that touch a sector of [sector, sector +
 * count) are rejected with err (a negative LWT_E* code), and so is every
 * flush when flush_too; err 0 ends it. One range at a time. */
void block_mem_fail(struct block *b, uint64_t sector, uint64_t count, int err, bool flush_too);

#endif
