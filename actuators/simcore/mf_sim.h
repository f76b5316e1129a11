/* mf_sim.h - the closed loop of the simulated actuator: core + plant.
 *
 * Per PWM period, exactly as on the microcontroller:
 *   1. the plant's sensors are sampled (ADC counts, encoder count) at the
 *      start of the period;
 *   2. mf_ctrl_step (the firmware's current-loop ISR, outer loop every
 *      outer_div-th period) computes new duties;
 *   3. the inverter applies the duties computed in the previous period (the
 *      one-period computation delay of a real MCU, whose timer loads new
 *      compare values at the next update event) and the plant integrates the
 *      period. A disabled output (fault, idle) takes effect at once, as the
 *      timer's break input does on the MCU.
 * Virtual time only: nothing here reads a clock, so a run is reproducible bit
 * for bit from the plant's seed. N actuators are stepped together in one loop
 * (an array of nodes), for the humanoid case.
 */
#ifndef MF_SIM_H
#define MF_SIM_H

#include <stdint.h>

#include "mf_ctrl.h"
#include "mf_plant.h"

/* One simulated actuator: its controller, plant and their configs. */
typedef struct {
    mf_ctrl_config_t ccfg;     /* controller config (the firmware's) */
    mf_plant_params_t pp;      /* plant parameters */
    mf_ctrl_t ctrl;            /* controller state */
    mf_plant_t plant;          /* plant state */
    mf_ctrl_pwm_t pending;     /* duties computed last period, applied this one */
    uint32_t faults;           /* fault bits after the last step */
} mf_sim_node_t;

/* One recorded sample (every decim-th period), SI units; estimates are the
 * core's view, the rest the plant's truth. */
typedef struct {
    double t_s;            /* simulated time at the end of the period, s */
    float i_d, i_q;        /* measured dq currents, A */
    float i_d_ref, i_q_ref;/* current references, A */
    float v_d, v_q;        /* commanded dq voltages, V */
    float theta_e;         /* estimated electrical angle, rad */
    float omega_m_est;     /* estimated motor speed, rad/s */
    float p_out_est;       /* estimated output position, rad */
    float v_out_est;       /* estimated output speed, rad/s */
    float tau_out_ref;     /* outer-loop torque demand, N m, output side */
    float v_bus_est;       /* sensed bus voltage, V */
    float duty[3];         /* applied phase duties */
    double i_abc[3];       /* phase currents, A */
    double theta_m;        /* motor angle, rad */
    double omega_m;        /* motor speed, rad/s */
    double tau_e;          /* electromagnetic torque, N m, motor side */
    double p_out;          /* gearbox output angle, rad */
    double v_out;          /* gearbox output speed, rad/s */
    double tau_out;        /* gearbox output torque, N m */
    double p_load;         /* load link angle, rad */
    double temp_winding_c; /* winding temperature, degC */
    uint32_t faults;       /* latched fault bits */
    uint32_t mode;         /* mode the step ran */
    uint32_t pwm_enable;   /* inverter enabled during the period */
} mf_sim_sample_t;

/* Initialise a node from its configs (copied in) and a noise seed. Returns
 * MF_OK, or MF_EINVAL when either config is refused (the controller then
 * holds MF_FAULT_CONFIG). */
int mf_sim_node_init(mf_sim_node_t *n, const mf_ctrl_config_t *ccfg, const mf_plant_params_t *pp,
                     uint64_t seed);

/* Run n_nodes nodes for n_steps PWM periods of dt_s each. rec may be NULL;
 * otherwise it holds n_nodes * (n_steps / decim) samples, node-major:
 * rec[i * (n_steps / decim) + k]. t0_s is the time at the start. Returns
 * n_steps, or the index of the first period after which a plant state was
 * not finite (then *bad_node names the node; the run stops there). */
uint32_t mf_sim_run(mf_sim_node_t *nodes, uint32_t n_nodes, uint32_t n_steps, double dt_s,
                    uint32_t decim, mf_sim_sample_t *rec, uint32_t *bad_node);

#endif /* MF_SIM_H */
