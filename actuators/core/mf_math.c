/* mf_math.c - float32 sin/cos/atan2 and angle wrapping for the core.
 *
 * Range reduction by Cody-Waite with pi/2 split in three parts whose first
 * two have short mantissas, so k*P1 and k*P2 are exact for |k| < 2^13
 * (|x| <= ~12800 rad). Minimax polynomials on [-pi/4, pi/4] (Cephes
 * single-precision coefficients, Moshier). No libm calls but fabsf.
 */
#include "mf_math.h"

#include <math.h>
#include <string.h>

/* pi/2 = P1 + P2 + P3 */
#define MF_PIO2_P1 1.5703125f
#define MF_PIO2_P2 4.837512969970703125e-4f
#define MF_PIO2_P3 7.54978995489188216e-8f
#define MF_2_OVER_PI 0.636619772367581343f

/* 2pi = W1 + W2, W1 with a short mantissa */
#define MF_2PI_W1 6.28125f
#define MF_2PI_W2 1.93530717958647692e-3f
#define MF_INV_2PI 0.159154943091895336f

/* Largest |x| for which the reduction is defined; beyond it sin/cos give 0. */
#define MF_TRIG_MAX 1.0e6f

static inline int32_t mf_round_to_int(float x)
{
    return (int32_t)((x >= 0.0f) ? (x + 0.5f) : (x - 0.5f));
}

/* sin(r), cos(r) for |r| <= pi/4 */
static inline float mf_sin_poly(float r, float r2)
{
    return r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
}

static inline float mf_cos_poly(float r2)
{
    return 1.0f - 0.5f * r2 +
           r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
}

/* Reduce x to r in [-pi/4, pi/4] with x = k pi/2 + r; returns k mod 4. */
static inline uint32_t mf_reduce(float x, float *r_p)
{
    int32_t k = mf_round_to_int(x * MF_2_OVER_PI);
    float kf = (float)k;
    float r = x - kf * MF_PIO2_P1;
    r = r - kf * MF_PIO2_P2;
    r = r - kf * MF_PIO2_P3;
    *r_p = r;
    return (uint32_t)k & 3u;
}

void mf_sincosf(float x, float *sin_p, float *cos_p)
{
    float r, r2, s, c;
    uint32_t q;
    if (!mf_isfinitef(x)) {
        *sin_p = x - x;
        *cos_p = x - x;
        return;
    }
    if (!(fabsf(x) <= MF_TRIG_MAX)) {
        *sin_p = 0.0f;
        *cos_p = 0.0f;
        return;
    }
    q = mf_reduce(x, &r);
    r2 = r * r;
    s = mf_sin_poly(r, r2);
    c = mf_cos_poly(r2);
    switch (q) {
    case 0u:
        *sin_p = s;
        *cos_p = c;
        break;
    case 1u:
        *sin_p = c;
        *cos_p = -s;
        break;
    case 2u:
        *sin_p = -s;
        *cos_p = -c;
        break;
    default:
        *sin_p = -c;
        *cos_p = s;
        break;
    }
}

float mf_sinf(float x)
{
    float s, c;
    mf_sincosf(x, &s, &c);
    return s;
}

float mf_cosf(float x)
{
    float s, c;
    mf_sincosf(x, &s, &c);
    return c;
}

/* atan(t) for t in [0, 1] */
static inline float mf_atan_unit(float num, float den)
{
    /* t = num/den in [0, 1]; reduce to |z| <= tan(pi/8) */
    float base = 0.0f;
    float z;
    if (num > 0.41421356237f * den) {
        z = (num - den) / (num + den);
        base = 0.785398163397448310f;
    } else {
        z = num / den;
    }
    {
        float z2 = z * z;
        float p = ((8.05374449538e-2f * z2 - 1.38776856032e-1f) * z2 + 1.99777106478e-1f) * z2 -
                  3.33329491539e-1f;
        return base + (z + z * z2 * p);
    }
}

static inline bool mf_sign_bit(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 31) != 0u;
}

float mf_atan2f(float y, float x)
{
    float ax = fabsf(x);
    float ay = fabsf(y);
    float r;
    if (!mf_isfinitef(x) || !mf_isfinitef(y)) {
        return (x - x) + (y - y);
    }
    if (mf_maxf(ax, ay) > 1.0e38f) {
        /* keep num + den in mf_atan_unit from overflowing (exact scaling) */
        ax *= 0.25f;
        ay *= 0.25f;
    }
    if (ay <= ax) {
        if (ax == 0.0f) {
            r = 0.0f;
        } else {
            r = mf_atan_unit(ay, ax);
        }
    } else {
        r = MF_PI_2_F - mf_atan_unit(ax, ay);
    }
    if (mf_sign_bit(x)) {
        r = MF_PI_F - r;
    }
    return mf_sign_bit(y) ? -r : r;
}

float mf_wrap_pif(float x)
{
    int32_t k;
    float kf, r;
    if (!mf_isfinitef(x)) {
        return x - x;
    }
    if (!(fabsf(x) <= MF_TRIG_MAX)) {
        return 0.0f;
    }
    k = mf_round_to_int(x * MF_INV_2PI);
    kf = (float)k;
    r = (x - kf * MF_2PI_W1) - kf * MF_2PI_W2;
    if (r >= MF_PI_F) {
        r -= MF_2PI_F;
    } else if (r < -MF_PI_F) {
        r += MF_2PI_F;
    }
    return r;
}

float mf_wrap_2pif(float x)
{
    float r = mf_wrap_pif(x);
    if (r < 0.0f) {
        r += MF_2PI_F;
        if (r >= MF_2PI_F) {
            r = 0.0f;
        }
    }
    return r;
}
