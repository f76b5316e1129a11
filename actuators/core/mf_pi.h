/* mf_pi.h - PI controller with anti-windup, owning no clock and no globals.
 *
 * out = ff + kp*err + integral, integral += ki*err*dt_s, clamped to the
 * output limits passed per step. Anti-windup by conditional integration plus
 * back-calculation: while the output is saturated, the integrator does not
 * integrate further into the saturation and is pulled back so that
 * kp*err + integral + ff sits on the limit. Terms stay in the state for
 * logging.
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
/* One step; out_min <= out_max. Returns the output, also kept in s->out. */
float mf_pi_step(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                 float out_min, float out_max, float dt_s);

#endif /* MF_PI_H */
