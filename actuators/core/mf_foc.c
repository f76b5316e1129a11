/* mf_foc.c - external definitions of the inline transforms and SVPWM of
 * mf_foc.h, and dead-time compensation. */
#include "mf_foc.h"

#include <math.h>

#include "mf_math.h"

/* External definitions of the inline transforms of mf_foc.h (C99 6.7.4). */
extern inline void mf_clarke3(float i_a, float i_b, float i_c, float *i_alpha_p, float *i_beta_p);
extern inline void mf_clarke2(float i_a, float i_b, float *i_alpha_p, float *i_beta_p);
extern inline void mf_inv_clarke(float v_alpha, float v_beta, float *v_a_p, float *v_b_p, float *v_c_p);
extern inline void mf_park(float alpha, float beta, float sin_e, float cos_e, float *d_p, float *q_p);
extern inline void mf_inv_park(float d, float q, float sin_e, float cos_e, float *alpha_p, float *beta_p);

bool mf_svpwm(float v_alpha, float v_beta, float v_bus, float *d_a_p, float *d_b_p, float *d_c_p)
{
    return mf_svpwm_inline(v_alpha, v_beta, v_bus, d_a_p, d_b_p, d_c_p);
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
