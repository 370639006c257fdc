/* SHA-256 (FIPS 180-4), portable and freestanding: only string.h, stdint.h
 * and stddef.h, so the same code runs on every platform.
 *
 *     struct sha256 h;
 *     sha256_init(&h);
 *     sha256_update(&h, data, len);    // any number of times
 *     uint8_t digest[SHA256_DIGEST_LEN];
 *     sha256_final(&h, digest);
 */
#ifndef TESSERA_SHA256_H
#define TESSERA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN    (2 * SHA256_DIGEST_LEN + 1) /* with the NUL */

struct sha256 {
    uint32_t state[8]; /* private */
    uint64_t bytes;    /* private: message length so far */
    uint8_t block[64]; /* private: a partial block */
    size_t used;       /* private: bytes in block */
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the digest; h must be initialised again before reuse. */
void sha256_final(struct sha256 *h, uint8_t digest[SHA256_DIGEST_LEN]);
/* Lower-case hex of a digest, NUL-terminated; returns hex. */
char *sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char hex[SHA256_HEX_LEN]);

#endif
