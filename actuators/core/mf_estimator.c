/* mf_estimator.c - encoder counts -> theta_m, theta_e and a type-2 PLL speed
 * estimate (see mf_estimator.h for the conventions and the PLL equations).
 *
 * Angles come from integer counts; only the PLL runs in float (counts and
 * counts/s within one turn, so its precision does not degrade over turns).
 */
#include "mf_estimator.h"

#include <math.h>
#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

/* Largest w_b dt the update uses: kp dt = 2 w_b dt <= 1 (stable below 0.83). */
#define MF_EST_WDT_MAX 0.5f
/* |p / cpr| above which the PLL position is re-primed instead of wrapped. */
#define MF_EST_WRAP_TURNS_MAX 8388608.0f /* 2^23 */

int mf_estimator_config_check(const mf_estimator_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (c->counts_per_rev < 4u || c->counts_per_rev > MF_ESTIMATOR_CPR_MAX) {
        return MF_EINVAL;
    }
    if (c->direction != 1 && c->direction != -1) {
        return MF_EINVAL;
    }
    /* cpr * pp < 2^32  <=>  pp <= (2^32 - 1) / cpr */
    if (c->pole_pairs < 1u || c->pole_pairs > UINT32_MAX / c->counts_per_rev) {
        return MF_EINVAL;
    }
    if (!(fabsf(c->offset_e_rad) <= MF_ESTIMATOR_OFFSET_MAX_RAD)) { /* NaN fails too */
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->pll_bandwidth_rad_s) || !(c->pll_bandwidth_rad_s > 0.0f)) {
        return MF_EINVAL;
    }
    /* ki = w_b^2 must be finite */
    if (!mf_isfinitef(c->pll_bandwidth_rad_s * c->pll_bandwidth_rad_s)) {
        return MF_EINVAL;
    }
    return MF_OK;
}

static void mf_estimator_clear(mf_estimator_t *s)
{
    s->rad_per_count = 0.0f;
    s->pll_kp = 0.0f;
    s->pll_ki = 0.0f;
    s->offset_e_rad = 0.0f;
    s->last_count = 0u;
    s->turns = 0;
    s->pll_pos_counts = 0.0f;
    s->pll_lag_counts = 0.0f;
    s->pll_vel_counts_s = 0.0f;
    s->primed = false;
    s->theta_m = 0.0f;
    s->theta_e = 0.0f;
    s->omega_m = 0.0f;
    s->omega_e = 0.0f;
    s->last_delta_counts = 0;
}

int mf_estimator_init(mf_estimator_t *s, const mf_estimator_config_t *c)
{
    int rc;
    if (s == NULL) {
        return MF_ENULL;
    }
    mf_estimator_clear(s);
    rc = mf_estimator_config_check(c);
    if (rc != MF_OK) {
        return rc;
    }
    s->rad_per_count = MF_2PI_F / (float)c->counts_per_rev;
    s->pll_kp = 2.0f * c->pll_bandwidth_rad_s;
    s->pll_ki = c->pll_bandwidth_rad_s * c->pll_bandwidth_rad_s;
    s->offset_e_rad = mf_wrap_2pif(c->offset_e_rad);
    return MF_OK;
}

/* x wrapped into [lo, lo + cpr_f) (lo = 0 or -cpr/2); false when x is too
 * far out (or NaN) to wrap. */
static bool mf_est_wrap_counts(float *x_p, float lo, float cpr_f, float inv_cpr)
{
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

/* PLL update on the lag L = y - p (counts), so that the loop works on small
 * numbers and keeps full float precision at any position in the turn:
 *   L_pred = L + d - v dt,  e = wrap(L_pred),  L = (1 - kp dt) e,  v += ki dt e
 * (identical to predict p += v dt, e = y - p, p += kp dt e). */
static void mf_est_pll(mf_estimator_t *s, uint32_t cpr, uint32_t y, int32_t d, float dt_s)
{
    float cpr_f = (float)cpr;
    float inv_cpr = s->rad_per_count * (1.0f / MF_2PI_F);
    float a, bd, e, p;
    float v = s->pll_vel_counts_s;

    if (!(dt_s > 0.0f) || !mf_isfinitef(dt_s)) {
        e = s->pll_lag_counts + (float)d; /* no time step: speed holds, lag follows the count */
        if (!mf_est_wrap_counts(&e, -0.5f * cpr_f, cpr_f, inv_cpr)) {
            e = 0.0f;
        }
        s->pll_lag_counts = e;
    } else {
        a = s->pll_kp * dt_s;
        bd = s->pll_ki * dt_s;
        if (!(a <= 2.0f * MF_EST_WDT_MAX)) { /* limit w_b to 0.5/dt (dt > 0 here) */
            a = 2.0f * MF_EST_WDT_MAX;
            bd = (MF_EST_WDT_MAX * MF_EST_WDT_MAX) / dt_s;
        }
        e = (s->pll_lag_counts + (float)d) - v * dt_s;
        if (!mf_est_wrap_counts(&e, -0.5f * cpr_f, cpr_f, inv_cpr)) {
            e = 0.0f; /* lost (speed beyond any count rate): re-prime */
            v = 0.0f;
        }
        v += bd * e;
        if (!mf_isfinitef(v)) {
            e = 0.0f;
            v = 0.0f;
        }
        s->pll_lag_counts = (1.0f - a) * e;
        s->pll_vel_counts_s = v;
    }
    p = (float)y - s->pll_lag_counts;
    if (!mf_est_wrap_counts(&p, 0.0f, cpr_f, inv_cpr)) {
        p = (float)y;
    }
    s->pll_pos_counts = p;
}

void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                         uint32_t count, float dt_s)
{
    uint32_t cpr, y, du, e_count;
    int32_t d;

    if (s == NULL || c == NULL || !(s->rad_per_count > 0.0f)) {
        return; /* not initialised with a valid config */
    }
    cpr = c->counts_per_rev;
    if (cpr < 4u || cpr > MF_ESTIMATOR_CPR_MAX) {
        return;
    }
    count %= cpr;
    y = (c->direction < 0 && count != 0u) ? cpr - count : count;

    if (!s->primed) {
        s->primed = true;
        s->last_count = count;
        s->turns = 0;
        s->pll_pos_counts = (float)y;
        s->pll_lag_counts = 0.0f;
        s->pll_vel_counts_s = 0.0f;
        s->last_delta_counts = 0;
    } else {
        int32_t y_old;
        du = (count + cpr - (s->last_count % cpr)) % cpr;           /* [0, cpr) */
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
        mf_est_pll(s, cpr, y, d, dt_s);
    }

    s->theta_m = (float)s->turns * MF_2PI_F + (float)y * s->rad_per_count;
    e_count = (y * c->pole_pairs) % cpr; /* y * pp < cpr * pp < 2^32 */
    s->theta_e = mf_wrap_2pif((float)e_count * s->rad_per_count - s->offset_e_rad);
    s->omega_m = s->pll_vel_counts_s * s->rad_per_count;
    s->omega_e = s->omega_m * (float)c->pole_pairs;
}
