/* test_ed25519.c - SHA-512 (FIPS 180-4) and Ed25519 verification (RFC 8032).
 * Vectors: RFC 8032 section 7.1 (TEST 1, 2, 3, 1024, SHA(abc)); SHA-512 digests
 * of the FIPS 180 examples (expected values from Python's hashlib). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mf_ed25519.h"
#include "mf_sha512.h"
#include "mf_test.h"

typedef struct {
    const char *name;
    const char *pub;
    const char *msg;
    const char *sig;
} vector_t;

static const vector_t rfc8032[] = {
    {"TEST 1",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
     "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
     "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
     "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
     "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
     "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
     "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
     "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
     "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
     "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
     "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
     "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
     "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
     "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
     "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
     "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
     "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
     "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
     "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
     "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
     "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
     "c60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b"
     "5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
     "454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e030"
     "3dca179c138ac17ad9bef1177331a704"},
};

typedef struct {
    const char *text;
    const char *digest;
} sha_vector_t;

static const sha_vector_t sha_vectors[] = {
    {"",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f"
     "63b931bd47417a81a538327af927da3e"},
    {"abc",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
     "454d4423643ce80e2a9ac94fa54ca49f"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433a"
     "c7d329eeb6dd26545e96e55b874be909"},
};

static const char *million_a_digest =
    "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31b"
    "eb009c5c2c49aa2e4eadb217ad8cc09b";

static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;
    while (hex[0] != '\0' && hex[1] != '\0' && n < cap) {
        unsigned v = 0;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

static void test_sha512(void)
{
    uint8_t want[64], got[64];
    for (size_t i = 0; i < sizeof sha_vectors / sizeof sha_vectors[0]; ++i) {
        const uint8_t *m = (const uint8_t *)sha_vectors[i].text;
        size_t len = strlen(sha_vectors[i].text);
        unhex(want, sizeof want, sha_vectors[i].digest);
        mf_sha512(m, len, got);
        MF_CHECK(memcmp(got, want, 64) == 0);
        /* the same bytes one at a time */
        mf_sha512_t s;
        mf_sha512_init(&s);
        for (size_t k = 0; k < len; ++k) {
            mf_sha512_update(&s, m + k, 1);
        }
        mf_sha512_final(&s, got);
        MF_CHECK(memcmp(got, want, 64) == 0);
    }
    /* one million 'a' in uneven pieces (crosses many block boundaries) */
    uint8_t buf[1000];
    memset(buf, 'a', sizeof buf);
    mf_sha512_t s;
    mf_sha512_init(&s);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        mf_sha512_update(&s, buf, n);
        left -= n;
        step = step % 977u + 13u; /* 13..989 bytes */
    }
    mf_sha512_final(&s, got);
    unhex(want, sizeof want, million_a_digest);
    MF_CHECK(memcmp(got, want, 64) == 0);
}

static uint8_t msg_buf[2048];

static void test_rfc_vectors(void)
{
    uint8_t pub[32], sig[64];
    for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; ++i) {
        const vector_t *t = &rfc8032[i];
        MF_CHECK(unhex(pub, sizeof pub, t->pub) == 32);
        MF_CHECK(unhex(sig, sizeof sig, t->sig) == 64);
        size_t len = unhex(msg_buf, sizeof msg_buf, t->msg);
        int rc = mf_ed25519_verify(sig, pub, msg_buf, len);
        if (rc != 0) {
            fprintf(stderr, "%s: verify returned %d\n", t->name, rc);
        }
        MF_CHECK(rc == MF_ED25519_OK);
        /* streaming, one byte at a time */
        mf_ed25519_verify_t v;
        MF_CHECK(mf_ed25519_verify_begin(&v, sig, pub) == MF_ED25519_OK);
        for (size_t k = 0; k < len; ++k) {
            mf_ed25519_verify_update(&v, msg_buf + k, 1);
        }
        MF_CHECK(mf_ed25519_verify_end(&v) == MF_ED25519_OK);
        MF_CHECK(mf_ed25519_verify_end(&v) == MF_ED25519_ESTATE); /* consumed */
        /* every single-bit flip of the signature and key is refused (TEST 1, 2;
         * tests/boot/test_ed25519.py flips more) */
        if (i < 2) {
            int refused = 0;
            for (unsigned bit = 0; bit < 512u; ++bit) {
                sig[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
                refused += mf_ed25519_verify(sig, pub, msg_buf, len) != 0;
                sig[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
            }
            MF_CHECK(refused == 512);
            refused = 0;
            for (unsigned bit = 0; bit < 256u; ++bit) {
                pub[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
                refused += mf_ed25519_verify(sig, pub, msg_buf, len) != 0;
                pub[bit / 8u] ^= (uint8_t)(1u << (bit % 8u));
            }
            MF_CHECK(refused == 256);
        }
        /* a message one byte longer or shorter is refused */
        msg_buf[len] = 0;
        MF_CHECK(mf_ed25519_verify(sig, pub, msg_buf, len + 1) != 0);
        if (len > 0) {
            MF_CHECK(mf_ed25519_verify(sig, pub, msg_buf, len - 1) != 0);
        }
    }
}

/* 256-bit little-endian add: out = a + b (no overflow for the values used) */
static void add256(uint8_t out[32], const uint8_t a[32], const uint8_t b[32])
{
    unsigned carry = 0;
    for (unsigned i = 0; i < 32u; ++i) {
        unsigned s = (unsigned)a[i] + b[i] + carry;
        out[i] = (uint8_t)s;
        carry = s >> 8;
    }
}

static void test_refusals(void)
{
    uint8_t pub[32], sig[64], bad[64], l_bytes[32], p_bytes[32];
    size_t len;
    unhex(pub, sizeof pub, rfc8032[0].pub);
    unhex(sig, sizeof sig, rfc8032[0].sig);
    len = unhex(msg_buf, sizeof msg_buf, rfc8032[0].msg);
    unhex(l_bytes, sizeof l_bytes, "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    unhex(p_bytes, sizeof p_bytes, "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

    /* S + L: the same point equation holds, but S is not canonical */
    memcpy(bad, sig, 64);
    add256(bad + 32, sig + 32, l_bytes);
    MF_CHECK(mf_ed25519_verify(bad, pub, msg_buf, len) == MF_ED25519_ESCALAR);
    /* S = L exactly */
    memcpy(bad + 32, l_bytes, 32);
    MF_CHECK(mf_ed25519_verify(bad, pub, msg_buf, len) == MF_ED25519_ESCALAR);

    /* small-order public keys: identity (y = 1), (0, -1) (y = p - 1) */
    uint8_t small[32];
    memset(small, 0, 32);
    small[0] = 1;
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);
    memcpy(small, p_bytes, 32);
    small[0] = (uint8_t)(small[0] - 1u);
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);
    /* y = 0: the points (+-sqrt(-1), 0) of order 4 */
    memset(small, 0, 32);
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);
    /* identity encoded non-canonically as y = p + 1 */
    memcpy(small, p_bytes, 32);
    small[0] = (uint8_t)(small[0] + 1u);
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);
    /* x = 0 with the sign bit set (RFC 8032 5.1.3 step 4) */
    memset(small, 0, 32);
    small[0] = 1;
    small[31] = 0x80;
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);
    /* y = 2 is not on the curve (u/v is not a square) */
    memset(small, 0, 32);
    small[0] = 2;
    MF_CHECK(mf_ed25519_verify(sig, small, msg_buf, len) == MF_ED25519_EPUB);

    /* R = identity (forgery attempt with a small-order R) */
    memcpy(bad, sig, 64);
    memset(bad, 0, 32);
    bad[0] = 1;
    MF_CHECK(mf_ed25519_verify(bad, pub, msg_buf, len) == MF_ED25519_ER);

    /* NULL pointers */
    MF_CHECK(mf_ed25519_verify(NULL, pub, msg_buf, len) == MF_ED25519_ENULL);
    MF_CHECK(mf_ed25519_verify(sig, NULL, msg_buf, len) == MF_ED25519_ENULL);
    MF_CHECK(mf_ed25519_verify(sig, pub, NULL, 5) == MF_ED25519_ENULL);
    MF_CHECK(mf_ed25519_verify(sig, pub, NULL, 0) == MF_ED25519_OK); /* TEST 1 is empty */
    MF_CHECK(mf_ed25519_verify_begin(NULL, sig, pub) == MF_ED25519_ENULL);
    MF_CHECK(mf_ed25519_verify_end(NULL) == MF_ED25519_ENULL);
    mf_ed25519_verify_update(NULL, msg_buf, 1);
    /* end() after a failed begin() reports begin's error, update() is ignored */
    mf_ed25519_verify_t v;
    MF_CHECK(mf_ed25519_verify_begin(&v, sig, small) == MF_ED25519_EPUB);
    mf_ed25519_verify_update(&v, msg_buf, len);
    MF_CHECK(mf_ed25519_verify_end(&v) == MF_ED25519_EPUB);
    MF_CHECK(mf_ed25519_verify_begin(&v, sig, pub) == MF_ED25519_OK);
    mf_ed25519_verify_update(&v, NULL, 3);
    MF_CHECK(mf_ed25519_verify_end(&v) == MF_ED25519_ENULL);
}

int main(void)
{
    test_sha512();
    test_rfc_vectors();
    test_refusals();
    return mf_test_report("test_ed25519");
}
