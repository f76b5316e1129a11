/* mf_current.c - dq current PI pair with decoupling and a voltage circle
 * (see mf_current.h). */
#include "mf_current.h"

#include <math.h>
#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

static bool mf_nonneg_finite(float x) { return mf_isfinitef(x) && x >= 0.0f; }

int mf_current_config_check(const mf_current_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (mf_pi_config_check(&c->pi_d) != MF_OK || mf_pi_config_check(&c->pi_q) != MF_OK) {
        return MF_EINVAL;
    }
    if (!mf_nonneg_finite(c->ld_h) || !mf_nonneg_finite(c->lq_h) || !mf_nonneg_finite(c->flux_wb)) {
        return MF_EINVAL;
    }
    if (!(c->v_max_frac > 0.0f && c->v_max_frac <= 1.0f)) {
        return MF_EINVAL;
    }
    return MF_OK;
}

void mf_current_reset(mf_current_t *s)
{
    mf_pi_reset(&s->pi_d);
    mf_pi_reset(&s->pi_q);
    s->v_d = 0.0f;
    s->v_q = 0.0f;
    s->limited = false;
}

void mf_current_step(mf_current_t *s, const mf_current_config_t *c,
                     float i_d_ref, float i_q_ref, float i_d, float i_q,
                     float omega_e, float v_bus, float dt_s)
{
    mf_current_step_inline(s, c, i_d_ref, i_q_ref, i_d, i_q, omega_e, v_bus, dt_s);
}
