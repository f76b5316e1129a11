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

#endif /* MF_PI_H */
