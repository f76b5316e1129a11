# Binding of mf_estimator.h: encoder counts -> theta_m, theta_e and a type-2
# PLL speed estimate. Thin: every computation is the C core's.

from libc.stdint cimport uint32_t, int32_t

cdef extern from "mf_estimator.h":
    ctypedef struct mf_estimator_config_t:
        uint32_t counts_per_rev
        int32_t direction
        uint32_t pole_pairs
        float offset_e_rad
        float pll_bandwidth_rad_s
    ctypedef struct mf_estimator_t:
        float rad_per_count
        float pll_kp
        float pll_ki
        float offset_e_rad
        uint32_t last_count
        int32_t turns
        float pll_pos_counts
        float pll_lag_counts
        float pll_vel_counts_s
        bint primed
        float theta_m
        float theta_e
        float omega_m
        float omega_e
        int32_t last_delta_counts
    int mf_estimator_config_check(const mf_estimator_config_t *c) nogil
    int mf_estimator_init(mf_estimator_t *s, const mf_estimator_config_t *c) nogil
    void mf_estimator_update(mf_estimator_t *s, const mf_estimator_config_t *c,
                             uint32_t count, float dt_s) nogil


_EST_CPR_MAX = 1 << 24
_EST_OFFSET_MAX_RAD = 1.0e4


def _est_range_error(counts_per_rev, direction, pole_pairs, offset_e_rad, pll_bandwidth_rad_s):
    """ValueError naming the first mf_estimator_config_t field out of range."""
    if not 4 <= counts_per_rev <= _EST_CPR_MAX:
        return ValueError(f"Estimator: counts_per_rev = {counts_per_rev} is out of range "
                          f"([4, 2^24])")
    if direction not in (1, -1):
        return ValueError(f"Estimator: direction = {direction} is out of range (+1 or -1)")
    if not (1 <= pole_pairs and counts_per_rev * pole_pairs < 2 ** 32):
        return ValueError(f"Estimator: pole_pairs = {pole_pairs} is out of range "
                          f"(>= 1 and counts_per_rev * pole_pairs < 2^32)")
    if not abs(offset_e_rad) <= _EST_OFFSET_MAX_RAD:
        return ValueError(f"Estimator: offset_e_rad = {offset_e_rad:g} is out of range "
                          f"(finite, |offset| <= 1e4 rad)")
    return ValueError(f"Estimator: pll_bandwidth_rad_s = {pll_bandwidth_rad_s:g} is out of "
                      f"range (finite and > 0 rad/s)")


cdef class Estimator:
    """Encoder angle and speed estimator (mf_estimator.h).

    counts_per_rev: encoder counts per mechanical turn, [4, 2^24];
    direction: +1 or -1 (motor rotation vs counts); pole_pairs: >= 1;
    offset_e_rad: electrical offset, rad; pll_bandwidth_rad_s: PLL bandwidth
    w_b, rad/s (kp = 2 w_b, ki = w_b^2).
    """
    cdef mf_estimator_config_t c
    cdef mf_estimator_t s

    def __init__(self, counts_per_rev: int, direction: int = 1, pole_pairs: int = 1,
                 offset_e_rad: float = 0.0, pll_bandwidth_rad_s: float = 1000.0):
        if not (0 <= counts_per_rev < 2 ** 32 and -2 ** 31 <= direction < 2 ** 31
                and 0 <= pole_pairs < 2 ** 32):
            raise _est_range_error(counts_per_rev, direction, pole_pairs, offset_e_rad,
                                   pll_bandwidth_rad_s)
        self.c.counts_per_rev = counts_per_rev
        self.c.direction = direction
        self.c.pole_pairs = pole_pairs
        self.c.offset_e_rad = offset_e_rad
        self.c.pll_bandwidth_rad_s = pll_bandwidth_rad_s
        if mf_estimator_init(&self.s, &self.c) != 0:
            raise _est_range_error(counts_per_rev, direction, pole_pairs, offset_e_rad,
                                   pll_bandwidth_rad_s)

    def update(self, count: int, float dt_s) -> None:
        """One update: raw count (taken modulo counts_per_rev), dt_s in s since the last."""
        cdef uint32_t cnt = <uint32_t>(int(count) & 0xFFFFFFFF)
        mf_estimator_update(&self.s, &self.c, cnt, dt_s)

    def run(self, counts, dt_s) -> tuple:
        """Updates over a 1-D array of counts (uint32), in order, GIL released.

        dt_s: s, scalar or array broadcast against counts. Returns (theta_m rad,
        theta_e rad, omega_m rad/s), float32 arrays, the outputs after each update.
        """
        cnt_a = np.ascontiguousarray(np.atleast_1d(np.asarray(counts)).astype(np.uint32))
        if cnt_a.ndim != 1:
            raise ValueError(f"counts must be 1-D, got shape {cnt_a.shape}")
        dt_a = np.ascontiguousarray(np.broadcast_to(np.asarray(dt_s, dtype=np.float32),
                                                    cnt_a.shape), dtype=np.float32)
        cdef Py_ssize_t n = cnt_a.shape[0], k
        theta_m = np.empty(n, dtype=np.float32)
        theta_e = np.empty(n, dtype=np.float32)
        omega_m = np.empty(n, dtype=np.float32)
        if n == 0:
            return theta_m, theta_e, omega_m
        cdef const uint32_t[::1] cv = cnt_a
        cdef const float[::1] dv = dt_a
        cdef float[::1] tm = theta_m, te = theta_e, om = omega_m
        with nogil:
            for k in range(n):
                mf_estimator_update(&self.s, &self.c, cv[k], dv[k])
                tm[k] = self.s.theta_m
                te[k] = self.s.theta_e
                om[k] = self.s.omega_m
        return theta_m, theta_e, omega_m

    def reset(self) -> None:
        """Clear the state; the next update primes it again."""
        mf_estimator_init(&self.s, &self.c)

    @property
    def theta_m(self) -> float:
        """Multi-turn mechanical angle, rad (motor side)."""
        return self.s.theta_m

    @property
    def theta_e(self) -> float:
        """Electrical angle, rad, [0, 2pi)."""
        return self.s.theta_e

    @property
    def omega_m(self) -> float:
        """Mechanical speed (PLL), rad/s."""
        return self.s.omega_m

    @property
    def omega_e(self) -> float:
        """Electrical speed (PLL), rad/s."""
        return self.s.omega_e

    @property
    def turns(self) -> int:
        """Completed mechanical turns, direction applied."""
        return self.s.turns

    @property
    def pll_pos_counts(self) -> float:
        """PLL position within a turn, directed counts [0, counts_per_rev)."""
        return self.s.pll_pos_counts

    @property
    def pll_lag_counts(self) -> float:
        """Directed count minus PLL position (tracking lag), counts."""
        return self.s.pll_lag_counts

    @property
    def pll_vel_counts_s(self) -> float:
        """PLL velocity, directed counts/s."""
        return self.s.pll_vel_counts_s

    @property
    def last_delta_counts(self) -> int:
        """Wrapped, directed count change of the last update, counts."""
        return self.s.last_delta_counts

    @property
    def primed(self) -> bool:
        """The first sample has been seen."""
        return self.s.primed

    @property
    def pll_kp(self) -> float:
        """PLL proportional gain 2 w_b, 1/s."""
        return self.s.pll_kp

    @property
    def pll_ki(self) -> float:
        """PLL integral gain w_b^2, 1/s^2."""
        return self.s.pll_ki


__all__ += ["Estimator"]
