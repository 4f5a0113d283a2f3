"""Tiny literal histories for the workload checkers' tests, one op a row.

A row is ``(process, type, f, value)``; op i happens at time ``i * tick_ns``::

    history(inv(0, "add", 1), ok(0, "add", 1))   # ops 0 and 1, at 0 ns and 1 ns
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from labrys.checkers import Verdict
from labrys.history import History

Row = tuple[int, str, str, Any]
T = TypeVar("T")


def history(*rows: Row, tick_ns: int = 1) -> History:
    """A history from ``(process, type, f, value)`` rows, op i at time ``i * tick_ns``."""
    return History.from_records(
        (None, {"process": p, "type": t, "f": f, "value": v, "time": i * tick_ns})
        for i, (p, t, f, v) in enumerate(rows)
    )


def inv(p: int, f: str, v: Any = None) -> Row:
    return (p, "invoke", f, v)


def ok(p: int, f: str, v: Any = None) -> Row:
    return (p, "ok", f, v)


def info(p: int, f: str, v: Any = None) -> Row:
    return (p, "info", f, v)


def fail(p: int, f: str, v: Any = None) -> Row:
    return (p, "fail", f, v)


def summary(v: Verdict) -> tuple[Any, list[tuple[str, tuple[int, ...]]]]:
    """The verdict and each anomaly's kind and ops: what most assertions compare."""
    return v.valid, [(a.kind, a.ops) for a in v.anomalies]


def interleaved(programs: Sequence[Sequence[T]], rnd: random.Random
                ) -> Iterator[tuple[int, T, bool]]:
    """``(process, op, done)`` for each op's invocation (done False) and completion (done
    True), each process's ops in order, the processes' steps interleaved at random."""
    pending = [[(p, op, done) for op in prog for done in (False, True)]
               for p, prog in enumerate(programs)]
    while any(pending):
        yield pending[rnd.choice([p for p, steps in enumerate(pending) if steps])].pop(0)
