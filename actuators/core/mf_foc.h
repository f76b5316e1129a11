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

/* Three-shunt Clarke: i_alpha = (2 i_a - i_b - i_c)/3, i_beta = (i_b - i_c)/sqrt3. */
void mf_clarke3(float i_a, float i_b, float i_c, float *i_alpha_p, float *i_beta_p);
/* Two-shunt Clarke (i_c = -i_a - i_b): i_alpha = i_a, i_beta = (i_a + 2 i_b)/sqrt3. */
void mf_clarke2(float i_a, float i_b, float *i_alpha_p, float *i_beta_p);
/* Inverse Clarke: alpha/beta back to a, b, c. */
void mf_inv_clarke(float v_alpha, float v_beta, float *v_a_p, float *v_b_p, float *v_c_p);
/* Park: d = alpha cos + beta sin, q = -alpha sin + beta cos. */
void mf_park(float alpha, float beta, float sin_e, float cos_e, float *d_p, float *q_p);
/* Inverse Park: alpha = d cos - q sin, beta = d sin + q cos. */
void mf_inv_park(float d, float q, float sin_e, float cos_e, float *alpha_p, float *beta_p);

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

#endif /* MF_FOC_H */
