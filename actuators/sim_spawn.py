"""Start ``myofoc sim serve`` in a process of its own and wait for its
ready line (``ready: nodes ... on <interface> <channel>``), for the benches
and tests that talk to simulated nodes across processes."""
from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

__all__ = ["ROOT", "serve_argv", "spawn_serve"]

ROOT = Path(__file__).resolve().parent.parent


def serve_argv(*args: str) -> list[str]:
    """The command line of ``myofoc sim serve`` with ``args`` (this interpreter)."""
    return [sys.executable, "-m", "actuators.cli", "sim", "serve", *args]


def spawn_serve(args: Sequence[str], timeout_s: float = 15.0) -> tuple[subprocess.Popen, str]:
    """Run ``myofoc sim serve ARGS`` (text pipes on stdout and stderr, this
    checkout first on PYTHONPATH); return the process and its ready line,
    stripped. The channel is its last word (``line.split()[-1]``: the slcan
    pty, the multicast group). No ready line within ``timeout_s``: the
    process is killed and RuntimeError names the command and its stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    argv = serve_argv(*args)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + timeout_s
    try:
        while time.monotonic() < end:
            if sel.select(timeout=end - time.monotonic()):
                line = proc.stdout.readline()
                if line.startswith("ready:"):
                    return proc, line.strip()
                if not line:
                    break
    finally:
        sel.close()
    proc.kill()
    err = proc.communicate()[1]
    raise RuntimeError(f"`{' '.join(argv)}` gave no ready line within {timeout_s:g} s: {err.strip()}")
