"""Frame loss on purpose: ``LossPolicy`` and ``LossyBus``.

``LossPolicy(seed)`` decides, frame by frame, whether a frame survives:
``set(to_node=..., to_host=...)`` sets the fraction of frames lost in
each direction (0 none, 1 all) from now on; the draws come from a seeded
generator, so a run is reproducible. ``LossyBus(inner, policy)`` is a
python-can bus whose ``send`` (host -> node) and receive (node -> host)
drop frames by the policy (``inner`` is not shut down with it): wrap any bus (``virtual``, ``slcan``,
``socketcan`` ...) to test a bench against a lossy link. The ``sim``
target applies the same policy where it feeds frames to the nodes.
"""
from __future__ import annotations

import can
import numpy as np

__all__ = ["LossPolicy", "LossyBus"]


class LossPolicy:
    """Fractions of frames lost per direction; counters of what was dropped."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)
        self.to_node = 0.0
        self.to_host = 0.0
        self.dropped_to_node = 0
        self.dropped_to_host = 0

    def set(self, to_node: float | None = None, to_host: float | None = None) -> None:
        """Loss fractions in [0, 1] (NaN or out of range: refused)."""
        for name, v in (("to_node", to_node), ("to_host", to_host)):
            if v is not None:
                if not 0.0 <= float(v) <= 1.0:
                    raise ValueError(f"{name} = {v!r}: a fraction in [0, 1]")
                setattr(self, name, float(v))

    @property
    def active(self) -> bool:
        return self.to_node > 0.0 or self.to_host > 0.0

    def keep(self, to_node: bool) -> bool:
        """Whether the next frame in that direction survives."""
        q = self.to_node if to_node else self.to_host
        if q <= 0.0:
            return True
        lost = q >= 1.0 or float(self._rng.random()) < q
        if lost:
            if to_node:
                self.dropped_to_node += 1
            else:
                self.dropped_to_host += 1
        return not lost


class LossyBus(can.BusABC):
    """``inner`` with frames dropped by ``policy`` (send: to the nodes;
    receive: to the host). Not opened or shut down here beyond ``inner``."""

    def __init__(self, inner: can.BusABC, policy: LossPolicy) -> None:
        self._inner = inner
        self.policy = policy
        super().__init__(channel=getattr(inner, "channel_info", "lossy"))

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        if self.policy.keep(to_node=True):
            self._inner.send(msg, timeout)

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        msg = self._inner.recv(timeout)
        if msg is not None and not self.policy.keep(to_node=False):
            return None, False
        return msg, False

    def shutdown(self) -> None:
        super().shutdown()           # the inner bus belongs to whoever opened it
