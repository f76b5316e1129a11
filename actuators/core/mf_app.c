/* mf_app.c - the actuator application: CAN protocol <-> state machine <-> mf_ctrl.
 *
 * Frames are decoded with the generated codec's _unpack() and _pack() functions
 * and raw struct fields only; the scaling to SI is done here in float (the
 * codec's _encode() and _decode() helpers use double and roundf).
 */
#include "mf_app.h"

#include <math.h>
#include <string.h>

#include "mf_err.h"
#include "mf_math.h"
#include "myofoc_can.h"

#define MF_NODE_BITS 7u
#define MF_NODE_MASK 0x7Fu
#define MF_FN(frame_id) ((uint32_t)(frame_id) >> MF_NODE_BITS)
#define MF_ID_OF(frame_id, node) (((uint32_t)(frame_id) & 0x780u) | ((uint32_t)(node) & MF_NODE_MASK))

#define MF_FN_ESTOP MF_FN(MYOFOC_CAN_EMERGENCY_STOP_FRAME_ID)
#define MF_FN_GROUP_COMMAND MF_FN(MYOFOC_CAN_GROUP_COMMAND_FRAME_ID)
#define MF_FN_GROUP_STATE MF_FN(MYOFOC_CAN_GROUP_STATE_FRAME_ID)
#define MF_FN_CONTROL MF_FN(MYOFOC_CAN_CONTROL_FRAME_ID)
#define MF_FN_IMPEDANCE MF_FN(MYOFOC_CAN_IMPEDANCE_COMMAND_FRAME_ID)
#define MF_FN_CURRENT MF_FN(MYOFOC_CAN_CURRENT_COMMAND_FRAME_ID)
#define MF_FN_VELOCITY MF_FN(MYOFOC_CAN_VELOCITY_COMMAND_FRAME_ID)
#define MF_FN_POSITION MF_FN(MYOFOC_CAN_POSITION_COMMAND_FRAME_ID)
#define MF_FN_MUSCLE MF_FN(MYOFOC_CAN_MUSCLE_COMMAND_FRAME_ID)
#define MF_FN_STATE_REPLY MF_FN(MYOFOC_CAN_STATE_REPLY_FRAME_ID)
#define MF_FN_PARAM_REQUEST MF_FN(MYOFOC_CAN_PARAM_REQUEST_FRAME_ID)
#define MF_FN_PARAM_REPLY MF_FN(MYOFOC_CAN_PARAM_REPLY_FRAME_ID)
#define MF_FN_STATUS MF_FN(MYOFOC_CAN_STATUS_FRAME_ID)
#define MF_FN_HEARTBEAT MF_FN(MYOFOC_CAN_HEARTBEAT_FRAME_ID)

#define MF_RAW16_FULL 65535u
#define MF_RAW12_FULL 4095u

typedef enum {
    MF_REJ_UNKNOWN_ID,
    MF_REJ_BAD_LENGTH,
    MF_REJ_OUT_OF_RANGE,
    MF_REJ_NON_FINITE,
    MF_REJ_WRONG_STATE
} mf_app_reject_t;

static float mf_app_nan(void)
{
    const uint32_t bits = 0x7FC00000u;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ---- derived values, state helpers ---------------------------------- */

static void mf_app_derive(mf_app_t *a)
{
    const mf_mit_ranges_t *r = &a->par.ranges;
    a->p_span = r->p_max_rad - r->p_min_rad;
    a->v_span = r->v_max_rad_s - r->v_min_rad_s;
    a->tau_span = r->tau_max_nm - r->tau_min_nm;
    /* spans are > 0 and finite (mf_app_params_problem) */
    a->p_to_raw = (float)MF_RAW16_FULL / a->p_span;
    a->v_to_raw = (float)MF_RAW12_FULL / a->v_span;
    a->tau_to_raw = (float)MF_RAW12_FULL / a->tau_span;
}

static bool mf_app_driving(const mf_app_t *a)
{
    return a->state == (uint8_t)MF_APP_ARMED || a->state == (uint8_t)MF_APP_RUNNING;
}

/* Enter FAULT when the controller holds a fault (not during BOOT: the first
 * tick decides). */
static void mf_app_sync_fault(mf_app_t *a)
{
    if (a->ctrl.prot.faults != 0u && a->state != (uint8_t)MF_APP_BOOT) {
        a->state = (uint8_t)MF_APP_FAULT;
    }
}

/* Re-initialise the controller with ctrl_cfg as at boot, keeping every
 * latched fault but CONFIG (init decides that one afresh). */
static void mf_app_reinit_ctrl(mf_app_t *a)
{
    uint32_t keep = a->ctrl.prot.faults & ~MF_FAULT_CONFIG;
    (void)mf_ctrl_init(&a->ctrl, &a->ctrl_cfg);
    if (keep != 0u) {
        mf_protect_trip(&a->ctrl.prot, keep);
    }
    if (a->state == (uint8_t)MF_APP_FAULT && a->ctrl.prot.faults == 0u) {
        a->state = (uint8_t)MF_APP_IDLE;
    }
    mf_app_sync_fault(a);
}

static int mf_app_reject(mf_app_t *a, mf_app_reject_t why)
{
    a->cnt.rx_reject++;
    switch (why) {
    case MF_REJ_UNKNOWN_ID:
        a->cnt.rx_unknown_id++;
        return MF_EINVAL;
    case MF_REJ_BAD_LENGTH:
        a->cnt.rx_bad_length++;
        return MF_EINVAL;
    case MF_REJ_OUT_OF_RANGE:
        a->cnt.rx_out_of_range++;
        return MF_ERANGE;
    case MF_REJ_NON_FINITE:
        a->cnt.rx_non_finite++;
        return MF_ERANGE;
    default:
        a->cnt.rx_wrong_state++;
        return MF_ESTATE;
    }
}

/* ---- transmit -------------------------------------------------------- */

static void mf_app_push(mf_app_t *a, uint32_t id, const uint8_t *data, int len, bool fd)
{
    mf_app_frame_t *f;
    if (len < 0 || len > (int)MF_APP_FRAME_MAX) {
        return; /* a pack error; cannot happen with the buffers below */
    }
    if (a->tx_count >= MF_APP_TX_LEN) {
        a->cnt.tx_overflow++;
        return;
    }
    f = &a->tx[(a->tx_head + a->tx_count) % MF_APP_TX_LEN];
    f->id = id;
    f->len = (uint8_t)len;
    f->fd = fd;
    memset(f->data, 0, sizeof f->data);
    memcpy(f->data, data, (size_t)len);
    a->tx_count++;
    a->cnt.tx_queued++;
}

bool mf_app_tx_pop(mf_app_t *a, mf_app_frame_t *out)
{
    if (a == NULL || out == NULL || a->tx_count == 0u) {
        return false;
    }
    *out = a->tx[a->tx_head];
    a->tx_head = (uint8_t)((a->tx_head + 1u) % MF_APP_TX_LEN);
    a->tx_count--;
    return true;
}

/* Raw code of x on [lo, lo + span], saturating (NaN -> lo), rounded half up:
 * floor((x - lo) / span * full + 1/2). */
static uint16_t mf_app_quant(float x, float lo, float hi, float to_raw, uint16_t full)
{
    float t = (mf_satf(x, lo, hi) - lo) * to_raw + 0.5f;
    if (!(t < (float)full)) {
        return full;
    }
    return (uint16_t)t; /* t >= 0.5 */
}

/* MIT uint_to_float: raw / full * span + lo, in MIT's operation order. */
static float mf_app_dequant(uint16_t raw, float lo, float span, uint16_t full)
{
    return (float)raw * span / (float)full + lo;
}

/* degC + 40 saturated to one byte, rounded; NaN -> 0 (-40 degC). */
static uint8_t mf_app_temp_raw(float temp_c)
{
    return (uint8_t)(mf_satf(temp_c, -40.0f, 215.0f) + 40.5f);
}

/* StateReply; refused: this reply answers a refused setpoint (bit 10). */
static void mf_app_send_state(mf_app_t *a, bool fd, bool refused)
{
    struct myofoc_can_state_reply_t r;
    const mf_mit_ranges_t *g = &a->par.ranges;
    uint8_t buf[MYOFOC_CAN_STATE_REPLY_LENGTH];
    mf_ctrl_refresh_outputs(&a->ctrl, &a->ctrl_cfg);
    r.p_out_raw = mf_app_quant(a->ctrl.p_out, g->p_min_rad, g->p_max_rad, a->p_to_raw, (uint16_t)MF_RAW16_FULL);
    r.v_out_raw = mf_app_quant(a->ctrl.v_out, g->v_min_rad_s, g->v_max_rad_s, a->v_to_raw, (uint16_t)MF_RAW12_FULL);
    r.tau_out_raw =
        mf_app_quant(a->ctrl.tau_out_est, g->tau_min_nm, g->tau_max_nm, a->tau_to_raw, (uint16_t)MF_RAW12_FULL);
    r.temp_c = mf_app_temp_raw(mf_maxf(a->ctrl.temp_motor_c, a->ctrl.temp_fet_c));
    r.mode = (uint8_t)(a->ctrl.cmd.mode & 0x0Fu);
    r.fault_bits = (uint16_t)((a->ctrl.prot.faults & 0x03FFu) | (refused ? MF_APP_REPLY_REFUSED : 0u));
    mf_app_push(a, MF_ID_OF(MYOFOC_CAN_STATE_REPLY_FRAME_ID, a->par.node_id), buf,
                myofoc_can_state_reply_pack(buf, &r, sizeof buf), fd);
}

static void mf_app_send_heartbeat(mf_app_t *a, bool fd)
{
    struct myofoc_can_heartbeat_t h;
    uint8_t buf[MYOFOC_CAN_HEARTBEAT_LENGTH];
    h.node_state = a->state;
    h.protocol_version = (uint8_t)MF_APP_PROTOCOL_VERSION;
    h.control_seq = a->control_seq;
    h.rx_reject_count = (uint16_t)(a->cnt.rx_reject & 0xFFFFu);
    h.uptime_ms = a->uptime_ms;
    mf_app_push(a, MF_ID_OF(MYOFOC_CAN_HEARTBEAT_FRAME_ID, a->par.node_id), buf,
                myofoc_can_heartbeat_pack(buf, &h, sizeof buf), fd);
}

static void mf_app_send_status(mf_app_t *a)
{
    struct myofoc_can_status_t s;
    uint8_t buf[MYOFOC_CAN_STATUS_LENGTH];
    s.fault_bits = a->ctrl.prot.faults;
    s.v_bus_v = (uint16_t)mf_satf(a->ctrl.v_bus * 100.0f + 0.5f, 0.0f, 65535.0f);
    s.temp_motor_c = mf_app_temp_raw(a->ctrl.temp_motor_c);
    s.temp_fet_c = mf_app_temp_raw(a->ctrl.temp_fet_c);
    mf_app_push(a, MF_ID_OF(MYOFOC_CAN_STATUS_FRAME_ID, a->par.node_id), buf,
                myofoc_can_status_pack(buf, &s, sizeof buf), false);
}

static void mf_app_send_param_reply(mf_app_t *a, uint8_t node, uint16_t index, uint8_t status, uint8_t seq,
                                    bool fd)
{
    struct myofoc_can_param_reply_t r;
    uint8_t buf[MYOFOC_CAN_PARAM_REPLY_LENGTH];
    float v = mf_app_nan();
    (void)mf_app_param_read(a, index, &v);
    r.param_index = index;
    r.param_status = status;
    r.param_seq = seq;
    r.param_value = v;
    mf_app_push(a, MF_ID_OF(MYOFOC_CAN_PARAM_REPLY_FRAME_ID, node), buf,
                myofoc_can_param_reply_pack(buf, &r, sizeof buf), fd);
}

/* ---- init ------------------------------------------------------------ */

/* The table defaults of the inject.* parameters. */
static void mf_app_inject_defaults(mf_app_t *a)
{
    size_t k;
    for (k = 0u; k < mf_params_count(); k++) {
        const mf_param_desc_t *d = mf_params_at(k);
        if (d->where == (uint8_t)MF_PARAM_IN_INJECT) {
            (void)mf_params_set_at(d, &a->inject_cfg, d->def);
        }
    }
}

int mf_app_init(mf_app_t *a, const mf_app_config_t *cfg)
{
    if (a == NULL || cfg == NULL) {
        return MF_ENULL;
    }
    memset(a, 0, sizeof *a);
    a->ctrl_cfg = cfg->ctrl;
    a->par = cfg->app;
    a->state = (uint8_t)MF_APP_BOOT;
    if (mf_app_params_problem(&a->par) != NULL) {
        a->init_ok = false;
        (void)mf_ctrl_init(&a->ctrl, &a->ctrl_cfg); /* safe output either way */
        return MF_EINVAL;
    }
    a->init_ok = true;
    mf_app_derive(a);
    mf_app_inject_defaults(a);
    return (mf_ctrl_init(&a->ctrl, &a->ctrl_cfg) == MF_OK) ? MF_OK : MF_EINVAL;
}

/* ---- parameters ------------------------------------------------------ */

uint8_t mf_app_param_read(mf_app_t *a, uint16_t index, float *value)
{
    const mf_param_desc_t *d = mf_params_find(index);
    if (a == NULL || value == NULL) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_BAD_OP_CHOICE;
    }
    if (d == NULL) {
        *value = mf_app_nan();
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_UNKNOWN_INDEX_CHOICE;
    }
    if (d->where == (uint8_t)MF_PARAM_IN_INJECT) {
        (void)mf_params_get_at(d, &a->inject_cfg, value);
    } else if (d->where == (uint8_t)MF_PARAM_IN_STATE) {
        mf_ctrl_refresh_outputs(&a->ctrl, &a->ctrl_cfg);
        (void)mf_params_get_at(d, &a->ctrl, value);
    } else {
        (void)mf_params_get(d, &a->ctrl_cfg, &a->par, value);
    }
    return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OK_CHOICE;
}

uint8_t mf_app_param_write(mf_app_t *a, uint16_t index, float value)
{
    const mf_param_desc_t *d = mf_params_find(index);
    mf_ctrl_config_t c;
    mf_app_params_t p;
    bool idle_only;
    if (a == NULL) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_BAD_OP_CHOICE;
    }
    if (d == NULL) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_UNKNOWN_INDEX_CHOICE;
    }
    if ((d->flags & MF_PARAM_READ_ONLY) != 0u || d->where == (uint8_t)MF_PARAM_CONST) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_READ_ONLY_CHOICE;
    }
    if (d->where == (uint8_t)MF_PARAM_IN_INJECT) {
        /* the config of the next injection: any state (a running one keeps its copy) */
        return (mf_params_set_at(d, &a->inject_cfg, value) == MF_OK)
                   ? (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OK_CHOICE
                   : (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OUT_OF_RANGE_CHOICE;
    }
    idle_only = (d->flags & MF_PARAM_IDLE_ONLY) != 0u;
    if (idle_only && mf_app_driving(a)) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_WRONG_STATE_CHOICE;
    }
    /* try on copies: the live config never holds an invalid value */
    c = a->ctrl_cfg;
    p = a->par;
    if (mf_params_set(d, &c, &p, value) != MF_OK || mf_app_params_problem(&p) != NULL ||
        (a->ctrl.config_ok && mf_ctrl_config_problem(&c) != NULL)) {
        return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OUT_OF_RANGE_CHOICE;
    }
    if (idle_only) {
        a->ctrl_cfg = c;
        a->par = p;
        mf_app_derive(a);
        if (d->where == (uint8_t)MF_PARAM_IN_CTRL) {
            mf_app_reinit_ctrl(a);
        }
    } else {
        /* one aligned store into the live config (the ISR may read it) */
        (void)mf_params_set(d, &a->ctrl_cfg, &a->par, value);
    }
    if (!a->ctrl.config_ok && mf_ctrl_config_problem(&a->ctrl_cfg) == NULL) {
        mf_app_reinit_ctrl(a); /* a refused config became valid */
    }
    return (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OK_CHOICE;
}

int mf_app_params_save(const mf_app_t *a, uint8_t *page, size_t len)
{
    if (a == NULL) {
        return MF_ENULL;
    }
    return mf_params_serialise(&a->ctrl_cfg, &a->par, page, len);
}

int mf_app_params_load(mf_app_t *a, const uint8_t *page, size_t len)
{
    mf_ctrl_config_t c;
    mf_app_params_t p;
    int rc;
    if (a == NULL || page == NULL) {
        return MF_ENULL;
    }
    if (!a->init_ok || mf_app_driving(a)) {
        return MF_ESTATE;
    }
    c = a->ctrl_cfg;
    p = a->par;
    rc = mf_params_deserialise(&c, &p, page, len);
    if (rc != MF_OK) {
        return rc;
    }
    if (mf_app_params_problem(&p) != NULL || mf_ctrl_config_problem(&c) != NULL) {
        return MF_EINVAL;
    }
    a->ctrl_cfg = c;
    a->par = p;
    mf_app_derive(a);
    mf_app_reinit_ctrl(a);
    return MF_OK;
}

bool mf_app_save_requested(const mf_app_t *a) { return a != NULL && a->save_pending; }

void mf_app_save_done(mf_app_t *a, int result)
{
    if (a == NULL || !a->save_pending) {
        return;
    }
    a->save_pending = false;
    mf_app_send_param_reply(a, a->par.node_id, a->save_index,
                            (result == MF_OK) ? (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OK_CHOICE
                                              : (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_STORAGE_ERROR_CHOICE,
                            a->save_seq, a->save_fd);
}

/* ---- receive: setpoints ---------------------------------------------- */

/* Refuse a setpoint: count it, answer with the unchanged state flagged refused. */
static int mf_app_refuse_setpoint(mf_app_t *a, mf_app_reject_t why, bool fd)
{
    int rc = mf_app_reject(a, why);
    mf_app_send_state(a, fd, true);
    return rc;
}

static int mf_app_setpoint(mf_app_t *a, const mf_ctrl_cmd_t *cmd, bool fd)
{
    int rc;
    if (!mf_app_driving(a)) {
        return mf_app_refuse_setpoint(a, MF_REJ_WRONG_STATE, fd);
    }
    rc = mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, cmd);
    if (rc == MF_OK) {
        a->state = (uint8_t)MF_APP_RUNNING;
        a->armed_s = 0.0f;
        a->cnt.rx_ok++;
        mf_app_send_state(a, fd, false);
        return MF_OK;
    }
    if (rc == MF_ERANGE) {
        return mf_app_refuse_setpoint(a, MF_REJ_OUT_OF_RANGE, fd);
    }
    mf_app_sync_fault(a); /* a fault latched since the last isr */
    return mf_app_refuse_setpoint(a, MF_REJ_WRONG_STATE, fd);
}

static int mf_app_impedance(mf_app_t *a, const struct myofoc_can_impedance_command_t *m, bool fd)
{
    const mf_mit_ranges_t *r = &a->par.ranges;
    mf_ctrl_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.mode = (uint8_t)MF_MODE_IMPEDANCE;
    cmd.imp.p_des = mf_app_dequant(m->p_des_raw, r->p_min_rad, a->p_span, (uint16_t)MF_RAW16_FULL);
    cmd.imp.v_des = mf_app_dequant(m->v_des_raw, r->v_min_rad_s, a->v_span, (uint16_t)MF_RAW12_FULL);
    cmd.imp.kp = mf_app_dequant(m->kp_raw, 0.0f, r->kp_max_nm_rad, (uint16_t)MF_RAW12_FULL);
    cmd.imp.kd = mf_app_dequant(m->kd_raw, 0.0f, r->kd_max_nms_rad, (uint16_t)MF_RAW12_FULL);
    cmd.imp.tau_ff = mf_app_dequant(m->tau_ff_raw, r->tau_min_nm, a->tau_span, (uint16_t)MF_RAW12_FULL);
    return mf_app_setpoint(a, &cmd, fd);
}

static bool mf_app_in(float x, float lo, float hi) { return x >= lo && x <= hi; }

static int mf_app_on_setpoint(mf_app_t *a, uint32_t fn, const uint8_t *data, bool fd)
{
    const mf_mit_ranges_t *r = &a->par.ranges;
    mf_ctrl_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    if (fn == MF_FN_IMPEDANCE) {
        struct myofoc_can_impedance_command_t m;
        (void)myofoc_can_impedance_command_unpack(&m, data, MYOFOC_CAN_IMPEDANCE_COMMAND_LENGTH);
        return mf_app_impedance(a, &m, fd);
    }
    if (fn == MF_FN_CURRENT) {
        struct myofoc_can_current_command_t m;
        float lim = a->ctrl_cfg.i_limit_a;
        (void)myofoc_can_current_command_unpack(&m, data, MYOFOC_CAN_CURRENT_COMMAND_LENGTH);
        if (!mf_isfinitef(m.i_d_ref_a) || !mf_isfinitef(m.i_q_ref_a)) {
            return mf_app_refuse_setpoint(a, MF_REJ_NON_FINITE, fd);
        }
        if (!(m.i_d_ref_a * m.i_d_ref_a + m.i_q_ref_a * m.i_q_ref_a <= lim * lim)) {
            return mf_app_refuse_setpoint(a, MF_REJ_OUT_OF_RANGE, fd);
        }
        cmd.mode = (uint8_t)MF_MODE_CURRENT;
        cmd.i_d_ref = m.i_d_ref_a;
        cmd.i_q_ref = m.i_q_ref_a;
        return mf_app_setpoint(a, &cmd, fd);
    }
    if (fn == MF_FN_VELOCITY) {
        struct myofoc_can_velocity_command_t m;
        (void)myofoc_can_velocity_command_unpack(&m, data, MYOFOC_CAN_VELOCITY_COMMAND_LENGTH);
        if (!mf_isfinitef(m.v_out_ref_rad_s) || !mf_isfinitef(m.tau_ff_nm)) {
            return mf_app_refuse_setpoint(a, MF_REJ_NON_FINITE, fd);
        }
        if (!mf_app_in(m.v_out_ref_rad_s, r->v_min_rad_s, r->v_max_rad_s) ||
            !mf_app_in(m.tau_ff_nm, r->tau_min_nm, r->tau_max_nm)) {
            return mf_app_refuse_setpoint(a, MF_REJ_OUT_OF_RANGE, fd);
        }
        cmd.mode = (uint8_t)MF_MODE_VELOCITY;
        cmd.v_out_ref = m.v_out_ref_rad_s;
        cmd.tau_ff_nm = m.tau_ff_nm;
        return mf_app_setpoint(a, &cmd, fd);
    }
    if (fn == MF_FN_POSITION) {
        struct myofoc_can_position_command_t m;
        float v_ff, tau_ff;
        (void)myofoc_can_position_command_unpack(&m, data, MYOFOC_CAN_POSITION_COMMAND_LENGTH);
        if (!mf_isfinitef(m.p_out_ref_rad)) {
            return mf_app_refuse_setpoint(a, MF_REJ_NON_FINITE, fd);
        }
        /* DBC factors 0.002 and 0.01 as correctly rounded divisions, so that
         * a range end the host sends (e.g. 30 rad/s = raw 15000) is exact */
        v_ff = (float)m.v_out_ff_rad_s / 500.0f;
        tau_ff = (float)m.tau_ff_nm / 100.0f;
        if (!mf_app_in(m.p_out_ref_rad, r->p_min_rad, r->p_max_rad) ||
            !mf_app_in(v_ff, r->v_min_rad_s, r->v_max_rad_s) || !mf_app_in(tau_ff, r->tau_min_nm, r->tau_max_nm)) {
            return mf_app_refuse_setpoint(a, MF_REJ_OUT_OF_RANGE, fd);
        }
        cmd.mode = (uint8_t)MF_MODE_POSITION;
        cmd.p_out_ref = m.p_out_ref_rad;
        cmd.v_out_ref = v_ff;
        cmd.tau_ff_nm = tau_ff;
        return mf_app_setpoint(a, &cmd, fd);
    }
    {
        /* MF_FN_MUSCLE: u = raw / 65535 is in [0, 1] by construction
         * (a correctly rounded division: 65535 gives exactly 1) */
        struct myofoc_can_muscle_command_t m;
        (void)myofoc_can_muscle_command_unpack(&m, data, MYOFOC_CAN_MUSCLE_COMMAND_LENGTH);
        cmd.mode = (uint8_t)MF_MODE_MUSCLE;
        cmd.u_flex = (float)m.u_flex / 65535.0f;
        cmd.u_ext = (float)m.u_ext / 65535.0f;
        return mf_app_setpoint(a, &cmd, fd);
    }
}

/* ---- receive: control and parameters --------------------------------- */

/* The injection's references stay within the node's limits: a current
 * injection within i_limit_a (|amp| + |offset| on its axis, hold on the
 * other), a rotating vector within the output speed limit
 * motion.v_max_rad_s. A voltage injection is limited to the voltage circle
 * by the controller and stopped by the overcurrent protection. */
static bool mf_app_inject_within_limits(const mf_app_t *a, const mf_inject_config_t *c)
{
    const mf_ctrl_config_t *k = &a->ctrl_cfg;
    bool current = c->kind == (uint8_t)MF_INJECT_I_DC || c->kind == (uint8_t)MF_INJECT_I_SINE ||
                   c->kind == (uint8_t)MF_INJECT_I_ROTATE;
    bool rotate = c->kind == (uint8_t)MF_INJECT_V_ROTATE || c->kind == (uint8_t)MF_INJECT_I_ROTATE;
    if (current) {
        float on_axis = fabsf(c->amp) + (rotate ? 0.0f : fabsf(c->offset));
        float other = rotate ? 0.0f : c->hold;
        if (!(on_axis * on_axis + other * other <= k->i_limit_a * k->i_limit_a)) {
            return false;
        }
    }
    if (rotate && !(fabsf(c->omega_e_cmd) <= (float)k->pole_pairs * k->gear_ratio * k->motion.v_max_rad_s)) {
        return false;
    }
    return true;
}

/* Control INJECT: mode MF_MODE_INJECT with a copy of inject_cfg. */
static int mf_app_start_inject(mf_app_t *a)
{
    mf_ctrl_cmd_t cmd;
    int rc;
    if (!mf_app_driving(a)) {
        return mf_app_reject(a, MF_REJ_WRONG_STATE);
    }
    if (mf_inject_config_problem(&a->inject_cfg, a->ctrl_cfg.pwm_period_s) != NULL ||
        !mf_app_inject_within_limits(a, &a->inject_cfg)) {
        return mf_app_reject(a, MF_REJ_OUT_OF_RANGE);
    }
    memset(&cmd, 0, sizeof cmd); /* every byte: the controller restarts on any change */
    cmd.mode = (uint8_t)MF_MODE_INJECT;
    cmd.inject = a->inject_cfg;
    rc = mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, &cmd);
    if (rc == MF_OK) {
        a->state = (uint8_t)MF_APP_RUNNING;
        a->armed_s = 0.0f;
        return MF_OK;
    }
    if (rc == MF_ERANGE) {
        return mf_app_reject(a, MF_REJ_OUT_OF_RANGE);
    }
    mf_app_sync_fault(a);
    return mf_app_reject(a, MF_REJ_WRONG_STATE);
}

static int mf_app_on_control(mf_app_t *a, const uint8_t *data, bool fd)
{
    struct myofoc_can_control_t m;
    int rc = MF_OK;
    bool applied = true;
    (void)myofoc_can_control_unpack(&m, data, MYOFOC_CAN_CONTROL_LENGTH);
    if (m.control_cmd > MYOFOC_CAN_CONTROL_CONTROL_CMD_INJECT_CHOICE) {
        rc = mf_app_reject(a, MF_REJ_OUT_OF_RANGE);
        applied = false;
    } else if (a->state == (uint8_t)MF_APP_BOOT) {
        rc = mf_app_reject(a, MF_REJ_WRONG_STATE);
        applied = false;
    } else if (m.control_cmd == MYOFOC_CAN_CONTROL_CONTROL_CMD_INJECT_CHOICE) {
        rc = mf_app_start_inject(a);
        applied = rc == MF_OK;
    } else if (m.control_cmd == MYOFOC_CAN_CONTROL_CONTROL_CMD_ENABLE_CHOICE) {
        if (a->state == (uint8_t)MF_APP_FAULT) {
            rc = mf_app_reject(a, MF_REJ_WRONG_STATE);
            applied = false;
        } else if (a->state == (uint8_t)MF_APP_IDLE) {
            a->state = (uint8_t)MF_APP_ARMED;
            a->armed_s = 0.0f;
        }
    } else {
        mf_ctrl_cmd_t idle;
        memset(&idle, 0, sizeof idle);
        idle.mode = (uint8_t)MF_MODE_IDLE;
        if (m.control_cmd == MYOFOC_CAN_CONTROL_CONTROL_CMD_DISABLE_CHOICE) {
            (void)mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, &idle);
            if (a->state != (uint8_t)MF_APP_FAULT) {
                a->state = (uint8_t)MF_APP_IDLE;
            }
        } else if (a->state == (uint8_t)MF_APP_FAULT) { /* CLEAR_FAULTS */
            (void)mf_ctrl_command(&a->ctrl, &a->ctrl_cfg, &idle); /* feeds the watchdog */
            if (mf_ctrl_clear_faults(&a->ctrl, &a->ctrl_cfg) == 0u) {
                a->state = (uint8_t)MF_APP_IDLE;
            }
        }
        mf_app_sync_fault(a);
    }
    if (applied) {
        a->control_seq = m.control_seq;
        a->cnt.rx_ok++;
    }
    mf_app_send_heartbeat(a, fd);
    return rc;
}

static int mf_app_on_param(mf_app_t *a, const uint8_t *data, bool fd)
{
    struct myofoc_can_param_request_t m;
    uint8_t node = a->par.node_id; /* reply from the id addressed, even if a write changes it */
    uint8_t st;
    (void)myofoc_can_param_request_unpack(&m, data, MYOFOC_CAN_PARAM_REQUEST_LENGTH);
    switch (m.param_op) {
    case MYOFOC_CAN_PARAM_REQUEST_PARAM_OP_READ_CHOICE: {
        float v;
        st = mf_app_param_read(a, m.param_index, &v);
        break;
    }
    case MYOFOC_CAN_PARAM_REQUEST_PARAM_OP_WRITE_CHOICE:
        st = mf_app_param_write(a, m.param_index, m.param_value);
        break;
    case MYOFOC_CAN_PARAM_REQUEST_PARAM_OP_SAVE_CHOICE:
        if (mf_app_driving(a) || a->save_pending) {
            st = (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_WRONG_STATE_CHOICE;
            break;
        }
        a->save_pending = true; /* answered by mf_app_save_done() */
        a->save_seq = m.param_seq;
        a->save_index = m.param_index;
        a->save_fd = fd;
        a->cnt.rx_ok++;
        return MF_OK;
    default:
        st = (uint8_t)MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_BAD_OP_CHOICE;
        break;
    }
    mf_app_send_param_reply(a, node, m.param_index, st, m.param_seq, fd);
    if (st == MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OK_CHOICE) {
        a->cnt.rx_ok++;
        return MF_OK;
    }
    if (st == MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_WRONG_STATE_CHOICE) {
        return mf_app_reject(a, MF_REJ_WRONG_STATE);
    }
    if (m.param_op == MYOFOC_CAN_PARAM_REQUEST_PARAM_OP_WRITE_CHOICE && !mf_isfinitef(m.param_value) &&
        st == MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_OUT_OF_RANGE_CHOICE) {
        return mf_app_reject(a, MF_REJ_NON_FINITE);
    }
    return mf_app_reject(a, MF_REJ_OUT_OF_RANGE);
}

/* ---- receive: dispatch ------------------------------------------------ */

static uint8_t mf_app_dbc_length(uint32_t fn)
{
    switch (fn) {
    case MF_FN_CONTROL:
        return MYOFOC_CAN_CONTROL_LENGTH;
    case MF_FN_IMPEDANCE:
        return MYOFOC_CAN_IMPEDANCE_COMMAND_LENGTH;
    case MF_FN_CURRENT:
        return MYOFOC_CAN_CURRENT_COMMAND_LENGTH;
    case MF_FN_VELOCITY:
        return MYOFOC_CAN_VELOCITY_COMMAND_LENGTH;
    case MF_FN_POSITION:
        return MYOFOC_CAN_POSITION_COMMAND_LENGTH;
    case MF_FN_MUSCLE:
        return MYOFOC_CAN_MUSCLE_COMMAND_LENGTH;
    case MF_FN_PARAM_REQUEST:
        return MYOFOC_CAN_PARAM_REQUEST_LENGTH;
    default:
        return 0u;
    }
}

static void mf_app_estop(mf_app_t *a, const uint8_t *data, uint8_t len)
{
    struct myofoc_can_emergency_stop_t m;
    m.estop_source = 0u; /* DLC 0 means the host */
    if (len >= MYOFOC_CAN_EMERGENCY_STOP_LENGTH) {
        (void)myofoc_can_emergency_stop_unpack(&m, data, len);
    }
    a->last_estop_source = m.estop_source;
    mf_ctrl_estop(&a->ctrl);
    mf_app_sync_fault(a);
}

int mf_app_on_frame(mf_app_t *a, uint32_t can_id, const uint8_t *data, uint8_t len, bool fd)
{
    uint32_t fn, node;
    if (a == NULL || (data == NULL && len > 0u)) {
        return MF_ENULL;
    }
    fn = (can_id >> MF_NODE_BITS) & 0x0Fu;
    node = can_id & MF_NODE_MASK;
    if (!a->init_ok) { /* no valid node id: only a broadcast stop */
        if (can_id == MYOFOC_CAN_EMERGENCY_STOP_FRAME_ID) {
            mf_app_estop(a, data, len);
            return MF_OK;
        }
        return MF_ESTATE;
    }
    if (can_id > 0x7FFu) {
        return mf_app_reject(a, MF_REJ_UNKNOWN_ID);
    }
    if (fn == MF_FN_ESTOP) { /* any length: stopping beats validating */
        if (node != 0u && node != a->par.node_id) {
            a->cnt.rx_ignored++;
            return MF_APP_IGNORED;
        }
        mf_app_estop(a, data, len);
        a->cnt.rx_ok++;
        return MF_OK;
    }
    if (fn == MF_FN_GROUP_COMMAND) {
        struct myofoc_can_impedance_command_t m;
        if (a->par.group_id == 0u || node != a->par.group_id) {
            a->cnt.rx_ignored++;
            return MF_APP_IGNORED;
        }
        if (len != MYOFOC_CAN_GROUP_COMMAND_LENGTH || !fd) {
            return mf_app_reject(a, MF_REJ_BAD_LENGTH);
        }
        /* slot k is bytes 8k..8k+7, exactly an ImpedanceCommand */
        (void)myofoc_can_impedance_command_unpack(&m, data + 8u * a->par.group_slot,
                                                  MYOFOC_CAN_IMPEDANCE_COMMAND_LENGTH);
        return mf_app_impedance(a, &m, fd);
    }
    if (fn == MF_FN_GROUP_STATE || fn >= 14u || (node != 0u && node != a->par.node_id)) {
        a->cnt.rx_ignored++; /* hub traffic, UDS (ISO-TP layer), other nodes */
        return MF_APP_IGNORED;
    }
    if (fn == MF_FN_STATE_REPLY || fn == MF_FN_PARAM_REPLY || fn == MF_FN_STATUS || fn == MF_FN_HEARTBEAT) {
        return mf_app_reject(a, MF_REJ_UNKNOWN_ID); /* what this node sends, not receives */
    }
    if (len != mf_app_dbc_length(fn)) {
        return mf_app_reject(a, MF_REJ_BAD_LENGTH);
    }
    if (fn == MF_FN_CONTROL) {
        return mf_app_on_control(a, data, fd);
    }
    if (fn == MF_FN_PARAM_REQUEST) {
        return mf_app_on_param(a, data, fd);
    }
    return mf_app_on_setpoint(a, fn, data, fd);
}

/* ---- periodic ---------------------------------------------------------- */

void mf_app_tick(mf_app_t *a, float dt_s)
{
    float dt, ms, period;
    uint32_t whole;
    if (a == NULL) {
        return;
    }
    dt = (mf_isfinitef(dt_s) && dt_s > 0.0f) ? mf_minf(dt_s, 10.0f) : 0.0f;
    ms = a->uptime_frac_ms + dt * 1000.0f;
    whole = (uint32_t)ms;
    a->uptime_ms += whole;
    a->uptime_frac_ms = ms - (float)whole;
    if (!a->init_ok) {
        return;
    }
    if (a->state == (uint8_t)MF_APP_BOOT) {
        mf_app_send_heartbeat(a, false); /* the boot announcement */
        mf_app_send_status(a);
        a->state = (uint8_t)((a->ctrl.prot.faults != 0u) ? MF_APP_FAULT : MF_APP_IDLE);
        a->heartbeat_s = 0.0f;
        return;
    }
    mf_app_sync_fault(a);
    period = a->par.heartbeat_period_s;
    a->heartbeat_s += dt;
    if (a->heartbeat_s >= period) {
        a->heartbeat_s -= period;
        if (a->heartbeat_s >= period) {
            a->heartbeat_s = 0.0f; /* a stalled loop: no burst of catch-up frames */
        }
        mf_app_send_heartbeat(a, false);
        mf_app_send_status(a);
    }
}

uint32_t mf_app_isr(mf_app_t *a, const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out)
{
    uint32_t faults;
    if (a == NULL || in == NULL || out == NULL) {
        if (out != NULL) {
            memset(out, 0, sizeof *out);
        }
        return MF_FAULT_ALL;
    }
    faults = mf_ctrl_step(&a->ctrl, &a->ctrl_cfg, in, out);
    if (a->state == (uint8_t)MF_APP_ARMED && faults == 0u) {
        a->armed_s += a->ctrl_cfg.pwm_period_s;
        if (a->armed_s >= a->ctrl_cfg.protect.cmd_timeout_s) {
            mf_protect_trip(&a->ctrl.prot, MF_FAULT_CMD_TIMEOUT);
            faults = a->ctrl.prot.faults;
        }
    }
    mf_app_sync_fault(a);
    return faults;
}
