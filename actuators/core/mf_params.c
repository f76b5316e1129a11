/* mf_params.c - the actuator's parameter table and its flash page image. */
#include "mf_params.h"

#include <string.h>

#include "mf_err.h"
#include "mf_math.h"

#define P_ (MF_PARAM_PERSISTENT)
#define PI_ (MF_PARAM_PERSISTENT | MF_PARAM_IDLE_ONLY)
#define RO_ (MF_PARAM_READ_ONLY)

#define CTRL_F(idx, field, unit, lo, hi, def, flags) \
    {(idx), #field, (unit), (lo), (hi), (def), (flags), MF_PARAM_IN_CTRL, MF_PARAM_F32, \
     (uint16_t)offsetof(mf_ctrl_config_t, field)}
#define CTRL_T(idx, field, unit, lo, hi, def, flags, type) \
    {(idx), #field, (unit), (lo), (hi), (def), (flags), MF_PARAM_IN_CTRL, (type), \
     (uint16_t)offsetof(mf_ctrl_config_t, field)}
#define APP_F(idx, field, unit, lo, hi, def, flags) \
    {(idx), #field, (unit), (lo), (hi), (def), (flags), MF_PARAM_IN_APP, MF_PARAM_F32, \
     (uint16_t)offsetof(mf_app_params_t, field)}
#define APP_T(idx, field, unit, lo, hi, def, flags, type) \
    {(idx), #field, (unit), (lo), (hi), (def), (flags), MF_PARAM_IN_APP, (type), \
     (uint16_t)offsetof(mf_app_params_t, field)}
#define INJ_F(idx, field, unit, lo, hi, def) \
    {(idx), "inject." #field, (unit), (lo), (hi), (def), 0u, MF_PARAM_IN_INJECT, MF_PARAM_F32, \
     (uint16_t)offsetof(mf_inject_config_t, field)}
#define INJ_T(idx, field, unit, lo, hi, def, type) \
    {(idx), "inject." #field, (unit), (lo), (hi), (def), 0u, MF_PARAM_IN_INJECT, (type), \
     (uint16_t)offsetof(mf_inject_config_t, field)}
#define ST_F(idx, name, field, unit) \
    {(idx), (name), (unit), -MF_FLT_MAX_F, MF_FLT_MAX_F, 0.0f, RO_, MF_PARAM_IN_STATE, MF_PARAM_F32, \
     (uint16_t)offsetof(mf_ctrl_t, field)}
#define ST_T(idx, name, field, type) \
    {(idx), (name), "", 0.0f, 16777216.0f, 0.0f, RO_, MF_PARAM_IN_STATE, (type), \
     (uint16_t)offsetof(mf_ctrl_t, field)}
#define CONST_(idx, name, unit, value) \
    {(idx), (name), (unit), (value), (value), (value), RO_, MF_PARAM_CONST, MF_PARAM_F32, 0u}

/* Sorted by index. Blocks of 16 indices per group leave room to grow. */
static const mf_param_desc_t mf_param_table[] = {
    /* 0x00 information */
    CONST_(0u, "protocol_version", "", 1.0f),
    CONST_(1u, "param_page_version", "", (float)MF_PARAMS_PAGE_VERSION),
    /* 0x10 identity and heartbeat */
    APP_T(16u, node_id, "", 1.0f, 127.0f, 1.0f, PI_, MF_PARAM_U8),
    APP_T(17u, group_id, "", 0.0f, 127.0f, 0.0f, PI_, MF_PARAM_U8),
    APP_T(18u, group_slot, "", 0.0f, 7.0f, 0.0f, PI_, MF_PARAM_U8),
    APP_F(19u, heartbeat_period_s, "s", 0.01f, 10.0f, 0.1f, P_),
    /* 0x20 current loop */
    CTRL_F(32u, current.pi_d.kp, "V/A", 0.0f, 1.0e4f, 0.0f, P_),
    CTRL_F(33u, current.pi_d.ki, "V/(A s)", 0.0f, 1.0e8f, 0.0f, P_),
    CTRL_F(34u, current.pi_q.kp, "V/A", 0.0f, 1.0e4f, 0.0f, P_),
    CTRL_F(35u, current.pi_q.ki, "V/(A s)", 0.0f, 1.0e8f, 0.0f, P_),
    CTRL_F(36u, current.ld_h, "H", 0.0f, 1.0f, 50.0e-6f, P_),
    CTRL_F(37u, current.lq_h, "H", 0.0f, 1.0f, 50.0e-6f, P_),
    CTRL_T(38u, current.decouple, "", 0.0f, 1.0f, 1.0f, P_, MF_PARAM_BOOL),
    CTRL_F(39u, current.v_max_frac, "", 0.01f, 1.0f, 0.95f, P_),
    /* 0x30 outer loops */
    CTRL_F(48u, motion.vel_pi.kp, "N m s/rad", 0.0f, 1.0e4f, 2.0f, P_),
    CTRL_F(49u, motion.vel_pi.ki, "N m/rad", 0.0f, 1.0e6f, 20.0f, P_),
    CTRL_F(50u, motion.pos_kp, "1/s", 0.0f, 1.0e4f, 20.0f, P_),
    CTRL_F(51u, motion.v_max_rad_s, "rad/s", 0.001f, 1.0e4f, 10.0f, P_),
    /* 0x40 limits and timing */
    CTRL_F(64u, i_limit_a, "A", 0.01f, 1000.0f, 30.0f, P_),
    CTRL_F(65u, tau_out_max_nm, "N m", 0.001f, 1.0e5f, 20.0f, P_),
    CTRL_F(66u, latency_steps, "", 0.0f, 4.0f, 1.5f, P_),
    /* 0x50 encoder and gearbox (derived at controller init) */
    CTRL_F(80u, estimator.offset_e_rad, "rad", -1.0e4f, 1.0e4f, 0.0f, PI_),
    CTRL_T(81u, estimator.direction, "", -1.0f, 1.0f, 1.0f, PI_, MF_PARAM_I32),
    CTRL_F(82u, estimator.pll_bandwidth_rad_s, "rad/s", 1.0f, 1.0e6f, 2000.0f, PI_),
    CTRL_F(83u, gear_ratio, "", 1.0f, 1000.0f, 9.0f, PI_),
    /* 0x60 protections */
    CTRL_F(96u, protect.i_max_a, "A", 0.01f, 1000.0f, 40.0f, P_),
    CTRL_F(97u, protect.i_cont_a, "A", 0.01f, 1000.0f, 15.0f, P_),
    CTRL_F(98u, protect.tau_i2t_s, "s", 0.001f, 1.0e4f, 5.0f, P_),
    CTRL_F(99u, protect.v_bus_max_v, "V", 0.1f, 1000.0f, 56.0f, P_),
    CTRL_F(100u, protect.v_bus_min_v, "V", 0.1f, 1000.0f, 18.0f, P_),
    CTRL_F(101u, protect.temp_derate_c, "degC", -40.0f, 250.0f, 90.0f, P_),
    CTRL_F(102u, protect.temp_max_c, "degC", -40.0f, 250.0f, 110.0f, P_),
    CTRL_F(103u, protect.temp_hyst_c, "degC", 0.0f, 100.0f, 10.0f, P_),
    CTRL_F(104u, protect.r_ohm, "ohm", 0.0f, 100.0f, 0.1f, P_),
    CTRL_F(105u, protect.omega_e_stuck_rad_s, "rad/s", 1.0f, 1.0e6f, 500.0f, P_),
    CTRL_F(106u, protect.enc_stuck_s, "s", 0.001f, 10.0f, 0.05f, P_),
    CTRL_T(107u, protect.enc_jump_counts, "", 1.0f, 16777216.0f, 1000.0f, P_, MF_PARAM_U32),
    CTRL_F(108u, protect.cmd_timeout_s, "s", 0.001f, 60.0f, 0.1f, P_),
    CTRL_T(109u, protect.safe_state, "", 0.0f, 1.0f, 0.0f, P_, MF_PARAM_U8),
    /* 0x70 MIT raw ranges (change the meaning of the raw commands) */
    APP_F(112u, ranges.p_min_rad, "rad", -1.0e4f, 1.0e4f, -12.5f, PI_),
    APP_F(113u, ranges.p_max_rad, "rad", -1.0e4f, 1.0e4f, 12.5f, PI_),
    APP_F(114u, ranges.v_min_rad_s, "rad/s", -1.0e5f, 1.0e5f, -65.0f, PI_),
    APP_F(115u, ranges.v_max_rad_s, "rad/s", -1.0e5f, 1.0e5f, 65.0f, PI_),
    APP_F(116u, ranges.kp_max_nm_rad, "N m/rad", 0.001f, 1.0e5f, 500.0f, PI_),
    APP_F(117u, ranges.kd_max_nms_rad, "N m s/rad", 1.0e-6f, 1.0e4f, 5.0f, PI_),
    APP_F(118u, ranges.tau_min_nm, "N m", -1.0e5f, 1.0e5f, -18.0f, PI_),
    APP_F(119u, ranges.tau_max_nm, "N m", -1.0e5f, 1.0e5f, 18.0f, PI_),
    /* 0x80 muscle */
    CTRL_F(128u, muscle.f_max_n, "N", 0.001f, 1.0e6f, 1000.0f, P_),
    CTRL_F(129u, muscle.moment_arm_m, "m", 1.0e-4f, 1.0f, 0.03f, P_),
    CTRL_F(130u, muscle.k_pe, "", 0.0f, 100.0f, 1.0f, P_),
    CTRL_F(131u, muscle.tau_act_s, "s", 1.0e-4f, 10.0f, 0.01f, P_),
    CTRL_F(132u, muscle.tau_deact_s, "s", 1.0e-4f, 10.0f, 0.04f, P_),
    /* 0x90 identification injection (started by Control INJECT; mf_inject.h) */
    INJ_T(144u, kind, "", 0.0f, 5.0f, 0.0f, MF_PARAM_U8),
    INJ_T(145u, axis, "", 0.0f, 1.0f, 0.0f, MF_PARAM_U8),
    INJ_T(146u, use_encoder, "", 0.0f, 1.0f, 0.0f, MF_PARAM_BOOL),
    INJ_F(147u, amp, "V|A", -1000.0f, 1000.0f, 0.0f),
    INJ_F(148u, offset, "V|A", -1000.0f, 1000.0f, 0.0f),
    INJ_F(149u, hold, "V|A", -1000.0f, 1000.0f, 0.0f),
    INJ_F(150u, freq_hz, "Hz", 0.0f, 1.0e5f, 0.0f),
    INJ_F(151u, omega_e_cmd, "rad/s", -1.0e5f, 1.0e5f, 0.0f),
    INJ_F(152u, accel_e, "rad/s^2", 0.0f, 1.0e8f, 0.0f),
    INJ_F(153u, theta0_e, "rad", -1.0e4f, 1.0e4f, 0.0f),
    INJ_F(154u, lockin_harmonic, "", 0.0f, 1.0e4f, 0.0f),
    INJ_F(155u, settle_s, "s", 0.0f, 100.0f, 0.0f),
    INJ_F(156u, window_s, "s", 0.0f, 100.0f, 0.1f),
    /* 0xA0 results of the last injection (mf_inject_t; valid when done = 1) */
    ST_T(160u, "inject.result.done", inject.done, MF_PARAM_BOOL),
    ST_T(161u, "inject.result.n", inject.n, MF_PARAM_U32),
    ST_T(162u, "inject.result.n_bad", inject.n_bad, MF_PARAM_U32),
    ST_F(163u, "inject.result.v_d_mean", inject.v_d_mean, "V"),
    ST_F(164u, "inject.result.v_q_mean", inject.v_q_mean, "V"),
    ST_F(165u, "inject.result.i_d_mean", inject.i_d_mean, "A"),
    ST_F(166u, "inject.result.i_q_mean", inject.i_q_mean, "A"),
    ST_F(167u, "inject.result.v_d_rotor_mean", inject.v_d_rotor_mean, "V"),
    ST_F(168u, "inject.result.v_q_rotor_mean", inject.v_q_rotor_mean, "V"),
    ST_F(169u, "inject.result.i_d_rotor_mean", inject.i_d_rotor_mean, "A"),
    ST_F(170u, "inject.result.i_q_rotor_mean", inject.i_q_rotor_mean, "A"),
    ST_F(171u, "inject.result.omega_e_mean", inject.omega_e_mean, "rad/s"),
    ST_F(172u, "inject.result.theta_err_mean", inject.theta_err_mean, "rad"),
    ST_F(173u, "inject.result.v_c", inject.v_c, "V"),
    ST_F(174u, "inject.result.v_s", inject.v_s, "V"),
    ST_F(175u, "inject.result.i_c", inject.i_c, "A"),
    ST_F(176u, "inject.result.i_s", inject.i_s, "A"),
    ST_F(177u, "inject.result.theta_cmd_turned", inject.theta_cmd_turned, "rad"),
    ST_F(178u, "inject.result.theta_enc_turned", inject.theta_enc_turned, "rad"),
    ST_F(179u, "inject.result.t_s", inject.t_s, "s"),
    /* 0xB8 live signals of the controller (read-only) */
    ST_F(184u, "state.theta_m", est.theta_m, "rad"),
    ST_F(185u, "state.omega_m", est.omega_m, "rad/s"),
    ST_F(186u, "state.theta_e", est.theta_e, "rad"),
    ST_F(187u, "state.i_d", i_d, "A"),
    ST_F(188u, "state.i_q", i_q, "A"),
    ST_F(189u, "state.v_d", cur.v_d, "V"),
    ST_F(190u, "state.v_q", cur.v_q, "V"),
    ST_F(191u, "state.v_bus", v_bus, "V"),
    /* 0xC0 cogging feed-forward (motor side; derived at controller init) */
    CTRL_T(192u, cogging.cog_n_per_rev, "", 0.0f, 10000.0f, 0.0f, PI_, MF_PARAM_U32),
    CTRL_F(193u, cogging.amp_nm[0], "N m", -1000.0f, 1000.0f, 0.0f, PI_),
    CTRL_F(194u, cogging.amp_nm[1], "N m", -1000.0f, 1000.0f, 0.0f, PI_),
    CTRL_F(195u, cogging.amp_nm[2], "N m", -1000.0f, 1000.0f, 0.0f, PI_),
    CTRL_F(196u, cogging.phase_rad[0], "rad", -1.0e4f, 1.0e4f, 0.0f, PI_),
    CTRL_F(197u, cogging.phase_rad[1], "rad", -1.0e4f, 1.0e4f, 0.0f, PI_),
    CTRL_F(198u, cogging.phase_rad[2], "rad", -1.0e4f, 1.0e4f, 0.0f, PI_),
    /* 0xC8 more live signals (read-only) */
    ST_F(200u, "state.temp_motor_c", temp_motor_c, "degC"),
    ST_T(201u, "state.faults", prot.faults, MF_PARAM_U32),
    ST_T(202u, "state.mode", cmd.mode, MF_PARAM_U8),
};

#define MF_PARAM_N (sizeof mf_param_table / sizeof mf_param_table[0])

/* The table must fit the page bound of the header. */
typedef char mf_params_count_check[(MF_PARAM_N <= MF_PARAMS_COUNT) ? 1 : -1];

size_t mf_params_count(void) { return MF_PARAM_N; }

const mf_param_desc_t *mf_params_at(size_t k) { return (k < MF_PARAM_N) ? &mf_param_table[k] : NULL; }

const mf_param_desc_t *mf_params_find(uint16_t index)
{
    size_t lo = 0u, hi = MF_PARAM_N;
    while (lo < hi) { /* binary search over the sorted indices */
        size_t mid = lo + (hi - lo) / 2u;
        uint16_t at = mf_param_table[mid].index;
        if (at == index) {
            return &mf_param_table[mid];
        }
        if (at < index) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

static int mf_param_read_field(const mf_param_desc_t *d, const uint8_t *f, float *value);
static int mf_param_write_field(const mf_param_desc_t *d, uint8_t *f, float value);

static uint8_t *mf_param_field(const mf_param_desc_t *d, mf_ctrl_config_t *c, mf_app_params_t *p)
{
    if (d->where == MF_PARAM_IN_CTRL) {
        return (c != NULL) ? (uint8_t *)c + d->offset : NULL;
    }
    if (d->where == MF_PARAM_IN_APP) {
        return (p != NULL) ? (uint8_t *)p + d->offset : NULL;
    }
    return NULL;
}

static const uint8_t *mf_param_cfield(const mf_param_desc_t *d, const mf_ctrl_config_t *c,
                                      const mf_app_params_t *p)
{
    if (d->where == MF_PARAM_IN_CTRL) {
        return (c != NULL) ? (const uint8_t *)c + d->offset : NULL;
    }
    if (d->where == MF_PARAM_IN_APP) {
        return (p != NULL) ? (const uint8_t *)p + d->offset : NULL;
    }
    return NULL;
}

int mf_params_get(const mf_param_desc_t *d, const mf_ctrl_config_t *c, const mf_app_params_t *p, float *value)
{
    if (d == NULL || value == NULL) {
        return MF_ENULL;
    }
    if (d->where == MF_PARAM_CONST) {
        *value = d->def;
        return MF_OK;
    }
    return mf_param_read_field(d, mf_param_cfield(d, c, p), value);
}

int mf_params_get_at(const mf_param_desc_t *d, const void *base, float *value)
{
    if (d == NULL || value == NULL) {
        return MF_ENULL;
    }
    if (d->where == MF_PARAM_CONST) {
        *value = d->def;
        return MF_OK;
    }
    return mf_param_read_field(d, (base != NULL) ? (const uint8_t *)base + d->offset : NULL, value);
}

static int mf_param_read_field(const mf_param_desc_t *d, const uint8_t *f, float *value)
{
    if (f == NULL) {
        return MF_ENULL;
    }
    switch (d->type) {
    case MF_PARAM_U8: {
        uint8_t v;
        memcpy(&v, f, sizeof v);
        *value = (float)v;
        break;
    }
    case MF_PARAM_I32: {
        int32_t v;
        memcpy(&v, f, sizeof v);
        *value = (float)v;
        break;
    }
    case MF_PARAM_U32: {
        uint32_t v;
        memcpy(&v, f, sizeof v);
        *value = (float)v;
        break;
    }
    case MF_PARAM_BOOL: {
        bool v;
        memcpy(&v, f, sizeof v);
        *value = v ? 1.0f : 0.0f;
        break;
    }
    default: {
        float v;
        memcpy(&v, f, sizeof v);
        *value = v;
        break;
    }
    }
    return MF_OK;
}

/* The value is acceptable for the descriptor on its own. */
static bool mf_param_value_ok(const mf_param_desc_t *d, float value)
{
    if (!mf_isfinitef(value) || value < d->min || value > d->max) {
        return false;
    }
    if (d->type != MF_PARAM_F32) {
        /* in range, so |value| <= 2^24 and the int32 conversion is exact */
        return (float)(int32_t)value == value;
    }
    return true;
}

int mf_params_set(const mf_param_desc_t *d, mf_ctrl_config_t *c, mf_app_params_t *p, float value)
{
    if (d == NULL) {
        return MF_ENULL;
    }
    if ((d->flags & MF_PARAM_READ_ONLY) != 0u || d->where == MF_PARAM_CONST) {
        return MF_ESTATE;
    }
    return mf_param_write_field(d, mf_param_field(d, c, p), value);
}

int mf_params_set_at(const mf_param_desc_t *d, void *base, float value)
{
    if (d == NULL) {
        return MF_ENULL;
    }
    if ((d->flags & MF_PARAM_READ_ONLY) != 0u || d->where == MF_PARAM_CONST) {
        return MF_ESTATE;
    }
    return mf_param_write_field(d, (base != NULL) ? (uint8_t *)base + d->offset : NULL, value);
}

static int mf_param_write_field(const mf_param_desc_t *d, uint8_t *f, float value)
{
    if (f == NULL) {
        return MF_ENULL;
    }
    if (!mf_param_value_ok(d, value)) {
        return MF_ERANGE;
    }
    switch (d->type) {
    case MF_PARAM_U8: {
        uint8_t v = (uint8_t)(int32_t)value;
        memcpy(f, &v, sizeof v);
        break;
    }
    case MF_PARAM_I32: {
        int32_t v = (int32_t)value;
        memcpy(f, &v, sizeof v);
        break;
    }
    case MF_PARAM_U32: {
        uint32_t v = (uint32_t)(int32_t)value;
        memcpy(f, &v, sizeof v);
        break;
    }
    case MF_PARAM_BOOL: {
        bool v = value != 0.0f;
        memcpy(f, &v, sizeof v);
        break;
    }
    default:
        memcpy(f, &value, sizeof value);
        break;
    }
    return MF_OK;
}

void mf_params_defaults(mf_ctrl_config_t *c, mf_app_params_t *p)
{
    size_t k;
    for (k = 0u; k < MF_PARAM_N; k++) {
        const mf_param_desc_t *d = &mf_param_table[k];
        if (d->where != MF_PARAM_CONST && mf_param_field(d, c, p) != NULL) {
            (void)mf_params_set(d, c, p, d->def);
        }
    }
}

const char *mf_app_params_problem(const mf_app_params_t *p)
{
    size_t k;
    const mf_mit_ranges_t *r;
    if (p == NULL) {
        return "params";
    }
    for (k = 0u; k < MF_PARAM_N; k++) {
        const mf_param_desc_t *d = &mf_param_table[k];
        float v;
        if (d->where != MF_PARAM_IN_APP) {
            continue;
        }
        (void)mf_params_get(d, NULL, p, &v);
        if (!mf_param_value_ok(d, v)) {
            return d->name;
        }
    }
    r = &p->ranges;
    if (!(r->p_min_rad < r->p_max_rad)) {
        return "ranges.p_max_rad";
    }
    if (!(r->v_min_rad_s < r->v_max_rad_s)) {
        return "ranges.v_max_rad_s";
    }
    if (!(r->tau_min_nm < r->tau_max_nm)) {
        return "ranges.tau_max_nm";
    }
    return NULL;
}

uint32_t mf_params_crc32(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;
    size_t k;
    int b;
    if (data == NULL) {
        return 0u;
    }
    for (k = 0u; k < len; k++) {
        crc ^= data[k];
        for (b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static void mf_put_u16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v & 0xFFu);
    b[1] = (uint8_t)(v >> 8);
}

static void mf_put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v & 0xFFu);
    b[1] = (uint8_t)((v >> 8) & 0xFFu);
    b[2] = (uint8_t)((v >> 16) & 0xFFu);
    b[3] = (uint8_t)(v >> 24);
}

static uint16_t mf_get_u16(const uint8_t *b) { return (uint16_t)((uint16_t)b[0] | (uint16_t)((uint16_t)b[1] << 8)); }

static uint32_t mf_get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

int mf_params_serialise(const mf_ctrl_config_t *c, const mf_app_params_t *p, uint8_t *page, size_t len)
{
    size_t k, n = 0u, need;
    uint8_t *rec;
    if (c == NULL || p == NULL || page == NULL) {
        return MF_ENULL;
    }
    for (k = 0u; k < MF_PARAM_N; k++) {
        if ((mf_param_table[k].flags & MF_PARAM_PERSISTENT) != 0u) {
            n++;
        }
    }
    need = MF_PARAMS_HEADER_BYTES + MF_PARAMS_RECORD_BYTES * n + MF_PARAMS_CRC_BYTES;
    if (len < need) {
        return MF_ERANGE;
    }
    mf_put_u32(page, MF_PARAMS_MAGIC);
    mf_put_u16(page + 4, (uint16_t)MF_PARAMS_PAGE_VERSION);
    mf_put_u16(page + 6, (uint16_t)n);
    rec = page + MF_PARAMS_HEADER_BYTES;
    for (k = 0u; k < MF_PARAM_N; k++) {
        const mf_param_desc_t *d = &mf_param_table[k];
        float v = 0.0f;
        uint32_t bits;
        if ((d->flags & MF_PARAM_PERSISTENT) == 0u) {
            continue;
        }
        (void)mf_params_get(d, c, p, &v);
        memcpy(&bits, &v, sizeof bits);
        mf_put_u16(rec, d->index);
        mf_put_u32(rec + 2, bits);
        rec += MF_PARAMS_RECORD_BYTES;
    }
    mf_put_u32(rec, mf_params_crc32(page, need - MF_PARAMS_CRC_BYTES));
    return (int)need;
}

int mf_params_deserialise(mf_ctrl_config_t *c, mf_app_params_t *p, const uint8_t *page, size_t len)
{
    bool seen[MF_PARAM_N];
    size_t n, k, body;
    const uint8_t *rec;
    if (c == NULL || p == NULL || page == NULL) {
        return MF_ENULL;
    }
    if (len < MF_PARAMS_HEADER_BYTES + MF_PARAMS_CRC_BYTES) {
        return MF_EINVAL;
    }
    if (mf_get_u32(page) != MF_PARAMS_MAGIC || mf_get_u16(page + 4) != MF_PARAMS_PAGE_VERSION) {
        return MF_EINVAL;
    }
    n = mf_get_u16(page + 6);
    if (n < 1u || n > MF_PARAM_N) {
        return MF_EINVAL;
    }
    body = MF_PARAMS_HEADER_BYTES + MF_PARAMS_RECORD_BYTES * n;
    if (len < body + MF_PARAMS_CRC_BYTES) {
        return MF_EINVAL;
    }
    if (mf_get_u32(page + body) != mf_params_crc32(page, body)) {
        return MF_EINVAL;
    }
    /* pass 1: validate every record, write nothing */
    memset(seen, 0, sizeof seen);
    rec = page + MF_PARAMS_HEADER_BYTES;
    for (k = 0u; k < n; k++, rec += MF_PARAMS_RECORD_BYTES) {
        const mf_param_desc_t *d = mf_params_find(mf_get_u16(rec));
        uint32_t bits = mf_get_u32(rec + 2);
        float v;
        size_t pos;
        if (d == NULL || (d->flags & MF_PARAM_PERSISTENT) == 0u || (d->flags & MF_PARAM_READ_ONLY) != 0u) {
            return MF_EINVAL;
        }
        pos = (size_t)(d - mf_param_table);
        if (seen[pos]) {
            return MF_EINVAL;
        }
        seen[pos] = true;
        memcpy(&v, &bits, sizeof v);
        if (!mf_param_value_ok(d, v)) {
            return MF_ERANGE;
        }
    }
    /* pass 2: apply (cannot fail now) */
    rec = page + MF_PARAMS_HEADER_BYTES;
    for (k = 0u; k < n; k++, rec += MF_PARAMS_RECORD_BYTES) {
        uint32_t bits = mf_get_u32(rec + 2);
        float v;
        memcpy(&v, &bits, sizeof v);
        (void)mf_params_set(mf_params_find(mf_get_u16(rec)), c, p, v);
    }
    return MF_OK;
}
