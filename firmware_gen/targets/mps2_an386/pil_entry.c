/* pil_entry.c - processor-in-the-loop entry points of the firmware
 * application (mf_app) for an emulator that calls functions (unicorn, see
 * firmware_gen/pil.py). The emulator writes the inputs into the buffers
 * below (addresses from the ELF's symbols), calls a pil_* function with LR
 * at a stop address, and reads the results. pil_isr is the PWM interrupt:
 * what the HAL's ADC-triggered ISR does between reading the sensors and
 * writing the timer's compare registers.
 *
 * pil_command, pil_clear_faults and pil_estop mirror mf_sim_command,
 * mf_sim_clear_faults and mf_sim_estop (actuators/simcore/mf_sim.h): a
 * command given directly to the controller, the state machine kept
 * consistent, so a PIL run can be compared with the Cython simulator. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mf_app.h"
#include "mf_ctrl.h"
#include "mf_err.h"
#include "vec_codec.h"

/* The memory layout the host relies on (checked by firmware_gen/pil.py). */
typedef struct {
    uint32_t magic;                 /* 0x4C49504D "MPIL" */
    uint32_t sizeof_app_config;     /* mf_app_config_t */
    uint32_t sizeof_app;            /* mf_app_t */
    uint32_t sizeof_sense;          /* mf_ctrl_sense_t (20, packed as vectors.h) */
    uint32_t sizeof_pwm;            /* mf_ctrl_pwm_t */
    uint32_t off_sense_enc;         /* offsetof(mf_ctrl_sense_t, enc_count) */
    uint32_t off_sense_temp_fet;    /* offsetof(mf_ctrl_sense_t, temp_fet_c) */
    uint32_t off_pwm_enable;        /* offsetof(mf_ctrl_pwm_t, pwm_enable) */
    uint32_t off_app_state;         /* offsetof(mf_app_t, state) */
    uint32_t off_app_ctrl;          /* offsetof(mf_app_t, ctrl) */
    /* offsets inside mf_ctrl_t */
    uint32_t off_faults;
    uint32_t off_first_fault;
    uint32_t off_derate;
    uint32_t off_pwm;               /* mf_ctrl_pwm_t pwm */
    uint32_t off_active_mode;
    uint32_t off_cmd_mode;
    uint32_t off_i_abc;
    uint32_t off_i_d;
    uint32_t off_i_q;
    uint32_t off_i_d_ref;
    uint32_t off_i_q_ref;
    uint32_t off_v_d;
    uint32_t off_v_q;
    uint32_t off_v_bus;
    uint32_t off_theta_e;
    uint32_t off_theta_m;
    uint32_t off_omega_m;
    uint32_t off_p_out;
    uint32_t off_v_out;
    uint32_t off_tau_out_ref;
    uint32_t off_tau_out_est;
    uint32_t off_step_count;
    uint32_t sizeof_ctrl;           /* mf_ctrl_t */
    uint32_t off_io_pwm;            /* offsetof(pil_io_t, pwm) */
    uint32_t off_io_faults;         /* offsetof(pil_io_t, faults) */
    uint32_t off_frame_len;         /* offsetof(mf_app_frame_t, len) */
    uint32_t off_frame_fd;          /* offsetof(mf_app_frame_t, fd) */
    uint32_t off_frame_data;        /* offsetof(mf_app_frame_t, data) */
} pil_layout_t;

/* The PWM interrupt's inputs and outputs, side by side so the host moves
 * them with one write and one read per period. */
typedef struct {
    mf_ctrl_sense_t sense;      /* this period's sensor sample */
    mf_ctrl_pwm_t pwm;          /* the ISR's output */
    uint32_t faults;            /* the ISR's result: latched fault bits */
} pil_io_t;

#define PIL_LAYOUT_MAGIC 0x4C49504Du

const pil_layout_t pil_layout = {
    PIL_LAYOUT_MAGIC,
    (uint32_t)sizeof(mf_app_config_t),
    (uint32_t)sizeof(mf_app_t),
    (uint32_t)sizeof(mf_ctrl_sense_t),
    (uint32_t)sizeof(mf_ctrl_pwm_t),
    (uint32_t)offsetof(mf_ctrl_sense_t, enc_count),
    (uint32_t)offsetof(mf_ctrl_sense_t, temp_fet_c),
    (uint32_t)offsetof(mf_ctrl_pwm_t, pwm_enable),
    (uint32_t)offsetof(mf_app_t, state),
    (uint32_t)offsetof(mf_app_t, ctrl),
    (uint32_t)offsetof(mf_ctrl_t, prot.faults),
    (uint32_t)offsetof(mf_ctrl_t, prot.first_fault),
    (uint32_t)offsetof(mf_ctrl_t, prot.derate),
    (uint32_t)offsetof(mf_ctrl_t, pwm),
    (uint32_t)offsetof(mf_ctrl_t, active_mode),
    (uint32_t)offsetof(mf_ctrl_t, cmd.mode),
    (uint32_t)offsetof(mf_ctrl_t, i_abc),
    (uint32_t)offsetof(mf_ctrl_t, i_d),
    (uint32_t)offsetof(mf_ctrl_t, i_q),
    (uint32_t)offsetof(mf_ctrl_t, i_d_ref),
    (uint32_t)offsetof(mf_ctrl_t, i_q_ref),
    (uint32_t)offsetof(mf_ctrl_t, cur.v_d),
    (uint32_t)offsetof(mf_ctrl_t, cur.v_q),
    (uint32_t)offsetof(mf_ctrl_t, v_bus),
    (uint32_t)offsetof(mf_ctrl_t, est.theta_e),
    (uint32_t)offsetof(mf_ctrl_t, est.theta_m),
    (uint32_t)offsetof(mf_ctrl_t, est.omega_m),
    (uint32_t)offsetof(mf_ctrl_t, p_out),
    (uint32_t)offsetof(mf_ctrl_t, v_out),
    (uint32_t)offsetof(mf_ctrl_t, tau_out_ref),
    (uint32_t)offsetof(mf_ctrl_t, tau_out_est),
    (uint32_t)offsetof(mf_ctrl_t, step_count),
    (uint32_t)sizeof(mf_ctrl_t),
    (uint32_t)offsetof(pil_io_t, pwm),
    (uint32_t)offsetof(pil_io_t, faults),
    (uint32_t)offsetof(mf_app_frame_t, len),
    (uint32_t)offsetof(mf_app_frame_t, fd),
    (uint32_t)offsetof(mf_app_frame_t, data),
};

/* The node and its I/O buffers (the HAL's, on a real board). */
mf_app_t pil_app;
mf_app_config_t pil_cfg;       /* written by the host before pil_init */
pil_io_t pil_io;               /* sense in, pwm and faults out (pil_isr) */
uint8_t pil_cmd_buf[VEC_CMD_BYTES]; /* a command, packed as vectors.h */
mf_app_frame_t pil_frame;      /* a frame in (pil_on_frame) or out (pil_tx_pop) */

int pil_init(void);
void pil_isr(void);
void pil_tick(float dt_s);
void pil_refresh(void);
int pil_on_frame(uint32_t can_id, uint32_t len, uint32_t fd);
uint32_t pil_tx_pop(void);
int pil_command(void);
uint32_t pil_clear_faults(void);
void pil_estop(void);
int main(void);

int pil_init(void)
{
    return mf_app_init(&pil_app, &pil_cfg);
}

void pil_isr(void)
{
    pil_io.faults = mf_app_isr(&pil_app, &pil_io.sense, &pil_io.pwm);
}

/* The outer-rate outputs brought up to the last ISR (mf_ctrl_refresh_outputs),
 * before the host reads the controller's signals. */
void pil_refresh(void)
{
    mf_ctrl_refresh_outputs(&pil_app.ctrl, &pil_app.ctrl_cfg);
}

void pil_tick(float dt_s)
{
    mf_app_tick(&pil_app, dt_s);
}

int pil_on_frame(uint32_t can_id, uint32_t len, uint32_t fd)
{
    if (len > MF_APP_FRAME_MAX) {
        return MF_ERANGE;
    }
    return mf_app_on_frame(&pil_app, can_id, pil_frame.data, (uint8_t)len, fd != 0u);
}

uint32_t pil_tx_pop(void)
{
    return mf_app_tx_pop(&pil_app, &pil_frame) ? 1u : 0u;
}

int pil_command(void)
{
    mf_ctrl_cmd_t cmd;
    mf_app_t *a = &pil_app;
    int rc;
    vec_decode_cmd(pil_cmd_buf, &cmd);
    rc = mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, &cmd);
    if (rc == MF_OK && a->state != (uint8_t)MF_APP_BOOT && a->ctrl.prot.faults == 0u) {
        a->state = (uint8_t)((cmd.mode == (uint8_t)MF_MODE_IDLE) ? MF_APP_IDLE : MF_APP_RUNNING);
        a->armed_s = 0.0f;
    }
    return rc;
}

uint32_t pil_clear_faults(void)
{
    mf_app_t *a = &pil_app;
    uint32_t left = mf_ctrl_clear_faults(&a->ctrl, &a->ctrl_cfg);
    if (a->state == (uint8_t)MF_APP_FAULT && left == 0u) {
        a->state = (uint8_t)MF_APP_IDLE;
    }
    return left;
}

void pil_estop(void)
{
    mf_ctrl_estop(&pil_app.ctrl);
    if (pil_app.state != (uint8_t)MF_APP_BOOT) {
        pil_app.state = (uint8_t)MF_APP_FAULT;
    }
}

/* Not run under unicorn (the host calls the entry points); on QEMU the
 * image just stops. */
int main(void)
{
    return 0;
}
