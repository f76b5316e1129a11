"""A serial-line CAN adapter (Lawicel slcan) on a pseudo-terminal, as a python-can bus.

``SlcanPtyBus`` is the *adapter's* end of an slcan link: it opens a
pseudo-terminal and speaks the Lawicel ASCII protocol on it, as a USB-CAN
adapter (CANable, CANUSB, ...) does on its serial port. Another process
opens the terminal's path as if it were the adapter, e.g.
``can.Bus(interface="slcan", channel="/dev/pts/5", sleep_after_open=0)``, and
is unchanged. On this side the object is an ordinary ``can.BusABC``:
``recv()`` gives the frames the tool transmits, ``send()`` delivers frames
to the tool (the simulated nodes' replies). ``myofoc sim serve --slcan``
puts ``SimNodes`` on it.

Protocol (commands end with CR; the answer is CR for OK, BEL for an error):

=============  ==============================================================
``O`` / ``L``  open the channel (``L``: listen only, transmit refused)
``C``          close the channel (frames are neither sent nor delivered)
``Sn``         bit rate 0-8 (10 k-1 M), ``sxxyy`` BTR registers, ``Yn``
               data bit rate (CAN FD): accepted, no effect on a pty
``V`` ``v``    hardware/software version: ``V1013``
``N``          serial number: ``NMFSM``
``F``          status flags: ``F00``
``Zn``         timestamps off/on (``Z1``: 4 hex digits, ms mod 60000)
``Mx``/``mx``  acceptance code/mask: accepted, everything passes
``tiiildd..``  transmit an 11-bit frame (answer ``z`` CR)
``Tiiiiiiiildd..`` 29-bit frame (answer ``Z`` CR); ``r``/``R``: remote
``d``/``b``    CAN FD 11-bit frame without/with bit-rate switch, DLC as a
               hex digit 0-F (``D``/``B``: 29-bit) (answer ``z``/``Z`` CR)
=============  ==============================================================

Received frames are delivered in the same formats (``t``/``T``/``r``/``R``,
FD as ``b`` or ``d``). An empty command is answered OK.
"""
from __future__ import annotations

import collections
import errno
import os
import select
import time
import tty
from typing import Any, Optional

import can
from can.util import CAN_FD_DLC, len2dlc

__all__ = ["SlcanPtyBus"]

OK = b"\r"
ERROR = b"\a"
_BITRATE_CODES = set("012345678")
_LINE_MAX = 200  # longer than any valid command (B + 8 + 1 + 128 hex digits)


class SlcanPtyBus(can.BusABC):
    """The adapter's end of an slcan link on a new pseudo-terminal.

    ``tty_path`` is the terminal a tool opens. ``fd``: the adapter speaks
    CAN FD (``d``/``b`` frames); a classic adapter refuses them with BEL.
    Frames for the tool while it has not opened the channel, or while its
    terminal does not read (the pty buffer full), are dropped and counted
    in ``tx_dropped``.
    """

    def __init__(self, channel: Any = None, *, fd: bool = True, **kwargs: Any) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)          # no echo, no CR/NL translation
        os.set_blocking(self._master, False)
        self.tty_path = os.ttyname(self._slave)
        self.fd = bool(fd)
        self.is_open = False
        self.listen_only = False
        self.timestamps = False
        self.tx_dropped = 0
        self.rx_errors = 0
        self._buf = bytearray()
        self._rx: collections.deque[can.Message] = collections.deque()
        self._closed = False
        self.channel_info = f"slcan adapter on {self.tty_path}"
        self._can_protocol = can.CanProtocol.CAN_FD if self.fd else can.CanProtocol.CAN_20
        super().__init__(channel=self.tty_path, **kwargs)

    # ---- the tool's commands -------------------------------------------------
    def _reply(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except BlockingIOError:
            self.tx_dropped += 1
        except OSError as exc:  # EIO: no reader on the other side
            if exc.errno != errno.EIO:
                raise

    def _frame(self, line: str) -> Optional[can.Message]:
        """The message of a t/T/r/R/d/D/b/B command; ValueError if malformed."""
        kind = line[0]
        extended = kind in "TRDB"
        n_id = 8 if extended else 3
        can_id = int(line[1:1 + n_id], 16)
        if can_id > (0x1FFFFFFF if extended else 0x7FF):
            raise ValueError("identifier out of range")
        dlc_code = int(line[1 + n_id], 16)
        body = line[2 + n_id:]
        fd = kind in "dDbB"
        if fd:
            if not self.fd:
                raise ValueError("CAN FD frame on a classic adapter")
            length = CAN_FD_DLC[dlc_code]
        else:
            if dlc_code > 8:
                raise ValueError("DLC above 8")
            length = dlc_code
        remote = kind in "rR"
        data = b"" if remote else bytes.fromhex(body[:2 * length])
        if not remote and len(data) != length:
            raise ValueError("fewer data bytes than the DLC")
        return can.Message(arbitration_id=can_id, is_extended_id=extended, is_remote_frame=remote,
                           dlc=length, data=data, is_fd=fd, bitrate_switch=kind in "bB",
                           timestamp=time.time(), channel=self.tty_path)

    def _command(self, line: str) -> None:
        if not line:
            self._reply(OK)
            return
        c = line[0]
        if c in "tTrRdDbB":
            if not self.is_open or self.listen_only:
                self._reply(ERROR)
                return
            try:
                msg = self._frame(line)
            except (ValueError, IndexError):
                self.rx_errors += 1
                self._reply(ERROR)
                return
            if msg is not None:
                self._rx.append(msg)
            self._reply(b"Z\r" if c in "TRDB" else b"z\r")
        elif c in "OL":
            self.is_open, self.listen_only = True, c == "L"
            self._reply(OK)
        elif c == "C":
            self.is_open = False
            self._reply(OK)
        elif c == "S":
            self._reply(OK if line[1:] in _BITRATE_CODES and not self.is_open else ERROR)
        elif c in "sYMm":
            self._reply(OK)
        elif c in "Vv":
            self._reply(c.encode() + b"1013\r")
        elif c == "N":
            self._reply(b"NMFSM\r")
        elif c == "F":
            self._reply(b"F00\r")
        elif c == "Z" and line[1:] in ("0", "1"):
            self.timestamps = line[1:] == "1"
            self._reply(OK)
        else:
            self._reply(ERROR)

    def _pump(self) -> None:
        """Read what the tool wrote and act on every complete command."""
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EIO:  # the tool closed its end (we hold the slave open)
                    break
                raise
            if not chunk:
                break
            self._buf.extend(chunk)
        while True:
            end = self._buf.find(b"\r")
            if end < 0:
                if len(self._buf) > _LINE_MAX:  # garbage without a terminator
                    self._buf.clear()
                    self.rx_errors += 1
                break
            raw = bytes(self._buf[:end]).strip(b"\n")
            del self._buf[:end + 1]
            try:
                line = raw.decode("ascii")
            except UnicodeDecodeError:
                self.rx_errors += 1
                self._reply(ERROR)
                continue
            self._command(line)

    # ---- BusABC ------------------------------------------------------------
    def _recv_internal(self, timeout: Optional[float]) -> tuple[Optional[can.Message], bool]:
        if not self._rx:
            self._pump()
        if not self._rx and (timeout is None or timeout > 0.0):
            end = None if timeout is None else time.monotonic() + timeout
            while not self._rx:
                left = None if end is None else max(end - time.monotonic(), 0.0)
                ready, _, _ = select.select([self._master], [], [], left)
                if ready:
                    self._pump()
                elif end is not None:
                    break
        if self._rx:
            return self._rx.popleft(), False
        return None, False

    def send(self, msg: can.Message, timeout: Optional[float] = None) -> None:
        """Deliver a frame to the tool (dropped, and counted, while its channel is closed)."""
        if not self.is_open:
            self.tx_dropped += 1
            return
        if msg.is_remote_frame:
            head = f"R{msg.arbitration_id:08X}" if msg.is_extended_id else f"r{msg.arbitration_id:03X}"
            line = f"{head}{msg.dlc:d}"
        elif msg.is_fd:
            kind = "b" if msg.bitrate_switch else "d"
            if msg.is_extended_id:
                kind = kind.upper()
            ident = f"{msg.arbitration_id:08X}" if msg.is_extended_id else f"{msg.arbitration_id:03X}"
            line = f"{kind}{ident}{len2dlc(len(msg.data)):X}{bytes(msg.data).hex().upper()}"
        else:
            head = f"T{msg.arbitration_id:08X}" if msg.is_extended_id else f"t{msg.arbitration_id:03X}"
            line = f"{head}{len(msg.data):d}{bytes(msg.data).hex().upper()}"
        if self.timestamps:
            line += f"{int(time.monotonic() * 1000) % 60000:04X}"
        self._reply(line.encode("ascii") + b"\r")

    def fileno(self) -> int:
        return self._master

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        super().shutdown()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
