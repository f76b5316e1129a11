/* mf_muscle.c - Hill-type muscle pair (see mf_muscle.h). */
#include "mf_muscle.h"

#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

/* Bound on |l~ - 1| and v~ so no product overflows into inf - inf. */
#define MF_MUSCLE_DL_MAX 1.0e3f
#define MF_MUSCLE_VN_MAX 1.0e6f
/* Geyer and Herr 2010 eccentric slope factor. */
#define MF_MUSCLE_ECC_K 7.56f
/* Smallest divisor accepted by the config check (reciprocal stays finite). */
#define MF_MUSCLE_DIV_MIN 1.0e-30f

static bool mf_pos_finite(float x) { return mf_isfinitef(x) && x > 0.0f; }

int mf_muscle_config_check(const mf_muscle_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (!mf_pos_finite(c->f_max_n) || !mf_pos_finite(c->l_opt_m) || !mf_pos_finite(c->l_ref_m) ||
        !mf_pos_finite(c->moment_arm_m) || !mf_pos_finite(c->v_max_lopt_s) ||
        !mf_pos_finite(c->width) || !mf_pos_finite(c->curv) || !mf_pos_finite(c->tau_act_s) ||
        !mf_pos_finite(c->tau_deact_s)) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->ecc) || !(c->ecc >= 1.0f) || !mf_isfinitef(c->k_pe) || !(c->k_pe >= 0.0f)) {
        return MF_EINVAL;
    }
    /* divisors must be large enough for their reciprocals to be finite */
    if (!(c->l_opt_m >= MF_MUSCLE_DIV_MIN) || !(c->width >= MF_MUSCLE_DIV_MIN) ||
        !(c->curv >= MF_MUSCLE_DIV_MIN) || !(c->tau_act_s >= MF_MUSCLE_DIV_MIN) ||
        !(c->tau_deact_s >= MF_MUSCLE_DIV_MIN) ||
        !(c->v_max_lopt_s * c->l_opt_m >= MF_MUSCLE_DIV_MIN) ||
        !mf_isfinitef(c->v_max_lopt_s * c->l_opt_m)) {
        return MF_EINVAL;
    }
    return MF_OK;
}

void mf_muscle_reset(mf_muscle_t *s)
{
    s->act[0] = 0.0f;
    s->act[1] = 0.0f;
    s->force_n[0] = 0.0f;
    s->force_n[1] = 0.0f;
    s->tau_out = 0.0f;
}

/* First-order activation step, exp(-h) ~ 1/(1 + h + h^2/2 + h^3/6). */
static float mf_activation_step(float a, float u, const mf_muscle_config_t *c, float dt_s)
{
    a = mf_satf(a, 0.0f, 1.0f);
    u = mf_satf(u, 0.0f, 1.0f);
    float tau = (u > a) ? c->tau_act_s : c->tau_deact_s;
    float h = dt_s / tau;
    if (!(h > 0.0f)) { /* dt_s <= 0 or NaN: hold */
        return a;
    }
    float decay = 1.0f / (1.0f + h * (1.0f + h * (0.5f + h * (1.0f / 6.0f))));
    return mf_satf(u + (a - u) * decay, 0.0f, 1.0f);
}

/* Force-velocity factor at normalised speed vn (>= -1, lengthening > 0). */
static float mf_force_velocity(float vn, float inv_curv, float ecc)
{
    if (vn < 0.0f) {
        return (1.0f + vn) / (1.0f - vn * inv_curv);
    }
    return ecc - (ecc - 1.0f) * (1.0f - vn) / (1.0f + vn * (MF_MUSCLE_ECC_K * inv_curv));
}

/* Muscle force in N at normalised length deviation dl = l~ - 1, speed vn. */
static float mf_muscle_force(float a, float dl, float vn, float inv_width, float inv_curv,
                             const mf_muscle_config_t *c)
{
    dl = mf_satf(dl, -MF_MUSCLE_DL_MAX, MF_MUSCLE_DL_MAX);
    vn = mf_satf(vn, -1.0f, MF_MUSCLE_VN_MAX);
    float x = dl * inv_width;
    float f_l = mf_maxf(0.0f, 1.0f - x * x);
    float f_v = mf_maxf(0.0f, mf_force_velocity(vn, inv_curv, c->ecc));
    float f_pe = (dl > 0.0f) ? c->k_pe * dl * dl : 0.0f;
    return c->f_max_n * (a * f_l * f_v + f_pe);
}

void mf_muscle_derive(mf_muscle_derived_t *d, const mf_muscle_config_t *c)
{
    d->inv_l_opt = 1.0f / c->l_opt_m;
    d->inv_v_max = 1.0f / (c->v_max_lopt_s * c->l_opt_m);
    d->inv_width = 1.0f / c->width;
    d->inv_curv = 1.0f / c->curv;
}

float mf_muscle_step_derived(mf_muscle_t *s, const mf_muscle_config_t *c, const mf_muscle_derived_t *d,
                             float u_flex, float u_ext, float p_out, float v_out, float tau_max_nm,
                             float dt_s)
{
    float tau = 0.0f;
    s->act[0] = mf_activation_step(s->act[0], u_flex, c, dt_s);
    s->act[1] = mf_activation_step(s->act[1], u_ext, c, dt_s);

    if (!mf_isfinitef(p_out) || !mf_isfinitef(v_out)) {
        s->force_n[0] = 0.0f;
        s->force_n[1] = 0.0f;
        s->tau_out = 0.0f;
        return 0.0f;
    }
    for (int k = 0; k < 2; k++) {
        float r = (k == 0) ? c->moment_arm_m : -c->moment_arm_m;
        float l = c->l_ref_m - r * p_out;
        float v = -r * v_out;
        float f = mf_muscle_force(s->act[k], l * d->inv_l_opt - 1.0f, v * d->inv_v_max, d->inv_width,
                                  d->inv_curv, c);
        s->force_n[k] = f;
        tau += r * f;
    }
    if (tau != tau || !(tau_max_nm >= 0.0f)) {
        tau = 0.0f;
    } else {
        tau = mf_satf(tau, -tau_max_nm, tau_max_nm);
    }
    s->tau_out = tau;
    return tau;
}

float mf_muscle_step(mf_muscle_t *s, const mf_muscle_config_t *c, float u_flex,
                     float u_ext, float p_out, float v_out, float tau_max_nm,
                     float dt_s)
{
    mf_muscle_derived_t d;
    if (mf_muscle_config_check(c) != MF_OK) {
        mf_muscle_reset(s);
        return 0.0f;
    }
    mf_muscle_derive(&d, c);
    return mf_muscle_step_derived(s, c, &d, u_flex, u_ext, p_out, v_out, tau_max_nm, dt_s);
}
