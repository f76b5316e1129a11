/* test_app.c - the actuator application: state machine, CAN dispatch,
 * rejections, watchdog, parameters and their page image. Frames are built
 * with the generated codec's pack functions and read back with its unpack. */
#include <stdint.h>
#include <string.h>

#include "app_fixture.h"
#include "mf_app.h"
#include "mf_err.h"
#include "mf_test.h"
#include "myofoc_can.h"

#define NODE 5u
#define PWM_S 25e-6f

static mf_app_config_t make_cfg(void) { return app_fixture_config(NODE); }

static mf_ctrl_sense_t sense(void)
{
    mf_ctrl_sense_t s;
    s.adc_i[0] = s.adc_i[1] = s.adc_i[2] = 32768u;
    s.adc_vbus = 4800u; /* 48 V */
    s.enc_count = 1000u;
    s.temp_motor_c = 25.0f;
    s.temp_fet_c = 30.0f;
    return s;
}

/* n PWM periods; returns how many had the bridge enabled */
static int run(mf_app_t *a, int n)
{
    mf_ctrl_sense_t s = sense();
    mf_ctrl_pwm_t o;
    int k, on = 0;
    for (k = 0; k < n; k++) {
        (void)mf_app_isr(a, &s, &o);
        on += o.pwm_enable ? 1 : 0;
    }
    return on;
}

static void drain(mf_app_t *a)
{
    mf_app_frame_t f;
    while (mf_app_tx_pop(a, &f)) {
    }
}

static int count_queued(mf_app_t *a, uint32_t id, mf_app_frame_t *last)
{
    mf_app_frame_t f;
    int n = 0;
    while (mf_app_tx_pop(a, &f)) {
        if (f.id == id) {
            n++;
            if (last != NULL) {
                *last = f;
            }
        }
    }
    return n;
}

static uint32_t id_of(uint32_t frame_id, uint32_t node) { return (frame_id & 0x780u) | node; }

static int control(mf_app_t *a, uint32_t node, uint8_t cmd, uint8_t seq)
{
    struct myofoc_can_control_t m;
    uint8_t b[2];
    m.control_cmd = cmd;
    m.control_seq = seq;
    (void)myofoc_can_control_pack(b, &m, sizeof b);
    return mf_app_on_frame(a, id_of(MYOFOC_CAN_CONTROL_FRAME_ID, node), b, 2u, false);
}

static int current_cmd(mf_app_t *a, uint32_t node, float i_d, float i_q)
{
    struct myofoc_can_current_command_t m;
    uint8_t b[8];
    m.i_d_ref_a = i_d;
    m.i_q_ref_a = i_q;
    (void)myofoc_can_current_command_pack(b, &m, sizeof b);
    return mf_app_on_frame(a, id_of(MYOFOC_CAN_CURRENT_COMMAND_FRAME_ID, node), b, 8u, false);
}

static int velocity_cmd(mf_app_t *a, float v, float tau)
{
    struct myofoc_can_velocity_command_t m;
    uint8_t b[8];
    m.v_out_ref_rad_s = v;
    m.tau_ff_nm = tau;
    (void)myofoc_can_velocity_command_pack(b, &m, sizeof b);
    return mf_app_on_frame(a, id_of(MYOFOC_CAN_VELOCITY_COMMAND_FRAME_ID, NODE), b, 8u, false);
}

static int impedance_cmd(mf_app_t *a, uint16_t p, uint16_t v, uint16_t kp, uint16_t kd, uint16_t t)
{
    struct myofoc_can_impedance_command_t m;
    uint8_t b[8];
    m.p_des_raw = p;
    m.v_des_raw = v;
    m.kp_raw = kp;
    m.kd_raw = kd;
    m.tau_ff_raw = t;
    (void)myofoc_can_impedance_command_pack(b, &m, sizeof b);
    return mf_app_on_frame(a, id_of(MYOFOC_CAN_IMPEDANCE_COMMAND_FRAME_ID, NODE), b, 8u, false);
}

static uint8_t param(mf_app_t *a, uint8_t op, uint16_t index, float value, float *out)
{
    struct myofoc_can_param_request_t m;
    struct myofoc_can_param_reply_t r;
    mf_app_frame_t f;
    uint8_t b[8];
    m.param_index = index;
    m.param_op = op;
    m.param_seq = 77u;
    m.param_value = value;
    (void)myofoc_can_param_request_pack(b, &m, sizeof b);
    drain(a);
    (void)mf_app_on_frame(a, id_of(MYOFOC_CAN_PARAM_REQUEST_FRAME_ID, NODE), b, 8u, false);
    if (count_queued(a, id_of(MYOFOC_CAN_PARAM_REPLY_FRAME_ID, NODE), &f) != 1) {
        return 255u;
    }
    (void)myofoc_can_param_reply_unpack(&r, f.data, f.len);
    MF_CHECK(r.param_seq == 77u && r.param_index == index);
    if (out != NULL) {
        *out = r.param_value;
    }
    return r.param_status;
}

static void boot(mf_app_t *a)
{
    mf_app_config_t c = make_cfg();
    MF_CHECK(mf_app_init(a, &c) == MF_OK);
    (void)run(a, 10);
    mf_app_tick(a, 0.001f);
    drain(a);
}

static void test_boot_and_heartbeat(void)
{
    static mf_app_t a;
    mf_app_config_t c = make_cfg();
    struct myofoc_can_heartbeat_t h;
    mf_app_frame_t f;
    int k, n;
    MF_CHECK(mf_app_init(&a, &c) == MF_OK);
    MF_CHECK(a.state == MF_APP_BOOT);
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_ESTATE); /* no ENABLE while booting */
    drain(&a);
    mf_app_tick(&a, 0.0f);
    MF_CHECK(a.state == MF_APP_IDLE);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_HEARTBEAT_FRAME_ID, NODE), &f) == 1);
    (void)myofoc_can_heartbeat_unpack(&h, f.data, f.len);
    MF_CHECK(h.node_state == MF_APP_BOOT && h.protocol_version == 1u && h.rx_reject_count == 1u);
    /* 1 s of 1 ms ticks: 10 heartbeats, uptime 1000 ms */
    n = 0;
    for (k = 0; k < 1000; k++) {
        mf_app_tick(&a, 0.001f);
        n += count_queued(&a, id_of(MYOFOC_CAN_HEARTBEAT_FRAME_ID, NODE), &f);
    }
    MF_CHECK(n == 10);
    MF_CHECK(a.uptime_ms == 1000u);
    (void)myofoc_can_heartbeat_unpack(&h, f.data, f.len);
    MF_CHECK(h.node_state == MF_APP_IDLE);
    MF_CHECK(h.uptime_ms == 1000u);
    /* bad dt counts as 0 */
    mf_app_tick(&a, -1.0f);
    mf_app_tick(&a, (float)(1.0 / 0.0));
    MF_CHECK(a.uptime_ms == 1000u);
}

static void test_enable_and_modes(void)
{
    static mf_app_t a;
    mf_app_frame_t f;
    struct myofoc_can_heartbeat_t h;
    struct myofoc_can_state_reply_t r;
    boot(&a);
    MF_CHECK(control(&a, NODE, 1u, 42u) == MF_OK);
    MF_CHECK(a.state == MF_APP_ARMED);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_HEARTBEAT_FRAME_ID, NODE), &f) == 1);
    (void)myofoc_can_heartbeat_unpack(&h, f.data, f.len);
    MF_CHECK(h.control_seq == 42u && h.node_state == MF_APP_ARMED);
    MF_CHECK(run(&a, 100) == 0); /* armed, no setpoint: no drive */
    /* impedance: the middle codes; one command, one reply */
    MF_CHECK(impedance_cmd(&a, 32768u, 2048u, 100u, 100u, 2048u) == MF_OK);
    MF_CHECK(a.state == MF_APP_RUNNING);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_STATE_REPLY_FRAME_ID, NODE), &f) == 1);
    (void)myofoc_can_state_reply_unpack(&r, f.data, f.len);
    MF_CHECK(r.mode == MF_MODE_IMPEDANCE && r.fault_bits == 0u);
    MF_CHECK(r.temp_c == 30u + 40u); /* the hotter of 25 and 30 degC */
    /* MIT uint_to_float of the raw fields */
    MF_CHECK_NEAR(a.ctrl.cmd.imp.p_des, 32768.0 / 65535.0 * 25.0 - 12.5, 1e-5);
    MF_CHECK_NEAR(a.ctrl.cmd.imp.kp, 100.0 / 4095.0 * 500.0, 1e-4);
    MF_CHECK(run(&a, 40) == 40);
    /* mode switches straight through mf_ctrl_command */
    MF_CHECK(velocity_cmd(&a, 1.0f, 0.5f) == MF_OK);
    MF_CHECK(a.ctrl.cmd.mode == MF_MODE_VELOCITY);
    /* the range ends (65 rad/s, -18 N m, 12.5 rad) in the int16 scaled fields are accepted exactly */
    {
        struct myofoc_can_position_command_t m;
        uint8_t b[8];
        m.p_out_ref_rad = 12.5f;
        m.v_out_ff_rad_s = 32500;
        m.tau_ff_nm = -1800;
        (void)myofoc_can_position_command_pack(b, &m, sizeof b);
        MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_POSITION_COMMAND_FRAME_ID, NODE), b, 8u, false) == MF_OK);
        MF_CHECK(a.ctrl.cmd.mode == MF_MODE_POSITION);
        MF_CHECK(a.ctrl.cmd.v_out_ref == 65.0f && a.ctrl.cmd.tau_ff_nm == -18.0f);
        m.v_out_ff_rad_s = 32501;
        (void)myofoc_can_position_command_pack(b, &m, sizeof b);
        MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_POSITION_COMMAND_FRAME_ID, NODE), b, 8u, false) == MF_ERANGE);
        a.cnt.rx_reject = 0u; /* this one was meant */
        a.cnt.rx_out_of_range = 0u;
    }
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 2.0f) == MF_OK);
    MF_CHECK(a.ctrl.cmd.mode == MF_MODE_CURRENT);
    MF_CHECK(run(&a, 8) == 8);
    /* DISABLE: idle, output off */
    MF_CHECK(control(&a, NODE, 0u, 43u) == MF_OK);
    MF_CHECK(a.state == MF_APP_IDLE && a.ctrl.cmd.mode == MF_MODE_IDLE);
    MF_CHECK(run(&a, 10) == 0);
    MF_CHECK(a.cnt.rx_reject == 0u);
}

static void test_rejections(void)
{
    static mf_app_t a;
    mf_app_frame_t f;
    struct myofoc_can_state_reply_t r;
    uint8_t junk[64];
    uint32_t before;
    memset(junk, 0xA5, sizeof junk);
    boot(&a);
    /* setpoint while IDLE: refused, answered with the unchanged state */
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0f) == MF_ESTATE);
    MF_CHECK(a.cnt.rx_wrong_state == 1u);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_STATE_REPLY_FRAME_ID, NODE), &f) == 1);
    (void)myofoc_can_state_reply_unpack(&r, f.data, f.len);
    MF_CHECK(r.mode == MF_MODE_IDLE);
    MF_CHECK(run(&a, 10) == 0);
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0f) == MF_OK);
    drain(&a);
    before = a.cnt.rx_ok;
    /* non-finite, out of range, wrong length, unknown id, bad control */
    MF_CHECK(current_cmd(&a, NODE, (float)(0.0 / 0.0), 1.0f) == MF_ERANGE);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0e30f) == MF_ERANGE);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 31.0f) == MF_ERANGE); /* i_limit_a 30 A */
    MF_CHECK(velocity_cmd(&a, 70.0f, 0.0f) == MF_ERANGE);      /* v_max 65 rad/s */
    MF_CHECK(velocity_cmd(&a, 1.0f, (float)(1.0 / 0.0)) == MF_ERANGE);
    MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_CURRENT_COMMAND_FRAME_ID, NODE), junk, 7u, false) == MF_EINVAL);
    MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_CURRENT_COMMAND_FRAME_ID, NODE), junk, 64u, true) == MF_EINVAL);
    MF_CHECK(mf_app_on_frame(&a, 0x800u, junk, 8u, false) == MF_EINVAL);
    MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_STATE_REPLY_FRAME_ID, NODE), junk, 8u, false) == MF_EINVAL);
    MF_CHECK(control(&a, NODE, 7u, 9u) == MF_ERANGE);
    MF_CHECK(a.cnt.rx_non_finite == 2u);
    MF_CHECK(a.cnt.rx_out_of_range == 4u);
    MF_CHECK(a.cnt.rx_bad_length == 2u);
    MF_CHECK(a.cnt.rx_unknown_id == 2u);
    MF_CHECK(a.cnt.rx_reject == 11u); /* with the wrong-state one */
    MF_CHECK(a.cnt.rx_ok == before);
    /* nothing moved: still the 1 A current command */
    MF_CHECK(a.ctrl.cmd.mode == MF_MODE_CURRENT);
    MF_CHECK_NEAR(a.ctrl.cmd.i_q_ref, 1.0, 0.0);
    /* a bad control is answered by a heartbeat without its seq */
    drain(&a);
    MF_CHECK(control(&a, NODE, 9u, 99u) == MF_ERANGE);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_HEARTBEAT_FRAME_ID, NODE), &f) == 1);
    {
        struct myofoc_can_heartbeat_t h;
        (void)myofoc_can_heartbeat_unpack(&h, f.data, f.len);
        MF_CHECK(h.control_seq == 1u && h.rx_reject_count == 12u);
    }
    /* other nodes and groups: ignored, not rejections */
    before = a.cnt.rx_reject;
    MF_CHECK(current_cmd(&a, NODE + 1u, 0.0f, 5.0f) == MF_APP_IGNORED);
    MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_CURRENT_COMMAND_FRAME_ID, NODE + 1u), junk, 3u, false) ==
             MF_APP_IGNORED);
    MF_CHECK(mf_app_on_frame(&a, 0x081u, junk, 64u, true) == MF_APP_IGNORED); /* not in a group */
    MF_CHECK(mf_app_on_frame(&a, 0x100u | NODE, junk, 64u, true) == MF_APP_IGNORED);
    MF_CHECK(mf_app_on_frame(&a, 0x700u | NODE, junk, 8u, false) == MF_APP_IGNORED);
    MF_CHECK(a.cnt.rx_reject == before && a.cnt.rx_ignored == 5u);
    MF_CHECK_NEAR(a.ctrl.cmd.i_q_ref, 1.0, 0.0);
    /* broadcast setpoint obeyed */
    MF_CHECK(current_cmd(&a, 0u, 0.0f, 3.0f) == MF_OK);
    MF_CHECK_NEAR(a.ctrl.cmd.i_q_ref, 3.0, 0.0);
    MF_CHECK(mf_app_on_frame(&a, 0x285u, NULL, 8u, false) == MF_ENULL);
}

static void test_estop_and_clear(void)
{
    static mf_app_t a;
    uint8_t src = 3u;
    boot(&a);
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0f) == MF_OK);
    MF_CHECK(run(&a, 4) == 4);
    /* an emergency stop of any length, even malformed */
    MF_CHECK(mf_app_on_frame(&a, 0x000u, &src, 1u, false) == MF_OK);
    MF_CHECK(a.state == MF_APP_FAULT && a.last_estop_source == 3u);
    MF_CHECK((a.ctrl.prot.faults & MF_FAULT_ESTOP) != 0u);
    MF_CHECK(run(&a, 10) == 0);
    MF_CHECK(control(&a, NODE, 1u, 2u) == MF_ESTATE); /* ENABLE refused in FAULT */
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0f) == MF_ESTATE);
    MF_CHECK(control(&a, NODE, 2u, 3u) == MF_OK); /* CLEAR_FAULTS */
    MF_CHECK(a.state == MF_APP_IDLE && a.ctrl.prot.faults == 0u);
    MF_CHECK(run(&a, 10) == 0); /* clearing never restarts motion */
    /* DLC 0 and DLC 64 stop too; a stop for another node does not */
    MF_CHECK(mf_app_on_frame(&a, 0x000u | (NODE + 1u), NULL, 0u, false) == MF_APP_IGNORED);
    MF_CHECK(a.state == MF_APP_IDLE);
    MF_CHECK(mf_app_on_frame(&a, 0x000u | NODE, NULL, 0u, false) == MF_OK);
    MF_CHECK(a.state == MF_APP_FAULT && a.last_estop_source == 0u);
}

static void test_watchdog(void)
{
    static mf_app_t a;
    int n_timeout = (int)(0.1f / PWM_S); /* cmd_timeout_s 0.1 */
    boot(&a);
    /* RUNNING: mf_ctrl's watchdog (0 A: with no plant behind the ADC a
     * current would wind the PI up and trip the encoder-stuck check) */
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 0.0f) == MF_OK);
    MF_CHECK(run(&a, n_timeout - 10) == n_timeout - 10);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 0.0f) == MF_OK); /* fed */
    MF_CHECK(run(&a, n_timeout - 10) == n_timeout - 10);
    /* a stream of refused commands does not feed it */
    {
        int k;
        for (k = 0; k < 20; k++) {
            (void)current_cmd(&a, NODE, (float)(0.0 / 0.0), 1.0f);
            (void)run(&a, 1);
        }
    }
    MF_CHECK(a.state == MF_APP_FAULT);
    MF_CHECK((a.ctrl.prot.faults & MF_FAULT_CMD_TIMEOUT) != 0u);
    MF_CHECK(control(&a, NODE, 2u, 2u) == MF_OK);
    MF_CHECK(a.state == MF_APP_IDLE);
    /* ARMED without a setpoint: the app's watchdog */
    MF_CHECK(control(&a, NODE, 1u, 3u) == MF_OK);
    (void)run(&a, n_timeout - 10);
    MF_CHECK(a.state == MF_APP_ARMED);
    (void)run(&a, 20);
    MF_CHECK(a.state == MF_APP_FAULT && a.ctrl.prot.faults == MF_FAULT_CMD_TIMEOUT);
    MF_CHECK(control(&a, NODE, 2u, 4u) == MF_OK);
    MF_CHECK(a.state == MF_APP_IDLE);
}

static void test_params(void)
{
    static mf_app_t a, b;
    static uint8_t page[MF_PARAMS_PAGE_MAX + 16];
    float v = 0.0f;
    int n;
    boot(&a);
    MF_CHECK(param(&a, 0u, 34u, 0.0f, &v) == 0u);
    MF_CHECK_NEAR(v, 0.377, 1e-7);
    MF_CHECK(param(&a, 0u, 0u, 0.0f, &v) == 0u && v == 1.0f); /* protocol version */
    MF_CHECK(param(&a, 0u, 999u, 0.0f, &v) == 1u && v != v);  /* unknown: NaN */
    MF_CHECK(param(&a, 1u, 0u, 5.0f, NULL) == 2u);             /* read-only */
    MF_CHECK(param(&a, 1u, 34u, 0.5f, &v) == 0u && v == 0.5f);
    MF_CHECK(a.ctrl_cfg.current.pi_q.kp == 0.5f);
    MF_CHECK(param(&a, 1u, 34u, -1.0f, &v) == 3u && v == 0.5f);
    MF_CHECK(param(&a, 1u, 34u, (float)(0.0 / 0.0), &v) == 3u && v == 0.5f);
    MF_CHECK(param(&a, 1u, 16u, 3.5f, NULL) == 3u);  /* node id must be whole */
    MF_CHECK(param(&a, 1u, 81u, 0.0f, NULL) == 3u);  /* direction 0: config refused, rolled back */
    MF_CHECK(a.ctrl_cfg.estimator.direction == 1);
    MF_CHECK(param(&a, 1u, 64u, 45.0f, NULL) == 3u); /* i_limit_a > protect.i_max_a 40 */
    MF_CHECK(a.ctrl_cfg.i_limit_a == 30.0f);
    MF_CHECK(param(&a, 1u, 113u, -13.0f, NULL) == 3u); /* p_max below p_min */
    MF_CHECK(param(&a, 7u, 34u, 0.0f, NULL) == 6u);    /* bad op */
    MF_CHECK(a.cnt.rx_reject == 9u && a.cnt.rx_non_finite == 1u && a.cnt.rx_out_of_range == 8u);
    /* idle-only while running: refused; a live gain: accepted */
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    MF_CHECK(current_cmd(&a, NODE, 0.0f, 1.0f) == MF_OK);
    MF_CHECK(param(&a, 1u, 83u, 6.0f, NULL) == 4u);
    MF_CHECK(param(&a, 2u, 0u, 0.0f, NULL) == 4u); /* no SAVE while running */
    MF_CHECK(param(&a, 1u, 35u, 800.0f, NULL) == 0u);
    MF_CHECK(a.state == MF_APP_RUNNING);
    MF_CHECK(control(&a, NODE, 0u, 2u) == MF_OK);
    MF_CHECK(param(&a, 1u, 83u, 6.0f, NULL) == 0u);
    MF_CHECK(a.ctrl.inv_gear == 1.0f / 6.0f); /* re-derived by the re-init */
    MF_CHECK(param(&a, 1u, 112u, -3.0f, NULL) == 0u);
    MF_CHECK(param(&a, 1u, 113u, 3.0f, NULL) == 0u);
    /* SAVE: answered once the HAL stored the page */
    {
        struct myofoc_can_param_request_t m;
        uint8_t buf[8];
        mf_app_frame_t f;
        m.param_index = 0u;
        m.param_op = 2u;
        m.param_seq = 5u;
        m.param_value = 0.0f;
        (void)myofoc_can_param_request_pack(buf, &m, sizeof buf);
        drain(&a);
        MF_CHECK(mf_app_on_frame(&a, id_of(MYOFOC_CAN_PARAM_REQUEST_FRAME_ID, NODE), buf, 8u, false) == MF_OK);
        MF_CHECK(mf_app_save_requested(&a) && !mf_app_tx_pop(&a, &f));
        n = mf_app_params_save(&a, page, sizeof page);
        MF_CHECK(n > 0 && (size_t)n <= MF_PARAMS_PAGE_MAX);
        mf_app_save_done(&a, MF_OK);
        MF_CHECK(!mf_app_save_requested(&a));
        MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_PARAM_REPLY_FRAME_ID, NODE), &f) == 1);
        MF_CHECK(f.data[2] == 0u && f.data[3] == 5u);
    }
    /* a fresh node loads it */
    boot(&b);
    MF_CHECK(mf_app_params_load(&b, page, (size_t)n) == MF_OK);
    MF_CHECK(b.ctrl_cfg.current.pi_q.kp == 0.5f && b.ctrl_cfg.current.pi_q.ki == 800.0f);
    MF_CHECK(b.ctrl_cfg.gear_ratio == 6.0f && b.par.ranges.p_max_rad == 3.0f);
    MF_CHECK(b.ctrl.inv_gear == 1.0f / 6.0f);
    MF_CHECK_NEAR(b.p_to_raw, 65535.0 / 6.0, 1e-2);
    /* CRC-32 of the standard check string */
    MF_CHECK(mf_params_crc32((const uint8_t *)"123456789", 9u) == 0xCBF43926u);
}

static void test_bad_pages(void)
{
    static mf_app_t a, ref;
    static uint8_t page[MF_PARAMS_PAGE_MAX], bad[MF_PARAMS_PAGE_MAX];
    int n, k;
    boot(&ref);
    MF_CHECK(param(&ref, 1u, 34u, 0.9f, NULL) == 0u);
    n = mf_app_params_save(&ref, page, sizeof page);
    MF_CHECK(n > 0);
    MF_CHECK(mf_app_params_save(&ref, page, 10u) == MF_ERANGE);
    boot(&a);
    /* every single flipped byte is refused and changes nothing */
    for (k = 0; k < n; k++) {
        memcpy(bad, page, (size_t)n);
        bad[k] ^= 0x10u;
        MF_CHECK(mf_app_params_load(&a, bad, (size_t)n) != MF_OK);
    }
    /* truncated */
    for (k = 0; k < n; k += 7) {
        MF_CHECK(mf_app_params_load(&a, page, (size_t)k) == MF_EINVAL);
    }
    MF_CHECK(a.ctrl_cfg.current.pi_q.kp == 0.377f);
    /* wrong version with a correct CRC */
    memcpy(bad, page, (size_t)n);
    bad[4] = 2u;
    {
        uint32_t crc = mf_params_crc32(bad, (size_t)n - 4u);
        bad[n - 4] = (uint8_t)crc;
        bad[n - 3] = (uint8_t)(crc >> 8);
        bad[n - 2] = (uint8_t)(crc >> 16);
        bad[n - 1] = (uint8_t)(crc >> 24);
    }
    MF_CHECK(mf_app_params_load(&a, bad, (size_t)n) == MF_EINVAL);
    MF_CHECK(a.ctrl_cfg.current.pi_q.kp == 0.377f);
    /* refused while running */
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    MF_CHECK(mf_app_params_load(&a, page, (size_t)n) == MF_ESTATE);
    MF_CHECK(control(&a, NODE, 0u, 2u) == MF_OK);
    MF_CHECK(mf_app_params_load(&a, page, (size_t)n) == MF_OK);
    MF_CHECK(a.ctrl_cfg.current.pi_q.kp == 0.9f);
}

static void test_group_and_queue(void)
{
    static mf_app_t a;
    mf_app_config_t c = make_cfg();
    uint8_t g[64];
    mf_app_frame_t f;
    int k;
    c.app.group_id = 3u;
    c.app.group_slot = 6u;
    MF_CHECK(mf_app_init(&a, &c) == MF_OK);
    mf_app_tick(&a, 0.0f);
    MF_CHECK(control(&a, NODE, 1u, 1u) == MF_OK);
    drain(&a);
    memset(g, 0, sizeof g);
    /* slot 6: p_des raw 65535 (p_max), the others zero */
    g[48] = 0xFFu;
    g[49] = 0xFFu;
    MF_CHECK(mf_app_on_frame(&a, 0x083u, g, 64u, false) == MF_EINVAL); /* group frames are FD */
    MF_CHECK(mf_app_on_frame(&a, 0x083u, g, 8u, true) == MF_EINVAL);
    MF_CHECK(mf_app_on_frame(&a, 0x084u, g, 64u, true) == MF_APP_IGNORED);
    MF_CHECK(mf_app_on_frame(&a, 0x083u, g, 64u, true) == MF_OK);
    MF_CHECK(a.ctrl.cmd.mode == MF_MODE_IMPEDANCE && a.ctrl.cmd.imp.p_des == 12.5f);
    MF_CHECK(a.ctrl.cmd.imp.kp == 0.0f && a.ctrl.cmd.imp.v_des == -65.0f);
    MF_CHECK(count_queued(&a, id_of(MYOFOC_CAN_STATE_REPLY_FRAME_ID, NODE), &f) == 1);
    MF_CHECK(f.fd && f.len == 8u);
    /* a flood: the queue never blocks, the overflow is counted */
    for (k = 0; k < 1000; k++) {
        (void)current_cmd(&a, NODE, 0.0f, 1.0f);
    }
    MF_CHECK(a.tx_count == MF_APP_TX_LEN);
    MF_CHECK(a.cnt.tx_overflow == 1000u - MF_APP_TX_LEN);
    MF_CHECK(a.cnt.rx_ok == 1002u);
}

static void test_bad_config(void)
{
    static mf_app_t a;
    mf_app_config_t c = make_cfg();
    c.app.node_id = 0u;
    MF_CHECK(mf_app_init(&a, &c) == MF_EINVAL);
    MF_CHECK(!a.init_ok);
    MF_CHECK(current_cmd(&a, 0u, 0.0f, 1.0f) == MF_ESTATE);
    MF_CHECK(run(&a, 10) == 0);
    /* a refused controller config: FAULT (CONFIG); a fixing write clears it */
    c = make_cfg();
    c.ctrl.gear_ratio = 0.5f;
    MF_CHECK(mf_app_init(&a, &c) == MF_EINVAL);
    mf_app_tick(&a, 0.0f);
    MF_CHECK(a.state == MF_APP_FAULT && a.ctrl.prot.faults == MF_FAULT_CONFIG);
    MF_CHECK(control(&a, NODE, 2u, 1u) == MF_OK);
    MF_CHECK(a.state == MF_APP_FAULT);
    MF_CHECK(param(&a, 1u, 83u, 9.0f, NULL) == 0u);
    MF_CHECK(a.state == MF_APP_IDLE && a.ctrl.config_ok);
    MF_CHECK(mf_app_init(NULL, &c) == MF_ENULL);
}

int main(void)
{
    test_boot_and_heartbeat();
    test_enable_and_modes();
    test_rejections();
    test_estop_and_clear();
    test_watchdog();
    test_params();
    test_bad_pages();
    test_group_and_queue();
    test_bad_config();
    return mf_test_report("test_app");
}
