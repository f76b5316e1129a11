"""The myofoc CAN protocol: the DBC (source of truth), its checked codec and MIT-mode packing.

``myofoc.dbc`` beside this file defines every message; ``myofoc_can.c/.h`` is
the C codec cantools generates from it (``tools/gen_codec.sh``). See
docs/protocol.md for the ID table and the frame layouts.
"""
from __future__ import annotations

from .dbc import (
    BROADCAST_NODE_ID,
    DBC_PATH,
    MAX_NODE_ID,
    Decoded,
    Frame,
    choices,
    database,
    decode,
    decode_can,
    encode,
    frame_id,
    function_code,
    message,
    protocol_version,
    split_id,
    uds_ids,
)
from .errors import ProtocolError
from .impedance import (
    GROUP_SLOTS,
    MINI_CHEETAH_RANGES,
    ImpedanceRanges,
    ImpedanceSetpoint,
    JointState,
    dequantise,
    group_slots_to_values,
    group_values_to_slots,
    pack_impedance,
    pack_state,
    quantise,
    unpack_impedance,
    unpack_state,
)

__all__ = [
    "BROADCAST_NODE_ID",
    "DBC_PATH",
    "Decoded",
    "Frame",
    "GROUP_SLOTS",
    "ImpedanceRanges",
    "ImpedanceSetpoint",
    "JointState",
    "MAX_NODE_ID",
    "MINI_CHEETAH_RANGES",
    "ProtocolError",
    "choices",
    "database",
    "decode",
    "decode_can",
    "dequantise",
    "encode",
    "frame_id",
    "function_code",
    "group_slots_to_values",
    "group_values_to_slots",
    "message",
    "pack_impedance",
    "pack_state",
    "protocol_version",
    "quantise",
    "split_id",
    "uds_ids",
    "unpack_impedance",
    "unpack_state",
]
