"""Operations as the plots need them: on one time axis, with latencies and short text.

Time. labrys records nanoseconds since the test began; Jepsen's ``:time`` is the same.
Some histories have no times at all (Porcupine's logs, many Knossos files): every op
then sits at time 0, and the only order left is the history's own. The axis is then
the op's position in the history, latencies are unknown, and the page says so rather
than draw every op on one instant.

Size. A page must stay light whatever the history's length (under 25 MB for a million
operations), yet keep every operation an anomaly names. So the timeline and the
latency scatter draw at most `ROW_LIMIT` operations: all of them when the history is
smaller, otherwise every operation an anomaly names plus an even sample of the rest
(every k-th). Quantile lines and throughput are computed from all operations, so they
stay exact, and the page states the sampling.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labrys.history import History, Op, Operation

ROW_LIMIT = 50_000
"""The most operations drawn one by one on a page."""

TEXT_LIMIT = 160
"""Characters of an op's value kept for the hover and the click panel."""

_EPOCH_NS = 10**15
"""Times above this (11 days in ns) are wall-clock stamps, shown from the first op."""


@dataclass(frozen=True, slots=True)
class TimeAxis:
    """Where an op sits on the page's horizontal axis.

    Attributes:
        real: True for seconds since the history's origin; False for positions in the
            history (a history without times).
        origin: the time, in ns, shown as 0.
    """

    real: bool
    origin: int = 0

    def at(self, op: Op) -> float:
        return (op.time - self.origin) / 1e9 if self.real else float(op.index)

    @property
    def label(self) -> str:
        return "time (s)" if self.real else "position in the history (the history has no times)"


def time_axis(history: History) -> TimeAxis:
    """Seconds when the history has times, positions otherwise."""
    if len(history) < 2 or all(op.time == history[0].time for op in history):
        return TimeAxis(real=False)
    first = history[0].time
    return TimeAxis(real=True, origin=first if first > _EPOCH_NS else 0)


def show_value(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A value as compact JSON, cut at ``limit`` characters with what was left out.

    A set workload's final read holds thousands of elements; the page says how many
    instead of carrying them all (``history.jsonl`` has them).
    """
    text = json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= limit:
        return text
    more = f" … ({len(value)} elements)" if isinstance(value, list | dict) else " …"
    return text[: max(limit - len(more), 20)] + more


@dataclass(frozen=True, slots=True, kw_only=True)
class Operations:
    """Every client operation of a history, on the time axis.

    Attributes:
        axis: the time axis.
        ops: the operations in invocation order.
        start: where each was invoked.
        end: where it completed; the end of the history when it never did.
        latency_ms: completion minus invocation in ms; NaN when unknown (no completion,
            or no real times).
        f: each one's function.
        outcome: each one's outcome (``ok``, ``fail``, ``info``).
        position: op index (of the invocation) → its position in ``ops``.
        end_of_history: the axis position of the last op.
    """

    axis: TimeAxis
    ops: list[Operation]
    start: np.ndarray
    end: np.ndarray
    latency_ms: np.ndarray
    f: np.ndarray
    outcome: np.ndarray
    position: dict[int, int]
    end_of_history: float


def operations(history: History, axis: TimeAxis) -> Operations:
    """The client operations of ``history`` as arrays along ``axis``."""
    ops = history.operations()
    last = axis.at(history[len(history) - 1]) if len(history) else 0.0
    start = np.fromiter((axis.at(o.invocation) for o in ops), float, len(ops))
    end = np.fromiter((last if o.completion is None else axis.at(o.completion) for o in ops),
                      float, len(ops))
    if axis.real:
        done = np.fromiter((o.completion is not None for o in ops), bool, len(ops))
        latency = np.where(done, (end - start) * 1000.0, np.nan)
    else:
        latency = np.full(len(ops), np.nan)
    return Operations(axis=axis, ops=ops, start=start, end=end, latency_ms=latency,
                      f=np.asarray([o.f for o in ops], dtype=object),
                      outcome=np.asarray([o.type.value for o in ops], dtype=object),
                      position={o.index: i for i, o in enumerate(ops)}, end_of_history=last)


@dataclass(frozen=True, slots=True)
class Windows:
    """Equal windows of time over a history, for quantiles and rates.

    Attributes:
        start: where the first window begins.
        width: each window's width (at least 1 s, or 1 position).
        count: how many windows cover the history.
    """

    start: float
    width: float
    count: int

    @property
    def centres(self) -> np.ndarray:
        return self.start + (np.arange(self.count) + 0.5) * self.width

    def of(self, positions: np.ndarray) -> np.ndarray:
        """The window of each position (clipped to the first and last)."""
        return np.clip(((positions - self.start) // self.width).astype(int), 0, self.count - 1)


def windows(operations: Operations, about: int) -> Windows:
    """About ``about`` windows from the first invocation to the end of the history."""
    start = float(operations.start.min())
    width = max((operations.end_of_history - start) / about, 1.0)
    return Windows(start, width, int((operations.end_of_history - start) // width) + 1)


def invocation_index(history: History, index: int) -> int | None:
    """The invocation that an op index belongs to (itself, or its completion's partner).

    Checkers name an operation by its invocation or by its completion (Elle names a
    transaction by the op that completed it); the page needs one name for each.
    """
    if not 0 <= index < len(history):
        return None
    op = history[index]
    return index if history.is_invocation(op) else history.invocation(op).index


def choose_rows(operations: Operations, keep: Iterable[int],
                limit: int = ROW_LIMIT) -> tuple[np.ndarray, int]:
    """Positions (into ``operations.ops``) of the operations to draw, and the stride.

    Args:
        operations: every client operation.
        keep: invocation indices that must be drawn (those anomalies name).
        limit: the most to draw; ``keep`` is honoured even past it.

    Returns:
        The sorted positions, and k when every k-th of the others was taken (1 when
        all were).
    """
    n = len(operations.ops)
    if n <= limit:
        return np.arange(n), 1
    kept = sorted({operations.position[i] for i in keep if i in operations.position})
    stride = math.ceil(n / max(limit - len(kept), 1))
    chosen = np.union1d(np.arange(0, n, stride), np.asarray(kept, dtype=int))
    return chosen, stride
