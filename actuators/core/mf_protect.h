/* mf_protect.h - protections: detect, latch, derate, clear.
 *
 * Each fault has a bit. Faults latch until mf_protect_clear() is called AND
 * the cause is gone (clear refuses otherwise). mf_protect_step() is called in
 * every current-loop period before the output is computed, so a fault puts
 * the output in its safe state in the same period it is detected.
 *
 * I2t: x' = (i^2 - x)/tau_i2t_s with i = |i_dq| (peak phase current, A); trip
 * when x > i_cont_a^2. A constant current i > i_cont_a trips after
 * t = -tau_i2t_s * ln(1 - i_cont_a^2 / i^2).
 * Thermal derating: the current limit scales linearly from 1 at
 * temp_derate_c to 0 at temp_max_c; at temp_max_c the fault trips.
 * Encoder stuck: the back-EMF speed estimate |v_q - R i_q| / flux exceeds
 * omega_e_stuck_rad_s while the count has not changed for enc_stuck_s.
 * Encoder jump: one update moves more than enc_jump_counts.
 * Command timeout: mf_protect_feed() not called for cmd_timeout_s while armed.
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

typedef enum {
    MF_SAFE_COAST = 0,   /* all switches off: phases float, motor coasts */
    MF_SAFE_BRAKE = 1    /* all low sides on: phases shorted, passive damping */
} mf_safe_state_t;

typedef struct {
    float i_max_a;             /* instantaneous phase-current trip, A, > 0 */
    float i_cont_a;            /* continuous current (I2t), A, (0, i_max_a] */
    float tau_i2t_s;           /* I2t filter time constant, s, > 0 */
    float v_bus_max_v;         /* over-voltage trip, V */
    float v_bus_min_v;         /* under-voltage trip, V, (0, v_bus_max_v) */
    float temp_derate_c;       /* start of linear current derating, degC */
    float temp_max_c;          /* over-temperature trip, degC, > temp_derate_c */
    float temp_hyst_c;         /* a temperature fault clears below temp_max_c - temp_hyst_c */
    float r_ohm;               /* phase resistance for the back-EMF check, ohm */
    float flux_wb;             /* PM flux linkage, Wb, > 0 */
    float omega_e_stuck_rad_s; /* back-EMF speed that must move the encoder, rad/s */
    float enc_stuck_s;         /* time without counts to call it stuck, s */
    uint32_t enc_jump_counts;  /* largest plausible count change per update */
    float cmd_timeout_s;       /* command watchdog, s, > 0 */
    mf_safe_state_t safe_state;
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
    float derate;         /* current-limit scale, [0, 1] */
    float since_cmd_s;    /* time since the last command, s */
    float enc_still_s;    /* time the encoder has not moved, s */
    float omega_e_emf;    /* filtered back-EMF speed estimate, rad/s */
} mf_protect_t;

int mf_protect_config_check(const mf_protect_config_t *c);
void mf_protect_reset(mf_protect_t *s);
/* Check every protection; latches new faults. Returns the latched bits
 * (0 = healthy). Also updates s->derate. */
uint32_t mf_protect_step(mf_protect_t *s, const mf_protect_config_t *c,
                         const mf_protect_input_t *in, float dt_s);
/* A command arrived: restart the watchdog. */
void mf_protect_feed(mf_protect_t *s);
/* Latch an external fault (e.g. MF_FAULT_ESTOP, MF_FAULT_CONFIG). */
void mf_protect_trip(mf_protect_t *s, uint32_t fault_bits);
/* Clear the latched faults whose cause is gone given the present input;
 * returns the bits that remain latched (0 = all cleared). */
uint32_t mf_protect_clear(mf_protect_t *s, const mf_protect_config_t *c,
                          const mf_protect_input_t *in);

#endif /* MF_PROTECT_H */
