"""The firmware_gen package's exceptions."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BoardFileError", "BuildError", "FlashError", "GenError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a board file: the table (dotted path), the key
    ("" for the table itself), what is wrong and what is allowed."""

    table: str
    key: str
    problem: str
    allowed: str

    def format(self, path: str) -> str:
        """``FILE: [table] key: problem (allowed: ...)``."""
        where = f"[{self.table}] {self.key}" if self.key else f"[{self.table}]"
        return f"{path}: {where}: {self.problem} (allowed: {self.allowed})"


class BoardFileError(ValueError):
    """A board file that cannot be read or breaks the schema.

    ``path`` is the file, ``problems`` every :class:`Problem` found (one per
    line of the message, each naming the file, the table, the key and the
    allowed range or type)."""

    def __init__(self, path: str, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.path = str(path)
        self.problems = tuple(problems)
        super().__init__("\n".join(p.format(self.path) for p in self.problems))


class GenError(ValueError):
    """``myofoc gen`` cannot write the project: a board value the MCU cannot
    realise (PLL, CAN bit timing, ...) or an output directory it must not
    replace. The message names the file and the value at fault."""


class BuildError(RuntimeError):
    """``myofoc build`` failed: a compiler or linker error (the message holds
    the tool's output) or a firmware over its flash or RAM budget."""


class FlashError(RuntimeError):
    """A firmware update that was refused or failed (``myofoc flash``):
    ``node`` the node id (None before a node is involved), ``step`` the
    step that failed (``"image"``, ``"connect"``, ``"erase"``, ``"download"``,
    ``"check"``, ``"reset"``, ``"confirm"`` ...); the message says what and why."""

    def __init__(self, message: str, node: int | None = None, step: str = "") -> None:
        self.node = node
        self.step = step
        where = f"node {node}: " if node is not None else ""
        super().__init__(f"{where}{step + ': ' if step else ''}{message}")
