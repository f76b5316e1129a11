/* test_inject.c - identification test modes: waveforms, window rounding,
 * lock-in against analytic sums, rotate bookkeeping, NaN safety. */
#include <math.h>
#include <string.h>

#include "mf_inject.h"
#include "mf_test.h"

#define T_PWM 25e-6f
#define PI_D 3.14159265358979323846

static mf_inject_config_t base_cfg(void)
{
    mf_inject_config_t c;
    memset(&c, 0, sizeof c);
    c.kind = MF_INJECT_V_DC;
    c.axis = MF_INJECT_AXIS_D;
    c.amp = 1.0f;
    c.window_s = 0.01f;
    return c;
}

static void test_config_problem(void)
{
    mf_inject_config_t c = base_cfg();
    MF_CHECK(mf_inject_config_problem(&c, T_PWM) == NULL);
    MF_CHECK(strcmp(mf_inject_config_problem(&c, 0.0f), "pwm_period_s") == 0);
    MF_CHECK(strcmp(mf_inject_config_problem(&c, NAN), "pwm_period_s") == 0);
    c.kind = 6;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "kind") == 0);
    c = base_cfg();
    c.axis = 2;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "axis") == 0);
    c = base_cfg();
    c.amp = NAN;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "amp") == 0);
    c = base_cfg();
    c.hold = INFINITY;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "hold") == 0);
    c = base_cfg();
    c.kind = MF_INJECT_V_SINE;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "freq_hz") == 0); /* f = 0 */
    c.freq_hz = 10001.0f;                                                    /* > 40 kHz / 4 */
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "freq_hz") == 0);
    c.freq_hz = 10000.0f;
    MF_CHECK(mf_inject_config_problem(&c, T_PWM) == NULL);
    c.freq_hz = 50.0f; /* window 10 ms < one period */
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "window_s") == 0);
    c = base_cfg();
    c.kind = MF_INJECT_I_ROTATE;
    c.omega_e_cmd = 0.6f / T_PWM;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "omega_e_cmd") == 0);
    c.omega_e_cmd = 100.0f;
    c.lockin_harmonic = -1.0f;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "lockin_harmonic") == 0);
    c.lockin_harmonic = 1.0e4f; /* 1e4 * 100 * 25e-6 = 25 rad per period */
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "lockin_harmonic") == 0);
    c.lockin_harmonic = 0.0f;
    c.accel_e = -1.0f;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "accel_e") == 0);
    c = base_cfg();
    c.settle_s = -1.0f;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "settle_s") == 0);
    c = base_cfg();
    c.window_s = 1.0e-6f; /* less than a period */
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "window_s") == 0);
    c.window_s = 1000.0f; /* 4e7 periods */
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "window_s") == 0);
    c = base_cfg();
    c.theta0_e = NAN;
    MF_CHECK(strcmp(mf_inject_config_problem(&c, T_PWM), "theta0_e") == 0);
}

static void test_dc_waveform_and_means(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    c.kind = MF_INJECT_I_DC;
    c.axis = MF_INJECT_AXIS_Q;
    c.amp = 2.0f;
    c.offset = 0.5f;
    c.hold = -1.5f;
    c.theta0_e = 1.0f;
    c.settle_s = 10.0f * T_PWM;
    c.window_s = 100.0f * T_PWM;
    mf_inject_reset(&s, &c, T_PWM);
    MF_CHECK(s.n_settle == 10u);
    MF_CHECK(s.n_window == 100u);
    for (k = 0u; k < 200u; k++) {
        /* measured i_q = k-th value: settle samples 0..9 are 1000 (ignored) */
        float iq = (k < 10u) ? 1000.0f : (float)(k - 10u);
        mf_inject_begin(&s, &c, 0.3f, T_PWM, &o);
        MF_CHECK(o.use_current);
        MF_CHECK_NEAR(o.theta_e, 1.0f, 0.0f);
        MF_CHECK_NEAR(o.ref_q, 2.5f, 0.0f);
        MF_CHECK_NEAR(o.ref_d, -1.5f, 0.0f);
        mf_inject_end(&s, &c, 0.25f, iq, 3.0f, -4.0f, 7.0f, 1.0f);
        MF_CHECK(s.done == (k >= 109u));
    }
    MF_CHECK(s.n == 100u);
    MF_CHECK_NEAR(s.i_q_mean, 49.5, 1e-5);  /* mean of 0..99 */
    MF_CHECK_NEAR(s.i_d_mean, 0.25, 1e-7);
    MF_CHECK_NEAR(s.v_d_mean, 3.0, 1e-6);
    MF_CHECK_NEAR(s.v_q_mean, -4.0, 1e-6);
    MF_CHECK_NEAR(s.omega_e_mean, 7.0, 1e-6);
    MF_CHECK_NEAR(s.theta_err_mean, 0.0, 1e-6); /* encoder at the injected angle */
    MF_CHECK_NEAR(s.t_s, 200.0 * T_PWM, 1e-7);
}

static void test_sine_waveform_and_window(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    c.kind = MF_INJECT_V_SINE;
    c.amp = 0.7f;
    c.offset = 0.2f;
    c.freq_hz = 333.0f;
    c.window_s = 0.1f;
    mf_inject_reset(&s, &c, T_PWM);
    /* floor(0.1 * 333) = 33 periods = 33 / (333 * 25e-6) = 3963.96 samples */
    MF_CHECK(s.n_window == 3964u);
    for (k = 0u; k < 4000u; k++) {
        double ref = 0.2 + 0.7 * sin(2.0 * PI_D * 333.0 * (double)k * (double)T_PWM);
        mf_inject_begin(&s, &c, 0.0f, T_PWM, &o);
        MF_CHECK(!o.use_current);
        MF_CHECK_NEAR(o.ref_d, ref, 2e-5);
        MF_CHECK_NEAR(o.ref_q, 0.0, 0.0);
        mf_inject_end(&s, &c, 0.0f, 0.0f, o.ref_d, 0.0f, 0.0f, 0.0f);
    }
    /* the fit of the commanded voltage recovers the sine (v_s = amp) */
    MF_CHECK(s.done);
    MF_CHECK_NEAR(s.v_s, 0.7, 2e-5);
    MF_CHECK_NEAR(s.v_c, 0.0, 2e-5);
    MF_CHECK_NEAR(s.v_d_mean, 0.2, 2e-4); /* 3964 samples for 3963.96: one part in 1e5 */
}

/* Lock-in against the analytic 2/N sums (double) with whole periods, and a
 * least-squares fit with a window that is not a whole number of samples. */
static void test_lockin(void)
{
    const double fs[2] = {1000.0, 777.0};
    int m;
    for (m = 0; m < 2; m++) {
        mf_inject_config_t c = base_cfg();
        mf_inject_t s;
        mf_inject_out_t o;
        double sum_c = 0.0, sum_s = 0.0, sum_vc = 0.0, sum_vs = 0.0;
        uint32_t k, n;
        c.kind = MF_INJECT_I_SINE;
        c.axis = MF_INJECT_AXIS_Q;
        c.amp = 1.0f;
        c.offset = 3.0f;
        c.freq_hz = (float)fs[m];
        c.settle_s = 0.001f;
        c.window_s = 0.05f;
        mf_inject_reset(&s, &c, T_PWM);
        n = s.n_window;
        for (k = 0u; k < s.n_settle + n; k++) {
            double ph = 2.0 * PI_D * fs[m] * (double)k * (double)T_PWM;
            /* response: 3 + 0.4 cos - 0.25 sin (lags the sine), and a voltage
             * with a 2nd harmonic that the fit must reject */
            double iq = 3.0 + 0.4 * cos(ph) - 0.25 * sin(ph);
            double vq = 1.0 + 2.0 * cos(ph) + 0.5 * sin(ph) + 0.3 * cos(2.0 * ph);
            mf_inject_begin(&s, &c, 0.0f, T_PWM, &o);
            mf_inject_end(&s, &c, 0.1f, (float)iq, 0.0f, (float)vq, 0.0f, 0.0f);
            if (k >= s.n_settle) {
                sum_c += iq * cos(ph);
                sum_s += iq * sin(ph);
                sum_vc += vq * cos(ph);
                sum_vs += vq * sin(ph);
            }
        }
        MF_CHECK(s.done);
        if (m == 0) {
            /* 40 samples per period, 50 periods: the 2/N sums are exact. The
             * core's float phase step 2 pi f T differs from the double one by
             * ~6e-8 relative: <= 2e-5 rad at the window's end, times the
             * amplitudes (<= 2) */
            MF_CHECK(n == 2000u);
            MF_CHECK_NEAR(s.i_c, 2.0 * sum_c / n, 5e-5);
            MF_CHECK_NEAR(s.i_s, 2.0 * sum_s / n, 5e-5);
            MF_CHECK_NEAR(s.v_c, 2.0 * sum_vc / n, 5e-5);
            MF_CHECK_NEAR(s.v_s, 2.0 * sum_vs / n, 5e-5);
        }
        MF_CHECK_NEAR(s.i_c, 0.4, 1e-4);
        MF_CHECK_NEAR(s.i_s, -0.25, 1e-4);
        MF_CHECK_NEAR(s.v_c, 2.0, 1e-3);
        MF_CHECK_NEAR(s.v_s, 0.5, 1e-3);
        MF_CHECK_NEAR(s.i_q_mean, 3.0, 1e-3);
        MF_CHECK_NEAR(s.i_d_mean, 0.1, 1e-6);
    }
}

static void test_rotate(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    double th_enc = 0.4; /* electrical angle as the encoder sees it: reversed and 1/3 the speed */
    double sum_iq_r = 0.0;
    c.kind = MF_INJECT_I_ROTATE;
    c.amp = 3.0f;
    c.omega_e_cmd = 200.0f;
    c.theta0_e = -3.0f;
    c.window_s = 0.2f; /* 8000 periods, 1.6 rad/... 40 rad commanded */
    c.lockin_harmonic = 2.0f;
    mf_inject_reset(&s, &c, T_PWM);
    for (k = 0u; k < 8000u; k++) {
        double th_cmd = -3.0 + 200.0 * (double)k * (double)T_PWM;
        double w = fmod(th_cmd + PI_D, 2.0 * PI_D);
        double e_wrapped = fmod(fmod(th_enc + PI_D, 2.0 * PI_D) + 2.0 * PI_D, 2.0 * PI_D) - PI_D;
        double ph = 2.0 * (th_enc);
        /* a rotor-frame current with a harmonic at 2 theta_enc */
        double iq_r = 0.5 + 0.2 * cos(ph) + 0.1 * sin(ph);
        double e = th_enc - th_cmd, id, iq;
        if (w < 0.0) {
            w += 2.0 * PI_D;
        }
        mf_inject_begin(&s, &c, 0.0f, T_PWM, &o);
        MF_CHECK_NEAR(o.theta_e, w - PI_D, 2e-3);
        MF_CHECK_NEAR(o.ref_d, 3.0, 0.0);
        MF_CHECK(o.use_current);
        /* injection-frame currents whose rotor-frame q part is iq_r, d part 1 */
        id = 1.0 * cos(e) - iq_r * sin(e);
        iq = 1.0 * sin(e) + iq_r * cos(e);
        mf_inject_end(&s, &c, (float)id, (float)iq, 0.0f, 0.0f, 0.0f, (float)e_wrapped);
        sum_iq_r += iq_r;
        th_enc -= 200.0 / 3.0 * (double)T_PWM;
    }
    MF_CHECK(s.done);
    MF_CHECK_NEAR(s.theta_cmd_turned, 200.0 * 7999.0 * (double)T_PWM, 2e-3);
    MF_CHECK_NEAR(s.theta_enc_turned, -200.0 / 3.0 * 7999.0 * (double)T_PWM, 2e-3);
    MF_CHECK_NEAR(s.i_d_rotor_mean, 1.0, 1e-4);
    MF_CHECK_NEAR(s.i_q_rotor_mean, sum_iq_r / 8000.0, 1e-5); /* 4.2 harmonic periods: not 0.5 */
    MF_CHECK_NEAR(s.i_c, 0.2, 1e-3);
    MF_CHECK_NEAR(s.i_s, 0.1, 1e-3);
}

/* A ramped rotating vector: theta = theta0 + accel t^2 / 2 until omega_e_cmd. */
static void test_rotate_ramp(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    double th = 0.5, w = 0.0;
    c.kind = MF_INJECT_V_ROTATE;
    c.amp = 1.0f;
    c.omega_e_cmd = -300.0f;
    c.accel_e = 1.0e4f; /* 30 ms ramp */
    c.theta0_e = 0.5f;
    c.window_s = 0.1f;
    mf_inject_reset(&s, &c, T_PWM);
    for (k = 0u; k < 4000u; k++) {
        mf_inject_begin(&s, &c, 0.0f, T_PWM, &o);
        MF_CHECK_NEAR(o.theta_e, atan2(sin(th), cos(th)), 1e-4);
        MF_CHECK(!o.use_current);
        mf_inject_end(&s, &c, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f);
        w = fmax(w - 1.0e4 * (double)T_PWM, -300.0);
        th += w * (double)T_PWM;
    }
}

static void test_theta_err_circular(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    c.kind = MF_INJECT_I_DC;
    c.theta0_e = 3.0f;
    c.window_s = 40.0f * T_PWM;
    mf_inject_reset(&s, &c, T_PWM);
    for (k = 0u; k < 40u; k++) {
        /* encoder at theta0 + pi -/+ 0.05: wrapping across +-pi */
        float enc = 3.0f + 3.14159265f + ((k & 1u) ? 0.05f : -0.05f);
        mf_inject_begin(&s, &c, enc, T_PWM, &o);
        mf_inject_end(&s, &c, 1.0f, 0.0f, 0.5f, 0.0f, 0.0f, enc - 6.28318531f);
    }
    MF_CHECK(s.done);
    MF_CHECK_NEAR(fabs(s.theta_err_mean), PI_D, 1e-5);
    /* the rotor-frame vector of (1, 0) at an error of ~pi is (-1, 0) */
    MF_CHECK_NEAR(s.i_d_rotor_mean, -cos(0.05), 1e-5);
    MF_CHECK_NEAR(s.i_q_rotor_mean, 0.0, 1e-5);
}

static void test_nan_safety(void)
{
    mf_inject_config_t c = base_cfg();
    mf_inject_t s;
    mf_inject_out_t o;
    uint32_t k;
    c.kind = MF_INJECT_V_SINE;
    c.use_encoder = true;
    c.freq_hz = 1000.0f;
    c.amp = 1.0f;
    c.window_s = 0.002f; /* 80 samples */
    mf_inject_reset(&s, &c, T_PWM);
    for (k = 0u; k < 100u; k++) {
        float bad = (k % 7u == 3u) ? NAN : 1.0f;
        float enc = (k == 5u) ? INFINITY : 0.5f;
        mf_inject_begin(&s, &c, enc, (k == 9u) ? NAN : T_PWM, &o);
        MF_CHECK(isfinite(o.theta_e) && isfinite(o.ref_d) && isfinite(o.ref_q));
        MF_CHECK_NEAR(o.theta_e, 0.5, 0.0); /* an Inf encoder angle keeps the previous one */
        mf_inject_end(&s, &c, bad, 0.0f, 0.0f, 0.0f, 0.0f, enc);
    }
    MF_CHECK(s.done);
    MF_CHECK(s.n == 80u); /* done at k = 93: 80 + 14 skipped (k = 5 and k % 7 == 3 up to 87) - 1 */
    MF_CHECK(s.n_bad == 14u); 
    MF_CHECK(isfinite(s.i_d_mean) && isfinite(s.i_c) && isfinite(s.i_s) && isfinite(s.t_s));
    MF_CHECK_NEAR(s.i_d_mean, 1.0, 1e-6);
    /* a refused config: zero references, nothing accumulated */
    c.freq_hz = NAN;
    mf_inject_reset(&s, &c, T_PWM);
    MF_CHECK(s.n_window == 0u);
    for (k = 0u; k < 10u; k++) {
        mf_inject_begin(&s, &c, 0.2f, T_PWM, &o);
        MF_CHECK(o.ref_d == 0.0f && o.ref_q == 0.0f && isfinite(o.theta_e));
        mf_inject_end(&s, &c, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.2f);
    }
    MF_CHECK(!s.done && s.n == 0u);
}

int main(void)
{
    test_config_problem();
    test_dc_waveform_and_means();
    test_sine_waveform_and_window();
    test_lockin();
    test_rotate();
    test_rotate_ramp();
    test_theta_err_circular();
    test_nan_safety();
    return mf_test_report("test_inject");
}
