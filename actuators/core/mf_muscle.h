/* mf_muscle.h - Hill-type muscle model driving the joint like a muscle pair.
 *
 * An agonist/antagonist pair (flexor, extensor) spans the joint. Each muscle:
 *   activation   da/dt = (u - a) / tau, tau = tau_act_s if u > a else tau_deact_s
 *   length       l = l_ref_m - r * p_out          (flexor: r = +moment_arm_m,
 *   velocity     v = -r * v_out                    extensor: r = -moment_arm_m)
 *   normalised   l~ = l / l_opt_m, v~ = v / (v_max_lopt_s * l_opt_m)
 *   force-length f_L = max(0, 1 - ((l~ - 1)/width)^2)
 *   force-vel.   shortening (v~ < 0): f_V = (1 + v~) / (1 - v~/curv)
 *                lengthening (v~ >= 0): f_V = ecc - (ecc - 1)(1 - v~)/(1 + v~*7.56/curv)
 *                (Geyer and Herr 2010 form), f_V >= 0 (v~ is clamped to >= -1)
 *   passive      f_PE = k_pe * (l~ - 1)^2 for l~ > 1, else 0
 *   force        F = f_max_n * (a f_L f_V + f_PE), N
 *   torque       tau = r * F, N m (output side); pair torque = sum
 * No exp/pow: polynomials and divisions only, so it runs on the M4F as is.
 *
 * Activation discretisation: the exact zero-order-hold solution
 *   a_k+1 = u + (a_k - u) exp(-h), h = dt_s/tau,
 * with exp(-h) replaced by 1/(1 + h + h^2/2 + h^3/6), which lies in (0, 1]
 * for every h >= 0 (unconditionally stable, monotone, no overshoot of u).
 * Per step ln(1/(1 + h + h^2/2 + h^3/6)) = -h + h^4/24 + O(h^5), so a step
 * response differs from 1 - exp(-t/tau) by at most about
 * max_x(x e^-x) h^3/24 = h^3/65 (e.g. 1.5e-5 at h = 0.1).
 * The activation is clamped to [0, 1]; excitations too (NaN -> 0).
 * Safety: a config that fails mf_muscle_config_check, or a non-finite p_out
 * or v_out, gives zero forces and zero torque; tau_max_nm < 0 or NaN gives
 * zero torque.
 */
#ifndef MF_MUSCLE_H
#define MF_MUSCLE_H

typedef struct {
    float f_max_n;        /* maximum isometric force, N, > 0 */
    float l_opt_m;        /* optimal fibre length, m, > 0 */
    float l_ref_m;        /* muscle length at p_out = 0, m, > 0 */
    float moment_arm_m;   /* moment arm, m, > 0 */
    float v_max_lopt_s;   /* max shortening speed, l_opt/s, > 0 */
    float width;          /* force-length width, > 0 */
    float curv;           /* force-velocity curvature, Hill a/F0 = b/v_max (~0.25), > 0 */
    float ecc;            /* eccentric force enhancement, >= 1 */
    float k_pe;           /* passive stiffness (normalised), >= 0 */
    float tau_act_s;      /* activation time constant, s, > 0 */
    float tau_deact_s;    /* deactivation time constant, s, > 0 */
} mf_muscle_config_t;

typedef struct {
    float act[2];         /* activation of flexor [0] and extensor [1], [0, 1] */
    float force_n[2];     /* last muscle forces, N */
    float tau_out;        /* last pair torque, N m, output side */
} mf_muscle_t;

/* Validate: every field finite and in the range its comment gives (the
 * divisors l_opt_m, width, curv, tau_*_s and v_max_lopt_s*l_opt_m also
 * >= 1e-30, so their reciprocals are finite). Returns MF_OK, MF_ENULL or MF_EINVAL. */
int mf_muscle_config_check(const mf_muscle_config_t *c);
void mf_muscle_reset(mf_muscle_t *s);
/* One step with excitations u_flex, u_ext (clamped to [0, 1]) at output
 * position p_out (rad) and speed v_out (rad/s). Returns the pair torque in
 * N m (positive = flexion = increasing p_out), saturated to +-tau_max_nm. */
float mf_muscle_step(mf_muscle_t *s, const mf_muscle_config_t *c, float u_flex,
                     float u_ext, float p_out, float v_out, float tau_max_nm,
                     float dt_s);

/* Reciprocals of the geometry fields (l_opt_m, v_max_lopt_s, width, curv),
 * derived once so that a step divides only by the activation time
 * constants. */
typedef struct {
    float inv_l_opt;      /* 1 / l_opt_m, 1/m */
    float inv_v_max;      /* 1 / (v_max_lopt_s l_opt_m), s/m */
    float inv_width;      /* 1 / width */
    float inv_curv;       /* 1 / curv */
} mf_muscle_derived_t;

/* Derive d from a config that passes mf_muscle_config_check. */
void mf_muscle_derive(mf_muscle_derived_t *d, const mf_muscle_config_t *c);
/* mf_muscle_step() without the config check, with d derived from c's
 * geometry (c's other fields may change between steps; c must still pass
 * mf_muscle_config_check). The controller's outer loop calls this. */
float mf_muscle_step_derived(mf_muscle_t *s, const mf_muscle_config_t *c, const mf_muscle_derived_t *d,
                             float u_flex, float u_ext, float p_out, float v_out, float tau_max_nm,
                             float dt_s);

#endif /* MF_MUSCLE_H */
