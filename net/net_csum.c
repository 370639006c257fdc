/* See net_csum.h.
 *
 * The bulk of a message is summed 64 bits at a time in the machine's own
 * byte order: the one's complement sum is the same whatever the order of
 * the bytes within the words (RFC 1071 §2(B)), so folding the wide sum to
 * 16 bits and swapping its bytes once gives the big-endian sum. */
#include <string.h>

#include "net_csum.h"

static uint32_t add_be16(uint32_t sum, const uint8_t *b, size_t len)
{
    while (len >= 2) {
        sum += (uint32_t)(b[0] << 8 | b[1]);
        b += 2;
        len -= 2;
    }
    if (len)
        sum += (uint32_t)b[0] << 8;
    return sum;
}

uint32_t net_csum_add(uint32_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;
    if (len >= 16) {
        uint64_t acc = 0;
        size_t words = len / 8;
        for (size_t i = 0; i < words; i++) {
            uint64_t w;
            memcpy(&w, b + 8 * i, sizeof w);
            acc += w;
            acc += acc < w; /* end-around carry */
        }
        acc = (acc & 0xffffffffu) + (acc >> 32);
        acc = (acc & 0xffffffffu) + (acc >> 32);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
        acc = (acc & 0xffff) + (acc >> 16);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        acc = (acc >> 8 | acc << 8) & 0xffff;
#endif
        sum += (uint32_t)acc;
        b += 8 * words;
        len -= 8 * words;
    }
    /* Partial sums stay far from 2^32: fold now and then. */
    sum = (sum & 0xffff) + (sum >> 16);
    return add_be16(sum, b, len);
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
