/* app_fixture.h - the app config the C tests and the fuzz harness share:
 * a 14-pole-pair motor at 40 kHz, 16-bit current ADC, 14-bit encoder. */
#ifndef APP_FIXTURE_H
#define APP_FIXTURE_H

#include <string.h>

#include "mf_app.h"

static mf_app_config_t app_fixture_config(uint8_t node_id)
{
    mf_app_config_t c;
    memset(&c, 0, sizeof c);
    mf_params_defaults(&c.ctrl, &c.app);
    c.app.node_id = node_id;
    c.ctrl.pwm_period_s = 25e-6f;
    c.ctrl.outer_div = 4u;
    c.ctrl.three_shunt = true;
    c.ctrl.adc_i_gain_a = 0.005f;
    c.ctrl.adc_i_offset = 32768.0f;
    c.ctrl.adc_vbus_gain_v = 0.01f;
    c.ctrl.deadtime_i_band_a = 0.5f;
    c.ctrl.pole_pairs = 14u;
    c.ctrl.flux_wb = 0.006f;
    c.ctrl.current.pi_d.kp = 0.377f;
    c.ctrl.current.pi_d.ki = 754.0f;
    c.ctrl.current.pi_q.kp = 0.377f;
    c.ctrl.current.pi_q.ki = 754.0f;
    c.ctrl.current.flux_wb = 0.006f;
    c.ctrl.estimator.counts_per_rev = 16384u;
    c.ctrl.estimator.pole_pairs = 14u;
    c.ctrl.protect.flux_wb = 0.006f;
    c.ctrl.muscle.l_opt_m = 0.1f;
    c.ctrl.muscle.l_ref_m = 0.1f;
    c.ctrl.muscle.v_max_lopt_s = 10.0f;
    c.ctrl.muscle.width = 0.5f;
    c.ctrl.muscle.curv = 0.25f;
    c.ctrl.muscle.ecc = 1.5f;
    return c;
}

#endif /* APP_FIXTURE_H */
