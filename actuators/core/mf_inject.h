/* mf_inject.h - identification test modes (MF_MODE_INJECT): signal injection
 * in the current loop and on-chip averaging / lock-in demodulation of what
 * was applied and measured, so a host can identify R, L_d, L_q, flux
 * linkage, pole pairs, encoder direction and offset and cogging over CAN at
 * 1 kHz while the waveforms run at the PWM rate.
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
 *      omega_e and electrical angle.
 * Entering MF_MODE_INJECT (a command with mode MF_MODE_INJECT whose inject
 * config differs from the running one, or from another mode) calls
 * mf_inject_reset(). The accumulators are valid once `done` is set; the
 * references keep running after that until the host changes the mode.
 *
 * Time base: period k = 0, 1, ... after reset. Periods k < n_settle only run
 * the references; periods n_settle .. n_settle + n_window - 1 are
 * accumulated. The sine sample of period k is offset + amp sin(phase_k) with
 * phase_k = 2 pi f (sum of dt_s of the periods before k); the rotating angle
 * starts at theta0_e and advances by omega dt_s per period, omega ramping
 * from 0 to omega_e_cmd at accel_e (a step when accel_e = 0). A sample whose inputs (currents,
 * voltages, omega_e, encoder angle) are not all finite is skipped (counted
 * in n_bad, not in n); the window then ends later.
 *
 * Results (at done, every one a mean over the n accumulated samples):
 *   v_d/v_q/i_d/i_q_mean   in the injection frame (the frame at out.theta_e);
 *   *_rotor_mean           the same vectors rotated into the encoder's frame
 *                          (theta_e_enc): for the rotate kinds the rotor-frame
 *                          values (back-EMF at the commanded speed);
 *   omega_e_mean           estimator speed;
 *   theta_err_mean         circular mean of wrap(theta_e_enc - theta_e used),
 *                          rad: encoder offset at an aligned rotor, or the
 *                          load angle of a rotating vector;
 *   lock-in (v_c, v_s, i_c, i_s): least-squares fit of
 *                          x_k = m + x_c cos(ph_k) + x_s sin(ph_k) over the
 *                          window's samples (equal to the 2/N sums when the
 *                          window holds whole periods). Sine kinds: x is v
 *                          and i on the injected axis (injection frame),
 *                          ph_k the sine phase. Rotate kinds with
 *                          lockin_harmonic h > 0: x is v_q and i_q in the
 *                          encoder (rotor) frame and ph_k = h times the
 *                          encoder's electrical angle (unwrapped; h need not
 *                          be whole: per-electrical-turn harmonic, e.g.
 *                          cogging periods per mechanical turn / pole pairs).
 *                          Voltage is the commanded value (applied one PWM
 *                          period later by the hardware: the host corrects
 *                          that delay).
 *   theta_cmd_turned, theta_enc_turned: rotate kinds: the commanded angle and
 *                          the encoder's electrical angle unwrapped over the
 *                          same n - 1 intervals, rad.
 */
#ifndef MF_INJECT_H
#define MF_INJECT_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    MF_INJECT_V_DC = 0,      /* voltage: ref_axis = amp + offset, open loop */
    MF_INJECT_I_DC = 1,      /* current: ref_axis = amp + offset, through the PI */
    MF_INJECT_V_SINE = 2,    /* voltage: offset + amp sin(2 pi f t) on ref_axis */
    MF_INJECT_I_SINE = 3,    /* current: offset + amp sin(2 pi f t) on ref_axis */
    MF_INJECT_V_ROTATE = 4,  /* voltage amp on d at theta_e = theta0 + omega_e_cmd t (open loop) */
    MF_INJECT_I_ROTATE = 5   /* current amp on d at theta_e = theta0 + omega_e_cmd t (open loop) */
} mf_inject_kind_t;

#define MF_INJECT_KIND_COUNT 6u

typedef enum {
    MF_INJECT_AXIS_D = 0,
    MF_INJECT_AXIS_Q = 1
} mf_inject_axis_t;

/* Bounds of the config (mf_inject_config_problem). */
#define MF_INJECT_MAX_PERIODS 16000000.0f   /* settle and window, PWM periods (< 2^24) */
#define MF_INJECT_MAX_STEP_RAD 0.5f         /* |omega_e_cmd| dt and h |omega_e_cmd| dt, rad */

typedef struct {
    uint8_t kind;           /* mf_inject_kind_t */
    uint8_t axis;           /* mf_inject_axis_t (DC and sine kinds) */
    bool use_encoder;       /* DC/sine: Park at the encoder angle; else at theta0_e */
    float amp;              /* V or A (kind) */
    float offset;           /* V or A, added on the injected axis (a DC bias past the dead-time knee) */
    float hold;             /* V or A, DC on the other axis (DC and sine kinds), e.g. a d-axis
                             * current holding the rotor aligned while q is injected */
    float freq_hz;          /* sine frequency, Hz, (0, pwm rate / 4]; other kinds: >= 0, unused */
    float omega_e_cmd;      /* rotate kinds: electrical speed, rad/s (signed) */
    float accel_e;          /* rotate kinds: rad/s^2, >= 0: the speed ramps from 0 to omega_e_cmd
                             * at this rate (0: a step to omega_e_cmd) */
    float theta0_e;         /* rad, electrical: start angle (rotate) or fixed angle */
    float lockin_harmonic;  /* rotate kinds: lock-in harmonic per electrical turn, >= 0 (0: none) */
    float settle_s;         /* s, run before accumulating, >= 0 */
    float window_s;         /* s, accumulation window, >= one period (sine: rounded down to
                             * whole sine periods, at least one) */
} mf_inject_config_t;

typedef struct {
    /* time base */
    float t_s;              /* s since reset */
    float phase;            /* rad, sine phase of this period, wrapped to [-pi, pi) */
    float theta_e;          /* rad, electrical angle used this period */
    float theta_next;       /* rad, rotate kinds: angle of the next period (internal) */
    float ref_cos, ref_sin; /* cos, sin of this period's lock-in phase (internal) */
    float phase_comp;       /* compensated (Kahan) summation of the phase (internal) */
    float theta_comp;       /* the same for the rotating angle (internal) */
    float omega_now;        /* rad/s, rotate kinds: the ramped speed (internal) */
    uint32_t k;             /* periods since reset (saturates) */
    uint32_t n_settle;      /* periods before accumulating */
    uint32_t n;             /* periods accumulated */
    uint32_t n_window;      /* periods to accumulate (0: config refused at reset) */
    uint32_t n_bad;         /* samples skipped: non-finite input */
    bool done;              /* results complete */
    /* results: means over the window (divided at completion) */
    float v_d_mean, v_q_mean;   /* V, commanded, injection frame */
    float i_d_mean, i_q_mean;   /* A, measured, injection frame */
    float v_d_rotor_mean, v_q_rotor_mean; /* V, encoder frame */
    float i_d_rotor_mean, i_q_rotor_mean; /* A, encoder frame */
    float omega_e_mean;         /* rad/s, estimator */
    float theta_err_mean;       /* rad, circular mean of theta_e_enc - theta_e */
    /* lock-in components (see above) */
    float v_c, v_s;             /* V */
    float i_c, i_s;             /* A */
    /* rotate kinds */
    float theta_cmd_turned;     /* rad */
    float theta_enc_turned;     /* rad */
    float theta_cmd_last;       /* rad, internal */
    float theta_enc_last;       /* rad, internal */
    float lockin_phase;         /* rad, rotate lock-in phase, wrapped (internal) */
    /* running sums (internal): a block of up to MF_INJECT_BLOCK samples is
     * summed in blk and then added to acc (bounded float rounding) */
    uint32_t blk_n;
    float blk[20];
    float acc[20];
} mf_inject_t;

#define MF_INJECT_BLOCK 128u

typedef struct {
    bool use_current;       /* true: ref_d, ref_q are currents (A) for the PI; else voltages (V) */
    float theta_e;          /* rad, electrical angle for Park and inverse Park this period */
    float ref_d, ref_q;     /* A or V */
} mf_inject_out_t;

/* Name of the first invalid field ("pwm_period_s", "kind", "axis", "amp",
 * ...), NULL when valid. Every float finite; pwm_period_s > 0; sine kinds
 * 0 < freq_hz <= 1 / (4 pwm_period_s) and window_s >= 1 / freq_hz; rotate
 * kinds |omega_e_cmd| pwm_period_s <= MF_INJECT_MAX_STEP_RAD, and the same
 * for lockin_harmonic |omega_e_cmd|; accel_e >= 0; settle_s >= 0; window_s at least one
 * period; settle and window at most MF_INJECT_MAX_PERIODS periods. */
const char *mf_inject_config_problem(const mf_inject_config_t *c, float pwm_period_s);
/* Clear the state and derive the period counts. A refused config gives
 * n_window = 0: the references are then zero and nothing is accumulated. */
void mf_inject_reset(mf_inject_t *s, const mf_inject_config_t *c, float pwm_period_s);
/* This period's angle and references (see the time base above). A
 * non-finite theta_e_enc with use_encoder keeps the previous angle. */
void mf_inject_begin(mf_inject_t *s, const mf_inject_config_t *c, float theta_e_enc,
                     float dt_s, mf_inject_out_t *out);
/* Accumulate this period's sample (after settle, until done). */
void mf_inject_end(mf_inject_t *s, const mf_inject_config_t *c, float i_d, float i_q,
                   float v_d, float v_q, float omega_e, float theta_e_enc);

#endif /* MF_INJECT_H */
