"""Flashing simulated nodes over an in-process virtual bus with the
project's flasher (firmware_gen/flasher.py: udsoncan + can-isotp): the new
version is seen through ReadDataByIdentifier; refused images change
nothing; an image that never confirms is rolled back."""
from __future__ import annotations

import struct
import zlib

import pytest

from firmware_gen.errors import FlashError
from firmware_gen.flasher import FlashOptions, connect, flash_buses, flash_node, read_node_info
from tests.flash.rig import image_pair, make_image


def _info(r, node, fd=False):
    with connect(r.host, node, FlashOptions(fd=fd)) as c:
        return read_node_info(c)


@pytest.mark.parametrize("fd", [False, True], ids=["classic", "fd"])
def test_flash_a_blank_node_then_update_it(rig, keys, hk_board, fd):
    r = rig([3], fd=fd)
    blank = _info(r, 3, fd)
    assert blank.running_slot == 0xFF and blank.version_text == "" and blank.board_id == hk_board.board.id
    v1 = image_pair(hk_board, keys, "1.0.0", 1, size=30000)
    res = flash_node(r.host, 3, v1, FlashOptions(fd=fd))
    assert res.ok and res.slot == "A" and res.new_version == "1.0.0" and res.image_bytes == 30512
    info = _info(r, 3, fd)
    assert (info.version_text, info.running_slot, info.active_slot, info.trial_boot) == ("1.0.0", 0, 0, False)
    assert info.record_counter == 1
    # the bytes in slot A are exactly the image (read back from the simulated flash)
    lay = r.boot(3).layout
    data = dict(v1)["1.0.0-a"]
    assert r.boot(3).flash.read(lay.slot_addr(0), len(data)) == data
    v2 = image_pair(hk_board, keys, "1.1.0", 2, size=30000)
    res = flash_node(r.host, 3, v1 + v2, FlashOptions(fd=fd))
    assert res.ok and res.slot == "B" and res.old_version == "1.0.0" and res.new_version == "1.1.0"
    info = _info(r, 3, fd)
    assert (info.version_text, info.running_slot, info.active_slot, info.record_counter) == ("1.1.0", 1, 1, 2)
    # a power cycle keeps it
    r.stop()
    assert r.boot(3).reset() == 1 and r.boot(3).version_text == "1.1.0"


def test_dry_run_changes_nothing(rig, keys, hk_board):
    r = rig([4])
    flash_node(r.host, 4, image_pair(hk_board, keys, "1.0.0", 1))
    before = bytes(r.boot(4).flash.read(r.boot(4).layout.base, r.boot(4).layout.size))
    res = flash_node(r.host, 4, image_pair(hk_board, keys, "2.0.0", 5), FlashOptions(dry_run=True))
    assert res.ok and res.dry_run and res.slot == "B" and res.new_version == "2.0.0"
    assert bytes(r.boot(4).flash.read(r.boot(4).layout.base, r.boot(4).layout.size)) == before


def test_an_image_that_never_confirms_is_rolled_back(rig, keys, hk_board):
    r = rig([5], auto_confirm=False)
    flash_node(r.host, 5, image_pair(hk_board, keys, "1.0.0", 1))   # the flasher confirms this one
    res = flash_node(r.host, 5, image_pair(hk_board, keys, "1.1.0", 2), FlashOptions(confirm=False))
    assert res.ok and res.new_version == "1.1.0"
    info = _info(r, 5)
    assert info.trial_boot and info.running_slot == 1 and info.active_slot == 0 and info.record_counter == 1
    with connect(r.host, 5) as c:   # the next reset: back to the confirmed image
        c.client.ecu_reset(1)
    assert _wait_version(r, 5, "1.0.0")
    info = _info(r, 5)
    assert (info.running_slot, info.active_slot, info.trial_boot, info.pending_slot) == (0, 0, False, 0xFF)
    assert info.record_counter == 1   # the unconfirmed image did not raise the counter


def test_the_application_confirms_itself_when_auto_confirm(rig, keys, hk_board):
    r = rig([6], auto_confirm=True)
    flash_node(r.host, 6, image_pair(hk_board, keys, "1.0.0", 1))
    flash_node(r.host, 6, image_pair(hk_board, keys, "1.1.0", 2), FlashOptions(confirm=False))
    bl = r.boot(6)
    from tests.flash.rig import wait_until
    assert wait_until(lambda: not bl.server.trial_boot, 3.0)   # confirmed by the simulated application
    r.stop()
    assert bl.reset() == 1 and bl.version_text == "1.1.0"


def _wait_version(r, node, text, timeout_s=3.0):
    from tests.flash.rig import wait_until

    def ok():
        try:
            return _info(r, node).version_text == text
        except Exception:
            return False
    return wait_until(ok, timeout_s)


def _corrupt(data: bytes) -> bytes:
    b = bytearray(data)
    b[700] ^= 0x10
    return bytes(b)


def _resign_header(data: bytes, **fields) -> bytes:
    """Change header fields and fix the header CRC (the signature then no longer matches)."""
    b = bytearray(data)
    offs = {"board_id": 16}
    for k, v in fields.items():
        struct.pack_into("<I", b, offs[k], v)
    struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[:124])))
    return bytes(b)


# name -> (images for the target slot B, the host's refusal, the node's status text)
def _bad_images(board, keys):
    good = make_image(board, keys, 1, "1.1.0", 2)
    return {
        "corrupt": ([("x-b", _corrupt(good))], "payload_crc32", "payload CRC mismatch"),
        "truncated": ([("x-b", good[:-100])], "truncated", "payload CRC mismatch"),
        "unsigned": ([("x-b", make_image(board, keys, 1, "1.1.0", 2, key=None))], "not signed",
                     "not signed"),
        "wrongly signed": ([("x-b", make_image(board, keys, 1, "1.1.0", 2, key="other"))], "signature",
                           "signature does not verify"),
        "wrong board": ([("x-b", make_image(board, keys, 1, "1.1.0", 2, board_id=0x0301))],
                        "board 0x0301", "another board"),
        "older": ([("x-b", make_image(board, keys, 1, "0.9.0", 0))], "security counter 0 below",
                  "security counter below"),
    }


@pytest.mark.parametrize("case", ["corrupt", "truncated", "unsigned", "wrongly signed", "wrong board", "older"])
def test_bad_images_are_refused_and_change_nothing(rig, keys, hk_board, case):
    r = rig([7])
    flash_node(r.host, 7, image_pair(hk_board, keys, "1.0.0", 1))
    bl = r.boot(7)
    record = bl.server.record
    images, host_says, node_says = _bad_images(hk_board, keys)[case]
    opts = FlashOptions(pubkey=keys.pub)
    # the host refuses first (for "wrongly signed" only with the public key), sending nothing
    uds_before = bl.server.counters["requests"]
    with pytest.raises(FlashError) as e:
        flash_node(r.host, 7, images, opts)
    assert host_says in str(e.value), str(e.value)
    assert bl.server.counters["requests"] - uds_before <= 6   # identifiers read, nothing written
    # with the host's checks off the node refuses by itself (its own check routine)
    with pytest.raises(FlashError) as e:
        flash_node(r.host, 7, images, FlashOptions(host_checks=False))
    assert e.value.step == "check" and node_says in str(e.value), str(e.value)
    # nothing changed: the same record, and after a reset the same image runs
    after = bl.server.record
    assert {k: after[k] for k in ("active_slot", "pending_slot", "security_counter", "trial")} == \
        {k: record[k] for k in ("active_slot", "pending_slot", "security_counter", "trial")}
    r.stop()
    assert bl.reset() == 0 and bl.version_text == "1.0.0" and not bl.server.trial_boot


def test_older_version_with_the_same_counter_needs_allow_downgrade(rig, keys, hk_board):
    r = rig([8])
    flash_node(r.host, 8, image_pair(hk_board, keys, "1.2.0", 1))
    with pytest.raises(FlashError, match="older than the running 1.2.0"):
        flash_node(r.host, 8, image_pair(hk_board, keys, "1.1.0", 1))
    res = flash_node(r.host, 8, image_pair(hk_board, keys, "1.1.0", 1), FlashOptions(allow_downgrade=True))
    assert res.ok and res.new_version == "1.1.0"


def test_no_image_for_the_inactive_slot(rig, keys, hk_board):
    r = rig([9])
    flash_node(r.host, 9, image_pair(hk_board, keys, "1.0.0", 1))   # A runs: the target is B
    only_a = [("a", make_image(hk_board, keys, 0, "1.1.0", 2))]
    with pytest.raises(FlashError, match="no image for slot B"):
        flash_node(r.host, 9, only_a)


def test_several_buses_in_parallel(keys, hk_board):
    from tests.flash.rig import Rig
    rigs = [Rig(hk_board, [1, 2, 3], keys, seed=k) for k in range(3)]
    try:
        plan = [(f"bus{k}", rg.host, [1, 2, 3]) for k, rg in enumerate(rigs)]
        results = flash_buses(plan, image_pair(hk_board, keys, "1.0.0", 1))
        assert len(results) == 9 and all(x.ok for x in results), [x.error for x in results if not x.ok]
        assert {x.new_version for x in results} == {"1.0.0"}
        # a refusal on one node is reported, the others still go
        rigs[1].boot(2).server  # noqa: B018
        results = flash_buses(plan, image_pair(hk_board, keys, "0.5.0", 0))
        assert not any(x.ok for x in results) and all("security counter" in x.error for x in results)
    finally:
        for rg in rigs:
            rg.close()
