/* mf_pi.c - PI controller with conditional integration and back-calculation
 * anti-windup (see mf_pi.h). */
#include "mf_pi.h"

#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

int mf_pi_config_check(const mf_pi_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (!mf_isfinitef(c->kp) || c->kp < 0.0f || !mf_isfinitef(c->ki) || c->ki < 0.0f) {
        return MF_EINVAL;
    }
    return MF_OK;
}

void mf_pi_reset(mf_pi_t *s)
{
    s->integral = 0.0f;
    s->p_term = 0.0f;
    s->out = 0.0f;
    s->saturated = false;
}

float mf_pi_step(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                 float out_min, float out_max, float dt_s)
{
    return mf_pi_step_inline(s, c, err, ff, out_min, out_max, dt_s);
}
