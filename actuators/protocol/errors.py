"""The protocol package's exception."""
from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(ValueError):
    """A frame, message, signal or value that the CAN protocol does not allow.

    The message names what is at fault: the frame (CAN ID, message name,
    node), the signal, the value and the allowed range.
    """
