/* Private to net/: the random draws the fault injectors share (hub.c,
 * netif_faults.c), so that a seed means the same faults in both. */
#ifndef TESSERA_NET_FAULT_DRAW_H
#define TESSERA_NET_FAULT_DRAW_H

#include <stdbool.h>
#include <stdint.h>

/* splitmix64: tiny, and every seed (zero too) gives a good stream. */
static inline uint64_t net_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability ppm / 1e6, from one draw. */
static inline bool net_chance(uint64_t r, uint32_t ppm)
{
    return ((r >> 32) * 1000000ull >> 32) < ppm;
}

/* a + b, saturating below UINT64_MAX (which means "never"). */
static inline uint64_t net_add_sat(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - 1 - a ? UINT64_MAX - 1 : a + b;
}

#endif
