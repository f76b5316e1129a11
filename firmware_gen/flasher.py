"""Firmware updates over CAN: UDS (ISO 14229, ``udsoncan``) over ISO-TP
(ISO 15765-2, ``can-isotp``) on any python-can bus.

For each node (request ID 0x700 | node, response ID 0x780 | node):

1. read the board id (DID 0xFD00), the slots (0xFD01: running, target
   slot and its address), the boot record (0xFD02) and the running version
   (0xF189, 0xFD03);
2. pick, among the given images, the one linked for the target slot
   (``load_addr`` = slot address + 512) of this board; refuse before
   touching the node an image that is unsigned, for another board, too big,
   with a security counter below the node's or an older version than the one
   running (unless ``allow_downgrade``), or (with ``pubkey``) wrongly signed;
3. programming session (0x10 02), SecurityAccess (0x27, key =
   ``uds_key(seed, secret)`` as documented in actuators/boot/mf_uds.h),
   erase the target slot (RoutineControl 0xFF00), RequestDownload (0x34),
   TransferData (0x36) in blocks of the node's maximum length (a block whose
   answer is lost is sent again with the same counter, which the node
   accepts, and from then on our consecutive frames go at least
   ``STMIN_BACKOFF_S`` apart, doubled per loss: a transport that drops
   bursts stops dropping), RequestTransferExit (0x37), check image (0xFF01: the node
   checks length, CRC, board, counter and signature and makes the image
   pending);
4. ECUReset (0x11 01); wait until the node answers with the new image on
   its trial boot; confirm it (0xFF02) so it stays (``confirm=False``
   leaves that to the application).

Any refusal raises :class:`FlashError` naming the node, the step and the
reason; the node keeps running its previous image. ``flash_buses`` runs
one thread per bus (nodes of a bus one after the other).
"""
from __future__ import annotations

import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import can

from firmware_gen.errors import FlashError
from firmware_gen.image import Image, ImageError, read_image, unpack_version

__all__ = ["CHECK_STATUS", "DID", "FlashOptions", "NodeInfo", "NodeResult", "RID", "STMIN_BACKOFF_MAX_S",
           "STMIN_BACKOFF_S", "connect",
           "flash_buses", "flash_node", "parse_node_list", "read_node_info", "security_secret", "uds_key"]

DID = {"version": 0xF189, "serial": 0xF18C, "board": 0xFD00, "slots": 0xFD01, "record": 0xFD02,
       "running": 0xFD03, "images": 0xFD04}
RID = {"erase": 0xFF00, "check": 0xFF01, "confirm": 0xFF02}
CHECK_STATUS = {0: "passed", 1: "bad header (magic, format, size, header CRC, reserved bytes or flags)",
                2: "load address is not the slot's", 3: "payload length does not fit the slot",
                4: "payload CRC mismatch (damaged or incomplete download)", 5: "image is for another board",
                6: "security counter below the node's (rollback refused)", 7: "image is not signed",
                8: "signature does not verify with the node's public key", 9: "flash error on the node"}
SECRET_BASE = 0x6D796F66   # "myof" (mf_uds.h, actuators/sim_flash.py)
UDS_REQUEST_FUNCTION, UDS_RESPONSE_FUNCTION = 14, 15
NO_SLOT = 0xFF
# A TransferData block whose answer never came was most likely cut by a lost
# consecutive frame (a transport that drops bursts: udp_multicast, an
# overloaded adapter). The resend then goes at least this far apart, doubled
# at each further loss up to STMIN_BACKOFF_MAX_S; a real 1 Mbit/s bus needs
# about 111 us per 8-byte frame anyway, so the pace costs it little.
STMIN_BACKOFF_S, STMIN_BACKOFF_MAX_S = 50e-6, 500e-6
ProgressFn = Callable[[int, str, int, int], None]   # (node, stage, done, total)


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def uds_key(seed: int, secret: int) -> int:
    """SecurityAccess key: fmix32(fmix32(seed ^ secret) ^ rotl32(secret, 13)) (mf_uds.h)."""
    rot = ((secret << 13) | (secret >> 19)) & 0xFFFFFFFF
    return _fmix32(_fmix32(seed ^ secret) ^ rot)


def security_secret(board_id: int) -> int:
    """The per-board secret: 0x6D796F66 ("myof") ^ board id. Not the security
    boundary: the image signature is."""
    return (SECRET_BASE ^ board_id) & 0xFFFFFFFF


def parse_node_list(spec: str) -> list[int]:
    """``"5"``, ``"1-60"``, ``"1,3,10-12"`` -> node ids (ValueError if malformed)."""
    ids: list[int] = []
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a = int(lo, 0)
            b = int(hi, 0) if sep else a
        except ValueError:
            raise ValueError(f"{spec!r}: {part!r} is not a node id or a range a-b") from None
        if not 1 <= a <= b <= 127:
            raise ValueError(f"{spec!r}: {part!r}: node ids are 1-127, ranges ascending")
        ids.extend(range(a, b + 1))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{spec!r}: a node id appears twice")
    return ids


@dataclass
class FlashOptions:
    """How to flash: timeouts (s), retries, what to check and do."""

    p2_timeout_s: float = 1.0        # answer timeout of a request
    p2_star_timeout_s: float = 6.0   # after a 0x78 "response pending"
    block_retries: int = 4           # resends of a TransferData block whose answer did not come
    reset_wait_s: float = 5.0        # time for the node to come back after ECUReset
    confirm: bool = True             # confirm the new image (0xFF02) once it runs
    allow_downgrade: bool = False    # accept an older fw_version (the counter still must not drop)
    dry_run: bool = False            # read the node and pick the image, change nothing
    pubkey: Optional[bytes] = None   # 32 raw bytes: check the signature on the host first
    fd: bool = False                 # ISO-TP in 64-byte CAN FD frames
    stmin_s: Optional[float] = None  # gap between our consecutive frames, s (None: the node's FC STmin, 0 here)
    backoff: bool = True             # a lost block: pace our consecutive frames (STMIN_BACKOFF_S, doubled per loss)
    progress: Optional[ProgressFn] = None
    abort: Optional[threading.Event] = None   # set: stop between blocks (FlashError "aborted")
    host_checks: bool = True         # False: send even what the host would refuse (tests of the node's checks)


@dataclass
class NodeInfo:
    """What a node reports about itself."""

    node: int
    board_id: int
    version_text: str
    fw_version: int
    security_counter: int
    running_slot: int
    trial_boot: bool
    target_slot: int
    active_slot: int
    target_addr: int
    slot_bytes: int
    record_seq: int
    record_counter: int
    pending_slot: int


@dataclass
class NodeResult:
    """The outcome for one node (``ok`` False: ``error`` says why)."""

    node: int
    bus: str = ""
    ok: bool = False
    old_version: str = ""
    new_version: str = ""
    slot: str = ""
    image_bytes: int = 0
    seconds: float = 0.0
    retries: int = 0
    dry_run: bool = False
    error: str = ""
    step: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _codecs() -> dict[int, Any]:
    from udsoncan import DidCodec

    class Raw(DidCodec):  # type: ignore[misc]
        def __init__(self, n: int) -> None:
            self.n = n

        def encode(self, value: bytes) -> bytes:  # noqa: D401
            return bytes(value)

        def decode(self, payload: bytes) -> bytes:
            return bytes(payload)

        def __len__(self) -> int:
            return self.n

    return {DID["version"]: Raw(32), DID["serial"]: Raw(16), DID["board"]: Raw(4), DID["slots"]: Raw(12),
            DID["record"]: Raw(12), DID["running"]: Raw(12), DID["images"]: Raw(18)}


class _PacedBus(can.BusABC):
    """The bus as the ISO-TP stack sees it: every frame we send leaves at
    least ``gap()`` seconds after the one before, measured at the send call.
    (can-isotp times its STmin from the moment it makes a frame, so a frame
    that leaves late is followed by one that leaves early: at 50 us STmin
    gaps of 22 us were seen on the wire; a transport that drops bursts then
    loses frames again.) Receives pass through; shutdown leaves the bus open."""

    def __init__(self, inner: can.BusABC, gap: Callable[[], float]) -> None:
        self._inner = inner
        self._gap = gap
        self._last: Optional[float] = None
        super().__init__(channel=getattr(inner, "channel_info", "paced"))

    def send(self, msg: can.Message, timeout: Optional[float] = None) -> None:
        gap = self._gap()
        if gap > 0.0 and self._last is not None:
            end = self._last + gap
            while (now := time.perf_counter()) < end:
                if end - now > 3e-4:
                    time.sleep(end - now - 2e-4)   # sleep most of it, spin the rest
        self._inner.send(msg, timeout)
        self._last = time.perf_counter()

    def _recv_internal(self, timeout: Optional[float]) -> tuple[Optional[can.Message], bool]:
        return self._inner.recv(timeout), False

    def shutdown(self) -> None:
        """Done with it; the caller's bus stays open."""
        self._is_shutdown = True

    def __del__(self) -> None:    # nothing of its own to release
        self._is_shutdown = True


class connect:
    """A udsoncan ``Client`` for one node on an open bus (context manager;
    the bus is not shut down). ``fd``: 64-byte CAN FD ISO-TP frames."""

    def __init__(self, bus: can.BusABC, node: int, options: Optional[FlashOptions] = None) -> None:
        import isotp
        from udsoncan.client import Client
        from udsoncan.connections import PythonIsoTpConnection

        opt = options or FlashOptions()
        self.node = node
        addr = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=(UDS_REQUEST_FUNCTION << 7) | node,
                             rxid=(UDS_RESPONSE_FUNCTION << 7) | node)
        params = {"stmin": 0, "blocksize": 0, "tx_padding": 0xCC, "tx_data_length": 64 if opt.fd else 8,
                  "can_fd": bool(opt.fd), "bitrate_switch": bool(opt.fd), "max_frame_size": 4095,
                  "rx_flowcontrol_timeout": max(100, int(opt.p2_timeout_s * 1000)),
                  "rx_consecutive_frame_timeout": max(100, int(opt.p2_timeout_s * 1000)),
                  "blocking_send": False}
        if opt.stmin_s is not None:   # pace our consecutive frames (a transport that drops bursts)
            params["override_receiver_stmin"] = float(opt.stmin_s)
        self.stack = isotp.CanStack(_PacedBus(bus, self._pace), address=addr, params=params)
        self.conn = PythonIsoTpConnection(self.stack, name=f"node{node}")
        config = {"exception_on_negative_response": True, "exception_on_invalid_response": True,
                  "exception_on_unexpected_response": True, "use_server_timing": False,
                  "p2_timeout": opt.p2_timeout_s, "p2_star_timeout": opt.p2_star_timeout_s,
                  "request_timeout": opt.p2_star_timeout_s + opt.p2_timeout_s,
                  "data_identifiers": _codecs(), "security_algo": self._key,
                  "security_algo_params": None, "server_address_format": 32,
                  "server_memorysize_format": 32}
        self.client = Client(self.conn, config=config)
        self.secret = 0

    def _pace(self) -> float:
        """The gap our frames keep on the wire, s: the STmin we pace at (0: none)."""
        return float(self.stack.params.override_receiver_stmin or 0.0)

    def _key(self, level: int, seed: bytes, params: Any = None) -> bytes:
        return struct.pack(">I", uds_key(int.from_bytes(seed, "big"), self.secret))

    def __enter__(self) -> "connect":
        self.client.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.close()
        self.stack.bus.shutdown()


def _read(client: Any, did: int) -> bytes:
    return bytes(client.read_data_by_identifier([did]).service_data.values[did])


def read_node_info(c: connect) -> NodeInfo:
    """Read the identifiers of a node (default session is enough)."""
    cl = c.client
    board = int.from_bytes(_read(cl, DID["board"]), "big")
    slots = _read(cl, DID["slots"])
    rec = _read(cl, DID["record"])
    run = _read(cl, DID["running"])
    text = _read(cl, DID["version"]).split(b"\0")[0].decode("ascii", "replace")
    return NodeInfo(node=c.node, board_id=board, version_text=text,
                    fw_version=int.from_bytes(run[0:4], "big"), security_counter=int.from_bytes(run[4:8], "big"),
                    running_slot=slots[0], trial_boot=bool(slots[1]), target_slot=slots[2],
                    active_slot=slots[3], target_addr=int.from_bytes(slots[4:8], "big"),
                    slot_bytes=int.from_bytes(slots[8:12], "big"), record_seq=int.from_bytes(rec[0:4], "big"),
                    record_counter=int.from_bytes(rec[8:12], "big"), pending_slot=rec[5])


def _slot_name(s: int) -> str:
    return {0: "A", 1: "B"}.get(s, "none")


def _loose_image(data: bytes) -> Image:
    """The header fields of possibly damaged image bytes, unchecked (host_checks=False)."""
    from firmware_gen.image import ImageHeader
    if len(data) < 192:
        data = data + bytes(192 - len(data))
    (fw, ctr, board, load, plen, pcrc) = struct.unpack_from("<6I", data, 8)
    text = data[64:96].split(b"\0")[0].decode("ascii", "replace")
    flags = struct.unpack_from("<I", data, 96)[0]
    hdr = ImageHeader(fw_version=fw, security_counter=ctr, board_id=board, load_addr=load, payload_bytes=plen,
                      payload_crc32=pcrc, build_hash=bytes(data[32:64]), version_text=text, flags=flags,
                      signature=bytes(data[128:192]))
    return Image(header=hdr, payload=bytes(data[512:]))


def load_images(paths_or_bytes: Sequence[Any], strict: bool = True) -> list[tuple[str, bytes, Image]]:
    """Read and check image files (or (name, bytes) pairs); FlashError on a
    bad one (``strict`` False: take the header fields unchecked)."""
    out = []
    for item in paths_or_bytes:
        if isinstance(item, tuple):
            name, data = item
        else:
            name = str(item)
            try:
                with open(item, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise FlashError(f"{name}: cannot read ({exc})", step="image") from None
        try:
            img = read_image(data)
        except ImageError as exc:
            if strict:
                raise FlashError(f"{name}: {exc}", step="image") from None
            img = _loose_image(bytes(data))
        out.append((name, bytes(data), img))
    return out


def pick_image(info: NodeInfo, images: list[tuple[str, bytes, Image]], options: FlashOptions) -> tuple[str, bytes, Image]:
    """The image for the node's target slot, after the host-side checks (FlashError otherwise)."""
    node = info.node
    want = info.target_addr + 512
    fits = [t for t in images if t[2].header.load_addr == want]
    if not fits:
        have = ", ".join(f"{n} (load_addr 0x{i.header.load_addr:08x})" for n, _, i in images)
        raise FlashError(f"no image for slot {_slot_name(info.target_slot)} (load_addr 0x{want:08x}) "
                         f"among: {have}", node, "image")
    mine = [t for t in fits if t[2].header.board_id == info.board_id or not options.host_checks]
    if not mine:
        raise FlashError(f"{fits[0][0]}: image for board 0x{fits[0][2].header.board_id:04x}, the node is "
                         f"board 0x{info.board_id:04x}", node, "image")
    # several images for this slot (e.g. two versions given): the newest
    mine.sort(key=lambda t: (t[2].header.fw_version, t[2].header.security_counter), reverse=True)
    name, data, img = mine[0]
    h = img.header
    if not options.host_checks:
        return name, data, img
    if not h.signed:
        raise FlashError(f"{name}: the image is not signed (myofoc sign)", node, "image")
    if h.payload_bytes + 512 > info.slot_bytes:
        raise FlashError(f"{name}: {h.payload_bytes + 512} bytes do not fit the {info.slot_bytes}-byte slot",
                         node, "image")
    if h.security_counter < info.record_counter:
        raise FlashError(f"{name}: security counter {h.security_counter} below the node's "
                         f"{info.record_counter} (rollback refused)", node, "image")
    if info.running_slot != NO_SLOT and h.fw_version < info.fw_version and not options.allow_downgrade:
        raise FlashError(f"{name}: version {unpack_version(h.fw_version)} is older than the running "
                         f"{unpack_version(info.fw_version)} ({info.version_text}); --allow-downgrade "
                         "to flash it anyway", node, "image")
    if options.pubkey is not None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        try:
            Ed25519PublicKey.from_public_bytes(bytes(options.pubkey)).verify(h.signature, img.signed_bytes())
        except (InvalidSignature, ValueError):
            raise FlashError(f"{name}: the signature does not verify with the given public key",
                             node, "image") from None
    return name, data, img


def _nrc_text(exc: Exception) -> str:
    resp = getattr(exc, "response", None)
    if resp is not None and getattr(resp, "code", None) is not None:
        return f"negative response 0x{resp.code:02X} ({resp.code_name})"
    return f"{type(exc).__name__}: {exc}"


def _step(node: int, step: str, fn: Callable[[], Any]) -> Any:
    from udsoncan.exceptions import NegativeResponseException, TimeoutException, UnexpectedResponseException
    try:
        return fn()
    except NegativeResponseException as exc:
        raise FlashError(_nrc_text(exc), node, step) from None
    except TimeoutException:
        raise FlashError("no answer (timeout)", node, step) from None
    except (UnexpectedResponseException, can.CanError, OSError) as exc:
        raise FlashError(f"{type(exc).__name__}: {exc}", node, step) from None


def _routine(c: connect, rid: int, data: Optional[bytes], step: str) -> int:
    resp = _step(c.node, step, lambda: c.client.start_routine(rid, data))
    status = resp.service_data.routine_status_record
    return status[0] if status else 0


def _erase(c: connect, slot: int, nbytes: int) -> int:
    """Erase the pages of the slot that an image of nbytes needs (RoutineControl
    0xFF00 with the length); a bootloader that takes only the slot (NRC 0x13,
    incorrect length) erases the whole slot instead."""
    from udsoncan.exceptions import NegativeResponseException

    def sized() -> Any:
        try:
            return c.client.start_routine(RID["erase"], bytes([slot]) + struct.pack(">I", nbytes))
        except NegativeResponseException as exc:
            if exc.response.code != 0x13:
                raise
        return c.client.start_routine(RID["erase"], bytes([slot]))

    status = _step(c.node, "erase", sized).service_data.routine_status_record
    return status[0] if status else 0


def _slow_down(c: connect, result: NodeResult) -> None:
    """Pace our consecutive frames further apart after a lost block (see STMIN_BACKOFF_S)."""
    now = c.stack.params.override_receiver_stmin or 0.0
    pace = min(max(2.0 * now, STMIN_BACKOFF_S), STMIN_BACKOFF_MAX_S)
    c.stack.params.set("override_receiver_stmin", pace)
    result.extra["stmin_s"] = pace


def _late_answer(c: connect, counter: int, timeout_s: float) -> bool:
    """After an answer to an earlier block (a retried block answered twice):
    wait for this block's own answer (76 counter); False when it does not come."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        payload = c.client.conn.wait_frame(timeout=left)
        if payload is not None and bytes(payload[:2]) == bytes([0x76, counter & 0xFF]):
            return True


def _transfer(c: connect, data: bytes, block: int, options: FlashOptions, result: NodeResult) -> None:
    from udsoncan.exceptions import NegativeResponseException, TimeoutException, UnexpectedResponseException
    total = len(data)
    counter = 1
    for pos in range(0, total, block):
        if options.abort is not None and options.abort.is_set():
            raise FlashError("aborted", c.node, "download")
        chunk = data[pos:pos + block]
        tries = 0
        while True:
            try:
                c.client.transfer_data(counter & 0xFF, chunk)
                break
            except TimeoutException:
                tries += 1   # the request or its answer was lost: send the same block again
                if options.backoff:
                    _slow_down(c, result)
            except NegativeResponseException as exc:
                raise FlashError(f"block {counter}: {_nrc_text(exc)}", c.node, "download") from None
            except UnexpectedResponseException as exc:
                echo = getattr(exc.response.service_data, "sequence_number_echo", None)
                if echo != ((counter - 1) & 0xFF):
                    raise FlashError(f"block {counter}: {exc}", c.node, "download") from None
                # the second answer to the block before (it was sent twice): ours follows
                if _late_answer(c, counter, options.p2_timeout_s):
                    break
                tries += 1
            if tries > options.block_retries:
                raise FlashError(f"block {counter}: no answer after {tries} tries", c.node, "download")
            result.retries += 1
        counter += 1
        if options.progress is not None:
            options.progress(c.node, "download", min(pos + block, total), total)


def _wait_for_boot(c: connect, target: int, options: FlashOptions) -> NodeInfo:
    """Poll the node after its reset until it runs the target slot (or the time is up)."""
    time.sleep(0.05)   # the node answers the reset first, then resets
    deadline = time.monotonic() + options.reset_wait_s
    last: Optional[NodeInfo] = None
    while time.monotonic() < deadline:
        try:
            last = read_node_info(c)
        except Exception:  # noqa: BLE001 - the node is resetting: ask again
            time.sleep(0.02)
            continue
        if last.running_slot == target:
            return last
        time.sleep(0.02)
    if last is None:
        raise FlashError(f"the node did not answer within {options.reset_wait_s} s after the reset", c.node,
                         "reset")
    return last


def flash_node(bus: can.BusABC, node: int, images: Sequence[Any], options: Optional[FlashOptions] = None,
               bus_name: str = "") -> NodeResult:
    """Flash one node (the steps of the module doc); returns its result or
    raises FlashError on any refusal or failure (its ``result`` attribute:
    the NodeResult so far, e.g. the version the node runs)."""
    opt = options or FlashOptions()
    loaded = load_images(images, strict=opt.host_checks)
    result = NodeResult(node=node, bus=bus_name, dry_run=opt.dry_run)
    t0 = time.monotonic()
    try:
        return _flash_node(bus, node, loaded, opt, result, t0)
    except FlashError as exc:
        exc.result = result   # type: ignore[attr-defined]  # what was read before the refusal (old_version, slot)
        result.seconds = time.monotonic() - t0
        raise


def _flash_node(bus: can.BusABC, node: int, loaded: list[tuple[str, bytes, Image]], opt: FlashOptions,
                result: NodeResult, t0: float) -> NodeResult:
    from udsoncan import DataFormatIdentifier, MemoryLocation

    with connect(bus, node, opt) as c:
        info = _step(node, "connect", lambda: read_node_info(c))
        result.old_version = info.version_text
        name, data, img = pick_image(info, loaded, opt)
        c.secret = security_secret(info.board_id)
        result.slot = _slot_name(info.target_slot)
        result.image_bytes = len(data)
        result.extra["image"] = name
        if opt.dry_run:
            result.ok = True
            result.new_version = img.header.version_text
            result.seconds = time.monotonic() - t0
            return result
        cl = c.client
        _step(node, "session", lambda: cl.change_session(2))
        _step(node, "security", lambda: cl.unlock_security_access(1))
        if opt.progress is not None:
            opt.progress(node, "erase", 0, len(data))
        status = _erase(c, info.target_slot, len(data))
        if status != 0:
            raise FlashError(f"erase failed (status {status})", node, "erase")
        resp = _step(node, "download", lambda: cl.request_download(
            MemoryLocation(info.target_addr, len(data), address_format=32, memorysize_format=32),
            dfi=DataFormatIdentifier(compression=0, encryption=0)))
        block = int(resp.service_data.max_length) - 2
        if block <= 0:
            raise FlashError(f"the node's maximum block length {block + 2} is too small", node, "download")
        _transfer(c, data, block, opt, result)
        _step(node, "transfer exit", lambda: cl.request_transfer_exit())
        if opt.progress is not None:
            opt.progress(node, "check", len(data), len(data))
        status = _routine(c, RID["check"], bytes([info.target_slot]), "check")
        if status != 0:
            raise FlashError(f"the node refused {name}: {CHECK_STATUS.get(status, f'status {status}')}",
                             node, "check")
        _step(node, "reset", lambda: cl.ecu_reset(1))
        after = _wait_for_boot(c, info.target_slot, opt)
        if after.running_slot != info.target_slot or after.version_text != img.header.version_text:
            raise FlashError(f"after the reset the node runs {after.version_text or 'nothing'} in slot "
                             f"{_slot_name(after.running_slot)}, not {img.header.version_text} in slot "
                             f"{_slot_name(info.target_slot)}", node, "reset")
        if opt.confirm:
            status = _routine(c, RID["confirm"], None, "confirm")
            if status != 0:
                raise FlashError(f"confirm failed ({CHECK_STATUS.get(status, status)})", node, "confirm")
        result.new_version = after.version_text
        result.ok = True
        result.seconds = time.monotonic() - t0
        if opt.progress is not None:
            opt.progress(node, "done", len(data), len(data))
    return result


def flash_buses(plan: Sequence[tuple[str, can.BusABC, Sequence[int]]], images: Sequence[Any],
                options: Optional[FlashOptions] = None) -> list[NodeResult]:
    """Flash the nodes of several buses in parallel (a thread per bus, the
    nodes of one bus in turn). ``plan``: (bus name, open bus, node ids).
    Never raises for a node: its NodeResult has ok False and the error."""
    opt = options or FlashOptions()
    loaded = load_images(images, strict=opt.host_checks)   # refuse bad images before any bus traffic
    results: list[NodeResult] = []
    lock = threading.Lock()

    def run(name: str, bus: can.BusABC, nodes: Sequence[int]) -> None:
        bus_opt = opt
        for n in nodes:
            t0 = time.monotonic()
            try:
                r = flash_node(bus, n, [(nm, d) for nm, d, _ in loaded], bus_opt, bus_name=name)
            except FlashError as exc:
                r = getattr(exc, "result", None) or NodeResult(node=n, bus=name, dry_run=opt.dry_run)
                r.ok, r.error, r.step, r.seconds = False, str(exc), exc.step, time.monotonic() - t0
            except Exception as exc:  # noqa: BLE001 - one node's surprise must not stop the others
                r = NodeResult(node=n, bus=name, ok=False, error=f"{type(exc).__name__}: {exc}",
                               seconds=time.monotonic() - t0, dry_run=opt.dry_run)
            if "stmin_s" in r.extra:   # this bus lost frames: the next nodes start at the pace it needed
                bus_opt = replace(bus_opt, stmin_s=r.extra["stmin_s"])
            with lock:
                results.append(r)

    threads = [threading.Thread(target=run, args=p, name=f"flash-{p[0]}", daemon=True) for p in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results, key=lambda r: (r.bus, r.node))
