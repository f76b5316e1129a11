# Binding of mf_ctrl.h: the whole actuator controller (one current-loop step
# per PWM period). Thin: every computation is the C core's. Uses the struct
# declarations of the pxi files included before this one.

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport malloc, free

cdef extern from "mf_ctrl.h":
    ctypedef struct mf_cogging_config_t:
        uint32_t cog_n_per_rev
        float amp_nm[3]
        float phase_rad[3]
    ctypedef struct mf_inject_config_t:
        uint8_t kind
        uint8_t axis
        bint use_encoder
        float amp
        float offset
        float hold
        float freq_hz
        float omega_e_cmd
        float theta0_e
        float lockin_harmonic
        float settle_s
        float window_s
    ctypedef struct mf_inject_t:
        float t_s
        float theta_e
        uint32_t k
        uint32_t n
        uint32_t n_window
        uint32_t n_bad
        bint done
        float v_d_mean, v_q_mean, i_d_mean, i_q_mean
        float v_d_rotor_mean, v_q_rotor_mean, i_d_rotor_mean, i_q_rotor_mean
        float omega_e_mean
        float theta_err_mean
        float v_c, v_s, i_c, i_s
        float theta_cmd_turned, theta_enc_turned
    ctypedef struct mf_ctrl_config_t:
        float pwm_period_s
        uint32_t outer_div
        bint three_shunt
        float adc_i_gain_a
        float adc_i_offset
        float adc_vbus_gain_v
        float dead_time_s
        float deadtime_i_band_a
        float latency_steps
        uint32_t pole_pairs
        float flux_wb
        float gear_ratio
        float i_limit_a
        float tau_out_max_nm
        mf_current_config_t current
        mf_estimator_config_t estimator
        mf_motion_config_t motion
        mf_muscle_config_t muscle
        mf_protect_config_t protect
        mf_cogging_config_t cogging
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
        mf_inject_config_t inject
    ctypedef struct mf_ctrl_sense_t:
        uint16_t adc_i[3]
        uint16_t adc_vbus
        uint32_t enc_count
        float temp_motor_c
        float temp_fet_c
    ctypedef struct mf_ctrl_pwm_t:
        float duty[3]
        bint pwm_enable
    ctypedef struct mf_ctrl_t:
        float kt_nm_a
        bint config_ok
        mf_estimator_t est
        mf_current_t cur
        mf_motion_t motion
        mf_impedance_t imp
        mf_muscle_t muscle
        mf_protect_t prot
        mf_inject_t inject
        mf_ctrl_cmd_t cmd
        uint8_t active_mode
        uint32_t step_count
        uint32_t cmd_rejects
        float i_abc[3]
        float i_d
        float i_q
        float i_d_ref
        float i_q_ref
        float v_bus
        float temp_motor_c
        float temp_fet_c
        float p_out
        float v_out
        float tau_out_ref
        float tau_out_est
        float i_q_cog
        mf_ctrl_pwm_t pwm
    const char *mf_ctrl_config_problem(const mf_ctrl_config_t *c) nogil
    int mf_ctrl_init(mf_ctrl_t *s, const mf_ctrl_config_t *c) nogil
    int mf_ctrl_command(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_cmd_t *cmd) nogil
    uint32_t mf_ctrl_step(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_sense_t *inp,
                          mf_ctrl_pwm_t *out) nogil
    uint32_t mf_ctrl_clear_faults(mf_ctrl_t *s, const mf_ctrl_config_t *c) nogil
    void mf_ctrl_estop(mf_ctrl_t *s) nogil
    void mf_ctrl_refresh_outputs(mf_ctrl_t *s, const mf_ctrl_config_t *c) nogil
    uint32_t mf_ctrl_run(mf_ctrl_t *s, const mf_ctrl_config_t *c, const mf_ctrl_sense_t *inp,
                         mf_ctrl_pwm_t *out, uint32_t n) nogil
    enum:
        MF_MODE_IDLE, MF_MODE_VOLTAGE, MF_MODE_CURRENT, MF_MODE_VELOCITY, MF_MODE_POSITION,
        MF_MODE_IMPEDANCE, MF_MODE_MUSCLE, MF_MODE_INJECT, MF_MODE_COUNT

MODE_IDLE = MF_MODE_IDLE
MODE_VOLTAGE = MF_MODE_VOLTAGE
MODE_CURRENT = MF_MODE_CURRENT
MODE_VELOCITY = MF_MODE_VELOCITY
MODE_POSITION = MF_MODE_POSITION
MODE_IMPEDANCE = MF_MODE_IMPEDANCE
MODE_MUSCLE = MF_MODE_MUSCLE
MODE_INJECT = MF_MODE_INJECT

MODE_NAMES = {"idle": MODE_IDLE, "voltage": MODE_VOLTAGE, "current": MODE_CURRENT,
              "velocity": MODE_VELOCITY, "position": MODE_POSITION, "impedance": MODE_IMPEDANCE,
              "muscle": MODE_MUSCLE, "inject": MODE_INJECT}

# mf_inject_kind_t and mf_inject_axis_t by name (mf_inject.h)
INJECT_KINDS = {"v_dc": 0, "i_dc": 1, "v_sine": 2, "i_sine": 3, "v_rotate": 4, "i_rotate": 5}
INJECT_AXES = {"d": 0, "q": 1}
INJECT_FIELDS = ("kind", "axis", "use_encoder", "amp", "offset", "hold", "freq_hz", "omega_e_cmd",
                 "theta0_e", "lockin_harmonic", "settle_s", "window_s")
INJECT_RESULTS = ("t_s", "theta_e", "k", "n", "n_window", "n_bad", "done", "v_d_mean", "v_q_mean",
                  "i_d_mean", "i_q_mean", "v_d_rotor_mean", "v_q_rotor_mean", "i_d_rotor_mean",
                  "i_q_rotor_mean", "omega_e_mean", "theta_err_mean", "v_c", "v_s", "i_c", "i_s",
                  "theta_cmd_turned", "theta_enc_turned")


def _mode_number(mode) -> int:
    """A mode as its number: an int, or a name of MODE_NAMES."""
    if isinstance(mode, str):
        if mode not in MODE_NAMES:
            raise ValueError(f"mode {mode!r} is not one of {sorted(MODE_NAMES)}")
        return MODE_NAMES[mode]
    return int(mode)


def _inject_config_dict(inject) -> dict:
    """The inject command (dict of mf_inject_config_t fields, SI; kind and axis
    as numbers or names) as a full dict for the C struct, absent fields 0."""
    d = dict(inject)
    unknown = set(d) - set(INJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown inject fields {sorted(unknown)}; known: {INJECT_FIELDS}")
    out = {name: 0 for name in INJECT_FIELDS}
    out.update(d)
    if isinstance(out["kind"], str):
        if out["kind"] not in INJECT_KINDS:
            raise ValueError(f"inject kind {out['kind']!r} is not one of {sorted(INJECT_KINDS)}")
        out["kind"] = INJECT_KINDS[out["kind"]]
    if isinstance(out["axis"], str):
        if out["axis"] not in INJECT_AXES:
            raise ValueError(f"inject axis {out['axis']!r} is not one of {sorted(INJECT_AXES)}")
        out["axis"] = INJECT_AXES[out["axis"]]
    for key in ("kind", "axis"):
        if not 0 <= int(out[key]) <= 255:
            raise ValueError(f"inject {key} = {out[key]!r} is out of range")
        out[key] = int(out[key])
    out["use_encoder"] = bool(out["use_encoder"])
    return out

include "_ctrl_cmd.pxi"

_CMD_STATUS = {0: "ok", -3: "refused: a field is non-finite or out of range",
               -4: "refused: a fault is latched or the config is invalid"}


def _ctrl_config_dict(config):
    """A CtrlConfig (or a nested dict of the C field names) as a dict."""
    if hasattr(config, "as_dict"):
        return config.as_dict()
    return dict(config)


cdef mf_ctrl_sense_t *_ctrl_sense_array(adc_i, adc_vbus, enc_count, temp_motor_c, temp_fet_c,
                                        Py_ssize_t *n_p) except NULL:
    """The sense inputs as a malloc'd C array (the caller frees it): adc_i
    (n, 3) counts, the rest broadcast to (n,)."""
    cdef cnp.ndarray[cnp.uint16_t, ndim=2] a_i = np.ascontiguousarray(adc_i, dtype=np.uint16)
    cdef Py_ssize_t n = a_i.shape[0]
    cdef cnp.ndarray[cnp.uint16_t, ndim=1] a_v = np.ascontiguousarray(
        np.broadcast_to(adc_vbus, (n,)), dtype=np.uint16)
    cdef cnp.ndarray[cnp.uint32_t, ndim=1] a_e = np.ascontiguousarray(
        np.broadcast_to(enc_count, (n,)), dtype=np.uint32)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] a_tm = np.ascontiguousarray(
        np.broadcast_to(temp_motor_c, (n,)), dtype=np.float32)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] a_tf = np.ascontiguousarray(
        np.broadcast_to(temp_fet_c, (n,)), dtype=np.float32)
    cdef mf_ctrl_sense_t *inp
    cdef Py_ssize_t k
    if a_i.shape[1] != 3:
        raise ValueError(f"adc_i must have shape (n, 3), got {np.shape(adc_i)}")
    inp = <mf_ctrl_sense_t *>malloc(max(n, 1) * sizeof(mf_ctrl_sense_t))
    if inp == NULL:
        raise MemoryError()
    with nogil:
        for k in range(n):
            inp[k].adc_i[0] = a_i[k, 0]
            inp[k].adc_i[1] = a_i[k, 1]
            inp[k].adc_i[2] = a_i[k, 2]
            inp[k].adc_vbus = a_v[k]
            inp[k].enc_count = a_e[k]
            inp[k].temp_motor_c = a_tm[k]
            inp[k].temp_fet_c = a_tf[k]
    n_p[0] = n
    return inp


cdef class Controller:
    """The actuator controller of the firmware (mf_ctrl_t + its config).

    ``Controller(CtrlConfig)``; ``command(mode, **fields)`` sets the command
    (fields: see mf_ctrl_cmd_t, SI units, output side for p/v/tau);
    ``step(adc_i, adc_vbus, enc_count, temp_motor_c, temp_fet_c)`` runs one
    current-loop period and returns the fault bits; ``run(...)`` runs many
    periods in C without the GIL. An invalid config raises ValueError naming
    the field; the C controller then holds the CONFIG fault and its output
    stays in the safe state.
    """
    cdef mf_ctrl_t s
    cdef mf_ctrl_config_t c

    def __init__(self, config):
        cdef const char *bad
        cdef dict d = _ctrl_config_dict(config)
        self.c = d
        bad = mf_ctrl_config_problem(&self.c)
        mf_ctrl_init(&self.s, &self.c)
        if bad != NULL:
            field = bad.decode()
            if field in ("current", "estimator", "motion", "muscle", "protect"):
                raise ValueError(f"CtrlConfig.{field} is invalid: {d[field]!r} "
                                 f"(see actuators/core/mf_{field}.h for each field's range)")
            raise ValueError(f"CtrlConfig.{field} = {d.get(field)!r} is out of range "
                             f"(see actuators/core/mf_ctrl.h)")

    def config_bytes(self) -> bytes:
        """The validated mf_ctrl_config_t as raw bytes (for the closed-loop simulator)."""
        return (<char *>&self.c)[:sizeof(mf_ctrl_config_t)]

    @property
    def config(self) -> dict:
        """The C config as a nested dict (what the core runs with)."""
        return self.c

    def command(self, mode, **fields) -> int:
        """Set the command; returns 0, or raises ValueError when the core refuses it.
        mode: a number or a name of MODE_NAMES; in mode "inject" the field
        inject=dict(kind=..., amp=..., ...) (mf_inject_config_t fields)."""
        cdef mf_ctrl_cmd_t m
        cdef int rc
        cdef int mode_n = _mode_number(mode)
        inject = fields.pop("inject", None)
        if mode_n < 0 or mode_n >= MF_MODE_COUNT:
            raise ValueError(f"mode {mode} is not a mode (0..{MF_MODE_COUNT - 1})")
        _fill_cmd(&m, mode_n, fields)
        if inject is not None:
            m.inject = _inject_config_dict(inject)
        elif mode_n == MF_MODE_INJECT:
            raise ValueError("mode inject needs inject=dict(kind=..., ...) (mf_inject_config_t fields)")
        rc = mf_ctrl_command(&self.s, &self.c, &m)
        if rc != 0:
            raise ValueError(f"command {fields} in mode {mode} {_CMD_STATUS.get(rc, rc)}")
        return rc

    def step(self, adc_i, int adc_vbus, unsigned int enc_count, float temp_motor_c=25.0,
             float temp_fet_c=25.0):
        """One current-loop period; returns the latched fault bits."""
        cdef mf_ctrl_sense_t inp
        cdef mf_ctrl_pwm_t out
        inp.adc_i[0] = adc_i[0]
        inp.adc_i[1] = adc_i[1]
        inp.adc_i[2] = adc_i[2]
        inp.adc_vbus = adc_vbus
        inp.enc_count = enc_count
        inp.temp_motor_c = temp_motor_c
        inp.temp_fet_c = temp_fet_c
        return mf_ctrl_step(&self.s, &self.c, &inp, &out)

    def run(self, adc_i, adc_vbus, enc_count, temp_motor_c, temp_fet_c):
        """n current-loop periods over arrays (adc_i (n, 3) counts, the rest (n,)),
        in C without the GIL. Returns (duty (n, 3) float32, pwm_enable (n,) bool,
        fault bits after the last step)."""
        cdef Py_ssize_t n
        cdef mf_ctrl_sense_t *inp = _ctrl_sense_array(adc_i, adc_vbus, enc_count, temp_motor_c,
                                                      temp_fet_c, &n)
        cdef mf_ctrl_pwm_t *out = <mf_ctrl_pwm_t *>malloc(max(n, 1) * sizeof(mf_ctrl_pwm_t))
        cdef cnp.ndarray[cnp.float32_t, ndim=2] duty = np.empty((n, 3), dtype=np.float32)
        cdef cnp.ndarray[cnp.uint8_t, ndim=1] en = np.empty(n, dtype=np.uint8)
        cdef Py_ssize_t k
        cdef uint32_t faults = self.s.prot.faults
        if out == NULL:
            free(inp)
            raise MemoryError()
        try:
            with nogil:
                faults = mf_ctrl_run(&self.s, &self.c, inp, out, <uint32_t>n)
                for k in range(n):
                    duty[k, 0] = out[k].duty[0]
                    duty[k, 1] = out[k].duty[1]
                    duty[k, 2] = out[k].duty[2]
                    en[k] = out[k].pwm_enable
        finally:
            free(inp)
            free(out)
        return duty, en.astype(bool), faults

    def run_repeat(self, adc_i, adc_vbus, enc_count, temp_motor_c, temp_fet_c, int repeats) -> int:
        """Benchmark entry point: the m periods of the arrays (as for run())
        run ``repeats`` times over, with no output kept (mf_ctrl_run with
        out = NULL), so the time is the core's alone. Returns the fault bits
        after the last step."""
        cdef Py_ssize_t n, r
        cdef mf_ctrl_sense_t *inp
        cdef uint32_t faults = self.s.prot.faults
        if repeats < 0:
            raise ValueError(f"repeats = {repeats} must be >= 0")
        inp = _ctrl_sense_array(adc_i, adc_vbus, enc_count, temp_motor_c, temp_fet_c, &n)
        try:
            with nogil:
                for r in range(repeats):
                    faults = mf_ctrl_run(&self.s, &self.c, inp, NULL, <uint32_t>n)
        finally:
            free(inp)
        return faults

    def clear_faults(self) -> int:
        """Clear the faults whose cause is gone; returns the bits that remain."""
        return mf_ctrl_clear_faults(&self.s, &self.c)

    def estop(self) -> None:
        """Latch an emergency stop."""
        mf_ctrl_estop(&self.s)

    @property
    def faults(self) -> int:
        return self.s.prot.faults

    @property
    def first_fault(self) -> int:
        return self.s.prot.first_fault

    @property
    def mode(self) -> int:
        """The mode the last step ran."""
        return self.s.active_mode

    @property
    def commanded_mode(self) -> int:
        return self.s.cmd.mode

    @property
    def cmd_rejects(self) -> int:
        return self.s.cmd_rejects

    @property
    def step_count(self) -> int:
        return self.s.step_count

    @property
    def i_q_cog(self) -> float:
        """Cogging feed-forward current in i_q_ref, A (torque modes)."""
        return self.s.i_q_cog

    def inject_result(self) -> dict:
        """The injection's time base and results (mf_inject_t; valid when done)."""
        cdef mf_inject_t *j = &self.s.inject
        return {"t_s": j.t_s, "theta_e": j.theta_e, "k": j.k, "n": j.n, "n_window": j.n_window,
                "n_bad": j.n_bad, "done": bool(j.done),
                "v_d_mean": j.v_d_mean, "v_q_mean": j.v_q_mean,
                "i_d_mean": j.i_d_mean, "i_q_mean": j.i_q_mean,
                "v_d_rotor_mean": j.v_d_rotor_mean, "v_q_rotor_mean": j.v_q_rotor_mean,
                "i_d_rotor_mean": j.i_d_rotor_mean, "i_q_rotor_mean": j.i_q_rotor_mean,
                "omega_e_mean": j.omega_e_mean, "theta_err_mean": j.theta_err_mean,
                "v_c": j.v_c, "v_s": j.v_s, "i_c": j.i_c, "i_s": j.i_s,
                "theta_cmd_turned": j.theta_cmd_turned, "theta_enc_turned": j.theta_enc_turned}

    @property
    def kt_nm_a(self) -> float:
        """Motor torque constant 1.5 p flux, N m/A."""
        return self.s.kt_nm_a

    @property
    def duty(self):
        return (self.s.pwm.duty[0], self.s.pwm.duty[1], self.s.pwm.duty[2])

    @property
    def pwm_enable(self) -> bool:
        return self.s.pwm.pwm_enable

    @property
    def derate(self) -> float:
        return self.s.prot.derate

    def signals(self) -> dict:
        """The last step's signals (SI; p/v/tau on the output side)."""
        mf_ctrl_refresh_outputs(&self.s, &self.c)
        return {
            "i_abc": (self.s.i_abc[0], self.s.i_abc[1], self.s.i_abc[2]),
            "i_d": self.s.i_d, "i_q": self.s.i_q,
            "i_d_ref": self.s.i_d_ref, "i_q_ref": self.s.i_q_ref,
            "v_d": self.s.cur.v_d, "v_q": self.s.cur.v_q,
            "v_bus": self.s.v_bus,
            "theta_e": self.s.est.theta_e, "theta_m": self.s.est.theta_m,
            "omega_m": self.s.est.omega_m, "omega_e": self.s.est.omega_e,
            "p_out": self.s.p_out, "v_out": self.s.v_out,
            "tau_out_ref": self.s.tau_out_ref, "tau_out_est": self.s.tau_out_est,
            "temp_motor_c": self.s.temp_motor_c, "temp_fet_c": self.s.temp_fet_c,
        }


__all__ += ["Controller", "INJECT_AXES", "INJECT_KINDS", "MODE_CURRENT", "MODE_IDLE", "MODE_IMPEDANCE",
            "MODE_INJECT", "MODE_MUSCLE", "MODE_NAMES", "MODE_POSITION", "MODE_VELOCITY", "MODE_VOLTAGE"]
