# Binding of mf_pi.h and mf_current.h: the PI controller and the dq current
# controller. Thin: every computation is the C core's.

cdef extern from "mf_pi.h":
    ctypedef struct mf_pi_config_t:
        float kp
        float ki
    ctypedef struct mf_pi_t:
        float integral
        float p_term
        float out
        bint saturated
    int mf_pi_config_check(const mf_pi_config_t *c) nogil
    void mf_pi_reset(mf_pi_t *s) nogil
    float mf_pi_step(mf_pi_t *s, const mf_pi_config_t *c, float err, float ff,
                     float out_min, float out_max, float dt_s) nogil

cdef extern from "mf_current.h":
    ctypedef struct mf_current_config_t:
        mf_pi_config_t pi_d
        mf_pi_config_t pi_q
        float ld_h
        float lq_h
        float flux_wb
        bint decouple
        float v_max_frac
    ctypedef struct mf_current_t:
        mf_pi_t pi_d
        mf_pi_t pi_q
        float v_d
        float v_q
        bint limited
    int mf_current_config_check(const mf_current_config_t *c) nogil
    void mf_current_reset(mf_current_t *s) nogil
    void mf_current_step(mf_current_t *s, const mf_current_config_t *c,
                         float i_d_ref, float i_q_ref, float i_d, float i_q,
                         float omega_e, float v_bus, float dt_s) nogil


def _pi_range_error(str owner, dict fields, dict ranges):
    """Build the ValueError for the first field outside its allowed range."""
    for name, ok in ranges.items():
        if not ok(fields[name]):
            return ValueError(f"{owner}: {name} = {fields[name]:g} is out of range ({ok.__doc__})")
    return ValueError(f"{owner}: config rejected by the core: {fields!r}")


def _pi_nonneg(x):
    """finite and >= 0"""
    return bool(np.isfinite(x) and x >= 0.0)


def _pi_frac(x):
    """in (0, 1]"""
    return bool(0.0 < x <= 1.0)


def _pi_f32_1d(*values):
    """Broadcast array-likes/scalars to one 1-D shape; contiguous float32 copies."""
    arrays = np.broadcast_arrays(*[np.atleast_1d(np.asarray(v, dtype=np.float32)) for v in values])
    if arrays[0].ndim != 1:
        raise ValueError(f"batch inputs must broadcast to 1-D, got shape {arrays[0].shape}")
    return [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]


cdef class PI:
    """PI controller with anti-windup (mf_pi.h).

    kp: output units per error unit; ki: output units per (error unit * s).
    """
    cdef mf_pi_config_t c
    cdef mf_pi_t s

    def __init__(self, float kp, float ki):
        self.c.kp = kp
        self.c.ki = ki
        if mf_pi_config_check(&self.c) != 0:
            raise _pi_range_error("PI", {"kp": kp, "ki": ki},
                                  {"kp": _pi_nonneg, "ki": _pi_nonneg})
        mf_pi_reset(&self.s)

    def step(self, float err, float ff, float out_min, float out_max, float dt_s) -> float:
        """One step: error, feed-forward and limits in output units, dt_s in s. Returns out."""
        return mf_pi_step(&self.s, &self.c, err, ff, out_min, out_max, dt_s)

    def reset(self) -> None:
        """Clear the integrator and the logged terms."""
        mf_pi_reset(&self.s)

    @property
    def integral(self) -> float:
        """Integrator state, output units."""
        return self.s.integral

    @integral.setter
    def integral(self, float value):
        self.s.integral = value

    @property
    def p_term(self) -> float:
        """Last kp*err, output units."""
        return self.s.p_term

    @property
    def out(self) -> float:
        """Last output after the limits, output units."""
        return self.s.out

    @property
    def saturated(self) -> bool:
        """The last output was clamped."""
        return self.s.saturated


cdef class CurrentController:
    """dq current controller (mf_current.h): two PI, decoupling, voltage circle.

    kp_d, kp_q in V/A; ki_d, ki_q in V/(A s); ld_h, lq_h in H; flux_wb in Wb;
    v_max_frac: usable fraction of v_bus/sqrt(3), in (0, 1].
    """
    cdef mf_current_config_t c
    cdef mf_current_t s

    def __init__(self, float kp_d, float ki_d, float kp_q, float ki_q,
                 float ld_h=0.0, float lq_h=0.0, float flux_wb=0.0,
                 bint decouple=False, float v_max_frac=1.0):
        self.c.pi_d.kp = kp_d
        self.c.pi_d.ki = ki_d
        self.c.pi_q.kp = kp_q
        self.c.pi_q.ki = ki_q
        self.c.ld_h = ld_h
        self.c.lq_h = lq_h
        self.c.flux_wb = flux_wb
        self.c.decouple = decouple
        self.c.v_max_frac = v_max_frac
        if mf_current_config_check(&self.c) != 0:
            fields = {"kp_d": kp_d, "ki_d": ki_d, "kp_q": kp_q, "ki_q": ki_q, "ld_h": ld_h,
                      "lq_h": lq_h, "flux_wb": flux_wb, "v_max_frac": v_max_frac}
            ranges = {k: _pi_nonneg for k in fields}
            ranges["v_max_frac"] = _pi_frac
            raise _pi_range_error("CurrentController", fields, ranges)
        mf_current_reset(&self.s)

    def step(self, float i_d_ref, float i_q_ref, float i_d, float i_q, float omega_e,
             float v_bus, float dt_s) -> tuple:
        """One step: currents in A, omega_e in rad/s (electrical), v_bus in V, dt_s in s.

        Returns (v_d, v_q) in V.
        """
        mf_current_step(&self.s, &self.c, i_d_ref, i_q_ref, i_d, i_q, omega_e, v_bus, dt_s)
        return self.s.v_d, self.s.v_q

    def run(self, i_d_ref, i_q_ref, i_d, i_q, omega_e, v_bus, dt_s) -> tuple:
        """Steps over 1-D arrays (scalars broadcast), in order, GIL released.

        Units as step(). Returns (v_d, v_q), float32 arrays in V.
        """
        a = _pi_f32_1d(i_d_ref, i_q_ref, i_d, i_q, omega_e, v_bus, dt_s)
        cdef Py_ssize_t n = a[0].shape[0], k
        v_d = np.empty(n, dtype=np.float32)
        v_q = np.empty(n, dtype=np.float32)
        if n == 0:
            return v_d, v_q
        cdef float[::1] idr = a[0], iqr = a[1], idm = a[2], iqm = a[3], w = a[4]
        cdef float[::1] vb = a[5], dt = a[6], od = v_d, oq = v_q
        with nogil:
            for k in range(n):
                mf_current_step(&self.s, &self.c, idr[k], iqr[k], idm[k], iqm[k], w[k],
                                vb[k], dt[k])
                od[k] = self.s.v_d
                oq[k] = self.s.v_q
        return v_d, v_q

    def reset(self) -> None:
        """Clear both integrators and the outputs."""
        mf_current_reset(&self.s)

    @property
    def v_d(self) -> float:
        """Last d voltage, V."""
        return self.s.v_d

    @property
    def v_q(self) -> float:
        """Last q voltage, V."""
        return self.s.v_q

    @property
    def limited(self) -> bool:
        """The voltage circle clipped the last output."""
        return self.s.limited

    @property
    def integral_d(self) -> float:
        """d-axis integrator, V."""
        return self.s.pi_d.integral

    @property
    def integral_q(self) -> float:
        """q-axis integrator, V."""
        return self.s.pi_q.integral


__all__ += ["CurrentController", "PI"]
