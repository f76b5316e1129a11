/* mf_plant_sensors.c - the plant's sensors, its noise generator, fault hooks.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64; standard
 * normals by the ziggurat of Marsaglia and Tsang (2000), 128 layers, with the
 * layer index and the value drawn from separate bits of one 64-bit output.
 */
#include "mf_plant.h"

#include <math.h>
#include <stddef.h>

#define PLANT_2PI 6.28318530717958647692
#define ZIG_R 3.442619855899           /* start of the tail */
#define ZIG_V 9.91256303526217e-3      /* area of each layer */
#define ZIG_M 2147483648.0             /* 2^31 */

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t plant_next(mf_plant_t *s)
{
    uint64_t *r = s->rng;
    uint64_t result = rotl(r[1] * 5u, 7) * 9u;
    uint64_t t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return result;
}

/* Uniform in (0, 1). */
static inline double plant_uni(mf_plant_t *s)
{
    return ((double)(plant_next(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void mf_plant_seed(mf_plant_t *s, uint64_t seed)
{
    uint64_t x = seed;
    double dn = ZIG_R, tn = dn, q;
    int i;
    for (i = 0; i < 4; ++i) {
        s->rng[i] = splitmix64(&x);
    }
    /* ziggurat tables (zigset of Marsaglia and Tsang) */
    q = ZIG_V / exp(-0.5 * dn * dn);
    s->zig_k[0] = (uint32_t)((dn / q) * ZIG_M);
    s->zig_k[1] = 0u;
    s->zig_w[0] = q / ZIG_M;
    s->zig_w[MF_PLANT_ZIG_N - 1] = dn / ZIG_M;
    s->zig_f[0] = 1.0;
    s->zig_f[MF_PLANT_ZIG_N - 1] = exp(-0.5 * dn * dn);
    for (i = MF_PLANT_ZIG_N - 2; i >= 1; --i) {
        dn = sqrt(-2.0 * log(ZIG_V / dn + exp(-0.5 * dn * dn)));
        s->zig_k[i + 1] = (uint32_t)((dn / tn) * ZIG_M);
        tn = dn;
        s->zig_f[i] = exp(-0.5 * dn * dn);
        s->zig_w[i] = dn / ZIG_M;
    }
}

/* Slow path of the ziggurat: wedges and the tail (about 2.5 % of draws). */
static double plant_randn_slow(mf_plant_t *s, int64_t hz, uint32_t iz)
{
    for (;;) {
        double x = (double)hz * s->zig_w[iz];
        uint64_t u, ahz;
        if (iz == 0u) {
            /* tail beyond ZIG_R */
            double xt, y;
            do {
                xt = -log(plant_uni(s)) * (1.0 / ZIG_R);
                y = -log(plant_uni(s));
            } while (y + y < xt * xt);
            return (hz > 0) ? ZIG_R + xt : -ZIG_R - xt;
        }
        if (s->zig_f[iz] + plant_uni(s) * (s->zig_f[iz - 1u] - s->zig_f[iz]) < exp(-0.5 * x * x)) {
            return x;
        }
        u = plant_next(s);
        hz = (int64_t)(u >> 32) - 2147483648;
        iz = (uint32_t)(u & (MF_PLANT_ZIG_N - 1u));
        ahz = (uint64_t)((hz < 0) ? -hz : hz);
        if (ahz < (uint64_t)s->zig_k[iz]) {
            return (double)hz * s->zig_w[iz];
        }
    }
}

static inline double plant_randn(mf_plant_t *s)
{
    uint64_t u = plant_next(s);
    int64_t hz = (int64_t)(u >> 32) - 2147483648;   /* [-2^31, 2^31) */
    uint32_t iz = (uint32_t)(u & (MF_PLANT_ZIG_N - 1u));
    uint64_t ahz = (uint64_t)((hz < 0) ? -hz : hz);
    if (ahz < (uint64_t)s->zig_k[iz]) {
        return (double)hz * s->zig_w[iz];
    }
    return plant_randn_slow(s, hz, iz);
}

double mf_plant_randn(mf_plant_t *s)
{
    return plant_randn(s);
}

/* Round to the nearest count in [0, top]; NaN gives 0. */
static inline uint16_t plant_counts(double c, double top)
{
    c = (c > 0.0) ? c : 0.0;
    c = (c < top) ? c : top;
    return (uint16_t)(c + 0.5);
}

int mf_plant_set_encoder_stuck(mf_plant_t *s, bool stuck)
{
    if (s == NULL) {
        return MF_ENULL;
    }
    if (stuck != s->fault_enc_stuck) {
        s->fault_enc_stuck = stuck;
        s->enc_frozen = false;
    }
    return MF_OK;
}

int mf_plant_set_i_sense_offset(mf_plant_t *s, double i_offset_a)
{
    if (s == NULL) {
        return MF_ENULL;
    }
    if (!(i_offset_a - i_offset_a == 0.0)) {
        return MF_EINVAL;
    }
    s->fault_i_offset_a = i_offset_a;
    return MF_OK;
}

int mf_plant_set_heat(mf_plant_t *s, double heat_w)
{
    if (s == NULL) {
        return MF_ENULL;
    }
    if (!(heat_w - heat_w == 0.0)) {
        return MF_EINVAL;
    }
    s->fault_heat_w = heat_w;
    return MF_OK;
}

/* floor(cf) mod cpr for a count position cf (0 when not finite or huge). */
static inline uint32_t plant_enc_wrap(const mf_plant_t *s, const mf_plant_params_t *p, double cf)
{
    double f, q, r, cpr;
    int64_t ci;
    if (!(fabs(cf) < 4e15)) {
        return 0u;                   /* not finite, or a billion turns away */
    }
    ci = (int64_t)cf;
    ci -= ((double)ci > cf) ? 1 : 0; /* floor */
    if (s->enc_mask != 0u) {
        return (uint32_t)((uint64_t)ci & (uint64_t)s->enc_mask);
    }
    /* ci mod cpr without a 64-bit division: every product and difference
     * below is an integer under 2^53, so exact; q may be one off */
    f = (double)ci;
    cpr = (double)p->enc_counts_per_rev;
    q = (double)(int64_t)(f * s->inv_cpr);
    r = f - q * cpr;
    r += (r < 0.0) ? cpr : 0.0;
    r += (r < 0.0) ? cpr : 0.0;
    r -= (r >= cpr) ? cpr : 0.0;
    r -= (r >= cpr) ? cpr : 0.0;
    return (uint32_t)r;
}

void mf_plant_sense(mf_plant_t *s, const mf_plant_params_t *p, mf_ctrl_sense_t *out)
{
    double lat = s->lat_steps, th;
    double i0 = s->i_abc[0] + s->fault_i_offset_a, i1 = s->i_abc[1], i2 = s->i_abc[2], v = s->v_bus_v;
    uint32_t count;
    if (p->adc_noise_a > 0.0) {
        i0 += p->adc_noise_a * plant_randn(s);
        i1 += p->adc_noise_a * plant_randn(s);
        i2 += p->adc_noise_a * plant_randn(s);
    }
    if (p->adc_vbus_noise_v > 0.0) {
        v += p->adc_vbus_noise_v * plant_randn(s);
    }
    out->adc_i[0] = plant_counts(p->adc_i_offset_counts + i0 * s->inv_adc_i, s->adc_max);
    out->adc_i[1] = plant_counts(p->adc_i_offset_counts + i1 * s->inv_adc_i, s->adc_max);
    out->adc_i[2] = plant_counts(p->adc_i_offset_counts + i2 * s->inv_adc_i, s->adc_max);
    out->adc_vbus = plant_counts(v * s->inv_adc_v, s->adc_max);
    /* encoder: theta_m lat_steps ago, linear between the stored step ends */
    if (lat <= 0.0) {
        th = s->theta_m;
    } else {
        uint32_t k, j0, j1;
        double frac;
        if (!(lat < (double)(MF_PLANT_HIST - 1u))) {
            k = MF_PLANT_HIST - 2u;
            frac = 1.0;
        } else {
            k = (uint32_t)lat;
            frac = lat - (double)k;
        }
        j0 = (s->hist_head - k) & (MF_PLANT_HIST - 1u);
        j1 = (j0 - 1u) & (MF_PLANT_HIST - 1u);
        th = s->hist[j0] + frac * (s->hist[j1] - s->hist[j0]);
    }
    count = plant_enc_wrap(s, p, p->enc_offset_counts + s->enc_scale * th);
    if (s->fault_enc_stuck) {
        if (!s->enc_frozen) {
            s->enc_frozen = true;
            s->enc_frozen_count = count;
        }
        count = s->enc_frozen_count;
    }
    out->enc_count = count;
    out->temp_motor_c = (float)s->temp_winding_c;
    out->temp_fet_c = (float)s->temp_fet_c;
}
