# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin binding of the closed-loop simulator (actuators/simcore/mf_sim.h).

A bank of simulated actuators (the firmware application mf_app_t + plant
each) stepped together in one C loop without the GIL. Configs arrive as the
raw C structs validated by ``actuators.core.App`` and
``actuators.plant._plant.PlantCore`` (``config_bytes()`` / ``params_bytes()``),
so no config logic lives here. Frames go in and out through the firmware's
own dispatch (mf_app_on_frame, mf_app_tx_pop); direct commands through
mf_sim_command.
"""
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "mf_sim.h":
    ctypedef struct mf_ctrl_config_t:
        pass
    ctypedef struct mf_plant_params_t:
        pass
    ctypedef struct mf_impedance_cmd_t:
        float p_des
        float v_des
        float kp
        float kd
        float tau_ff
    ctypedef struct mf_ctrl_cmd_t:
        uint8_t mode
        float i_d_ref
        float i_q_ref
        float v_d_ref
        float v_q_ref
        bint force_angle
        float theta_e_force
        float v_out_ref
        float p_out_ref
        float tau_ff_nm
        mf_impedance_cmd_t imp
        float u_flex
        float u_ext
    ctypedef struct mf_protect_t:
        uint32_t faults
    ctypedef struct mf_ctrl_t:
        mf_protect_t prot
        mf_ctrl_cmd_t cmd
        uint32_t cmd_rejects
        uint8_t active_mode
    ctypedef struct mf_plant_t:
        double t_s
        double v_bus_v
        double tau_ext_nm
        double temp_winding_c
        double i_d
        double i_q
        double theta_m
        double omega_m
        double theta_l
        double omega_l
        double theta_out_rad
        double omega_out_rad_s
        double tau_out_nm
        double fault_i_offset_a
        double fault_heat_w
        bint fault_enc_stuck
    ctypedef struct mf_app_config_t:
        pass
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
    ctypedef struct mf_app_params_t:
        uint8_t node_id
        uint8_t group_id
        uint8_t group_slot
        float heartbeat_period_s
    ctypedef struct mf_app_t:
        mf_ctrl_config_t ctrl_cfg
        mf_app_params_t par
        bint init_ok
        mf_ctrl_t ctrl
        uint8_t state
        uint8_t control_seq
        uint8_t last_estop_source
        uint32_t uptime_ms
        bint save_pending
        uint8_t tx_count
        mf_app_counters_t cnt
    ctypedef struct mf_sim_node_t:
        mf_app_t app
        mf_plant_params_t pp
        mf_plant_t plant
        uint32_t faults
        uint32_t tick_div
    ctypedef struct mf_sim_sample_t:
        double t_s
        float i_d, i_q, i_d_ref, i_q_ref, v_d, v_q, theta_e, omega_m_est, p_out_est
        float v_out_est, tau_out_ref, v_bus_est
        float duty[3]
        double i_abc[3]
        double theta_m, omega_m, tau_e, p_out, v_out, tau_out, p_load, temp_winding_c
        uint32_t faults, mode, pwm_enable
    int mf_sim_node_init(mf_sim_node_t *n, const mf_app_config_t *cfg,
                         const mf_plant_params_t *pp, uint64_t seed) nogil
    int mf_sim_command(mf_sim_node_t *n, const mf_ctrl_cmd_t *cmd) nogil
    uint32_t mf_sim_clear_faults(mf_sim_node_t *n) nogil
    void mf_sim_estop(mf_sim_node_t *n) nogil
    uint32_t mf_sim_run(mf_sim_node_t *nodes, uint32_t n_nodes, uint32_t n_steps, double dt_s,
                        uint32_t decim, mf_sim_sample_t *rec, uint32_t *bad_node) nogil

cdef extern from "mf_plant.h":
    int mf_plant_set_encoder_stuck(mf_plant_t *s, bint stuck) nogil
    int mf_plant_set_i_sense_offset(mf_plant_t *s, double i_offset_a) nogil
    int mf_plant_set_heat(mf_plant_t *s, double heat_w) nogil

cdef extern from "mf_app.h":
    int mf_app_on_frame(mf_app_t *a, uint32_t can_id, const uint8_t *data, uint8_t len, bint fd) nogil
    void mf_app_tick(mf_app_t *a, float dt_s) nogil
    bint mf_app_tx_pop(mf_app_t *a, mf_app_frame_t *out) nogil
    uint8_t mf_app_param_read(mf_app_t *a, uint16_t index, float *value) nogil
    uint8_t mf_app_param_write(mf_app_t *a, uint16_t index, float value) nogil
    int mf_app_params_save(const mf_app_t *a, uint8_t *page, size_t len) nogil
    int mf_app_params_load(mf_app_t *a, const uint8_t *page, size_t len) nogil
    bint mf_app_save_requested(const mf_app_t *a) nogil
    void mf_app_save_done(mf_app_t *a, int result) nogil

cdef extern from "mf_params.h":
    enum:
        MF_PARAMS_PAGE_MAX

include "_ctrl_cmd.pxi"

F32_FIELDS = ("i_d", "i_q", "i_d_ref", "i_q_ref", "v_d", "v_q", "theta_e", "omega_m_est",
              "p_out_est", "v_out_est", "tau_out_ref", "v_bus_est")
F64_FIELDS = ("theta_m", "omega_m", "tau_e", "p_out", "v_out", "tau_out", "p_load",
              "temp_winding_c")


cdef class Bank:
    """n simulated actuators stepped together (node i: controller + plant)."""
    cdef mf_sim_node_t *nodes
    cdef readonly uint32_t n

    def __cinit__(self, uint32_t n):
        if n < 1:
            raise ValueError("a bank needs at least one node")
        self.nodes = <mf_sim_node_t *>calloc(n, sizeof(mf_sim_node_t))
        if self.nodes == NULL:
            raise MemoryError()
        self.n = n

    def __dealloc__(self):
        free(self.nodes)

    cdef mf_sim_node_t *_node(self, uint32_t i) except NULL:
        if i >= self.n:
            raise IndexError(f"node {i} of a bank of {self.n}")
        return &self.nodes[i]

    def init_node(self, uint32_t i, bytes app_cfg, bytes pp, uint64_t seed):
        """Set node i from a raw validated mf_app_config_t (App.config_bytes()),
        plant params (PlantCore.params_bytes()) and a noise seed. The node is
        in BOOT until its first tick."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef mf_app_config_t c
        cdef mf_plant_params_t p
        if len(app_cfg) != sizeof(mf_app_config_t) or len(pp) != sizeof(mf_plant_params_t):
            raise ValueError("config bytes do not match this build's C structs")
        memcpy(&c, <const char *>app_cfg, sizeof(mf_app_config_t))
        memcpy(&p, <const char *>pp, sizeof(mf_plant_params_t))
        if mf_sim_node_init(nd, &c, &p, seed) != 0:
            raise ValueError("the controller, application or plant refused its config")

    def command(self, uint32_t i, int mode, **fields) -> int:
        """mf_sim_command on node i (mf_ctrl_command, the state machine
        follows); returns its code (0 ok, <0 refused)."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef mf_ctrl_cmd_t m
        if mode < 0 or mode > 255:
            raise ValueError(f"mode {mode} is not a mode")
        _fill_cmd(&m, mode, fields)
        return mf_sim_command(nd, &m)

    def clear_faults(self, uint32_t i) -> int:
        return mf_sim_clear_faults(self._node(i))

    def estop(self, uint32_t i) -> None:
        mf_sim_estop(self._node(i))

    def set_inputs(self, uint32_t i, tau_ext_nm=None, v_bus_v=None) -> None:
        """Plant inputs of node i: external load torque (N m), bus voltage (V)."""
        cdef mf_sim_node_t *nd = self._node(i)
        if tau_ext_nm is not None:
            nd.plant.tau_ext_nm = tau_ext_nm
        if v_bus_v is not None:
            nd.plant.v_bus_v = v_bus_v

    def inject(self, uint32_t i, encoder_stuck=None, i_sense_offset_a=None, heat_w=None) -> None:
        """Plant and sensor faults of node i (None: unchanged; each persists
        until changed): encoder_stuck (the count freezes at its value at the
        next sample), i_sense_offset_a (A added to the sensed phase-a
        current), heat_w (W of extra heat into the winding node)."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef double off = 0.0, heat = 0.0
        if i_sense_offset_a is not None:
            off = float(i_sense_offset_a)
            if off != off or off in (float("inf"), float("-inf")):
                raise ValueError(f"i_sense_offset_a must be a finite current in A, got {i_sense_offset_a!r}")
        if heat_w is not None:
            heat = float(heat_w)
            if heat != heat or heat in (float("inf"), float("-inf")):
                raise ValueError(f"heat_w must be a finite power in W, got {heat_w!r}")
        if encoder_stuck is not None:
            mf_plant_set_encoder_stuck(&nd.plant, bool(encoder_stuck))
        if i_sense_offset_a is not None:
            mf_plant_set_i_sense_offset(&nd.plant, off)
        if heat_w is not None:
            mf_plant_set_heat(&nd.plant, heat)

    def injected(self, uint32_t i) -> dict:
        """Node i's injected faults (see inject)."""
        cdef mf_plant_t *p = &self._node(i).plant
        return {"encoder_stuck": bool(p.fault_enc_stuck), "i_sense_offset_a": p.fault_i_offset_a,
                "heat_w": p.fault_heat_w}

    def faults(self, uint32_t i) -> int:
        return self._node(i).app.ctrl.prot.faults

    def mode(self, uint32_t i) -> int:
        """The mode the last PWM period ran."""
        return self._node(i).app.ctrl.active_mode

    def commanded_mode(self, uint32_t i) -> int:
        return self._node(i).app.ctrl.cmd.mode

    def t_s(self, uint32_t i) -> float:
        return self._node(i).plant.t_s

    def plant_state(self, uint32_t i) -> dict:
        """Node i's plant states (SI)."""
        cdef mf_plant_t *p = &self._node(i).plant
        return {"i_d": p.i_d, "i_q": p.i_q, "theta_m": p.theta_m, "omega_m": p.omega_m,
                "theta_l": p.theta_l, "omega_l": p.omega_l, "temp_winding_c": p.temp_winding_c,
                "p_out": p.theta_out_rad, "v_out": p.omega_out_rad_s, "tau_out": p.tau_out_nm}

    # ---- the firmware application (CAN side) ------------------------------
    def on_frame(self, uint32_t i, unsigned int can_id, const uint8_t[::1] data, bint fd=False) -> int:
        """mf_app_on_frame on node i: 0 accepted, 1 ignored (not for this
        node), <0 refused (-1 unknown ID / wrong length, -3 out of range or
        non-finite, -4 wrong state)."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef Py_ssize_t n = data.shape[0]
        if n > 64:
            raise ValueError(f"a CAN frame carries at most 64 bytes, got {n}")
        return mf_app_on_frame(&nd.app, can_id, &data[0] if n > 0 else NULL, <uint8_t>n, fd)

    def on_frame_all(self, unsigned int can_id, const uint8_t[::1] data, bint fd=False) -> tuple:
        """The frame to every node of the bank (each node's dispatch filters);
        one on_frame code per node."""
        cdef Py_ssize_t n = data.shape[0]
        cdef uint32_t i
        cdef const uint8_t *p = &data[0] if n > 0 else NULL
        if n > 64:
            raise ValueError(f"a CAN frame carries at most 64 bytes, got {n}")
        return tuple(mf_app_on_frame(&self.nodes[i].app, can_id, p, <uint8_t>n, fd)
                     for i in range(self.n))

    def tx_pop(self, uint32_t i):
        """Node i's oldest queued frame as (can_id, data, fd), or None."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef mf_app_frame_t f
        if not mf_app_tx_pop(&nd.app, &f):
            return None
        return (f.id, (<char *>f.data)[:f.len], bool(f.fd))

    def tick(self, uint32_t i, float dt_s) -> None:
        """mf_app_tick on node i (the main loop; the run ticks by itself every
        tick_div periods: use this for the boot tick)."""
        mf_app_tick(&self._node(i).app, dt_s)

    def tick_div(self, uint32_t i) -> int:
        return self._node(i).tick_div

    def param_read(self, uint32_t i, unsigned int index):
        """(ParamReply status, value) of a parameter of node i."""
        cdef float v = 0.0
        cdef uint8_t st
        if index > 0xFFFF:
            return 1, float("nan")
        st = mf_app_param_read(&self._node(i).app, <uint16_t>index, &v)
        return st, v

    def param_write(self, uint32_t i, unsigned int index, float value) -> int:
        """mf_app_param_write on node i: the ParamReply status."""
        if index > 0xFFFF:
            return 1
        return mf_app_param_write(&self._node(i).app, <uint16_t>index, value)

    def params_save(self, uint32_t i) -> bytes:
        """Node i's page image of the persistent parameters."""
        cdef uint8_t page[MF_PARAMS_PAGE_MAX]
        cdef int n = mf_app_params_save(&self._node(i).app, page, MF_PARAMS_PAGE_MAX)
        if n < 0:
            raise RuntimeError(f"mf_app_params_save failed ({n})")
        return (<char *>page)[:n]

    def params_load(self, uint32_t i, const uint8_t[::1] page) -> int:
        """mf_app_params_load on node i: 0, or -1 bad page / invalid config,
        -3 a value out of range, -4 wrong state (nothing changed)."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef Py_ssize_t n = page.shape[0]
        if n == 0:
            return -1
        return mf_app_params_load(&nd.app, &page[0], <size_t>n)

    def save_requested(self, uint32_t i) -> bool:
        """A ParamRequest SAVE waits for the page to be stored."""
        return mf_app_save_requested(&self._node(i).app)

    def save_done(self, uint32_t i, int rc) -> None:
        """The page was stored (rc 0) or not: queues the SAVE's ParamReply."""
        mf_app_save_done(&self._node(i).app, rc)

    def state(self, uint32_t i) -> int:
        """Heartbeat.node_state: 0 BOOT, 1 IDLE, 2 ARMED, 3 RUNNING, 4 FAULT."""
        return self._node(i).app.state

    def node_id(self, uint32_t i) -> int:
        """Node i's CAN node id (the app parameter)."""
        return self._node(i).app.par.node_id

    def app_info(self, uint32_t i) -> dict:
        """Node i's application state: node id, group, slot, state,
        control_seq, last e-stop source, uptime (ms), pending SAVE, TX queue
        length, init_ok."""
        cdef mf_app_t *a = &self._node(i).app
        return {"node_id": a.par.node_id, "group_id": a.par.group_id, "group_slot": a.par.group_slot,
                "state": a.state, "control_seq": a.control_seq,
                "last_estop_source": a.last_estop_source, "uptime_ms": a.uptime_ms,
                "save_pending": bool(a.save_pending), "tx_pending": a.tx_count,
                "init_ok": bool(a.init_ok)}

    def counters(self, uint32_t i) -> dict:
        """Node i's receive/transmit counters (rx_reject: total of the rejections)."""
        cdef mf_app_counters_t c = self._node(i).app.cnt
        return {"rx_ok": c.rx_ok, "rx_ignored": c.rx_ignored, "rx_unknown_id": c.rx_unknown_id,
                "rx_bad_length": c.rx_bad_length, "rx_out_of_range": c.rx_out_of_range,
                "rx_non_finite": c.rx_non_finite, "rx_wrong_state": c.rx_wrong_state,
                "rx_reject": c.rx_reject, "tx_queued": c.tx_queued, "tx_overflow": c.tx_overflow}

    def run(self, uint32_t n_steps, double dt_s, uint32_t decim=1, bint record=True):
        """Run every node n_steps periods. Returns (steps done, bad node or -1,
        dict of (n, n_steps // decim) arrays or None)."""
        cdef uint32_t n_rec = n_steps // decim if decim > 0 else 0
        cdef mf_sim_sample_t *rec = NULL
        cdef uint32_t done, bad = 0
        cdef Py_ssize_t total = <Py_ssize_t>self.n * n_rec, j
        if decim < 1:
            raise ValueError("decim must be >= 1")
        if record and total > 0:
            rec = <mf_sim_sample_t *>calloc(total, sizeof(mf_sim_sample_t))
            if rec == NULL:
                raise MemoryError()
        try:
            with nogil:
                done = mf_sim_run(self.nodes, self.n, n_steps, dt_s, decim, rec, &bad)
            out = None
            if rec != NULL:
                out = _unpack(rec, total, self.n, n_rec)
        finally:
            free(rec)
        return done, (bad if done < n_steps else -1), out


cdef dict _unpack(mf_sim_sample_t *rec, Py_ssize_t total, uint32_t n, uint32_t n_rec):
    cdef cnp.ndarray[cnp.float64_t, ndim=1] t = np.empty(total)
    cdef cnp.ndarray[cnp.float32_t, ndim=2] f32 = np.empty((12, total), dtype=np.float32)
    cdef cnp.ndarray[cnp.float64_t, ndim=2] f64 = np.empty((8, total))
    cdef cnp.ndarray[cnp.float32_t, ndim=2] duty = np.empty((total, 3), dtype=np.float32)
    cdef cnp.ndarray[cnp.float64_t, ndim=2] i_abc = np.empty((total, 3))
    cdef cnp.ndarray[cnp.uint32_t, ndim=2] u32 = np.empty((3, total), dtype=np.uint32)
    cdef Py_ssize_t j
    cdef mf_sim_sample_t *r
    with nogil:
        for j in range(total):
            r = &rec[j]
            t[j] = r.t_s
            f32[0, j] = r.i_d
            f32[1, j] = r.i_q
            f32[2, j] = r.i_d_ref
            f32[3, j] = r.i_q_ref
            f32[4, j] = r.v_d
            f32[5, j] = r.v_q
            f32[6, j] = r.theta_e
            f32[7, j] = r.omega_m_est
            f32[8, j] = r.p_out_est
            f32[9, j] = r.v_out_est
            f32[10, j] = r.tau_out_ref
            f32[11, j] = r.v_bus_est
            duty[j, 0] = r.duty[0]
            duty[j, 1] = r.duty[1]
            duty[j, 2] = r.duty[2]
            i_abc[j, 0] = r.i_abc[0]
            i_abc[j, 1] = r.i_abc[1]
            i_abc[j, 2] = r.i_abc[2]
            f64[0, j] = r.theta_m
            f64[1, j] = r.omega_m
            f64[2, j] = r.tau_e
            f64[3, j] = r.p_out
            f64[4, j] = r.v_out
            f64[5, j] = r.tau_out
            f64[6, j] = r.p_load
            f64[7, j] = r.temp_winding_c
            u32[0, j] = r.faults
            u32[1, j] = r.mode
            u32[2, j] = r.pwm_enable
    shape = (n, n_rec)
    out = {"t_s": t.reshape(shape), "duty": duty.reshape(n, n_rec, 3),
           "i_abc": i_abc.reshape(n, n_rec, 3)}
    for k, name in enumerate(F32_FIELDS):
        out[name] = f32[k].reshape(shape)
    for k, name in enumerate(F64_FIELDS):
        out[name] = f64[k].reshape(shape)
    out["faults"] = u32[0].reshape(shape)
    out["mode"] = u32[1].reshape(shape).astype(np.uint8)
    out["pwm_enable"] = u32[2].reshape(shape).astype(bool)
    return out
