/* mf_sim.h - the closed loop of the simulated actuator: firmware + plant.
 *
 * Each node embeds the whole firmware application (mf_app_t: the CAN
 * protocol, the state machine, the parameter table and the controller with
 * its config), so a simulated node answers frames exactly as the actuator.
 * Per PWM period, exactly as on the microcontroller:
 *   1. the plant's sensors are sampled (ADC counts, encoder count) at the
 *      start of the period;
 *   2. mf_app_isr (the firmware's PWM interrupt: mf_ctrl_step, outer loop
 *      every outer_div-th period, the ARMED watchdog) computes new duties;
 *   3. the inverter applies the duties computed in the previous period (the
 *      one-period computation delay of a real MCU, whose timer loads new
 *      compare values at the next update event) and the plant integrates the
 *      period. A disabled output (fault, idle) takes effect at once, as the
 *      timer's break input does on the MCU;
 *   4. every tick_div-th period (the main loop, MF_SIM_TICK_S) mf_app_tick
 *      runs with the time since the last tick (heartbeat, status, uptime).
 * Frames are fed between runs through mf_app_on_frame / mf_app_tx_pop on
 * &node->app (the caller's CAN layer). Commands given directly (a scripted
 * test, no CAN) go through mf_sim_command, which keeps the node's state
 * machine consistent with the controller (see there).
 * Virtual time only: nothing here reads a clock, so a run is reproducible bit
 * for bit from the plant's seed. N actuators are stepped together in one loop
 * (an array of nodes), for the humanoid case.
 */
#ifndef MF_SIM_H
#define MF_SIM_H

#include <stdint.h>

#include "mf_app.h"
#include "mf_ctrl.h"
#include "mf_plant.h"

#define MF_SIM_TICK_S 0.001 /* main-loop period of the simulated firmware, s */

/* One simulated actuator: its firmware application, plant and their configs. */
typedef struct {
    mf_app_t app;              /* firmware: protocol, state machine, params, controller */
    mf_plant_params_t pp;      /* plant parameters */
    mf_plant_t plant;          /* plant state */
    mf_ctrl_pwm_t pending;     /* duties computed last period, applied this one */
    uint32_t faults;           /* fault bits after the last step */
    uint32_t tick_div;         /* PWM periods per main-loop tick, >= 1 */
    uint32_t tick_count;       /* PWM periods since the last tick, [0, tick_div) */
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

/* Initialise a node from its configs (copied in) and a noise seed: mf_app_init
 * (state BOOT: the first mf_app_tick announces the boot; a caller that wants
 * the node up at once, or loads a parameter page first, calls mf_app_tick
 * itself) and mf_plant_init. tick_div = round(MF_SIM_TICK_S / pwm_period_s),
 * at least 1. Returns MF_OK, or MF_EINVAL when a config is refused (an
 * invalid controller config leaves MF_FAULT_CONFIG latched; invalid app
 * params leave the app refusing every frame but an emergency stop), MF_ENULL. */
int mf_sim_node_init(mf_sim_node_t *n, const mf_app_config_t *cfg, const mf_plant_params_t *pp,
                     uint64_t seed);

/* A command given directly to the controller (not over CAN):
 * mf_ctrl_command(&app.ctrl, &app.ctrl_cfg, cmd). When accepted, the state
 * machine follows as if the command had come in a setpoint frame: RUNNING
 * (IDLE for MF_MODE_IDLE) from IDLE, ARMED, RUNNING or a FAULT whose bits
 * are all cleared; BOOT is left to the first tick. So a directly commanded
 * node is never stopped by the ARMED watchdog: mf_ctrl's command watchdog
 * (protect.cmd_timeout_s) guards it, as it guards a node driven over CAN.
 * Returns mf_ctrl_command's code. */
int mf_sim_command(mf_sim_node_t *n, const mf_ctrl_cmd_t *cmd);
/* mf_ctrl_clear_faults; a FAULT node with no fault left goes to IDLE (as
 * Control CLEAR_FAULTS does). Returns the bits that remain. */
uint32_t mf_sim_clear_faults(mf_sim_node_t *n);
/* mf_ctrl_estop; the node goes to FAULT at once. */
void mf_sim_estop(mf_sim_node_t *n);

/* Run n_nodes nodes for n_steps PWM periods of dt_s each. rec may be NULL;
 * otherwise it holds n_nodes * (n_steps / decim) samples, node-major:
 * rec[i * (n_steps / decim) + k]. Returns n_steps, or the index of the
 * first period after which a plant state was not finite (then *bad_node
 * names the node; the run stops there). */
uint32_t mf_sim_run(mf_sim_node_t *nodes, uint32_t n_nodes, uint32_t n_steps, double dt_s,
                    uint32_t decim, mf_sim_sample_t *rec, uint32_t *bad_node);

#endif /* MF_SIM_H */
