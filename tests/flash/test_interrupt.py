"""Interruptions at random points, many times: the flasher stopped
mid-way, the node reset mid-way, the node's power cut at a random flash
byte, frames lost in both directions. After each, a power cycle of the
node must boot a valid image (the very bytes of an image flashed before),
and a retry without interruption must complete with the new version.
MYOFOC_LIGHT=1: fewer rounds."""
from __future__ import annotations

import random
import time

import can
import pytest

from firmware_gen.errors import FlashError
from firmware_gen.flasher import FlashOptions, flash_node
from tests.flash.rig import LIGHT, image_pair

ROUNDS = 12 if LIGHT else 60
KINDS = ("kill", "reset", "power", "drop")


class Killed(Exception):
    """The flasher process 'dies' here."""


@pytest.mark.slow
def test_random_interruptions_never_brick_the_node(rig, keys, hk_board, capsys):
    rng = random.Random(2024)
    r = rig([11], seed=3)
    bl = r.boot(11)
    images: dict[str, dict[int, bytes]] = {}
    opts = FlashOptions(p2_timeout_s=0.3, reset_wait_s=2.0, block_retries=6)

    def flash(version: str, counter: int, **extra) -> object:
        pair = image_pair(hk_board, keys, version, counter, size=8192)
        images[version] = {0: pair[0][1], 1: pair[1][1]}
        return flash_node(r.host, 11, pair, FlashOptions(**{**opts.__dict__, **extra}))

    ram = bl.flash.ram
    work0 = ram.erased_bytes + ram.programmed_bytes
    assert flash("1.0.0", 1).ok
    work = ram.erased_bytes + ram.programmed_bytes - work0   # flash bytes one update erases and programs
    survived = {k: 0 for k in KINDS}
    interrupted = {k: 0 for k in KINDS}
    for rnd in range(1, ROUNDS + 1):
        kind = KINDS[(rnd - 1) % len(KINDS)] if rnd <= len(KINDS) else rng.choice(KINDS)
        version, counter = f"1.{rnd}.0", rnd + 1
        extra = {}
        if kind == "kill":
            stop_at = rng.randint(1, 8704)

            def progress(node, stage, done, total, stop_at=stop_at):
                if stage == "download" and done >= stop_at:
                    raise Killed()
            extra["progress"] = progress
        elif kind == "reset":
            trigger = r.chaos.uds_frames + rng.randint(1, 1400)
            r.chaos.on_uds = lambda n, t=trigger: bl.reset() if n == t else None
        elif kind == "power":
            # a cut anywhere in the update's erases and writes (slot pages, image, boot records)
            cut = rng.randint(0, work)
            bl.flash.ram.power_cut(cut)

            def power_cycle(n):
                if bl.flash.ram.dead:
                    bl.flash.ram.power_on()
                    bl.reset()
            r.chaos.on_uds = power_cycle
        else:
            r.chaos.loss = 0.003
        try:
            flash(version, counter, **extra)
        except (FlashError, Killed):
            interrupted[kind] += 1
        # the interruption is over; the node is power-cycled
        r.chaos.loss = 0.0
        r.chaos.on_uds = None
        r.stop()
        bl.flash.ram.power_on()
        slot = bl.reset()
        assert slot in (0, 1), f"round {rnd} ({kind}): nothing bootable"
        running = bl.version_text
        assert running in images, f"round {rnd} ({kind}): runs {running!r}"
        want = images[running][slot]
        assert bl.flash.read(bl.layout.slot_addr(slot), len(want)) == want, \
            f"round {rnd} ({kind}): the running image's bytes differ from what was flashed"
        survived[kind] += 1
        r.start()
        # a retry completes
        res = flash(version, counter)
        assert res.ok and res.new_version == version, f"round {rnd} ({kind}): retry {res}"
    with capsys.disabled():
        print(f"\n  {ROUNDS} rounds: survived {survived}, of which interrupted before the end "
              f"{interrupted}; frames dropped {r.chaos.dropped}")
    assert sum(interrupted.values()) >= ROUNDS // 2   # most rounds really were interrupted



def test_a_block_answered_twice_does_not_derail_the_download(rig, keys, hk_board):
    """The node's answer to block 1 reaches the flasher a second time, just
    before block 2's answer (what a block sent again after a timeout gives on
    a slow node: it answers the original and the repeat). The flasher must
    skip the stale answer and take block 2's."""
    r = rig([12], seed=5)
    bl = r.boot(12)
    pair = image_pair(hk_board, keys, "1.1.0", 2, size=8192)
    resp_id = 0x780 | 12
    sent: list[bytes] = []
    inner_send = r.chaos.send

    def send(msg, timeout=None):  # type: ignore[no-untyped-def]
        if msg.arbitration_id == resp_id and bytes(msg.data[:3]) == b"\x02\x76\x02" and not sent:
            stale = bytearray(msg.data)
            stale[2] = 0x01
            sent.append(bytes(stale))
            inner_send(can.Message(arbitration_id=resp_id, data=stale, is_extended_id=msg.is_extended_id,
                                   is_fd=msg.is_fd), timeout)   # block 1's answer again, just before
        inner_send(msg, timeout)

    r.chaos.send = send  # type: ignore[method-assign]
    res = flash_node(r.host, 12, pair, FlashOptions(p2_timeout_s=0.3, reset_wait_s=2.0))
    r.chaos.send = inner_send  # type: ignore[method-assign]
    assert sent, "block 2 was never answered"
    assert res.ok and res.new_version == "1.1.0", res
    slot = bl.reset()
    assert bl.version_text == "1.1.0"
    assert bl.flash.read(bl.layout.slot_addr(slot), len(pair[slot][1])) == pair[slot][1]
