# --- mf_foc: Clarke/Park transforms, SVPWM and dead-time compensation, vectorised.
# Currents in A, voltages in V, theta_e in rad (electrical), duties in [0, 1].
# Inputs broadcast against each other (scalars allowed) as float32; the loop
# runs in C without the GIL; results are float32 arrays of the broadcast shape.
# Uses _mf_f32_flat and mf_sincosf from _core_math.pxi.

cdef extern from "mf_foc.h":
    void mf_clarke3(float i_a, float i_b, float i_c, float *i_alpha_p, float *i_beta_p) nogil
    void mf_clarke2(float i_a, float i_b, float *i_alpha_p, float *i_beta_p) nogil
    void mf_inv_clarke(float v_alpha, float v_beta, float *v_a_p, float *v_b_p, float *v_c_p) nogil
    void mf_park(float alpha, float beta, float sin_e, float cos_e, float *d_p, float *q_p) nogil
    void mf_inv_park(float d, float q, float sin_e, float cos_e, float *alpha_p, float *beta_p) nogil
    bint mf_svpwm(float v_alpha, float v_beta, float v_bus,
                  float *d_a_p, float *d_b_p, float *d_c_p) nogil
    void mf_deadtime_comp(float *duty, const float *i_abc, float dead_frac, float i_band_a) nogil


def clarke(i_a, i_b, i_c):
    """Three-shunt amplitude-invariant Clarke: phase currents (A) -> (i_alpha, i_beta) (A)."""
    shape, (af, bf, cf) = _mf_f32_flat(i_a, i_b, i_c)
    cdef Py_ssize_t i, n = af.shape[0]
    al = np.empty(n, dtype=np.float32)
    be = np.empty(n, dtype=np.float32)
    cdef const float[::1] av = af
    cdef const float[::1] bv = bf
    cdef const float[::1] cv = cf
    cdef float[::1] alv = al
    cdef float[::1] bev = be
    with nogil:
        for i in range(n):
            mf_clarke3(av[i], bv[i], cv[i], &alv[i], &bev[i])
    return al.reshape(shape), be.reshape(shape)


def clarke2(i_a, i_b):
    """Two-shunt Clarke (i_c = -i_a - i_b): (i_a, i_b) (A) -> (i_alpha, i_beta) (A)."""
    shape, (af, bf) = _mf_f32_flat(i_a, i_b)
    cdef Py_ssize_t i, n = af.shape[0]
    al = np.empty(n, dtype=np.float32)
    be = np.empty(n, dtype=np.float32)
    cdef const float[::1] av = af
    cdef const float[::1] bv = bf
    cdef float[::1] alv = al
    cdef float[::1] bev = be
    with nogil:
        for i in range(n):
            mf_clarke2(av[i], bv[i], &alv[i], &bev[i])
    return al.reshape(shape), be.reshape(shape)


def inv_clarke(v_alpha, v_beta):
    """Inverse Clarke: (v_alpha, v_beta) -> phase quantities (a, b, c), same unit."""
    shape, (alf, bef) = _mf_f32_flat(v_alpha, v_beta)
    cdef Py_ssize_t i, n = alf.shape[0]
    a = np.empty(n, dtype=np.float32)
    b = np.empty(n, dtype=np.float32)
    c = np.empty(n, dtype=np.float32)
    cdef const float[::1] alv = alf
    cdef const float[::1] bev = bef
    cdef float[::1] av = a
    cdef float[::1] bv = b
    cdef float[::1] cv = c
    with nogil:
        for i in range(n):
            mf_inv_clarke(alv[i], bev[i], &av[i], &bv[i], &cv[i])
    return a.reshape(shape), b.reshape(shape), c.reshape(shape)


def park(i_alpha, i_beta, theta_e):
    """Park: (i_alpha, i_beta) (A) rotated by -theta_e (rad) -> (i_d, i_q) (A).

    sin/cos of theta_e come from the core's mf_sincosf, as on the MCU."""
    shape, (alf, bef, thf) = _mf_f32_flat(i_alpha, i_beta, theta_e)
    cdef Py_ssize_t i, n = alf.shape[0]
    cdef float s, c
    d = np.empty(n, dtype=np.float32)
    q = np.empty(n, dtype=np.float32)
    cdef const float[::1] alv = alf
    cdef const float[::1] bev = bef
    cdef const float[::1] thv = thf
    cdef float[::1] dv = d
    cdef float[::1] qv = q
    with nogil:
        for i in range(n):
            mf_sincosf(thv[i], &s, &c)
            mf_park(alv[i], bev[i], s, c, &dv[i], &qv[i])
    return d.reshape(shape), q.reshape(shape)


def inv_park(v_d, v_q, theta_e):
    """Inverse Park: (v_d, v_q) (V) rotated by theta_e (rad) -> (v_alpha, v_beta) (V)."""
    shape, (df, qf, thf) = _mf_f32_flat(v_d, v_q, theta_e)
    cdef Py_ssize_t i, n = df.shape[0]
    cdef float s, c
    al = np.empty(n, dtype=np.float32)
    be = np.empty(n, dtype=np.float32)
    cdef const float[::1] dv = df
    cdef const float[::1] qv = qf
    cdef const float[::1] thv = thf
    cdef float[::1] alv = al
    cdef float[::1] bev = be
    with nogil:
        for i in range(n):
            mf_sincosf(thv[i], &s, &c)
            mf_inv_park(dv[i], qv[i], s, c, &alv[i], &bev[i])
    return al.reshape(shape), be.reshape(shape)


def svpwm(v_alpha, v_beta, v_bus):
    """Space-vector PWM (min-max injection): (v_alpha, v_beta, v_bus) (V) -> (d_a, d_b, d_c).

    Linear up to the hexagon; beyond it the vector is scaled back onto the
    hexagon keeping its angle. v_bus <= 0 or non-finite inputs give 0.5."""
    shape, (alf, bef, vbf) = _mf_f32_flat(v_alpha, v_beta, v_bus)
    cdef Py_ssize_t i, n = alf.shape[0]
    d_a = np.empty(n, dtype=np.float32)
    d_b = np.empty(n, dtype=np.float32)
    d_c = np.empty(n, dtype=np.float32)
    cdef const float[::1] alv = alf
    cdef const float[::1] bev = bef
    cdef const float[::1] vbv = vbf
    cdef float[::1] av = d_a
    cdef float[::1] bv = d_b
    cdef float[::1] cv = d_c
    with nogil:
        for i in range(n):
            mf_svpwm(alv[i], bev[i], vbv[i], &av[i], &bv[i], &cv[i])
    return d_a.reshape(shape), d_b.reshape(shape), d_c.reshape(shape)


def deadtime_comp(duty, i_abc, dead_frac, i_band_a):
    """Dead-time compensation of duties (..., 3) by phase currents i_abc (..., 3) (A).

    Each duty moves by sign(i_x) * dead_frac (dead_frac = t_dead / T_pwm),
    ramped linearly for |i_x| < i_band_a (A); results clamped to [0, 1].
    dead_frac and i_band_a broadcast over the leading axes. Returns float32
    duties of the broadcast shape; the inputs are not modified."""
    arrays = np.broadcast_arrays(
        np.asarray(duty, dtype=np.float32),
        np.asarray(i_abc, dtype=np.float32),
        np.asarray(dead_frac, dtype=np.float32)[..., None],
        np.asarray(i_band_a, dtype=np.float32)[..., None],
    )
    shape = arrays[0].shape
    # (wraparound is off in this module: no negative indices)
    if len(shape) == 0 or shape[len(shape) - 1] != 3:
        raise ValueError(f"duty and i_abc need a last axis of length 3, got shape {shape}")
    out = np.array(arrays[0], dtype=np.float32, order="C", copy=True).reshape(-1, 3)
    i_f = np.ascontiguousarray(arrays[1], dtype=np.float32).reshape(-1, 3)
    df_f = np.ascontiguousarray(arrays[2][..., 0], dtype=np.float32).reshape(-1)
    bd_f = np.ascontiguousarray(arrays[3][..., 0], dtype=np.float32).reshape(-1)
    cdef Py_ssize_t k, n = out.shape[0]
    cdef float[:, ::1] ov = out
    cdef const float[:, ::1] iv = i_f
    cdef const float[::1] dfv = df_f
    cdef const float[::1] bdv = bd_f
    with nogil:
        for k in range(n):
            mf_deadtime_comp(&ov[k, 0], &iv[k, 0], dfv[k], bdv[k])
    return out.reshape(shape)


__all__ += ["clarke", "clarke2", "deadtime_comp", "inv_clarke", "inv_park", "park", "svpwm"]
