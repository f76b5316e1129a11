# --- mf_math: the core's float32 sin/cos/atan2 and angle wrapping, vectorised.
# Angles in rad. Inputs are converted to float32 and broadcast against each
# other; the loop runs in C without the GIL; results are float32 arrays of the
# broadcast shape (0-d for scalar inputs).

cdef extern from "mf_math.h":
    float mf_sinf(float x) nogil
    float mf_cosf(float x) nogil
    void mf_sincosf(float x, float *sin_p, float *cos_p) nogil
    void mf_sincos_e(float x, float *sin_p, float *cos_p) nogil
    float mf_atan2f(float y, float x) nogil
    float mf_wrap_pif(float x) nogil
    float mf_wrap_2pif(float x) nogil


def _mf_f32_flat(*args):
    """Broadcast array-likes as float32; return (shape, [flat C-contiguous arrays])."""
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=np.float32) for a in args])
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a, dtype=np.float32).reshape(-1) for a in arrays]


def sin(x):
    """sin(x) by the core's mf_sinf; x in rad (array-like). Returns float32."""
    shape, (xf,) = _mf_f32_flat(x)
    cdef Py_ssize_t i, n = xf.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = mf_sinf(xv[i])
    return out.reshape(shape)


def cos(x):
    """cos(x) by the core's mf_cosf; x in rad (array-like). Returns float32."""
    shape, (xf,) = _mf_f32_flat(x)
    cdef Py_ssize_t i, n = xf.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = mf_cosf(xv[i])
    return out.reshape(shape)


def sincos(x):
    """(sin(x), cos(x)) by the core's mf_sincosf; x in rad. Returns two float32 arrays."""
    shape, (xf,) = _mf_f32_flat(x)
    cdef Py_ssize_t i, n = xf.shape[0]
    s_out = np.empty(n, dtype=np.float32)
    c_out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] sv = s_out
    cdef float[::1] cv = c_out
    with nogil:
        for i in range(n):
            mf_sincosf(xv[i], &sv[i], &cv[i])
    return s_out.reshape(shape), c_out.reshape(shape)


def sincos_e(theta_e):
    """(sin, cos) of an electrical angle theta_e in [0, 2 pi] rad by the
    current loop's table (mf_sincos_e; outside that range the polynomial of
    sincos). Returns two float32 arrays."""
    shape, (xf,) = _mf_f32_flat(theta_e)
    cdef Py_ssize_t i, n = xf.shape[0]
    s_out = np.empty(n, dtype=np.float32)
    c_out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] sv = s_out
    cdef float[::1] cv = c_out
    with nogil:
        for i in range(n):
            mf_sincos_e(xv[i], &sv[i], &cv[i])
    return s_out.reshape(shape), c_out.reshape(shape)


def atan2(y, x):
    """atan2(y, x) in [-pi, pi] rad by the core's mf_atan2f (atan2(0, 0) = 0). Returns float32."""
    shape, (yf, xf) = _mf_f32_flat(y, x)
    cdef Py_ssize_t i, n = xf.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef const float[::1] yv = yf
    cdef const float[::1] xv = xf
    cdef float[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = mf_atan2f(yv[i], xv[i])
    return out.reshape(shape)


def wrap_pi(x):
    """x (rad) wrapped to [-pi, pi) by the core's mf_wrap_pif. Returns float32."""
    shape, (xf,) = _mf_f32_flat(x)
    cdef Py_ssize_t i, n = xf.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = mf_wrap_pif(xv[i])
    return out.reshape(shape)


def wrap_2pi(x):
    """x (rad) wrapped to [0, 2 pi) by the core's mf_wrap_2pif. Returns float32."""
    shape, (xf,) = _mf_f32_flat(x)
    cdef Py_ssize_t i, n = xf.shape[0]
    out = np.empty(n, dtype=np.float32)
    cdef const float[::1] xv = xf
    cdef float[::1] ov = out
    with nogil:
        for i in range(n):
            ov[i] = mf_wrap_2pif(xv[i])
    return out.reshape(shape)


__all__ += ["atan2", "cos", "sin", "sincos", "sincos_e", "wrap_2pi", "wrap_pi"]
