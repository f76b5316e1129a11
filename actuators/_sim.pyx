# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin binding of the closed-loop simulator (actuators/simcore/mf_sim.h).

A bank of simulated actuators (controller + plant each) stepped together in
one C loop without the GIL. Configs arrive as the raw C structs validated by
``actuators.core.Controller`` and ``actuators.plant._plant.PlantCore``
(``config_bytes()`` / ``params_bytes()``), so no config logic lives here.
"""
from libc.stdint cimport uint8_t, uint32_t, uint64_t
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
    ctypedef struct mf_sim_node_t:
        mf_ctrl_config_t ccfg
        mf_plant_params_t pp
        mf_ctrl_t ctrl
        mf_plant_t plant
        uint32_t faults
    ctypedef struct mf_sim_sample_t:
        double t_s
        float i_d, i_q, i_d_ref, i_q_ref, v_d, v_q, theta_e, omega_m_est, p_out_est
        float v_out_est, tau_out_ref, v_bus_est
        float duty[3]
        double i_abc[3]
        double theta_m, omega_m, tau_e, p_out, v_out, tau_out, p_load, temp_winding_c
        uint32_t faults, mode, pwm_enable
    int mf_sim_node_init(mf_sim_node_t *n, const mf_ctrl_config_t *ccfg,
                         const mf_plant_params_t *pp, uint64_t seed) nogil
    uint32_t mf_sim_run(mf_sim_node_t *nodes, uint32_t n_nodes, uint32_t n_steps, double dt_s,
                        uint32_t decim, mf_sim_sample_t *rec, uint32_t *bad_node) nogil

cdef extern from "mf_ctrl.h":
    int mf_ctrl_command(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_cmd_t *cmd) nogil
    uint32_t mf_ctrl_clear_faults(mf_ctrl_t *s, const mf_ctrl_config_t *c) nogil
    void mf_ctrl_estop(mf_ctrl_t *s) nogil

CMD_FIELDS = ("i_d_ref", "i_q_ref", "v_d_ref", "v_q_ref", "force_angle", "theta_e_force",
              "v_out_ref", "p_out_ref", "tau_ff_nm", "p_des", "v_des", "kp", "kd", "tau_ff",
              "u_flex", "u_ext")
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

    def init_node(self, uint32_t i, bytes ccfg, bytes pp, uint64_t seed):
        """Set node i from raw validated configs and a noise seed."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef mf_ctrl_config_t c
        cdef mf_plant_params_t p
        if len(ccfg) != sizeof(mf_ctrl_config_t) or len(pp) != sizeof(mf_plant_params_t):
            raise ValueError("config bytes do not match this build's C structs")
        memcpy(&c, <const char *>ccfg, sizeof(mf_ctrl_config_t))
        memcpy(&p, <const char *>pp, sizeof(mf_plant_params_t))
        if mf_sim_node_init(nd, &c, &p, seed) != 0:
            raise ValueError("the controller or plant refused its config")

    def command(self, uint32_t i, int mode, **fields) -> int:
        """mf_ctrl_command on node i; returns its code (0 ok, <0 refused)."""
        cdef mf_sim_node_t *nd = self._node(i)
        cdef mf_ctrl_cmd_t m
        unknown = set(fields) - set(CMD_FIELDS)
        if unknown:
            raise TypeError(f"unknown command fields {sorted(unknown)}")
        if mode < 0 or mode > 255:
            raise ValueError(f"mode {mode} is not a mode")
        m.mode = <uint8_t>mode
        m.i_d_ref = fields.get("i_d_ref", 0.0)
        m.i_q_ref = fields.get("i_q_ref", 0.0)
        m.v_d_ref = fields.get("v_d_ref", 0.0)
        m.v_q_ref = fields.get("v_q_ref", 0.0)
        m.force_angle = bool(fields.get("force_angle", False))
        m.theta_e_force = fields.get("theta_e_force", 0.0)
        m.v_out_ref = fields.get("v_out_ref", 0.0)
        m.p_out_ref = fields.get("p_out_ref", 0.0)
        m.tau_ff_nm = fields.get("tau_ff_nm", 0.0)
        m.imp.p_des = fields.get("p_des", 0.0)
        m.imp.v_des = fields.get("v_des", 0.0)
        m.imp.kp = fields.get("kp", 0.0)
        m.imp.kd = fields.get("kd", 0.0)
        m.imp.tau_ff = fields.get("tau_ff", 0.0)
        m.u_flex = fields.get("u_flex", 0.0)
        m.u_ext = fields.get("u_ext", 0.0)
        return mf_ctrl_command(&nd.ctrl, &nd.ccfg, &m)

    def clear_faults(self, uint32_t i) -> int:
        cdef mf_sim_node_t *nd = self._node(i)
        nd.faults = mf_ctrl_clear_faults(&nd.ctrl, &nd.ccfg)
        return nd.faults

    def estop(self, uint32_t i) -> None:
        mf_ctrl_estop(&self._node(i).ctrl)

    def set_inputs(self, uint32_t i, tau_ext_nm=None, v_bus_v=None) -> None:
        """Plant inputs of node i: external load torque (N m), bus voltage (V)."""
        cdef mf_sim_node_t *nd = self._node(i)
        if tau_ext_nm is not None:
            nd.plant.tau_ext_nm = tau_ext_nm
        if v_bus_v is not None:
            nd.plant.v_bus_v = v_bus_v

    def faults(self, uint32_t i) -> int:
        return self._node(i).ctrl.prot.faults

    def mode(self, uint32_t i) -> int:
        return self._node(i).ctrl.active_mode

    def t_s(self, uint32_t i) -> float:
        return self._node(i).plant.t_s

    def plant_state(self, uint32_t i) -> dict:
        """Node i's plant states (SI)."""
        cdef mf_plant_t *p = &self._node(i).plant
        return {"i_d": p.i_d, "i_q": p.i_q, "theta_m": p.theta_m, "omega_m": p.omega_m,
                "theta_l": p.theta_l, "omega_l": p.omega_l, "temp_winding_c": p.temp_winding_c}

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
