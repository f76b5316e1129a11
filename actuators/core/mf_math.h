/* mf_math.h - float32 math for the control core.
 *
 * Own polynomial sin/cos/atan2 so that the host and the Cortex-M4F give
 * bit-identical results (built with -ffp-contract=off). Only sqrtf and fabsf
 * come from <math.h>: both are correctly rounded single instructions on the
 * M4F. min/max/saturate are inline here (fmaxf/fminf are newlib calls there).
 *
 * Angles in rad. Accuracy: |mf_sinf(x) - sin(x)| <= 1e-6 and likewise cos for
 * |x| <= 1e4; |mf_atan2f(y, x) - atan2(y, x)| <= 2e-6 rad.
 */
#ifndef MF_MATH_H
#define MF_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#define MF_PI_F 3.14159265358979323846f
#define MF_2PI_F 6.28318530717958647692f
#define MF_PI_2_F 1.57079632679489661923f
#define MF_SQRT3_F 1.73205080756887729353f
#define MF_INV_SQRT3_F 0.57735026918962576451f
#define MF_2_3_F 0.66666666666666666667f
#define MF_FLT_MAX_F 3.40282346638528859812e38f /* largest finite float */

static inline float mf_minf(float a, float b) { return (a < b) ? a : b; }
static inline float mf_maxf(float a, float b) { return (a > b) ? a : b; }

/* Clamp x to [lo, hi]; a NaN x gives lo (so a NaN never leaves a clamp). */
static inline float mf_satf(float x, float lo, float hi)
{
    if (x > hi) {
        return hi;
    }
    if (x >= lo) {
        return x;
    }
    return lo; /* x < lo or x is NaN */
}

/* True when x is neither NaN nor +-Inf (x - x is NaN for both). */
static inline bool mf_isfinitef(float x)
{
    float z = x - x;
    return z == z;
}

static inline float mf_signf(float x) { return (x > 0.0f) ? 1.0f : ((x < 0.0f) ? -1.0f : 0.0f); }

float mf_sinf(float x);
float mf_cosf(float x);
/* sin and cos of x with one range reduction. */
void mf_sincosf(float x, float *sin_p, float *cos_p);
/* atan2(y, x) in [-pi, pi]; mf_atan2f(0, 0) = 0. */
float mf_atan2f(float y, float x);
/* Wrap x to [-pi, pi). */
float mf_wrap_pif(float x);
/* Wrap x to [0, 2*pi). */
float mf_wrap_2pif(float x);
/* sin and cos of an electrical angle x in [0, 2 pi] by the table (below). */
void mf_sincos_e(float x, float *sin_p, float *cos_p);

/* ---- Inline implementation of mf_sincosf() -------------------------------
 * mf_sincosf() is mf_sincosf_inline(), defined here so that the current loop
 * (mf_ctrl_step) computes its sin/cos without a call.
 * Range reduction by Cody-Waite with pi/2 split in three parts whose first
 * two have short mantissas, so k*P1 and k*P2 are exact for |k| < 2^13
 * (|x| <= ~12800 rad). Minimax polynomials on [-pi/4, pi/4] (Cephes
 * single-precision coefficients, Moshier). The mf_trig helpers are internal. */

/* pi/2 = P1 + P2 + P3 */
#define MF_PIO2_P1 1.5703125f
#define MF_PIO2_P2 4.837512969970703125e-4f
#define MF_PIO2_P3 7.54978995489188216e-8f
#define MF_2_OVER_PI 0.636619772367581343f

/* Largest |x| for which the reduction is defined; beyond it sin/cos give 0. */
#define MF_TRIG_MAX 1.0e6f

/* round half away from zero */
static inline int32_t mf_trig_round(float x)
{
    return (int32_t)((x >= 0.0f) ? (x + 0.5f) : (x - 0.5f));
}

/* sin(r), cos(r) for |r| <= pi/4 */
static inline float mf_trig_sin_poly(float r, float r2)
{
    return r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f + r2 * -1.9515295891e-4f));
}

static inline float mf_trig_cos_poly(float r2)
{
    return 1.0f - 0.5f * r2 +
           r2 * r2 * (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
}

/* Reduce x to r in [-pi/4, pi/4] with x = k pi/2 + r; returns k mod 4. */
static inline uint32_t mf_trig_reduce(float x, float *r_p)
{
    int32_t k = mf_trig_round(x * MF_2_OVER_PI);
    float kf = (float)k;
    float r = x - kf * MF_PIO2_P1;
    r = r - kf * MF_PIO2_P2;
    r = r - kf * MF_PIO2_P3;
    *r_p = r;
    return (uint32_t)k & 3u;
}

/* sin/cos from the reduced argument r and the quadrant q. */
static inline void mf_trig_quadrant(float r, uint32_t q, float *sin_p, float *cos_p)
{
    float r2 = r * r;
    float s = mf_trig_sin_poly(r, r2);
    float c = mf_trig_cos_poly(r2);
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

/* mf_sincosf() of an x known to be in [0, MF_TRIG_MAX] (e.g. an electrical
 * angle in [0, 2pi)): the same result without the range test and the sign
 * branch of the rounding. */
static inline void mf_sincosf_pos_inline(float x, float *sin_p, float *cos_p)
{
    int32_t k = (int32_t)(x * MF_2_OVER_PI + 0.5f);
    float kf = (float)k;
    float r = x - kf * MF_PIO2_P1;
    r = r - kf * MF_PIO2_P2;
    r = r - kf * MF_PIO2_P3;
    mf_trig_quadrant(r, (uint32_t)k & 3u, sin_p, cos_p);
}

/* ---- Table sin/cos of the current loop -----------------------------------
 * mf_sincos_e_inline(x) for x in [0, 2 pi] (an electrical angle as the
 * estimator gives it): x = (k + f) 2 pi / N, k integer, 0 <= f < 1, then
 *   sin x = sin(a) cos(b) + cos(a) sin(b),  cos x = cos(a) cos(b) - sin(a) sin(b)
 * with a = 2 pi k / N from mf_sintab (cos a = sin(a + pi/2) is the entry
 * N/4 further on) and b = x - a (Cody-Waite, 2 pi / N in two parts, so b
 * keeps its precision) < 6.2e-3 by sin b = b, cos b = 1 - b^2/2
 * (errors b^3/6 < 4e-8 and b^4/24 < 7e-11). |error| <= 2e-7 against sin and
 * cos (tests/core/test_math.py), against 1e-6 for mf_sincosf, in about a
 * third of its instructions and no branch. */
#define MF_SINTAB_N 1024u
#define MF_SINTAB_LEN (MF_SINTAB_N + MF_SINTAB_N / 4u + 1u)
/* 2 pi / N = S1 + S2, S1 = 3217 / 2^19 (12-bit mantissa: k S1 exact for k < 2^12) */
#define MF_SINTAB_S1 6.1359405517578125e-3f
#define MF_SINTAB_S2 -1.7400215247820316e-8f
extern const float mf_sintab[MF_SINTAB_LEN];

static inline void mf_sincos_e_inline(float x, float *sin_p, float *cos_p)
{
    uint32_t k = (uint32_t)(x * ((float)MF_SINTAB_N / MF_2PI_F)); /* [0, N] (N only at 2 pi) */
    float kf = (float)k;
    float b = (x - kf * MF_SINTAB_S1) - kf * MF_SINTAB_S2; /* x - k 2pi/N, the first product exact */
    float cb = 1.0f - 0.5f * (b * b);
    float sa = mf_sintab[k];
    float ca = mf_sintab[k + MF_SINTAB_N / 4u];
    *sin_p = sa * cb + ca * b;
    *cos_p = ca * cb - sa * b;
}

static inline void mf_sincosf_inline(float x, float *sin_p, float *cos_p)
{
    float r;
    uint32_t q;
    if (!(fabsf(x) <= MF_TRIG_MAX)) { /* NaN or Inf gives NaN, a huge x 0 */
        float z = mf_isfinitef(x) ? 0.0f : x - x;
        *sin_p = z;
        *cos_p = z;
        return;
    }
    q = mf_trig_reduce(x, &r);
    mf_trig_quadrant(r, q, sin_p, cos_p);
}

#endif /* MF_MATH_H */
