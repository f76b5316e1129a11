/* test_control.c - C tests of the control laws: PI, current, motion,
 * impedance, muscle. References are written from the definitions (in
 * double), not from the implementation. */
#include <math.h>
#include <string.h>

#include "mf_current.h"
#include "mf_err.h"
#include "mf_impedance.h"
#include "mf_motion.h"
#include "mf_muscle.h"
#include "mf_pi.h"
#include "mf_test.h"

static int is_finite(double x) { return x == x && x - x == 0.0; }

/* Unsaturated PI equals the backward-Euler PI out = kp e + ki T sum(e). */
static void test_pi_linear(void)
{
    mf_pi_config_t c = {2.0f, 50.0f};
    mf_pi_t s;
    mf_pi_reset(&s);
    MF_CHECK(mf_pi_config_check(&c) == MF_OK);
    double sum = 0.0;
    for (int k = 0; k < 200; k++) {
        double e = sin(0.05 * k) + 0.3;
        float ff = (float)(0.1 * cos(0.01 * k));
        sum += e;
        double ref = (double)ff + 2.0 * e + 50.0 * 1e-3 * sum;
        float out = mf_pi_step(&s, &c, (float)e, ff, -100.0f, 100.0f, 1e-3f);
        MF_CHECK_NEAR(out, ref, 1e-4);
        MF_CHECK(!s.saturated);
    }
    MF_CHECK_NEAR(s.p_term, 2.0f * (float)(sin(0.05 * 199) + 0.3), 1e-6);
}

static void test_pi_config(void)
{
    mf_pi_config_t bad[] = {{-1.0f, 1.0f}, {1.0f, -1.0f}, {NAN, 1.0f}, {1.0f, INFINITY}};
    for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        MF_CHECK(mf_pi_config_check(&bad[k]) == MF_EINVAL);
    }
    MF_CHECK(mf_pi_config_check(NULL) == MF_ENULL);
    mf_pi_config_t zero = {0.0f, 0.0f};
    MF_CHECK(mf_pi_config_check(&zero) == MF_OK);
}

/* First-order plant y' = (K u - y)/T simulated exactly (ZOH), saturating
 * actuator |u| <= u_max. Returns the overshoot in % of the step. */
static double pi_step_overshoot(int anti_windup, double *y_final)
{
    const double T = 0.01, K = 1.0, wc = 500.0, dt = 1e-4, r = 1.0, u_max = 1.5;
    const double a = exp(-dt / T), b = K * (1.0 - a);
    mf_pi_config_t c = {(float)(T * wc / K), (float)(wc / K)};
    mf_pi_t s;
    mf_pi_reset(&s);
    double y = 0.0, y_max = 0.0, integ = 0.0;
    for (int k = 0; k < 3000; k++) {
        double e = r - y, u;
        if (anti_windup) {
            u = mf_pi_step(&s, &c, (float)e, 0.0f, (float)-u_max, (float)u_max, (float)dt);
        } else { /* plain PI, output clipped, integrator unaware */
            integ += (double)c.ki * e * dt;
            u = (double)c.kp * e + integ;
            u = u > u_max ? u_max : (u < -u_max ? -u_max : u);
        }
        y = a * y + b * u;
        if (y > y_max) {
            y_max = y;
        }
    }
    *y_final = y;
    return 100.0 * (y_max - r) / r;
}

static void test_pi_anti_windup(void)
{
    double yf_aw, yf_plain;
    double os_aw = pi_step_overshoot(1, &yf_aw);
    double os_plain = pi_step_overshoot(0, &yf_plain);
    printf("pi: overshoot anti-windup %.4f %%, plain %.2f %%\n", os_aw, os_plain);
    MF_CHECK(os_plain > 10.0);
    MF_CHECK(os_aw < 0.5);
    MF_CHECK_NEAR(yf_aw, 1.0, 1e-4);
}

/* A limit that shrinks below the integrator: back-calculation pulls it to
 * the limit at once, so the output leaves the limit as soon as the error
 * reverses. */
static void test_pi_back_calculation(void)
{
    mf_pi_config_t c = {1.0f, 100.0f};
    mf_pi_t s;
    mf_pi_reset(&s);
    for (int k = 0; k < 100; k++) {
        mf_pi_step(&s, &c, 1.0f, 0.0f, -10.0f, 10.0f, 1e-3f);
    }
    /* err = 1 integrates until kp*err + integral reaches the limit 10 */
    MF_CHECK_NEAR(s.integral, 9.0f, 1e-4);
    /* limit drops to 2 while err = -0.5 still leaves u above it */
    float out = mf_pi_step(&s, &c, -0.5f, 0.0f, -2.0f, 2.0f, 1e-3f);
    MF_CHECK(out == 2.0f);
    MF_CHECK(s.saturated);
    MF_CHECK_NEAR(s.integral + s.p_term, 2.0f, 1e-6); /* sits on the limit */
    /* proportional term pushes into the limit: integral + ff on the limit */
    mf_pi_reset(&s);
    s.integral = 5.0f;
    mf_pi_step(&s, &c, 10.0f, 0.5f, -2.0f, 2.0f, 1e-3f);
    MF_CHECK_NEAR(s.integral, 1.5f, 1e-6);
    /* conditional integration: no integration into the limit */
    mf_pi_reset(&s);
    s.integral = 1.0f;
    mf_pi_step(&s, &c, 10.0f, 0.0f, -2.0f, 2.0f, 1e-3f);
    MF_CHECK_NEAR(s.integral, 1.0f, 1e-7);
    /* symmetric low side */
    mf_pi_reset(&s);
    s.integral = -1.0f;
    mf_pi_step(&s, &c, -10.0f, 0.0f, -2.0f, 2.0f, 1e-3f);
    MF_CHECK_NEAR(s.integral, -1.0f, 1e-7);
    MF_CHECK(s.out == -2.0f);
}

static void test_pi_bad_inputs(void)
{
    mf_pi_config_t c = {3.0f, 1000.0f};
    mf_pi_t s;
    mf_pi_reset(&s);
    mf_pi_step(&s, &c, 1.0f, 0.0f, -5.0f, 5.0f, 1e-3f);
    float out = mf_pi_step(&s, &c, NAN, 0.0f, -5.0f, 5.0f, 1e-3f);
    MF_CHECK(is_finite(s.integral) && is_finite(out));
    MF_CHECK_NEAR(s.integral, 1.0f, 1e-6); /* held */
    out = mf_pi_step(&s, &c, INFINITY, NAN, -5.0f, 5.0f, NAN);
    MF_CHECK(is_finite(s.integral) && is_finite(out));
    out = mf_pi_step(&s, &c, 1e38f, 0.0f, -5.0f, 5.0f, 1e3f);
    MF_CHECK(out == 5.0f && is_finite(s.integral));
    out = mf_pi_step(&s, &c, -1e38f, 0.0f, -5.0f, 5.0f, 1e3f);
    MF_CHECK(out == -5.0f && is_finite(s.integral));
    out = mf_pi_step(&s, &c, 1e38f, 0.0f, -INFINITY, INFINITY, 1e3f);
    MF_CHECK(is_finite(s.integral));
    /* inverted and NaN limits: zero output, no state */
    out = mf_pi_step(&s, &c, 1.0f, 0.0f, 5.0f, -5.0f, 1e-3f);
    MF_CHECK(out == 0.0f && s.integral == 0.0f && s.saturated);
    out = mf_pi_step(&s, &c, 1.0f, 0.0f, NAN, 5.0f, 1e-3f);
    MF_CHECK(out == 0.0f && s.integral == 0.0f);
    out = mf_pi_step(&s, &c, 1.0f, 0.0f, -5.0f, NAN, 1e-3f);
    MF_CHECK(out == 0.0f && s.integral == 0.0f);
    /* the loop recovers afterwards */
    out = mf_pi_step(&s, &c, 1.0f, 0.0f, -5.0f, 5.0f, 1e-3f);
    MF_CHECK_NEAR(out, 4.0f, 1e-5);
}

static mf_current_config_t current_config(void)
{
    mf_current_config_t c;
    memset(&c, 0, sizeof c);
    c.pi_d.kp = 1.0f;
    c.pi_d.ki = 200.0f;
    c.pi_q.kp = 1.5f;
    c.pi_q.ki = 300.0f;
    c.ld_h = 2e-4f;
    c.lq_h = 3e-4f;
    c.flux_wb = 0.01f;
    c.decouple = true;
    c.v_max_frac = 0.95f;
    return c;
}

static void test_current_unlimited(void)
{
    mf_current_config_t c = current_config();
    mf_current_t s;
    mf_current_reset(&s);
    MF_CHECK(mf_current_config_check(&c) == MF_OK);
    const double dt = 25e-6;
    double sd = 0.0, sq = 0.0;
    for (int k = 0; k < 50; k++) {
        double id_ref = 0.5, iq_ref = 2.0, id = 0.1 * k / 50.0, iq = 1.5, w = 300.0;
        sd += id_ref - id;
        sq += iq_ref - iq;
        double vd = -w * 3e-4 * iq + 1.0 * (id_ref - id) + 200.0 * dt * sd;
        double vq = w * (2e-4 * id + 0.01) + 1.5 * (iq_ref - iq) + 300.0 * dt * sq;
        mf_current_step(&s, &c, (float)id_ref, (float)iq_ref, (float)id, (float)iq, (float)w,
                        48.0f, (float)dt);
        MF_CHECK_NEAR(s.v_d, vd, 1e-5);
        MF_CHECK_NEAR(s.v_q, vq, 1e-5);
        MF_CHECK(!s.limited);
    }
}

static void test_current_circle(void)
{
    mf_current_config_t c = current_config();
    mf_current_t s;
    const float v_bus = 24.0f;
    const double v_max = 0.95 * 24.0 / sqrt(3.0);
    /* q demand alone saturates: v_q on the circle, v_d small */
    mf_current_reset(&s);
    mf_current_step(&s, &c, 0.0f, 100.0f, 0.0f, 0.0f, 0.0f, v_bus, 25e-6f);
    MF_CHECK(s.limited);
    MF_CHECK_NEAR(s.v_q, v_max, 1e-5);
    /* both saturate: d priority, v_d = +-v_max, v_q = 0 */
    mf_current_reset(&s);
    mf_current_step(&s, &c, -100.0f, 100.0f, 0.0f, 0.0f, 0.0f, v_bus, 25e-6f);
    MF_CHECK_NEAR(s.v_d, -v_max, 1e-5);
    MF_CHECK_NEAR(s.v_q, 0.0, 1e-6);
    /* d moderate: v_q gets the rest of the circle */
    mf_current_reset(&s);
    mf_current_step(&s, &c, 8.0f, 100.0f, 0.0f, 0.0f, 0.0f, v_bus, 25e-6f);
    double vd = 8.0 * (1.0 + 200.0 * 25e-6);
    MF_CHECK_NEAR(s.v_d, vd, 1e-5);
    MF_CHECK_NEAR(s.v_q, sqrt(v_max * v_max - vd * vd), 1e-4);
    MF_CHECK(s.pi_q.saturated && !s.pi_d.saturated);
    /* random inputs: never outside the circle */
    unsigned seed = 12345u;
    for (int k = 0; k < 2000; k++) {
        float x[6];
        for (int j = 0; j < 6; j++) {
            seed = seed * 1103515245u + 12345u;
            x[j] = (float)((double)(seed >> 8) / 16777216.0 * 200.0 - 100.0);
        }
        mf_current_step(&s, &c, x[0], x[1], x[2], x[3], 50.0f * x[4], v_bus, 25e-6f);
        double mag = sqrt((double)s.v_d * s.v_d + (double)s.v_q * s.v_q);
        MF_CHECK(mag <= v_max * (1.0 + 1e-6));
    }
    /* bad bus voltage: zero output */
    mf_current_step(&s, &c, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 25e-6f);
    MF_CHECK(s.v_d == 0.0f && s.v_q == 0.0f && s.limited);
    mf_current_step(&s, &c, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, NAN, 25e-6f);
    MF_CHECK(s.v_d == 0.0f && s.v_q == 0.0f && s.pi_q.integral == 0.0f);
    mf_current_step(&s, &c, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, -INFINITY, 25e-6f);
    MF_CHECK(s.v_d == 0.0f && s.v_q == 0.0f);
    mf_current_step(&s, &c, 1.0f, 1.0f, NAN, 0.0f, NAN, 24.0f, 25e-6f);
    MF_CHECK(is_finite(s.v_d) && is_finite(s.v_q) && is_finite(s.pi_d.integral));
    c.v_max_frac = 1.5f;
    MF_CHECK(mf_current_config_check(&c) == MF_EINVAL);
    c.v_max_frac = 0.0f;
    MF_CHECK(mf_current_config_check(&c) == MF_EINVAL);
    c = current_config();
    c.lq_h = -1e-4f;
    MF_CHECK(mf_current_config_check(&c) == MF_EINVAL);
}

/* Velocity loop on J w' = tau - tau_load: zero steady-state error. */
static void test_velocity_loop(void)
{
    mf_motion_config_t c = {{0.5f, 10.0f}, 20.0f, 5.0f};
    mf_motion_t s;
    mf_motion_reset(&s);
    MF_CHECK(mf_motion_config_check(&c) == MF_OK);
    const double J = 0.01, dt = 1e-3, load = 0.8;
    double w = 0.0;
    for (int k = 0; k < 3000; k++) {
        double tau = mf_velocity_step(&s, &c, 2.0f, (float)w, 0.0f, 3.0f, (float)dt);
        w += (tau - load) / J * dt;
    }
    MF_CHECK_NEAR(w, 2.0, 1e-4);
    MF_CHECK_NEAR(s.tau_out, load, 1e-3);
    MF_CHECK_NEAR(s.vel_pi.integral, load, 1e-3);
}

/* Peak speed of the velocity loop's response to a 1 rad/s reference step on
 * J w' = tau (the PI zero makes a type-2 loop overshoot). */
static double velocity_step_peak(const mf_motion_config_t *c, double J, double dt)
{
    mf_motion_t s;
    mf_motion_reset(&s);
    double w = 0.0, w_max = 0.0;
    for (int k = 0; k < 5000; k++) {
        double tau = mf_velocity_step(&s, c, 1.0f, (float)w, 0.0f, 3.0f, (float)dt);
        w += tau / J * dt;
        w_max = w > w_max ? w : w_max;
    }
    return w_max;
}

/* Position loop: the speed reference never exceeds v_max, so the speed
 * peaks no higher than the velocity loop's own step response to v_max. */
static void test_position_loop(void)
{
    mf_motion_config_t c = {{0.5f, 10.0f}, 20.0f, 1.0f};
    mf_motion_t s;
    mf_motion_reset(&s);
    const double J = 0.01, dt = 1e-3;
    double w = 0.0, p = 0.0, w_max = 0.0;
    double w_peak_vel = velocity_step_peak(&c, J, dt);
    for (int k = 0; k < 5000; k++) {
        double tau = mf_position_step(&s, &c, 2.0f, 0.0f, (float)p, (float)w, 0.0f, 3.0f, (float)dt);
        MF_CHECK(fabs(s.v_ref) <= 1.0);
        w += tau / J * dt;
        p += w * dt;
        w_max = fabs(w) > w_max ? fabs(w) : w_max;
    }
    printf("motion: position-loop peak speed %.4f rad/s, velocity-step peak %.4f rad/s (v_max 1)\n",
           w_max, w_peak_vel);
    MF_CHECK(w_max <= w_peak_vel * (1.0 + 1e-6));
    MF_CHECK_NEAR(p, 2.0, 1e-3);
    /* v_ff is inside the clamp */
    mf_position_step(&s, &c, 2.0f, 10.0f, 2.0f, 0.0f, 0.0f, 3.0f, (float)dt);
    MF_CHECK(s.v_ref == 1.0f);
    /* NaN position: no speed demand from it */
    mf_motion_reset(&s);
    mf_position_step(&s, &c, NAN, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f, (float)dt);
    MF_CHECK(s.v_ref == 0.0f && s.tau_out == 0.0f);
    mf_velocity_step(&s, &c, 1.0f, 0.0f, 0.0f, NAN, (float)dt);
    MF_CHECK(s.tau_out == 0.0f);
    mf_motion_config_t bad = {{0.5f, 10.0f}, 20.0f, 0.0f};
    MF_CHECK(mf_motion_config_check(&bad) == MF_EINVAL);
}

static void test_impedance(void)
{
    mf_impedance_cmd_t cmd = {1.0f, 0.5f, 30.0f, 2.0f, 0.25f};
    mf_impedance_t s;
    float tau = mf_impedance_step(&s, &cmd, 0.9f, 0.2f, 10.0f);
    MF_CHECK_NEAR(tau, 30.0 * 0.1 + 2.0 * 0.3 + 0.25, 1e-5);
    MF_CHECK_NEAR(s.tau_spring, 3.0, 1e-5);
    MF_CHECK_NEAR(s.tau_damper, 0.6, 1e-6);
    tau = mf_impedance_step(&s, &cmd, -1.0f, 0.0f, 10.0f);
    MF_CHECK(tau == 10.0f);
    tau = mf_impedance_step(&s, &cmd, 3.0f, 0.0f, 10.0f);
    MF_CHECK(tau == -10.0f);
    tau = mf_impedance_step(&s, &cmd, NAN, 0.0f, 10.0f);
    MF_CHECK(tau == 0.0f);
    tau = mf_impedance_step(&s, &cmd, 0.9f, 0.2f, NAN);
    MF_CHECK(tau == 0.0f);
    cmd.kp = -5.0f;
    cmd.kd = NAN;
    tau = mf_impedance_step(&s, &cmd, 0.9f, 0.2f, 10.0f);
    MF_CHECK_NEAR(tau, 0.25, 1e-7);
}

static mf_muscle_config_t muscle_config(void)
{
    mf_muscle_config_t c;
    c.f_max_n = 1000.0f;
    c.l_opt_m = 0.1f;
    c.l_ref_m = 0.1f;
    c.moment_arm_m = 0.02f;
    c.v_max_lopt_s = 10.0f;
    c.width = 0.5f;
    c.curv = 5.0f;
    c.ecc = 1.5f;
    c.k_pe = 4.0f;
    c.tau_act_s = 0.01f;
    c.tau_deact_s = 0.04f;
    return c;
}

static void test_muscle(void)
{
    mf_muscle_config_t c = muscle_config();
    mf_muscle_t s;
    mf_muscle_reset(&s);
    MF_CHECK(mf_muscle_config_check(&c) == MF_OK);
    /* activation step against 1 - exp(-t/tau); error bound h^3/65 + rounding */
    const double dt = 1e-3, h = dt / 0.01;
    double err_max = 0.0;
    for (int k = 1; k <= 100; k++) {
        mf_muscle_step(&s, &c, 1.0f, 0.0f, 0.0f, 0.0f, 100.0f, (float)dt);
        double e = fabs(s.act[0] - (1.0 - exp(-k * dt / 0.01)));
        err_max = e > err_max ? e : err_max;
    }
    printf("muscle: activation step error %.3g (bound h^3/65 = %.3g)\n", err_max, h * h * h / 65.0);
    MF_CHECK(err_max < h * h * h / 65.0 + 1e-6);
    MF_CHECK(s.act[1] == 0.0f);
    /* isometric at l~ = 1, v = 0, a = 1 */
    mf_muscle_reset(&s);
    s.act[0] = 1.0f;
    mf_muscle_step(&s, &c, 1.0f, 0.0f, 0.0f, 0.0f, 100.0f, (float)dt);
    MF_CHECK_NEAR(s.force_n[0], 1000.0, 1e-3);
    MF_CHECK_NEAR(s.tau_out, 20.0, 1e-4);
    /* torque saturation */
    mf_muscle_step(&s, &c, 1.0f, 0.0f, 0.0f, 0.0f, 5.0f, (float)dt);
    MF_CHECK(s.tau_out == 5.0f);
    /* bad inputs */
    mf_muscle_step(&s, &c, NAN, NAN, NAN, 0.0f, 100.0f, (float)dt);
    MF_CHECK(s.tau_out == 0.0f && s.act[0] >= 0.0f && s.act[0] <= 1.0f);
    mf_muscle_step(&s, &c, 1.0f, 0.0f, 0.0f, INFINITY, 100.0f, (float)dt);
    MF_CHECK(s.tau_out == 0.0f);
    mf_muscle_step(&s, &c, 1.0f, 0.0f, 1e30f, -1e30f, 100.0f, INFINITY);
    MF_CHECK(is_finite(s.tau_out) && s.act[0] == 1.0f);
    mf_muscle_step(&s, &c, 1.0f, 1.0f, 0.0f, 0.0f, 100.0f, NAN);
    MF_CHECK(s.act[0] == 1.0f);
    c.tau_act_s = 0.0f;
    MF_CHECK(mf_muscle_config_check(&c) == MF_EINVAL);
    MF_CHECK(mf_muscle_step(&s, &c, 1.0f, 0.0f, 0.0f, 0.0f, 100.0f, (float)dt) == 0.0f);
    c = muscle_config();
    c.ecc = 0.5f;
    MF_CHECK(mf_muscle_config_check(&c) == MF_EINVAL);
}

int main(void)
{
    test_pi_linear();
    test_pi_config();
    test_pi_anti_windup();
    test_pi_back_calculation();
    test_pi_bad_inputs();
    test_current_unlimited();
    test_current_circle();
    test_velocity_loop();
    test_position_loop();
    test_impedance();
    test_muscle();
    return mf_test_report("test_control");
}
