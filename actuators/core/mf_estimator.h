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
 */
#ifndef MF_ESTIMATOR_H
#define MF_ESTIMATOR_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t counts_per_rev;   /* encoder counts per mechanical turn, >= 4 */
    int32_t direction;         /* +1 or -1: sign of motor rotation vs counts */
    uint32_t pole_pairs;       /* >= 1; counts_per_rev * pole_pairs < 2^32 */
    float offset_e_rad;        /* theta_e = pp*angle(counts) - offset_e_rad */
    float pll_bandwidth_rad_s; /* PLL bandwidth, rad/s, > 0 */
} mf_estimator_config_t;

typedef struct {
    /* derived at init */
    float rad_per_count;       /* 2pi / counts_per_rev, rad */
    float pll_kp;              /* 1/s */
    float pll_ki;              /* 1/s^2 */
    /* state */
    uint32_t last_count;       /* last raw count */
    int32_t turns;             /* completed mechanical turns (direction applied) */
    float pll_pos_counts;      /* PLL position within a turn, counts [0, cpr) */
    float pll_vel_counts_s;    /* PLL velocity, counts/s (direction applied) */
    bool primed;               /* first sample seen */
    /* outputs */
    float theta_m;             /* multi-turn mechanical angle, rad */
    float theta_e;             /* electrical angle, rad, [0, 2pi) */
    float omega_m;             /* mechanical speed, rad/s */
    float omega_e;             /* electrical speed, rad/s */
    int32_t last_delta_counts; /* wrapped count change of the last update */
} mf_estimator_t;

int mf_estimator_config_check(const mf_estimator_config_t *c);
/* Validates c, derives gains, clears the state. Returns MF_OK or MF_EINVAL. */
int mf_estimator_init(mf_estimator_t *s, const mf_estimator_config_t *c);
/* One update with a raw count (taken modulo counts_per_rev). */
void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                         uint32_t count, float dt_s);

#endif /* MF_ESTIMATOR_H */
