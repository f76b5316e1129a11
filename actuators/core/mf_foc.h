/* mf_foc.h - field-oriented-control transforms and space-vector PWM.
 *
 * Amplitude-invariant Clarke transform: a balanced set of phase currents of
 * amplitude I gives |i_alpha + j i_beta| = I. Park rotates by theta_e (rad,
 * electrical); callers pass sin/cos of theta_e so one sincos serves a step.
 * Currents in A, voltages in V, duties in [0, 1].
 */
#ifndef MF_FOC_H
#define MF_FOC_H

#include <stdbool.h>

#include "mf_math.h"

#define MF_FOC_1_3_F 0.33333333333333333333f
#define MF_FOC_SQRT3_2_F 0.86602540378443864676f

/* The transforms are C99 inline definitions, so that the current loop
 * compiles them in place; mf_foc.c holds their external definitions. */

/* Three-shunt Clarke: i_alpha = (2 i_a - i_b - i_c)/3, i_beta = (i_b - i_c)/sqrt3. */
inline void mf_clarke3(float i_a, float i_b, float i_c, float *i_alpha_p, float *i_beta_p)
{
    *i_alpha_p = (2.0f * i_a - i_b - i_c) * MF_FOC_1_3_F;
    *i_beta_p = (i_b - i_c) * MF_INV_SQRT3_F;
}

/* Two-shunt Clarke (i_c = -i_a - i_b): i_alpha = i_a, i_beta = (i_a + 2 i_b)/sqrt3. */
inline void mf_clarke2(float i_a, float i_b, float *i_alpha_p, float *i_beta_p)
{
    *i_alpha_p = i_a;
    *i_beta_p = (i_a + 2.0f * i_b) * MF_INV_SQRT3_F;
}

/* Inverse Clarke: alpha/beta back to a, b, c. */
inline void mf_inv_clarke(float v_alpha, float v_beta, float *v_a_p, float *v_b_p, float *v_c_p)
{
    float h = -0.5f * v_alpha;
    float s = MF_FOC_SQRT3_2_F * v_beta;
    *v_a_p = v_alpha;
    *v_b_p = h + s;
    *v_c_p = h - s;
}

/* Park: d = alpha cos + beta sin, q = -alpha sin + beta cos. */
inline void mf_park(float alpha, float beta, float sin_e, float cos_e, float *d_p, float *q_p)
{
    *d_p = alpha * cos_e + beta * sin_e;
    *q_p = beta * cos_e - alpha * sin_e;
}

/* Inverse Park: alpha = d cos - q sin, beta = d sin + q cos. */
inline void mf_inv_park(float d, float q, float sin_e, float cos_e, float *alpha_p, float *beta_p)
{
    *alpha_p = d * cos_e - q * sin_e;
    *beta_p = d * sin_e + q * cos_e;
}

/* Space-vector PWM by min-max (zero-sequence) injection.
 * Linear for |v_alpha + j v_beta| <= v_bus/sqrt3: the average phase-to-neutral
 * voltages (d_x - mean(d)) * v_bus reproduce the commanded alpha/beta voltage.
 * Beyond that the vector is scaled back to the hexagon edge keeping its angle
 * (graceful over-modulation). v_bus <= 0 (or subnormal) or non-finite input
 * gives duties of 0.5 (zero voltage) and returns false. Returns true when the
 * command was realised without over-modulation (inside the hexagon). */
bool mf_svpwm(float v_alpha, float v_beta, float v_bus, float *d_a_p, float *d_b_p, float *d_c_p);

/* Dead-time compensation: add sign(i_x) * dead_frac to each duty, where
 * dead_frac = t_dead / T_pwm; a linear ramp for |i_x| < i_band_a avoids
 * chatter at zero crossing. Duties stay in [0, 1]. A NaN current gets no
 * compensation, a NaN duty becomes 0.5, a NaN or negative dead_frac adds
 * nothing, and i_band_a <= 0 (or NaN) means a hard sign. */
void mf_deadtime_comp(float duty[3], const float i_abc[3], float dead_frac, float i_band_a);

/* ---- Inline implementation of mf_svpwm() ---------------------------------
 * mf_svpwm() is mf_svpwm_inline(), defined here so that the current loop
 * (mf_ctrl_step) runs it without a call. No trigonometry and one division
 * (by the larger of v_bus and the phase-voltage spread). */

/* Smallest normal float: a reciprocal of anything at least this is finite. */
#define MF_FOC_FLT_MIN_NORMAL 1.17549435082228750797e-38f
/* 2^-64: rescales a huge finite command without changing its angle. */
#define MF_FOC_2_M64_F 5.42101086242752217004e-20f

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

static inline bool mf_svpwm_inline(float v_alpha, float v_beta, float v_bus, float *d_a_p, float *d_b_p,
                                   float *d_c_p)
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
    inv = 1.0f / v_bus; /* (first: it does not wait for the phase voltages) */
    spread = mf_foc_centred_phases(v_alpha, v_beta, v);
    if (!(spread <= 3.0e38f)) {
        /* finite but so large that the phase voltages overflow: scale by a
         * power of two (exact, same angle); the result is on the hexagon */
        spread = mf_foc_centred_phases(v_alpha * MF_FOC_2_M64_F, v_beta * MF_FOC_2_M64_F, v);
    }
    linear = spread <= v_bus;
    if (!linear) {
        /* over-modulation: divide by the spread instead of v_bus, which
         * scales the vector back onto the hexagon edge along its own
         * direction */
        inv = 1.0f / spread;
    }
    /* [0, 1] up to rounding; clamped without branches (min/max) */
    *d_a_p = mf_minf(mf_maxf(0.5f + v[0] * inv, 0.0f), 1.0f);
    *d_b_p = mf_minf(mf_maxf(0.5f + v[1] * inv, 0.0f), 1.0f);
    *d_c_p = mf_minf(mf_maxf(0.5f + v[2] * inv, 0.0f), 1.0f);
    return linear;
}

#endif /* MF_FOC_H */
