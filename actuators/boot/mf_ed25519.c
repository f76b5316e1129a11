/* mf_ed25519.c - Ed25519 verification written from RFC 8032 section 5.1.
 *
 * Field GF(p), p = 2^255 - 19: ten signed limbs, limb i weighs
 * 2^ceil(25.5 i) (26 bits for even i, 25 for odd i). Products are summed in
 * int64_t and carried back (|limb| <= ~2^25) after every operation, so every
 * function accepts the output of every other. Points: extended twisted
 * Edwards coordinates with the RFC's addition and doubling formulas.
 */
#include "mf_ed25519.h"

#include <string.h>

typedef int32_t fe_t[10];

/* d = -121665/121666, 2d, sqrt(-1) = 2^((p-1)/4) and the base point B
 * (y = 4/5, x even), reduced and split into limbs. */
static const fe_t fe_d = {56195235, 13857412, 51736253, 6949390, 114729,
                          24766616, 60832955, 30306712, 48412415, 21499315};
static const fe_t fe_d2 = {45281625, 27714825, 36363642, 13898781, 229458,
                           15978800, 54557047, 27058993, 29715967, 9444199};
static const fe_t fe_sqrtm1 = {34513072, 25610706, 9377949, 3500415, 12389472,
                               33281959, 41962654, 31548777, 326685, 11406482};
static const fe_t fe_bx = {52811034, 25909283, 16144682, 17082669, 27570973,
                           30858332, 40966398, 8378388, 20764389, 8758491};
static const fe_t fe_by = {40265304, 26843545, 13421772, 20132659, 26843545,
                           6710886, 53687091, 13421772, 40265318, 26843545};
static const fe_t fe_bt = {28827043, 27438313, 39759291, 244362, 8635006,
                           11264893, 19351346, 13413597, 16611511, 27139452};

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t sc_l_bytes[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
static const uint32_t sc_l_words[8] = {0x5cf5d3edu, 0x5812631au, 0xa2f79cd6u, 0x14def9deu,
                                       0x00000000u, 0x00000000u, 0x00000000u, 0x10000000u};

static unsigned limb_bits(unsigned i)
{
    return (i & 1u) ? 25u : 26u;
}

static unsigned limb_offset(unsigned i)
{
    return 25u * i + (i + 1u) / 2u;
}

/* ---------------------------------------------------------------- field */

/* One rounding carry out of limb i (w bits) into limb i + 1 (or, times 19,
 * into limb 0 from limb 9): carry = floor((c_i + 2^(w-1)) / 2^w). The
 * constant shifts keep this to a few instructions on the M4; >> of a
 * negative value is an arithmetic shift (floor) on gcc and arm-gcc. */
#define FE_CARRY(T, c, i, w, next, mul)                            \
    do {                                                           \
        T carry_ = ((c)[i] + ((T)1 << ((w) - 1))) >> (w);          \
        (c)[i] -= carry_ * ((T)1 << (w));                          \
        (c)[next] += carry_ * (mul);                               \
    } while (0)

/* The order of ref10: afterwards |h_even| <= 2^25, |h_odd| <= ~2^24. */
#define FE_CARRY_CHAIN(T, c)                                       \
    do {                                                           \
        FE_CARRY(T, c, 0, 26, 1, 1);                               \
        FE_CARRY(T, c, 4, 26, 5, 1);                               \
        FE_CARRY(T, c, 1, 25, 2, 1);                               \
        FE_CARRY(T, c, 5, 25, 6, 1);                               \
        FE_CARRY(T, c, 2, 26, 3, 1);                               \
        FE_CARRY(T, c, 6, 26, 7, 1);                               \
        FE_CARRY(T, c, 3, 25, 4, 1);                               \
        FE_CARRY(T, c, 7, 25, 8, 1);                               \
        FE_CARRY(T, c, 4, 26, 5, 1);                               \
        FE_CARRY(T, c, 8, 26, 9, 1);                               \
        FE_CARRY(T, c, 9, 25, 0, 19);                              \
        FE_CARRY(T, c, 0, 26, 1, 1);                               \
    } while (0)

/* Carry int64 limbs (products, |c_i| < 2^62) into a field element. */
static void fe_carry(fe_t h, int64_t c[10])
{
    FE_CARRY_CHAIN(int64_t, c);
    for (unsigned i = 0; i < 10u; ++i) {
        h[i] = (int32_t)c[i];
    }
}

/* The same for sums and differences of two carried elements (|h_i| < 2^27:
 * int32_t is enough); in place. */
static void fe_carry32(fe_t h)
{
    FE_CARRY_CHAIN(int32_t, h);
}

static void fe_copy(fe_t h, const fe_t f)
{
    memcpy(h, f, sizeof(fe_t));
}

static void fe_set_small(fe_t h, int32_t v)
{
    memset(h, 0, sizeof(fe_t));
    h[0] = v;
}

static void fe_add(fe_t h, const fe_t f, const fe_t g)
{
    for (unsigned i = 0; i < 10u; ++i) {
        h[i] = f[i] + g[i];
    }
    fe_carry32(h);
}

static void fe_sub(fe_t h, const fe_t f, const fe_t g)
{
    for (unsigned i = 0; i < 10u; ++i) {
        h[i] = f[i] - g[i];
    }
    fe_carry32(h);
}

static void fe_neg(fe_t h, const fe_t f)
{
    for (unsigned i = 0; i < 10u; ++i) {
        h[i] = -f[i];
    }
}

/* h = f * g. Limb weights: w_i + w_j = w_{i+j} + 1 when i and j are both
 * odd, and 2^255 = 19 (mod p) folds i + j >= 10 back. For output column k,
 * j = k - i (mod 10) is odd with i exactly when i is odd and k even: those
 * terms use 2 f_i. Only 32 x 32 -> 64-bit products (one SMLAL each on the
 * M4): |f|, |g| <= ~2^26 after a carry, so 2 f and 19 g fit in int32_t.
 * h may alias f or g. */
static void fe_mul(fe_t h, const fe_t f, const fe_t g)
{
    int64_t c[10];
    int32_t g19[10];
    int32_t f2[10];
#pragma GCC unroll 10
    for (unsigned j = 0; j < 10u; ++j) {
        g19[j] = 19 * g[j];
        f2[j] = (j & 1u) ? 2 * f[j] : f[j];
    }
#pragma GCC unroll 10
    for (unsigned k = 0; k < 10u; ++k) {
        const int32_t *ff = (k & 1u) ? f : f2;
        int64_t acc = 0;
#pragma GCC unroll 10
        for (unsigned i = 0; i <= k; ++i) {
            acc += (int64_t)ff[i] * g[k - i];
        }
#pragma GCC unroll 10
        for (unsigned i = k + 1u; i < 10u; ++i) {
            acc += (int64_t)ff[i] * g19[k + 10u - i];
        }
        c[k] = acc;
    }
    fe_carry(h, c);
}

static void fe_sq(fe_t h, const fe_t f)
{
    fe_mul(h, f, f);
}

static void fe_sq_n(fe_t h, const fe_t f, unsigned n)
{
    fe_sq(h, f);
    for (unsigned i = 1; i < n; ++i) {
        fe_sq(h, h);
    }
}

/* Low 255 bits of s (bit 255 ignored), not reduced. */
static void fe_frombytes(fe_t h, const uint8_t s[32])
{
    int64_t c[10];
    for (unsigned i = 0; i < 10u; ++i) {
        unsigned off = limb_offset(i);
        unsigned byte = off >> 3;
        uint64_t win = 0;
        for (unsigned k = 0; k < 5u && byte + k < 32u; ++k) {
            win |= (uint64_t)s[byte + k] << (8u * k);
        }
        c[i] = (int64_t)((win >> (off & 7u)) & (((uint64_t)1 << limb_bits(i)) - 1u));
    }
    fe_carry(h, c);
}

/* Canonical (fully reduced) little-endian encoding, bit 255 clear.
 * q = floor(h / p) is found from the top (|q| <= 1 for carried limbs), then
 * h - q p is carried with floor carries into [0, p). */
static void fe_tobytes(uint8_t s[32], const fe_t h)
{
    int64_t c[10];
    int64_t q = (19 * (int64_t)h[9] + ((int64_t)1 << 24)) >> 25;
    for (unsigned i = 0; i < 10u; ++i) {
        q = ((int64_t)h[i] + q) >> limb_bits(i);
    }
    for (unsigned i = 0; i < 10u; ++i) {
        c[i] = h[i];
    }
    c[0] += 19 * q;
    for (unsigned i = 0; i < 10u; ++i) {
        unsigned w = limb_bits(i);
        int64_t carry = c[i] >> w;
        c[i] -= carry * ((int64_t)1 << w);
        if (i < 9u) {
            c[i + 1u] += carry; /* the carry out of limb 9 is q * 2^255: dropped */
        }
    }
    uint64_t acc = 0;
    unsigned bits = 0;
    unsigned n = 0;
    for (unsigned i = 0; i < 10u; ++i) {
        acc |= (uint64_t)c[i] << bits;
        bits += limb_bits(i);
        while (bits >= 8u) {
            s[n++] = (uint8_t)acc;
            acc >>= 8;
            bits -= 8u;
        }
    }
    s[n] = (uint8_t)acc; /* n == 31, the last 7 bits */
}

static int fe_iszero(const fe_t f)
{
    uint8_t s[32];
    uint8_t acc = 0;
    fe_tobytes(s, f);
    for (unsigned i = 0; i < 32u; ++i) {
        acc |= s[i];
    }
    return acc == 0u;
}

/* "Negative" in RFC 8032's sense: the least significant bit of the canonical value. */
static int fe_isodd(const fe_t f)
{
    uint8_t s[32];
    fe_tobytes(s, f);
    return s[0] & 1;
}

/* t250 = z^(2^250 - 1), z11 = z^11 (the shared part of both power chains). */
static void fe_pow_2_250_1(fe_t t250, fe_t z11, const fe_t z)
{
    fe_t z2, z9, t0, t1, t5, t10, t50;
    fe_sq(z2, z);                /* 2 */
    fe_sq_n(t0, z2, 2);          /* 8 */
    fe_mul(z9, z, t0);           /* 9 */
    fe_mul(z11, z2, z9);         /* 11 */
    fe_sq(t0, z11);              /* 22 */
    fe_mul(t5, z9, t0);          /* 2^5 - 1 */
    fe_sq_n(t0, t5, 5);
    fe_mul(t10, t0, t5);         /* 2^10 - 1 */
    fe_sq_n(t0, t10, 10);
    fe_mul(t1, t0, t10);         /* 2^20 - 1 */
    fe_sq_n(t0, t1, 20);
    fe_mul(t0, t0, t1);          /* 2^40 - 1 */
    fe_sq_n(t0, t0, 10);
    fe_mul(t50, t0, t10);        /* 2^50 - 1 */
    fe_sq_n(t0, t50, 50);
    fe_mul(t1, t0, t50);         /* 2^100 - 1 */
    fe_sq_n(t0, t1, 100);
    fe_mul(t0, t0, t1);          /* 2^200 - 1 */
    fe_sq_n(t0, t0, 50);
    fe_mul(t250, t0, t50);       /* 2^250 - 1 */
}

/* h = z^(p - 2) = 1/z (0 for z = 0). */
static void fe_invert(fe_t h, const fe_t z)
{
    fe_t t250, z11;
    fe_pow_2_250_1(t250, z11, z);
    fe_sq_n(t250, t250, 5);      /* 2^255 - 32 */
    fe_mul(h, t250, z11);        /* 2^255 - 21 = p - 2 */
}

/* h = z^((p - 5) / 8) = z^(2^252 - 3). */
static void fe_pow22523(fe_t h, const fe_t z)
{
    fe_t t250, z11;
    fe_pow_2_250_1(t250, z11, z);
    fe_sq_n(t250, t250, 2);      /* 2^252 - 4 */
    fe_mul(h, t250, z);          /* 2^252 - 3 */
}

/* --------------------------------------------------------------- points */

typedef mf_ed25519_point_t ge_t;

static void ge_identity(ge_t *p)
{
    fe_set_small(p->x, 0);
    fe_set_small(p->y, 1);
    fe_set_small(p->z, 1);
    fe_set_small(p->t, 0);
}

/* RFC 8032 5.1.4 addition (complete for a = -1, d non-square); r may alias p, q. */
static void ge_add(ge_t *r, const ge_t *p, const ge_t *q)
{
    fe_t a, b, c, d, e, f, g, h, t;
    fe_sub(a, p->y, p->x);
    fe_sub(t, q->y, q->x);
    fe_mul(a, a, t);
    fe_add(b, p->y, p->x);
    fe_add(t, q->y, q->x);
    fe_mul(b, b, t);
    fe_mul(c, p->t, q->t);
    fe_mul(c, c, fe_d2);
    fe_mul(d, p->z, q->z);
    fe_add(d, d, d);
    fe_sub(e, b, a);
    fe_sub(f, d, c);
    fe_add(g, d, c);
    fe_add(h, b, a);
    fe_mul(r->x, e, f);
    fe_mul(r->y, g, h);
    fe_mul(r->t, e, h);
    fe_mul(r->z, f, g);
}

/* RFC 8032 5.1.4 doubling; r may alias p. */
static void ge_dbl(ge_t *r, const ge_t *p)
{
    fe_t a, b, c, e, f, g, h, t;
    fe_sq(a, p->x);
    fe_sq(b, p->y);
    fe_sq(c, p->z);
    fe_add(c, c, c);
    fe_add(h, a, b);
    fe_add(t, p->x, p->y);
    fe_sq(t, t);
    fe_sub(e, h, t);
    fe_sub(g, a, b);
    fe_add(f, c, g);
    fe_mul(r->x, e, f);
    fe_mul(r->y, g, h);
    fe_mul(r->t, e, h);
    fe_mul(r->z, f, g);
}

/* [8]P is the identity (P has order 1, 2, 4 or 8). On the curve, X = 0
 * means (0, 1) or (0, -1); [8]P = (0, -1) would need order 16. */
static int ge_small_order(const ge_t *p)
{
    ge_t q;
    ge_dbl(&q, p);
    ge_dbl(&q, &q);
    ge_dbl(&q, &q);
    return fe_iszero(q.x);
}

/* RFC 8032 5.1.3 decoding; 0 or -1 (non-canonical y, no square root, or
 * x = 0 with the sign bit set). */
static int ge_decode(ge_t *p, const uint8_t s[32])
{
    fe_t y, u, v, v3, x, vx2, chk;
    uint8_t canon[32];
    uint8_t diff;
    int sign = s[31] >> 7;

    fe_frombytes(y, s);
    fe_tobytes(canon, y);
    diff = (uint8_t)(canon[31] ^ (s[31] & 0x7fu));
    for (unsigned i = 0; i < 31u; ++i) {
        diff |= (uint8_t)(canon[i] ^ s[i]);
    }
    if (diff != 0u) {
        return -1; /* y >= p */
    }
    /* x^2 = u / v with u = y^2 - 1, v = d y^2 + 1 */
    fe_sq(u, y);
    fe_mul(v, u, fe_d);
    fe_set_small(chk, 1);
    fe_sub(u, u, chk);
    fe_add(v, v, chk);
    /* candidate x = u v^3 (u v^7)^((p - 5) / 8) */
    fe_sq(v3, v);
    fe_mul(v3, v3, v);
    fe_sq(x, v3);
    fe_mul(x, x, v);
    fe_mul(x, x, u);
    fe_pow22523(x, x);
    fe_mul(x, x, v3);
    fe_mul(x, x, u);
    fe_sq(vx2, x);
    fe_mul(vx2, vx2, v);
    fe_sub(chk, vx2, u);
    if (!fe_iszero(chk)) {
        fe_add(chk, vx2, u);
        if (!fe_iszero(chk)) {
            return -1; /* u / v is not a square */
        }
        fe_mul(x, x, fe_sqrtm1);
    }
    if (fe_iszero(x) && sign) {
        return -1;
    }
    if (fe_isodd(x) != sign) {
        fe_neg(x, x);
    }
    fe_copy(p->x, x);
    fe_copy(p->y, y);
    fe_set_small(p->z, 1);
    fe_mul(p->t, x, y);
    return 0;
}

/* RFC 8032 5.1.2 encoding. */
static void ge_encode(uint8_t s[32], const ge_t *p)
{
    fe_t zi, x, y;
    fe_invert(zi, p->z);
    fe_mul(x, p->x, zi);
    fe_mul(y, p->y, zi);
    fe_tobytes(s, y);
    s[31] = (uint8_t)(s[31] | (fe_isodd(x) << 7));
}

/* -------------------------------------------------------------- scalars */

/* s < L (canonical S, RFC 8032 5.1.7 step 1). */
static int sc_is_canonical(const uint8_t s[32])
{
    for (unsigned i = 32u; i-- > 0u;) {
        if (s[i] != sc_l_bytes[i]) {
            return s[i] < sc_l_bytes[i];
        }
    }
    return 0; /* s == L */
}

/* out = in (512-bit little-endian) mod L: bit-serial long division, r < L
 * after each step, so 2r + 1 < 2^254 fits in eight 32-bit words. */
static void sc_reduce512(uint8_t out[32], const uint8_t in[64])
{
    uint32_t r[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (unsigned bit = 512u; bit-- > 0u;) {
        uint32_t carry = (uint32_t)(in[bit >> 3] >> (bit & 7u)) & 1u;
        for (unsigned i = 0; i < 8u; ++i) {
            uint32_t next = r[i] >> 31;
            r[i] = (r[i] << 1) | carry;
            carry = next;
        }
        int ge = 1; /* r >= L ? */
        for (unsigned i = 8u; i-- > 0u;) {
            if (r[i] != sc_l_words[i]) {
                ge = r[i] > sc_l_words[i];
                break;
            }
        }
        if (ge) {
            uint32_t borrow = 0;
            for (unsigned i = 0; i < 8u; ++i) {
                uint64_t diff = (uint64_t)r[i] - sc_l_words[i] - borrow;
                r[i] = (uint32_t)diff;
                borrow = (uint32_t)(diff >> 63);
            }
        }
    }
    for (unsigned i = 0; i < 32u; ++i) {
        out[i] = (uint8_t)(r[i >> 2] >> (8u * (i & 3u)));
    }
}

static unsigned sc_bit(const uint8_t s[32], unsigned i)
{
    return (unsigned)(s[i >> 3] >> (i & 7u)) & 1u;
}

/* ----------------------------------------------------------------- API */

int mf_ed25519_verify_begin(mf_ed25519_verify_t *v, const uint8_t sig[64], const uint8_t pub[32])
{
    ge_t r;
    if (v == NULL) {
        return MF_ED25519_ENULL;
    }
    mf_sha512_init(&v->hash);
    ge_identity(&v->neg_a);
    if (sig == NULL || pub == NULL) {
        memset(v->sig, 0, sizeof v->sig);
        v->status = MF_ED25519_ENULL;
        return v->status;
    }
    memcpy(v->sig, sig, sizeof v->sig);
    if (!sc_is_canonical(sig + 32)) {
        v->status = MF_ED25519_ESCALAR;
    } else if (ge_decode(&v->neg_a, pub) != 0 || ge_small_order(&v->neg_a)) {
        v->status = MF_ED25519_EPUB;
    } else if (ge_decode(&r, sig) != 0 || ge_small_order(&r)) {
        v->status = MF_ED25519_ER;
    } else {
        fe_neg(v->neg_a.x, v->neg_a.x);
        fe_neg(v->neg_a.t, v->neg_a.t);
        mf_sha512_update(&v->hash, sig, 32);
        mf_sha512_update(&v->hash, pub, 32);
        v->status = MF_ED25519_OK;
    }
    return v->status;
}

void mf_ed25519_verify_update(mf_ed25519_verify_t *v, const uint8_t *msg, size_t len)
{
    if (v == NULL || v->status != MF_ED25519_OK) {
        return;
    }
    if (msg == NULL) {
        if (len > 0u) {
            v->status = MF_ED25519_ENULL;
        }
        return;
    }
    mf_sha512_update(&v->hash, msg, len);
}

int mf_ed25519_verify_end(mf_ed25519_verify_t *v)
{
    uint8_t h[64];
    uint8_t k[32];
    uint8_t enc[32];
    uint8_t diff = 0;
    ge_t q, b;
    int status;

    if (v == NULL) {
        return MF_ED25519_ENULL;
    }
    status = v->status;
    v->status = MF_ED25519_ESTATE; /* consumed */
    if (status != MF_ED25519_OK) {
        return status;
    }
    mf_sha512_final(&v->hash, h);
    sc_reduce512(k, h);

    /* q = [S]B + [k](-A), both scalars < 2^253, one shared doubling chain */
    fe_copy(b.x, fe_bx);
    fe_copy(b.y, fe_by);
    fe_set_small(b.z, 1);
    fe_copy(b.t, fe_bt);
    ge_identity(&q);
    for (unsigned i = 253u; i-- > 0u;) {
        ge_dbl(&q, &q);
        if (sc_bit(v->sig + 32, i)) {
            ge_add(&q, &q, &b);
        }
        if (sc_bit(k, i)) {
            ge_add(&q, &q, &v->neg_a);
        }
    }
    ge_encode(enc, &q);
    for (unsigned i = 0; i < 32u; ++i) {
        diff |= (uint8_t)(enc[i] ^ v->sig[i]);
    }
    return diff == 0u ? MF_ED25519_OK : MF_ED25519_EBADSIG;
}

int mf_ed25519_verify(const uint8_t sig[64], const uint8_t pub[32], const uint8_t *msg, size_t len)
{
    mf_ed25519_verify_t v;
    if (msg == NULL && len > 0u) {
        return MF_ED25519_ENULL;
    }
    (void)mf_ed25519_verify_begin(&v, sig, pub);
    mf_ed25519_verify_update(&v, msg, len);
    return mf_ed25519_verify_end(&v);
}
