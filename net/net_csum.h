/* The Internet checksum (RFC 1071): a one's complement sum of 16-bit words,
 * accumulated in 32 bits and folded at the end. */
#ifndef TESSERA_NET_CSUM_H
#define TESSERA_NET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes at p to sum, as big-endian 16-bit words (an odd last byte
 * is padded with zero). Only the last chunk of a message may be odd. */
uint32_t net_csum_add(uint32_t sum, const void *p, size_t len);
/* Folds the sum and complements it: the value to store in a header. A
 * message that carries its correct checksum folds to 0. */
uint16_t net_csum_fold(uint32_t sum);
/* The IPv4 pseudo-header of UDP and TCP (RFC 768, RFC 9293). */
uint32_t net_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

#endif
