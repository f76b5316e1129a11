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

#include <stdbool.h>
#include <stdint.h>

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
    float pll_pos_counts;      /* PLL position within a turn, directed counts [0, cpr) */
    float pll_lag_counts;      /* directed count minus PLL position (the loop state), counts */
    float pll_vel_counts_s;    /* PLL velocity, directed counts/s */
    bool primed;               /* first sample seen */
    /* outputs */
    float theta_m;             /* multi-turn mechanical angle, rad */
    float theta_e;             /* electrical angle, rad, [0, 2pi) */
    float omega_m;             /* mechanical speed, rad/s */
    float omega_e;             /* electrical speed, rad/s */
    int32_t last_delta_counts; /* wrapped directed count change of the last update, counts */
} mf_estimator_t;

/* MF_OK, MF_ENULL or MF_EINVAL (a field outside the ranges above). */
int mf_estimator_config_check(const mf_estimator_config_t *c);
/* Validates c, derives gains, clears the state. Returns MF_OK or MF_EINVAL
 * (the state is then cleared too, and update() leaves it alone). */
int mf_estimator_init(mf_estimator_t *s, const mf_estimator_config_t *c);
/* One update with a raw count (taken modulo counts_per_rev) and the time
 * since the previous update dt_s (s). The first update after init primes the
 * state: PLL position = count, speed 0, turns 0. */
void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                         uint32_t count, float dt_s);

#endif /* MF_ESTIMATOR_H */
