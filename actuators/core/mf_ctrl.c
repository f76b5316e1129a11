/* mf_ctrl.c - the actuator controller: one current-loop step per PWM period.
 *
 * The step is written for the PWM interrupt of a Cortex-M4F: what can be
 * derived from the config is derived once in mf_ctrl_init (mf_ctrl.h lists
 * it), the per-period blocks are the *_inline / *_body variants of the
 * estimator, sin/cos, PI and SVPWM (the same arithmetic as the functions of
 * those names, without the input checks that the step's own inputs do not
 * need), the fast protections are a few compares on values the step has
 * computed anyway, and the dead-time compensation shares the SVPWM's clamp.
 * Calls per period: none in the common case; the slow protections and the
 * outer loop every outer_div-th period. */
#include "mf_ctrl.h"

#include <math.h>
#include <string.h>

#include "mf_err.h"
#include "mf_foc.h"
#include "mf_math.h"

/* Largest PWM period accepted, s: the step's timers then stay finite by
 * rounding (t + dt == t long before t could overflow). */
#define MF_CTRL_PERIOD_MAX_S 1.0f
/* ADC gains: a full-scale count times the gain stays finite. */
#define MF_CTRL_ADC_GAIN_MAX 1.0e30f
/* |phase_rad| bound of the cogging model. */
#define MF_CTRL_COG_PHASE_MAX 1.0e4f
#define MF_CTRL_COG_N_MAX 10000u

static bool mf_pos_finite(float x) { return mf_isfinitef(x) && x > 0.0f; }

static const char *mf_cogging_problem(const mf_cogging_config_t *g)
{
    int k;
    if (g->cog_n_per_rev > MF_CTRL_COG_N_MAX) {
        return "cogging";
    }
    for (k = 0; k < MF_COGGING_HARMONICS; k++) {
        if (!mf_isfinitef(g->amp_nm[k]) || !(fabsf(g->phase_rad[k]) <= MF_CTRL_COG_PHASE_MAX)) {
            return "cogging";
        }
    }
    return NULL;
}

/* First invalid field of c, or NULL when the config is valid. */
const char *mf_ctrl_config_problem(const mf_ctrl_config_t *c)
{
    if (!mf_pos_finite(c->pwm_period_s) || c->pwm_period_s > MF_CTRL_PERIOD_MAX_S) {
        return "pwm_period_s";
    }
    if (c->outer_div < 1u) {
        return "outer_div";
    }
    if (!mf_pos_finite(c->adc_i_gain_a) || c->adc_i_gain_a > MF_CTRL_ADC_GAIN_MAX) {
        return "adc_i_gain_a";
    }
    if (!mf_isfinitef(c->adc_i_offset) || c->adc_i_offset < 0.0f || c->adc_i_offset > 65535.0f) {
        return "adc_i_offset";
    }
    if (!mf_pos_finite(c->adc_vbus_gain_v) || c->adc_vbus_gain_v > MF_CTRL_ADC_GAIN_MAX) {
        return "adc_vbus_gain_v";
    }
    if (!mf_isfinitef(c->dead_time_s) || c->dead_time_s < 0.0f || !(c->dead_time_s < 0.5f * c->pwm_period_s)) {
        return "dead_time_s";
    }
    if (!mf_isfinitef(c->deadtime_i_band_a) || c->deadtime_i_band_a < 0.0f) {
        return "deadtime_i_band_a";
    }
    if (!mf_isfinitef(c->latency_steps) || c->latency_steps < 0.0f || c->latency_steps > 4.0f) {
        return "latency_steps";
    }
    if (c->pole_pairs < 1u || c->pole_pairs != c->estimator.pole_pairs) {
        return "pole_pairs";
    }
    if (!mf_pos_finite(c->flux_wb)) {
        return "flux_wb";
    }
    if (!mf_isfinitef(c->gear_ratio) || c->gear_ratio < 1.0f) {
        return "gear_ratio";
    }
    if (!mf_pos_finite(c->i_limit_a) || c->i_limit_a > c->protect.i_max_a) {
        return "i_limit_a";
    }
    if (!mf_pos_finite(c->tau_out_max_nm)) {
        return "tau_out_max_nm";
    }
    if (mf_current_config_check(&c->current) != MF_OK) {
        return "current";
    }
    if (mf_estimator_config_check(&c->estimator) != MF_OK) {
        return "estimator";
    }
    if (mf_motion_config_check(&c->motion) != MF_OK) {
        return "motion";
    }
    if (mf_muscle_config_check(&c->muscle) != MF_OK) {
        return "muscle";
    }
    if (mf_protect_config_check(&c->protect) != MF_OK) {
        return "protect";
    }
    return mf_cogging_problem(&c->cogging);
}

static void mf_ctrl_reset_loops(mf_ctrl_t *s)
{
    mf_current_reset(&s->cur);
    mf_motion_reset(&s->motion);
    mf_muscle_reset(&s->muscle);
    memset(&s->imp, 0, sizeof s->imp);
    s->i_d_ref = 0.0f;
    s->i_q_ref = 0.0f;
    s->tau_out_ref = 0.0f;
    s->i_q_cog = 0.0f;
    s->outer_count = 0u;
}

/* Everything the step needs from the config that only init may change. */
static void mf_ctrl_derive(mf_ctrl_t *s, const mf_ctrl_config_t *c)
{
    float a = 0.0f, bd = 0.0f;
    int k;
    s->kt_nm_a = 1.5f * (float)c->pole_pairs * c->flux_wb;
    s->inv_kt = 1.0f / s->kt_nm_a;
    s->inv_gear = 1.0f / c->gear_ratio;
    s->inv_kt_gear = s->inv_gear / s->kt_nm_a;
    s->dead_frac = c->dead_time_s / c->pwm_period_s;
    s->dead_k = (c->deadtime_i_band_a >= MF_FOC_FLT_MIN_NORMAL) ? s->dead_frac / c->deadtime_i_band_a : 0.0f;
    /* margin 1e-4 for the rounding of the spread and the duties */
    s->reach_max = 1.0f - 2.0f * s->dead_frac - 1.0e-4f;
    s->dt_outer_s = c->pwm_period_s * (float)c->outer_div;
    (void)mf_estimator_pll_gains(&s->est, c->pwm_period_s, &a, &bd);
    s->pll_1ma = 1.0f - a;
    s->pll_bd = bd;
    mf_muscle_derive(&s->muscle_d, &c->muscle);
    for (k = 0; k < MF_COGGING_HARMONICS; k++) {
        float sn, cs;
        mf_sincosf(c->cogging.phase_rad[k], &sn, &cs);
        s->cog_c[k] = c->cogging.amp_nm[k] * cs;
        s->cog_s[k] = c->cogging.amp_nm[k] * sn;
    }
}

int mf_ctrl_init(mf_ctrl_t *s, const mf_ctrl_config_t *c)
{
    if (s == NULL || c == NULL) {
        return MF_ENULL;
    }
    memset(s, 0, sizeof *s);
    mf_protect_reset(&s->prot);
    s->cmd.mode = (uint8_t)MF_MODE_IDLE;
    s->active_mode = (uint8_t)MF_MODE_IDLE;
    s->pwm.pwm_enable = false;
    if (mf_ctrl_config_problem(c) != NULL || mf_estimator_init(&s->est, &c->estimator) != MF_OK) {
        s->config_ok = false;
        mf_protect_trip(&s->prot, MF_FAULT_CONFIG);
        return MF_EINVAL;
    }
    mf_ctrl_derive(s, c);
    mf_ctrl_reset_loops(s);
    s->config_ok = true;
    return MF_OK;
}

/* The bytes of two inject configs are equal (the core calls no memcmp). */
static bool mf_inject_same(const mf_inject_config_t *a, const mf_inject_config_t *b)
{
    const unsigned char *pa = (const unsigned char *)a;
    const unsigned char *pb = (const unsigned char *)b;
    size_t k;
    for (k = 0u; k < sizeof *a; k++) {
        if (pa[k] != pb[k]) {
            return false;
        }
    }
    return true;
}

static bool mf_cmd_valid(const mf_ctrl_cmd_t *m)
{
    const float f[] = {m->i_d_ref,  m->i_q_ref,  m->v_d_ref,    m->v_q_ref,    m->theta_e_force,
                       m->v_out_ref, m->p_out_ref, m->tau_ff_nm, m->imp.p_des, m->imp.v_des,
                       m->imp.kp,   m->imp.kd,   m->imp.tau_ff, m->u_flex,     m->u_ext};
    size_t k;
    if (m->mode >= (uint8_t)MF_MODE_COUNT) {
        return false;
    }
    for (k = 0u; k < sizeof f / sizeof f[0]; k++) {
        if (!mf_isfinitef(f[k])) {
            return false;
        }
    }
    if (m->imp.kp < 0.0f || m->imp.kd < 0.0f) {
        return false;
    }
    if (m->u_flex < 0.0f || m->u_flex > 1.0f || m->u_ext < 0.0f || m->u_ext > 1.0f) {
        return false;
    }
    return true;
}

int mf_ctrl_command(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_cmd_t *cmd)
{
    bool inject_restart;
    if (s == NULL || cmd == NULL) {
        return MF_ENULL;
    }
    if (!mf_cmd_valid(cmd) ||
        (cmd->mode == (uint8_t)MF_MODE_INJECT &&
         (c == NULL || mf_inject_config_problem(&cmd->inject, c->pwm_period_s) != NULL))) {
        s->cmd_rejects++;
        return MF_ERANGE;
    }
    if (cmd->mode != MF_MODE_IDLE && (!s->config_ok || s->prot.faults != 0u)) {
        s->cmd_rejects++;
        return MF_ESTATE;
    }
    inject_restart = cmd->mode == (uint8_t)MF_MODE_INJECT &&
                     (s->cmd.mode != (uint8_t)MF_MODE_INJECT ||
                      !mf_inject_same(&s->cmd.inject, &cmd->inject));
    if (cmd->mode != s->cmd.mode) {
        /* Bumpless transfer: the velocity/position integrator continues the
         * torque being produced; the outer loop runs on the next step. */
        mf_motion_reset(&s->motion);
        s->motion.vel_pi.integral = (s->active_mode == MF_MODE_IDLE) ? 0.0f : s->tau_out_ref;
        s->outer_count = 0u;
    }
    s->cmd = *cmd;
    if (inject_restart) {
        mf_inject_reset(&s->inject, &s->cmd.inject, c->pwm_period_s);
    }
    mf_protect_feed(&s->prot);
    return MF_OK;
}

/* The safe-state output for a fault or idle (coast, or brake on a fault),
 * into out and s->pwm. */
static void mf_ctrl_safe_output(mf_ctrl_t *s, const mf_ctrl_config_t *c, bool fault, mf_ctrl_pwm_t *out)
{
    bool brake = fault && s->config_ok && c->protect.safe_state == MF_SAFE_BRAKE;
    out->duty[0] = 0.0f;
    out->duty[1] = 0.0f;
    out->duty[2] = 0.0f;
    out->pwm_enable = brake;
    s->pwm.duty[0] = 0.0f;
    s->pwm.duty[1] = 0.0f;
    s->pwm.duty[2] = 0.0f;
    s->pwm.pwm_enable = brake;
}

/* (y n) mod cpr for y < cpr <= 2^24, n <= 10000, in 32-bit arithmetic. */
static uint32_t mf_ctrl_mulmod(uint32_t y, uint32_t n, uint32_t cpr)
{
    uint32_t hi = ((y * (n >> 8)) % cpr) * 256u % cpr; /* y (n >> 8) < 2^30 */
    uint32_t lo = (y * (n & 255u)) % cpr;              /* < 2^32 */
    return (hi + lo) % cpr;
}

/* Cogging torque at the directed count y (motor side, N m), looking ahead
 * by half an outer period (the feed-forward is held over one); the
 * harmonics by the angle-addition recurrence from one sin/cos. */
static float mf_ctrl_cogging(const mf_ctrl_t *s, const mf_ctrl_config_t *c, uint32_t y)
{
    const uint32_t cpr = c->estimator.counts_per_rev;
    const uint32_t n = c->cogging.cog_n_per_rev;
    uint32_t m = mf_ctrl_mulmod(y, n, cpr);
    float ahead = mf_satf((float)n * s->est.omega_m * (0.5f * s->dt_outer_s), -MF_PI_F, MF_PI_F);
    float s1, c1, s2, c2, s3, c3;
    mf_sincosf_inline((float)m * s->est.rad_per_count + ahead, &s1, &c1);
    s2 = 2.0f * s1 * c1;
    c2 = c1 * c1 - s1 * s1;
    s3 = s2 * c1 + c2 * s1;
    c3 = c2 * c1 - s2 * s1;
    /* amp sin(kx + ph) = sin(kx) amp cos(ph) + cos(kx) amp sin(ph) */
    return (s1 * s->cog_c[0] + c1 * s->cog_s[0]) + (s2 * s->cog_c[1] + c2 * s->cog_s[1]) +
           (s3 * s->cog_c[2] + c3 * s->cog_s[2]);
}

void mf_ctrl_refresh_outputs(mf_ctrl_t *s, const mf_ctrl_config_t *c)
{
    if (!s->config_ok) {
        return;
    }
    mf_estimator_finish_inline(&s->est, &c->estimator);
    s->p_out = s->est.theta_m * s->inv_gear;
    s->v_out = s->est.omega_m * s->inv_gear;
    s->tau_out_est = s->kt_nm_a * s->i_q * c->gear_ratio;
}

/* Outer loop: output-side torque demand for the active mode, N m; also the
 * cogging feed-forward current. */
static float mf_ctrl_outer(mf_ctrl_t *s, const mf_ctrl_config_t *c)
{
    const mf_ctrl_cmd_t *m = &s->cmd;
    const float tau_max = c->tau_out_max_nm;
    const float dt = s->dt_outer_s;
    mf_ctrl_refresh_outputs(s, c);
    if (c->cogging.cog_n_per_rev != 0u) {
        uint32_t cpr = c->estimator.counts_per_rev;
        uint32_t count = s->est.last_count;
        uint32_t y = (c->estimator.direction < 0 && count != 0u) ? cpr - count : count;
        s->i_q_cog = mf_ctrl_cogging(s, c, y) * s->inv_kt;
    }
    switch (m->mode) {
    case MF_MODE_VELOCITY:
        return mf_velocity_step(&s->motion, &c->motion, m->v_out_ref, s->v_out, m->tau_ff_nm, tau_max, dt);
    case MF_MODE_POSITION:
        return mf_position_step(&s->motion, &c->motion, m->p_out_ref, m->v_out_ref, s->p_out, s->v_out,
                                m->tau_ff_nm, tau_max, dt);
    case MF_MODE_IMPEDANCE:
        return mf_impedance_step(&s->imp, &m->imp, s->p_out, s->v_out, tau_max);
    case MF_MODE_MUSCLE:
        return mf_muscle_step_derived(&s->muscle, &c->muscle, &s->muscle_d, m->u_flex, m->u_ext, s->p_out,
                                      s->v_out, tau_max, dt);
    default:
        return 0.0f;
    }
}

/* Limit (i_d, i_q) to a circle of radius i_max, keeping the direction. */
static inline void mf_ctrl_limit_current(float *i_d, float *i_q, float i_max)
{
    float mag2 = (*i_d) * (*i_d) + (*i_q) * (*i_q);
    if (mag2 > i_max * i_max) {
        float k = i_max / sqrtf(mag2);
        *i_d *= k;
        *i_q *= k;
    }
}

/* The fast protections on this period's values: over-current, bus voltage,
 * encoder jump and still time, command watchdog (mf_protect.h; the inputs
 * are finite by construction, dt_s valid). Returns the latched bits. */
static inline uint32_t mf_ctrl_protect_fast(mf_ctrl_t *s, const mf_ctrl_config_t *c, float i_a, float i_b,
                                            float i_c, float v_bus, bool armed)
{
    const mf_protect_config_t *pc = &c->protect;
    mf_protect_t *p = &s->prot;
    const float dt = c->pwm_period_s;
    const int32_t d = s->est.last_delta_counts;
    const float i_max = pc->i_max_a;
    uint32_t trip = 0u;
    if (fabsf(i_a) > i_max || fabsf(i_b) > i_max || fabsf(i_c) > i_max) {
        trip |= MF_FAULT_OVERCURRENT;
    }
    if (v_bus > pc->v_bus_max_v) {
        trip |= MF_FAULT_OVERVOLTAGE;
    }
    if (v_bus < pc->v_bus_min_v) {
        trip |= MF_FAULT_UNDERVOLTAGE;
    }
    if (((d < 0) ? (0u - (uint32_t)d) : (uint32_t)d) > pc->enc_jump_counts) {
        trip |= MF_FAULT_ENCODER;
    }
    /* the timers stay finite: dt <= 1 s, so t + dt stops growing by
     * rounding far below the float range */
    p->enc_still_s = (d != 0) ? 0.0f : p->enc_still_s + dt;
    if (armed) {
        float t = p->since_cmd_s + dt;
        p->since_cmd_s = t;
        if (t >= pc->cmd_timeout_s) {
            p->fed_since_timeout = false; /* the cause is present now */
            trip |= MF_FAULT_CMD_TIMEOUT;
        }
    } else {
        p->since_cmd_s = 0.0f;
    }
    if (trip != 0u) {
        mf_protect_trip(p, trip);
    }
    return p->faults;
}

/* Inverse Park at the angle advanced by delta (rotate by delta with a
 * 3rd-order small-angle sin/cos, |delta| <= 0.5), SVPWM by min-max
 * injection, dead-time compensation, a clamp to [0, 1] only when the
 * duties' spread leaves no room for the compensation; duties into out and
 * s->pwm. */
static inline void mf_ctrl_modulate(mf_ctrl_t *s, float v_d, float v_q, float sin_e, float cos_e, float delta,
                                    float v_bus, float i_a, float i_b, float i_c, mf_ctrl_pwm_t *out)
{
    float v_alpha, v_beta, v[3], d_a, d_b, d_c, reach;
    {
        float d2 = delta * delta;
        float sd = delta * (1.0f - d2 * (1.0f / 6.0f));
        float cd = 1.0f - 0.5f * d2 * (1.0f - d2 * (1.0f / 12.0f));
        float s2 = sin_e * cd + cos_e * sd;
        float c2 = cos_e * cd - sin_e * sd;
        sin_e = s2;
        cos_e = c2;
    }
    mf_inv_park(v_d, v_q, sin_e, cos_e, &v_alpha, &v_beta);
    if (!(v_bus >= MF_FOC_FLT_MIN_NORMAL)) { /* no bus (a mode runs only above v_bus_min_v) */
        d_a = 0.5f;
        d_b = 0.5f;
        d_c = 0.5f;
        reach = 0.0f;
    } else {
        float inv = 1.0f / v_bus;
        float spread = mf_foc_centred_phases(v_alpha, v_beta, v);
        if (!(spread <= v_bus)) { /* over-modulation: back onto the hexagon edge */
            inv = 1.0f / spread;
        }
        d_a = 0.5f + v[0] * inv;
        d_b = 0.5f + v[1] * inv;
        d_c = 0.5f + v[2] * inv;
        reach = spread * inv; /* the duties lie in 0.5 +- reach / 2 */
    }
    if (s->dead_frac > 0.0f) { /* + sign(i) dead_frac, ramped over |i| < band (slope dead_k) */
        const float df = s->dead_frac;
        const float kb = s->dead_k;
        if (kb > 0.0f) {
            d_a += mf_satf(i_a * kb, -df, df);
            d_b += mf_satf(i_b * kb, -df, df);
            d_c += mf_satf(i_c * kb, -df, df);
        } else {
            d_a += mf_signf(i_a) * df;
            d_b += mf_signf(i_b) * df;
            d_c += mf_signf(i_c) * df;
        }
    }
    if (!(reach <= s->reach_max)) { /* only then can a duty leave [0, 1] */
        d_a = mf_minf(mf_maxf(d_a, 0.0f), 1.0f);
        d_b = mf_minf(mf_maxf(d_b, 0.0f), 1.0f);
        d_c = mf_minf(mf_maxf(d_c, 0.0f), 1.0f);
    }
    out->duty[0] = d_a;
    out->duty[1] = d_b;
    out->duty[2] = d_c;
    out->pwm_enable = true;
    s->pwm.duty[0] = d_a;
    s->pwm.duty[1] = d_b;
    s->pwm.duty[2] = d_c;
    s->pwm.pwm_enable = true;
}

/* The dq current controller on (i_d_ref, i_q_ref) after the current limit:
 * decoupling feed-forward, d PI in +-v_max, q PI in the rest of the circle. */
static inline void mf_ctrl_current(mf_ctrl_t *s, const mf_ctrl_config_t *c, float i_d_ref, float i_q_ref,
                                   float i_d, float i_q, float omega_e, float v_bus, float *v_d_p, float *v_q_p)
{
    const mf_current_config_t *cc = &c->current;
    const float dt = c->pwm_period_s;
    /* v_bus >= v_bus_min_v > 0 while a mode runs: v_max > 0 and finite */
    const float v_max = cc->v_max_frac * v_bus * MF_INV_SQRT3_F;
    float v_d_ff = 0.0f, v_q_ff = 0.0f, v_d, v_q, v_q_max;
    mf_ctrl_limit_current(&i_d_ref, &i_q_ref, c->i_limit_a * s->prot.derate);
    s->i_d_ref = i_d_ref;
    s->i_q_ref = i_q_ref;
    if (cc->decouple) {
        v_d_ff = -omega_e * cc->lq_h * i_q;
        v_q_ff = omega_e * (cc->ld_h * i_d + cc->flux_wb);
        if (!mf_isfinitef(v_d_ff + v_q_ff)) { /* an absurd speed: drop what overflowed */
            v_d_ff = mf_isfinitef(v_d_ff) ? v_d_ff : 0.0f;
            v_q_ff = mf_isfinitef(v_q_ff) ? v_q_ff : 0.0f;
        }
    }
    v_d = mf_pi_body_inline(&s->cur.pi_d, &cc->pi_d, i_d_ref - i_d, v_d_ff, -v_max, v_max, dt);
    v_q_max = sqrtf(mf_maxf(v_max * v_max - v_d * v_d, 0.0f));
    v_q = mf_pi_body_inline(&s->cur.pi_q, &cc->pi_q, i_q_ref - i_q, v_q_ff, -v_q_max, v_q_max, dt);
    s->cur.v_d = v_d;
    s->cur.v_q = v_q;
    s->cur.limited = s->cur.pi_d.saturated || s->cur.pi_q.saturated;
    *v_d_p = v_d;
    *v_q_p = v_q;
}

uint32_t mf_ctrl_step(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out)
{
    float sin_e, cos_e, i_a, i_b, i_c, i_alpha, i_beta, i_d, i_q, v_bus, omega_e, w_adv, v_max;
    float i_d_ref = 0.0f, i_q_ref = 0.0f, v_d = 0.0f, v_q = 0.0f;
    bool use_current;
    uint32_t faults;
    uint8_t mode;

    s->step_count++;
    if (!s->config_ok) {
        mf_ctrl_safe_output(s, c, true, out);
        return s->prot.faults;
    }

    /* encoder -> angles and speed */
    mf_estimator_update_fixed_inline(&s->est, &c->estimator, in->enc_count, c->pwm_period_s, s->pll_1ma,
                                     s->pll_bd);
    omega_e = s->est.omega_e;
    mf_sincos_e_inline(s->est.theta_e, &sin_e, &cos_e);

    /* ADC -> phase currents and bus voltage (finite: integer counts times
     * bounded gains) -> dq currents */
    {
        const float off = c->adc_i_offset;
        const float gain = c->adc_i_gain_a;
        i_a = ((float)in->adc_i[0] - off) * gain;
        i_b = ((float)in->adc_i[1] - off) * gain;
        if (c->three_shunt) {
            i_c = ((float)in->adc_i[2] - off) * gain;
            mf_clarke3(i_a, i_b, i_c, &i_alpha, &i_beta);
        } else {
            i_c = -i_a - i_b;
            mf_clarke2(i_a, i_b, &i_alpha, &i_beta);
        }
    }
    s->i_abc[0] = i_a;
    s->i_abc[1] = i_b;
    s->i_abc[2] = i_c;
    mf_park(i_alpha, i_beta, sin_e, cos_e, &i_d, &i_q);
    s->i_d = i_d;
    s->i_q = i_q;
    v_bus = (float)in->adc_vbus * c->adc_vbus_gain_v;
    s->v_bus = v_bus;
    s->temp_motor_c = in->temp_motor_c;
    s->temp_fet_c = in->temp_fet_c;

    /* protections, before any output is computed: the fast part every
     * period, the slow part every outer_div-th period (over outer_div
     * periods); v_q is the last commanded one */
    faults = mf_ctrl_protect_fast(s, c, i_a, i_b, i_c, v_bus, s->cmd.mode != MF_MODE_IDLE);
    if (s->slow_count == 0u) {
        faults = mf_protect_slow(&s->prot, &c->protect, i_d, i_q, s->cur.v_q, in->temp_motor_c,
                                 in->temp_fet_c, s->dt_outer_s);
    }
    s->slow_count++;
    if (s->slow_count >= c->outer_div) {
        s->slow_count = 0u;
    }
    if (faults != 0u) {
        s->cmd.mode = (uint8_t)MF_MODE_IDLE;
    }
    mode = s->cmd.mode;
    if (mode == MF_MODE_IDLE) {
        if (s->active_mode != (uint8_t)MF_MODE_IDLE) {
            mf_ctrl_reset_loops(s);
        }
        s->active_mode = mode;
        s->outer_count = 0u;
        mf_ctrl_safe_output(s, c, faults != 0u, out);
        return faults;
    }
    s->active_mode = mode;

    /* references: currents for the current loop, or voltages */
    w_adv = omega_e; /* the frame's speed, for the angle advance */
    use_current = true;
    switch (mode) {
    case MF_MODE_CURRENT:
        i_d_ref = s->cmd.i_d_ref;
        i_q_ref = s->cmd.i_q_ref;
        break;
    case MF_MODE_VOLTAGE:
        use_current = false;
        v_max = c->current.v_max_frac * MF_INV_SQRT3_F * v_bus;
        v_d = mf_satf(s->cmd.v_d_ref, -v_max, v_max);
        v_q = mf_satf(s->cmd.v_q_ref, -v_max, v_max);
        if (s->cmd.force_angle) {
            mf_sincosf(s->cmd.theta_e_force, &sin_e, &cos_e);
            w_adv = 0.0f;
        }
        break;
    case MF_MODE_INJECT: {
        const mf_inject_config_t *ic = &s->cmd.inject;
        mf_inject_out_t io;
        mf_inject_begin(&s->inject, ic, s->est.theta_e, c->pwm_period_s, &io);
        mf_sincosf(io.theta_e, &sin_e, &cos_e);
        mf_park(i_alpha, i_beta, sin_e, cos_e, &i_d, &i_q); /* the injection's frame */
        s->i_d = i_d;
        s->i_q = i_q;
        omega_e = 0.0f; /* no decoupling: the parameters are being identified */
        if (ic->kind == (uint8_t)MF_INJECT_V_ROTATE || ic->kind == (uint8_t)MF_INJECT_I_ROTATE) {
            w_adv = ic->omega_e_cmd;
        } else if (!ic->use_encoder) {
            w_adv = 0.0f;
        }
        use_current = io.use_current;
        i_d_ref = io.ref_d;
        i_q_ref = io.ref_q;
        if (!use_current) { /* the voltage circle, d first */
            v_max = c->current.v_max_frac * MF_INV_SQRT3_F * v_bus;
            v_d = mf_satf(io.ref_d, -v_max, v_max);
            v_max = sqrtf(mf_maxf(v_max * v_max - v_d * v_d, 0.0f));
            v_q = mf_satf(io.ref_q, -v_max, v_max);
        }
        break;
    }
    default: /* the torque modes */
        if (s->outer_count == 0u) {
            s->tau_out_ref = mf_ctrl_outer(s, c);
        }
        s->outer_count++;
        if (s->outer_count >= c->outer_div) {
            s->outer_count = 0u;
        }
        i_d_ref = 0.0f;
        i_q_ref = s->tau_out_ref * s->inv_kt_gear + s->i_q_cog;
        break;
    }
    if (use_current) {
        mf_ctrl_current(s, c, i_d_ref, i_q_ref, i_d, i_q, omega_e, v_bus, &v_d, &v_q);
    } else {
        s->cur.v_d = v_d;
        s->cur.v_q = v_q;
    }
    if (mode == MF_MODE_INJECT) {
        mf_inject_end(&s->inject, &s->cmd.inject, i_d, i_q, v_d, v_q, s->est.omega_e, s->est.theta_e);
    }

    /* advance the angle by the PWM/computation delay, modulate */
    mf_ctrl_modulate(s, v_d, v_q, sin_e, cos_e, mf_satf(w_adv * c->latency_steps * c->pwm_period_s, -0.5f, 0.5f),
                     v_bus, i_a, i_b, i_c, out);
    return faults;
}

uint32_t mf_ctrl_clear_faults(mf_ctrl_t *s, const mf_ctrl_config_t *c)
{
    mf_protect_input_t pin;
    if (!s->config_ok) {
        return s->prot.faults;
    }
    pin.v_bus = s->v_bus;
    pin.i_abc[0] = s->i_abc[0];
    pin.i_abc[1] = s->i_abc[1];
    pin.i_abc[2] = s->i_abc[2];
    pin.i_d = s->i_d;
    pin.i_q = s->i_q;
    pin.v_q = 0.0f;
    pin.temp_motor_c = s->temp_motor_c;
    pin.temp_fet_c = s->temp_fet_c;
    pin.enc_delta_counts = s->est.last_delta_counts;
    pin.armed = false;
    s->cmd.mode = (uint8_t)MF_MODE_IDLE;
    return mf_protect_clear(&s->prot, &c->protect, &pin);
}

void mf_ctrl_estop(mf_ctrl_t *s)
{
    mf_protect_trip(&s->prot, MF_FAULT_ESTOP);
    s->cmd.mode = (uint8_t)MF_MODE_IDLE;
}

uint32_t mf_ctrl_run(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out,
                     uint32_t n)
{
    mf_ctrl_pwm_t scratch;
    uint32_t k, faults = s->prot.faults;
    for (k = 0u; k < n; k++) {
        faults = mf_ctrl_step(s, c, &in[k], (out != NULL) ? &out[k] : &scratch);
    }
    return faults;
}
