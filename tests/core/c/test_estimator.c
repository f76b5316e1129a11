/* test_estimator.c - encoder angle/speed estimator (mf_estimator.c) against
 * double-precision references computed here from the definitions. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "mf_err.h"
#include "mf_estimator.h"
#include "mf_test.h"

static const double PI_D = 3.141592653589793;
static const double TWO_PI = 6.283185307179586;

static mf_estimator_config_t cfg(uint32_t cpr, int32_t dir, uint32_t pp, float off, float bw)
{
    mf_estimator_config_t c;
    c.counts_per_rev = cpr;
    c.direction = dir;
    c.pole_pairs = pp;
    c.offset_e_rad = off;
    c.pll_bandwidth_rad_s = bw;
    return c;
}

/* Angle difference wrapped to [-pi, pi). */
static double angdiff(double a, double b)
{
    double d = fmod(a - b + 3.0 * PI_D, TWO_PI);
    if (d < 0.0) {
        d += TWO_PI;
    }
    return d - PI_D;
}

static void test_config_check(void)
{
    mf_estimator_config_t c = cfg(16384u, 1, 14u, 0.5f, 2000.0f);
    mf_estimator_t s;
    MF_CHECK(mf_estimator_config_check(&c) == MF_OK);
    MF_CHECK(mf_estimator_config_check(NULL) == MF_ENULL);
    MF_CHECK(mf_estimator_init(NULL, &c) == MF_ENULL);

    c = cfg(3u, 1, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(4u, 1, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_OK);
    c = cfg((1u << 24) + 1u, 1, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 0, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 2, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, -1, 0u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    /* cpr * pp < 2^32: 2^24 * 255 fits, 2^24 * 256 = 2^32 does not */
    c = cfg(1u << 24, 1, 255u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_OK);
    c = cfg(1u << 24, 1, 256u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, NAN, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, INFINITY, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 2.0e4f, 100.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 0.0f, 0.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 0.0f, -5.0f);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 0.0f, NAN);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 0.0f, INFINITY);
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);
    c = cfg(16384u, 1, 1u, 0.0f, 1e30f); /* w_b^2 overflows */
    MF_CHECK(mf_estimator_config_check(&c) == MF_EINVAL);

    /* a refused init leaves a state that update() does not touch */
    c = cfg(2u, 1, 1u, 0.0f, 100.0f);
    MF_CHECK(mf_estimator_init(&s, &c) == MF_EINVAL);
    mf_estimator_update(&s, &c, 1u, 1e-3f);
    MF_CHECK(!s.primed);
    MF_CHECK(s.theta_m == 0.0f && s.omega_m == 0.0f);
}

static void test_prime(void)
{
    mf_estimator_config_t c = cfg(4096u, 1, 7u, 0.0f, 500.0f);
    mf_estimator_t s;
    MF_CHECK(mf_estimator_init(&s, &c) == MF_OK);
    MF_CHECK_NEAR(s.pll_kp, 1000.0, 1e-3);
    MF_CHECK_NEAR(s.pll_ki, 250000.0, 1e-1);
    mf_estimator_update(&s, &c, 1000u + 4096u * 3u, 1e-4f); /* taken modulo cpr */
    MF_CHECK(s.primed);
    MF_CHECK(s.turns == 0);
    MF_CHECK_NEAR(s.theta_m, 1000.0 * TWO_PI / 4096.0, 1e-6);
    MF_CHECK(s.pll_pos_counts == 1000.0f);
    MF_CHECK(s.omega_m == 0.0f && s.omega_e == 0.0f);
    MF_CHECK_NEAR(s.theta_e, fmod(7000.0, 4096.0) * TWO_PI / 4096.0, 2e-6);
}

/* Floor division for int64. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Constant integer count rate, crossing the count wrap many times: theta_m,
 * turns and theta_e against integer/double references, zero speed error and
 * zero lag after settling. */
static void ramp_case(int32_t dir, int32_t step_counts)
{
    const int64_t cpr = 16384;
    const uint32_t pp = 14u;
    const float dt = 25e-6f;
    const double off = 0.7;
    mf_estimator_config_t c = cfg((uint32_t)cpr, dir, pp, (float)off, 2000.0f);
    mf_estimator_t s;
    int64_t pos = 5000; /* raw counts, unwrapped */
    int64_t y0 = (dir > 0) ? 5000 : cpr - 5000; /* directed start count */
    /* the first sample starts theta_m in [-pi, pi): a start count in the upper half is turn -1 */
    int64_t base = (y0 >= cpr - cpr / 2) ? -cpr : 0;
    int k;
    double w_true = (double)dir * (double)step_counts / (double)dt * TWO_PI / (double)cpr;
    double max_e = 0.0, max_m = 0.0, max_w = 0.0;
    MF_CHECK(mf_estimator_init(&s, &c) == MF_OK);
    for (k = 0; k < 40000; ++k) { /* 1 s */
        uint32_t raw = (uint32_t)(((pos % cpr) + cpr) % cpr);
        int64_t y_unwrapped = y0 + base + (int64_t)dir * (pos - 5000);
        double theta_m_ref = (double)y_unwrapped * TWO_PI / (double)cpr;
        double theta_e_ref = (double)pp * theta_m_ref - off;
        mf_estimator_update(&s, &c, raw, dt);
        MF_CHECK(s.turns == (int32_t)floordiv(y_unwrapped, cpr));
        max_m = fmax(max_m, fabs(s.theta_m - theta_m_ref) / (1.0 + fabs(theta_m_ref)));
        max_e = fmax(max_e, fabs(angdiff(s.theta_e, theta_e_ref)));
        MF_CHECK(s.theta_e >= 0.0f && s.theta_e < 6.2831855f);
        if (k > 4000) { /* 0.1 s = 200 / w_b: settled */
            max_w = fmax(max_w, fabs(s.omega_m - w_true) / fabs(w_true));
            MF_CHECK_NEAR(s.omega_e, (double)s.omega_m * (double)pp, 1e-6 * fabs(w_true) * pp);
            MF_CHECK(fabsf(s.pll_lag_counts) < 1e-3f);
        }
        pos += step_counts;
    }
    MF_CHECK(s.turns >= 3 || s.turns <= -3);
    MF_CHECK(max_m < 1e-6);
    MF_CHECK(max_e < 2e-6);
    MF_CHECK(max_w < 1e-5);
    printf("estimator: dir %+d, %+d counts/step: max rel theta_m err %.2e, theta_e err %.2e rad, "
           "settled rel omega_m err %.2e\n", (int)dir, (int)step_counts, max_m, max_e, max_w);
}

static void test_ramps(void)
{
    ramp_case(1, 7);
    ramp_case(1, -7);
    ramp_case(-1, 11);
    ramp_case(-1, -3);
}

/* dt beyond the stable range: the gains are limited, nothing blows up. */
static void test_large_dt(void)
{
    mf_estimator_config_t c = cfg(1000u, 1, 1u, 0.0f, 2000.0f);
    mf_estimator_t s;
    uint32_t pos = 0u;
    int k;
    MF_CHECK(mf_estimator_init(&s, &c) == MF_OK);
    for (k = 0; k < 2000; ++k) { /* 100 counts per 10 ms step: 10000 counts/s */
        mf_estimator_update(&s, &c, pos % 1000u, 0.01f); /* w_b dt = 20 */
        pos += 100u;
        MF_CHECK(isfinite(s.omega_m));
    }
    MF_CHECK_NEAR(s.pll_vel_counts_s, 10000.0, 1e-2);
}

/* A non-finite or non-positive dt: speed holds, angles follow the counts. */
static void test_bad_dt(void)
{
    mf_estimator_config_t c = cfg(1000u, 1, 2u, 0.0f, 300.0f);
    mf_estimator_t s;
    uint32_t pos = 0u;
    float w;
    int k;
    MF_CHECK(mf_estimator_init(&s, &c) == MF_OK);
    for (k = 0; k < 20000; ++k) {
        mf_estimator_update(&s, &c, pos % 1000u, 1e-4f);
        pos += 3u;
    }
    w = s.omega_m;
    MF_CHECK_NEAR(w, 30000.0 * TWO_PI / 1000.0, 1e-3);
    mf_estimator_update(&s, &c, pos % 1000u, NAN);
    MF_CHECK(s.omega_m == w);
    mf_estimator_update(&s, &c, (pos + 3u) % 1000u, -1.0f);
    MF_CHECK(s.omega_m == w);
    mf_estimator_update(&s, &c, (pos + 6u) % 1000u, INFINITY);
    MF_CHECK(s.omega_m == w);
    MF_CHECK_NEAR(s.theta_m, (double)(pos + 6u) * TWO_PI / 1000.0, 1e-4);
    MF_CHECK(isfinite(s.pll_pos_counts) && isfinite(s.pll_lag_counts));
}

/* Largest encoder: 2^24 counts, 255 pole pairs, electrical angle exact. */
static void test_big_encoder(void)
{
    mf_estimator_config_t c = cfg(1u << 24, 1, 255u, 0.0f, 100.0f);
    mf_estimator_t s;
    uint32_t raw = (1u << 24) - 1u;
    double ref;
    MF_CHECK(mf_estimator_init(&s, &c) == MF_OK);
    mf_estimator_update(&s, &c, raw, 1e-3f);
    ref = fmod((double)raw * 255.0, (double)(1u << 24)) * TWO_PI / (double)(1u << 24);
    MF_CHECK(fabs(angdiff(s.theta_e, ref)) < 1e-6);
    MF_CHECK(s.turns == -1); /* one count below the zero: theta_m starts just below 0, not near 2 pi */
    MF_CHECK(s.theta_m < 0.0f && s.theta_m > -1e-6f);
    mf_estimator_update(&s, &c, 5u, 1e-3f); /* forward across the wrap */
    MF_CHECK(s.turns == 0);
    MF_CHECK(s.last_delta_counts == 6);
}

int main(void)
{
    test_config_check();
    test_prime();
    test_ramps();
    test_large_dt();
    test_bad_dt();
    test_big_encoder();
    return mf_test_report("test_estimator");
}
