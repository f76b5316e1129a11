/* mf_protect.h - protections: detect, latch, derate, clear.
 *
 * Each fault has a bit. Faults latch until mf_protect_clear() is called AND
 * the cause is gone (clear refuses otherwise). A fault puts the output in its
 * safe state in the same period it is detected: the checks run before the
 * output is computed.
 *
 * Two rates. mf_protect_fast() holds the checks a PWM period needs (called
 * every current-loop period): over-current, bus voltage, encoder jump, the
 * encoder still-timer, the command watchdog and non-finite v_bus/i_abc/dt.
 * mf_protect_slow() holds the filtered and thermal ones (the controller calls
 * it every outer_div-th period with dt_s = outer_div periods): I2t,
 * temperature derating and trip, encoder stuck, and non-finite i_d/i_q/v_q/
 * temperatures/dt. mf_protect_step() runs both with one dt_s and latches their
 * trips together (the behaviour described below, period by period).
 *
 * Trips (a NaN/Inf input trips BAD_INPUT only and the checks that need it
 * are skipped for that call):
 * - Over-current (fast): any |i_abc[k]| > i_max_a.
 * - I2t (slow): x' = (i^2 - x)/tau_i2t_s with i^2 = i_d^2 + i_q^2 (peak phase
 *   current, A); trip when x > i_cont_a^2. A constant current i > i_cont_a
 *   trips after t = -tau_i2t_s * ln(1 - i_cont_a^2 / i^2); i <= i_cont_a never
 *   trips. Discretised by backward Euler, x += (i^2 - x) dt/(tau + dt)
 *   (unconditionally stable; trip time relative error ~ dt/(2 tau)), summed
 *   with a compensation term (Kahan) so that the tiny increments of a long
 *   tau are not lost to float rounding, and kept between x and i^2.
 * - Over/under-voltage (fast): v_bus > v_bus_max_v / v_bus < v_bus_min_v.
 * - Over-temperature (slow): T = max(temp_motor_c, temp_fet_c) >= temp_max_c.
 *   Thermal derating: derate = (temp_max_c - T)/(temp_max_c - temp_derate_c)
 *   clamped to [0, 1] (1 below temp_derate_c, 0 from temp_max_c; 0 while a
 *   temperature is not finite).
 * - Encoder jump (fast): |enc_delta_counts| > enc_jump_counts.
 * - Encoder stuck (slow): the back-EMF speed |v_q - r_ohm i_q| / flux_wb,
 *   low-passed (first order, tau = enc_stuck_s / 4, backward Euler) into
 *   omega_e_emf so that a current transient (L di/dt in v_q) does not trip
 *   it, exceeds omega_e_stuck_rad_s while the count has not changed for
 *   >= enc_stuck_s (enc_still_s, kept by the fast part; any count change
 *   restarts it).
 * - Command timeout (fast): while armed, since_cmd_s += dt; trips when
 *   since_cmd_s >= cmd_timeout_s. While disarmed the watchdog is held at 0.
 * - Bad input: any input float (or dt_s) NaN/Inf, or dt_s < 0.
 *
 * Clear (mf_protect_clear, with the present input) releases a bit when:
 * over-current: every |i_abc| <= i_max_a; I2t: x < MF_PROTECT_I2T_CLEAR_FRAC
 * * i_cont_a^2; voltage: v_bus within [v_bus_min_v, v_bus_max_v];
 * temperature: T < temp_max_c - temp_hyst_c; encoder: |enc_delta_counts| <=
 * enc_jump_counts and (the count moved or the unfiltered back-EMF speed of
 * the input <= omega_e_stuck_rad_s), and then the stuck timer and filter
 * restart; timeout: mf_protect_feed() was called after the trip; bad input:
 * every input float finite; e-stop: always; config: never (only
 * mf_protect_reset() clears it).
 * first_fault: the lowest bit among those that tripped in the call (step,
 * fast, slow or trip) that took faults from 0 to non-zero; after a clear it
 * is kept if still latched, else it becomes the lowest remaining bit (0 when
 * none).
 *
 * Cost: the fast part has no division and one finiteness test for all its
 * inputs; the divisions (I2t and back-EMF filter gains, back-EMF speed,
 * derating above temp_derate_c) are in the slow part.
 */
#ifndef MF_PROTECT_H
#define MF_PROTECT_H

#include <stdbool.h>
#include <stdint.h>

#define MF_FAULT_OVERCURRENT   (1u << 0)  /* instantaneous phase current */
#define MF_FAULT_I2T           (1u << 1)  /* current-time integral */
#define MF_FAULT_OVERVOLTAGE   (1u << 2)  /* bus voltage high */
#define MF_FAULT_UNDERVOLTAGE  (1u << 3)  /* bus voltage low */
#define MF_FAULT_OVERTEMP      (1u << 4)  /* motor or FET temperature */
#define MF_FAULT_ENCODER       (1u << 5)  /* encoder stuck or jumped */
#define MF_FAULT_CMD_TIMEOUT   (1u << 6)  /* commands stopped while armed */
#define MF_FAULT_BAD_INPUT     (1u << 7)  /* NaN/Inf sensor or command */
#define MF_FAULT_CONFIG        (1u << 8)  /* init refused the config */
#define MF_FAULT_ESTOP         (1u << 9)  /* emergency stop received */
#define MF_FAULT_ALL           (0x3FFu)   /* every defined bit; trip() ignores others */

/* An I2t fault clears once x < MF_PROTECT_I2T_CLEAR_FRAC * i_cont_a^2. */
#define MF_PROTECT_I2T_CLEAR_FRAC 0.8f

typedef enum {
    MF_SAFE_COAST = 0,   /* all switches off: phases float, motor coasts */
    MF_SAFE_BRAKE = 1    /* all low sides on: phases shorted, passive damping */
} mf_safe_state_t;

typedef struct {
    float i_max_a;             /* instantaneous phase-current trip, A, > 0 */
    float i_cont_a;            /* continuous current (I2t), A, (0, i_max_a] */
    float tau_i2t_s;           /* I2t filter time constant, s, > 0 */
    float v_bus_max_v;         /* over-voltage trip, V, > v_bus_min_v */
    float v_bus_min_v;         /* under-voltage trip, V, (0, v_bus_max_v) */
    float temp_derate_c;       /* start of linear current derating, degC */
    float temp_max_c;          /* over-temperature trip, degC, > temp_derate_c */
    float temp_hyst_c;         /* a temperature fault clears below temp_max_c - temp_hyst_c, degC, >= 0 */
    float r_ohm;               /* phase resistance for the back-EMF check, ohm, >= 0 */
    float flux_wb;             /* PM flux linkage, Wb, > 0 */
    float omega_e_stuck_rad_s; /* back-EMF speed that must move the encoder, rad/s, > 0 */
    float enc_stuck_s;         /* time without counts to call it stuck, s, > 0 */
    uint32_t enc_jump_counts;  /* largest plausible count change per update, >= 1 */
    float cmd_timeout_s;       /* command watchdog, s, > 0 */
    uint8_t safe_state;        /* mf_safe_state_t; a fixed-width field: enums are short on arm-none-eabi */
} mf_protect_config_t;

typedef struct {
    float v_bus;          /* bus voltage, V */
    float i_abc[3];       /* phase currents, A */
    float i_d, i_q;       /* dq currents, A */
    float v_q;            /* last commanded q voltage, V (back-EMF check) */
    float temp_motor_c;   /* winding temperature, degC */
    float temp_fet_c;     /* power-stage temperature, degC */
    int32_t enc_delta_counts; /* count change since the last update */
    bool armed;           /* the watchdog runs only while armed */
} mf_protect_input_t;

typedef struct {
    uint32_t faults;      /* latched fault bits */
    uint32_t first_fault; /* the bit that tripped first since the last clear */
    float i2t;            /* filtered i^2, A^2 */
    float i2t_comp;       /* compensation (lost low-order part) of the i2t sum, A^2 */
    float derate;         /* current-limit scale, [0, 1] */
    float since_cmd_s;    /* time since the last command while armed, s */
    float enc_still_s;    /* time the encoder has not moved, s */
    float omega_e_emf;    /* filtered back-EMF speed estimate, rad/s, >= 0 */
    bool fed_since_timeout; /* mf_protect_feed() called since the last timeout trip */
} mf_protect_t;

/* MF_OK, MF_ENULL or MF_EINVAL (a field outside the ranges above, or NaN). */
int mf_protect_config_check(const mf_protect_config_t *c);
/* Clear everything: no faults, i2t 0, derate 1, timers 0. */
void mf_protect_reset(mf_protect_t *s);
/* Check every protection (fast and slow part with the same dt_s); latches
 * new faults. Returns the latched bits (0 = healthy). Also updates s->derate.
 * dt_s: time since the last step, s. */
uint32_t mf_protect_step(mf_protect_t *s, const mf_protect_config_t *c,
                         const mf_protect_input_t *in, float dt_s);
/* The per-period part: over-current, bus voltage, encoder jump and still
 * timer, command watchdog, BAD_INPUT for a non-finite v_bus, phase current
 * or dt_s (or dt_s < 0). Inputs as the fields of mf_protect_input_t (i_a,
 * i_b, i_c = i_abc[0..2]); dt_s: time since the last call, s. Returns the
 * latched bits. */
uint32_t mf_protect_fast(mf_protect_t *s, const mf_protect_config_t *c, float v_bus, float i_a,
                         float i_b, float i_c, int32_t enc_delta_counts, bool armed, float dt_s);
/* The slow part: I2t, temperature derating (s->derate) and trip, encoder
 * stuck (with the still time kept by the fast part), BAD_INPUT for a
 * non-finite i_d, i_q, v_q, temperature or dt_s (or dt_s < 0). dt_s: time
 * since the last call of this part, s. Returns the latched bits. */
uint32_t mf_protect_slow(mf_protect_t *s, const mf_protect_config_t *c, float i_d, float i_q,
                         float v_q, float temp_motor_c, float temp_fet_c, float dt_s);
/* A command arrived: restart the watchdog. */
void mf_protect_feed(mf_protect_t *s);
/* Latch an external fault (e.g. MF_FAULT_ESTOP, MF_FAULT_CONFIG). */
void mf_protect_trip(mf_protect_t *s, uint32_t fault_bits);
/* Clear the latched faults whose cause is gone given the present input;
 * returns the bits that remain latched (0 = all cleared). */
uint32_t mf_protect_clear(mf_protect_t *s, const mf_protect_config_t *c,
                          const mf_protect_input_t *in);

#endif /* MF_PROTECT_H */
