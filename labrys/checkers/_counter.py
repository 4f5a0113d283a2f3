"""Counter checker: every read lies between what must and what may have been added.

Problem. A counter starts at 0; clients ``add`` amounts to it and ``read`` it. Without
knowing when each add took effect, a read still has bounds: it must include every add
acknowledged before the read began, and cannot include more than every add attempted
(and not known to have failed) before the read ended. A read outside those bounds saw
an increment that was lost, or one that never happened. This is Jepsen's
``jepsen.checker/counter``.

Central abstraction: running sums swept over the history in order: the sum of
acknowledged adds (raised at each add's ``ok``) and the sum of adds that may have
happened (raised at each add's invocation, unless that add later fails: a failed
add certainly did nothing). A read's lower bound is the acknowledged sum as it
was when the read was invoked; its upper bound is the attempted sum as it is when the
read completes.

Example:
    invoke add 1; ok add 1; invoke read; ok read 0   lower 1 > read 0: too low

Non-obvious choices:

- Jepsen forbids negative adds. labrys allows them by the same reasoning mirrored, so
  each sum is kept separately for increments and decrements: the lowest a read can
  return counts increments acknowledged before it began and every decrement attempted
  before it ended; the highest counts every increment attempted before it ended and
  the decrements acknowledged before it began. Without decrements the bounds are
  exactly Jepsen's.
- An ``info`` add raises ``upper`` and never ``lower``: it may have happened.
- Reads that did not succeed say nothing and are skipped.
- Reads outside the bounds are grouped into two anomalies, ``read-too-low`` (some
  acknowledged increment is missing) and ``read-too-high`` (the read counts increments
  no one attempted); ``details`` keeps Jepsen's ``reads`` and ``errors`` as
  ``[lower, value, upper]`` triples, plus the op of each error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._set import preview, preview_ops
from labrys.checkers._verdict import Anomaly, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, Op, OpType

_READ_EXAMPLES = 3
"""How many out-of-bounds reads an explanation spells out."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Bounded:
    """One successful read with the bounds it had to respect."""

    op: int  # the read's invocation index
    lower: int | float
    value: int | float
    upper: int | float

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "lower": self.lower, "value": self.value, "upper": self.upper}


def _number(op: Op, value: Any, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HistoryError(
            f"{what} has value {value!r}, but a counter {what} carries a number",
            op_index=op.index,
        )
    return value


def _bounded_reads(history: History) -> list[_Bounded]:
    """Sweep the history once, pairing each successful read with its bounds."""
    # Increments and decrements: acknowledged so far, and attempted (not failed) so far.
    up_acked: int | float = 0
    up_tried: int | float = 0
    down_acked: int | float = 0
    down_tried: int | float = 0
    # process -> (read index, increments then acknowledged, decrements then acknowledged)
    pending: dict[Any, tuple[int, int | float, int | float]] = {}
    reads: list[_Bounded] = []
    for op in history:
        if not op.is_client or op.f not in ("add", "read"):
            continue
        if op.f == "read":
            if op.type is OpType.INVOKE:
                completion = history.completion(op)
                if completion is not None and completion.type is OpType.OK:
                    pending[op.process] = (op.index, up_acked, down_acked)
            elif op.type is OpType.OK:
                index, up_then, down_then = pending.pop(op.process)
                value = _number(op, op.value, "read")
                reads.append(_Bounded(op=index, lower=up_then + down_tried, value=value,
                                      upper=up_tried + down_then))
            continue
        if op.type is OpType.INVOKE:
            amount = _number(op, op.value, "add")
            completion = history.completion(op)
            if completion is not None and completion.type is OpType.FAIL:
                continue
            if amount >= 0:
                up_tried += amount
            else:
                down_tried += amount
        elif op.type is OpType.OK:
            amount = _number(op, history.invocation(op).value, "add")
            if amount >= 0:
                up_acked += amount
            else:
                down_acked += amount
    return reads


def _describe(r: _Bounded) -> str:
    return (f"the read invoked at op {r.op} returned {r.value}, but it had to lie between "
            f"{r.lower} and {r.upper}")


def check_counter(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's ``counter``: each read within the acknowledged and attempted sums.

    Args:
        history: client ops ``add`` (value: the amount) and ``read`` (value: the count).
        options: unused; the signature every checker shares.

    Returns:
        False if any successful read lies outside its bounds, unknown if no read
        succeeded (nothing to judge), True otherwise. ``details``:
        ``read-count``, ``error-count``, ``reads`` and ``errors`` as
        ``[lower, value, upper]`` triples, and ``error-ops``.

    Raises:
        HistoryError: an add or a successful read carries something other than a number.
    """
    del options
    reads = _bounded_reads(history)
    if not reads:
        return nothing_to_judge("counter", "successful read of the counter")
    too_low = [r for r in reads if r.value < r.lower]
    too_high = [r for r in reads if r.value > r.upper]
    anomalies = []
    for kind, bad, why in (
        ("read-too-low", too_low,
         "lower than the sum of the adds acknowledged before it began: an acknowledged "
         "increment was lost"),
        ("read-too-high", too_high,
         "higher than the sum of every add attempted before it ended: it counts "
         "increments no one made"),
    ):
        if not bad:
            continue
        examples = [_describe(r) for r in bad[:_READ_EXAMPLES]]
        anomalies.append(Anomaly(
            kind=kind,
            ops=tuple(r.op for r in bad),
            explanation=f"{len(bad)} read(s) ({preview_ops([r.op for r in bad])}) were {why}; "
            + preview(examples, total=len(bad), limit=_READ_EXAMPLES) + ".",
            data={"reads": [r.to_json() for r in bad]},
        ))
    errors = sorted(too_low + too_high, key=lambda r: r.op)
    if anomalies:
        explanation = " ".join(a.explanation for a in anomalies)
    else:
        explanation = f"All {len(reads)} read(s) lie within the bounds the adds allow."
    return Verdict(
        checker="counter",
        valid=not errors,
        explanation=explanation,
        anomalies=tuple(anomalies),
        details={
            "read-count": len(reads),
            "error-count": len(errors),
            "reads": [[r.lower, r.value, r.upper] for r in reads],
            "errors": [[r.lower, r.value, r.upper] for r in errors],
            "error-ops": [r.op for r in errors],
        },
    )
