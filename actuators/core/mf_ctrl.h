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
 * Protections (mf_protect.h): the fast part runs every step; the slow part
 * (I2t, temperature derating and trip, encoder stuck, non-finite
 * temperatures) runs on the first step after init and then on every
 * outer_div-th, over outer_div periods, in every mode. A slow fault is thus
 * detected at most outer_div - 1 periods later than a per-period check would
 * (and the derating follows the temperature at that rate); whichever part
 * detects a fault, the output is in the safe state in that same step.
 */
#ifndef MF_CTRL_H
#define MF_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "mf_current.h"
#include "mf_estimator.h"
#include "mf_impedance.h"
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
    MF_MODE_MUSCLE = 6      /* Hill-type muscle pair */
} mf_mode_t;

#define MF_MODE_COUNT 7

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
    bool config_ok;             /* init accepted the config */
    /* blocks */
    mf_estimator_t est;
    mf_current_t cur;
    mf_motion_t motion;
    mf_impedance_t imp;
    mf_muscle_t muscle;
    mf_protect_t prot;
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
    float p_out;                /* rad, output side */
    float v_out;                /* rad/s, output side */
    float tau_out_ref;          /* N m, output side (outer-loop demand) */
    float tau_out_est;          /* N m, output side, from i_q */
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
