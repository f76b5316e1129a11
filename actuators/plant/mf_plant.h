/* mf_plant.h - software plant of one joint actuator (double precision, host).
 *
 * PMSM in the rotor (dq) frame with saliency, inverter, sensors, mechanics,
 * gearbox, optional series-elastic tendon, load and a thermal model. This is
 * the simulated hardware the control core runs against; it is host code
 * (double, libm), not firmware.
 *
 * Conventions (DESIGN.md section 3):
 *   theta_e = p theta_m, omega_e = p omega_m; amplitude-invariant Clarke;
 *   Park d = alpha cos + beta sin, q = -alpha sin + beta cos.
 *   v_d = R i_d + L_d di_d/dt - omega_e L_q i_q
 *   v_q = R i_q + L_q di_q/dt + omega_e (L_d i_d + flux)
 *   tau_e = 1.5 p (flux i_q + (L_d - L_q) i_d i_q)
 *   J dw/dt = tau_e - b w - tau_c sig(w / w_s) - tau_cog(theta_m) - tau_t - loss
 *   R = r_ohm (1 + r_temp_coeff_per_k (T_winding - 20 degC))
 * Phase voltages are phase-to-neutral of a star motor with an isolated
 * neutral: only their differential part acts (the common mode drops out of
 * Clarke). Phase current positive = into the motor.
 *
 * Coulomb friction: tau_c sig(w / w_s) with the smooth sign
 *   sig(x) = x (15 - 10 x^2 + 3 x^4) / 8 for |x| < 1, sign(x) beyond
 * (C2 at |x| = 1, monotone, slope 15/8 at 0: no chatter at standstill; a
 * step that sweeps through the band |w| < w_s is redone in sub-steps that
 * follow it).
 * Cogging (mechanical angle, a torque that opposes the motor like friction):
 *   tau_cog = sum_k cog_amp_nm[k] sin((k+1) cog_n_per_rev theta_m + cog_phase_rad[k]).
 * Gearbox: gear_ratio N motor turns per output turn; the gearbox output angle
 * is theta_m / N. tau_t = tau_g / N is the output torque tau_g seen at the
 * motor. Efficiency eta acts on the transmitted torque as a loss that opposes
 * the motor speed: loss = |tau_t| c sig(w / w_s), c = 1/eta - 1 while the
 * motor drives the load (tau_t w >= 0: the motor gives tau_t / eta for tau_t
 * at the output) and c = 1 - eta while the load back-drives the motor (the
 * motor gets eta of the output torque). Without a tendon the load is rigidly
 * coupled: its inertia is reflected losslessly (J = j_kgm2 + load_j_kgm2 /
 * N^2) and the efficiency acts on its spring, damper and external torques.
 * Backlash (total play at the output, rad) is a dead band in the tendon
 * deflection and needs the tendon (the elastic element it acts in).
 * Tendon: tau_g = k dz(delta) + c d(delta)/dt (damper only while engaged),
 *   delta = theta_m / N - theta_l.
 * Load link: J_l dw_l/dt = tau_g - b_l w_l - k_l (theta_l - theta0) + tau_ext.
 *
 * Integration: classic RK4 over the step of the electrical and mechanical
 * states together, with the phase voltages held (zero-order hold in the
 * stationary frame, Park-rotated at each stage angle). One sin/cos per step
 * (re-evaluated every 64 steps; in between the cached angle is carried by
 * rotations): the stage angles theta_0 + c h w_stage are the rotation by
 * c h w_0 (Taylor series) followed by a short Taylor rotation by the small
 * rest. Sub-steps are taken when h rho > 0.5, rho a bound of the fastest
 * mode (R/L, |omega_e|, friction slope/J, sqrt(k/J), cogging), at most
 * MF_PLANT_MAX_SUBSTEPS; typical joint motors at 20-40 kHz take one.
 * R is taken at the mid-step winding temperature (extrapolated); the
 * thermal nodes take explicit Euler steps once per step with the RK4
 * quadrature of |i_dq|^2 over the step (their time constants are seconds).
 * Inverter (mf_plant_step_pwm): pole voltage = duty v_bus; dead time moves the
 * effective duty by -dead_time/dt sig(i_x / dead_time_i_band_a) (the diodes
 * conduct during the dead time: pole at 0 for current into the motor); the
 * duty clamp [0, 1] is the voltage limit (|v| <= v_bus/sqrt3 in the linear
 * range). r_on_ohm adds to R while enabled and heats the FET node.
 * Coast (pwm_enable false): the freewheel diodes as a six-pulse rectifier
 * (diode drop neglected): a phase with current out of the motor has its pole
 * at v_bus, into the motor at 0, a phase at zero current the pole its
 * back-EMF sign selects; integrated in MF_PLANT_COAST_SUBSTEPS sub-steps with
 * the poles updated each sub-step. When the currents reverse against the
 * diodes and the line-to-line back-EMF peak sqrt3 flux |omega_e| is below
 * v_bus, they are set to zero and stay zero (no conduction, no torque) until
 * the back-EMF exceeds v_bus or the inverter is enabled; meanwhile v_abc
 * reports the open-circuit back-EMF.
 *
 * Sensors (mf_plant_sense, the state at the end of the last step):
 *   adc_i[x] = round(adc_i_offset_counts + (i_x + n) / adc_i_a_per_count),
 *     n ~ N(0, adc_noise_a^2), clamped to [0, 2^adc_bits - 1]; so the core's
 *     adc_i_gain_a = adc_i_a_per_count, adc_i_offset = adc_i_offset_counts.
 *   adc_vbus = round((v_bus + n) / adc_vbus_v_per_count), clamped likewise.
 *   enc_count = floor(enc_offset_counts + enc_direction theta_m(t - latency)
 *     counts_per_rev / 2pi) mod counts_per_rev (theta_m interpolated in a
 *     history of MF_PLANT_HIST steps, assuming a constant step).
 *   temp_motor_c = winding node, temp_fet_c = FET node.
 * Noise: xoshiro256** seeded by splitmix64, ziggurat normals (Marsaglia and
 * Tsang, 128 layers). Same seed and inputs -> bit-identical results.
 */
#ifndef MF_PLANT_H
#define MF_PLANT_H

#include <stdbool.h>
#include <stdint.h>

#include "mf_ctrl.h"
#include "mf_err.h"

#define MF_PLANT_COG_MAX 4           /* cogging harmonics */
#define MF_PLANT_HIST 32             /* encoder latency history, steps (power of 2) */
#define MF_PLANT_MAX_SUBSTEPS 256    /* RK4 sub-steps per step, at most */
#define MF_PLANT_COAST_SUBSTEPS 8    /* coast sub-steps (diode commutation) */
#define MF_PLANT_ZIG_N 128           /* ziggurat layers */

typedef struct {
    /* motor */
    double r_ohm;                 /* phase resistance at 20 degC, ohm, > 0 */
    double r_temp_coeff_per_k;    /* resistance temperature coefficient, 1/K, [0, 0.01] (copper 0.00393) */
    double ld_h;                  /* d-axis inductance, H, > 0 */
    double lq_h;                  /* q-axis inductance, H, > 0 */
    double flux_wb;               /* PM flux linkage, Wb, >= 0 */
    uint32_t pole_pairs;          /* [1, 1000] */
    double j_kgm2;                /* rotor inertia, kg m^2, > 0 */
    double b_nms_per_rad;         /* viscous friction, N m s/rad, >= 0 */
    double tau_coulomb_nm;        /* Coulomb friction, N m, >= 0 */
    double omega_coulomb_rad_s;   /* smoothing speed w_s of Coulomb friction and gear loss, rad/s, > 0 */
    uint32_t cog_n_per_rev;       /* cogging periods per mechanical turn, 0 = no cogging */
    double cog_amp_nm[MF_PLANT_COG_MAX];   /* amplitude of harmonic k+1, N m, >= 0 */
    double cog_phase_rad[MF_PLANT_COG_MAX]; /* phase of harmonic k+1, rad, finite */
    /* inverter */
    double v_bus_v;               /* bus voltage, V, > 0 (initial s->v_bus_v) */
    double dead_time_s;           /* dead time, s, >= 0 */
    double dead_time_i_band_a;    /* current band of the dead-time sign, A, > 0 */
    double r_on_ohm;              /* switch on-resistance, ohm, >= 0 */
    /* gearbox */
    double gear_ratio;            /* motor turns per output turn, > 0 */
    double gear_efficiency;       /* (0, 1] */
    double gear_backlash_rad;     /* total play at the output, rad, >= 0 (> 0 needs the tendon) */
    /* tendon (series elastic, gearbox output -> load link) */
    bool tendon_enabled;          /* false: load rigidly coupled */
    double tendon_k_nm_per_rad;   /* stiffness, N m/rad, > 0 when enabled */
    double tendon_c_nms_per_rad;  /* damping, N m s/rad, >= 0 */
    /* load link (output side) */
    double load_j_kgm2;           /* inertia, kg m^2, >= 0 (> 0 with the tendon) */
    double load_b_nms_per_rad;    /* damper to ground, N m s/rad, >= 0 */
    double load_k_nm_per_rad;     /* spring to ground, N m/rad, >= 0 */
    double load_theta0_rad;       /* spring rest angle, rad, finite */
    double load_tau_ext_nm;       /* external torque on the load, N m, finite (initial s->tau_ext_nm) */
    /* thermal: winding -> housing -> ambient, FET -> ambient */
    double temp_ambient_c;        /* degC, [-60, 200] */
    double temp_init_c;           /* initial temperature of every node, degC, [-60, 200] */
    double th_c_winding_j_per_k;  /* heat capacity, J/K, > 0 */
    double th_r_winding_housing_k_per_w; /* K/W, > 0 */
    double th_c_housing_j_per_k;  /* J/K, > 0 */
    double th_r_housing_ambient_k_per_w; /* K/W, > 0 */
    double th_c_fet_j_per_k;      /* J/K, > 0 */
    double th_r_fet_ambient_k_per_w;     /* K/W, > 0 */
    /* sensors */
    uint32_t adc_bits;            /* ADC resolution, [8, 16] */
    double adc_i_a_per_count;     /* A per count, > 0 */
    double adc_i_offset_counts;   /* counts at zero current, [0, 2^bits - 1] */
    double adc_noise_a;           /* current noise std dev, A, >= 0 */
    double adc_vbus_v_per_count;  /* V per count, > 0 */
    double adc_vbus_noise_v;      /* bus-voltage noise std dev, V, >= 0 */
    uint32_t enc_counts_per_rev;  /* [4, 2^30] */
    double enc_offset_counts;     /* count at theta_m = 0, [0, counts_per_rev) */
    int32_t enc_direction;        /* +1 or -1: sign of counts vs motor rotation */
    double enc_latency_s;         /* s, >= 0 (interpolated over the history) */
} mf_plant_params_t;

/* Coefficients of the derivative, scaled by 1/L and 1/J (set at init; the
 * voltage, resistance and external-torque terms each step). */
typedef struct {
    double vad, vbd, vaq, vbq;    /* v_alpha/L_d, v_beta/L_d, v_alpha/L_q, v_beta/L_q, A/s */
    double rld, rlq;              /* R/L_d, R/L_q, 1/s */
    double kdq, kqd, kqf;         /* p L_q/L_d, p L_d/L_q, p flux/L_q (0: currents held) */
    double ktj, krj;              /* kt/J, kr/J */
    double bj, tcj, inv_ws;       /* b/J, tau_c/J, 1/w_s */
    double blj, klj, l0j;         /* rigid load: b_l/(N^2 J), k_l/(N^2 J), (k_l theta0 + tau_ext)/(N J) */
    double inv_n, tk, tc, hb;     /* 1/N; tendon stiffness, damping, half backlash */
    double bl, kl, th0, ext, ijl, nj; /* load link: b, k, rest angle, tau_ext, 1/J_l; 1/(N J) */
    double c_drive, c_back;       /* gear loss coefficients 1/eta - 1, 1 - eta */
    double c_gear[2];             /* c_back, c_drive: indexed by "the motor drives" */
    int tendon, lossy, ncog_h;    /* flags, cogging harmonics in use */
} mf_plant_coef_t;

typedef struct {
    /* derived at init */
    double pp;                    /* pole pairs as double */
    double inv_ld, inv_lq;        /* 1/H */
    mf_plant_coef_t k;            /* derivative coefficients */
    double kt;                    /* 1.5 p flux, N m/A */
    double kr;                    /* 1.5 p (L_d - L_q), N m/A^2 */
    double inv_ws;                /* 1 / omega_coulomb, s/rad */
    double inv_j;                 /* 1 / motor-side inertia (load reflected when rigid), 1/(kg m^2) */
    double inv_jl;                /* 1 / load inertia (tendon), 1/(kg m^2) */
    double inv_gear;              /* 1 / N */
    double c_drive, c_back;       /* gear loss coefficients 1/eta - 1, 1 - eta */
    double half_backlash;         /* rad */
    double kdq, kqd, kqf;         /* p L_q/L_d, p L_d/L_q, p flux/L_q */
    double ncog;                  /* cogging periods per turn as double */
    double cog_a[MF_PLANT_COG_MAX], cog_b[MF_PLANT_COG_MAX]; /* amp cos(phase), amp sin(phase), N m */
    double cogj_a[MF_PLANT_COG_MAX], cogj_b[MF_PLANT_COG_MAX]; /* the same / J, 1/s^2 */
    int ncog_h;                   /* harmonics in use */
    double max_inv_l;             /* max(1/L_d, 1/L_q), 1/H (rate R/L per ohm) */
    double rho_mech;              /* mechanical mode bound (springs, dampers, coupling), 1/s */
    double rho_speed;             /* rate per |omega_m| (electrical and cogging rotation), 1 */
    double w_stick;               /* omega_coulomb: below it the friction slope counts, rad/s */
    double rho_fric;              /* Coulomb slope / J near standstill, 1/s */
    double rho_gear_per_nm;       /* gear-loss slope / J per N m transmitted, 1/(N m s) */
    double th_rate;               /* fastest thermal rate, 1/s */
    double inv_band;              /* 1 / dead_time_i_band_a, 1/A */
    double inv_c_w, inv_c_h, inv_c_f;    /* 1 / heat capacities, K/J */
    double inv_r_wh, inv_r_ha, inv_r_fa; /* 1 / thermal resistances, W/K */
    double inv_adc_i, inv_adc_v;  /* counts per A, counts per V */
    double adc_max;               /* 2^bits - 1 */
    double enc_scale;             /* dir * counts_per_rev / 2pi, counts/rad */
    uint32_t enc_mask;            /* counts_per_rev - 1 when a power of two, else 0 */
    double inv_cpr;               /* 1 / counts_per_rev */
    /* dt-dependent, recomputed when dt changes */
    double dt_cached, inv_dt;     /* s, 1/s */
    double dead_frac;             /* dead_time_s / dt: duty lost to the dead time */
    double lat_steps;             /* enc latency in steps */
    int th_n;                     /* thermal Euler sub-steps */
    double th_h;                  /* thermal sub-step, s */
    /* state */
    double i_d, i_q;              /* A */
    double theta_m, omega_m;      /* motor rad (multi-turn), rad/s */
    double theta_l, omega_l;      /* load link rad, rad/s (rigid: theta_m/N, omega_m/N) */
    double omega_prev;            /* omega_m at the start of the last step, rad/s */
    double temp_winding_c, temp_housing_c, temp_fet_c; /* degC */
    double dtemp_w_last;          /* winding temperature change of the last step, K */
    double t_s;                   /* simulated time, s */
    uint64_t step_count;          /* steps since init */
    bool i_off;                   /* coast: diodes blocking, currents held at zero */
    bool coasting;                /* the last step had the inverter disabled */
    /* inputs the caller may change between steps */
    double v_bus_v;               /* bus voltage, V */
    double tau_ext_nm;            /* external torque on the load, N m */
    /* caches at the end of the last step */
    double cos_e, sin_e;          /* cos, sin theta_e */
    double cos_g, sin_g;          /* cos, sin (cog_n_per_rev theta_m) */
    double hist[MF_PLANT_HIST];   /* theta_m at the last step ends, rad */
    uint32_t hist_head;           /* index of the newest entry */
    /* last outputs (end of the last step unless noted) */
    double i_abc[3];              /* A */
    double v_abc[3];              /* applied phase-neutral voltages over the step, V (coast, blocking: back-EMF) */
    double v_d, v_q;              /* applied voltage at the step start in dq, V */
    double tau_e;                 /* electromagnetic torque, N m */
    double tau_fric_nm;           /* viscous + Coulomb friction, N m (motor side) */
    double tau_cog_nm;            /* cogging torque, N m */
    double tau_out_nm;            /* torque of the gearbox output on the load path, N m
                                   * (rigid: load statics + J_load times the step's mean acceleration) */
    double theta_out_rad, omega_out_rad_s; /* gearbox output angle, rad, speed, rad/s */
    double p_cu_w;                /* copper loss, W */
    double p_fet_w;               /* inverter conduction loss, W */
    uint32_t n_sub;               /* RK4 sub-steps of the last step */
    double i2_int;                /* integral of i_d^2 + i_q^2 over the last integration, A^2 s */
    /* injected faults (mf_plant_inject; they persist until changed, init clears them) */
    double fault_i_offset_a;      /* added to the sensed phase-a current, A */
    double fault_heat_w;          /* extra heat into the winding node, W */
    bool fault_enc_stuck;         /* the encoder count is frozen */
    bool enc_frozen;              /* enc_frozen_count holds the frozen count */
    uint32_t enc_frozen_count;    /* the count while stuck */
    /* noise */
    uint64_t rng[4];              /* xoshiro256** state */
    uint32_t zig_k[MF_PLANT_ZIG_N];
    double zig_w[MF_PLANT_ZIG_N];
    double zig_f[MF_PLANT_ZIG_N];
} mf_plant_t;

/* Check every field; on MF_EINVAL *bad_field (if not NULL) names the first
 * field out of range (a string literal). */
int mf_plant_params_check(const mf_plant_params_t *p, const char **bad_field);
/* Validate, precompute and set the state at rest (theta 0, currents 0,
 * temperatures temp_init_c, the noise generator from seed). MF_OK, MF_EINVAL
 * or MF_ENULL. On failure *s is cleared and must not be stepped. */
int mf_plant_init(mf_plant_t *s, const mf_plant_params_t *p, uint64_t seed);
/* After writing state fields (i_d, i_q, theta_m, omega_m, theta_l, omega_l,
 * temperatures): recompute the caches (angles, i_abc, encoder history). */
void mf_plant_sync(mf_plant_t *s, const mf_plant_params_t *p);
/* One step of dt_s with phase-neutral voltages v_abc (V) held over it.
 * A dt_s that is not > 0 does nothing. */
void mf_plant_step_voltage(mf_plant_t *s, const mf_plant_params_t *p,
                           const double v_abc[3], double dt_s);
/* One PWM period dt_s through the inverter model: duty in [0, 1] (clamped, NaN
 * -> 0), pwm_enable false = coast. */
void mf_plant_step_pwm(mf_plant_t *s, const mf_plant_params_t *p,
                       const float duty[3], bool pwm_enable, double dt_s);
/* Sample the sensors (draws noise: advances the generator). */
void mf_plant_sense(mf_plant_t *s, const mf_plant_params_t *p, mf_ctrl_sense_t *out);
/* 1 when every state is finite, else 0. */
int mf_plant_is_finite(const mf_plant_t *s);
/* Restart the noise generator from seed (splitmix64 -> xoshiro256**). */
void mf_plant_seed(mf_plant_t *s, uint64_t seed);
/* Standard normal sample from the plant's generator (for tests). */
double mf_plant_randn(mf_plant_t *s);

/* Fault injection (a test bench's plant and sensor faults; each persists
 * until changed):
 *   encoder stuck: the encoder count freezes at the count of the next
 *     mf_plant_sense (the motor keeps turning); false releases it;
 *   i_offset_a: added to the sensed phase-a current before the ADC (A,
 *     finite; NaN/Inf is refused);
 *   heat_w: extra heat into the winding node (W, finite, >= 0 or < 0 for
 *     cooling), on top of the copper loss.
 * Returns MF_OK or MF_EINVAL (nothing changed). */
int mf_plant_set_encoder_stuck(mf_plant_t *s, bool stuck);
int mf_plant_set_i_sense_offset(mf_plant_t *s, double i_offset_a);
int mf_plant_set_heat(mf_plant_t *s, double heat_w);

#endif /* MF_PLANT_H */
