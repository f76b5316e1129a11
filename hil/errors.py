"""Errors of the HIL bench."""
from __future__ import annotations


class HilError(RuntimeError):
    """A bench (target) could not do what a scenario asked."""


class ScenarioError(ValueError):
    """A campaign file is invalid; the message names the file, the scenario
    (index and name) and the field at fault. Raised before any motion."""

    def __init__(self, path: str, message: str, scenario: str | None = None,
                 field: str | None = None) -> None:
        where = path
        if scenario is not None:
            where += f": {scenario}"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")
        self.path, self.scenario, self.field = path, scenario, field
