/* mf_impedance.c - MIT-mode impedance law (see mf_impedance.h). */
#include "mf_impedance.h"

#include "mf_math.h"

float mf_impedance_step(mf_impedance_t *s, const mf_impedance_cmd_t *cmd,
                        float p_out, float v_out, float tau_max_nm)
{
    float kp = mf_maxf(cmd->kp, 0.0f); /* NaN -> 0 */
    float kd = mf_maxf(cmd->kd, 0.0f);
    float tau_spring = kp * (cmd->p_des - p_out);
    float tau_damper = kd * (cmd->v_des - v_out);
    float tau = tau_spring + tau_damper + cmd->tau_ff;
    if (tau != tau || !(tau_max_nm >= 0.0f)) {
        tau = 0.0f;
    } else {
        tau = mf_satf(tau, -tau_max_nm, tau_max_nm);
    }
    s->tau_spring = tau_spring;
    s->tau_damper = tau_damper;
    s->tau_out = tau;
    return tau;
}
