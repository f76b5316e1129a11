# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin binding of the C plant (mf_plant.h): one cdef class and batch runs.

No physics here: the C steps the plant; the loops over input rows run in C
without the GIL and copy the plant's outputs into numpy arrays.
"""
from libc.stdint cimport int32_t, uint16_t, uint32_t, uint64_t, uint8_t

import numpy as np

cdef extern from "mf_ctrl.h":
    ctypedef struct mf_ctrl_sense_t:
        uint16_t adc_i[3]
        uint16_t adc_vbus
        uint32_t enc_count
        float temp_motor_c
        float temp_fet_c

cdef extern from "mf_plant.h":
    enum:
        MF_PLANT_COG_MAX
        MF_OK
    ctypedef struct mf_plant_params_t:
        double r_ohm
        double r_temp_coeff_per_k
        double ld_h
        double lq_h
        double flux_wb
        uint32_t pole_pairs
        double j_kgm2
        double b_nms_per_rad
        double tau_coulomb_nm
        double omega_coulomb_rad_s
        uint32_t cog_n_per_rev
        double cog_amp_nm[MF_PLANT_COG_MAX]
        double cog_phase_rad[MF_PLANT_COG_MAX]
        double v_bus_v
        double dead_time_s
        double dead_time_i_band_a
        double r_on_ohm
        double gear_ratio
        double gear_efficiency
        double gear_backlash_rad
        bint tendon_enabled
        double tendon_k_nm_per_rad
        double tendon_c_nms_per_rad
        double load_j_kgm2
        double load_b_nms_per_rad
        double load_k_nm_per_rad
        double load_theta0_rad
        double load_tau_ext_nm
        double temp_ambient_c
        double temp_init_c
        double th_c_winding_j_per_k
        double th_r_winding_housing_k_per_w
        double th_c_housing_j_per_k
        double th_r_housing_ambient_k_per_w
        double th_c_fet_j_per_k
        double th_r_fet_ambient_k_per_w
        uint32_t adc_bits
        double adc_i_a_per_count
        double adc_i_offset_counts
        double adc_noise_a
        double adc_vbus_v_per_count
        double adc_vbus_noise_v
        uint32_t enc_counts_per_rev
        double enc_offset_counts
        int32_t enc_direction
        double enc_latency_s
    ctypedef struct mf_plant_t:
        double i_d, i_q, theta_m, omega_m, theta_l, omega_l
        double temp_winding_c, temp_housing_c, temp_fet_c
        double t_s
        uint64_t step_count
        bint i_off
        bint coasting
        double v_bus_v, tau_ext_nm
        double i_abc[3]
        double v_abc[3]
        double v_d, v_q, tau_e, tau_fric_nm, tau_cog_nm, tau_out_nm
        double theta_out_rad, omega_out_rad_s, p_cu_w, p_fet_w
        uint32_t n_sub
    int mf_plant_params_check(const mf_plant_params_t *p, const char **bad_field) nogil
    int mf_plant_init(mf_plant_t *s, const mf_plant_params_t *p, uint64_t seed) nogil
    void mf_plant_sync(mf_plant_t *s, const mf_plant_params_t *p) nogil
    void mf_plant_step_voltage(mf_plant_t *s, const mf_plant_params_t *p,
                               const double *v_abc, double dt_s) nogil
    void mf_plant_step_pwm(mf_plant_t *s, const mf_plant_params_t *p,
                           const float *duty, bint pwm_enable, double dt_s) nogil
    void mf_plant_sense(mf_plant_t *s, const mf_plant_params_t *p, mf_ctrl_sense_t *out) nogil
    int mf_plant_is_finite(const mf_plant_t *s) nogil
    double mf_plant_randn(mf_plant_t *s) nogil
    void mf_plant_seed(mf_plant_t *s, uint64_t seed) nogil

PARAM_FIELDS = ("r_ohm", "r_temp_coeff_per_k", "ld_h", "lq_h", "flux_wb", "pole_pairs", "j_kgm2", "b_nms_per_rad", "tau_coulomb_nm", "omega_coulomb_rad_s", "cog_n_per_rev", "cog_amp_nm", "cog_phase_rad", "v_bus_v", "dead_time_s", "dead_time_i_band_a", "r_on_ohm", "gear_ratio", "gear_efficiency", "gear_backlash_rad", "tendon_enabled", "tendon_k_nm_per_rad", "tendon_c_nms_per_rad", "load_j_kgm2", "load_b_nms_per_rad", "load_k_nm_per_rad", "load_theta0_rad", "load_tau_ext_nm", "temp_ambient_c", "temp_init_c", "th_c_winding_j_per_k", "th_r_winding_housing_k_per_w", "th_c_housing_j_per_k", "th_r_housing_ambient_k_per_w", "th_c_fet_j_per_k", "th_r_fet_ambient_k_per_w", "adc_bits", "adc_i_a_per_count", "adc_i_offset_counts", "adc_noise_a", "adc_vbus_v_per_count", "adc_vbus_noise_v", "enc_counts_per_rev", "enc_offset_counts", "enc_direction", "enc_latency_s")
COG_MAX = MF_PLANT_COG_MAX

STATE_FIELDS = ("i_d", "i_q", "theta_m", "omega_m", "theta_l", "omega_l",
                "temp_winding_c", "temp_housing_c", "temp_fet_c", "v_bus_v", "tau_ext_nm", "t_s")


cdef void _fill(mf_plant_params_t *p, dict d) except *:
    p.r_ohm = float(d['r_ohm'])
    p.r_temp_coeff_per_k = float(d['r_temp_coeff_per_k'])
    p.ld_h = float(d['ld_h'])
    p.lq_h = float(d['lq_h'])
    p.flux_wb = float(d['flux_wb'])
    p.pole_pairs = int(d['pole_pairs'])
    p.j_kgm2 = float(d['j_kgm2'])
    p.b_nms_per_rad = float(d['b_nms_per_rad'])
    p.tau_coulomb_nm = float(d['tau_coulomb_nm'])
    p.omega_coulomb_rad_s = float(d['omega_coulomb_rad_s'])
    p.cog_n_per_rev = int(d['cog_n_per_rev'])
    for k in range(MF_PLANT_COG_MAX):
        p.cog_amp_nm[k] = float(d['cog_amp_nm'][k])
    for k in range(MF_PLANT_COG_MAX):
        p.cog_phase_rad[k] = float(d['cog_phase_rad'][k])
    p.v_bus_v = float(d['v_bus_v'])
    p.dead_time_s = float(d['dead_time_s'])
    p.dead_time_i_band_a = float(d['dead_time_i_band_a'])
    p.r_on_ohm = float(d['r_on_ohm'])
    p.gear_ratio = float(d['gear_ratio'])
    p.gear_efficiency = float(d['gear_efficiency'])
    p.gear_backlash_rad = float(d['gear_backlash_rad'])
    p.tendon_enabled = bool(d['tendon_enabled'])
    p.tendon_k_nm_per_rad = float(d['tendon_k_nm_per_rad'])
    p.tendon_c_nms_per_rad = float(d['tendon_c_nms_per_rad'])
    p.load_j_kgm2 = float(d['load_j_kgm2'])
    p.load_b_nms_per_rad = float(d['load_b_nms_per_rad'])
    p.load_k_nm_per_rad = float(d['load_k_nm_per_rad'])
    p.load_theta0_rad = float(d['load_theta0_rad'])
    p.load_tau_ext_nm = float(d['load_tau_ext_nm'])
    p.temp_ambient_c = float(d['temp_ambient_c'])
    p.temp_init_c = float(d['temp_init_c'])
    p.th_c_winding_j_per_k = float(d['th_c_winding_j_per_k'])
    p.th_r_winding_housing_k_per_w = float(d['th_r_winding_housing_k_per_w'])
    p.th_c_housing_j_per_k = float(d['th_c_housing_j_per_k'])
    p.th_r_housing_ambient_k_per_w = float(d['th_r_housing_ambient_k_per_w'])
    p.th_c_fet_j_per_k = float(d['th_c_fet_j_per_k'])
    p.th_r_fet_ambient_k_per_w = float(d['th_r_fet_ambient_k_per_w'])
    p.adc_bits = int(d['adc_bits'])
    p.adc_i_a_per_count = float(d['adc_i_a_per_count'])
    p.adc_i_offset_counts = float(d['adc_i_offset_counts'])
    p.adc_noise_a = float(d['adc_noise_a'])
    p.adc_vbus_v_per_count = float(d['adc_vbus_v_per_count'])
    p.adc_vbus_noise_v = float(d['adc_vbus_noise_v'])
    p.enc_counts_per_rev = int(d['enc_counts_per_rev'])
    p.enc_offset_counts = float(d['enc_offset_counts'])
    p.enc_direction = int(d['enc_direction'])
    p.enc_latency_s = float(d['enc_latency_s'])


cdef inline void _record(mf_plant_t *s, Py_ssize_t k, double[:, ::1] f, double[:, ::1] i_abc,
                         double[:, ::1] v_abc) noexcept nogil:
    cdef int x
    for x in range(3):
        i_abc[k, x] = s.i_abc[x]
        v_abc[k, x] = s.v_abc[x]
    f[k, 0] = s.t_s
    f[k, 1] = s.i_d
    f[k, 2] = s.i_q
    f[k, 3] = s.omega_m
    f[k, 4] = s.theta_m
    f[k, 5] = s.tau_e
    f[k, 6] = s.tau_out_nm
    f[k, 7] = s.theta_l
    f[k, 8] = s.omega_l
    f[k, 9] = s.temp_winding_c
    f[k, 10] = s.temp_housing_c
    f[k, 11] = s.temp_fet_c
    f[k, 12] = s.tau_fric_nm
    f[k, 13] = s.tau_cog_nm
    f[k, 14] = s.v_d
    f[k, 15] = s.v_q
    f[k, 16] = s.p_cu_w


RECORD_FIELDS = ("t_s", "i_d", "i_q", "omega_m", "theta_m", "tau_e", "tau_out_nm", "theta_load",
                 "omega_load", "temp_winding_c", "temp_housing_c", "temp_fet_c", "tau_fric_nm",
                 "tau_cog_nm", "v_d", "v_q", "p_cu_w")


cdef inline void _sense(mf_plant_t *s, const mf_plant_params_t *p, Py_ssize_t k,
                        uint16_t[:, ::1] adc_i, uint16_t[::1] adc_vbus, uint32_t[::1] enc,
                        float[:, ::1] temps) noexcept nogil:
    cdef mf_ctrl_sense_t out
    mf_plant_sense(s, p, &out)
    adc_i[k, 0] = out.adc_i[0]
    adc_i[k, 1] = out.adc_i[1]
    adc_i[k, 2] = out.adc_i[2]
    adc_vbus[k] = out.adc_vbus
    enc[k] = out.enc_count
    temps[k, 0] = out.temp_motor_c
    temps[k, 1] = out.temp_fet_c


cdef class PlantCore:
    """One mf_plant_t and its mf_plant_params_t (field names as in mf_plant.h)."""

    cdef mf_plant_params_t p
    cdef mf_plant_t s
    cdef uint64_t seed

    def __init__(self, dict params, uint64_t seed=0):
        cdef const char *bad = NULL
        _fill(&self.p, params)
        if mf_plant_params_check(&self.p, &bad) != MF_OK:
            name = bad.decode() if bad != NULL else "params"
            raise ValueError(f"plant parameter {name} out of range (see mf_plant.h)")
        self.seed = seed
        if mf_plant_init(&self.s, &self.p, seed) != MF_OK:
            raise ValueError("mf_plant_init refused the parameters")

    def params_bytes(self) -> bytes:
        """The validated mf_plant_params_t as raw bytes (for the closed-loop simulator)."""
        return (<char *>&self.p)[:sizeof(mf_plant_params_t)]

    def reset(self, seed=None):
        """State at rest and the generator from seed (default: the last seed)."""
        if seed is not None:
            self.seed = seed
        mf_plant_init(&self.s, &self.p, self.seed)

    def get_state(self):
        """The state fields, SI units (STATE_FIELDS)."""
        s = self.s
        return {"i_d": s.i_d, "i_q": s.i_q, "theta_m": s.theta_m, "omega_m": s.omega_m,
                "theta_l": s.theta_l, "omega_l": s.omega_l,
                "temp_winding_c": s.temp_winding_c, "temp_housing_c": s.temp_housing_c,
                "temp_fet_c": s.temp_fet_c, "v_bus_v": s.v_bus_v, "tau_ext_nm": s.tau_ext_nm,
                "t_s": s.t_s}

    def set_state(self, **fields):
        """Write state fields (names as STATE_FIELDS) and resync the caches."""
        for name, value in fields.items():
            if name not in STATE_FIELDS:
                raise ValueError(f"unknown plant state field {name!r}; one of {STATE_FIELDS}")
            v = float(value)
            if v != v or v in (float("inf"), float("-inf")):
                raise ValueError(f"plant state {name} must be finite, got {value!r}")
            if name == "i_d": self.s.i_d = v
            elif name == "i_q": self.s.i_q = v
            elif name == "theta_m": self.s.theta_m = v
            elif name == "omega_m": self.s.omega_m = v
            elif name == "theta_l": self.s.theta_l = v
            elif name == "omega_l": self.s.omega_l = v
            elif name == "temp_winding_c": self.s.temp_winding_c = v
            elif name == "temp_housing_c": self.s.temp_housing_c = v
            elif name == "temp_fet_c": self.s.temp_fet_c = v
            elif name == "v_bus_v": self.s.v_bus_v = v
            elif name == "tau_ext_nm": self.s.tau_ext_nm = v
            elif name == "t_s": self.s.t_s = v
        self.s.i_off = False
        mf_plant_sync(&self.s, &self.p)

    @property
    def step_count(self):
        return self.s.step_count

    @property
    def n_sub(self):
        """RK4 sub-steps of the last step."""
        return self.s.n_sub

    def randn(self, Py_ssize_t n):
        """n standard normals from the plant's generator (float64)."""
        out = np.empty(n, dtype=np.float64)
        cdef double[::1] o = out
        cdef Py_ssize_t k
        with nogil:
            for k in range(n):
                o[k] = mf_plant_randn(&self.s)
        return out

    def run_voltages(self, v_abc, double dt_s, bint sense=False):
        """Step once per row of v_abc (n, 3) phase voltages, V, held over dt_s.

        Returns (n_done, floats (n, len(RECORD_FIELDS)), i_abc, v_abc_applied,
        adc_i, adc_vbus, enc_count, temps); n_done < n when the state stopped
        being finite at step n_done (0-based)."""
        cdef double[:, ::1] v = np.ascontiguousarray(v_abc, dtype=np.float64)
        return self._run(v, None, None, dt_s, sense, 0)

    def time_steps(self, v_abc, double dt_s, bint sense=False):
        """Step over the rows of v_abc without recording (for benchmarks); returns
        the number of steps done (fewer when the state stopped being finite)."""
        cdef double[:, ::1] v = np.ascontiguousarray(v_abc, dtype=np.float64)
        cdef Py_ssize_t k, n = v.shape[0], done = v.shape[0]
        cdef mf_ctrl_sense_t out
        with nogil:
            for k in range(n):
                mf_plant_step_voltage(&self.s, &self.p, &v[k, 0], dt_s)
                if sense:
                    mf_plant_sense(&self.s, &self.p, &out)
                if mf_plant_is_finite(&self.s) == 0:
                    done = k
                    break
        return done

    def run_pwm(self, duty, enable, double dt_s, bint sense=False):
        """Step once per row of duty (n, 3) in [0, 1] with enable (n,) through the inverter."""
        cdef float[:, ::1] d = np.ascontiguousarray(duty, dtype=np.float32)
        cdef uint8_t[::1] e = np.ascontiguousarray(enable, dtype=np.uint8)
        return self._run(None, d, e, dt_s, sense, 1)

    cdef _run(self, double[:, ::1] v, float[:, ::1] duty, uint8_t[::1] en, double dt_s,
              bint sense, int mode):
        cdef Py_ssize_t n = v.shape[0] if mode == 0 else duty.shape[0]
        if v is not None and v.shape[1] != 3 or duty is not None and duty.shape[1] != 3:
            raise ValueError("inputs must have shape (n, 3)")
        if mode == 1 and en.shape[0] != n:
            raise ValueError("enable must have shape (n,)")
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s!r}")
        f_arr = np.zeros((n, len(RECORD_FIELDS)), dtype=np.float64)
        i_arr = np.zeros((n, 3), dtype=np.float64)
        va_arr = np.zeros((n, 3), dtype=np.float64)
        ns = n if sense else 0
        adc_arr = np.zeros((ns, 3), dtype=np.uint16)
        vb_arr = np.zeros(ns, dtype=np.uint16)
        enc_arr = np.zeros(ns, dtype=np.uint32)
        t_arr = np.zeros((ns, 2), dtype=np.float32)
        cdef double[:, ::1] f = f_arr
        cdef double[:, ::1] ia = i_arr
        cdef double[:, ::1] vo = va_arr
        cdef uint16_t[:, ::1] adc = adc_arr
        cdef uint16_t[::1] vbus = vb_arr
        cdef uint32_t[::1] enc = enc_arr
        cdef float[:, ::1] temps = t_arr
        cdef Py_ssize_t k
        cdef Py_ssize_t done = n
        with nogil:
            for k in range(n):
                if mode == 0:
                    mf_plant_step_voltage(&self.s, &self.p, &v[k, 0], dt_s)
                else:
                    mf_plant_step_pwm(&self.s, &self.p, &duty[k, 0], en[k] != 0, dt_s)
                if mf_plant_is_finite(&self.s) == 0:
                    done = k
                    break
                _record(&self.s, k, f, ia, vo)
                if sense:
                    _sense(&self.s, &self.p, k, adc, vbus, enc, temps)
        return done, f_arr, i_arr, va_arr, adc_arr, vb_arr, enc_arr, t_arr

    def sense(self):
        """One sensor sample: (adc_i[3], adc_vbus, enc_count, temp_motor_c, temp_fet_c)."""
        cdef mf_ctrl_sense_t out
        mf_plant_sense(&self.s, &self.p, &out)
        return ((out.adc_i[0], out.adc_i[1], out.adc_i[2]), out.adc_vbus, out.enc_count,
                out.temp_motor_c, out.temp_fet_c)

    def outputs(self):
        """Last outputs of the C struct as a dict (SI units)."""
        s = self.s
        return {"i_abc": (s.i_abc[0], s.i_abc[1], s.i_abc[2]),
                "v_abc": (s.v_abc[0], s.v_abc[1], s.v_abc[2]),
                "v_d": s.v_d, "v_q": s.v_q, "tau_e": s.tau_e, "tau_fric_nm": s.tau_fric_nm,
                "tau_cog_nm": s.tau_cog_nm, "tau_out_nm": s.tau_out_nm,
                "theta_out_rad": s.theta_out_rad, "omega_out_rad_s": s.omega_out_rad_s,
                "p_cu_w": s.p_cu_w, "p_fet_w": s.p_fet_w, "i_off": bool(s.i_off),
                "coasting": bool(s.coasting)}
