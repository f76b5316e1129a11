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

#include <stdbool.h>
#include <stdint.h>

#define MF_PI_F 3.14159265358979323846f
#define MF_2PI_F 6.28318530717958647692f
#define MF_PI_2_F 1.57079632679489661923f
#define MF_SQRT3_F 1.73205080756887729353f
#define MF_INV_SQRT3_F 0.57735026918962576451f
#define MF_2_3_F 0.66666666666666666667f

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

#endif /* MF_MATH_H */
