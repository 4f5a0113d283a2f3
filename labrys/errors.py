"""The errors labrys raises on purpose.

Everything here is a problem with the world or with what the user asked for, never a
bug in labrys: the command line prints such an error as one line (what is wrong, and
what to do) and exits with status 255. Any other exception is a bug; its traceback
goes to the run's log.

    LabrysError                 anything labrys reports as one line
    ├── UsageError              an unknown option, a bad value, a missing file
    ├── HistoryError            a malformed history (file, line, op index)
    ├── TargetError             a database that will not start or answer (node, log)
    └── ControlError            a node or network that cannot be set up (command, stderr)
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class LabrysError(Exception):
    """A problem labrys can describe in one line, with what to do about it."""


_BRIEF = reprlib.Repr()
_BRIEF.maxlevel = 3
_BRIEF.maxstring = _BRIEF.maxother = _BRIEF.maxlong = 60
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = _BRIEF.maxdict = 6


def brief(value: Any) -> str:
    """``value`` as an error message shows it: its repr, cut to a few dozen characters
    and three levels of nesting, so that one bad value in a file of any size still
    makes a one-line message."""
    try:
        return _BRIEF.repr(value)
    except ValueError:  # an integer too long to write in decimal
        return f"an integer of about {int(value.bit_length() * 0.30103)} digits"


class UsageError(LabrysError):
    """The user asked for something that does not exist or does not make sense."""


def lookup(table: Mapping[str, T], name: str, *, what: str) -> T:
    """``table[name]``, or a `UsageError` that lists the names there are.

    Every registry (checkers, models, targets, workloads) is looked up through this, so
    a mistyped name always gets the same answer: what was asked for, and the choices.
    """
    try:
        return table[name]
    except KeyError:
        raise UsageError(f"unknown {what} {name!r}; choose one of: {', '.join(table)}") from None


class HistoryError(LabrysError):
    """A history that cannot be read or is not well formed.

    A malformed history is never a verdict: a checker that guessed its way through a
    completion without an invocation would report anomalies that are really typos.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        op_index: int | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.op_index = op_index
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.op_index is not None:
            where.append(f"op {self.op_index}")
        prefix = ":".join(where[:2]) if self.path is not None else ", ".join(where)
        if self.path is not None and self.op_index is not None:
            prefix += f" (op {self.op_index})"
        return f"{prefix}: {self.message}" if prefix else self.message

    def at(self, *, path: str | Path) -> HistoryError:
        """The same error, naming the file it came from."""
        return HistoryError(self.message, path=path, line=self.line, op_index=self.op_index)


class TargetError(LabrysError):
    """A database that did not install, start or answer."""

    def __init__(self, message: str, *, node: str | None = None, log: str | Path | None = None):
        self.node = node
        self.log = None if log is None else str(log)
        text = f"{node}: {message}" if node else message
        if log is not None:
            text += f" (log: {log})"
        super().__init__(text)


class ControlError(LabrysError):
    """A node, network or command that the control layer could not set up or run."""
