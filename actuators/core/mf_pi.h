/* mf_pi.h - PI controller with anti-windup, owning no clock and no globals.
 *
 * Backward-Euler PI: integral += ki*err*dt_s, then
 * out = ff + kp*err + integral, clamped to [out_min, out_max] passed per step
 * (so C(z) = kp + ki*dt_s*z/(z - 1) while unsaturated).
 * Anti-windup, while the unclamped output is beyond a limit:
 *  - conditional integration: the integrator does not integrate an error that
 *    pushes further into that limit;
 *  - back-calculation: the integrator is pulled back so that
 *    kp*err + integral + ff sits on the limit; when kp*err itself pushes into
 *    the limit, only so far that integral + ff sits on it (the integrator
 *    keeps what it holds inside the range, e.g. a load compensation, and
 *    never winds to the opposite sign because of a large proportional term).
 * Robustness: a non-finite err or ff counts as 0, a non-finite or negative
 * dt_s as 0 (no integration); out_min > out_max or a NaN limit gives out = 0,
 * integral = 0 and saturated = true. The integrator stays finite for finite
 * limits and ff. Terms stay in the state for logging.
 */
#ifndef MF_PI_H
#define MF_PI_H

#include <stdbool.h>

#include "mf_math.h"

typedef struct {
    float kp;        /* proportional gain, output units per error unit */
    float ki;        /* integral gain, output units per (error unit * s) */
} mf_pi_config_t;

typedef struct {
    float integral;  /* integrator state, output units */
    float p_term;    /* last kp*err, output units */
    float out;       /* last output (after limits), output units */
    bool saturated;  /* last output was clamped */
} mf_pi_t;

/* Validate a config: gains finite and >= 0. Returns MF_OK or MF_EINVAL. */
int mf_pi_config_check(const mf_pi_config_t *c);
void mf_pi_reset(mf_pi_t *s);
/* One step; out_min <= out_max (infinite limits allowed). Returns the
 * output, also kept in s->out. */
float mf_pi_step(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                 float out_min, float out_max, float dt_s);

/* The arithmetic of mf_pi_step() for inputs already known to be good:
 * out_min <= out_max (neither NaN), err and ff finite, dt_s finite and >= 0.
 * mf_pi_step_inline() checks its inputs and then runs this; the current
 * loop (mf_ctrl_step), whose inputs are good by construction, runs it
 * directly. */
static inline float mf_pi_body_inline(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                                      float out_min, float out_max, float dt_s)
{
    float p, di, i_new, u, out;
    bool sat;

    p = c->kp * err;
    di = c->ki * err * dt_s;
    i_new = s->integral + di;
    u = ff + p + i_new;

    if (u < out_max && u > out_min) { /* strictly inside (the common case): u, i_new finite */
        s->integral = i_new;
        s->p_term = p;
        s->out = u;
        s->saturated = false;
        return u;
    }
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
    } else if (u == u) { /* on a limit, or infinite within infinite limits */
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

/* mf_pi_step() inline: the input checks, then mf_pi_body_inline(). The
 * common case (finite err, ff, dt_s) costs one finiteness test and no
 * division. */
static inline float mf_pi_step_inline(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                                      float out_min, float out_max, float dt_s)
{
    if (!(out_min <= out_max)) { /* inverted or NaN limits: no drive */
        s->integral = 0.0f;
        s->p_term = 0.0f;
        s->out = 0.0f;
        s->saturated = true;
        return 0.0f;
    }
    dt_s = (dt_s > 0.0f) ? dt_s : 0.0f; /* negative or NaN: no integration */
    /* one test for all three: the sum is finite when each is (or when a
     * finite sum overflows, which the exact tests below then pass) */
    if (!mf_isfinitef(err + ff + dt_s)) {
        err = mf_isfinitef(err) ? err : 0.0f;
        ff = mf_isfinitef(ff) ? ff : 0.0f;
        dt_s = mf_isfinitef(dt_s) ? dt_s : 0.0f;
    }
    return mf_pi_body_inline(s, c, err, ff, out_min, out_max, dt_s);
}

#endif /* MF_PI_H */
