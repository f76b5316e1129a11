/* mf_current.h - the dq current controller of FOC.
 *
 * Two PI controllers (d and q, see mf_pi.h) with optional cross-coupling
 * feed-forward from the measured currents
 *   v_d_ff = -omega_e L_q i_q,  v_q_ff = omega_e (L_d i_d + flux),
 * and a voltage-circle limit |v_dq| <= v_max = v_max_frac * v_bus/sqrt3 with
 * d-axis priority: v_d is limited to +-v_max, v_q to
 * +-sqrt(v_max^2 - v_d^2); each PI's anti-windup sees its own axis limit.
 * v_bus <= 0 or non-finite: zero voltage, both integrators reset,
 * limited = true. Cost: one sqrtf, no division.
 */
#ifndef MF_CURRENT_H
#define MF_CURRENT_H

#include <math.h>
#include <stdbool.h>

#include "mf_math.h"
#include "mf_pi.h"

typedef struct {
    mf_pi_config_t pi_d;   /* V/A, V/(A s) */
    mf_pi_config_t pi_q;   /* V/A, V/(A s) */
    float ld_h;            /* d-axis inductance, H (decoupling), >= 0 */
    float lq_h;            /* q-axis inductance, H (decoupling), >= 0 */
    float flux_wb;         /* PM flux linkage, Wb (back-EMF feed-forward), >= 0 */
    bool decouple;         /* add the cross-coupling feed-forward */
    float v_max_frac;      /* usable fraction of v_bus/sqrt3, (0, 1] */
} mf_current_config_t;

typedef struct {
    mf_pi_t pi_d;
    mf_pi_t pi_q;
    float v_d;             /* commanded d voltage, V */
    float v_q;             /* commanded q voltage, V */
    bool limited;          /* the voltage circle clipped the output */
} mf_current_t;

/* Validate: both PI configs, inductances and flux finite and >= 0,
 * v_max_frac in (0, 1]. Returns MF_OK, MF_ENULL or MF_EINVAL. */
int mf_current_config_check(const mf_current_config_t *c);
void mf_current_reset(mf_current_t *s);
/* One current-loop step. Currents in A, omega_e in rad/s (electrical),
 * v_bus in V. Result in s->v_d, s->v_q. */
void mf_current_step(mf_current_t *s, const mf_current_config_t *c,
                     float i_d_ref, float i_q_ref, float i_d, float i_q,
                     float omega_e, float v_bus, float dt_s);

/* ---- Inline implementation ------------------------------------------------
 * mf_current_step() is mf_current_step_inline(), defined here so that the
 * current loop (mf_ctrl_step) runs it without a call. */
static inline void mf_current_step_inline(mf_current_t *s, const mf_current_config_t *c,
                                          float i_d_ref, float i_q_ref, float i_d, float i_q,
                                          float omega_e, float v_bus, float dt_s)
{
    float v_max = c->v_max_frac * v_bus * MF_INV_SQRT3_F;
    if (!(v_max > 0.0f && v_max <= MF_FLT_MAX_F)) { /* not > 0, NaN or Inf */
        mf_pi_reset(&s->pi_d);
        mf_pi_reset(&s->pi_q);
        s->v_d = 0.0f;
        s->v_q = 0.0f;
        s->limited = true;
        return;
    }

    float v_d_ff = 0.0f;
    float v_q_ff = 0.0f;
    if (c->decouple) { /* non-finite terms are dropped by mf_pi_step */
        v_d_ff = -omega_e * c->lq_h * i_q;
        v_q_ff = omega_e * (c->ld_h * i_d + c->flux_wb);
    }

    float v_d = mf_pi_step_inline(&s->pi_d, &c->pi_d, i_d_ref - i_d, v_d_ff, -v_max, v_max, dt_s);
    float v_q_max = sqrtf(mf_maxf(v_max * v_max - v_d * v_d, 0.0f));
    float v_q = mf_pi_step_inline(&s->pi_q, &c->pi_q, i_q_ref - i_q, v_q_ff, -v_q_max, v_q_max, dt_s);

    s->v_d = v_d;
    s->v_q = v_q;
    s->limited = s->pi_d.saturated || s->pi_q.saturated;
}

#endif /* MF_CURRENT_H */
