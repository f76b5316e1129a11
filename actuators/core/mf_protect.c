/* mf_protect.c - protections: detect, latch, derate, clear (see mf_protect.h
 * for every trip and clear condition and the discretisations). */
#include "mf_protect.h"

#include <math.h>
#include <stddef.h>

#include "mf_err.h"
#include "mf_math.h"

/* Timers stop growing here (s): far beyond any threshold, never Inf. */
#define MF_PROT_TIMER_MAX 1.0e9f
/* Back-EMF filter time constant as a fraction of enc_stuck_s. */
#define MF_PROT_EMF_TAU_FRAC 0.25f

static bool mf_prot_pos_finite(float x) { return mf_isfinitef(x) && x > 0.0f; }

int mf_protect_config_check(const mf_protect_config_t *c)
{
    if (c == NULL) {
        return MF_ENULL;
    }
    if (!mf_prot_pos_finite(c->i_max_a) || !mf_prot_pos_finite(c->i_cont_a) ||
        !(c->i_cont_a <= c->i_max_a)) {
        return MF_EINVAL;
    }
    /* i_cont^2 and i_max^2 must be finite (compared with i^2) */
    if (!mf_isfinitef(c->i_max_a * c->i_max_a)) {
        return MF_EINVAL;
    }
    if (!mf_prot_pos_finite(c->tau_i2t_s)) {
        return MF_EINVAL;
    }
    if (!mf_prot_pos_finite(c->v_bus_min_v) || !mf_isfinitef(c->v_bus_max_v) ||
        !(c->v_bus_max_v > c->v_bus_min_v)) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->temp_derate_c) || !mf_isfinitef(c->temp_max_c) ||
        !(c->temp_max_c > c->temp_derate_c) || !mf_isfinitef(c->temp_max_c - c->temp_derate_c)) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->temp_hyst_c) || !(c->temp_hyst_c >= 0.0f) ||
        !mf_isfinitef(c->temp_max_c - c->temp_hyst_c)) {
        return MF_EINVAL;
    }
    if (!mf_isfinitef(c->r_ohm) || !(c->r_ohm >= 0.0f)) {
        return MF_EINVAL;
    }
    if (!mf_prot_pos_finite(c->flux_wb) || !mf_prot_pos_finite(c->omega_e_stuck_rad_s) ||
        !mf_prot_pos_finite(c->enc_stuck_s)) {
        return MF_EINVAL;
    }
    if (c->enc_jump_counts < 1u) {
        return MF_EINVAL;
    }
    if (!mf_prot_pos_finite(c->cmd_timeout_s)) {
        return MF_EINVAL;
    }
    if (c->safe_state != (uint8_t)MF_SAFE_COAST && c->safe_state != (uint8_t)MF_SAFE_BRAKE) {
        return MF_EINVAL;
    }
    return MF_OK;
}

void mf_protect_reset(mf_protect_t *s)
{
    if (s == NULL) {
        return;
    }
    s->faults = 0u;
    s->first_fault = 0u;
    s->i2t = 0.0f;
    s->i2t_comp = 0.0f;
    s->derate = 1.0f;
    s->since_cmd_s = 0.0f;
    s->enc_still_s = 0.0f;
    s->omega_e_emf = 0.0f;
    s->fed_since_timeout = false;
}

/* Lowest set bit of x (0 for 0). */
static uint32_t mf_prot_lowest_bit(uint32_t x) { return x & (~x + 1u); }

static void mf_prot_latch(mf_protect_t *s, uint32_t bits)
{
    bits &= MF_FAULT_ALL;
    if (bits == 0u) {
        return;
    }
    if (s->faults == 0u) {
        s->first_fault = mf_prot_lowest_bit(bits);
    }
    s->faults |= bits;
}

static bool mf_prot_input_finite(const mf_protect_input_t *in)
{
    return mf_isfinitef(in->v_bus) && mf_isfinitef(in->i_abc[0]) && mf_isfinitef(in->i_abc[1]) &&
           mf_isfinitef(in->i_abc[2]) && mf_isfinitef(in->i_d) && mf_isfinitef(in->i_q) &&
           mf_isfinitef(in->v_q) && mf_isfinitef(in->temp_motor_c) &&
           mf_isfinitef(in->temp_fet_c);
}

/* |delta| as an unsigned number (INT32_MIN included). */
static uint32_t mf_prot_abs_counts(int32_t d)
{
    return (d < 0) ? (0u - (uint32_t)d) : (uint32_t)d;
}

/* Unfiltered back-EMF electrical speed |v_q - R i_q| / flux, rad/s; -1 when
 * it cannot be computed (non-finite inputs or flux not > 0). */
static float mf_prot_emf_speed(const mf_protect_config_t *c, float v_q, float i_q)
{
    float w;
    if (!(c->flux_wb > 0.0f) || !mf_isfinitef(v_q) || !mf_isfinitef(i_q)) {
        return -1.0f;
    }
    w = fabsf(v_q - c->r_ohm * i_q) / c->flux_wb;
    return mf_isfinitef(w) ? w : MF_PROT_TIMER_MAX; /* overflow: "very fast" */
}

/* Thermal derating factor for temperature t (finite), [0, 1]. */
static float mf_prot_derate(const mf_protect_config_t *c, float t)
{
    float span = c->temp_max_c - c->temp_derate_c;
    if (t <= c->temp_derate_c && t < c->temp_max_c) {
        return 1.0f; /* the formula below gives 1 here too: skip its division */
    }
    if (!(span > 0.0f) || !mf_isfinitef(span)) {
        return (t < c->temp_max_c) ? 1.0f : 0.0f;
    }
    return mf_satf((c->temp_max_c - t) / span, 0.0f, 1.0f);
}

/* dt_s as the timers and filters use it: NaN/Inf or negative is BAD_INPUT
 * and counts as 0 (they hold); a huge finite one is capped. */
static float mf_prot_dt(float dt_s, uint32_t *trip)
{
    if (dt_s >= 0.0f && dt_s <= MF_PROT_TIMER_MAX) {
        return dt_s;
    }
    if (dt_s > MF_PROT_TIMER_MAX && mf_isfinitef(dt_s)) {
        return MF_PROT_TIMER_MAX;
    }
    *trip |= MF_FAULT_BAD_INPUT;
    return 0.0f;
}

/* I2t: backward Euler with Kahan compensation, kept between x and i^2. */
static void mf_prot_i2t_update(mf_protect_t *s, const mf_protect_config_t *c, float i2, float dt_s)
{
    float x = s->i2t;
    if (!(c->tau_i2t_s > 0.0f)) {
        return;
    }
    if (mf_isfinitef(i2)) {
        float kf = dt_s / (c->tau_i2t_s + dt_s); /* (0, 1] */
        float inc = (i2 - x) * kf;
        float y = inc - s->i2t_comp;
        float t = x + y;
        float t_lim = mf_satf(t, mf_minf(x, i2), mf_maxf(x, i2));
        s->i2t_comp = (t - x) - y;
        if (t_lim != t || !mf_isfinitef(s->i2t_comp)) { /* clamped: drop the residue */
            s->i2t_comp = 0.0f;
        }
        s->i2t = t_lim;
    } else { /* |i_dq| beyond 1e19 A: saturate */
        s->i2t = MF_PROT_TIMER_MAX;
        s->i2t_comp = 0.0f;
    }
}

/* The fast checks; returns the bits that trip (not latched). */
static uint32_t mf_prot_fast_trips(mf_protect_t *s, const mf_protect_config_t *c, float v_bus,
                                   float i_a, float i_b, float i_c, int32_t enc_delta_counts,
                                   bool armed, float dt_s)
{
    uint32_t trip = 0u;

    dt_s = mf_prot_dt(dt_s, &trip);
    /* x - x is 0 for a finite x and NaN otherwise: one test for all four */
    if (!((i_a - i_a) + (i_b - i_b) + (i_c - i_c) + (v_bus - v_bus) == 0.0f)) {
        /* BAD_INPUT only: the checks of a non-finite value are skipped (a
         * NaN compares false anyway; +-Inf is replaced by a passing value) */
        trip |= MF_FAULT_BAD_INPUT;
        i_a = mf_isfinitef(i_a) ? i_a : 0.0f;
        i_b = mf_isfinitef(i_b) ? i_b : 0.0f;
        i_c = mf_isfinitef(i_c) ? i_c : 0.0f;
        v_bus = mf_isfinitef(v_bus) ? v_bus : c->v_bus_max_v;
    }

    /* over-current */
    if (mf_maxf(mf_maxf(fabsf(i_a), fabsf(i_b)), fabsf(i_c)) > c->i_max_a) {
        trip |= MF_FAULT_OVERCURRENT;
    }
    /* bus voltage */
    if (v_bus > c->v_bus_max_v) {
        trip |= MF_FAULT_OVERVOLTAGE;
    }
    if (v_bus < c->v_bus_min_v) {
        trip |= MF_FAULT_UNDERVOLTAGE;
    }
    /* encoder jump; the still timer (time without a count change) */
    if (mf_prot_abs_counts(enc_delta_counts) > c->enc_jump_counts) {
        trip |= MF_FAULT_ENCODER;
    }
    if (enc_delta_counts != 0) {
        s->enc_still_s = 0.0f;
    } else {
        s->enc_still_s = mf_minf(s->enc_still_s + dt_s, MF_PROT_TIMER_MAX);
    }
    /* command watchdog: runs only while armed */
    if (armed) {
        s->since_cmd_s = mf_minf(s->since_cmd_s + dt_s, MF_PROT_TIMER_MAX);
        if (s->since_cmd_s >= c->cmd_timeout_s) {
            s->fed_since_timeout = false; /* the cause is present now */
            trip |= MF_FAULT_CMD_TIMEOUT;
        }
    } else {
        s->since_cmd_s = 0.0f;
    }
    return trip;
}

/* The slow checks; returns the bits that trip (not latched). */
static uint32_t mf_prot_slow_trips(mf_protect_t *s, const mf_protect_config_t *c, float i_d, float i_q,
                                   float v_q, float temp_motor_c, float temp_fet_c, float dt_s)
{
    uint32_t trip = 0u;
    bool all_finite;

    dt_s = mf_prot_dt(dt_s, &trip);
    all_finite = (i_d - i_d) + (i_q - i_q) + (v_q - v_q) + (temp_motor_c - temp_motor_c) +
                 (temp_fet_c - temp_fet_c) == 0.0f;
    if (!all_finite) {
        trip |= MF_FAULT_BAD_INPUT;
    }

    /* I2t */
    if (dt_s > 0.0f && (all_finite || (mf_isfinitef(i_d) && mf_isfinitef(i_q)))) {
        mf_prot_i2t_update(s, c, i_d * i_d + i_q * i_q, dt_s);
    }
    if (s->i2t > c->i_cont_a * c->i_cont_a) {
        trip |= MF_FAULT_I2T;
    }

    /* temperature and derating */
    if (all_finite || (mf_isfinitef(temp_motor_c) && mf_isfinitef(temp_fet_c))) {
        float t = mf_maxf(temp_motor_c, temp_fet_c);
        s->derate = mf_prot_derate(c, t);
        if (t >= c->temp_max_c) {
            trip |= MF_FAULT_OVERTEMP;
        }
    } else {
        s->derate = 0.0f;
    }

    /* encoder stuck: back-EMF says it turns, the counts say it does not */
    {
        float w = mf_prot_emf_speed(c, v_q, i_q);
        float tau = MF_PROT_EMF_TAU_FRAC * c->enc_stuck_s;
        if (w >= 0.0f && dt_s > 0.0f && tau >= 0.0f) { /* tau + dt > 0 */
            s->omega_e_emf += (w - s->omega_e_emf) * (dt_s / (tau + dt_s));
            s->omega_e_emf = mf_satf(s->omega_e_emf, 0.0f, MF_PROT_TIMER_MAX);
        }
        if (s->enc_still_s >= c->enc_stuck_s && s->omega_e_emf > c->omega_e_stuck_rad_s) {
            trip |= MF_FAULT_ENCODER;
        }
    }
    return trip;
}

/* No config or input: BAD_INPUT and no current. */
static uint32_t mf_prot_missing(mf_protect_t *s)
{
    mf_prot_latch(s, MF_FAULT_BAD_INPUT);
    s->derate = 0.0f;
    return s->faults;
}

uint32_t mf_protect_fast(mf_protect_t *s, const mf_protect_config_t *c, float v_bus, float i_a,
                         float i_b, float i_c, int32_t enc_delta_counts, bool armed, float dt_s)
{
    if (s == NULL) {
        return MF_FAULT_ALL;
    }
    if (c == NULL) {
        return mf_prot_missing(s);
    }
    mf_prot_latch(s, mf_prot_fast_trips(s, c, v_bus, i_a, i_b, i_c, enc_delta_counts, armed, dt_s));
    return s->faults;
}

uint32_t mf_protect_slow(mf_protect_t *s, const mf_protect_config_t *c, float i_d, float i_q,
                         float v_q, float temp_motor_c, float temp_fet_c, float dt_s)
{
    if (s == NULL) {
        return MF_FAULT_ALL;
    }
    if (c == NULL) {
        return mf_prot_missing(s);
    }
    mf_prot_latch(s, mf_prot_slow_trips(s, c, i_d, i_q, v_q, temp_motor_c, temp_fet_c, dt_s));
    return s->faults;
}

uint32_t mf_protect_step(mf_protect_t *s, const mf_protect_config_t *c,
                         const mf_protect_input_t *in, float dt_s)
{
    uint32_t before;
    if (s == NULL) {
        return MF_FAULT_ALL;
    }
    if (c == NULL || in == NULL) {
        return mf_prot_missing(s);
    }
    before = s->faults;
    /* fast first: the stuck check of the slow part reads its still timer */
    (void)mf_protect_fast(s, c, in->v_bus, in->i_abc[0], in->i_abc[1], in->i_abc[2], in->enc_delta_counts,
                          in->armed, dt_s);
    (void)mf_protect_slow(s, c, in->i_d, in->i_q, in->v_q, in->temp_motor_c, in->temp_fet_c, dt_s);
    if (before == 0u) { /* one call: the lowest bit of both parts' trips */
        s->first_fault = mf_prot_lowest_bit(s->faults);
    }
    return s->faults;
}

void mf_protect_feed(mf_protect_t *s)
{
    if (s == NULL) {
        return;
    }
    s->since_cmd_s = 0.0f;
    s->fed_since_timeout = true;
}

void mf_protect_trip(mf_protect_t *s, uint32_t fault_bits)
{
    if (s == NULL) {
        return;
    }
    if ((fault_bits & MF_FAULT_CMD_TIMEOUT) != 0u) {
        s->fed_since_timeout = false;
    }
    mf_prot_latch(s, fault_bits);
}

uint32_t mf_protect_clear(mf_protect_t *s, const mf_protect_config_t *c,
                          const mf_protect_input_t *in)
{
    uint32_t gone = MF_FAULT_ESTOP; /* bits whose cause is gone */
    int k;
    bool ok;

    if (s == NULL) {
        return MF_FAULT_ALL;
    }
    if (c == NULL || in == NULL) {
        return s->faults;
    }

    ok = true;
    for (k = 0; k < 3; ++k) {
        ok = ok && (fabsf(in->i_abc[k]) <= c->i_max_a);
    }
    if (ok) {
        gone |= MF_FAULT_OVERCURRENT;
    }
    if (s->i2t < MF_PROTECT_I2T_CLEAR_FRAC * c->i_cont_a * c->i_cont_a) {
        gone |= MF_FAULT_I2T;
    }
    if (in->v_bus <= c->v_bus_max_v && in->v_bus >= c->v_bus_min_v) {
        gone |= MF_FAULT_OVERVOLTAGE | MF_FAULT_UNDERVOLTAGE;
    }
    if (mf_maxf(in->temp_motor_c, in->temp_fet_c) < c->temp_max_c - c->temp_hyst_c &&
        mf_isfinitef(in->temp_motor_c) && mf_isfinitef(in->temp_fet_c)) {
        gone |= MF_FAULT_OVERTEMP;
    }
    if (mf_prot_abs_counts(in->enc_delta_counts) <= c->enc_jump_counts) {
        float w = mf_prot_emf_speed(c, in->v_q, in->i_q);
        if (in->enc_delta_counts != 0 || (w >= 0.0f && w <= c->omega_e_stuck_rad_s)) {
            gone |= MF_FAULT_ENCODER;
        }
    }
    if (s->fed_since_timeout) {
        gone |= MF_FAULT_CMD_TIMEOUT;
    }
    if (mf_prot_input_finite(in)) {
        gone |= MF_FAULT_BAD_INPUT;
    }

    if ((s->faults & gone & MF_FAULT_ENCODER) != 0u) {
        s->enc_still_s = 0.0f; /* stuck detection starts afresh */
        s->omega_e_emf = 0.0f;
    }
    s->faults &= ~gone;
    if ((s->first_fault & s->faults) == 0u) {
        s->first_fault = mf_prot_lowest_bit(s->faults);
    }
    return s->faults;
}
