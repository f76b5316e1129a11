/* test_foc.c - Clarke/Park, SVPWM and dead-time compensation against
 * double-precision textbook formulas. */
#include <float.h>
#include <stdint.h>

#include "mf_foc.h"
#include "mf_math.h"
#include "mf_test.h"

#define PI_D 3.141592653589793
#define SQRT3_D 1.7320508075688772

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static double rng_uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static float rnd(double lo, double hi) { return (float)(lo + (hi - lo) * rng_uniform()); }

static double max_clarke_err = 0.0, max_park_err = 0.0, max_svpwm_err = 0.0, max_angle_err = 0.0;

static void track(double *m, double e)
{
    if (e > *m) *m = e;
}

static void test_clarke(void)
{
    int i;
    for (i = 0; i < 100000; i++) {
        float a = rnd(-100, 100), b = rnd(-100, 100), c = rnd(-100, 100);
        float al, be, al2, be2, va, vb, vc, al3, be3;
        /* amplitude-invariant matrix 2/3 [[1, -1/2, -1/2], [0, sqrt3/2, -sqrt3/2]] */
        double al_ref = 2.0 / 3.0 * ((double)a - 0.5 * (double)b - 0.5 * (double)c);
        double be_ref = 2.0 / 3.0 * (SQRT3_D / 2.0 * ((double)b - (double)c));
        double tol = 4.0 * FLT_EPSILON * 100.0;
        mf_clarke3(a, b, c, &al, &be);
        MF_CHECK_NEAR(al, al_ref, tol);
        MF_CHECK_NEAR(be, be_ref, tol);
        track(&max_clarke_err, fabs(al - al_ref) / 100.0);
        track(&max_clarke_err, fabs(be - be_ref) / 100.0);
        /* two-shunt: i_c = -i_a - i_b gives the same as three-shunt */
        mf_clarke2(a, b, &al2, &be2);
        al_ref = 2.0 / 3.0 * ((double)a - 0.5 * (double)b + 0.5 * ((double)a + (double)b));
        be_ref = 2.0 / 3.0 * (SQRT3_D / 2.0 * ((double)b + (double)a + (double)b));
        MF_CHECK_NEAR(al2, al_ref, tol);
        MF_CHECK_NEAR(be2, be_ref, 2.0 * tol);
        /* inverse Clarke: balanced phases that map back */
        mf_inv_clarke(al, be, &va, &vb, &vc);
        MF_CHECK_NEAR(va, (double)al, 0.0);
        MF_CHECK_NEAR(vb, -0.5 * (double)al + SQRT3_D / 2.0 * (double)be, tol);
        MF_CHECK_NEAR(vc, -0.5 * (double)al - SQRT3_D / 2.0 * (double)be, tol);
        MF_CHECK_NEAR((double)va + (double)vb + (double)vc, 0.0, tol);
        mf_clarke3(va, vb, vc, &al3, &be3);
        MF_CHECK_NEAR(al3, al, tol);
        MF_CHECK_NEAR(be3, be, tol);
    }
}

static void test_park(void)
{
    int i;
    for (i = 0; i < 100000; i++) {
        float al = rnd(-50, 50), be = rnd(-50, 50), th = rnd(-PI_D, PI_D);
        float s, c, d, q, al2, be2;
        double dr, qr, tol = 8.0 * FLT_EPSILON * 50.0;
        mf_sincosf(th, &s, &c);
        mf_park(al, be, s, c, &d, &q);
        /* rotation of the vector by -theta */
        dr = cos((double)th) * al + sin((double)th) * be;
        qr = -sin((double)th) * al + cos((double)th) * be;
        MF_CHECK_NEAR(d, dr, tol);
        MF_CHECK_NEAR(q, qr, tol);
        track(&max_park_err, fabs(d - dr) / 50.0);
        track(&max_park_err, fabs(q - qr) / 50.0);
        mf_inv_park(d, q, s, c, &al2, &be2);
        MF_CHECK_NEAR(al2, al, 2.0 * tol);
        MF_CHECK_NEAR(be2, be, 2.0 * tol);
    }
}

/* balanced currents of amplitude I at angle theta + phi are constant in dq */
static void test_balanced(void)
{
    int i;
    const double amp = 12.5, phi = 0.7;
    for (i = 0; i < 1000; i++) {
        double th = -20.0 + 40.0 * i / 1000.0;
        float ia = (float)(amp * cos(th + phi));
        float ib = (float)(amp * cos(th + phi - 2.0 * PI_D / 3.0));
        float ic = (float)(amp * cos(th + phi + 2.0 * PI_D / 3.0));
        float al, be, s, c, d, q;
        mf_clarke3(ia, ib, ic, &al, &be);
        MF_CHECK_NEAR(sqrt((double)al * al + (double)be * be), amp, 1e-5 * amp);
        mf_sincosf((float)th, &s, &c);
        mf_park(al, be, s, c, &d, &q);
        MF_CHECK_NEAR(d, amp * cos(phi), 2e-5 * amp);
        MF_CHECK_NEAR(q, amp * sin(phi), 2e-5 * amp);
    }
}

/* The phase-to-neutral average voltages of a duty set, in alpha/beta. */
static void realised(const float d[3], float v_bus, double *al, double *be)
{
    double m = ((double)d[0] + d[1] + d[2]) / 3.0;
    double va = (d[0] - m) * v_bus, vb = (d[1] - m) * v_bus, vc = (d[2] - m) * v_bus;
    *al = 2.0 / 3.0 * (va - 0.5 * vb - 0.5 * vc);
    *be = 2.0 / 3.0 * (SQRT3_D / 2.0 * (vb - vc));
}

static void test_svpwm_linear(void)
{
    int i;
    for (i = 0; i < 200000; i++) {
        float v_bus = rnd(1.0, 100.0);
        /* inside the inscribed circle, and half of the points between the
         * circle and the hexagon (still linear with min-max injection) */
        double ang = 2.0 * PI_D * rng_uniform();
        double sector = fmod(ang, PI_D / 3.0) - PI_D / 6.0;
        double r_hex = v_bus / SQRT3_D / cos(sector); /* hexagon radius at ang */
        double r = (i & 1) ? (0.999 * v_bus / SQRT3_D) * sqrt(rng_uniform())
                           : 0.9999 * r_hex * rng_uniform();
        float al = (float)(r * cos(ang)), be = (float)(r * sin(ang));
        float d[3];
        double ral, rbe, dmax, dmin;
        bool ok = mf_svpwm(al, be, v_bus, &d[0], &d[1], &d[2]);
        MF_CHECK(ok);
        MF_CHECK(d[0] >= 0.0f && d[0] <= 1.0f && d[1] >= 0.0f && d[1] <= 1.0f && d[2] >= 0.0f &&
                 d[2] <= 1.0f);
        realised(d, v_bus, &ral, &rbe);
        MF_CHECK_NEAR(ral, al, 4.0 * FLT_EPSILON * v_bus);
        MF_CHECK_NEAR(rbe, be, 4.0 * FLT_EPSILON * v_bus);
        track(&max_svpwm_err, fabs(ral - al) / v_bus);
        track(&max_svpwm_err, fabs(rbe - be) / v_bus);
        /* min-max injection centres the duties: max + min = 1 */
        dmax = fmax(fmax(d[0], d[1]), d[2]);
        dmin = fmin(fmin(d[0], d[1]), d[2]);
        MF_CHECK_NEAR(dmax + dmin, 1.0, 4.0 * FLT_EPSILON);
    }
    {
        float d[3];
        MF_CHECK(mf_svpwm(0.0f, 0.0f, 24.0f, &d[0], &d[1], &d[2]));
        MF_CHECK(d[0] == 0.5f && d[1] == 0.5f && d[2] == 0.5f);
    }
}

static void test_svpwm_overmod(void)
{
    int i;
    for (i = 0; i < 200000; i++) {
        float v_bus = rnd(1.0, 100.0);
        double ang = 2.0 * PI_D * rng_uniform();
        double sector = fmod(ang, PI_D / 3.0) - PI_D / 6.0;
        double r_hex = v_bus / SQRT3_D / cos(sector);
        double r = r_hex * (1.001 + 1e3 * rng_uniform() * rng_uniform() * rng_uniform());
        float al = (float)(r * cos(ang)), be = (float)(r * sin(ang));
        float d[3];
        double ral, rbe, e;
        bool ok = mf_svpwm(al, be, v_bus, &d[0], &d[1], &d[2]);
        MF_CHECK(!ok);
        MF_CHECK(d[0] >= 0.0f && d[0] <= 1.0f && d[1] >= 0.0f && d[1] <= 1.0f && d[2] >= 0.0f &&
                 d[2] <= 1.0f);
        realised(d, v_bus, &ral, &rbe);
        /* same angle as commanded, length of the hexagon at that angle */
        e = fabs(remainder(atan2(rbe, ral) - atan2((double)be, (double)al), 2.0 * PI_D));
        track(&max_angle_err, e);
        MF_CHECK(e <= 1e-6);
        MF_CHECK_NEAR(sqrt(ral * ral + rbe * rbe), r_hex, 4.0 * FLT_EPSILON * v_bus);
        MF_CHECK_NEAR(fmax(fmax(d[0], d[1]), d[2]), 1.0, 2.0 * FLT_EPSILON);
        MF_CHECK_NEAR(fmin(fmin(d[0], d[1]), d[2]), 0.0, 2.0 * FLT_EPSILON);
    }
    /* huge finite commands (phase voltages would overflow) keep the angle */
    {
        static const float big[][2] = {{FLT_MAX, FLT_MAX}, {-FLT_MAX, 1.0f}, {3e38f, -2e38f}, {1e-3f, -FLT_MAX}};
        size_t k;
        for (k = 0; k < sizeof big / sizeof big[0]; k++) {
            float d[3];
            double ral, rbe, e;
            bool ok = mf_svpwm(big[k][0], big[k][1], 48.0f, &d[0], &d[1], &d[2]);
            MF_CHECK(!ok);
            MF_CHECK(d[0] >= 0.0f && d[0] <= 1.0f && d[1] >= 0.0f && d[1] <= 1.0f && d[2] >= 0.0f &&
                     d[2] <= 1.0f);
            realised(d, 48.0f, &ral, &rbe);
            e = fabs(remainder(atan2(rbe, ral) - atan2((double)big[k][1], (double)big[k][0]), 2.0 * PI_D));
            MF_CHECK(e <= 1e-6);
        }
    }
}

static void check_zero_duty(float al, float be, float v_bus)
{
    float d[3] = {0.0f, 0.0f, 0.0f};
    MF_CHECK(!mf_svpwm(al, be, v_bus, &d[0], &d[1], &d[2]));
    MF_CHECK(d[0] == 0.5f && d[1] == 0.5f && d[2] == 0.5f);
}

static void test_svpwm_invalid(void)
{
    check_zero_duty(1.0f, 2.0f, 0.0f);
    check_zero_duty(1.0f, 2.0f, -0.0f);
    check_zero_duty(1.0f, 2.0f, -24.0f);
    check_zero_duty(1.0f, 2.0f, NAN);
    check_zero_duty(1.0f, 2.0f, INFINITY);
    check_zero_duty(1.0f, 2.0f, 1e-45f); /* subnormal bus: no bus */
    check_zero_duty(NAN, 2.0f, 24.0f);
    check_zero_duty(1.0f, NAN, 24.0f);
    check_zero_duty(INFINITY, 0.0f, 24.0f);
    check_zero_duty(0.0f, -INFINITY, 24.0f);
    /* a tiny but normal bus is still a bus */
    {
        float d[3];
        MF_CHECK(!mf_svpwm(1.0f, 0.0f, FLT_MIN, &d[0], &d[1], &d[2]));
        MF_CHECK(d[0] == 1.0f && d[1] == 0.0f && d[2] == 0.0f);
        MF_CHECK(mf_svpwm(0.0f, 0.0f, FLT_MIN, &d[0], &d[1], &d[2]));
        MF_CHECK(d[0] == 0.5f && d[1] == 0.5f && d[2] == 0.5f);
    }
}

static void test_deadtime(void)
{
    const float df = 0.02f, band = 0.5f;
    int i;
    for (i = 0; i < 10000; i++) {
        float duty[3] = {rnd(0, 1), rnd(0, 1), rnd(0, 1)};
        float iabc[3] = {rnd(-3, 3), rnd(-3, 3), rnd(-3, 3)};
        float out[3] = {duty[0], duty[1], duty[2]};
        int k;
        mf_deadtime_comp(out, iabc, df, band);
        for (k = 0; k < 3; k++) {
            double x = iabc[k] / band;
            double shift = (x >= 1.0 ? 1.0 : (x <= -1.0 ? -1.0 : x)) * df;
            double ref = fmin(fmax(duty[k] + shift, 0.0), 1.0);
            MF_CHECK_NEAR(out[k], ref, 2.0 * FLT_EPSILON);
        }
    }
    {
        float duty[3] = {0.5f, 0.5f, 0.5f};
        float iabc[3] = {10.0f, -10.0f, 0.0f};
        mf_deadtime_comp(duty, iabc, df, band);
        MF_CHECK_NEAR(duty[0], 0.52, 1e-7);
        MF_CHECK_NEAR(duty[1], 0.48, 1e-7);
        MF_CHECK(duty[2] == 0.5f);
    }
    {   /* inside the band: linear, half the current gives half the shift */
        float duty[3] = {0.5f, 0.5f, 0.5f};
        float iabc[3] = {0.25f, -0.125f, 0.5f};
        mf_deadtime_comp(duty, iabc, df, band);
        MF_CHECK_NEAR(duty[0], 0.51, 1e-7);
        MF_CHECK_NEAR(duty[1], 0.495, 1e-7);
        MF_CHECK_NEAR(duty[2], 0.52, 1e-7);
    }
    {   /* clamped to [0, 1] */
        float duty[3] = {0.995f, 0.005f, 1.0f};
        float iabc[3] = {5.0f, -5.0f, 5.0f};
        mf_deadtime_comp(duty, iabc, df, band);
        MF_CHECK(duty[0] == 1.0f && duty[1] == 0.0f && duty[2] == 1.0f);
    }
    {   /* zero band: hard sign; NaN current: no shift; NaN duty: 0.5 */
        float duty[3] = {0.5f, 0.5f, NAN};
        float iabc[3] = {1e-6f, NAN, 1.0f};
        mf_deadtime_comp(duty, iabc, df, 0.0f);
        MF_CHECK_NEAR(duty[0], 0.52, 1e-7);
        MF_CHECK(duty[1] == 0.5f);
        MF_CHECK(duty[2] == 0.5f);
    }
    {   /* NaN band: hard sign; NaN or negative dead_frac: no shift */
        float duty[3] = {0.5f, 0.5f, 0.5f};
        float iabc[3] = {-1e-3f, 2.0f, -2.0f};
        mf_deadtime_comp(duty, iabc, df, NAN);
        MF_CHECK_NEAR(duty[0], 0.48, 1e-7);
        duty[0] = 0.5f;
        mf_deadtime_comp(duty, iabc, NAN, band);
        MF_CHECK(duty[0] == 0.5f && duty[1] == 0.52f && duty[2] == 0.48f);
        mf_deadtime_comp(duty, iabc, -0.1f, band);
        MF_CHECK(duty[0] == 0.5f && duty[1] == 0.52f && duty[2] == 0.48f);
    }
    {   /* subnormal band and huge currents stay finite */
        float duty[3] = {0.5f, 0.5f, 0.5f};
        float iabc[3] = {FLT_MAX, -FLT_MAX, 0.0f};
        mf_deadtime_comp(duty, iabc, df, 1e-40f);
        MF_CHECK_NEAR(duty[0], 0.52, 1e-7);
        MF_CHECK_NEAR(duty[1], 0.48, 1e-7);
        MF_CHECK(duty[2] == 0.5f);
    }
}

int main(void)
{
    test_clarke();
    test_park();
    test_balanced();
    test_svpwm_linear();
    test_svpwm_overmod();
    test_svpwm_invalid();
    test_deadtime();
    printf("foc: max rel clarke err %.3g, park %.3g, svpwm linear %.3g (of v_bus), "
           "over-modulation angle %.3g rad\n",
           max_clarke_err, max_park_err, max_svpwm_err, max_angle_err);
    return mf_test_report("test_foc");
}
