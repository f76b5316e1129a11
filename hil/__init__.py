"""The HIL test bench: targets, scenarios, runner, metrics, recorder, report.

``hil.scenario.load_campaign`` reads and validates a TOML campaign (before
any motion); ``hil.targets.make_target`` opens a bench by name (``sim``:
simulated actuators on an in-process virtual CAN bus); ``hil.runner.run_campaign``
runs it and judges every check; ``hil.recorder`` and ``hil.report`` write
the signals, ``report.html`` and ``junit.xml``.
"""
from hil.errors import HilError, ScenarioError

__all__ = ["HilError", "ScenarioError"]
