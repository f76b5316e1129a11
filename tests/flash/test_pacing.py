"""Pacing after a lost block (firmware_gen/flasher.py, STMIN_BACKOFF_S): on a
transport that loses frames sent too close together (udp_multicast drops
bursts), a flasher that keeps sending consecutive frames back to back loses
block after block; one that paces them after the first loss completes. The
gaps are measured from the frames the nodes' side saw."""
from __future__ import annotations

import can
import pytest

from firmware_gen.errors import FlashError
from firmware_gen.flasher import STMIN_BACKOFF_S, FlashOptions, flash_buses, flash_node
from tests.flash.rig import image_pair

MIN_GAP_S = 25e-6   # the lossy transport: a UDS frame closer than this to the previous one is lost


def _cf_gaps_s(sniffer: can.BusABC, req_id: int) -> list[float]:
    ts = []
    while (m := sniffer.recv(0.0)) is not None:
        if m.arbitration_id == req_id and (m.data[0] >> 4) == 2:
            ts.append(m.timestamp)
    return [b - a for a, b in zip(ts, ts[1:]) if b - a < 0.01]   # within a block (blocks are ms apart)


def test_unpaced_frames_are_lost_on_a_bursty_transport(rig, keys, hk_board):
    r = rig([6])
    r.chaos.min_gap_s = MIN_GAP_S
    opt = FlashOptions(backoff=False, block_retries=1, p2_timeout_s=0.3)
    with pytest.raises(FlashError, match="no answer after 2 tries") as e:
        flash_node(r.host, 6, image_pair(hk_board, keys, "1.0.0", 1), opt)
    assert e.value.step == "download" and r.chaos.dropped > 0
    r.stop()
    assert r.boot(6).reset() < 0   # nothing became bootable: the node stays in its bootloader


def test_a_lost_block_paces_the_rest_and_the_update_completes(rig, keys, hk_board):
    r = rig([6])
    sniffer = can.Bus(interface="virtual", channel=r.host.channel_id)
    try:
        r.chaos.min_gap_s = MIN_GAP_S
        res = flash_node(r.host, 6, image_pair(hk_board, keys, "1.0.0", 1), FlashOptions(p2_timeout_s=0.3))
        assert res.ok and res.new_version == "1.0.0" and res.retries >= 1
        assert res.extra["stmin_s"] == pytest.approx(STMIN_BACKOFF_S)
        # the next update, started at that pace, loses nothing: every gap is at least STmin
        while sniffer.recv(0.0) is not None:
            pass
        dropped = r.chaos.dropped
        res = flash_node(r.host, 6, image_pair(hk_board, keys, "1.1.0", 2),
                         FlashOptions(p2_timeout_s=0.3, stmin_s=res.extra["stmin_s"]))
        gaps = _cf_gaps_s(sniffer, 0x700 | 6)
        assert res.ok and res.retries == 0 and r.chaos.dropped == dropped
        assert len(gaps) > 1000 and min(gaps) >= MIN_GAP_S
    finally:
        sniffer.shutdown()
    r.stop()
    assert r.boot(6).reset() == 1 and r.boot(6).version_text == "1.1.0"


def test_the_nodes_after_a_loss_start_at_the_pace_it_needed(rig, keys, hk_board):
    r = rig([6, 7, 8])
    r.chaos.min_gap_s = MIN_GAP_S
    results = flash_buses([("bus", r.host, [6, 7, 8])], image_pair(hk_board, keys, "1.0.0", 1),
                          FlashOptions(p2_timeout_s=0.3))
    assert [x.ok for x in results] == [True] * 3, [x.error for x in results]
    assert results[0].retries >= 1 and results[1].retries == 0 and results[2].retries == 0
