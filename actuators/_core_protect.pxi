# Binding of mf_protect.h: protections (detect, latch, derate, clear).
# Thin: every computation is the C core's.

from libc.stdint cimport uint8_t, uint32_t, int32_t

cdef extern from "mf_protect.h":
    ctypedef struct mf_protect_config_t:
        float i_max_a
        float i_cont_a
        float tau_i2t_s
        float v_bus_max_v
        float v_bus_min_v
        float temp_derate_c
        float temp_max_c
        float temp_hyst_c
        float r_ohm
        float flux_wb
        float omega_e_stuck_rad_s
        float enc_stuck_s
        uint32_t enc_jump_counts
        float cmd_timeout_s
        uint8_t safe_state
    ctypedef struct mf_protect_input_t:
        float v_bus
        float i_abc[3]
        float i_d
        float i_q
        float v_q
        float temp_motor_c
        float temp_fet_c
        int32_t enc_delta_counts
        bint armed
    ctypedef struct mf_protect_t:
        uint32_t faults
        uint32_t first_fault
        float i2t
        float i2t_comp
        float derate
        float since_cmd_s
        float enc_still_s
        float omega_e_emf
        bint fed_since_timeout
    int mf_protect_config_check(const mf_protect_config_t *c) nogil
    void mf_protect_reset(mf_protect_t *s) nogil
    uint32_t mf_protect_step(mf_protect_t *s, const mf_protect_config_t *c,
                             const mf_protect_input_t *inp, float dt_s) nogil
    void mf_protect_feed(mf_protect_t *s) nogil
    void mf_protect_trip(mf_protect_t *s, uint32_t fault_bits) nogil
    uint32_t mf_protect_clear(mf_protect_t *s, const mf_protect_config_t *c,
                              const mf_protect_input_t *inp) nogil
    uint32_t MF_FAULT_OVERCURRENT
    uint32_t MF_FAULT_I2T
    uint32_t MF_FAULT_OVERVOLTAGE
    uint32_t MF_FAULT_UNDERVOLTAGE
    uint32_t MF_FAULT_OVERTEMP
    uint32_t MF_FAULT_ENCODER
    uint32_t MF_FAULT_CMD_TIMEOUT
    uint32_t MF_FAULT_BAD_INPUT
    uint32_t MF_FAULT_CONFIG
    uint32_t MF_FAULT_ESTOP
    uint32_t MF_FAULT_ALL
    float MF_PROTECT_I2T_CLEAR_FRAC


FAULT_OVERCURRENT = MF_FAULT_OVERCURRENT
FAULT_I2T = MF_FAULT_I2T
FAULT_OVERVOLTAGE = MF_FAULT_OVERVOLTAGE
FAULT_UNDERVOLTAGE = MF_FAULT_UNDERVOLTAGE
FAULT_OVERTEMP = MF_FAULT_OVERTEMP
FAULT_ENCODER = MF_FAULT_ENCODER
FAULT_CMD_TIMEOUT = MF_FAULT_CMD_TIMEOUT
FAULT_BAD_INPUT = MF_FAULT_BAD_INPUT
FAULT_CONFIG = MF_FAULT_CONFIG
FAULT_ESTOP = MF_FAULT_ESTOP
FAULT_ALL = MF_FAULT_ALL
I2T_CLEAR_FRAC = MF_PROTECT_I2T_CLEAR_FRAC

_PROT_FAULT_NAMES = (
    (MF_FAULT_OVERCURRENT, "overcurrent"),
    (MF_FAULT_I2T, "i2t"),
    (MF_FAULT_OVERVOLTAGE, "overvoltage"),
    (MF_FAULT_UNDERVOLTAGE, "undervoltage"),
    (MF_FAULT_OVERTEMP, "overtemp"),
    (MF_FAULT_ENCODER, "encoder"),
    (MF_FAULT_CMD_TIMEOUT, "cmd_timeout"),
    (MF_FAULT_BAD_INPUT, "bad_input"),
    (MF_FAULT_CONFIG, "config"),
    (MF_FAULT_ESTOP, "estop"),
)

_PROT_SAFE_STATES = {"coast": 0, "brake": 1}


def fault_names(bits: int) -> list:
    """Names of the set fault bits, lowest bit first (unknown bits as 'bit<n>')."""
    bits = int(bits)
    names = [name for bit, name in _PROT_FAULT_NAMES if bits & bit]
    rest = bits & ~int(MF_FAULT_ALL)
    n = 0
    while rest:
        if rest & 1:
            names.append(f"bit{n}")
        rest >>= 1
        n += 1
    return names


def _prot_finite(x):
    return bool(np.isfinite(x))


# field -> (predicate on the whole field dict, allowed range text), in header order.
_PROT_RANGES = (
    ("i_max_a", lambda f: _prot_finite(f["i_max_a"]) and f["i_max_a"] > 0, "finite, > 0 A"),
    ("i_cont_a", lambda f: _prot_finite(f["i_cont_a"]) and 0 < f["i_cont_a"] <= f["i_max_a"],
     "(0, i_max_a] A"),
    ("tau_i2t_s", lambda f: _prot_finite(f["tau_i2t_s"]) and f["tau_i2t_s"] > 0, "finite, > 0 s"),
    ("v_bus_min_v", lambda f: _prot_finite(f["v_bus_min_v"]) and f["v_bus_min_v"] > 0,
     "finite, > 0 V"),
    ("v_bus_max_v", lambda f: _prot_finite(f["v_bus_max_v"]) and f["v_bus_max_v"] > f["v_bus_min_v"],
     "finite, > v_bus_min_v"),
    ("temp_derate_c", lambda f: _prot_finite(f["temp_derate_c"]), "finite degC"),
    ("temp_max_c", lambda f: _prot_finite(f["temp_max_c"]) and f["temp_max_c"] > f["temp_derate_c"],
     "finite, > temp_derate_c"),
    ("temp_hyst_c", lambda f: _prot_finite(f["temp_hyst_c"]) and f["temp_hyst_c"] >= 0,
     "finite, >= 0 degC"),
    ("r_ohm", lambda f: _prot_finite(f["r_ohm"]) and f["r_ohm"] >= 0, "finite, >= 0 ohm"),
    ("flux_wb", lambda f: _prot_finite(f["flux_wb"]) and f["flux_wb"] > 0, "finite, > 0 Wb"),
    ("omega_e_stuck_rad_s",
     lambda f: _prot_finite(f["omega_e_stuck_rad_s"]) and f["omega_e_stuck_rad_s"] > 0,
     "finite, > 0 rad/s"),
    ("enc_stuck_s", lambda f: _prot_finite(f["enc_stuck_s"]) and f["enc_stuck_s"] > 0,
     "finite, > 0 s"),
    ("enc_jump_counts", lambda f: 1 <= f["enc_jump_counts"] < 2 ** 32, "[1, 2^32) counts"),
    ("cmd_timeout_s", lambda f: _prot_finite(f["cmd_timeout_s"]) and f["cmd_timeout_s"] > 0,
     "finite, > 0 s"),
    ("safe_state", lambda f: f["safe_state"] in (0, 1), "0/'coast' or 1/'brake'"),
)


def _prot_range_error(dict fields):
    """ValueError naming the first mf_protect_config_t field out of range."""
    for name, ok, text in _PROT_RANGES:
        if not ok(fields):
            return ValueError(f"Protect: {name} = {fields[name]!r} is out of range ({text})")
    return ValueError(f"Protect: config rejected by the core: {fields!r}")


cdef int _prot_fill_input(mf_protect_input_t *inp, v_bus, i_abc, i_d, i_q, v_q, temp_motor_c,
                          temp_fet_c, enc_delta_counts, armed) except -1:
    ia = np.asarray(i_abc, dtype=np.float64).reshape(-1)
    if ia.shape[0] != 3:
        raise ValueError(f"i_abc must hold 3 phase currents, got {ia.shape[0]}")
    d = int(enc_delta_counts)
    if not -2 ** 31 <= d < 2 ** 31:
        raise ValueError(f"enc_delta_counts = {d} is outside int32")
    inp.v_bus = v_bus
    inp.i_abc[0] = ia[0]
    inp.i_abc[1] = ia[1]
    inp.i_abc[2] = ia[2]
    inp.i_d = i_d
    inp.i_q = i_q
    inp.v_q = v_q
    inp.temp_motor_c = temp_motor_c
    inp.temp_fet_c = temp_fet_c
    inp.enc_delta_counts = d
    inp.armed = bool(armed)
    return 0


cdef class Protect:
    """Protections (mf_protect.h): trip, latch, derate, clear.

    Config fields as keywords with the C names and units: i_max_a, i_cont_a (A),
    tau_i2t_s (s), v_bus_max_v, v_bus_min_v (V), temp_derate_c, temp_max_c,
    temp_hyst_c (degC), r_ohm (ohm), flux_wb (Wb), omega_e_stuck_rad_s (rad/s),
    enc_stuck_s (s), enc_jump_counts (counts), cmd_timeout_s (s), safe_state
    (0/'coast' or 1/'brake').
    """
    cdef mf_protect_config_t c
    cdef mf_protect_t s
    cdef mf_protect_input_t inp

    def __init__(self, *, i_max_a, i_cont_a, tau_i2t_s, v_bus_max_v, v_bus_min_v,
                 temp_derate_c, temp_max_c, temp_hyst_c, r_ohm, flux_wb, omega_e_stuck_rad_s,
                 enc_stuck_s, enc_jump_counts, cmd_timeout_s, safe_state=0):
        if isinstance(safe_state, str):
            if safe_state not in _PROT_SAFE_STATES:
                raise ValueError(f"Protect: safe_state = {safe_state!r} is out of range "
                                 f"('coast' or 'brake')")
            safe_state = _PROT_SAFE_STATES[safe_state]
        fields = {"i_max_a": float(i_max_a), "i_cont_a": float(i_cont_a),
                  "tau_i2t_s": float(tau_i2t_s), "v_bus_max_v": float(v_bus_max_v),
                  "v_bus_min_v": float(v_bus_min_v), "temp_derate_c": float(temp_derate_c),
                  "temp_max_c": float(temp_max_c), "temp_hyst_c": float(temp_hyst_c),
                  "r_ohm": float(r_ohm), "flux_wb": float(flux_wb),
                  "omega_e_stuck_rad_s": float(omega_e_stuck_rad_s),
                  "enc_stuck_s": float(enc_stuck_s), "enc_jump_counts": int(enc_jump_counts),
                  "cmd_timeout_s": float(cmd_timeout_s), "safe_state": int(safe_state)}
        if not (0 <= fields["enc_jump_counts"] < 2 ** 32 and 0 <= fields["safe_state"] < 256):
            raise _prot_range_error(fields)
        self.c.i_max_a = fields["i_max_a"]
        self.c.i_cont_a = fields["i_cont_a"]
        self.c.tau_i2t_s = fields["tau_i2t_s"]
        self.c.v_bus_max_v = fields["v_bus_max_v"]
        self.c.v_bus_min_v = fields["v_bus_min_v"]
        self.c.temp_derate_c = fields["temp_derate_c"]
        self.c.temp_max_c = fields["temp_max_c"]
        self.c.temp_hyst_c = fields["temp_hyst_c"]
        self.c.r_ohm = fields["r_ohm"]
        self.c.flux_wb = fields["flux_wb"]
        self.c.omega_e_stuck_rad_s = fields["omega_e_stuck_rad_s"]
        self.c.enc_stuck_s = fields["enc_stuck_s"]
        self.c.enc_jump_counts = fields["enc_jump_counts"]
        self.c.cmd_timeout_s = fields["cmd_timeout_s"]
        self.c.safe_state = fields["safe_state"]
        if mf_protect_config_check(&self.c) != 0:
            raise _prot_range_error(fields)
        mf_protect_reset(&self.s)

    def step(self, v_bus, i_abc, i_d, i_q, v_q, temp_motor_c, temp_fet_c,
             enc_delta_counts, armed, float dt_s) -> int:
        """One protection step. v_bus V; i_abc (3,) A; i_d, i_q A; v_q V (last
        command); temperatures degC; enc_delta_counts counts since the last step;
        armed bool; dt_s s. Returns the latched fault bits."""
        _prot_fill_input(&self.inp, v_bus, i_abc, i_d, i_q, v_q, temp_motor_c, temp_fet_c,
                         enc_delta_counts, armed)
        return mf_protect_step(&self.s, &self.c, &self.inp, dt_s)

    def clear(self, v_bus, i_abc, i_d, i_q, v_q, temp_motor_c, temp_fet_c,
              enc_delta_counts, armed) -> int:
        """Clear the faults whose cause is gone given this input (units as step()).
        Returns the bits that remain latched."""
        _prot_fill_input(&self.inp, v_bus, i_abc, i_d, i_q, v_q, temp_motor_c, temp_fet_c,
                         enc_delta_counts, armed)
        return mf_protect_clear(&self.s, &self.c, &self.inp)

    def feed(self) -> None:
        """A command arrived: restart the watchdog."""
        mf_protect_feed(&self.s)

    def trip(self, bits: int) -> None:
        """Latch external fault bits (e.g. FAULT_ESTOP)."""
        mf_protect_trip(&self.s, <uint32_t>(int(bits) & 0xFFFFFFFF))

    def reset(self) -> None:
        """Clear every fault (CONFIG included), filters and timers."""
        mf_protect_reset(&self.s)

    @property
    def safe_state(self) -> str:
        """'coast' or 'brake'."""
        return "brake" if self.c.safe_state == 1 else "coast"

    @property
    def faults(self) -> int:
        """Latched fault bits."""
        return self.s.faults

    @property
    def first_fault(self) -> int:
        """The bit that tripped first since the last clear (0 when none)."""
        return self.s.first_fault

    @property
    def i2t(self) -> float:
        """Filtered i_d^2 + i_q^2, A^2."""
        return self.s.i2t

    @property
    def derate(self) -> float:
        """Thermal current-limit scale, [0, 1]."""
        return self.s.derate

    @property
    def since_cmd_s(self) -> float:
        """Time since the last command while armed, s."""
        return self.s.since_cmd_s

    @property
    def enc_still_s(self) -> float:
        """Time the encoder has not moved, s."""
        return self.s.enc_still_s

    @property
    def omega_e_emf(self) -> float:
        """Filtered back-EMF electrical speed estimate, rad/s."""
        return self.s.omega_e_emf


__all__ += ["FAULT_ALL", "FAULT_BAD_INPUT", "FAULT_CMD_TIMEOUT", "FAULT_CONFIG", "FAULT_ENCODER",
            "FAULT_ESTOP", "FAULT_I2T", "FAULT_OVERCURRENT", "FAULT_OVERTEMP",
            "FAULT_OVERVOLTAGE", "FAULT_UNDERVOLTAGE", "I2T_CLEAR_FRAC", "Protect",
            "fault_names"]
