/* mf_sim.c - closed loop of the simulated actuator: firmware + plant. */
#include "mf_sim.h"

#include <string.h>

#include "mf_err.h"

int mf_sim_node_init(mf_sim_node_t *n, const mf_app_config_t *cfg, const mf_plant_params_t *pp,
                     uint64_t seed)
{
    int rc_a, rc_p;
    double period_s;
    if (n == NULL || cfg == NULL || pp == NULL) {
        return MF_ENULL;
    }
    period_s = (double)cfg->ctrl.pwm_period_s;
    memset(n, 0, sizeof *n);
    n->pp = *pp;
    rc_a = mf_app_init(&n->app, cfg);
    rc_p = mf_plant_init(&n->plant, &n->pp, seed);
    n->pending.pwm_enable = false;
    n->faults = n->app.ctrl.prot.faults;
    n->tick_div = 1u;
    if (period_s > 0.0 && period_s < MF_SIM_TICK_S) { /* false for NaN */
        n->tick_div = (uint32_t)(MF_SIM_TICK_S / period_s + 0.5);
    }
    n->tick_count = 0u;
    return (rc_a == MF_OK && rc_p == MF_OK) ? MF_OK : MF_EINVAL;
}

int mf_sim_command(mf_sim_node_t *n, const mf_ctrl_cmd_t *cmd)
{
    mf_app_t *a = &n->app;
    int rc = mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, cmd);
    if (rc == MF_OK && a->state != (uint8_t)MF_APP_BOOT && a->ctrl.prot.faults == 0u) {
        a->state = (uint8_t)((cmd->mode == (uint8_t)MF_MODE_IDLE) ? MF_APP_IDLE : MF_APP_RUNNING);
        a->armed_s = 0.0f;
    }
    return rc;
}

uint32_t mf_sim_clear_faults(mf_sim_node_t *n)
{
    mf_app_t *a = &n->app;
    n->faults = mf_ctrl_clear_faults(&a->ctrl, &a->ctrl_cfg);
    if (a->state == (uint8_t)MF_APP_FAULT && n->faults == 0u) {
        a->state = (uint8_t)MF_APP_IDLE;
    }
    return n->faults;
}

void mf_sim_estop(mf_sim_node_t *n)
{
    mf_ctrl_estop(&n->app.ctrl);
    n->faults = n->app.ctrl.prot.faults;
    if (n->app.state != (uint8_t)MF_APP_BOOT) {
        n->app.state = (uint8_t)MF_APP_FAULT;
    }
}

static void mf_sim_record(mf_sim_node_t *n, const mf_ctrl_pwm_t *applied, mf_sim_sample_t *r)
{
    const mf_ctrl_t *c = &n->app.ctrl;
    mf_ctrl_refresh_outputs(&n->app.ctrl, &n->app.ctrl_cfg);
    const mf_plant_t *p = &n->plant;
    r->t_s = p->t_s;
    r->i_d = c->i_d;
    r->i_q = c->i_q;
    r->i_d_ref = c->i_d_ref;
    r->i_q_ref = c->i_q_ref;
    r->v_d = c->cur.v_d;
    r->v_q = c->cur.v_q;
    r->theta_e = c->est.theta_e;
    r->omega_m_est = c->est.omega_m;
    r->p_out_est = c->p_out;
    r->v_out_est = c->v_out;
    r->tau_out_ref = c->tau_out_ref;
    r->v_bus_est = c->v_bus;
    r->duty[0] = applied->duty[0];
    r->duty[1] = applied->duty[1];
    r->duty[2] = applied->duty[2];
    r->i_abc[0] = p->i_abc[0];
    r->i_abc[1] = p->i_abc[1];
    r->i_abc[2] = p->i_abc[2];
    r->theta_m = p->theta_m;
    r->omega_m = p->omega_m;
    r->tau_e = p->tau_e;
    r->p_out = p->theta_out_rad;
    r->v_out = p->omega_out_rad_s;
    r->tau_out = p->tau_out_nm;
    r->p_load = p->theta_l;
    r->temp_winding_c = p->temp_winding_c;
    r->faults = n->faults;
    r->mode = c->active_mode;
    r->pwm_enable = applied->pwm_enable ? 1u : 0u;
}

uint32_t mf_sim_run(mf_sim_node_t *nodes, uint32_t n_nodes, uint32_t n_steps, double dt_s,
                    uint32_t decim, mf_sim_sample_t *rec, uint32_t *bad_node)
{
    uint32_t k, i;
    uint32_t n_rec = (decim > 0u) ? n_steps / decim : 0u;
    uint32_t dcount = 0u;
    for (k = 0u; k < n_steps; k++) {
        bool record = false;
        if (rec != NULL && decim > 0u) {
            dcount++;
            if (dcount == decim) {
                dcount = 0u;
                record = true;
            }
        }
        for (i = 0u; i < n_nodes; i++) {
            mf_sim_node_t *n = &nodes[i];
            mf_ctrl_sense_t sense;
            mf_ctrl_pwm_t fresh;
            const mf_ctrl_pwm_t *applied;
            mf_plant_sense(&n->plant, &n->pp, &sense);
            n->faults = mf_app_isr(&n->app, &sense, &fresh);
            /* an output switched off (or braked) acts at once; duties wait a period */
            applied = (fresh.pwm_enable && n->faults == 0u) ? &n->pending : &fresh;
            if (!fresh.pwm_enable || n->faults != 0u) {
                n->pending = fresh;
            }
            mf_plant_step_pwm(&n->plant, &n->pp, applied->duty, applied->pwm_enable, dt_s);
            if (record) {
                mf_sim_record(n, applied, &rec[(size_t)i * n_rec + (k + 1u) / decim - 1u]);
            }
            n->pending = fresh;
            n->tick_count++;
            if (n->tick_count >= n->tick_div) { /* the main loop, between interrupts */
                mf_app_tick(&n->app, (float)((double)n->tick_count * dt_s));
                n->tick_count = 0u;
            }
            if (!mf_plant_is_finite(&n->plant)) {
                if (bad_node != NULL) {
                    *bad_node = i;
                }
                return k;
            }
        }
    }
    return n_steps;
}
