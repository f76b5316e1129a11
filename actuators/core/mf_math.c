/* mf_math.c - float32 sin/cos/atan2 and angle wrapping for the core
 * (sin/cos: the inline implementation in mf_math.h). No libm calls but
 * fabsf. */
#include "mf_math.h"

#include <math.h>
#include <string.h>

/* 2pi = W1 + W2, W1 with a short mantissa */
#define MF_2PI_W1 6.28125f
#define MF_2PI_W2 1.93530717958647692e-3f
#define MF_INV_2PI 0.159154943091895336f

void mf_sincosf(float x, float *sin_p, float *cos_p)
{
    mf_sincosf_inline(x, sin_p, cos_p);
}

void mf_sincos_e(float x, float *sin_p, float *cos_p)
{
    if (x >= 0.0f && x <= MF_2PI_F) {
        mf_sincos_e_inline(x, sin_p, cos_p);
    } else { /* outside the table's domain (or NaN): the polynomial */
        mf_sincosf_inline(x, sin_p, cos_p);
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
    k = mf_trig_round(x * MF_INV_2PI);
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
