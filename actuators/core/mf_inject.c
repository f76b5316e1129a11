/* mf_inject.c - identification test modes: references and on-chip
 * averaging / lock-in (see mf_inject.h). */
#include "mf_inject.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "mf_math.h"

/* indices of the running sums */
enum {
    ACC_VD = 0, ACC_VQ, ACC_ID, ACC_IQ, ACC_W,
    ACC_VD_R, ACC_VQ_R, ACC_ID_R, ACC_IQ_R,
    ACC_COS_E, ACC_SIN_E,
    ACC_VC, ACC_VS, ACC_IC, ACC_IS,
    ACC_C, ACC_S, ACC_CC, ACC_SS, ACC_CS,
    ACC_COUNT
};

static bool mf_inject_is_sine(uint8_t kind)
{
    return kind == (uint8_t)MF_INJECT_V_SINE || kind == (uint8_t)MF_INJECT_I_SINE;
}

static bool mf_inject_is_rotate(uint8_t kind)
{
    return kind == (uint8_t)MF_INJECT_V_ROTATE || kind == (uint8_t)MF_INJECT_I_ROTATE;
}

static bool mf_inject_is_current(uint8_t kind)
{
    return kind == (uint8_t)MF_INJECT_I_DC || kind == (uint8_t)MF_INJECT_I_SINE ||
           kind == (uint8_t)MF_INJECT_I_ROTATE;
}

const char *mf_inject_config_problem(const mf_inject_config_t *c, float pwm_period_s)
{
    float periods;
    if (c == NULL) {
        return "config";
    }
    if (!mf_isfinitef(pwm_period_s) || !(pwm_period_s > 0.0f)) {
        return "pwm_period_s";
    }
    if (c->kind >= MF_INJECT_KIND_COUNT) {
        return "kind";
    }
    if (c->axis > (uint8_t)MF_INJECT_AXIS_Q) {
        return "axis";
    }
    if (!mf_isfinitef(c->amp)) {
        return "amp";
    }
    if (!mf_isfinitef(c->offset)) {
        return "offset";
    }
    if (!mf_isfinitef(c->hold)) {
        return "hold";
    }
    if (!mf_isfinitef(c->freq_hz) || c->freq_hz < 0.0f) {
        return "freq_hz";
    }
    if (mf_inject_is_sine(c->kind) && !(c->freq_hz > 0.0f && c->freq_hz * pwm_period_s <= 0.25f)) {
        return "freq_hz";
    }
    if (!mf_isfinitef(c->omega_e_cmd) ||
        (mf_inject_is_rotate(c->kind) && fabsf(c->omega_e_cmd) * pwm_period_s > MF_INJECT_MAX_STEP_RAD)) {
        return "omega_e_cmd";
    }
    if (!mf_isfinitef(c->accel_e) || c->accel_e < 0.0f) {
        return "accel_e";
    }
    if (!mf_isfinitef(c->theta0_e) || fabsf(c->theta0_e) > 1.0e4f) {
        return "theta0_e";
    }
    if (!mf_isfinitef(c->lockin_harmonic) || c->lockin_harmonic < 0.0f || c->lockin_harmonic > 1.0e4f ||
        (mf_inject_is_rotate(c->kind) &&
         c->lockin_harmonic * fabsf(c->omega_e_cmd) * pwm_period_s > MF_INJECT_MAX_STEP_RAD)) {
        return "lockin_harmonic";
    }
    if (!mf_isfinitef(c->settle_s) || c->settle_s < 0.0f ||
        !(c->settle_s / pwm_period_s <= MF_INJECT_MAX_PERIODS)) {
        return "settle_s";
    }
    if (!mf_isfinitef(c->window_s)) {
        return "window_s";
    }
    periods = c->window_s / pwm_period_s;
    if (!(periods >= 1.0f && periods <= MF_INJECT_MAX_PERIODS)) {
        return "window_s";
    }
    if (mf_inject_is_sine(c->kind) && !(c->window_s * c->freq_hz >= 1.0f)) {
        return "window_s";
    }
    return NULL;
}

void mf_inject_reset(mf_inject_t *s, const mf_inject_config_t *c, float pwm_period_s)
{
    memset(s, 0, sizeof *s);
    s->ref_cos = 1.0f;
    if (mf_inject_config_problem(c, pwm_period_s) != NULL) {
        return; /* n_window = 0: zero references, nothing accumulated */
    }
    s->n_settle = (uint32_t)(c->settle_s / pwm_period_s + 0.5f);
    if (mf_inject_is_sine(c->kind)) {
        /* whole sine periods: cycles = floor(window f) >= 1, samples rounded */
        float cycles = (float)(uint32_t)(c->window_s * c->freq_hz);
        float n = cycles / (c->freq_hz * pwm_period_s) + 0.5f;
        s->n_window = (uint32_t)mf_satf(n, 1.0f, MF_INJECT_MAX_PERIODS);
    } else {
        s->n_window = (uint32_t)mf_satf(c->window_s / pwm_period_s + 0.5f, 1.0f, MF_INJECT_MAX_PERIODS);
    }
    s->theta_e = mf_wrap_pif(c->theta0_e);
    s->theta_next = s->theta_e;
}

/* x + dx wrapped to [-pi, pi), with the rounding of the sum carried in *comp
 * (Kahan), so the angle does not drift over long windows. */
static float mf_inject_advance(float x, float *comp, float dx)
{
    float y = dx - *comp;
    float t = x + y;
    *comp = (t - x) - y;
    return mf_wrap_pif(t);
}

void mf_inject_begin(mf_inject_t *s, const mf_inject_config_t *c, float theta_e_enc, float dt_s,
                     mf_inject_out_t *out)
{
    float ref = 0.0f;
    float other = 0.0f;
    float dt = (mf_isfinitef(dt_s) && dt_s > 0.0f) ? dt_s : 0.0f;
    out->use_current = mf_inject_is_current(c->kind);
    if (s->n_window == 0u) {
        out->theta_e = s->theta_e;
        out->ref_d = 0.0f;
        out->ref_q = 0.0f;
        return;
    }
    if (mf_inject_is_rotate(c->kind)) {
        float w = c->omega_e_cmd;
        if (c->accel_e > 0.0f) {
            float dw = c->accel_e * dt;
            w = (w >= 0.0f) ? mf_minf(s->omega_now + dw, w) : mf_maxf(s->omega_now - dw, w);
        }
        s->omega_now = w;
        s->theta_e = s->theta_next;
        s->theta_next = mf_inject_advance(s->theta_e, &s->theta_comp, w * dt);
        out->theta_e = s->theta_e;
        out->ref_d = c->amp;
        out->ref_q = 0.0f;
    } else {
        if (c->use_encoder) {
            if (mf_isfinitef(theta_e_enc)) {
                s->theta_e = mf_wrap_pif(theta_e_enc);
            }
        } else {
            s->theta_e = mf_wrap_pif(c->theta0_e);
        }
        out->theta_e = s->theta_e;
        other = c->hold;
        if (mf_inject_is_sine(c->kind)) {
            float sn, cs;
            mf_sincosf(s->phase, &sn, &cs);
            s->ref_cos = cs;
            s->ref_sin = sn;
            ref = c->offset + c->amp * sn;
            s->phase = mf_inject_advance(s->phase, &s->phase_comp, MF_2PI_F * c->freq_hz * dt);
        } else {
            ref = c->amp + c->offset;
        }
        if (c->axis == (uint8_t)MF_INJECT_AXIS_Q) {
            out->ref_d = other;
            out->ref_q = ref;
        } else {
            out->ref_d = ref;
            out->ref_q = other;
        }
    }
    s->t_s += dt;
    if (s->k < 0xFFFFFFFFu) {
        s->k++;
    }
}

/* Solve the least-squares fit x = m + a cos + b sin from the window means. */
static void mf_inject_fit(float mc, float ms, float mcc, float mss, float mcs, float mx, float mxc,
                          float mxs, float *a, float *b)
{
    float ccc = mcc - mc * mc;
    float css = mss - ms * ms;
    float ccs = mcs - mc * ms;
    float cxc = mxc - mx * mc;
    float cxs = mxs - mx * ms;
    float det = ccc * css - ccs * ccs;
    if (!(det > 1.0e-6f)) {
        *a = 0.0f;
        *b = 0.0f;
        return;
    }
    *a = (cxc * css - cxs * ccs) / det;
    *b = (ccc * cxs - ccs * cxc) / det;
}

static void mf_inject_flush(mf_inject_t *s)
{
    size_t j;
    for (j = 0u; j < (size_t)ACC_COUNT; j++) {
        s->acc[j] += s->blk[j];
        s->blk[j] = 0.0f;
    }
    s->blk_n = 0u;
}

static void mf_inject_finish(mf_inject_t *s, const mf_inject_config_t *c)
{
    float inv_n = 1.0f / (float)s->n;
    const float *a = s->acc;
    mf_inject_flush(s);
    s->v_d_mean = a[ACC_VD] * inv_n;
    s->v_q_mean = a[ACC_VQ] * inv_n;
    s->i_d_mean = a[ACC_ID] * inv_n;
    s->i_q_mean = a[ACC_IQ] * inv_n;
    s->omega_e_mean = a[ACC_W] * inv_n;
    s->v_d_rotor_mean = a[ACC_VD_R] * inv_n;
    s->v_q_rotor_mean = a[ACC_VQ_R] * inv_n;
    s->i_d_rotor_mean = a[ACC_ID_R] * inv_n;
    s->i_q_rotor_mean = a[ACC_IQ_R] * inv_n;
    s->theta_err_mean = mf_atan2f(a[ACC_SIN_E], a[ACC_COS_E]);
    if (mf_inject_is_sine(c->kind) || (mf_inject_is_rotate(c->kind) && c->lockin_harmonic > 0.0f)) {
        float mc = a[ACC_C] * inv_n, ms = a[ACC_S] * inv_n;
        float mcc = a[ACC_CC] * inv_n, mss = a[ACC_SS] * inv_n, mcs = a[ACC_CS] * inv_n;
        float mv, mi;
        if (mf_inject_is_rotate(c->kind)) {
            mv = s->v_q_rotor_mean;
            mi = s->i_q_rotor_mean;
        } else if (c->axis == (uint8_t)MF_INJECT_AXIS_Q) {
            mv = s->v_q_mean;
            mi = s->i_q_mean;
        } else {
            mv = s->v_d_mean;
            mi = s->i_d_mean;
        }
        mf_inject_fit(mc, ms, mcc, mss, mcs, mv, a[ACC_VC] * inv_n, a[ACC_VS] * inv_n, &s->v_c, &s->v_s);
        mf_inject_fit(mc, ms, mcc, mss, mcs, mi, a[ACC_IC] * inv_n, a[ACC_IS] * inv_n, &s->i_c, &s->i_s);
    }
    s->done = true;
}

void mf_inject_end(mf_inject_t *s, const mf_inject_config_t *c, float i_d, float i_q, float v_d, float v_q,
                   float omega_e, float theta_e_enc)
{
    float se, ce, e, x[ACC_COUNT];
    float rc = 0.0f, rs = 0.0f, xv = 0.0f, xi = 0.0f;
    bool rotate = mf_inject_is_rotate(c->kind);
    size_t j;
    if (s->done || s->n_window == 0u || s->k <= s->n_settle) {
        return; /* k counts this period already (begin ran) */
    }
    if (!(mf_isfinitef(i_d) && mf_isfinitef(i_q) && mf_isfinitef(v_d) && mf_isfinitef(v_q) &&
          mf_isfinitef(omega_e) && mf_isfinitef(theta_e_enc) && fabsf(theta_e_enc) <= 1.0e4f)) {
        if (s->n_bad < 0xFFFFFFFFu) {
            s->n_bad++;
        }
        return;
    }
    e = mf_wrap_pif(theta_e_enc - s->theta_e);
    mf_sincosf(e, &se, &ce);
    x[ACC_VD] = v_d;
    x[ACC_VQ] = v_q;
    x[ACC_ID] = i_d;
    x[ACC_IQ] = i_q;
    x[ACC_W] = omega_e;
    x[ACC_VD_R] = v_d * ce + v_q * se;
    x[ACC_VQ_R] = v_q * ce - v_d * se;
    x[ACC_ID_R] = i_d * ce + i_q * se;
    x[ACC_IQ_R] = i_q * ce - i_d * se;
    x[ACC_COS_E] = ce;
    x[ACC_SIN_E] = se;
    if (rotate) {
        float th_enc = mf_wrap_pif(theta_e_enc);
        if (s->n == 0u) {
            s->theta_cmd_last = s->theta_e;
            s->theta_enc_last = th_enc;
            s->lockin_phase = mf_wrap_pif(c->lockin_harmonic * th_enc);
        } else {
            float d_enc = mf_wrap_pif(th_enc - s->theta_enc_last);
            s->theta_cmd_turned += mf_wrap_pif(s->theta_e - s->theta_cmd_last);
            s->theta_enc_turned += d_enc;
            s->theta_cmd_last = s->theta_e;
            s->theta_enc_last = th_enc;
            s->lockin_phase = mf_wrap_pif(s->lockin_phase + c->lockin_harmonic * d_enc);
        }
        if (c->lockin_harmonic > 0.0f) {
            mf_sincosf(s->lockin_phase, &rs, &rc);
        }
        xv = x[ACC_VQ_R];
        xi = x[ACC_IQ_R];
    } else if (mf_inject_is_sine(c->kind)) {
        rc = s->ref_cos;
        rs = s->ref_sin;
        xv = (c->axis == (uint8_t)MF_INJECT_AXIS_Q) ? v_q : v_d;
        xi = (c->axis == (uint8_t)MF_INJECT_AXIS_Q) ? i_q : i_d;
    }
    x[ACC_VC] = xv * rc;
    x[ACC_VS] = xv * rs;
    x[ACC_IC] = xi * rc;
    x[ACC_IS] = xi * rs;
    x[ACC_C] = rc;
    x[ACC_S] = rs;
    x[ACC_CC] = rc * rc;
    x[ACC_SS] = rs * rs;
    x[ACC_CS] = rc * rs;
    for (j = 0u; j < (size_t)ACC_COUNT; j++) {
        s->blk[j] += x[j];
    }
    s->blk_n++;
    s->n++;
    if (s->blk_n >= MF_INJECT_BLOCK) {
        mf_inject_flush(s);
    }
    if (s->n >= s->n_window) {
        mf_inject_finish(s, c);
    }
}
