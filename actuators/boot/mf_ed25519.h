/* mf_ed25519.h - Ed25519 signature verification (RFC 8032, pure Ed25519).
 *
 * The bootloader checks an image's signature with this before the image may
 * become active. Verification only (the host signs, with `cryptography`).
 * Integer arithmetic only (int32_t limbs, int64_t products: no __int128, no
 * float), no globals, no allocation; the caller owns the state. Variable
 * time: every input is public. No input can cause an out-of-bounds access.
 *
 * A signature sig = R || S (32 + 32 bytes) of message M under public key A
 * (32 bytes) is accepted when (RFC 8032 section 5.1.7):
 *   - S is canonical: S < L = 2^252 + 27742317777372353535851937790883648493;
 *   - A and R are valid, canonical point encodings (y < p, x recoverable,
 *     not x = 0 with the sign bit set) and neither has small order
 *     ([8]P = identity: a hardening beyond the RFC, as in libsodium);
 *   - [S]B = R + [k]A with k = SHA-512(R || A || M) mod L (checked as the
 *     encoding of [S]B - [k]A being equal to the bytes of R).
 *
 * Streaming use (the message can arrive in pieces, e.g. flash pages):
 *   mf_ed25519_verify_t v;
 *   if (mf_ed25519_verify_begin(&v, sig, pub) == 0) {
 *       mf_ed25519_verify_update(&v, part1, len1);  (any number of times)
 *       ok = mf_ed25519_verify_end(&v) == 0;
 *   }
 * end() returns the error of a failed begin(), so begin's result may also be
 * ignored. After end() the state must be begun again.
 */
#ifndef MF_ED25519_H
#define MF_ED25519_H

#include <stddef.h>
#include <stdint.h>

#include "mf_sha512.h"

#define MF_ED25519_SIG_BYTES 64u
#define MF_ED25519_PUB_BYTES 32u

/* Return codes: 0 = valid signature; every negative value = refused. */
#define MF_ED25519_OK 0
#define MF_ED25519_ENULL (-2)     /* a required pointer was NULL */
#define MF_ED25519_ESTATE (-4)    /* end() without a successful begin() */
#define MF_ED25519_ESCALAR (-20)  /* S >= L (non-canonical scalar) */
#define MF_ED25519_EPUB (-21)     /* public key: invalid/non-canonical encoding or small order */
#define MF_ED25519_ER (-22)       /* R: invalid/non-canonical encoding or small order */
#define MF_ED25519_EBADSIG (-23)  /* the group equation does not hold */

/* A point in extended coordinates (X : Y : Z : T), x = X/Z, y = Y/Z,
 * x*y = T/Z; each coordinate mod 2^255 - 19 in ten signed limbs of
 * 26, 25, 26, ... bits (radix 2^25.5). */
typedef struct {
    int32_t x[10];
    int32_t y[10];
    int32_t z[10];
    int32_t t[10];
} mf_ed25519_point_t;

typedef struct {
    mf_sha512_t hash;          /* SHA-512(R || A || M) being absorbed */
    mf_ed25519_point_t neg_a;  /* -A, decoded by begin() */
    uint8_t sig[64];           /* R || S */
    int32_t status;            /* MF_ED25519_OK while a begun verification is open */
} mf_ed25519_verify_t;

/* Check S and decode A and R, start hashing R || A. Returns 0 or a negative
 * code (then end() returns the same code). */
int mf_ed25519_verify_begin(mf_ed25519_verify_t *v, const uint8_t sig[64], const uint8_t pub[32]);

/* Absorb the next len bytes of the message (msg may be NULL only if len is 0;
 * a NULL msg with len > 0 makes end() return MF_ED25519_ENULL). */
void mf_ed25519_verify_update(mf_ed25519_verify_t *v, const uint8_t *msg, size_t len);

/* 0 when the signature is valid for the whole message absorbed, negative otherwise. */
int mf_ed25519_verify_end(mf_ed25519_verify_t *v);

/* One-shot: 0 when sig is a valid signature of msg[0..len) under pub. */
int mf_ed25519_verify(const uint8_t sig[64], const uint8_t pub[32], const uint8_t *msg, size_t len);

#endif /* MF_ED25519_H */
