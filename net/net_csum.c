/* See net_csum.h. */
#include "net_csum.h"

uint32_t net_csum_add(uint32_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;
    /* 32-bit partial sums cannot overflow before 2^16 words, which is more
     * than any packet. */
    while (len >= 2) {
        sum += (uint32_t)(b[0] << 8 | b[1]);
        b += 2;
        len -= 2;
    }
    if (len)
        sum += (uint32_t)b[0] << 8;
    return sum;
}

uint16_t net_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}
