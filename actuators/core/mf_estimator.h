/* mf_estimator.h - rotor angle and speed from an absolute encoder.
 *
 * Encoder counts (single-turn, [0, counts_per_rev)) -> multi-turn mechanical
 * angle theta_m (rad, motor side), electrical angle theta_e (rad, [0, 2pi))
 * with direction, pole pairs and electrical offset, and a type-2 PLL speed
 * estimate omega_m (rad/s, motor side) with zero steady-state error on a
 * constant-speed ramp. The electrical angle is computed from integer counts
 * (count * pole_pairs mod counts_per_rev) so it does not lose precision over
 * turns. PLL gains: kp = 2 w_b, ki = w_b^2 (critically damped, w_b the
 * bandwidth in rad/s).
 *
 * Conventions. The directed count is count' = count (direction +1) or
 * (counts_per_rev - count) mod counts_per_rev (direction -1). Between two
 * updates the encoder must move less than counts_per_rev / 2 (the raw change
 * is taken modulo counts_per_rev into [-cpr/2, cpr/2), then the direction is
 * applied); a turn is counted when the directed count wraps. theta_m = (turns + count'/cpr) * 2pi.
 * The first sample sets turns to -1 when count' >= cpr/2 (rounded up), else
 * 0: theta_m starts in [-pi, pi), the motor turn nearest to zero, so a joint
 * at rest near its zero reads near zero whichever side of a count it rests.
 * theta_e = wrap_[0,2pi)(((count' * pole_pairs) mod cpr) * 2pi/cpr - offset).
 *
 * PLL, per update with the directed count y and period dt (counts, counts/s):
 *   predict  p = p + v dt
 *   error    e = y - p, wrapped into [-cpr/2, cpr/2)
 *   correct  p = p + kp dt e,  v = v + ki dt e,  p wrapped into [0, cpr)
 * The loop runs on the lag L = y - p (pll_lag_counts), a small number, so
 * its float precision does not depend on where in the turn the rotor is.
 * omega_m is the loop's integrator v (not p's rate of change, which carries
 * kp e and is noisier). Continuous equivalent, from the true speed:
 * omega_m / omega = w_b^2 / (s + w_b)^2 (critically damped, no overshoot;
 * step response 1 - e^(-w_b t) (1 + w_b t)); from the true angle:
 * p / theta = (2 w_b s + w_b^2) / (s + w_b)^2 (zero lag on a ramp).
 * The discrete loop is stable for w_b dt < 2 (sqrt 2 - 1) ~ 0.83; update()
 * limits the loop to w_b dt <= 0.5 (kp dt <= 1): at a larger dt it uses the
 * gains of w_b = 0.5 / dt. A dt that is not finite and > 0 skips the PLL
 * (angles still update, speed holds).
 */
#ifndef MF_ESTIMATOR_H
#define MF_ESTIMATOR_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf_math.h"

#define MF_ESTIMATOR_CPR_MAX (1u << 24)  /* counts exactly representable in float */
#define MF_ESTIMATOR_OFFSET_MAX_RAD 1.0e4f /* |offset_e_rad| bound (1 mrad float spacing) */

typedef struct {
    uint32_t counts_per_rev;   /* encoder counts per mechanical turn, [4, 2^24] */
    int32_t direction;         /* +1 or -1: sign of motor rotation vs counts */
    uint32_t pole_pairs;       /* >= 1; counts_per_rev * pole_pairs < 2^32 */
    float offset_e_rad;        /* theta_e = pp*angle(counts) - offset_e_rad; finite, |.| <= 1e4 */
    float pll_bandwidth_rad_s; /* PLL bandwidth w_b, rad/s, finite, > 0 */
} mf_estimator_config_t;

typedef struct {
    /* derived at init */
    float rad_per_count;       /* 2pi / counts_per_rev, rad */
    float pll_kp;              /* 2 w_b, 1/s */
    float pll_ki;              /* w_b^2, 1/s^2 */
    float offset_e_rad;        /* config offset wrapped to [0, 2pi), rad */
    /* state */
    uint32_t last_count;       /* last raw count, [0, counts_per_rev) */
    int32_t turns;             /* completed mechanical turns (direction applied; saturates at int32 limits) */
    float pll_lag_counts;      /* directed count minus PLL position (the loop state), counts */
    float pll_pos_counts;      /* PLL position within a turn, directed counts [0, cpr) */
    float pll_vel_counts_s;    /* PLL velocity, directed counts/s (kept apart from pll_lag_counts:
                                  the host compiler merges stores to adjacent fields into one wide
                                  store, and the next update's narrow loads then stall on it) */
    bool primed;               /* first sample seen */
    /* outputs */
    float theta_m;             /* multi-turn mechanical angle, rad */
    float theta_e;             /* electrical angle, rad, [0, 2pi) */
    float omega_m;             /* mechanical speed, rad/s */
    float omega_e;             /* electrical speed, rad/s */
    int32_t last_delta_counts; /* wrapped directed count change of the last update, counts */
    uint32_t last_y;           /* directed count of the last update, [0, counts_per_rev) */
} mf_estimator_t;

/* MF_OK, MF_ENULL or MF_EINVAL (a field outside the ranges above). */
int mf_estimator_config_check(const mf_estimator_config_t *c);
/* Validates c, derives gains, clears the state. Returns MF_OK or MF_EINVAL
 * (the state is then cleared too, and update() leaves it alone). */
int mf_estimator_init(mf_estimator_t *s, const mf_estimator_config_t *c);
/* One update with a raw count (taken modulo counts_per_rev) and the time
 * since the previous update dt_s (s). The first update after init primes the
 * state: PLL position = count, speed 0, turns 0 or -1 (theta_m in [-pi, pi)). */
void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                         uint32_t count, float dt_s);

/* ---- Inline implementation ------------------------------------------------
 * mf_estimator_update() is mf_estimator_update_inline(), defined here so that
 * the current loop (mf_ctrl_step) runs it without a call and keeps its
 * outputs in registers (on the host this is also what avoids stalls on
 * reloading the just-stored outputs). The mf_est_* helpers are internal. */

/* Largest w_b dt the update uses: kp dt = 2 w_b dt <= 1 (stable below 0.83). */
#define MF_EST_WDT_MAX 0.5f
/* |p / cpr| above which the PLL position is re-primed instead of wrapped. */
#define MF_EST_WRAP_TURNS_MAX 8388608.0f /* 2^23 */

/* x wrapped into [lo, lo + cpr_f) (lo = 0 or -cpr/2); false when x is too
 * far out (or NaN) to wrap. The callers test the range first: this runs only
 * on a wrap of the count or a lost loop. */
static inline bool mf_est_wrap_counts(float *x_p, float lo, float cpr_f, const mf_estimator_t *s)
{
    float inv_cpr = s->rad_per_count * (1.0f / MF_2PI_F);
    float x = *x_p;
    float k, r;
    if (x >= lo && x < lo + cpr_f) {
        return true; /* already in range: untouched, full precision */
    }
    x -= lo;
    k = x * inv_cpr;
    if (!(fabsf(k) < MF_EST_WRAP_TURNS_MAX)) {
        return false;
    }
    r = x - (float)(int32_t)k * cpr_f; /* truncation: r in (-cpr, cpr) up to rounding */
    if (r < 0.0f) {
        r += cpr_f;
    }
    if (r >= cpr_f) {
        r -= cpr_f;
    }
    if (!(r >= 0.0f && r < cpr_f)) { /* rounding at the edge */
        r = 0.0f;
    }
    r += lo;
    if (!(r >= lo && r < lo + cpr_f)) {
        r = lo;
    }
    *x_p = r;
    return true;
}

/* PLL gains for a time step dt_s: *a_p = kp dt (limited to 2 MF_EST_WDT_MAX,
 * i.e. w_b <= 0.5/dt), *bd_p = ki dt. False (gains untouched) when dt_s is not
 * finite and > 0: then update() skips the PLL. */
static inline bool mf_estimator_pll_gains(const mf_estimator_t *s, float dt_s, float *a_p, float *bd_p)
{
    float a, bd;
    if (!(dt_s > 0.0f && dt_s <= MF_FLT_MAX_F)) { /* not a finite time step */
        return false;
    }
    a = s->pll_kp * dt_s;
    bd = s->pll_ki * dt_s;
    if (!(a <= 2.0f * MF_EST_WDT_MAX)) { /* limit w_b to 0.5/dt (dt > 0 here) */
        a = 2.0f * MF_EST_WDT_MAX;
        bd = (MF_EST_WDT_MAX * MF_EST_WDT_MAX) / dt_s;
    }
    *a_p = a;
    *bd_p = bd;
    return true;
}

/* PLL update on the lag L = y - p (counts), so that the loop works on small
 * numbers and keeps full float precision at any position in the turn:
 *   L_pred = L + d - v dt,  e = wrap(L_pred),  L = (1 - kp dt) e,  v += ki dt e
 * (identical to predict p += v dt, e = y - p, p += kp dt e), with the gains
 * of mf_estimator_pll_gains (one_minus_a = 1 - a) for a finite dt_s > 0. */
static inline void mf_est_pll(mf_estimator_t *s, float cpr_f, int32_t d, float dt_s, float one_minus_a,
                              float bd)
{
    const float half = 0.5f * cpr_f;
    float e, w;
    float v = s->pll_vel_counts_s;

    e = (s->pll_lag_counts + (float)d) - v * dt_s;
    if (!(e >= -half && e < half)) {
        w = e;
        if (mf_est_wrap_counts(&w, -half, cpr_f, s)) {
            e = w;
        } else {
            e = 0.0f; /* lost (speed beyond any count rate): re-prime */
            v = 0.0f;
        }
    }
    v += bd * e;
    if (!mf_isfinitef(v)) {
        e = 0.0f;
        v = 0.0f;
    }
    s->pll_lag_counts = one_minus_a * e;
    s->pll_vel_counts_s = v;
}

/* No usable time step: the speed holds, the lag follows the count. */
static inline void mf_est_pll_hold(mf_estimator_t *s, float cpr_f, int32_t d)
{
    float w = s->pll_lag_counts + (float)d;
    if (!mf_est_wrap_counts(&w, -0.5f * cpr_f, cpr_f, s)) {
        w = 0.0f;
    }
    s->pll_lag_counts = w;
}

/* theta_e = x wrapped to [0, 2pi). x = (electrical count angle in [0, 2pi])
 * - (offset in [0, 2pi)), so one addition of 2pi wraps it; the general wrap
 * only runs when rounding lands on 2pi or the config changed after init. */
static inline float mf_est_wrap_theta_e(float x)
{
    if (x < 0.0f) {
        x += MF_2PI_F;
    }
    if (!(x >= 0.0f && x < MF_2PI_F)) {
        x = mf_wrap_2pif(x);
    }
    return x;
}

/* The count part of an update: *y_p = directed count; the change d and
 * the turns are kept in s. Returns false on the priming sample. cpr is
 * counts_per_rev, in range. */
static inline bool mf_est_track(mf_estimator_t *s, const mf_estimator_config_t *c, uint32_t cpr,
                                uint32_t count, uint32_t *y_p)
{
    uint32_t y;
    int32_t d;
    if (count >= cpr) { /* (a division only for an out-of-range count) */
        count %= cpr;
    }
    y = (c->direction < 0 && count != 0u) ? cpr - count : count;
    *y_p = y;

    if (!s->primed) {
        s->primed = true;
        s->last_count = count;
        s->turns = (y >= cpr - cpr / 2u) ? -1 : 0; /* theta_m starts in [-pi, pi) */
        s->pll_pos_counts = (float)y;
        s->pll_lag_counts = 0.0f;
        s->pll_vel_counts_s = 0.0f;
        s->last_delta_counts = 0;
        return false;
    } else {
        int32_t y_old;
        uint32_t last = s->last_count;
        uint32_t du;
        if (last >= cpr) { /* only when counts_per_rev changed after init */
            last %= cpr;
        }
        du = (count >= last) ? count - last : count + (cpr - last);          /* [0, cpr) */
        d = (du >= cpr - cpr / 2u) ? (int32_t)du - (int32_t)cpr : (int32_t)du; /* [-cpr/2, cpr/2) */
        if (c->direction < 0) {
            d = -d;
        }
        y_old = (int32_t)y - d; /* directed count before this move, unwrapped */
        if (y_old < 0) {
            if (s->turns < INT32_MAX) {
                s->turns++;
            }
        } else if (y_old >= (int32_t)cpr) {
            if (s->turns > INT32_MIN) {
                s->turns--;
            }
        }
        s->last_count = count;
        s->last_delta_counts = d;
        return true;
    }
}

/* The per-period outputs of an update from the directed count y (after the
 * PLL): theta_e and omega_e (what the current loop needs), and y kept. */
static inline void mf_est_outputs_fast(mf_estimator_t *s, const mf_estimator_config_t *c, uint32_t cpr,
                                       uint32_t y)
{
    uint32_t e_count;
    s->last_y = y;
    s->omega_e = (s->pll_vel_counts_s * s->rad_per_count) * (float)c->pole_pairs;
    /* (y * pp) mod cpr; y * pp < cpr * pp < 2^32. A power-of-two cpr (the
     * usual encoder) needs no division. */
    e_count = y * c->pole_pairs;
    e_count = ((cpr & (cpr - 1u)) == 0u) ? (e_count & (cpr - 1u)) : (e_count % cpr);
    s->theta_e = mf_est_wrap_theta_e((float)e_count * s->rad_per_count - s->offset_e_rad);
}

/* The other outputs (PLL position, theta_m, omega_m) from the state the
 * last update left: a pure function of it, so it may run any time after
 * the update and as often as wanted with the same result. */
static inline void mf_est_outputs_slow(mf_estimator_t *s, uint32_t cpr)
{
    const float cpr_f = (float)cpr;
    const uint32_t y = s->last_y;
    float p = (float)y - s->pll_lag_counts;
    if (!(p >= 0.0f && p < cpr_f)) {
        float w = p;
        p = mf_est_wrap_counts(&w, 0.0f, cpr_f, s) ? w : (float)y;
    }
    s->pll_pos_counts = p;
    s->omega_m = s->pll_vel_counts_s * s->rad_per_count;
    s->theta_m = (float)s->turns * MF_2PI_F + (float)y * s->rad_per_count;
}

/* All the outputs of an update from the directed count y (after the PLL). */
static inline void mf_est_outputs(mf_estimator_t *s, const mf_estimator_config_t *c, uint32_t cpr,
                                  uint32_t y)
{
    mf_est_outputs_fast(s, c, cpr, y);
    mf_est_outputs_slow(s, cpr);
}

/* The outputs mf_estimator_update_fixed_inline() leaves for later (PLL
 * position, theta_m, omega_m): bring them up to the last update. */
static inline void mf_estimator_finish_inline(mf_estimator_t *s, const mf_estimator_config_t *c)
{
    mf_est_outputs_slow(s, c->counts_per_rev);
}

/* One update with fixed PLL gains (mf_estimator_pll_gains for dt_s,
 * one_minus_a = 1 - a): what mf_estimator_update() does for a valid dt_s,
 * without its checks, and with only theta_e and omega_e among the outputs:
 * mf_estimator_finish_inline() gives the others. s must have been initialised with c (init returned
 * MF_OK). The current loop (mf_ctrl_step) derives the gains once at init. */
static inline void mf_estimator_update_fixed_inline(mf_estimator_t *s, const mf_estimator_config_t *c,
                                                    uint32_t count, float dt_s, float one_minus_a,
                                                    float bd)
{
    const uint32_t cpr = c->counts_per_rev;
    uint32_t y;
    if (mf_est_track(s, c, cpr, count, &y)) {
        mf_est_pll(s, (float)cpr, s->last_delta_counts, dt_s, one_minus_a, bd);
    }
    mf_est_outputs_fast(s, c, cpr, y);
}

static inline void mf_estimator_update_inline(mf_estimator_t *s, const mf_estimator_config_t *c,
                                              uint32_t count, float dt_s)
{
    uint32_t cpr, y;
    float a, bd;

    if (s == NULL || c == NULL || !(s->rad_per_count > 0.0f)) {
        return; /* not initialised with a valid config */
    }
    cpr = c->counts_per_rev;
    if (cpr < 4u || cpr > MF_ESTIMATOR_CPR_MAX) {
        return;
    }
    if (mf_est_track(s, c, cpr, count, &y)) {
        if (mf_estimator_pll_gains(s, dt_s, &a, &bd)) {
            mf_est_pll(s, (float)cpr, s->last_delta_counts, dt_s, 1.0f - a, bd);
        } else {
            mf_est_pll_hold(s, (float)cpr, s->last_delta_counts);
        }
    }
    mf_est_outputs(s, c, cpr, y);
}

#endif /* MF_ESTIMATOR_H */
