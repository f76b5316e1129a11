/* mf_sha512.h - SHA-512 (FIPS 180-4), streaming.
 *
 * Used by the bootloader's Ed25519 verification (mf_ed25519.h), which hashes
 * R || A || M. The caller owns the state; no globals, no allocation.
 *
 *   mf_sha512_t s;
 *   mf_sha512_init(&s);
 *   mf_sha512_update(&s, data, len);   (any number of times, any lengths)
 *   mf_sha512_final(&s, digest);       (64 bytes; s must be re-initialised after)
 */
#ifndef MF_SHA512_H
#define MF_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define MF_SHA512_DIGEST_BYTES 64u
#define MF_SHA512_BLOCK_BYTES 128u

typedef struct {
    uint64_t h[8];      /* chaining value */
    uint64_t n_bytes;   /* message bytes absorbed so far (mod 2^64) */
    uint8_t buf[128];   /* partial block */
    uint32_t buf_len;   /* bytes in buf, 0..127 */
} mf_sha512_t;

/* Start a new hash. s must not be NULL. */
void mf_sha512_init(mf_sha512_t *s);

/* Absorb len bytes of data (data may be NULL only when len is 0). */
void mf_sha512_update(mf_sha512_t *s, const uint8_t *data, size_t len);

/* Pad, write the 64-byte digest to out, and wipe the state. */
void mf_sha512_final(mf_sha512_t *s, uint8_t out[64]);

/* One-shot: out = SHA-512(data[0..len)). */
void mf_sha512(const uint8_t *data, size_t len, uint8_t out[64]);

#endif /* MF_SHA512_H */
