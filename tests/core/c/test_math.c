/* test_math.c - mf_math sin/cos/atan2/wrap against double-precision libm. */
#include <float.h>
#include <stdint.h>

#include "mf_math.h"
#include "mf_test.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* uniform double in [0, 1) (xorshift64*) */
static double rng_uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

#define TWO_PI 6.283185307179586

static double max_sin_err = 0.0, max_cos_err = 0.0, max_atan2_err = 0.0, max_wrap_err = 0.0;

static void check_trig_at(float x)
{
    float s, c;
    double es, ec;
    mf_sincosf(x, &s, &c);
    es = fabs((double)s - sin((double)x));
    ec = fabs((double)c - cos((double)x));
    if (es > max_sin_err) max_sin_err = es;
    if (ec > max_cos_err) max_cos_err = ec;
    MF_CHECK(es <= 1e-6);
    MF_CHECK(ec <= 1e-6);
    /* the single functions agree bit for bit with sincos */
    MF_CHECK(mf_sinf(x) == s);
    MF_CHECK(mf_cosf(x) == c);
}

static void test_sincos(void)
{
    int i, k;
    for (i = 0; i < 2000000; i++) {
        check_trig_at((float)(-1e4 + 2e4 * rng_uniform()));
    }
    for (i = 0; i < 200000; i++) {
        check_trig_at((float)(-4.0 + 8.0 * rng_uniform()));
    }
    /* multiples of pi/2 (as float) and their neighbours, up to 1e4 */
    for (k = -6366; k <= 6366; k++) {
        float x = (float)(k * 1.5707963267948966);
        check_trig_at(x);
        check_trig_at(nextafterf(x, INFINITY));
        check_trig_at(nextafterf(x, -INFINITY));
    }
    /* near the ends of the range */
    {
        float x = 1e4f;
        for (i = 0; i < 100000; i++) {
            check_trig_at(x);
            check_trig_at(-x);
            x = nextafterf(x, 0.0f);
        }
    }
    check_trig_at(0.0f);
    check_trig_at(-0.0f);
    check_trig_at(1e-30f);
    check_trig_at(FLT_MIN);
    /* exact values */
    MF_CHECK(mf_sinf(0.0f) == 0.0f);
    MF_CHECK(mf_cosf(0.0f) == 1.0f);
}

static void test_trig_nonfinite(void)
{
    float s, c;
    mf_sincosf(NAN, &s, &c);
    MF_CHECK(s != s && c != c);
    mf_sincosf(INFINITY, &s, &c);
    MF_CHECK(s != s && c != c);
    mf_sincosf(-INFINITY, &s, &c);
    MF_CHECK(s != s && c != c);
    /* beyond the reduction range: defined, finite and bounded */
    mf_sincosf(3e38f, &s, &c);
    MF_CHECK(fabsf(s) <= 1.0f && fabsf(c) <= 1.0f);
    mf_sincosf(-2e6f, &s, &c);
    MF_CHECK(fabsf(s) <= 1.0f && fabsf(c) <= 1.0f);
}

static void check_atan2_at(float y, float x)
{
    double e = fabs((double)mf_atan2f(y, x) - atan2((double)y, (double)x));
    if (e > max_atan2_err) max_atan2_err = e;
    MF_CHECK(e <= 2e-6);
    if (!(e <= 2e-6)) {
        fprintf(stderr, "  atan2(%.9g, %.9g) err %.3g\n", (double)y, (double)x, e);
    }
}

static void test_atan2(void)
{
    int i;
    static const float mags[] = {1e-30f, 1e-6f, 1e-3f, 1.0f, 7.5f, 1e3f, 1e6f, 1e30f, FLT_MIN, FLT_MAX};
    for (i = 0; i < 2000000; i++) {
        double a = 2.0 * 3.141592653589793 * rng_uniform();
        double r = pow(10.0, -20.0 + 40.0 * rng_uniform());
        check_atan2_at((float)(r * sin(a)), (float)(r * cos(a)));
    }
    for (i = 0; i < 200000; i++) {
        check_atan2_at((float)(rng_uniform() * 2.0 - 1.0), (float)(rng_uniform() * 2.0 - 1.0));
    }
    /* both components near FLT_MAX (where y + x overflows) and near FLT_MIN */
    for (i = 0; i < 200000; i++) {
        double sy = rng_uniform() < 0.5 ? -1.0 : 1.0, sx = rng_uniform() < 0.5 ? -1.0 : 1.0;
        check_atan2_at((float)(sy * FLT_MAX * rng_uniform()), (float)(sx * FLT_MAX * rng_uniform()));
        check_atan2_at((float)(sy * 1e-37 * rng_uniform()), (float)(sx * 1e-37 * rng_uniform()));
    }
    {
        size_t a, b;
        for (a = 0; a < sizeof mags / sizeof mags[0]; a++) {
            for (b = 0; b < sizeof mags / sizeof mags[0]; b++) {
                float y = mags[a], x = mags[b];
                check_atan2_at(y, x);
                check_atan2_at(-y, x);
                check_atan2_at(y, -x);
                check_atan2_at(-y, -x);
            }
            /* the axes */
            check_atan2_at(mags[a], 0.0f);
            check_atan2_at(-mags[a], 0.0f);
            check_atan2_at(0.0f, mags[a]);
            check_atan2_at(0.0f, -mags[a]);
        }
    }
    /* tan(pi/8) boundary of the argument reduction */
    {
        float t = 0.41421356f;
        for (i = 0; i < 1000; i++) {
            check_atan2_at(t, 1.0f);
            check_atan2_at(1.0f, t);
            t = nextafterf(t, 1.0f);
        }
    }
    MF_CHECK(mf_atan2f(0.0f, 0.0f) == 0.0f);
    MF_CHECK(mf_atan2f(0.0f, 1.0f) == 0.0f);
    MF_CHECK(mf_atan2f(NAN, 1.0f) != mf_atan2f(NAN, 1.0f));
    MF_CHECK(mf_atan2f(1.0f, NAN) != mf_atan2f(1.0f, NAN));
    MF_CHECK(fabsf(mf_atan2f(1.0f, 1.0f) - 0.78539816f) <= 1e-7f);
}

static void test_wrap(void)
{
    int i;
    for (i = 0; i < 1000000; i++) {
        float x = (float)(-1e4 + 2e4 * rng_uniform());
        float w = mf_wrap_pif(x);
        float w2 = mf_wrap_2pif(x);
        double d = (double)x - (double)w;
        double d2 = (double)x - (double)w2;
        MF_CHECK(w >= -MF_PI_F && w < MF_PI_F);
        MF_CHECK(w2 >= 0.0f && w2 < MF_2PI_F);
        /* x - w is a multiple of 2pi (within the float32 rounding of x) */
        double e = fabs(d - TWO_PI * floor(d / TWO_PI + 0.5));
        double e2 = fabs(d2 - TWO_PI * floor(d2 / TWO_PI + 0.5));
        if (e > max_wrap_err) max_wrap_err = e;
        if (e2 > max_wrap_err) max_wrap_err = e2;
        /* x - w is a multiple of 2pi up to a few float32 ulps of the result */
        MF_CHECK(e <= 1e-6);
        MF_CHECK(e2 <= 1e-6);
    }
    /* small inputs are reproduced exactly */
    MF_CHECK(mf_wrap_pif(1.0f) == 1.0f);
    MF_CHECK(mf_wrap_pif(-3.0f) == -3.0f);
    MF_CHECK(mf_wrap_2pif(1.0f) == 1.0f);
    MF_CHECK(mf_wrap_pif(MF_PI_F) < MF_PI_F);
    MF_CHECK(mf_wrap_pif(-MF_PI_F) >= -MF_PI_F);
    MF_CHECK(mf_wrap_2pif(-1e-30f) >= 0.0f && mf_wrap_2pif(-1e-30f) < MF_2PI_F);
    MF_CHECK(mf_wrap_2pif(MF_2PI_F) < MF_2PI_F);
    {
        float n = mf_wrap_pif(NAN);
        float m = mf_wrap_2pif(INFINITY);
        MF_CHECK(n != n);
        MF_CHECK(m != m);
    }
}

int main(void)
{
    test_sincos();
    test_trig_nonfinite();
    test_atan2();
    test_wrap();
    printf("math: max |sin err| %.3g, |cos err| %.3g, |atan2 err| %.3g rad, wrap mod 2pi %.3g rad\n",
           max_sin_err, max_cos_err, max_atan2_err, max_wrap_err);
    return mf_test_report("test_math");
}
