# Binding of mf_impedance.h, mf_motion.h and mf_muscle.h: the outer loops
# that turn a joint command into an output torque. Thin: the C core computes.
# Uses mf_pi_config_t / mf_pi_t and the _pi_* helpers of _core_pi.pxi.

cdef extern from "mf_impedance.h":
    ctypedef struct mf_impedance_cmd_t:
        float p_des
        float v_des
        float kp
        float kd
        float tau_ff
    ctypedef struct mf_impedance_t:
        float tau_spring
        float tau_damper
        float tau_out
    float mf_impedance_step(mf_impedance_t *s, const mf_impedance_cmd_t *cmd,
                            float p_out, float v_out, float tau_max_nm) nogil

cdef extern from "mf_motion.h":
    ctypedef struct mf_motion_config_t:
        mf_pi_config_t vel_pi
        float pos_kp
        float v_max_rad_s
    ctypedef struct mf_motion_t:
        mf_pi_t vel_pi
        float v_ref
        float tau_out
    int mf_motion_config_check(const mf_motion_config_t *c) nogil
    void mf_motion_reset(mf_motion_t *s) nogil
    float mf_velocity_step(mf_motion_t *s, const mf_motion_config_t *c, float v_ref,
                           float v_out, float tau_ff, float tau_max_nm, float dt_s) nogil
    float mf_position_step(mf_motion_t *s, const mf_motion_config_t *c, float p_ref,
                           float v_ff, float p_out, float v_out, float tau_ff,
                           float tau_max_nm, float dt_s) nogil

cdef extern from "mf_muscle.h":
    ctypedef struct mf_muscle_config_t:
        float f_max_n
        float l_opt_m
        float l_ref_m
        float moment_arm_m
        float v_max_lopt_s
        float width
        float curv
        float ecc
        float k_pe
        float tau_act_s
        float tau_deact_s
    ctypedef struct mf_muscle_t:
        float act[2]
        float force_n[2]
        float tau_out
    int mf_muscle_config_check(const mf_muscle_config_t *c) nogil
    void mf_muscle_reset(mf_muscle_t *s) nogil
    float mf_muscle_step(mf_muscle_t *s, const mf_muscle_config_t *c, float u_flex,
                         float u_ext, float p_out, float v_out, float tau_max_nm,
                         float dt_s) nogil


def _outer_pos(x):
    """finite and > 0"""
    return bool(np.isfinite(x) and x > 0.0)


def _outer_ge1(x):
    """finite and >= 1"""
    return bool(np.isfinite(x) and x >= 1.0)


def impedance(p_des, v_des, kp, kd, tau_ff, p_out, v_out, tau_max_nm):
    """MIT-mode impedance law, element-wise (mf_impedance.h).

    tau_out = kp (p_des - p_out) + kd (v_des - v_out) + tau_ff, saturated to
    +-tau_max_nm. Positions in rad, speeds in rad/s, kp in N m/rad, kd in
    N m s/rad, torques in N m (output side). Array-likes broadcast; returns a
    float32 array of the broadcast shape.
    """
    arrays = np.broadcast_arrays(*[np.asarray(x, dtype=np.float32) for x in
                                   (p_des, v_des, kp, kd, tau_ff, p_out, v_out, tau_max_nm)])
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a, dtype=np.float32).ravel() for a in arrays]
    cdef Py_ssize_t n = flat[0].shape[0], k
    tau = np.empty(n, dtype=np.float32)
    if n == 0:
        return tau.reshape(shape)
    cdef float[::1] pd = flat[0], vd = flat[1], kpv = flat[2], kdv = flat[3], ff = flat[4]
    cdef float[::1] p = flat[5], v = flat[6], tm = flat[7], out = tau
    cdef mf_impedance_cmd_t cmd
    cdef mf_impedance_t s
    with nogil:
        for k in range(n):
            cmd.p_des = pd[k]
            cmd.v_des = vd[k]
            cmd.kp = kpv[k]
            cmd.kd = kdv[k]
            cmd.tau_ff = ff[k]
            out[k] = mf_impedance_step(&s, &cmd, p[k], v[k], tm[k])
    return tau.reshape(shape)


cdef class Motion:
    """Velocity PI and cascaded position loop on the output side (mf_motion.h).

    kp in N m s/rad and ki in N m/rad (velocity PI), pos_kp in 1/s,
    v_max_rad_s: speed-reference limit of the position loop, rad/s.
    """
    cdef mf_motion_config_t c
    cdef mf_motion_t s

    def __init__(self, float kp, float ki, float pos_kp=0.0, float v_max_rad_s=1.0):
        self.c.vel_pi.kp = kp
        self.c.vel_pi.ki = ki
        self.c.pos_kp = pos_kp
        self.c.v_max_rad_s = v_max_rad_s
        if mf_motion_config_check(&self.c) != 0:
            raise _pi_range_error(
                "Motion", {"kp": kp, "ki": ki, "pos_kp": pos_kp, "v_max_rad_s": v_max_rad_s},
                {"kp": _pi_nonneg, "ki": _pi_nonneg, "pos_kp": _pi_nonneg,
                 "v_max_rad_s": _outer_pos})
        mf_motion_reset(&self.s)

    def velocity_step(self, float v_ref, float v_out, float tau_ff, float tau_max_nm,
                      float dt_s) -> float:
        """Velocity loop: speeds in rad/s, torques in N m, dt_s in s. Returns tau_out, N m."""
        return mf_velocity_step(&self.s, &self.c, v_ref, v_out, tau_ff, tau_max_nm, dt_s)

    def position_step(self, float p_ref, float v_ff, float p_out, float v_out, float tau_ff,
                      float tau_max_nm, float dt_s) -> float:
        """Position loop (rad) cascaded on the velocity loop. Returns tau_out, N m."""
        return mf_position_step(&self.s, &self.c, p_ref, v_ff, p_out, v_out, tau_ff,
                                tau_max_nm, dt_s)

    def reset(self) -> None:
        """Clear the velocity integrator and the outputs."""
        mf_motion_reset(&self.s)

    @property
    def v_ref(self) -> float:
        """Last speed reference, rad/s."""
        return self.s.v_ref

    @property
    def tau_out(self) -> float:
        """Last torque, N m."""
        return self.s.tau_out

    @property
    def integral(self) -> float:
        """Velocity-PI integrator, N m."""
        return self.s.vel_pi.integral

    @property
    def saturated(self) -> bool:
        """The last torque was clamped to +-tau_max_nm."""
        return self.s.vel_pi.saturated


_MUSCLE_RANGES = {
    "f_max_n": _outer_pos, "l_opt_m": _outer_pos, "l_ref_m": _outer_pos,
    "moment_arm_m": _outer_pos, "v_max_lopt_s": _outer_pos, "width": _outer_pos,
    "curv": _outer_pos, "ecc": _outer_ge1, "k_pe": _pi_nonneg, "tau_act_s": _outer_pos,
    "tau_deact_s": _outer_pos,
}


cdef class Muscle:
    """Hill-type flexor/extensor pair driving the joint (mf_muscle.h).

    f_max_n in N; l_opt_m, l_ref_m, moment_arm_m in m; v_max_lopt_s in l_opt/s;
    width, curv, ecc, k_pe dimensionless; tau_act_s, tau_deact_s in s.
    curv is Hill's a/F0 (= b/v_max) of the shortening hyperbola. Defaults:
    width 0.5, curv 0.25, ecc 1.5, no passive element, activation 10 ms and
    deactivation 40 ms.
    """
    cdef mf_muscle_config_t c
    cdef mf_muscle_t s

    def __init__(self, *, float f_max_n, float l_opt_m, float l_ref_m, float moment_arm_m,
                 float v_max_lopt_s, float width=0.5, float curv=0.25, float ecc=1.5,
                 float k_pe=0.0, float tau_act_s=0.01, float tau_deact_s=0.04):
        self.c.f_max_n = f_max_n
        self.c.l_opt_m = l_opt_m
        self.c.l_ref_m = l_ref_m
        self.c.moment_arm_m = moment_arm_m
        self.c.v_max_lopt_s = v_max_lopt_s
        self.c.width = width
        self.c.curv = curv
        self.c.ecc = ecc
        self.c.k_pe = k_pe
        self.c.tau_act_s = tau_act_s
        self.c.tau_deact_s = tau_deact_s
        if mf_muscle_config_check(&self.c) != 0:
            fields = self.c  # struct -> dict of the field values
            raise _pi_range_error("Muscle", fields, _MUSCLE_RANGES)
        mf_muscle_reset(&self.s)

    def step(self, float u_flex, float u_ext, float p_out, float v_out, float tau_max_nm,
             float dt_s) -> float:
        """One step: excitations in [0, 1], p_out in rad, v_out in rad/s, dt_s in s.

        Returns the pair torque in N m (positive = flexion), saturated to +-tau_max_nm.
        """
        return mf_muscle_step(&self.s, &self.c, u_flex, u_ext, p_out, v_out, tau_max_nm, dt_s)

    def run(self, u_flex, u_ext, p_out, v_out, tau_max_nm, dt_s):
        """Steps over 1-D arrays (scalars broadcast), in order, GIL released.

        Units as step(). Returns tau_out, a float32 array in N m.
        """
        a = _pi_f32_1d(u_flex, u_ext, p_out, v_out, tau_max_nm, dt_s)
        cdef Py_ssize_t n = a[0].shape[0], k
        tau = np.empty(n, dtype=np.float32)
        if n == 0:
            return tau
        cdef float[::1] uf = a[0], ue = a[1], p = a[2], v = a[3], tm = a[4], dt = a[5]
        cdef float[::1] out = tau
        with nogil:
            for k in range(n):
                out[k] = mf_muscle_step(&self.s, &self.c, uf[k], ue[k], p[k], v[k], tm[k], dt[k])
        return tau

    def reset(self) -> None:
        """Zero activations, forces and torque."""
        mf_muscle_reset(&self.s)

    @property
    def act(self) -> tuple:
        """Activations (flexor, extensor), in [0, 1]."""
        return (self.s.act[0], self.s.act[1])

    @property
    def force_n(self) -> tuple:
        """Last muscle forces (flexor, extensor), N."""
        return (self.s.force_n[0], self.s.force_n[1])

    @property
    def tau_out(self) -> float:
        """Last pair torque, N m, output side."""
        return self.s.tau_out


__all__ += ["Motion", "Muscle", "impedance"]
