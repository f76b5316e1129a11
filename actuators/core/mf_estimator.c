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

void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                         uint32_t count, float dt_s)
{
    mf_estimator_update_inline(s, c, count, dt_s);
}
