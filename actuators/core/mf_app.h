/* mf_app.h - the actuator application: CAN protocol <-> state machine <-> mf_ctrl.
 *
 * One mf_app_t is one actuator node. It embeds its controller (mf_ctrl_t),
 * the controller's config and the application parameters (no pointers, no
 * globals, no malloc), a transmit queue and the receive counters. The HAL
 * (firmware) or the simulator calls:
 *   mf_app_on_frame()  for every received CAN frame (any ID),
 *   mf_app_isr()       in every PWM period (it runs mf_ctrl_step),
 *   mf_app_tick()      from the main loop (heartbeat, status, uptime),
 *   mf_app_tx_pop()    to drain the frames to send.
 * Concurrency: the functions do not lock. On a microcontroller call
 * on_frame/tick/tx_pop/params_* with the PWM interrupt masked (they are
 * short) or from the PWM interrupt's own priority level.
 *
 * State machine (Heartbeat.node_state, the DBC's values):
 *   BOOT    after mf_app_init; the first mf_app_tick sends a Heartbeat
 *           showing BOOT (the "I restarted" announcement) and moves to IDLE,
 *           or to FAULT when a fault is latched (e.g. the config was refused).
 *   IDLE    motor off (MF_MODE_IDLE), watchdog off.
 *   ARMED   after Control ENABLE; the next setpoint selects the mode. The
 *           watchdog runs: no setpoint within protect.cmd_timeout_s (counted
 *           in mf_app_isr, pwm_period_s per call) trips MF_FAULT_CMD_TIMEOUT.
 *   RUNNING after an accepted setpoint; mf_ctrl's own command watchdog runs.
 *   FAULT   any latched fault bit (seen by mf_app_isr after every step, or
 *           an emergency stop). The controller drops to MF_MODE_IDLE itself.
 * Transitions by Control (answered by an immediate Heartbeat; control_seq in
 * it is the seq of the last Control *applied*, so a refused one is visible):
 *   ENABLE        IDLE -> ARMED; ARMED/RUNNING unchanged; refused in BOOT and FAULT.
 *   DISABLE       ARMED/RUNNING/IDLE -> IDLE (mf_ctrl_command IDLE); in FAULT
 *                 the mode is set IDLE and the state stays FAULT; refused in BOOT.
 *   CLEAR_FAULTS  in FAULT: mf_ctrl_command IDLE (the host is alive: this
 *                 feeds the watchdog, so a command timeout can clear), then
 *                 mf_ctrl_clear_faults; -> IDLE when none remain. Never
 *                 restarts motion. A no-op in IDLE/ARMED/RUNNING; refused in BOOT.
 *   other control_cmd values: refused (out of range).
 * Mode switches go straight from one mode to the next through
 * mf_ctrl_command, which is bumpless (the velocity/position integrator
 * starts from the torque being produced): no pass through IDLE.
 *
 * Receive (mf_app_on_frame). IDs are function << 7 | node (docs/protocol.md).
 *   - Frames for another node, group frames of another group, GroupState,
 *     and UDS (functions 14, 15: the ISO-TP layer's) are ignored silently:
 *     MF_APP_IGNORED, counted in rx_ignored, not a rejection.
 *   - Node 0 (broadcast) commands are obeyed by every node.
 *   - EmergencyStop (function 0, node 0 or this node), any length, even a
 *     malformed one: mf_ctrl_estop, state FAULT. No reply.
 *   - Rejections, each counted by reason (mf_app_counters_t) and in
 *     Heartbeat.rx_reject_count (their total, wrapping at 16 bits):
 *       unknown_id   ID above 0x7FF, or a function this node only sends
 *                    (StateReply, ParamReply, Status, Heartbeat) addressed to
 *                    it or to node 0: a duplicate node id or a bogus frame;
 *       bad_length   length not the DBC's (GroupCommand: 64 and CAN FD);
 *       non_finite   a float32 field NaN or Inf;
 *       out_of_range a field outside its range: setpoints outside the node's
 *                    MIT ranges (v, p, tau_ff of Velocity/PositionCommand),
 *                    |(i_d, i_q)| > i_limit_a, unknown control_cmd or
 *                    param_op, unknown or read-only param index, a param
 *                    value out of range;
 *       wrong_state  a setpoint outside ARMED/RUNNING, ENABLE in FAULT, any
 *                    Control in BOOT, an idle-only param write or a SAVE while
 *                    ARMED/RUNNING, a SAVE while one is pending.
 *     The scaled int16 fields of PositionCommand are raw / 500 and raw / 100
 *     (the DBC's 0.002 and 0.01 as correctly rounded divisions), so a range
 *     end sent by the host (30 rad/s = raw 15000) compares exactly.
 *     A rejected frame changes neither the mode nor the setpoints and does
 *     not feed the watchdog: a stream of bad commands times out.
 *   - Setpoints (Impedance/Current/Velocity/Position/MuscleCommand and this
 *     node's slot of a GroupCommand) of the right length are answered by
 *     exactly one StateReply each, accepted or not (one command in, one
 *     reply out): the answer to a refused one shows the unchanged mode and
 *     the fault bits, and the refusal is counted (the status flag is
 *     rx_reject_count). Wrong-length frames get no reply.
 *   - StateReply.mode is the commanded mode of the controller after the
 *     command (mf_ctrl_t.cmd.mode: what every step runs from the next one
 *     on; MF_MODE_IDLE after a fault), so the first reply after a mode
 *     switch already shows the new mode. It differs from active_mode only
 *     until the next PWM period.
 *   - Replies are sent in the frame format (classic/FD) of the request;
 *     periodic Heartbeat/Status are classic frames.
 *   - ParamRequest: READ / WRITE / SAVE answered by a ParamReply with the
 *     DBC status: OK, UNKNOWN_INDEX, READ_ONLY, OUT_OF_RANGE (value outside
 *     the parameter's range, or a write that would make the controller or
 *     application config invalid: rolled back), WRONG_STATE, STORAGE_ERROR,
 *     BAD_OP. A write takes effect at once. A SAVE (in BOOT/IDLE/FAULT) is
 *     answered once the HAL has stored the page: mf_app_save_requested()
 *     turns true, the HAL calls mf_app_params_save() and writes the bytes
 *     to flash (the simulator: to a file), then mf_app_save_done() queues
 *     the ParamReply (OK or STORAGE_ERROR). A second SAVE while one is
 *     pending gets WRONG_STATE. A write to an idle-only parameter
 *     re-initialises the controller as at boot (the estimator re-primes,
 *     the multi-turn count restarts) and re-latches every fault but CONFIG.
 *
 * Transmit: a ring of MF_APP_TX_LEN frames; when full a new frame is
 * dropped and counted in tx_overflow (never blocks).
 */
#ifndef MF_APP_H
#define MF_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf_ctrl.h"
#include "mf_params.h"

#define MF_APP_TX_LEN 16u            /* transmit queue length, frames */
#define MF_APP_FRAME_MAX 64u         /* CAN FD payload, bytes */
#define MF_APP_PROTOCOL_VERSION 1u   /* the DBC's ProtocolVersion */
#define MF_APP_IGNORED 1             /* mf_app_on_frame: not for this node */
/* StateReply fault_bits bit 10: this reply answers a setpoint the node
 * refused (out of range, non-finite, wrong state); not a latched fault. The
 * refusal is also counted (Heartbeat rx_reject_count). */
#define MF_APP_REPLY_REFUSED (1u << 10)

typedef enum {
    MF_APP_BOOT = 0,
    MF_APP_IDLE = 1,
    MF_APP_ARMED = 2,
    MF_APP_RUNNING = 3,
    MF_APP_FAULT = 4
} mf_app_state_t;

typedef struct {
    mf_ctrl_config_t ctrl;      /* the controller (board file) */
    mf_app_params_t app;        /* node id, group, slot, heartbeat, MIT ranges */
} mf_app_config_t;

typedef struct {
    uint32_t id;                       /* 11-bit CAN ID */
    uint8_t len;                       /* data bytes */
    bool fd;                           /* CAN FD (with bit-rate switch) */
    uint8_t data[MF_APP_FRAME_MAX];
} mf_app_frame_t;

typedef struct {
    uint32_t rx_ok;             /* frames accepted and acted on */
    uint32_t rx_ignored;        /* not for this node (not a rejection) */
    uint32_t rx_unknown_id;     /* rejected: ID not one this node receives */
    uint32_t rx_bad_length;     /* rejected: length not the DBC's */
    uint32_t rx_out_of_range;   /* rejected: a field out of range */
    uint32_t rx_non_finite;     /* rejected: a float NaN or Inf */
    uint32_t rx_wrong_state;    /* rejected: not allowed in this state */
    uint32_t rx_reject;         /* total of the five rejection counters */
    uint32_t tx_queued;         /* frames put in the queue */
    uint32_t tx_overflow;       /* frames dropped: queue full */
} mf_app_counters_t;

typedef struct {
    /* configuration (owned copies) */
    mf_ctrl_config_t ctrl_cfg;
    mf_app_params_t par;
    bool init_ok;               /* mf_app_init accepted the app params */
    /* MIT mapping derived from par.ranges */
    float p_span, v_span, tau_span;      /* max - min */
    float p_to_raw, v_to_raw, tau_to_raw; /* (2^bits - 1) / span */
    /* the controller */
    mf_ctrl_t ctrl;
    /* the injection a Control INJECT starts (parameters inject.*) */
    mf_inject_config_t inject_cfg;
    /* state machine */
    uint8_t state;              /* mf_app_state_t */
    uint8_t control_seq;        /* seq of the last Control applied */
    uint8_t last_estop_source;  /* EmergencyStop.estop_source (0 host) */
    float armed_s;              /* time in ARMED without a setpoint, s */
    /* timers */
    uint32_t uptime_ms;         /* wrapping */
    float uptime_frac_ms;       /* sub-millisecond remainder, ms, [0, 1) */
    float heartbeat_s;          /* time since the last heartbeat, s */
    /* deferred SAVE */
    bool save_pending;
    uint8_t save_seq;
    bool save_fd;
    uint16_t save_index;
    /* transmit queue */
    mf_app_frame_t tx[MF_APP_TX_LEN];
    uint8_t tx_head;
    uint8_t tx_count;
    mf_app_counters_t cnt;
} mf_app_t;

/* Check cfg->app (mf_app_params_problem), copy both configs, init the
 * controller. MF_OK; MF_EINVAL when the controller config is refused (the
 * app works and goes to FAULT with MF_FAULT_CONFIG; parameter writes can fix
 * it) or when the app params are invalid (then init_ok is false: frames are
 * refused with MF_ESTATE and the output stays off); MF_ENULL. */
int mf_app_init(mf_app_t *a, const mf_app_config_t *cfg);
/* One received frame (data: len bytes). MF_OK: accepted; MF_APP_IGNORED: not
 * for this node; MF_EINVAL: unknown ID or wrong length; MF_ERANGE: out of
 * range or non-finite; MF_ESTATE: wrong state; MF_ENULL. */
int mf_app_on_frame(mf_app_t *a, uint32_t can_id, const uint8_t *data, uint8_t len, bool fd);
/* Main-loop housekeeping: uptime, the boot transition, Heartbeat + Status
 * every heartbeat_period_s. dt_s: time since the last call, s (non-finite or
 * negative counts as 0, at most 10 s per call). */
void mf_app_tick(mf_app_t *a, float dt_s);
/* The PWM interrupt: mf_ctrl_step, the ARMED watchdog, FAULT on any fault.
 * Returns the latched fault bits. */
uint32_t mf_app_isr(mf_app_t *a, const mf_ctrl_sense_t *in, mf_ctrl_pwm_t *out);
/* Take the oldest queued frame; false when the queue is empty. */
bool mf_app_tx_pop(mf_app_t *a, mf_app_frame_t *out);

/* Local parameter access (what ParamRequest does, without frames; a read
 * of a state.* value first brings the outer-rate outputs up to date,
 * mf_ctrl_refresh_outputs). Return a
 * ParamReply status (MYOFOC_CAN_PARAM_REPLY_PARAM_STATUS_*_CHOICE values:
 * 0 OK, 1 UNKNOWN_INDEX, 2 READ_ONLY, 3 OUT_OF_RANGE, 4 WRONG_STATE). */
uint8_t mf_app_param_read(mf_app_t *a, uint16_t index, float *value);
uint8_t mf_app_param_write(mf_app_t *a, uint16_t index, float value);
/* Page image of the persistent parameters: bytes written, MF_ERANGE when
 * len < the image, MF_ENULL. */
int mf_app_params_save(const mf_app_t *a, uint8_t *page, size_t len);
/* Load a page image (at boot, before or after the first tick; allowed in
 * BOOT, IDLE and FAULT, else MF_ESTATE). All or nothing: MF_EINVAL for a
 * bad page (mf_params_deserialise) or values that make the controller or
 * app config invalid, MF_ERANGE for a value out of range; then nothing
 * changed. On MF_OK the controller is re-initialised with the loaded config. */
int mf_app_params_load(mf_app_t *a, const uint8_t *page, size_t len);
/* A ParamRequest SAVE waits for the HAL (see above). */
bool mf_app_save_requested(const mf_app_t *a);
/* The HAL stored the page (result MF_OK) or failed (any other value):
 * queues the pending ParamReply. No-op when no SAVE is pending. */
void mf_app_save_done(mf_app_t *a, int result);

#endif /* MF_APP_H */
