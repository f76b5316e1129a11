/* mf_impedance.h - joint impedance law on the output side (MIT-mode).
 *
 * tau_out = kp (p_des - p) + kd (v_des - v) + tau_ff, saturated to
 * +-tau_max_nm. Positions in rad, speeds in rad/s, torques in N m, all on the
 * output (link) side of the gearbox.
 * Safety: a negative or NaN kp/kd counts as 0; a NaN sum (a NaN input) and
 * tau_max_nm < 0 or NaN give tau_out = 0.
 */
#ifndef MF_IMPEDANCE_H
#define MF_IMPEDANCE_H

typedef struct {
    float p_des;      /* desired output position, rad */
    float v_des;      /* desired output speed, rad/s */
    float kp;         /* stiffness, N m/rad, >= 0 */
    float kd;         /* damping, N m s/rad, >= 0 */
    float tau_ff;     /* feed-forward torque, N m */
} mf_impedance_cmd_t;

typedef struct {
    float tau_spring; /* last kp term, N m */
    float tau_damper; /* last kd term, N m */
    float tau_out;    /* last output after saturation, N m */
} mf_impedance_t;

/* Returns tau_out in N m (also in s->tau_out). */
float mf_impedance_step(mf_impedance_t *s, const mf_impedance_cmd_t *cmd,
                        float p_out, float v_out, float tau_max_nm);

#endif /* MF_IMPEDANCE_H */
