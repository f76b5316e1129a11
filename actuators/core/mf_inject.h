/* mf_inject.h - identification test modes (MF_MODE_INJECT): signal injection
 * in the current loop and on-chip averaging / lock-in demodulation of what
 * was applied and measured, so a host can identify R, L_d, L_q, flux
 * linkage, pole pairs, encoder direction and offset over CAN at 1 kHz
 * while the waveforms run at the PWM rate.
 *
 * The controller (mf_ctrl.c) calls, in every period of MF_MODE_INJECT, with
 * all protections active and the outer loop not running:
 *   1. mf_inject_begin(): the electrical angle for Park / inverse Park this
 *      period and the references (voltages applied open loop, or currents
 *      through the current PI), from the injection's own time base;
 *   2. Park of the measured currents at out.theta_e, then either the current
 *      PI on (ref_d, ref_q) or the voltages (ref_d, ref_q) directly (both
 *      limited to the voltage circle as in the other modes);
 *   3. mf_inject_end() with the measured i_d, i_q (at out.theta_e), the dq
 *      voltage commanded this period (after limiting) and the estimator's
 *      omega_e.
 * Entering MF_MODE_INJECT (a command with mode MF_MODE_INJECT whose inject
 * config differs from the running one, or from another mode) calls
 * mf_inject_reset(). The accumulators are valid once `done` is set; the
 * references keep running after that until the host changes the mode.
 */
#ifndef MF_INJECT_H
#define MF_INJECT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MF_INJECT_V_DC = 0,      /* voltage: ref_axis = amp (+ offset), open loop */
    MF_INJECT_I_DC = 1,      /* current: ref_axis = amp (+ offset), through the PI */
    MF_INJECT_V_SINE = 2,    /* voltage: offset + amp sin(2 pi f t) on ref_axis */
    MF_INJECT_I_SINE = 3,    /* current: offset + amp sin(2 pi f t) on ref_axis */
    MF_INJECT_V_ROTATE = 4,  /* voltage amp on d at theta_e = theta0 + omega_e_cmd t (open loop) */
    MF_INJECT_I_ROTATE = 5   /* current amp on d at theta_e = theta0 + omega_e_cmd t (open loop) */
} mf_inject_kind_t;

typedef enum {
    MF_INJECT_AXIS_D = 0,
    MF_INJECT_AXIS_Q = 1
} mf_inject_axis_t;

typedef struct {
    uint8_t kind;           /* mf_inject_kind_t */
    uint8_t axis;           /* mf_inject_axis_t (DC and sine kinds) */
    bool use_encoder;       /* DC/sine: Park at the encoder angle; else at theta0_e */
    float amp;              /* V or A (kind) */
    float offset;           /* V or A, added to the sine (a DC bias past the dead-time knee) */
    float freq_hz;          /* sine frequency, Hz, (0, pwm rate / 4] */
    float omega_e_cmd;      /* rotate kinds: electrical speed, rad/s (signed) */
    float theta0_e;         /* rad, electrical: start angle (rotate) or fixed angle */
    float settle_s;         /* s, run before accumulating */
    float window_s;         /* s, accumulation window (sine: rounded down to whole periods) */
} mf_inject_config_t;

typedef struct {
    /* time base */
    float t_s;              /* s since reset */
    float phase;            /* rad, sine phase 2 pi f t, wrapped */
    float theta_e;          /* rad, electrical angle used this period */
    uint32_t n;             /* periods accumulated */
    uint32_t n_window;      /* periods to accumulate */
    bool done;              /* accumulators complete */
    /* means over the window (divided at completion) */
    float v_d_mean, v_q_mean;   /* V, commanded */
    float i_d_mean, i_q_mean;   /* A, measured */
    float omega_e_mean;         /* rad/s, estimator */
    /* lock-in components on the injected axis at freq_hz (sine kinds):
     * x(t) ~ x_c cos(2 pi f t) + x_s sin(2 pi f t) + mean, from the samples
     * of the window (2/N sums). Voltage is the commanded value (applied one
     * PWM period later by the hardware: the host corrects that delay). */
    float v_c, v_s;             /* V */
    float i_c, i_s;             /* A */
    /* rotate kinds: electrical angle turned (open loop) and the encoder's
     * electrical angle unwrapped over the same window, rad */
    float theta_cmd_turned;
    float theta_enc_turned;
    float theta_enc_last;       /* rad, internal */
    /* running sums (internal) */
    float acc[9];
} mf_inject_t;

typedef struct {
    bool use_current;       /* true: ref_d, ref_q are currents (A) for the PI; else voltages (V) */
    float theta_e;          /* rad, electrical angle for Park and inverse Park this period */
    float ref_d, ref_q;     /* A or V */
} mf_inject_out_t;

/* Name of the first invalid field, NULL when valid. pwm_period_s > 0. */
const char *mf_inject_config_problem(const mf_inject_config_t *c, float pwm_period_s);
void mf_inject_reset(mf_inject_t *s, const mf_inject_config_t *c, float pwm_period_s);
void mf_inject_begin(mf_inject_t *s, const mf_inject_config_t *c, float theta_e_enc,
                     float dt_s, mf_inject_out_t *out);
void mf_inject_end(mf_inject_t *s, const mf_inject_config_t *c, float i_d, float i_q,
                   float v_d, float v_q, float omega_e, float theta_e_enc);

#endif /* MF_INJECT_H */
