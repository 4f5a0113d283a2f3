"""Queue checker: what goes into a queue must come out, once per time it went in.

Problem. A queue workload enqueues values, dequeues them, and at the end drains the
queue. If the queue is total (nothing is dropped), every acknowledged enqueue has a
matching dequeue, and nothing comes out that was never put in. This is Jepsen's
``jepsen.checker/total-queue``; it holds only for histories that drain the queue
completely.

Central abstraction: three multisets of values (a value may be enqueued more than once,
so counts matter):

- *attempts*: every enqueue invoked;
- *enqueues*: every enqueue acknowledged;
- *dequeues*: every value a successful dequeue or drain returned.

From them: **lost** = enqueues − dequeues (acknowledged, never came out);
**unexpected** = dequeued values never attempted at all; **duplicated** = dequeues −
attempts − unexpected (came out more often than they went in); **recovered** =
(dequeues ∩ attempts) − enqueues (an indeterminate enqueue that did happen).

The verdict is false with anything lost or unexpected. Duplicates are reported but,
as in Jepsen, do not make the history invalid: a total queue promises at-least-once
delivery, not exactly-once.

Example:
    enqueue 1 ok; enqueue 2 ok; dequeue → 1; drain → []    2 is lost

Non-obvious choices:

- A successful ``drain`` (value: the list of values it removed) counts as one dequeue
  per value, as Jepsen expands it. A drain that ended ``info`` removed an unknown set
  of values, so the verdict is unknown (Jepsen refuses such histories).
- A successful dequeue whose value is null found the queue empty and removed nothing;
  Jepsen would count null as an unexpected value.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._set import element_key, elements_of, freeze, preview_elements, thaw
from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict, nothing_to_judge
from labrys.history import History, OpType


def _multiset_json(counts: Counter[Any]) -> list[list[Any]]:
    """A multiset as ``[[value, count], ...]`` in value order (JSON keys must be strings)."""
    return [[thaw(v), n] for v, n in sorted(counts.items(), key=lambda kv: element_key(kv[0]))]


def check_queue(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's ``total-queue``: nothing lost, nothing unexpected.

    Args:
        history: client ops ``enqueue`` (value: the value), ``dequeue`` (value on
            success: the value removed) and optionally ``drain`` (value on success: the
            list of values removed).
        options: unused; the signature every checker shares.

    Returns:
        False if an acknowledged enqueue never came out or a value came out that was
        never enqueued; unknown if a drain's outcome is unknown, or if no queue
        operation may have taken effect (nothing to judge); True otherwise.
        ``details``: Jepsen's counts and the multisets ``lost``, ``unexpected``,
        ``duplicated``, ``recovered`` as ``[value, count]`` pairs.

    Raises:
        HistoryError: a successful drain's value is not a collection.
    """
    del options
    attempts: Counter[Any] = Counter()
    enqueues: Counter[Any] = Counter()
    dequeues: Counter[Any] = Counter()
    enqueue_ops: dict[Any, list[int]] = {}
    dequeue_ops: dict[Any, list[int]] = {}
    judged = 0  # queue operations that did not fail (a dequeue of an empty queue counts)
    for operation in history.operations():
        if operation.f in ("enqueue", "dequeue", "drain") and operation.type is not OpType.FAIL:
            judged += 1
        if operation.f == "enqueue":
            value = freeze(operation.invocation.value)
            attempts[value] += 1
            enqueue_ops.setdefault(value, []).append(operation.index)
            if operation.type is OpType.OK:
                enqueues[value] += 1
        elif operation.f in ("dequeue", "drain"):
            if operation.type is OpType.INFO and operation.f == "drain":
                return Verdict(
                    checker="queue", valid=UNKNOWN,
                    explanation=f"The drain invoked at op {operation.index} did not say how "
                    "it ended, so which values it removed is unknown; a total-queue check "
                    "needs every drain to succeed or fail.",
                    details={"indeterminate-drain": operation.index},
                )
            if operation.type is not OpType.OK:
                continue
            assert operation.completion is not None
            if operation.f == "drain":
                values = elements_of(operation.completion, f"drain op {operation.index}")
            elif operation.value is None:
                continue  # the queue was empty
            else:
                values = [freeze(operation.value)]
            for value in values:
                dequeues[value] += 1
                dequeue_ops.setdefault(value, []).append(operation.index)

    if not judged:
        return nothing_to_judge("queue", "enqueue or dequeue that may have taken effect")
    ok = dequeues & attempts
    unexpected = Counter({v: n for v, n in dequeues.items() if v not in attempts})
    duplicated = dequeues - attempts - unexpected
    lost = enqueues - dequeues
    recovered = ok - enqueues

    anomalies: list[Anomaly] = []
    if lost:
        anomalies.append(Anomaly(
            kind="lost",
            ops=tuple(sorted(i for v in lost for i in enqueue_ops[v])),
            explanation=f"{lost.total()} acknowledged enqueue(s) never came out of the "
            f"queue: {preview_elements(lost.elements())}.",
            data={"values": _multiset_json(lost)},
        ))
    if unexpected:
        anomalies.append(Anomaly(
            kind="unexpected",
            ops=tuple(sorted(i for v in unexpected for i in dequeue_ops[v])),
            explanation=f"{unexpected.total()} dequeue(s) returned value(s) no one ever "
            f"enqueued: {preview_elements(unexpected.elements())}.",
            data={"values": _multiset_json(unexpected)},
        ))
    valid = not anomalies
    if valid:
        explanation = (f"Every one of the {enqueues.total()} acknowledged enqueue(s) came "
                       "out, and nothing came out that was not put in")
        explanation += "." if not duplicated else (
            f"; {duplicated.total()} value(s) came out more often than they went in "
            f"({preview_elements(set(duplicated))}), which a total queue allows.")
    else:
        explanation = " ".join(a.explanation for a in anomalies)
    return Verdict(
        checker="queue",
        valid=valid,
        explanation=explanation,
        anomalies=tuple(anomalies),
        details={
            "attempt-count": attempts.total(),
            "acknowledged-count": enqueues.total(),
            "ok-count": ok.total(),
            "unexpected-count": unexpected.total(),
            "duplicated-count": duplicated.total(),
            "lost-count": lost.total(),
            "recovered-count": recovered.total(),
            "lost": _multiset_json(lost),
            "unexpected": _multiset_json(unexpected),
            "duplicated": _multiset_json(duplicated),
            "recovered": _multiset_json(recovered),
        },
    )
