/* mf_motion.c - velocity PI and cascaded position loop (see mf_motion.h). */
#include "mf_motion.h"

#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

int mf_motion_config_check(const mf_motion_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (mf_pi_config_check(&c->vel_pi) != MF_OK) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->pos_kp) || c->pos_kp < 0.0f) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->v_max_rad_s) || !(c->v_max_rad_s > 0.0f)) {
        return MF_EINVAL;
    }
    return MF_OK;
}

void mf_motion_reset(mf_motion_t *s)
{
    mf_pi_reset(&s->vel_pi);
    s->v_ref = 0.0f;
    s->tau_out = 0.0f;
}

float mf_velocity_step(mf_motion_t *s, const mf_motion_config_t *c, float v_ref,
                       float v_out, float tau_ff, float tau_max_nm, float dt_s)
{
    float tau = mf_pi_step(&s->vel_pi, &c->vel_pi, v_ref - v_out, tau_ff, -tau_max_nm,
                           tau_max_nm, dt_s);
    s->v_ref = v_ref;
    s->tau_out = tau;
    return tau;
}

float mf_position_step(mf_motion_t *s, const mf_motion_config_t *c, float p_ref,
                       float v_ff, float p_out, float v_out, float tau_ff,
                       float tau_max_nm, float dt_s)
{
    float p_err = p_ref - p_out;
    if (!mf_isfinitef(p_err)) {
        p_err = 0.0f;
    }
    if (!mf_isfinitef(v_ff)) {
        v_ff = 0.0f;
    }
    float v_ref = mf_satf(c->pos_kp * p_err + v_ff, -c->v_max_rad_s, c->v_max_rad_s);
    return mf_velocity_step(s, c, v_ref, v_out, tau_ff, tau_max_nm, dt_s);
}
