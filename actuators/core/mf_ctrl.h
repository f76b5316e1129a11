/* mf_ctrl.h - the actuator controller: one current-loop step per PWM period.
 *
 * mf_ctrl_step() is what the PWM ISR calls on the microcontroller and what
 * the simulator calls per PWM period:
 *   encoder count -> estimator; ADC counts -> phase currents and bus voltage
 *   -> Clarke -> Park -> protections -> (every outer_div-th step) outer loop
 *   -> torque -> i_q reference -> current PI -> inverse Park -> SVPWM -> duties.
 * A latched fault or an idle mode gives the safe-state output in the same
 * step. Output-side quantities are motor-side ones divided by gear_ratio.
 *
 * Per period the step computes what the current loop needs: theta_e (its
 * sin/cos from the table, mf_sincos_e_inline), omega_e, currents, bus
 * voltage, duties. The outer-rate outputs (est.theta_m, est.omega_m,
 * est.pll_pos_counts, p_out, v_out, tau_out_est) are brought up to date at
 * the start of each outer-loop run, where they are used, and by
 * mf_ctrl_refresh_outputs() for any reader between runs (the app's state
 * reply and parameter reads, the bindings, the simulator's recorder).
 *
 * Protections (mf_protect.h): the fast part runs every step; the slow part
 * (I2t, temperature derating and trip, encoder stuck, non-finite
 * temperatures) runs on the first step after init and then on every
 * outer_div-th, over outer_div periods, in every mode. A slow fault is thus
 * detected at most outer_div - 1 periods later than a per-period check would
 * (and the derating follows the temperature at that rate); whichever part
 * detects a fault, the output is in the safe state in that same step.
 * Phase currents and bus voltage come from integer ADC counts through gains
 * the config check bounds, so they are always finite: the step checks only
 * the float inputs (temperatures, in the slow part) for NaN/Inf.
 *
 * Derived at init. mf_ctrl_init() derives from the config what a period
 * would otherwise recompute: PLL gains for pwm_period_s, the outer-loop dt,
 * torque constant and gear reciprocals, dead-time fraction and ramp slope,
 * the muscle geometry reciprocals, the cogging harmonics. The config passed
 * to mf_ctrl_step() must therefore be the one given to mf_ctrl_init(), or
 * differ from it only in fields the step reads live (and still pass
 * mf_ctrl_config_problem): current gains, inductances, decouple,
 * v_max_frac, motion gains and v_max_rad_s, i_limit_a, tau_out_max_nm,
 * latency_steps, every protect field, the muscle's f_max_n, moment_arm_m,
 * l_ref_m, k_pe, ecc and time constants. Any other field (pwm_period_s,
 * outer_div, ADC gains and offset, dead time and band, pole_pairs, flux_wb,
 * gear_ratio, estimator, muscle l_opt_m, v_max_lopt_s, width, curv,
 * cogging) takes effect only through mf_ctrl_init() (mf_params marks those
 * idle-only or does not expose them).
 *
 * Cogging feed-forward (cogging.cog_n_per_rev > 0): in the torque modes
 * (velocity, position, impedance, muscle), at the outer-loop rate,
 *   i_q_ref += tau_cog(theta_m) / kt,
 *   tau_cog(theta_m) = sum_k amp_nm[k] sin((k+1) n theta_m + phase_rad[k]),
 * motor side, theta_m the single-turn motor angle the encoder reports
 * (directed count * 2 pi / counts_per_rev: the estimator's theta_m without
 * its turns; the electrical offset plays no part), advanced by
 * n omega_m outer_div pwm_period_s / 2 (the feed-forward is held over an
 * outer period: evaluated at its middle). The same model as the
 * plant's MotorParams cog_* (whose tau_cog the motor must overcome), so the
 * plant's values with an encoder at offset 0 cancel it. Off (n = 0) it costs
 * one test per outer-loop run.
 *
 * MF_MODE_INJECT (identification, mf_inject.h): every period, protections
 * active, outer loop not run: mf_inject_begin() gives the angle and the
 * references; the measured currents are taken into that frame; current
 * references go through the current limit and the current PIs, voltage
 * references are limited to the voltage circle (v_d to +-v_max, v_q to the
 * rest, as the current loop's d-axis priority); mf_inject_end() gets the
 * result. The PWM-delay angle advance uses the frame's speed: omega_e_cmd
 * for the rotate kinds, the estimator's omega_e for an encoder frame, none
 * for a fixed angle.
 */
#ifndef MF_CTRL_H
#define MF_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "mf_current.h"
#include "mf_estimator.h"
#include "mf_impedance.h"
#include "mf_inject.h"
#include "mf_motion.h"
#include "mf_muscle.h"
#include "mf_protect.h"

typedef enum {
    MF_MODE_IDLE = 0,       /* output in safe state, loops reset */
    MF_MODE_VOLTAGE = 1,    /* open-loop v_d, v_q at theta_e (or a forced angle) */
    MF_MODE_CURRENT = 2,    /* i_d, i_q references */
    MF_MODE_VELOCITY = 3,   /* output speed reference */
    MF_MODE_POSITION = 4,   /* output position reference (cascaded) */
    MF_MODE_IMPEDANCE = 5,  /* MIT-mode impedance */
    MF_MODE_MUSCLE = 6,     /* Hill-type muscle pair */
    MF_MODE_INJECT = 7      /* identification signal injection (mf_inject.h) */
} mf_mode_t;

#define MF_MODE_COUNT 8

#define MF_COGGING_HARMONICS 3

/* Cogging torque model for the feed-forward (see above). */
typedef struct {
    uint32_t cog_n_per_rev;                  /* cogging periods per motor turn, 0 = off, <= 10000 */
    float amp_nm[MF_COGGING_HARMONICS];      /* harmonic amplitudes, N m (motor side), finite */
    float phase_rad[MF_COGGING_HARMONICS];   /* harmonic phases, rad, finite, |.| <= 1e4 */
} mf_cogging_config_t;

typedef struct {
    /* sensing */
    float pwm_period_s;         /* current-loop period, s */
    uint32_t outer_div;         /* outer loop runs every outer_div steps, >= 1 */
    bool three_shunt;           /* three-shunt (else two-shunt, phase c derived) */
    float adc_i_gain_a;         /* A per ADC count */
    float adc_i_offset;         /* ADC counts at zero current */
    float adc_vbus_gain_v;      /* V per ADC count */
    float dead_time_s;          /* inverter dead time, s (0 = no compensation) */
    float deadtime_i_band_a;    /* current band of the compensation ramp, A */
    float latency_steps;        /* angle advance for the PWM delay, periods (typ. 1.5) */
    /* motor and gearbox */
    uint32_t pole_pairs;        /* >= 1 */
    float flux_wb;              /* PM flux linkage, Wb, > 0 */
    float gear_ratio;           /* motor turns per output turn, >= 1 */
    /* limits */
    float i_limit_a;            /* |i_dq| reference limit, A, > 0 */
    float tau_out_max_nm;       /* output torque limit, N m, > 0 */
    /* sub-blocks */
    mf_current_config_t current;
    mf_estimator_config_t estimator;
    mf_motion_config_t motion;
    mf_muscle_config_t muscle;
    mf_protect_config_t protect;
    mf_cogging_config_t cogging;
} mf_ctrl_config_t;

typedef struct {
    uint8_t mode;               /* mf_mode_t (fixed width: enums are short on arm-none-eabi) */
    float i_d_ref;              /* A (current mode) */
    float i_q_ref;              /* A (current mode) */
    float v_d_ref;              /* V (voltage mode) */
    float v_q_ref;              /* V (voltage mode) */
    bool force_angle;           /* voltage mode: use theta_e_force, not the encoder */
    float theta_e_force;        /* rad, electrical (voltage mode) */
    float v_out_ref;            /* rad/s, output side (velocity and position modes) */
    float p_out_ref;            /* rad, output side (position mode) */
    float tau_ff_nm;            /* N m, output side (velocity, position modes) */
    mf_impedance_cmd_t imp;     /* impedance mode */
    float u_flex;               /* muscle excitation [0, 1] */
    float u_ext;                /* muscle excitation [0, 1] */
    mf_inject_config_t inject;  /* inject mode (checked only in that mode; zero the
                                   whole command before filling it: a change of any
                                   byte restarts the injection) */
} mf_ctrl_cmd_t;

typedef struct {
    uint16_t adc_i[3];          /* phase-current ADC counts a, b, c (c unused two-shunt) */
    uint16_t adc_vbus;          /* bus-voltage ADC counts */
    uint32_t enc_count;         /* encoder count, [0, counts_per_rev) */
    float temp_motor_c;         /* winding temperature, degC (slow) */
    float temp_fet_c;           /* power-stage temperature, degC (slow) */
} mf_ctrl_sense_t;

typedef struct {
    float duty[3];              /* phase duties, [0, 1] */
    bool pwm_enable;            /* false: all switches off (coast) */
} mf_ctrl_pwm_t;

typedef struct {
    /* derived at init */
    float kt_nm_a;              /* motor torque constant 1.5 p flux, N m/A */
    float inv_kt_gear;          /* 1 / (kt * gear_ratio), A per output N m */
    float inv_gear;             /* 1 / gear_ratio */
    float dead_frac;            /* dead_time / pwm_period */
    float dead_k;               /* dead_frac / deadtime_i_band_a, 1/A (0: hard sign) */
    float reach_max;            /* duty spread below which the compensated duties stay in [0, 1] */
    float dt_outer_s;           /* pwm_period_s * outer_div, s */
    float pll_1ma;              /* 1 - kp dt of the PLL at pwm_period_s */
    float pll_bd;               /* ki dt of the PLL at pwm_period_s, 1/s */
    float inv_kt;               /* 1 / kt, A per motor N m */
    float cog_c[MF_COGGING_HARMONICS]; /* amp cos(phase), N m */
    float cog_s[MF_COGGING_HARMONICS]; /* amp sin(phase), N m */
    mf_muscle_derived_t muscle_d;
    bool config_ok;             /* init accepted the config */
    /* blocks */
    mf_estimator_t est;
    mf_current_t cur;
    mf_motion_t motion;
    mf_impedance_t imp;
    mf_muscle_t muscle;
    mf_protect_t prot;
    mf_inject_t inject;
    /* command and bookkeeping */
    mf_ctrl_cmd_t cmd;
    uint8_t active_mode;        /* mf_mode_t the last step ran */
    uint32_t outer_count;       /* steps since the last outer-loop run */
    uint32_t slow_count;        /* steps since the last slow-protection run, [0, outer_div) */
    uint32_t step_count;        /* steps since init */
    uint32_t cmd_rejects;       /* commands refused by mf_ctrl_command */
    /* last signals, for logging and the state reply */
    float i_abc[3];             /* A */
    float i_d, i_q;             /* A */
    float i_d_ref, i_q_ref;     /* A */
    float v_bus;                /* V */
    float temp_motor_c;         /* degC, last sensed */
    float temp_fet_c;           /* degC, last sensed */
    float p_out;                /* rad, output side (outer rate: mf_ctrl_refresh_outputs) */
    float v_out;                /* rad/s, output side (outer rate) */
    float tau_out_ref;          /* N m, output side (outer-loop demand) */
    float tau_out_est;          /* N m, output side, from i_q (outer rate) */
    float i_q_cog;              /* A, cogging feed-forward in i_q_ref (torque modes) */
    mf_ctrl_pwm_t pwm;
} mf_ctrl_t;

/* Name of the first invalid field of c ("pwm_period_s", ..., or the sub-block
 * "current", "estimator", "motion", "muscle", "protect"), NULL when valid. */
const char *mf_ctrl_config_problem(const mf_ctrl_config_t *c);
/* Validate every config field and clear the state. On MF_EINVAL the
 * controller latches MF_FAULT_CONFIG and every step gives the safe state. */
int mf_ctrl_init(mf_ctrl_t *s, const mf_ctrl_config_t *c);
/* Set the command. A mode switch is bumpless: the velocity integrator starts
 * from the torque being produced. Setpoints beyond the limits are clamped in
 * the step. A command with a non-finite field, an unknown mode, negative
 * gains or excitations outside [0, 1] is refused: MF_ERANGE, nothing changes,
 * the watchdog is not fed and cmd_rejects counts it. A command other than
 * IDLE while a fault is latched or the config was refused gives MF_ESTATE.
 * An accepted command feeds the watchdog and returns MF_OK. */
int mf_ctrl_command(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_cmd_t *cmd);
/* One current-loop period. Returns the latched fault bits (0 = healthy). */
uint32_t mf_ctrl_step(mf_ctrl_t *s, const mf_ctrl_config_t *c,
                      const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out);
/* Bring the outer-rate outputs up to the last step: est.theta_m,
 * est.omega_m, est.pll_pos_counts, p_out, v_out, tau_out_est. The step
 * computes them only where it uses them (at the start of each outer-loop
 * run); a reader (telemetry, parameter reads, the simulator's recorder)
 * calls this first. A pure function of the state: calling it any number of
 * times changes nothing else. No effect before a valid init. */
void mf_ctrl_refresh_outputs(mf_ctrl_t *s, const mf_ctrl_config_t *c);
/* Try to clear latched faults; returns the bits that remain. A fault always
 * drops the command to MF_MODE_IDLE, so clearing never restarts motion. */
uint32_t mf_ctrl_clear_faults(mf_ctrl_t *s, const mf_ctrl_config_t *c);
/* Latch an emergency stop. */
void mf_ctrl_estop(mf_ctrl_t *s);
/* Run n steps over arrays (the batch entry point used by tests, benchmarks
 * and the PIL vectors). out may be NULL. Returns the final fault bits. */
uint32_t mf_ctrl_run(mf_ctrl_t *s, const mf_ctrl_config_t *c,
                     const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out, uint32_t n);

#endif /* MF_CTRL_H */
