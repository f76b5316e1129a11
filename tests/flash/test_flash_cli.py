"""``myofoc flash`` (a process) against ``myofoc sim serve --flash-dir``
(another process, a Lawicel slcan pseudo-terminal between them), as the
README shows: exit 0 and the new version; exit 1 on a refusal with the
reason; exit 2 on a corrupt image file; --dry-run changes nothing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from actuators.sim_spawn import ROOT
from tests.flash.rig import make_image
from tests.flash.test_sim_flash import _serve


def _flash(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "actuators.cli", "flash", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_myofoc_flash_against_myofoc_sim_serve(tmp_path, keys, hk_board):
    pytest.importorskip("serial", reason="python-can's slcan interface needs pyserial")
    pub = tmp_path / "test.pub"
    pub.write_bytes(keys.pub)
    files = {}
    for name, slot, ver, ctr, kw in (("v1-a", 0, "1.0.0", 1, {}), ("v1-b", 1, "1.0.0", 1, {}),
                                     ("v2-a", 0, "1.1.0", 2, {}), ("v2-b", 1, "1.1.0", 2, {}),
                                     ("old-b", 1, "0.9.0", 0, {})):
        files[name] = tmp_path / f"{name}.mfw"
        files[name].write_bytes(make_image(hk_board, keys, slot, ver, ctr, **kw))
    bad = tmp_path / "bad.mfw"
    data = bytearray(files["v2-b"].read_bytes())
    data[600] ^= 1
    bad.write_bytes(bytes(data))
    proc, tty = _serve(tmp_path / "flash", pub)
    bus = ["--node", "1", "--interface", "slcan", "--channel", tty]
    try:
        r = _flash(str(files["v1-a"]), str(files["v1-b"]), *bus, "--json")
        assert r.returncode == 0, r.stderr
        (res,) = json.loads(r.stdout)
        assert res["ok"] and res["new_version"] == "1.0.0" and res["slot"] == "A"
        r = _flash(str(files["v2-a"]), str(files["v2-b"]), *bus, "--dry-run", "--json")
        assert r.returncode == 0 and json.loads(r.stdout)[0]["slot"] == "B", r.stderr
        r = _flash(str(files["v2-a"]), str(files["v2-b"]), *bus, "--board", "boards/hip_knee_48v.toml")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "updated" in r.stdout and "1.1.0" in r.stdout
        r = _flash(str(files["old-b"]), str(files["v1-a"]), *bus)   # target A: v1 has counter 1 < 2
        assert r.returncode == 1 and "REFUSED" in r.stdout
        r = _flash(str(bad), *bus)
        assert r.returncode == 2 and "payload_crc32" in r.stderr
        r = _flash(str(files["v2-a"]), *bus, "--board", "boards/arm_48v.toml")
        assert r.returncode == 2 and "not for board" in r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert sorted(x.name for x in (tmp_path / "flash").iterdir()) == ["node_1.flash"]


def test_bad_usage_exits_2():
    r = _flash("x.mfw", "--interface", "virtual")
    assert r.returncode == 2 and "--node" in r.stderr
    r = _flash("x.mfw", "--nodes", "5-3", "--interface", "virtual")
    assert r.returncode == 2
    r = _flash("x.mfw", "--node", "1", "--interface", "virtual", "--stmin-us", "-5")
    assert r.returncode == 2 and "--stmin-us" in r.stderr
