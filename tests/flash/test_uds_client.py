"""A standard UDS client built only from udsoncan + can-isotp (not the
project's flasher) reads the identifiers and switches the sessions of a
simulated node; negative responses carry the ISO 14229 codes."""
from __future__ import annotations

import struct

import isotp
import pytest
import udsoncan
from udsoncan.client import Client
from udsoncan.connections import PythonIsoTpConnection
from udsoncan.exceptions import NegativeResponseException

from actuators import _boot
from tests.flash.rig import image_pair


class Text(udsoncan.DidCodec):
    def __init__(self, n: int) -> None:
        self.n = n

    def encode(self, value):
        return value.encode("ascii").ljust(self.n, b"\0")

    def decode(self, payload):
        return payload.rstrip(b"\0").decode("ascii")

    def __len__(self):
        return self.n


def _key(level, seed, params):
    # written from the formula documented in actuators/boot/mf_uds.h
    def fmix(h):
        h ^= h >> 16
        h = (h * 0x85EBCA6B) & 0xFFFFFFFF
        h ^= h >> 13
        h = (h * 0xC2B2AE35) & 0xFFFFFFFF
        return h ^ (h >> 16)
    secret = params
    s = int.from_bytes(seed, "big")
    rot = ((secret << 13) | (secret >> 19)) & 0xFFFFFFFF
    return struct.pack(">I", fmix(fmix(s ^ secret) ^ rot))


@pytest.fixture
def client(rig, keys, hk_board):
    from firmware_gen.flasher import flash_node
    r = rig([12])
    flash_node(r.host, 12, image_pair(hk_board, keys, "2.3.4", 7))
    stack = isotp.CanStack(r.host, address=isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x70C, rxid=0x78C),
                           params={"tx_padding": 0xCC, "blocksize": 0, "stmin": 0})
    cfg = dict(udsoncan.configs.default_client_config)
    cfg["data_identifiers"] = {0xF189: Text(32), 0xF18C: Text(16), 0xFD00: ">I", 0xFD01: ">BBBBII",
                               0xFD03: ">III"}
    cfg["security_algo"] = _key
    cfg["security_algo_params"] = 0x6D796F66 ^ hk_board.board.id
    with Client(PythonIsoTpConnection(stack), config=cfg) as c:
        yield c, r


def test_identifiers_and_sessions(client, hk_board):
    c, r = client
    v = c.read_data_by_identifier([0xF189, 0xFD00, 0xFD03]).service_data.values
    assert v[0xF189] == "2.3.4" and v[0xFD00] == (hk_board.board.id,)
    assert v[0xFD03] == (0x020304, 7, hk_board.board.id)
    running, trial, target, active, target_addr, slot_bytes = c.read_data_by_identifier(0xFD01).service_data.values[0xFD01]
    lay = r.boot(12).layout
    assert (running, trial, target, active) == (0, 0, 1, 0)
    assert (target_addr, slot_bytes) == (lay.slot_addr(1), hk_board.mcu.layout.slot_b.size_bytes)
    for session in (3, 2, 1, 2):
        resp = c.change_session(session)
        assert resp.service_data.session_echo == session and r.boot(12).server.session == session
        assert resp.service_data.p2_server_max == 0.05 and resp.service_data.p2_star_server_max == 5.0
    c.tester_present()
    with pytest.raises(NegativeResponseException) as e:
        c.write_data_by_identifier(0xF18C, "SN-1")       # locked
    assert e.value.response.code == 0x33
    c.unlock_security_access(1)
    c.write_data_by_identifier(0xF18C, "SN-0001")
    assert c.read_data_by_identifier(0xF18C).service_data.values[0xF18C] == "SN-0001"
    c.change_session(1)
    with pytest.raises(NegativeResponseException) as e:
        c.unlock_security_access(1)                      # not in the default session
    assert e.value.response.code == 0x7F
    c.config["data_identifiers"][0x1234] = ">H"
    with pytest.raises(NegativeResponseException) as e:
        c.read_data_by_identifier(0x1234)
    assert e.value.response.code == 0x31                 # requestOutOfRange


def test_key_of_the_binding_equals_the_documented_formula():
    import random
    rnd = random.Random(5)
    for _ in range(200):
        seed, secret = rnd.getrandbits(32), rnd.getrandbits(32)
        assert _boot.uds_key(seed, secret) == int.from_bytes(_key(1, seed.to_bytes(4, "big"), secret), "big")


def test_a_sized_erase_erases_only_the_pages_of_the_image(client, hk_board):
    """RoutineControl 0xFF00 with a length erases the pages holding that many
    bytes from the slot's start (not the whole slot); a download larger than
    what was erased is refused (NRC 0x70), one that fits is accepted."""
    from udsoncan import MemoryLocation
    c, r = client
    bl = r.boot(12)
    page = hk_board.mcu.flash_page_bytes
    slot = bl.server.target_slot
    addr = bl.layout.slot_addr(slot)
    c.change_session(2)
    c.unlock_security_access(1)
    before = bl.flash.ram.erased_bytes
    c.start_routine(0xFF00, bytes([slot]) + struct.pack(">I", 3 * page + 1))
    assert bl.flash.ram.erased_bytes - before == 4 * page            # 3 pages and one byte: 4 pages
    with pytest.raises(NegativeResponseException) as exc:
        c.request_download(MemoryLocation(addr, 4 * page + 8, address_format=32, memorysize_format=32))
    assert exc.value.response.code == 0x70                          # uploadDownloadNotAccepted
    c.start_routine(0xFF00, bytes([slot]) + struct.pack(">I", 4 * page))
    c.request_download(MemoryLocation(addr, 4 * page, address_format=32, memorysize_format=32))
    with pytest.raises(NegativeResponseException) as exc:            # more than a slot
        c.start_routine(0xFF00, bytes([slot]) + struct.pack(">I", bl.layout.slot_bytes + 1))
    assert exc.value.response.code == 0x31
