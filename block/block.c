/* The checks every block device shares (block.h). */
#include "block.h"

bool block_sector_size_ok(uint32_t s)
{
    return s >= 512 && s <= 4096 && (s & (s - 1)) == 0;
}

int block_check(const struct block *b, uint64_t sector, const void *buf, size_t len, bool write)
{
    if (len % b->sector_size != 0 || (len > 0 && !buf))
        return -LWT_EINVAL;
    /* Written so that nothing overflows, whatever sector says. */
    uint64_t count = (uint64_t)len / b->sector_size;
    if (sector > b->sectors || count > b->sectors - sector)
        return -LWT_ERANGE;
    if (write && b->read_only)
        return -LWT_EROFS;
    return 0;
}
