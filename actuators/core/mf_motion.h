/* mf_motion.h - velocity and cascaded position loops on the output side.
 *
 * Velocity: PI on (v_ref - v) plus tau_ff -> torque, anti-windup at
 * +-tau_max_nm (mf_pi.h).
 * Position: v_ref = clamp(pos_kp (p_ref - p) + v_ff, +-v_max_rad_s) -> the
 * velocity loop, so |v_ref| <= v_max_rad_s always. A non-finite position
 * error or v_ff counts as 0. Output side of the gearbox: rad, rad/s, N m.
 * tau_max_nm < 0 or NaN gives zero torque (see mf_pi_step).
 */
#ifndef MF_MOTION_H
#define MF_MOTION_H

#include "mf_pi.h"

typedef struct {
    mf_pi_config_t vel_pi;  /* N m s/rad, N m/rad */
    float pos_kp;           /* position gain, 1/s, >= 0 */
    float v_max_rad_s;      /* speed-reference limit of the position loop, > 0 */
} mf_motion_config_t;

typedef struct {
    mf_pi_t vel_pi;
    float v_ref;            /* last speed reference, rad/s */
    float tau_out;          /* last torque, N m */
} mf_motion_t;

/* Validate: vel_pi gains, pos_kp finite >= 0, v_max_rad_s finite > 0. */
int mf_motion_config_check(const mf_motion_config_t *c);
void mf_motion_reset(mf_motion_t *s);
/* Velocity loop; returns tau_out, N m. */
float mf_velocity_step(mf_motion_t *s, const mf_motion_config_t *c, float v_ref,
                       float v_out, float tau_ff, float tau_max_nm, float dt_s);
/* Position loop cascaded on the velocity loop; returns tau_out, N m. */
float mf_position_step(mf_motion_t *s, const mf_motion_config_t *c, float p_ref,
                       float v_ff, float p_out, float v_out, float tau_ff,
                       float tau_max_nm, float dt_s);

#endif /* MF_MOTION_H */
