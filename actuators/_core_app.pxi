# Binding of mf_app.h and mf_params.h: the actuator application (CAN frames
# in and out, state machine, parameter table and its flash page) around
# mf_ctrl. Thin: every decision is the C core's. Uses the declarations of
# _core_ctrl.pxi (included before this file).

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset

cdef extern from "mf_params.h":
    ctypedef struct mf_mit_ranges_t:
        float p_min_rad
        float p_max_rad
        float v_min_rad_s
        float v_max_rad_s
        float kp_max_nm_rad
        float kd_max_nms_rad
        float tau_min_nm
        float tau_max_nm
    ctypedef struct mf_app_params_t:
        uint8_t node_id
        uint8_t group_id
        uint8_t group_slot
        float heartbeat_period_s
        mf_mit_ranges_t ranges
    ctypedef struct mf_param_desc_t:
        uint16_t index
        const char *name
        const char *unit
        float min
        float max
        float def_ "def"
        uint8_t flags
        uint8_t where
        uint8_t type
    size_t mf_params_count() nogil
    const mf_param_desc_t *mf_params_at(size_t k) nogil
    void mf_params_defaults(mf_ctrl_config_t *c, mf_app_params_t *p) nogil
    const char *mf_app_params_problem(const mf_app_params_t *p) nogil
    enum:
        MF_PARAMS_PAGE_MAX
        MF_PARAM_PERSISTENT
        MF_PARAM_READ_ONLY
        MF_PARAM_IDLE_ONLY
        MF_PARAM_WHERE_STATE "MF_PARAM_IN_STATE"

cdef extern from "mf_app.h":
    ctypedef struct mf_app_config_t:
        mf_ctrl_config_t ctrl
        mf_app_params_t app
    ctypedef struct mf_app_frame_t:
        uint32_t id
        uint8_t len
        bint fd
        uint8_t data[64]
    ctypedef struct mf_app_counters_t:
        uint32_t rx_ok
        uint32_t rx_ignored
        uint32_t rx_unknown_id
        uint32_t rx_bad_length
        uint32_t rx_out_of_range
        uint32_t rx_non_finite
        uint32_t rx_wrong_state
        uint32_t rx_reject
        uint32_t tx_queued
        uint32_t tx_overflow
    ctypedef struct mf_app_t:
        mf_ctrl_config_t ctrl_cfg
        mf_app_params_t par
        bint init_ok
        mf_ctrl_t ctrl
        uint8_t state
        uint8_t control_seq
        uint8_t last_estop_source
        float armed_s
        uint32_t uptime_ms
        bint save_pending
        uint8_t tx_count
        mf_app_counters_t cnt
    int mf_app_init(mf_app_t *a, const mf_app_config_t *cfg) nogil
    int mf_app_on_frame(mf_app_t *a, uint32_t can_id, const uint8_t *data, uint8_t len, bint fd) nogil
    void mf_app_tick(mf_app_t *a, float dt_s) nogil
    uint32_t mf_app_isr(mf_app_t *a, const mf_ctrl_sense_t *inp, mf_ctrl_pwm_t *out) nogil
    bint mf_app_tx_pop(mf_app_t *a, mf_app_frame_t *out) nogil
    uint8_t mf_app_param_read(mf_app_t *a, uint16_t index, float *value) nogil
    uint8_t mf_app_param_write(mf_app_t *a, uint16_t index, float value) nogil
    int mf_app_params_save(const mf_app_t *a, uint8_t *page, size_t len) nogil
    int mf_app_params_load(mf_app_t *a, const uint8_t *page, size_t len) nogil
    bint mf_app_save_requested(const mf_app_t *a) nogil
    void mf_app_save_done(mf_app_t *a, int result) nogil
    enum:
        MF_APP_BOOT, MF_APP_IDLE, MF_APP_ARMED, MF_APP_RUNNING, MF_APP_FAULT
        MF_APP_IGNORED
        MF_APP_TX_LEN

# Heartbeat.node_state values (the DBC's value table).
NODE_STATES = {MF_APP_BOOT: "BOOT", MF_APP_IDLE: "IDLE", MF_APP_ARMED: "ARMED",
               MF_APP_RUNNING: "RUNNING", MF_APP_FAULT: "FAULT"}
# mf_app_on_frame results.
FRAME_OK = 0
FRAME_IGNORED = MF_APP_IGNORED
# ParamReply.param_status values returned by App.write_param.
PARAM_STATUS = {0: "OK", 1: "UNKNOWN_INDEX", 2: "READ_ONLY", 3: "OUT_OF_RANGE", 4: "WRONG_STATE",
                5: "STORAGE_ERROR", 6: "BAD_OP"}
_RANGE_FIELDS = ("p_min_rad", "p_max_rad", "v_min_rad_s", "v_max_rad_s", "kp_max_nm_rad",
                 "kd_max_nms_rad", "tau_min_nm", "tau_max_nm")
_LOAD_ERRORS = {-1: "bad page (magic, version, length, CRC or an index), or values that make the "
                    "config invalid",
                -3: "a value outside its parameter's range",
                -4: "not allowed while the actuator is ARMED or RUNNING"}


def param_table() -> list:
    """The parameter table (mf_params.c) as dicts: index, name, unit, min, max,
    default, persistent, read_only, idle_only, live (a read-only signal of the
    controller's state or an injection result, not a parameter)."""
    cdef size_t k
    cdef const mf_param_desc_t *d
    rows = []
    for k in range(mf_params_count()):
        d = mf_params_at(k)
        rows.append({"index": d.index, "name": d.name.decode(), "unit": d.unit.decode(),
                     "min": d.min, "max": d.max, "default": d.def_,
                     "persistent": bool(d.flags & MF_PARAM_PERSISTENT),
                     "read_only": bool(d.flags & MF_PARAM_READ_ONLY),
                     "idle_only": bool(d.flags & MF_PARAM_IDLE_ONLY),
                     "live": d.where == MF_PARAM_WHERE_STATE})
    return rows


cdef class App:
    """One actuator node: mf_app_t (protocol, state machine, parameters) around mf_ctrl.

    ``App(ctrl_config, node_id, group_id=0, slot=0, ranges=None,
    heartbeat_period_s=0.1)``: ctrl_config a CtrlConfig (or nested dict);
    node_id 1..127; group_id 0 (none) or 1..127 and slot 0..7 for CAN FD
    group frames; ranges the MIT raw ranges (a protocol.ImpedanceRanges or a
    mapping with its field names; None: the mini-cheetah ranges of the
    parameter table); heartbeat_period_s in s. Feed it frames with
    ``on_frame``, run PWM periods with ``isr``/``run``, housekeeping with
    ``tick`` and read what it sends with ``tx_pop``/``tx_all``. An invalid
    app parameter or controller config raises ValueError naming the field.
    """
    cdef mf_app_t a

    def __init__(self, ctrl_config, int node_id, int group_id=0, int slot=0, ranges=None,
                 float heartbeat_period_s=0.1):
        cdef mf_app_config_t cfg
        cdef const char *bad
        cdef dict d = _ctrl_config_dict(ctrl_config)
        memset(&cfg, 0, sizeof(mf_app_config_t))
        cfg.ctrl = d
        mf_params_defaults(&cfg.ctrl, &cfg.app)  # table defaults for the app part
        cfg.ctrl = d                             # the board's controller config wins
        for name, value, hi in (("node_id", node_id, 127), ("group_id", group_id, 127),
                                ("slot", slot, 7)):
            if not 0 <= value <= hi:
                raise ValueError(f"App.{name} = {value} outside [{1 if name == 'node_id' else 0}, {hi}]")
        cfg.app.node_id = <uint8_t>node_id
        cfg.app.group_id = <uint8_t>group_id
        cfg.app.group_slot = <uint8_t>slot
        cfg.app.heartbeat_period_s = heartbeat_period_s
        if ranges is not None:
            get = ranges.__getitem__ if hasattr(ranges, "keys") else ranges.__getattribute__
            cfg.app.ranges = {name: float(get(name)) for name in _RANGE_FIELDS}
        bad = mf_app_params_problem(&cfg.app)
        if bad != NULL:
            raise ValueError(f"App parameter {bad.decode()} is out of range or inconsistent "
                             f"(see param_table() and actuators/core/mf_params.h)")
        mf_app_init(&self.a, &cfg)
        bad = mf_ctrl_config_problem(&cfg.ctrl)
        if bad != NULL:
            raise ValueError(f"CtrlConfig.{bad.decode()} is out of range (see actuators/core/mf_ctrl.h)")

    def config_bytes(self) -> bytes:
        """The mf_app_config_t this node runs with (its controller config and
        app params, parameter writes included) as raw bytes, for the
        closed-loop simulator (actuators._sim)."""
        cdef mf_app_config_t cfg
        memset(&cfg, 0, sizeof(mf_app_config_t))
        cfg.ctrl = self.a.ctrl_cfg
        cfg.app = self.a.par
        return (<char *>&cfg)[:sizeof(mf_app_config_t)]

    # ---- frames ---------------------------------------------------------
    def on_frame(self, unsigned int can_id, data, bint fd=False) -> int:
        """Receive one frame. Returns 0 (accepted), 1 (ignored: not for this
        node) or a negative mf_err code (-1 unknown ID / wrong length,
        -3 out of range / non-finite, -4 wrong state)."""
        cdef bytes b = bytes(data)
        cdef Py_ssize_t n = len(b)
        cdef const uint8_t *p = b
        if n > 255:
            raise ValueError(f"a CAN frame carries at most 64 bytes, got {n}")
        return mf_app_on_frame(&self.a, can_id, p, <uint8_t>n, fd)

    def tx_pop(self):
        """The oldest queued frame as (can_id, data, fd), or None."""
        cdef mf_app_frame_t f
        if not mf_app_tx_pop(&self.a, &f):
            return None
        return (f.id, (<char *>f.data)[:f.len], bool(f.fd))

    def tx_all(self) -> list:
        """Every queued frame, oldest first, as (can_id, data, fd)."""
        out = []
        frame = self.tx_pop()
        while frame is not None:
            out.append(frame)
            frame = self.tx_pop()
        return out

    # ---- time -----------------------------------------------------------
    def tick(self, float dt_s) -> None:
        """Main-loop housekeeping after dt_s seconds (heartbeat, status, uptime)."""
        mf_app_tick(&self.a, dt_s)

    def isr(self, adc_i, int adc_vbus, unsigned int enc_count, float temp_motor_c=25.0,
            float temp_fet_c=25.0) -> int:
        """One PWM period (mf_ctrl_step + state machine); returns the fault bits."""
        cdef mf_ctrl_sense_t inp
        cdef mf_ctrl_pwm_t out
        inp.adc_i[0] = adc_i[0]
        inp.adc_i[1] = adc_i[1]
        inp.adc_i[2] = adc_i[2]
        inp.adc_vbus = adc_vbus
        inp.enc_count = enc_count
        inp.temp_motor_c = temp_motor_c
        inp.temp_fet_c = temp_fet_c
        return mf_app_isr(&self.a, &inp, &out)

    def run(self, unsigned int n, adc_i, int adc_vbus, unsigned int enc_count,
            float temp_motor_c=25.0, float temp_fet_c=25.0):
        """n PWM periods with constant sensing, in C without the GIL.
        Returns (fault bits after the last period, periods with the bridge enabled)."""
        cdef mf_ctrl_sense_t inp
        cdef mf_ctrl_pwm_t out
        cdef unsigned int k, on = 0
        cdef uint32_t faults = self.a.ctrl.prot.faults
        inp.adc_i[0] = adc_i[0]
        inp.adc_i[1] = adc_i[1]
        inp.adc_i[2] = adc_i[2]
        inp.adc_vbus = adc_vbus
        inp.enc_count = enc_count
        inp.temp_motor_c = temp_motor_c
        inp.temp_fet_c = temp_fet_c
        with nogil:
            for k in range(n):
                faults = mf_app_isr(&self.a, &inp, &out)
                if out.pwm_enable:
                    on += 1
        return faults, on

    # ---- parameters -----------------------------------------------------
    def read_param(self, unsigned int index) -> float:
        """A parameter's value (its unit: see param_table()); KeyError if unknown."""
        cdef float v = 0.0
        if index > 0xFFFF or mf_app_param_read(&self.a, <uint16_t>index, &v) != 0:
            raise KeyError(f"no parameter with index {index}")
        return v

    def write_param(self, unsigned int index, float value) -> int:
        """Write a parameter as a ParamRequest WRITE would; returns the
        ParamReply status (0 OK, 1 UNKNOWN_INDEX, 2 READ_ONLY, 3 OUT_OF_RANGE,
        4 WRONG_STATE; see PARAM_STATUS)."""
        if index > 0xFFFF:
            return 1
        return mf_app_param_write(&self.a, <uint16_t>index, value)

    def params_save(self) -> bytes:
        """The page image of the persistent parameters (what goes to flash)."""
        cdef uint8_t page[MF_PARAMS_PAGE_MAX]
        cdef int n = mf_app_params_save(&self.a, page, MF_PARAMS_PAGE_MAX)
        if n < 0:
            raise RuntimeError(f"mf_app_params_save failed ({n})")
        return (<char *>page)[:n]

    def params_load(self, page) -> None:
        """Load a page image; ValueError (nothing changed) if it is refused."""
        cdef bytes b = bytes(page)
        cdef const uint8_t *p = b
        cdef int rc = mf_app_params_load(&self.a, p, <size_t>len(b))
        if rc != 0:
            raise ValueError(f"parameter page refused: {_LOAD_ERRORS.get(rc, rc)}")

    @property
    def save_requested(self) -> bool:
        """A ParamRequest SAVE waits: store params_save() and call save_done()."""
        return mf_app_save_requested(&self.a)

    def save_done(self, bint ok=True) -> None:
        """The page was stored (ok) or not: queues the SAVE's ParamReply."""
        mf_app_save_done(&self.a, 0 if ok else -1)

    # ---- state ----------------------------------------------------------
    @property
    def state(self) -> int:
        """Heartbeat.node_state: 0 BOOT, 1 IDLE, 2 ARMED, 3 RUNNING, 4 FAULT."""
        return self.a.state

    @property
    def state_name(self) -> str:
        return NODE_STATES[self.a.state]

    @property
    def node_id(self) -> int:
        return self.a.par.node_id

    @property
    def control_seq(self) -> int:
        return self.a.control_seq

    @property
    def last_estop_source(self) -> int:
        return self.a.last_estop_source

    @property
    def uptime_ms(self) -> int:
        return self.a.uptime_ms

    @property
    def tx_pending(self) -> int:
        return self.a.tx_count

    @property
    def faults(self) -> int:
        return self.a.ctrl.prot.faults

    @property
    def mode(self) -> int:
        """The mode the last PWM period ran."""
        return self.a.ctrl.active_mode

    @property
    def commanded_mode(self) -> int:
        return self.a.ctrl.cmd.mode

    @property
    def command(self) -> dict:
        """The controller's present command (SI, output side)."""
        cdef mf_ctrl_cmd_t m = self.a.ctrl.cmd
        return {"mode": m.mode, "i_d_ref": m.i_d_ref, "i_q_ref": m.i_q_ref,
                "v_out_ref": m.v_out_ref, "p_out_ref": m.p_out_ref, "tau_ff_nm": m.tau_ff_nm,
                "p_des": m.imp.p_des, "v_des": m.imp.v_des, "kp": m.imp.kp, "kd": m.imp.kd,
                "tau_ff": m.imp.tau_ff, "u_flex": m.u_flex, "u_ext": m.u_ext}

    @property
    def pwm_enable(self) -> bool:
        return self.a.ctrl.pwm.pwm_enable

    @property
    def duty(self):
        return (self.a.ctrl.pwm.duty[0], self.a.ctrl.pwm.duty[1], self.a.ctrl.pwm.duty[2])

    @property
    def counters(self) -> dict:
        """Receive/transmit counters (rejections by reason; rx_reject is their total)."""
        cdef mf_app_counters_t c = self.a.cnt
        return {"rx_ok": c.rx_ok, "rx_ignored": c.rx_ignored, "rx_unknown_id": c.rx_unknown_id,
                "rx_bad_length": c.rx_bad_length, "rx_out_of_range": c.rx_out_of_range,
                "rx_non_finite": c.rx_non_finite, "rx_wrong_state": c.rx_wrong_state,
                "rx_reject": c.rx_reject, "tx_queued": c.tx_queued, "tx_overflow": c.tx_overflow}

    def signals(self) -> dict:
        """The controller's last-period signals (as Controller.signals())."""
        cdef mf_ctrl_t *s = &self.a.ctrl
        mf_ctrl_refresh_outputs(s, &self.a.ctrl_cfg)
        return {
            "i_abc": (s.i_abc[0], s.i_abc[1], s.i_abc[2]),
            "i_d": s.i_d, "i_q": s.i_q, "i_d_ref": s.i_d_ref, "i_q_ref": s.i_q_ref,
            "v_d": s.cur.v_d, "v_q": s.cur.v_q, "v_bus": s.v_bus,
            "theta_e": s.est.theta_e, "theta_m": s.est.theta_m,
            "omega_m": s.est.omega_m, "omega_e": s.est.omega_e,
            "p_out": s.p_out, "v_out": s.v_out,
            "tau_out_ref": s.tau_out_ref, "tau_out_est": s.tau_out_est,
            "temp_motor_c": s.temp_motor_c, "temp_fet_c": s.temp_fet_c,
        }


__all__ += ["App", "FRAME_IGNORED", "FRAME_OK", "NODE_STATES", "PARAM_STATUS", "param_table"]
