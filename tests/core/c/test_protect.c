/* test_protect.c - protections (mf_protect.c): trip at the threshold, latch,
 * refuse to clear while the cause persists, clear once it is gone; I2t trip
 * time against t = -tau ln(1 - i_cont^2 / i^2). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "mf_err.h"
#include "mf_protect.h"
#include "mf_test.h"

static const float DT = 25e-6f;

static mf_protect_config_t base_cfg(void)
{
    mf_protect_config_t c;
    c.i_max_a = 40.0f;
    c.i_cont_a = 15.0f;
    c.tau_i2t_s = 0.5f;
    c.v_bus_max_v = 56.0f;
    c.v_bus_min_v = 18.0f;
    c.temp_derate_c = 90.0f;
    c.temp_max_c = 110.0f;
    c.temp_hyst_c = 10.0f;
    c.r_ohm = 0.1f;
    c.flux_wb = 0.005f;
    c.omega_e_stuck_rad_s = 500.0f;
    c.enc_stuck_s = 0.05f;
    c.enc_jump_counts = 1000u;
    c.cmd_timeout_s = 0.1f;
    c.safe_state = (uint8_t)MF_SAFE_COAST;
    return c;
}

static mf_protect_input_t healthy(void)
{
    mf_protect_input_t in;
    in.v_bus = 24.0f;
    in.i_abc[0] = 0.0f;
    in.i_abc[1] = 0.0f;
    in.i_abc[2] = 0.0f;
    in.i_d = 0.0f;
    in.i_q = 0.0f;
    in.v_q = 0.0f;
    in.temp_motor_c = 25.0f;
    in.temp_fet_c = 25.0f;
    in.enc_delta_counts = 1;
    in.armed = false;
    return in;
}

static void test_config_check(void)
{
    mf_protect_config_t c = base_cfg();
    MF_CHECK(mf_protect_config_check(&c) == MF_OK);
    MF_CHECK(mf_protect_config_check(NULL) == MF_ENULL);
#define BAD(field, value)                                         \
    do {                                                          \
        c = base_cfg();                                           \
        c.field = (value);                                        \
        MF_CHECK(mf_protect_config_check(&c) == MF_EINVAL);       \
    } while (0)
    BAD(i_max_a, 0.0f);
    BAD(i_max_a, NAN);
    BAD(i_cont_a, 41.0f);
    BAD(i_cont_a, 0.0f);
    BAD(tau_i2t_s, 0.0f);
    BAD(tau_i2t_s, INFINITY);
    BAD(v_bus_min_v, 0.0f);
    BAD(v_bus_max_v, 10.0f);
    BAD(v_bus_max_v, NAN);
    BAD(temp_max_c, 80.0f);
    BAD(temp_derate_c, NAN);
    BAD(temp_hyst_c, -1.0f);
    BAD(r_ohm, -0.1f);
    BAD(flux_wb, 0.0f);
    BAD(omega_e_stuck_rad_s, 0.0f);
    BAD(enc_stuck_s, -1.0f);
    BAD(enc_jump_counts, 0u);
    BAD(cmd_timeout_s, 0.0f);
    BAD(safe_state, (uint8_t)2u);
#undef BAD
}

/* Trip at the threshold, latch, refuse to clear, clear once gone. */
static void test_overcurrent_voltage_temp(void)
{
    mf_protect_config_t c = base_cfg();
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    mf_protect_reset(&s);

    in.i_abc[1] = -40.0f; /* at the threshold: no trip */
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    in.i_abc[1] = -40.01f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_OVERCURRENT);
    MF_CHECK(s.first_fault == MF_FAULT_OVERCURRENT);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_OVERCURRENT);
    in.i_abc[1] = 0.0f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_OVERCURRENT); /* latched */
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
    MF_CHECK(s.first_fault == 0u);

    in.v_bus = 56.0f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    in.v_bus = 56.01f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_OVERVOLTAGE);
    in.v_bus = 17.99f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == (MF_FAULT_OVERVOLTAGE | MF_FAULT_UNDERVOLTAGE));
    MF_CHECK(s.first_fault == MF_FAULT_OVERVOLTAGE);
    MF_CHECK(mf_protect_clear(&s, &c, &in) != 0u);
    in.v_bus = 18.0f;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);

    in.temp_fet_c = 100.0f; /* halfway through the derating band */
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    MF_CHECK_NEAR(s.derate, 0.5, 1e-6);
    in.temp_motor_c = 109.99f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    in.temp_motor_c = 110.0f;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_OVERTEMP);
    MF_CHECK(s.derate == 0.0f);
    in.temp_motor_c = 100.0f; /* = max - hyst: not below yet */
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_OVERTEMP);
    in.temp_motor_c = 99.9f;
    in.temp_fet_c = 99.9f;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
}

/* Number of steps of constant current i until the I2t trip. */
static long i2t_steps(const mf_protect_config_t *c, float i_q, long max_steps)
{
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    long k;
    mf_protect_reset(&s);
    in.i_q = i_q;
    for (k = 1; k <= max_steps; ++k) {
        if (mf_protect_step(&s, c, &in, DT) & MF_FAULT_I2T) {
            return k;
        }
    }
    return -1;
}

static void test_i2t(void)
{
    mf_protect_config_t c = base_cfg();
    const float currents[3] = {16.0f, 20.0f, 30.0f};
    double worst = 0.0;
    int j;
    for (j = 0; j < 3; ++j) {
        double i = currents[j];
        double t_ref = -(double)c.tau_i2t_s * log(1.0 - 15.0 * 15.0 / (i * i));
        long n = i2t_steps(&c, currents[j], 400000);
        double t = (double)n * (double)DT;
        MF_CHECK(n > 0);
        MF_CHECK_NEAR(t, t_ref, 1e-3 * t_ref);
        worst = fmax(worst, fabs(t / t_ref - 1.0));
    }
    /* exactly i_cont: never trips (10 tau) */
    MF_CHECK(i2t_steps(&c, 15.0f, 200000) == -1);
    printf("protect: I2t trip time worst relative error %.2e (16, 20, 30 A, tau 0.5 s)\n", worst);
}

static void test_i2t_clear(void)
{
    mf_protect_config_t c = base_cfg();
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    int k;
    mf_protect_reset(&s);
    in.i_q = 30.0f;
    while ((mf_protect_step(&s, &c, &in, DT) & MF_FAULT_I2T) == 0u) {
    }
    in.i_q = 0.0f;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_I2T);
    /* decay to the clear level 0.8 i_cont^2 from just above i_cont^2 takes
     * tau ln(1/0.8) = 0.11 s */
    for (k = 0; k < 4000; ++k) { /* 0.1 s */
        mf_protect_step(&s, &c, &in, DT);
    }
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_I2T);
    for (k = 0; k < 1000; ++k) {
        mf_protect_step(&s, &c, &in, DT);
    }
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
}

static void test_encoder(void)
{
    mf_protect_config_t c = base_cfg();
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    int k;
    mf_protect_reset(&s);
    in.enc_delta_counts = -1000;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    in.enc_delta_counts = -1001;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_ENCODER);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_ENCODER);
    in.enc_delta_counts = INT32_MIN;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_ENCODER);
    in.enc_delta_counts = 5;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);

    /* standstill, zero voltage, no counts for 1 s: no trip */
    in.enc_delta_counts = 0;
    for (k = 0; k < 40000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    /* standstill holding torque: v_q = R i_q, back-EMF 0: no trip */
    in.i_q = 10.0f;
    in.v_q = 1.0f;
    for (k = 0; k < 40000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    /* v_q says 1000 rad/s electrical (5 V back-EMF) and the counts move: fine */
    in.v_q = 1.0f + 5.0f;
    in.enc_delta_counts = 2;
    for (k = 0; k < 4000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    MF_CHECK_NEAR(s.omega_e_emf, 1000.0, 0.5);
    /* the counts stop: trips when the still time reaches enc_stuck_s */
    in.enc_delta_counts = 0;
    for (k = 0; k < 40000; ++k) {
        if (mf_protect_step(&s, &c, &in, DT) != 0u) {
            break;
        }
    }
    MF_CHECK(s.faults == MF_FAULT_ENCODER);
    MF_CHECK_NEAR((double)(k + 1) * (double)DT, 0.05, 1.5 * (double)DT);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_ENCODER); /* voltage still says turning */
    in.v_q = 1.0f;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
    MF_CHECK(s.enc_still_s == 0.0f && s.omega_e_emf == 0.0f);

    /* a sudden back-EMF with the encoder already still: the low-pass
     * (tau = enc_stuck_s / 4) crosses half its input after tau ln 2 */
    for (k = 0; k < 4000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    in.v_q = 1.0f + 5.0f;
    for (k = 0; k < 40000; ++k) {
        if (mf_protect_step(&s, &c, &in, DT) != 0u) {
            break;
        }
    }
    MF_CHECK_NEAR((double)(k + 1) * (double)DT, 0.0125 * log(2.0), 2.0 * (double)DT);
    /* a 1 ms current transient (L di/dt of 20 V) does not trip it */
    mf_protect_reset(&s);
    in.v_q = 1.0f;
    for (k = 0; k < 4000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    in.v_q = 21.0f;
    for (k = 0; k < 40; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
    in.v_q = 1.0f;
    for (k = 0; k < 4000; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, DT) == 0u);
    }
}

static void test_timeout(void)
{
    mf_protect_config_t c = base_cfg();
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    const float dt = 1.0f / 1024.0f; /* exact sums */
    int k;
    c.cmd_timeout_s = 0.125f; /* 128 steps */
    mf_protect_reset(&s);
    for (k = 0; k < 1000; ++k) { /* disarmed: never */
        MF_CHECK(mf_protect_step(&s, &c, &in, dt) == 0u);
    }
    in.armed = true;
    for (k = 0; k < 127; ++k) {
        MF_CHECK(mf_protect_step(&s, &c, &in, dt) == 0u);
    }
    MF_CHECK(mf_protect_step(&s, &c, &in, dt) == MF_FAULT_CMD_TIMEOUT);
    in.armed = false;
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_CMD_TIMEOUT); /* no command yet */
    mf_protect_feed(&s);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
}

static void test_bad_input_and_estop(void)
{
    mf_protect_config_t c = base_cfg();
    mf_protect_t s;
    mf_protect_input_t in = healthy();
    mf_protect_reset(&s);
    in.i_d = NAN;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_BAD_INPUT);
    MF_CHECK(s.i2t == 0.0f);
    in.i_d = 0.0f;
    in.temp_fet_c = INFINITY;
    MF_CHECK(mf_protect_step(&s, &c, &in, DT) == MF_FAULT_BAD_INPUT);
    MF_CHECK(s.derate == 0.0f);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_BAD_INPUT);
    in.temp_fet_c = 25.0f;
    MF_CHECK(mf_protect_step(&s, &c, &in, NAN) == MF_FAULT_BAD_INPUT);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == 0u);
    MF_CHECK(isfinite(s.i2t) && isfinite(s.since_cmd_s) && isfinite(s.omega_e_emf));

    mf_protect_trip(&s, MF_FAULT_ESTOP | MF_FAULT_CONFIG | (1u << 20));
    MF_CHECK(s.faults == (MF_FAULT_ESTOP | MF_FAULT_CONFIG));
    MF_CHECK(s.first_fault == MF_FAULT_CONFIG);
    MF_CHECK(mf_protect_clear(&s, &c, &in) == MF_FAULT_CONFIG);
    MF_CHECK(s.first_fault == MF_FAULT_CONFIG);
    mf_protect_reset(&s);
    MF_CHECK(s.faults == 0u && s.derate == 1.0f);
}

int main(void)
{
    test_config_check();
    test_overcurrent_voltage_temp();
    test_i2t();
    test_i2t_clear();
    test_encoder();
    test_timeout();
    test_bad_input_and_estop();
    return mf_test_report("test_protect");
}
