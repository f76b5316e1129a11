/* mf_foc.c - Clarke/Park transforms, space-vector PWM and dead-time
 * compensation for the FOC current loop.
 *
 * Hot path: multiplications by constants only; SVPWM needs no trigonometry
 * and one division (by the larger of v_bus and the phase-voltage spread).
 */
#include "mf_foc.h"

#include <math.h>

#include "mf_math.h"

#define MF_FOC_1_3_F 0.33333333333333333333f
#define MF_FOC_SQRT3_2_F 0.86602540378443864676f
/* Smallest normal float: a reciprocal of anything at least this is finite. */
#define MF_FOC_FLT_MIN_NORMAL 1.17549435082228750797e-38f
/* 2^-64: rescales a huge finite command without changing its angle. */
#define MF_FOC_2_M64_F 5.42101086242752217004e-20f

void mf_clarke3(float i_a, float i_b, float i_c, float *i_alpha_p, float *i_beta_p)
{
    *i_alpha_p = (2.0f * i_a - i_b - i_c) * MF_FOC_1_3_F;
    *i_beta_p = (i_b - i_c) * MF_INV_SQRT3_F;
}

void mf_clarke2(float i_a, float i_b, float *i_alpha_p, float *i_beta_p)
{
    *i_alpha_p = i_a;
    *i_beta_p = (i_a + 2.0f * i_b) * MF_INV_SQRT3_F;
}

void mf_inv_clarke(float v_alpha, float v_beta, float *v_a_p, float *v_b_p, float *v_c_p)
{
    float h = -0.5f * v_alpha;
    float s = MF_FOC_SQRT3_2_F * v_beta;
    *v_a_p = v_alpha;
    *v_b_p = h + s;
    *v_c_p = h - s;
}

void mf_park(float alpha, float beta, float sin_e, float cos_e, float *d_p, float *q_p)
{
    *d_p = alpha * cos_e + beta * sin_e;
    *q_p = beta * cos_e - alpha * sin_e;
}

void mf_inv_park(float d, float q, float sin_e, float cos_e, float *alpha_p, float *beta_p)
{
    *alpha_p = d * cos_e - q * sin_e;
    *beta_p = d * sin_e + q * cos_e;
}

/* Phase voltages of (v_alpha, v_beta) minus their min-max mid-point, and
 * their spread max - min (the line-to-line voltage the bus must supply). */
static inline float mf_foc_centred_phases(float v_alpha, float v_beta, float v[3])
{
    float lo, hi, mid;
    mf_inv_clarke(v_alpha, v_beta, &v[0], &v[1], &v[2]);
    lo = mf_minf(mf_minf(v[0], v[1]), v[2]);
    hi = mf_maxf(mf_maxf(v[0], v[1]), v[2]);
    mid = 0.5f * lo + 0.5f * hi;
    v[0] -= mid;
    v[1] -= mid;
    v[2] -= mid;
    return hi - lo;
}

bool mf_svpwm(float v_alpha, float v_beta, float v_bus, float *d_a_p, float *d_b_p, float *d_c_p)
{
    float v[3];
    float spread, inv;
    bool linear;
    /* x - x is NaN for NaN and +-Inf; a subnormal v_bus counts as no bus. */
    float z = (v_alpha - v_alpha) + (v_beta - v_beta) + (v_bus - v_bus);
    if (!(z == 0.0f) || !(v_bus >= MF_FOC_FLT_MIN_NORMAL)) {
        *d_a_p = 0.5f;
        *d_b_p = 0.5f;
        *d_c_p = 0.5f;
        return false;
    }
    spread = mf_foc_centred_phases(v_alpha, v_beta, v);
    if (!(spread <= 3.0e38f)) {
        /* finite but so large that the phase voltages overflow: scale by a
         * power of two (exact, same angle); the result is on the hexagon */
        spread = mf_foc_centred_phases(v_alpha * MF_FOC_2_M64_F, v_beta * MF_FOC_2_M64_F, v);
    }
    linear = spread <= v_bus;
    /* over-modulation: divide by the spread instead of v_bus, which scales
     * the vector back onto the hexagon edge along its own direction */
    inv = 1.0f / (linear ? v_bus : spread);
    *d_a_p = mf_satf(0.5f + v[0] * inv, 0.0f, 1.0f);
    *d_b_p = mf_satf(0.5f + v[1] * inv, 0.0f, 1.0f);
    *d_c_p = mf_satf(0.5f + v[2] * inv, 0.0f, 1.0f);
    return linear;
}

void mf_deadtime_comp(float duty[3], const float i_abc[3], float dead_frac, float i_band_a)
{
    /* a NaN or negative dead_frac compensates nothing; a band that is not
     * a normal positive number (0, subnormal, NaN) means a hard sign */
    float df = mf_satf(dead_frac, 0.0f, 1.0f);
    bool ramp = i_band_a >= MF_FOC_FLT_MIN_NORMAL;
    float inv_band = ramp ? 1.0f / i_band_a : 0.0f;
    int k;
    for (k = 0; k < 3; k++) {
        float i = i_abc[k];
        float x, d;
        if (ramp) {
            x = i * inv_band;
            if (x >= 1.0f) {
                x = 1.0f;
            } else if (x <= -1.0f) {
                x = -1.0f;
            } else if (!(x > -1.0f)) {
                x = 0.0f; /* NaN current: no compensation */
            }
        } else {
            x = mf_signf(i); /* NaN gives 0 */
        }
        d = duty[k] + x * df;
        duty[k] = (d == d) ? mf_satf(d, 0.0f, 1.0f) : 0.5f;
    }
}
