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
    if (!(out_min <= out_max)) { /* inverted or NaN limits: no drive */
        s->integral = 0.0f;
        s->p_term = 0.0f;
        s->out = 0.0f;
        s->saturated = true;
        return 0.0f;
    }
    if (!mf_isfinitef(err)) {
        err = 0.0f;
    }
    if (!mf_isfinitef(ff)) {
        ff = 0.0f;
    }
    if (!(dt_s > 0.0f) || !mf_isfinitef(dt_s)) {
        dt_s = 0.0f;
    }

    float p = c->kp * err;
    float di = c->ki * err * dt_s;
    float i_new = s->integral + di;
    float u = ff + p + i_new;
    float out;
    bool sat;

    if (u > out_max) {
        if (di > 0.0f) { /* conditional integration */
            i_new = s->integral;
        }
        /* back-calculation: output on the limit, or integral + ff on it when
         * the proportional term pushes into the limit */
        i_new = mf_minf(i_new, out_max - ff - mf_minf(p, 0.0f));
        out = out_max;
        sat = true;
    } else if (u < out_min) {
        if (di < 0.0f) {
            i_new = s->integral;
        }
        i_new = mf_maxf(i_new, out_min - ff - mf_maxf(p, 0.0f));
        out = out_min;
        sat = true;
    } else if (u == u) {
        out = u;
        sat = false;
    } else { /* NaN from inf - inf (overflowing gains * err): hold at ff */
        i_new = 0.0f;
        out = mf_satf(ff, out_min, out_max);
        sat = true;
    }
    if (!mf_isfinitef(i_new)) { /* infinite limits with an overflowing term */
        i_new = 0.0f;
    }
    s->integral = i_new;
    s->p_term = p;
    s->out = out;
    s->saturated = sat;
    return out;
}
