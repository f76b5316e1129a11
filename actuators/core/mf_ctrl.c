/* mf_ctrl.c - the actuator controller: one current-loop step per PWM period.
 *
 * The step calls the *_inline variants of its per-period blocks (estimator,
 * sin/cos, current PI pair, SVPWM; the same code as the functions of those
 * names, see their headers), so that a period costs only the calls to the
 * protections. */
#include "mf_ctrl.h"

#include <math.h>
#include <string.h>

#include "mf_err.h"
#include "mf_foc.h"
#include "mf_math.h"

static bool mf_pos_finite(float x) { return mf_isfinitef(x) && x > 0.0f; }

/* First invalid field of c, or NULL when the config is valid. */
const char *mf_ctrl_config_problem(const mf_ctrl_config_t *c)
{
    if (!mf_pos_finite(c->pwm_period_s)) {
        return "pwm_period_s";
    }
    if (c->outer_div < 1u) {
        return "outer_div";
    }
    if (!mf_pos_finite(c->adc_i_gain_a)) {
        return "adc_i_gain_a";
    }
    if (!mf_isfinitef(c->adc_i_offset) || c->adc_i_offset < 0.0f || c->adc_i_offset > 65535.0f) {
        return "adc_i_offset";
    }
    if (!mf_pos_finite(c->adc_vbus_gain_v)) {
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
    return NULL;
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
    s->outer_count = 0u;
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
    s->kt_nm_a = 1.5f * (float)c->pole_pairs * c->flux_wb;
    s->inv_gear = 1.0f / c->gear_ratio;
    s->inv_kt_gear = s->inv_gear / s->kt_nm_a;
    s->dead_frac = c->dead_time_s / c->pwm_period_s;
    mf_ctrl_reset_loops(s);
    s->config_ok = true;
    return MF_OK;
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
    (void)c;
    if (s == NULL || cmd == NULL) {
        return MF_ENULL;
    }
    if (!mf_cmd_valid(cmd)) {
        s->cmd_rejects++;
        return MF_ERANGE;
    }
    if (cmd->mode != MF_MODE_IDLE && (!s->config_ok || s->prot.faults != 0u)) {
        s->cmd_rejects++;
        return MF_ESTATE;
    }
    if (cmd->mode != s->cmd.mode) {
        /* Bumpless transfer: the velocity/position integrator continues the
         * torque being produced; the outer loop runs on the next step. */
        mf_motion_reset(&s->motion);
        s->motion.vel_pi.integral = (s->active_mode == MF_MODE_IDLE) ? 0.0f : s->tau_out_ref;
        s->outer_count = 0u;
    }
    s->cmd = *cmd;
    mf_protect_feed(&s->prot);
    return MF_OK;
}

/* s->pwm = *out, field by field (a whole-struct copy right after the field
 * stores reads them back in one wide load, which stalls on the host). */
static void mf_ctrl_keep_pwm(mf_ctrl_t *s, const mf_ctrl_pwm_t *out)
{
    s->pwm.duty[0] = out->duty[0];
    s->pwm.duty[1] = out->duty[1];
    s->pwm.duty[2] = out->duty[2];
    s->pwm.pwm_enable = out->pwm_enable;
}

/* The safe-state output for a fault or idle: coast or brake. */
static void mf_ctrl_safe_output(mf_ctrl_t *s, const mf_ctrl_config_t *c, bool fault, mf_ctrl_pwm_t *out)
{
    bool brake = fault && s->config_ok && c->protect.safe_state == MF_SAFE_BRAKE;
    out->duty[0] = 0.0f;
    out->duty[1] = 0.0f;
    out->duty[2] = 0.0f;
    out->pwm_enable = brake;
}

/* Outer loop: output-side torque demand for the active mode, N m. */
static float mf_ctrl_outer(mf_ctrl_t *s, const mf_ctrl_config_t *c, float dt_outer_s)
{
    const mf_ctrl_cmd_t *m = &s->cmd;
    float tau_max = c->tau_out_max_nm;
    switch (m->mode) {
    case MF_MODE_VELOCITY:
        return mf_velocity_step(&s->motion, &c->motion, m->v_out_ref, s->v_out, m->tau_ff_nm, tau_max, dt_outer_s);
    case MF_MODE_POSITION:
        return mf_position_step(&s->motion, &c->motion, m->p_out_ref, m->v_out_ref, s->p_out, s->v_out,
                                m->tau_ff_nm, tau_max, dt_outer_s);
    case MF_MODE_IMPEDANCE:
        return mf_impedance_step(&s->imp, &m->imp, s->p_out, s->v_out, tau_max);
    case MF_MODE_MUSCLE:
        return mf_muscle_step(&s->muscle, &c->muscle, m->u_flex, m->u_ext, s->p_out, s->v_out, tau_max,
                              dt_outer_s);
    default:
        return 0.0f;
    }
}

/* Limit (i_d, i_q) to a circle of radius i_max, keeping the direction. */
static void mf_ctrl_limit_current(float *i_d, float *i_q, float i_max)
{
    float mag2 = (*i_d) * (*i_d) + (*i_q) * (*i_q);
    if (mag2 > i_max * i_max) {
        float k = i_max / sqrtf(mag2);
        *i_d *= k;
        *i_q *= k;
    }
}

uint32_t mf_ctrl_step(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out)
{
    float sin_e, cos_e, i_d, i_q, v_bus, v_d, v_q, v_alpha, v_beta;
    uint32_t faults;
    uint8_t mode;

    s->step_count++;
    if (!s->config_ok) {
        mf_ctrl_safe_output(s, c, true, out);
        s->pwm = *out;
        return s->prot.faults;
    }

    /* encoder -> angles and speed */
    mf_estimator_update_inline(&s->est, &c->estimator, in->enc_count, c->pwm_period_s);
    s->p_out = s->est.theta_m * s->inv_gear;
    s->v_out = s->est.omega_m * s->inv_gear;
    mf_sincosf_inline(s->est.theta_e, &sin_e, &cos_e);

    /* ADC -> phase currents and bus voltage -> dq currents. The signals are
     * stored for logging and used from locals below (on the host, reloading
     * a field the compiler stored together with its neighbours stalls). */
    {
        const float off = c->adc_i_offset;
        const float gain = c->adc_i_gain_a;
        float i_a = ((float)in->adc_i[0] - off) * gain;
        float i_b = ((float)in->adc_i[1] - off) * gain;
        float i_c, i_alpha, i_beta;
        if (c->three_shunt) {
            i_c = ((float)in->adc_i[2] - off) * gain;
            mf_clarke3(i_a, i_b, i_c, &i_alpha, &i_beta);
        } else {
            i_c = -i_a - i_b;
            mf_clarke2(i_a, i_b, &i_alpha, &i_beta);
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
        s->tau_out_est = s->kt_nm_a * i_q * c->gear_ratio;

        /* protections, before any output is computed: the fast part every
         * period, the slow part every outer_div-th period (over outer_div
         * periods); v_q is the last commanded one */
        faults = mf_protect_fast(&s->prot, &c->protect, v_bus, i_a, i_b, i_c, s->est.last_delta_counts,
                                 s->cmd.mode != MF_MODE_IDLE, c->pwm_period_s);
    }
    if (s->slow_count == 0u) {
        faults = mf_protect_slow(&s->prot, &c->protect, i_d, i_q, s->cur.v_q, in->temp_motor_c,
                                 in->temp_fet_c, c->pwm_period_s * (float)c->outer_div);
    }
    s->slow_count++;
    if (s->slow_count >= c->outer_div) {
        s->slow_count = 0u;
    }
    if (faults != 0u) {
        s->cmd.mode = (uint8_t)MF_MODE_IDLE;
    }
    mode = s->cmd.mode;
    s->active_mode = mode;
    if (mode == MF_MODE_IDLE) {
        mf_ctrl_reset_loops(s);
        mf_ctrl_safe_output(s, c, faults != 0u, out);
        s->pwm = *out;
        return faults;
    }

    /* references -> dq voltages */
    if (mode == MF_MODE_VOLTAGE) {
        float v_max = c->current.v_max_frac * MF_INV_SQRT3_F * mf_maxf(v_bus, 0.0f);
        v_d = mf_satf(s->cmd.v_d_ref, -v_max, v_max);
        v_q = mf_satf(s->cmd.v_q_ref, -v_max, v_max);
        if (s->cmd.force_angle) {
            mf_sincosf(s->cmd.theta_e_force, &sin_e, &cos_e);
        }
        s->cur.v_d = v_d;
        s->cur.v_q = v_q;
    } else {
        if (mode == MF_MODE_CURRENT) {
            s->i_d_ref = s->cmd.i_d_ref;
            s->i_q_ref = s->cmd.i_q_ref;
        } else {
            if (s->outer_count == 0u) {
                s->tau_out_ref = mf_ctrl_outer(s, c, c->pwm_period_s * (float)c->outer_div);
            }
            s->i_d_ref = 0.0f;
            s->i_q_ref = s->tau_out_ref * s->inv_kt_gear;
        }
        mf_ctrl_limit_current(&s->i_d_ref, &s->i_q_ref, c->i_limit_a * s->prot.derate);
        mf_current_step_inline(&s->cur, &c->current, s->i_d_ref, s->i_q_ref, i_d, i_q, s->est.omega_e,
                               v_bus, c->pwm_period_s);
        v_d = s->cur.v_d;
        v_q = s->cur.v_q;
    }
    s->outer_count++;
    if (s->outer_count >= c->outer_div) {
        s->outer_count = 0u;
    }

    /* advance the angle by the PWM/computation delay: rotate by delta
     * with a 3rd-order small-angle sin/cos (|delta| is a few 0.01 rad) */
    if (!(mode == MF_MODE_VOLTAGE && s->cmd.force_angle)) {
        float delta = mf_satf(s->est.omega_e * c->latency_steps * c->pwm_period_s, -0.5f, 0.5f);
        float d2 = delta * delta;
        float sd = delta * (1.0f - d2 * (1.0f / 6.0f));
        float cd = 1.0f - 0.5f * d2 * (1.0f - d2 * (1.0f / 12.0f));
        float s2 = sin_e * cd + cos_e * sd;
        float c2 = cos_e * cd - sin_e * sd;
        sin_e = s2;
        cos_e = c2;
    }
    mf_inv_park(v_d, v_q, sin_e, cos_e, &v_alpha, &v_beta);
    mf_svpwm_inline(v_alpha, v_beta, v_bus, &out->duty[0], &out->duty[1], &out->duty[2]);
    if (s->dead_frac > 0.0f) {
        mf_deadtime_comp(out->duty, s->i_abc, s->dead_frac, c->deadtime_i_band_a);
    }
    out->pwm_enable = true;
    mf_ctrl_keep_pwm(s, out);
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
