/* mf_plant.c - PMSM + inverter + mechanics + thermal plant (see mf_plant.h). */
#include "mf_plant.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define PLANT_SQRT3 1.73205080756887729353
#define PLANT_SQRT3_2 0.86602540378443864676
#define PLANT_2PI 6.28318530717958647692

/* ---- angles ------------------------------------------------------------ */

/* sin and cos of x: Cody-Waite reduction to [-pi/4, pi/4] and the fdlibm
 * kernel polynomials (about 1 ulp); libm for |x| >= 1e9 and non-finite x. */
static void plant_sincos(double x, double *sp, double *cp)
{
    static const double two_over_pi = 6.36619772367581382433e-01;
    static const double pio2_1 = 1.57079632673412561417e+00;  /* first 33 bits */
    static const double pio2_2 = 6.07710050630396597660e-11;  /* next 33 bits */
    static const double pio2_3 = 2.02226624879595063154e-21;  /* the rest */
    static const double round_magic = 6755399441055744.0;     /* 1.5 * 2^52 */
    double kd, r, z, sr, cr;
    int64_t q;
    if (!(fabs(x) < 1e9)) {
        *sp = sin(x);
        *cp = cos(x);
        return;
    }
    kd = (x * two_over_pi + round_magic) - round_magic;
    r = ((x - kd * pio2_1) - kd * pio2_2) - kd * pio2_3;
    z = r * r;
    sr = r + r * z * (-1.66666666666666324348e-01 + z * (8.33333333332248946124e-03
         + z * (-1.98412698298579493134e-04 + z * (2.75573137070700676789e-06
         + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))));
    cr = 1.0 - 0.5 * z + z * z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03
         + z * (2.48015872894767294178e-05 + z * (-2.75573143513906633035e-07
         + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
    q = (int64_t)kd;
    switch ((int)(q & 3)) {
    case 0: *sp = sr; *cp = cr; break;
    case 1: *sp = cr; *cp = -sr; break;
    case 2: *sp = -sr; *cp = -cr; break;
    default: *sp = -cr; *cp = sr; break;
    }
}

/* theta_m modulo 2 pi into about [-pi, pi] (exact for |theta_m| < 1e9). */
static double plant_wrap_2pi(double x)
{
    static const double inv_2pi = 1.59154943091895335769e-01;
    static const double twopi_1 = 6.28318530693650245667e+00;  /* 2 * pio2_1 * 2 */
    static const double twopi_2 = 2.43084020252158639064e-10;
    static const double twopi_3 = 8.08906499518380252616e-21;
    static const double round_magic = 6755399441055744.0;
    double kd;
    if (!(fabs(x) < 1e9)) {
        return fmod(x, PLANT_2PI);
    }
    kd = (x * inv_2pi + round_magic) - round_magic;
    return ((x - kd * twopi_1) - kd * twopi_2) - kd * twopi_3;
}

/* Smooth sign: x (15 - 10 x^2 + 3 x^4) / 8 for |x| < 1, sign(x) beyond
 * (C2 at |x| = 1, monotone, slope 15/8 at 0). */
static inline double plant_sig(double x)
{
    double z;
    /* clamped without branches (the polynomial is exactly +-1 at +-1; NaN
     * passes through) */
    x = (x > 1.0) ? 1.0 : x;
    x = (x < -1.0) ? -1.0 : x;
    z = x * x;
    return x * (1.875 + z * (-1.25 + 0.375 * z));
}

/* cos, sin of a small angle e (|e| <= 0.05: error below 3e-14). */
static inline void plant_trig_small(double e, double *c, double *s)
{
    double z = e * e;
    *s = e - e * z * (1.0 / 6.0 - z * (1.0 / 120.0));
    *c = 1.0 - z * (0.5 - z * (1.0 / 24.0));
}

/* (c, s) rotated by the angle whose cos, sin are (cd, sd). */
#define PLANT_ROT(c, s, cd, sd, co, so) \
    do { (co) = (c) * (cd) - (s) * (sd); (so) = (s) * (cd) + (c) * (sd); } while (0)

#if defined(__GNUC__)
#define PLANT_INLINE static inline __attribute__((always_inline))
#else
#define PLANT_INLINE static inline
#endif

/* ---- dynamics ---------------------------------------------------------- */

/* Cogging torque / J from (cos, sin) of ncog theta_m; nh: 1 or 2 harmonics,
 * 3 any number (s->ncog_h >= 1). */
PLANT_INLINE double plant_cogging_j(const mf_plant_t *s, double cg, double sg, const int nh)
{
    double ck = cg, sk = sg, a = s->cogj_a[0] * sg + s->cogj_b[0] * cg, t;
    int k;
    if (nh == 1) {
        return a;
    }
    if (nh == 2) {
        return a + (s->cogj_a[1] * (sg * cg + cg * sg) + s->cogj_b[1] * (cg * cg - sg * sg));
    }
    for (k = 1; k < s->ncog_h; ++k) {
        t = ck * cg - sk * sg;
        sk = sk * cg + ck * sg;
        ck = t;
        a += s->cogj_a[k] * sk + s->cogj_b[k] * ck;
    }
    return a;
}

/* Mechanical derivatives: dw (motor) and dwl (load link) at (w, th, thl, wl)
 * with (cg, sg) = cos, sin of ncog theta_m and tej = tau_e / J. */
PLANT_INLINE void plant_mech(const mf_plant_t *s, const mf_plant_coef_t *k,
                             double w, double th, double thl, double wl, double cg, double sg,
                             double tej, double *dw, double *dwl, const int tendon, const int cog)
{
    double sw = plant_sig(w * k->inv_ws);
    double a, tt;
    a = tej - (k->bj * w + k->tcj * sw);
    if (cog) {
        a -= plant_cogging_j(s, cg, sg, cog);
    }
    if (tendon) {
        double del = th * k->inv_n - thl;
        double deld = w * k->inv_n - wl;
        double tg;
        if (k->hb <= 0.0) {
            tg = k->tk * del + k->tc * deld;
        } else if (del > k->hb) {
            tg = k->tk * (del - k->hb) + k->tc * deld;
        } else if (del < -k->hb) {
            tg = k->tk * (del + k->hb) + k->tc * deld;
        } else {
            tg = 0.0;
        }
        *dwl = (tg - k->bl * wl - k->kl * (thl - k->th0) + k->ext) * k->ijl;
        tt = tg * k->nj;
    } else {
        tt = k->blj * w + k->klj * th - k->l0j;
        *dwl = 0.0;
    }
    if (k->lossy) {
        tt += fabs(tt) * k->c_gear[(tt * w >= 0.0) ? 1 : 0] * sw;
    }
    *dw = a - tt;
}

/* Time derivatives at (i_d, i_q, w, th, thl, wl) with (c, sn) = cos, sin
 * theta_e and (cg, sg) those of ncog theta_m. */
PLANT_INLINE void plant_f(const mf_plant_t *s, const mf_plant_coef_t *k,
                          double i_d, double i_q, double w, double th, double thl, double wl,
                          double c, double sn, double cg, double sg,
                          double *did, double *diq, double *dw, double *dwl,
                          const int tendon, const int cog)
{
    *did = (c * k->vad + sn * k->vbd) - k->rld * i_d + (w * k->kdq) * i_q;
    *diq = (c * k->vbq - sn * k->vaq) - k->rlq * i_q - w * (k->kqd * i_d + k->kqf);
    plant_mech(s, k, w, th, thl, wl, cg, sg, i_q * (k->ktj + k->krj * i_d), dw, dwl, tendon, cog);
}

/* Cached (cos, sin) of theta_e and of ncog theta_m, computed from theta_m. */
static void plant_angles(mf_plant_t *s, double theta_m)
{
    double w = plant_wrap_2pi(theta_m);
    plant_sincos(s->pp * w, &s->sin_e, &s->cos_e);
    if (s->ncog_h > 0) {
        plant_sincos(s->ncog * w, &s->sin_g, &s->cos_g);
    } else {
        s->sin_g = 0.0;
        s->cos_g = 1.0;
    }
}

typedef struct {
    double i_d, i_q, w, th, thl, wl;
} plant_x_t;

/* One classic RK4 step of hs from x (angles of x.th cached in s), leaving the
 * angles of the new x.th in s. The stage angles theta_0 + c h w_stage are
 * the exact ones: the part c h w_0 is a rotation known at the start, the
 * rest (c h (w_stage - w_0), small) a short Taylor rotation on top. */
PLANT_INLINE void plant_rk4_impl(mf_plant_t *s, const mf_plant_coef_t *k, plant_x_t *x, double hs,
                                 const int tendon, const int cog)
{
    double hh = 0.5 * hs, h6 = hs * (1.0 / 6.0);
    double w0 = x->w, wl0 = x->wl;
    double ce = s->cos_e, se = s->sin_e, cg = s->cos_g, sg = s->sin_g;
    double cd, sd, c2, s2, c4p, s4p, c3, s3, c4, s4, ct, st;
    double g2c = 1.0, g2s = 0.0, g4c = 1.0, g4s = 0.0, g3c = 1.0, g3s = 0.0, gc = 1.0, gs = 0.0;
    double gdc = 1.0, gds = 0.0;
    double d1, q1, w1, l1, d2, q2, w2, l2, d3, q3, w3, l3, d4, q4, w4, l4;
    double wa, wb, wc, lwa, lwb, lwc, e, e2, id_s, iq_s;

    /* predicted rotations: stage 2 (exact) and the base of stage 4 / end */
    {
        double a = hh * w0 * s->pp, z = a * a;
        sd = a + a * z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0
             + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))));
        cd = 1.0 - 0.5 * z + z * z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0
             + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0 + z * (-1.0 / 87178291200.0))))));
        PLANT_ROT(ce, se, cd, sd, c2, s2);
        PLANT_ROT(c2, s2, cd, sd, c4p, s4p);
    }
    if (cog) {
        double a = hh * w0 * s->ncog, z = a * a;
        gds = a + a * z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0
              + z * (1.0 / 362880.0 + z * (-1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))));
        gdc = 1.0 - 0.5 * z + z * z * (1.0 / 24.0 + z * (-1.0 / 720.0 + z * (1.0 / 40320.0
              + z * (-1.0 / 3628800.0 + z * (1.0 / 479001600.0 + z * (-1.0 / 87178291200.0))))));
        PLANT_ROT(cg, sg, gdc, gds, g2c, g2s);
        PLANT_ROT(g2c, g2s, gdc, gds, g4c, g4s);
    }

    plant_f(s, k, x->i_d, x->i_q, w0, x->th, x->thl, wl0, ce, se, cg, sg, &d1, &q1, &w1, &l1, tendon, cog);
    e2 = x->i_d * x->i_d + x->i_q * x->i_q;

    wa = w0 + hh * w1;
    lwa = wl0 + hh * l1;
    id_s = x->i_d + hh * d1;
    iq_s = x->i_q + hh * q1;
    e2 += 2.0 * (id_s * id_s + iq_s * iq_s);
    plant_f(s, k, id_s, iq_s, wa, x->th + hh * w0, x->thl + hh * wl0, lwa,
            c2, s2, g2c, g2s, &d2, &q2, &w2, &l2, tendon, cog);

    /* stage 3: theta_0 + hh w_a = stage-2 angle + hh^2 w1 */
    e = hh * hh * w1;
    plant_trig_small(s->pp * e, &cd, &sd);
    PLANT_ROT(c2, s2, cd, sd, c3, s3);
    if (cog) {
        plant_trig_small(s->ncog * e, &cd, &sd);
        PLANT_ROT(g2c, g2s, cd, sd, g3c, g3s);
    }
    wb = w0 + hh * w2;
    lwb = wl0 + hh * l2;
    id_s = x->i_d + hh * d2;
    iq_s = x->i_q + hh * q2;
    e2 += 2.0 * (id_s * id_s + iq_s * iq_s);
    plant_f(s, k, id_s, iq_s, wb, x->th + hh * wa, x->thl + hh * lwa, lwb,
            c3, s3, g3c, g3s, &d3, &q3, &w3, &l3, tendon, cog);

    /* stage 4: theta_0 + hs w_b = predicted + hs hh w2 */
    e = hs * hh * w2;
    plant_trig_small(s->pp * e, &cd, &sd);
    PLANT_ROT(c4p, s4p, cd, sd, c4, s4);
    if (cog) {
        plant_trig_small(s->ncog * e, &cd, &sd);
        PLANT_ROT(g4c, g4s, cd, sd, gc, gs);
    }
    wc = w0 + hs * w3;
    lwc = wl0 + hs * l3;
    id_s = x->i_d + hs * d3;
    iq_s = x->i_q + hs * q3;
    e2 += id_s * id_s + iq_s * iq_s;
    plant_f(s, k, id_s, iq_s, wc, x->th + hs * wb, x->thl + hs * lwb, lwc,
            c4, s4, gc, gs, &d4, &q4, &w4, &l4, tendon, cog);

    /* combination; theta: hs w0 + h6 hs (w1 + w2 + w3) */
    e = h6 * hs * (w1 + w2 + w3);
    x->i_d += h6 * (d1 + 2.0 * (d2 + d3) + d4);
    x->i_q += h6 * (q1 + 2.0 * (q2 + q3) + q4);
    x->w += h6 * (w1 + 2.0 * (w2 + w3) + w4);
    x->th += hs * w0 + e;
    if (tendon) {
        x->thl += h6 * (wl0 + 2.0 * (lwa + lwb) + lwc);
        x->wl += h6 * (l1 + 2.0 * (l2 + l3) + l4);
    }
    s->i2_int += h6 * e2;
    plant_trig_small(s->pp * e, &cd, &sd);
    PLANT_ROT(c4p, s4p, cd, sd, ct, st);
    s->cos_e = ct;
    s->sin_e = st;
    if (cog) {
        plant_trig_small(s->ncog * e, &cd, &sd);
        PLANT_ROT(g4c, g4s, cd, sd, ct, st);
        s->cos_g = ct;
        s->sin_g = st;
    }
}

/* plant_rk4_impl specialised for the load coupling and the cogging harmonics. */
static void plant_rk4(mf_plant_t *s, const mf_plant_coef_t *k, plant_x_t *x, double hs)
{
    switch (k->tendon * 4 + ((k->ncog_h < 3) ? k->ncog_h : 3)) {
    case 0: plant_rk4_impl(s, k, x, hs, 0, 0); break;
    case 1: plant_rk4_impl(s, k, x, hs, 0, 1); break;
    case 2: plant_rk4_impl(s, k, x, hs, 0, 2); break;
    case 3: plant_rk4_impl(s, k, x, hs, 0, 3); break;
    case 4: plant_rk4_impl(s, k, x, hs, 1, 0); break;
    case 5: plant_rk4_impl(s, k, x, hs, 1, 1); break;
    case 6: plant_rk4_impl(s, k, x, hs, 1, 2); break;
    default: plant_rk4_impl(s, k, x, hs, 1, 3); break;
    }
}

static uint32_t plant_substeps(const mf_plant_t *s, double h, double r)
{
    double aw = fabs(s->omega_m);
    double rho = r * s->max_inv_l + aw * s->rho_speed + s->rho_mech;
    double n;
    if (aw < s->w_stick) {
        rho += s->rho_fric + s->rho_gear_per_nm * fabs(s->tau_out_nm * s->inv_gear);
    }
    n = 2.0 * h * rho;
    if (n <= 1.0) {
        return 1u;
    }
    if (!(n < (double)MF_PLANT_MAX_SUBSTEPS)) {
        return MF_PLANT_MAX_SUBSTEPS;
    }
    return (uint32_t)n + 1u;
}

/* Advance the states over h with the stationary-frame voltage (va, vb) and
 * resistance r; elec_on false holds the currents at zero. Leaves the angle
 * caches at the end state. */
static void plant_integrate(mf_plant_t *s, const mf_plant_params_t *p, double va, double vb,
                            double h, double r, bool elec_on)
{
    uint32_t n = plant_substeps(s, h, r), j;
    double hs = (n == 1u) ? h : h / (double)n;
    double ild = elec_on ? s->inv_ld : 0.0, ilq = elec_on ? s->inv_lq : 0.0;
    mf_plant_coef_t *k = &s->k;
    plant_x_t x;
    k->vad = va * ild;
    k->vbd = vb * ild;
    k->vaq = va * ilq;
    k->vbq = vb * ilq;
    k->rld = r * ild;
    k->rlq = r * ilq;
    k->kdq = elec_on ? s->kdq : 0.0;
    k->kqd = elec_on ? s->kqd : 0.0;
    k->kqf = elec_on ? s->kqf : 0.0;
    k->l0j = (p->load_k_nm_per_rad * p->load_theta0_rad + s->tau_ext_nm) * s->inv_gear * s->inv_j;
    k->ext = s->tau_ext_nm;
    x.i_d = elec_on ? s->i_d : 0.0;
    x.i_q = elec_on ? s->i_q : 0.0;
    x.w = s->omega_m;
    x.th = s->theta_m;
    x.wl = s->omega_l;
    x.thl = s->theta_l;
    s->n_sub = n;
    s->i2_int = 0.0;
    {
        plant_x_t x0 = x;
        double ce = s->cos_e, se = s->sin_e, cg = s->cos_g, sg = s->sin_g;
        for (j = 0; j < n; ++j) {
            if (j > 0) {
                plant_angles(s, x.th);
            }
            plant_rk4(s, k, &x, hs);
        }
        /* The smooth sign of the friction is steep: a step that swept through
         * its band (|omega_m| < omega_coulomb) is redone in sub-steps small
         * enough to follow it. */
        if ((k->tcj > 0.0 || k->lossy) && fabs(x.w - x0.w) > 0.5 * p->omega_coulomb_rad_s
            && ((x.w < x0.w) ? x.w : x0.w) < p->omega_coulomb_rad_s
            && ((x.w > x0.w) ? x.w : x0.w) > -p->omega_coulomb_rad_s) {
            double m = 4.0 * fabs(x.w - x0.w) * s->inv_ws;
            uint32_t n2 = (m < (double)MF_PLANT_MAX_SUBSTEPS) ? (uint32_t)m + 1u : MF_PLANT_MAX_SUBSTEPS;
            if (n2 > n) {
                x = x0;
                s->cos_e = ce;
                s->sin_e = se;
                s->cos_g = cg;
                s->sin_g = sg;
                s->i2_int = 0.0;
                n = n2;
                hs = h / (double)n;
                s->n_sub = n;
                for (j = 0; j < n; ++j) {
                    if (j > 0) {
                        plant_angles(s, x.th);
                    }
                    plant_rk4(s, k, &x, hs);
                }
            }
        }
    }
    s->i_d = x.i_d;
    s->i_q = x.i_q;
    s->omega_m = x.w;
    s->theta_m = x.th;
    if (p->tendon_enabled) {
        s->omega_l = x.wl;
        s->theta_l = x.thl;
    } else {
        s->omega_l = x.w * s->inv_gear;
        s->theta_l = x.th * s->inv_gear;
    }
    if (n > 1u) {
        plant_angles(s, x.th);
    }
}

/* Resistance over the coming step: at the mid-step winding temperature,
 * extrapolated by half the last step's change. */
static inline double plant_r_step(const mf_plant_t *s, const mf_plant_params_t *p)
{
    return p->r_ohm * (1.0 + p->r_temp_coeff_per_k * (s->temp_winding_c + 0.5 * s->dtemp_w_last - 20.0));
}

static void plant_dt_cache(mf_plant_t *s, const mf_plant_params_t *p, double dt)
{
    double n;
    s->dt_cached = dt;
    s->inv_dt = 1.0 / dt;
    s->dead_frac = p->dead_time_s * s->inv_dt;
    s->lat_steps = p->enc_latency_s * s->inv_dt;
    n = 2.0 * dt * s->th_rate;
    if (n <= 1.0) {
        s->th_n = 1;
    } else if (!(n < 1048576.0)) {
        s->th_n = 1048576;
    } else {
        s->th_n = (int)n + 1;
    }
    s->th_h = dt / (double)s->th_n;
}

/* Outputs at the end state. */
static void plant_outputs(mf_plant_t *s, const mf_plant_params_t *p)
{
    double ia = s->cos_e * s->i_d - s->sin_e * s->i_q;
    double ib = s->sin_e * s->i_d + s->cos_e * s->i_q;
    double w = s->omega_m;
    s->i_abc[0] = ia;
    s->i_abc[1] = -0.5 * ia + PLANT_SQRT3_2 * ib;
    s->i_abc[2] = -0.5 * ia - PLANT_SQRT3_2 * ib;
    s->tau_e = s->i_q * (s->kt + s->kr * s->i_d);
    s->tau_fric_nm = p->b_nms_per_rad * w + p->tau_coulomb_nm * plant_sig(w * s->inv_ws);
    s->tau_cog_nm = (s->ncog_h > 0) ? plant_cogging_j(s, s->cos_g, s->sin_g, 3) / s->inv_j : 0.0;
    s->theta_out_rad = s->theta_m * s->inv_gear;
    s->omega_out_rad_s = w * s->inv_gear;
    if (p->tendon_enabled) {
        double del = s->theta_out_rad - s->theta_l, deld = s->omega_out_rad_s - s->omega_l;
        double hb = s->half_backlash;
        if (del > hb) {
            s->tau_out_nm = p->tendon_k_nm_per_rad * (del - hb) + p->tendon_c_nms_per_rad * deld;
        } else if (del < -hb) {
            s->tau_out_nm = p->tendon_k_nm_per_rad * (del + hb) + p->tendon_c_nms_per_rad * deld;
        } else {
            s->tau_out_nm = (hb > 0.0) ? 0.0
                            : p->tendon_k_nm_per_rad * del + p->tendon_c_nms_per_rad * deld;
        }
    } else {
        /* rigid: the load link's static torques plus its inertia torque (mean
         * acceleration over the step) */
        s->tau_out_nm = p->load_b_nms_per_rad * s->omega_l
                        + p->load_k_nm_per_rad * (s->theta_l - p->load_theta0_rad) - s->tau_ext_nm
                        + p->load_j_kgm2 * (w - s->omega_prev) * s->inv_dt * s->inv_gear;
    }
}

/* Thermal nodes over dt (explicit Euler) with the mean square current i2
 * (A^2, dq) and the FET loss (W). */
static void plant_thermal(mf_plant_t *s, const mf_plant_params_t *p, double i2, double p_fet_w)
{
    int n;
    double tw = s->temp_winding_c, th = s->temp_housing_c, tf = s->temp_fet_c;
    double ta = p->temp_ambient_c, alpha = p->r_temp_coeff_per_k;
    double kr = 1.5 * p->r_ohm * i2;                 /* copper loss at 20 degC, W */
    double q_extra = s->fault_heat_w;                /* injected heat, W */
    double hw = s->th_h * s->inv_c_w, hc = s->th_h * s->inv_c_h, hf = s->th_h * s->inv_c_f;
    double tw0 = tw;
    for (n = 0; n < s->th_n; ++n) {
        double q_wh = (tw - th) * s->inv_r_wh;
        double q_ha = (th - ta) * s->inv_r_ha;
        double p_cu = kr * (1.0 + alpha * (tw - 20.0));
        tw += hw * (p_cu + q_extra - q_wh);
        th += hc * (q_wh - q_ha);
        tf += hf * (p_fet_w - (tf - ta) * s->inv_r_fa);
    }
    s->temp_winding_c = tw;
    s->temp_housing_c = th;
    s->temp_fet_c = tf;
    s->dtemp_w_last = tw - tw0;
    s->p_cu_w = kr * (1.0 + alpha * (tw - 20.0));
    s->p_fet_w = p_fet_w;
}

/* Bookkeeping at the end of a step. */
static void plant_finish(mf_plant_t *s, const mf_plant_params_t *p, double dt)
{
    s->step_count += 1u;
    if ((s->step_count & 63u) == 0u) {
        plant_angles(s, s->theta_m);   /* bound the drift of the rotated angle caches */
    }
    plant_outputs(s, p);
    s->hist_head = (s->hist_head + 1u) & (MF_PLANT_HIST - 1u);
    s->hist[s->hist_head] = s->theta_m;
    s->t_s += dt;
}

static void plant_voltage_ab(const double v[3], double *va, double *vb)
{
    *va = (2.0 * v[0] - v[1] - v[2]) * (1.0 / 3.0);
    *vb = (v[1] - v[2]) * (1.0 / PLANT_SQRT3);
}

static void plant_step_ab(mf_plant_t *s, const mf_plant_params_t *p, const double v[3],
                          double dt, double r_extra)
{
    double va, vb;
    plant_voltage_ab(v, &va, &vb);
    s->v_d = s->cos_e * va + s->sin_e * vb;
    s->v_q = s->cos_e * vb - s->sin_e * va;
    plant_integrate(s, p, va, vb, dt, plant_r_step(s, p) + r_extra, true);
}

void mf_plant_step_voltage(mf_plant_t *s, const mf_plant_params_t *p,
                           const double v_abc[3], double dt_s)
{
    double m;
    if (!(dt_s > 0.0)) {
        return;
    }
    if (dt_s != s->dt_cached) {
        plant_dt_cache(s, p, dt_s);
    }
    s->omega_prev = s->omega_m;
    m = (v_abc[0] + v_abc[1] + v_abc[2]) * (1.0 / 3.0);
    s->v_abc[0] = v_abc[0] - m;
    s->v_abc[1] = v_abc[1] - m;
    s->v_abc[2] = v_abc[2] - m;
    s->i_off = false;
    s->coasting = false;
    plant_step_ab(s, p, s->v_abc, dt_s, 0.0);
    /* thermal nodes: mean square current over the step (RK4 quadrature) */
    plant_thermal(s, p, s->i2_int * s->inv_dt, 0.0);
    plant_finish(s, p, dt_s);
}

/* Phase currents (i_abc) and back-EMF (e_abc) of the present state. */
static void plant_phase(const mf_plant_t *s, const mf_plant_params_t *p, double i[3], double e[3])
{
    double ia = s->cos_e * s->i_d - s->sin_e * s->i_q;
    double ib = s->sin_e * s->i_d + s->cos_e * s->i_q;
    double ew = s->pp * s->omega_m * p->flux_wb;
    double ea = -ew * s->sin_e, eb = ew * s->cos_e;
    i[0] = ia;
    i[1] = -0.5 * ia + PLANT_SQRT3_2 * ib;
    i[2] = -0.5 * ia - PLANT_SQRT3_2 * ib;
    e[0] = ea;
    e[1] = -0.5 * ea + PLANT_SQRT3_2 * eb;
    e[2] = -0.5 * ea - PLANT_SQRT3_2 * eb;
}

static void plant_coast(mf_plant_t *s, const mf_plant_params_t *p, double dt)
{
    double hs = dt * (1.0 / (double)MF_PLANT_COAST_SUBSTEPS);
    double i[3], e[3], v[3], vsum[3] = {0.0, 0.0, 0.0};
    int j, x;
    s->coasting = true;
    for (j = 0; j < MF_PLANT_COAST_SUBSTEPS; ++j) {
        double emf_ll = PLANT_SQRT3 * fabs(s->pp * s->omega_m * p->flux_wb);
        bool blocking = emf_ll <= s->v_bus_v;
        if (blocking && s->i_d == 0.0 && s->i_q == 0.0) {
            s->i_off = true;      /* no current and the EMF below the bus: nothing conducts */
        }
        plant_phase(s, p, i, e);
        if (s->i_off && blocking) {
            /* diodes blocking: open circuit, the terminals show the back-EMF */
            s->v_d = 0.0;
            s->v_q = s->pp * s->omega_m * p->flux_wb;
            plant_integrate(s, p, 0.0, 0.0, hs, plant_r_step(s, p), false);
            for (x = 0; x < 3; ++x) {
                vsum[x] += e[x];
            }
        } else {
            double m, ia0, ib0, ia1, ib1;
            s->i_off = false;
            for (x = 0; x < 3; ++x) {
                bool high = (i[x] < 0.0) || (i[x] == 0.0 && e[x] > 0.0);
                v[x] = high ? s->v_bus_v : 0.0;
            }
            m = (v[0] + v[1] + v[2]) * (1.0 / 3.0);
            for (x = 0; x < 3; ++x) {
                v[x] -= m;
                vsum[x] += v[x];
            }
            ia0 = s->cos_e * s->i_d - s->sin_e * s->i_q;
            ib0 = s->sin_e * s->i_d + s->cos_e * s->i_q;
            plant_step_ab(s, p, v, hs, 0.0);
            ia1 = s->cos_e * s->i_d - s->sin_e * s->i_q;
            ib1 = s->sin_e * s->i_d + s->cos_e * s->i_q;
            if (blocking && (ia0 * ia1 + ib0 * ib1 <= 0.0
                             || ia1 * ia1 + ib1 * ib1 <= 1e-6 * (ia0 * ia0 + ib0 * ib0))) {
                s->i_d = 0.0;
                s->i_q = 0.0;
                s->i_off = true;
            }
        }
    }
    for (x = 0; x < 3; ++x) {
        s->v_abc[x] = vsum[x] * (1.0 / (double)MF_PLANT_COAST_SUBSTEPS);
    }
}

void mf_plant_step_pwm(mf_plant_t *s, const mf_plant_params_t *p,
                       const float duty[3], bool pwm_enable, double dt_s)
{
    double pole[3], m, i2;
    int x;
    if (!(dt_s > 0.0)) {
        return;
    }
    if (dt_s != s->dt_cached) {
        plant_dt_cache(s, p, dt_s);
    }
    i2 = s->i_d * s->i_d + s->i_q * s->i_q;
    s->omega_prev = s->omega_m;
    if (!pwm_enable) {
        plant_coast(s, p, dt_s);
        plant_thermal(s, p, 0.5 * (i2 + s->i_d * s->i_d + s->i_q * s->i_q), 0.0);
        plant_finish(s, p, dt_s);
        return;
    }
    /* s->i_abc: the phase currents at the end of the last step (plant_outputs) */
    for (x = 0; x < 3; ++x) {
        double d = (double)duty[x];
        d = (d > 1.0) ? 1.0 : ((d >= 0.0) ? d : 0.0);
        if (p->dead_time_s > 0.0) {
            d -= s->dead_frac * plant_sig(s->i_abc[x] * s->inv_band);
            d = (d > 1.0) ? 1.0 : ((d >= 0.0) ? d : 0.0);
        }
        pole[x] = d * s->v_bus_v;
    }
    m = (pole[0] + pole[1] + pole[2]) * (1.0 / 3.0);
    for (x = 0; x < 3; ++x) {
        s->v_abc[x] = pole[x] - m;
    }
    s->i_off = false;
    s->coasting = false;
    plant_step_ab(s, p, s->v_abc, dt_s, p->r_on_ohm);
    i2 = s->i2_int * s->inv_dt;
    plant_thermal(s, p, i2, 1.5 * p->r_on_ohm * i2);
    plant_finish(s, p, dt_s);
}

int mf_plant_is_finite(const mf_plant_t *s)
{
    double sum = s->i_d + s->i_q + s->theta_m + s->omega_m + s->theta_l + s->omega_l
                 + s->temp_winding_c + s->temp_housing_c + s->temp_fet_c;
    return (sum - sum == 0.0) ? 1 : 0;
}

/* ---- parameters and init ----------------------------------------------- */

static bool fin(double x) { return x - x == 0.0; }
static bool pos(double x) { return fin(x) && x > 0.0; }
static bool nonneg(double x) { return fin(x) && x >= 0.0; }
static bool within(double x, double lo, double hi) { return fin(x) && x >= lo && x <= hi; }

int mf_plant_params_check(const mf_plant_params_t *p, const char **bad_field)
{
    const char *bad = NULL;
    int k;
    if (p == NULL) {
        if (bad_field != NULL) {
            *bad_field = "params";
        }
        return MF_ENULL;
    }
#define PLANT_REQUIRE(cond, name) \
    do { if (bad == NULL && !(cond)) { bad = (name); } } while (0)
    PLANT_REQUIRE(pos(p->r_ohm), "r_ohm");
    PLANT_REQUIRE(within(p->r_temp_coeff_per_k, 0.0, 0.01), "r_temp_coeff_per_k");
    PLANT_REQUIRE(pos(p->ld_h), "ld_h");
    PLANT_REQUIRE(pos(p->lq_h), "lq_h");
    PLANT_REQUIRE(nonneg(p->flux_wb), "flux_wb");
    PLANT_REQUIRE(p->pole_pairs >= 1u && p->pole_pairs <= 1000u, "pole_pairs");
    PLANT_REQUIRE(pos(p->j_kgm2), "j_kgm2");
    PLANT_REQUIRE(nonneg(p->b_nms_per_rad), "b_nms_per_rad");
    PLANT_REQUIRE(nonneg(p->tau_coulomb_nm), "tau_coulomb_nm");
    PLANT_REQUIRE(pos(p->omega_coulomb_rad_s), "omega_coulomb_rad_s");
    PLANT_REQUIRE(p->cog_n_per_rev <= 10000u, "cog_n_per_rev");
    for (k = 0; k < MF_PLANT_COG_MAX; ++k) {
        PLANT_REQUIRE(nonneg(p->cog_amp_nm[k]), "cog_amp_nm");
        PLANT_REQUIRE(fin(p->cog_phase_rad[k]), "cog_phase_rad");
    }
    PLANT_REQUIRE(pos(p->v_bus_v), "v_bus_v");
    PLANT_REQUIRE(within(p->dead_time_s, 0.0, 1e-3), "dead_time_s");
    PLANT_REQUIRE(pos(p->dead_time_i_band_a), "dead_time_i_band_a");
    PLANT_REQUIRE(nonneg(p->r_on_ohm), "r_on_ohm");
    PLANT_REQUIRE(pos(p->gear_ratio), "gear_ratio");
    PLANT_REQUIRE(pos(p->gear_efficiency) && p->gear_efficiency <= 1.0, "gear_efficiency");
    PLANT_REQUIRE(nonneg(p->gear_backlash_rad), "gear_backlash_rad");
    PLANT_REQUIRE(p->gear_backlash_rad == 0.0 || p->tendon_enabled, "gear_backlash_rad");
    if (p->tendon_enabled) {
        PLANT_REQUIRE(pos(p->tendon_k_nm_per_rad), "tendon_k_nm_per_rad");
        PLANT_REQUIRE(pos(p->load_j_kgm2), "load_j_kgm2");
    }
    PLANT_REQUIRE(nonneg(p->tendon_k_nm_per_rad), "tendon_k_nm_per_rad");
    PLANT_REQUIRE(nonneg(p->tendon_c_nms_per_rad), "tendon_c_nms_per_rad");
    PLANT_REQUIRE(nonneg(p->load_j_kgm2), "load_j_kgm2");
    PLANT_REQUIRE(nonneg(p->load_b_nms_per_rad), "load_b_nms_per_rad");
    PLANT_REQUIRE(nonneg(p->load_k_nm_per_rad), "load_k_nm_per_rad");
    PLANT_REQUIRE(fin(p->load_theta0_rad), "load_theta0_rad");
    PLANT_REQUIRE(fin(p->load_tau_ext_nm), "load_tau_ext_nm");
    PLANT_REQUIRE(within(p->temp_ambient_c, -60.0, 200.0), "temp_ambient_c");
    PLANT_REQUIRE(within(p->temp_init_c, -60.0, 200.0), "temp_init_c");
    PLANT_REQUIRE(pos(p->th_c_winding_j_per_k), "th_c_winding_j_per_k");
    PLANT_REQUIRE(pos(p->th_r_winding_housing_k_per_w), "th_r_winding_housing_k_per_w");
    PLANT_REQUIRE(pos(p->th_c_housing_j_per_k), "th_c_housing_j_per_k");
    PLANT_REQUIRE(pos(p->th_r_housing_ambient_k_per_w), "th_r_housing_ambient_k_per_w");
    PLANT_REQUIRE(pos(p->th_c_fet_j_per_k), "th_c_fet_j_per_k");
    PLANT_REQUIRE(pos(p->th_r_fet_ambient_k_per_w), "th_r_fet_ambient_k_per_w");
    PLANT_REQUIRE(p->adc_bits >= 8u && p->adc_bits <= 16u, "adc_bits");
    PLANT_REQUIRE(pos(p->adc_i_a_per_count), "adc_i_a_per_count");
    if (bad == NULL) {
        double top = (double)((1u << p->adc_bits) - 1u);
        PLANT_REQUIRE(within(p->adc_i_offset_counts, 0.0, top), "adc_i_offset_counts");
    }
    PLANT_REQUIRE(nonneg(p->adc_noise_a), "adc_noise_a");
    PLANT_REQUIRE(pos(p->adc_vbus_v_per_count), "adc_vbus_v_per_count");
    PLANT_REQUIRE(nonneg(p->adc_vbus_noise_v), "adc_vbus_noise_v");
    PLANT_REQUIRE(p->enc_counts_per_rev >= 4u && p->enc_counts_per_rev <= (1u << 30), "enc_counts_per_rev");
    PLANT_REQUIRE(nonneg(p->enc_offset_counts) && p->enc_offset_counts < (double)p->enc_counts_per_rev,
                  "enc_offset_counts");
    PLANT_REQUIRE(p->enc_direction == 1 || p->enc_direction == -1, "enc_direction");
    PLANT_REQUIRE(within(p->enc_latency_s, 0.0, 1.0), "enc_latency_s");
#undef PLANT_REQUIRE
    if (bad_field != NULL) {
        *bad_field = bad;
    }
    return (bad == NULL) ? MF_OK : MF_EINVAL;
}

void mf_plant_sync(mf_plant_t *s, const mf_plant_params_t *p)
{
    double i[3], e[3];
    uint32_t k;
    if (!p->tendon_enabled) {
        s->theta_l = s->theta_m * s->inv_gear;
        s->omega_l = s->omega_m * s->inv_gear;
    }
    plant_angles(s, s->theta_m);
    plant_phase(s, p, i, e);
    for (k = 0; k < 3u; ++k) {
        s->i_abc[k] = i[k];
    }
    for (k = 0; k < MF_PLANT_HIST; ++k) {
        s->hist[k] = s->theta_m;
    }
    s->dtemp_w_last = 0.0;
    s->tau_e = s->i_q * (s->kt + s->kr * s->i_d);
    s->omega_prev = s->omega_m;
    s->theta_out_rad = s->theta_m * s->inv_gear;
    s->omega_out_rad_s = s->omega_m * s->inv_gear;
}

int mf_plant_init(mf_plant_t *s, const mf_plant_params_t *p, uint64_t seed)
{
    double j_m, kt2, rc, rl, rm, l_min;
    int k, rc_check;
    if (s == NULL || p == NULL) {
        return MF_ENULL;
    }
    memset(s, 0, sizeof(*s));
    rc_check = mf_plant_params_check(p, NULL);
    if (rc_check != MF_OK) {
        return rc_check;
    }
    s->pp = (double)p->pole_pairs;
    s->inv_ld = 1.0 / p->ld_h;
    s->inv_lq = 1.0 / p->lq_h;
    s->max_inv_l = (s->inv_ld > s->inv_lq) ? s->inv_ld : s->inv_lq;
    s->kt = 1.5 * s->pp * p->flux_wb;
    s->kr = 1.5 * s->pp * (p->ld_h - p->lq_h);
    s->inv_ws = 1.0 / p->omega_coulomb_rad_s;
    s->inv_gear = 1.0 / p->gear_ratio;
    j_m = p->tendon_enabled ? p->j_kgm2 : p->j_kgm2 + p->load_j_kgm2 * s->inv_gear * s->inv_gear;
    s->inv_j = 1.0 / j_m;
    s->inv_jl = p->tendon_enabled ? 1.0 / p->load_j_kgm2 : 0.0;
    s->c_drive = 1.0 / p->gear_efficiency - 1.0;
    s->c_back = 1.0 - p->gear_efficiency;
    s->half_backlash = 0.5 * p->gear_backlash_rad;
    s->ncog = (double)p->cog_n_per_rev;
    s->ncog_h = 0;
    for (k = 0; k < MF_PLANT_COG_MAX; ++k) {
        s->cog_a[k] = p->cog_amp_nm[k] * cos(p->cog_phase_rad[k]);
        s->cog_b[k] = p->cog_amp_nm[k] * sin(p->cog_phase_rad[k]);
        if (p->cog_n_per_rev > 0u && p->cog_amp_nm[k] > 0.0) {
            s->ncog_h = k + 1;
        }
    }
    /* fastest-mode bound: rates of the linearised system, summed */
    l_min = (p->ld_h < p->lq_h) ? p->ld_h : p->lq_h;
    kt2 = 1.5 * s->pp * s->pp * p->flux_wb * p->flux_wb / (j_m * l_min);
    rm = sqrt(kt2) + p->b_nms_per_rad * s->inv_j;
    rl = p->load_b_nms_per_rad * s->inv_gear * s->inv_gear * s->inv_j;
    if (p->tendon_enabled) {
        rm += sqrt(p->tendon_k_nm_per_rad * (s->inv_gear * s->inv_gear * s->inv_j + s->inv_jl))
              + p->tendon_c_nms_per_rad * (s->inv_gear * s->inv_gear * s->inv_j + s->inv_jl)
              + sqrt(p->load_k_nm_per_rad * s->inv_jl) + p->load_b_nms_per_rad * s->inv_jl;
    } else {
        rm += sqrt(p->load_k_nm_per_rad * s->inv_gear * s->inv_gear * s->inv_j) + rl;
    }
    rc = 0.0;
    for (k = 0; k < s->ncog_h; ++k) {
        rc += p->cog_amp_nm[k] * (double)(k + 1) * s->ncog;
    }
    rm += sqrt(rc * s->inv_j);
    s->rho_mech = rm;
    s->rho_speed = s->pp;
    if (s->ncog * (double)s->ncog_h > s->rho_speed) {
        s->rho_speed = s->ncog * (double)s->ncog_h;
    }
    s->w_stick = p->omega_coulomb_rad_s;
    s->rho_fric = 1.875 * p->tau_coulomb_nm * s->inv_ws * s->inv_j;
    s->rho_gear_per_nm = 1.875 * s->c_drive * s->inv_ws * s->inv_j;
    /* derivative coefficients */
    s->kdq = s->pp * p->lq_h * s->inv_ld;
    s->kqd = s->pp * p->ld_h * s->inv_lq;
    s->kqf = s->pp * p->flux_wb * s->inv_lq;
    for (k = 0; k < MF_PLANT_COG_MAX; ++k) {
        s->cogj_a[k] = s->cog_a[k] * s->inv_j;
        s->cogj_b[k] = s->cog_b[k] * s->inv_j;
    }
    s->k.kdq = s->kdq;
    s->k.kqd = s->kqd;
    s->k.kqf = s->kqf;
    s->k.ktj = s->kt * s->inv_j;
    s->k.krj = s->kr * s->inv_j;
    s->k.bj = p->b_nms_per_rad * s->inv_j;
    s->k.tcj = p->tau_coulomb_nm * s->inv_j;
    s->k.inv_ws = s->inv_ws;
    s->k.blj = p->load_b_nms_per_rad * s->inv_gear * s->inv_gear * s->inv_j;
    s->k.klj = p->load_k_nm_per_rad * s->inv_gear * s->inv_gear * s->inv_j;
    s->k.l0j = (p->load_k_nm_per_rad * p->load_theta0_rad + p->load_tau_ext_nm) * s->inv_gear * s->inv_j;
    s->k.inv_n = s->inv_gear;
    s->k.tk = p->tendon_k_nm_per_rad;
    s->k.tc = p->tendon_c_nms_per_rad;
    s->k.hb = s->half_backlash;
    s->k.bl = p->load_b_nms_per_rad;
    s->k.kl = p->load_k_nm_per_rad;
    s->k.th0 = p->load_theta0_rad;
    s->k.ext = p->load_tau_ext_nm;
    s->k.ijl = s->inv_jl;
    s->k.nj = s->inv_gear * s->inv_j;
    s->k.c_drive = s->c_drive;
    s->k.c_back = s->c_back;
    s->k.c_gear[0] = s->c_back;
    s->k.c_gear[1] = s->c_drive;
    s->k.tendon = p->tendon_enabled ? 1 : 0;
    s->k.lossy = (p->gear_efficiency < 1.0) ? 1 : 0;
    s->k.ncog_h = s->ncog_h;
    s->inv_band = 1.0 / p->dead_time_i_band_a;
    s->inv_c_w = 1.0 / p->th_c_winding_j_per_k;
    s->inv_c_h = 1.0 / p->th_c_housing_j_per_k;
    s->inv_c_f = 1.0 / p->th_c_fet_j_per_k;
    s->inv_r_wh = 1.0 / p->th_r_winding_housing_k_per_w;
    s->inv_r_ha = 1.0 / p->th_r_housing_ambient_k_per_w;
    s->inv_r_fa = 1.0 / p->th_r_fet_ambient_k_per_w;
    s->th_rate = s->inv_r_wh * s->inv_c_w;
    if ((s->inv_r_wh + s->inv_r_ha) * s->inv_c_h > s->th_rate) {
        s->th_rate = (s->inv_r_wh + s->inv_r_ha) * s->inv_c_h;
    }
    if (s->inv_r_fa * s->inv_c_f > s->th_rate) {
        s->th_rate = s->inv_r_fa * s->inv_c_f;
    }
    s->inv_adc_i = 1.0 / p->adc_i_a_per_count;
    s->inv_adc_v = 1.0 / p->adc_vbus_v_per_count;
    s->adc_max = (double)((1u << p->adc_bits) - 1u);
    s->enc_scale = (double)p->enc_direction * (double)p->enc_counts_per_rev / PLANT_2PI;
    s->enc_mask = ((p->enc_counts_per_rev & (p->enc_counts_per_rev - 1u)) == 0u)
                  ? p->enc_counts_per_rev - 1u : 0u;
    s->inv_cpr = 1.0 / (double)p->enc_counts_per_rev;
    s->dt_cached = 0.0;
    /* state at rest */
    s->temp_winding_c = p->temp_init_c;
    s->temp_housing_c = p->temp_init_c;
    s->temp_fet_c = p->temp_init_c;
    s->v_bus_v = p->v_bus_v;
    s->tau_ext_nm = p->load_tau_ext_nm;
    s->n_sub = 1u;
    mf_plant_sync(s, p);
    mf_plant_seed(s, seed);
    return MF_OK;
}
