"""The simulated flash (actuators/sim_flash.py over the C mf_ramflash):
file format and NOR semantics, the parameter page in the params region,
and crash consistency: the `myofoc sim serve` process killed (SIGKILL) in
the middle of a download leaves a flash file from which the node boots a
valid image, and a retry completes."""
from __future__ import annotations

import random
import signal
import subprocess
from pathlib import Path

import can
import pytest

from actuators.sim import SimError
from actuators.sim_flash import FLASH_BASE, FlashLayout, SimFlash, flash_file
from actuators.sim_spawn import spawn_serve
from firmware_gen.errors import FlashError
from firmware_gen.flasher import FlashOptions, connect, flash_node, read_node_info
from tests.flash.rig import LIGHT, image_pair


def test_file_format_and_nor_semantics(tmp_path, hk_board):
    lay = FlashLayout.from_board(hk_board)
    path = tmp_path / "node_1.flash"
    f = SimFlash(lay, path)
    assert path.stat().st_size == hk_board.mcu.flash_bytes
    assert path.read_bytes() == b"\xff" * hk_board.mcu.flash_bytes          # erased
    assert lay.slot_a[0] == FLASH_BASE + hk_board.mcu.layout.slot_a.offset_bytes
    assert lay.record_addr == (lay.bootloader[0] + lay.bootloader[1] - 4096, lay.bootloader[0] + lay.bootloader[1] - 2048)
    f.program(lay.slot_b[0], bytes([0x0F] * 8))
    with pytest.raises(SimError):
        f.program(lay.slot_b[0], bytes([0xF0] * 8))                          # not erased: refused
    assert f.read(lay.slot_b[0], 8) == bytes([0x0F] * 8)
    with pytest.raises(SimError):
        f.program(lay.slot_b[0] + 4, bytes(8))                               # not double-word aligned
    f.erase_page(lay.slot_b[0])
    assert f.read(lay.slot_b[0], 2048) == b"\xff" * 2048
    f.program(lay.slot_b[0] + 2040, b"ABCDEFGH")
    f.close()
    raw = path.read_bytes()
    off = lay.slot_b[0] - FLASH_BASE
    assert raw[off + 2040:off + 2048] == b"ABCDEFGH"                         # byte offset = address - base
    with pytest.raises(SimError, match="flash_bytes"):
        SimFlash(FlashLayout.from_board(hk_board).__class__(**{**lay.__dict__, "size": 131072}), path)


def test_a_power_cut_mid_erase_leaves_a_partly_erased_page(hk_board):
    lay = FlashLayout.from_board(hk_board)
    f = SimFlash(lay)
    f.program(lay.params[0], bytes(2048))
    f.ram.power_cut(1000)
    with pytest.raises(SimError):
        f.erase_page(lay.params[0])
    page = f.read(lay.params[0], 2048) if not f.ram.dead else None
    assert page is None
    f.ram.power_on()
    page = f.read(lay.params[0], 2048)
    assert page[:1000] == b"\xff" * 1000 and page[1000:] == bytes(1048)


def test_parameter_page_lives_in_the_params_region(rig, tmp_path):
    from tests.sim.test_sim_node import IDX_VEL_KP
    from actuators import protocol as p
    flash = tmp_path / "flash"
    r = rig([2], flash_dir=flash)
    r.stop()
    r.host.send(p.encode("ParamRequest", 2, {"param_index": IDX_VEL_KP, "param_op": "WRITE", "param_seq": 1,
                                             "param_value": 3.25}).to_can())
    r.host.send(p.encode("ParamRequest", 2, {"param_index": 0, "param_op": "SAVE", "param_seq": 2,
                                             "param_value": 0.0}).to_can())
    for _ in range(5):
        r.nodes.step(0.001)
    assert sorted(x.name for x in flash.iterdir()) == ["node_2.flash"]
    lay = r.boot(2).layout
    raw = flash_file(flash, 2).read_bytes()
    off = lay.params[0] - FLASH_BASE
    n = int.from_bytes(raw[off:off + 4], "little")
    assert raw[off + 4:off + 8] == b"MFPT" and 0 < n < 2048
    r.close()
    r2 = rig([2], flash_dir=flash)
    r2.stop()
    assert r2.nodes.read_param(2, IDX_VEL_KP) == 3.25


# ---- a real process killed mid-way ---------------------------------------------------

def _serve(flash: Path, pub: Path) -> tuple[subprocess.Popen, str]:
    proc, ready = spawn_serve(["--board", "boards/hip_knee_48v.toml", "--nodes", "1", "--slcan", "--no-fd",
                               "--flash-dir", str(flash), "--pubkey", str(pub)])
    return proc, ready.split()[-1]


class _Kill(Exception):
    pass


def _shutdown(bus: can.BusABC) -> None:
    try:
        bus.shutdown()
    except can.CanError:
        pass


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # isotp thread on a dead pty
def test_sim_serve_killed_mid_download_boots_a_valid_image(tmp_path, keys, hk_board):
    pytest.importorskip("serial", reason="python-can's slcan interface needs pyserial")
    pub = tmp_path / "test.pub"
    pub.write_bytes(keys.pub)
    flash = tmp_path / "flash"
    rng = random.Random(7)
    images = {v: image_pair(hk_board, keys, v, c, size=12000) for v, c in (("1.0.0", 1), ("1.1.0", 2), ("1.2.0", 3))}
    opts = FlashOptions(p2_timeout_s=0.5, reset_wait_s=3.0)
    kills = 2 if LIGHT else 5
    proc, tty = _serve(flash, pub)
    bus = can.Bus(interface="slcan", channel=tty, sleep_after_open=0)
    try:
        assert flash_node(bus, 1, images["1.0.0"], opts).ok
        done = ["1.0.0"]
        for k in range(kills):
            version = ("1.1.0", "1.2.0")[k % 2] if k < 2 else done[-1]
            stop_at = rng.randint(1, 12000)

            def progress(node, stage, d, total, stop_at=stop_at, proc=proc):
                if stage == "download" and d >= stop_at:
                    proc.send_signal(signal.SIGKILL)   # the node dies mid-transfer: no clean-up at all
                    proc.wait(5)
                    raise _Kill()
            with pytest.raises((_Kill, FlashError)):
                flash_node(bus, 1, images[version], FlashOptions(**{**opts.__dict__, "progress": progress}))
            _shutdown(bus)   # the adapter's far end is gone
            assert flash_file(flash, 1).stat().st_size == hk_board.mcu.flash_bytes
            proc, tty = _serve(flash, pub)                 # power up again on the same flash file
            bus = can.Bus(interface="slcan", channel=tty, sleep_after_open=0)
            with connect(bus, 1, opts) as c:
                info = read_node_info(c)
            assert info.running_slot in (0, 1) and info.version_text == done[-1]
            res = flash_node(bus, 1, images[version], opts)  # the retry completes
            assert res.ok and res.new_version == version
            done.append(version)
    finally:
        _shutdown(bus)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
