/* A block device (block/block.h) over a file on Unix: a disk image, or a
 * block special file. Reads, writes and flushes (fdatasync) run on the job
 * pool (unix_jobs.h) when it has been started, in pieces of at most
 * UNIX_BLOCK_FILE_CHUNK bytes, one after the other, through buffers of
 * their own; without the pool they run on the loop thread and settle at
 * once.
 *
 * The size is taken once, at open: a file's length rounded down to whole
 * sectors (a partial last sector is not part of the device), a block
 * special file's size from the kernel. A file that shrinks under the
 * device makes reads past its new end fail with -LWT_EIO.
 *
 * Ownership: the path is not kept. unix_block_file_close closes the
 * device; jobs still running hold the descriptor until they finish, so
 * closing with requests in flight is safe (their promises should have been
 * cancelled or settled first).
 */
#ifndef TESSERA_UNIX_BLOCK_FILE_H
#define TESSERA_UNIX_BLOCK_FILE_H

#include <stdbool.h>
#include <stdint.h>

#include "block.h"

#define UNIX_BLOCK_FILE_CHUNK ((size_t)1 << 20)

/* Opens path read-only or read-write, with sectors of sector_size bytes
 * (0: 512). 0, or -LWT_EINVAL (a sector size block.h does not allow), the
 * open's error (-LWT_ENOENT, -LWT_EACCES...), -LWT_EISDIR, -LWT_EINVAL
 * again for anything else that is neither a regular file nor a block
 * device, or -LWT_ENOMEM. */
int unix_block_file_open(const char *path, bool read_only, uint32_t sector_size, struct block **out);
void unix_block_file_close(struct block *b);

#endif
