/* Initial sequence numbers (RFC 6528): ISN = M + F(local, remote, secret),
 * M a clock ticking every 4 us, F a keyed hash of the connection's
 * addresses and ports (SipHash-2-4), so that sequence numbers are hard to
 * guess from outside and still grow for a reused 4-tuple. */
#include "tcp_internal.h"

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1;                                                                                                      \
        v1 = rotl(v1, 13);                                                                                             \
        v1 ^= v0;                                                                                                      \
        v0 = rotl(v0, 32);                                                                                             \
        v2 += v3;                                                                                                      \
        v3 = rotl(v3, 16);                                                                                             \
        v3 ^= v2;                                                                                                      \
        v0 += v3;                                                                                                      \
        v3 = rotl(v3, 21);                                                                                             \
        v3 ^= v0;                                                                                                      \
        v2 += v1;                                                                                                      \
        v1 = rotl(v1, 17);                                                                                             \
        v1 ^= v2;                                                                                                      \
        v2 = rotl(v2, 32);                                                                                             \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* SipHash-2-4 of a 12-byte message under a 16-byte key. */
static uint64_t siphash12(const uint8_t key[16], const uint8_t m[12])
{
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
    uint64_t w = le64(m);
    v3 ^= w;
    SIPROUND;
    SIPROUND;
    v0 ^= w;
    /* The last 4 bytes, with the length in the top byte. */
    w = (uint64_t)12 << 56 | (uint64_t)m[11] << 24 | (uint64_t)m[10] << 16 | (uint64_t)m[9] << 8 | m[8];
    v3 ^= w;
    SIPROUND;
    SIPROUND;
    v0 ^= w;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t tcp__isn(struct net_stack *s, uint32_t laddr, uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint8_t m[12] = {(uint8_t)(laddr >> 24), (uint8_t)(laddr >> 16), (uint8_t)(laddr >> 8), (uint8_t)laddr,
                     (uint8_t)(raddr >> 24), (uint8_t)(raddr >> 16), (uint8_t)(raddr >> 8), (uint8_t)raddr,
                     (uint8_t)(lport >> 8),  (uint8_t)lport,         (uint8_t)(rport >> 8), (uint8_t)rport};
    uint32_t ticks = (uint32_t)(sched_now() / 4000);
    return ticks + (uint32_t)siphash12(tcp__all(s)->secret, m);
}
