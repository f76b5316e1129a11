"""What the targets that drive their nodes through ``actuators.client`` over a
python-can bus share (sim, pil, can, sim-remote): the node's Actuator by id,
one command of a scenario kind with the reply as the record's fields, and the
node state and fault bits its Heartbeat and Status frames report."""
from __future__ import annotations

from typing import Any, Optional

import can

from actuators import commands as cmd
from actuators import protocol as p
from actuators.client import Actuator, BusDispatcher
from hil.errors import HilError

__all__ = ["ClientNodes", "command_reply", "observe"]


class ClientNodes:
    """Mixin of a Target whose nodes are ``self.actuators`` (id -> Actuator)."""

    name: str
    node_ids: list[int]
    actuators: dict[int, Actuator]

    def _actuator(self, node: int) -> Actuator:
        try:
            return self.actuators[node]
        except KeyError:
            raise HilError(f"target {self.name}: no node {node} (nodes {self.node_ids})") from None


def command_reply(a: Actuator, kind: str, f: dict[str, float]) -> dict[str, Any]:
    """Send one command of ``kind`` (current, velocity, position, impedance,
    muscle) with the fields ``f`` (SI, output side) and return the StateReply
    as record fields. Raises what the client raises (ActuatorTimeout, ...)."""
    if kind == "current":
        st = a.set_current(f.get("i_q_ref_a", 0.0), f.get("i_d_ref_a", 0.0))
    elif kind == "velocity":
        st = a.set_velocity(f.get("v_out_ref_rad_s", 0.0), f.get("tau_ff_nm", 0.0))
    elif kind == "position":
        st = a.set_position(f["p_out_ref_rad"], f.get("v_out_ff_rad_s", 0.0), f.get("tau_ff_nm", 0.0))
    elif kind == "impedance":
        st = a.set_impedance(f.get("p_des_rad", 0.0), f.get("v_des_rad_s", 0.0), f.get("kp_nm_rad", 0.0),
                             f.get("kd_nms_rad", 0.0), f.get("tau_ff_nm", 0.0))
    else:
        st = a.set_muscle(f.get("u_flex", 0.0), f.get("u_ext", 0.0))
    return {"p_out_rad": st.p_out_rad, "v_out_rad_s": st.v_out_rad_s, "tau_out_nm": st.tau_out_nm,
            "temp_c": st.temp_c, "faults": st.faults, "mode": st.mode}


def observe(bus: can.BusABC, node: int, into: Optional[dict[str, Any]] = None,
            discard_status: bool = False) -> dict[str, Any]:
    """The node's last reported state ("node_state", from its Heartbeat) and
    fault bits ("faults", from its last Status) after draining the bus, into
    ``into`` (kept from earlier calls) or a new dict. ``discard_status``:
    drop the Status frames read, so the next call sees only newer ones."""
    disp = BusDispatcher.of(bus)
    disp.poll()
    out: dict[str, Any] = {} if into is None else into
    hb = disp.last_heartbeat.get(node)
    if hb is not None:
        out["node_state"] = cmd.parse_reply(hb).node_state  # type: ignore[union-attr]
    sid = p.frame_id("Status", node)
    st = disp.kept(sid)
    if st:
        out["faults"] = cmd.parse_reply(st[-1]).faults  # type: ignore[union-attr]
        if discard_status:
            disp.discard([sid])
    return out
