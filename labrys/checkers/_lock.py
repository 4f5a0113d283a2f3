"""Locks: did two clients ever hold the lock at once, and did any update under it vanish?

Problem. A lock service (etcd's lock API, ZooKeeper recipes, Redlock) promises mutual
exclusion: at most one client holds the lock at a time. A lock held through a lease
cannot keep that promise when the holder stalls past the lease (a pause, a partition):
the lease expires, another client gets the lock, and the first carries on believing it
still holds it. What protects data then is fencing, not the lock.

Central abstraction: a *hold*, the stretch in which one client certainly believed it
held the lock: from the completion of its ``ok`` ``acquire`` to the invocation of its
``release`` (or, when the client crashed first, to its last invocation while holding).
These bounds are conservative: under a correct lock, a later acquire takes effect
after the release has, which is after the release was invoked, and completes later
still; so two holds that intersect prove two holders. Every such pair is reported as
``overlapping-holders``.

Updates: while holding, a client reads a shared list and writes it back with its own
element appended (``update``, whose result records the element and the length of the
list it read). Every element of an ``ok`` update must be in the final ``read`` (taken
once every fault is healed); one that is not is a ``lost-update``, and the updates
that read a list of the same length (so the same list, which lacked it) are named as
the writes that can have overwritten it.

Ops::

    acquire → ok | fail | info          release → ok | fail | info
    update E → ok {"element": E, "length": n, "last": x}
    read → ok [E, …]                    (the final reads)

Example: process 1 acquires at 1.0 s and invokes its release at 3.0 s; process 2's
acquire completes at 2.5 s: overlapping holders, both acquires and the release named.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, Operation, OpType

_SHOWN = 3
"""How many anomalies of each kind the explanation spells out; details count them all."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A stretch in which one process certainly believed it held the lock.

    Attributes:
        process: who held it.
        acquire: the acquire's op index (its invocation).
        start_ns: when the acquire's ok was recorded.
        end_ns: when the release was invoked (or the holder's last invocation).
        release: the release's op index, or None if the holder never released.
    """

    process: Any
    acquire: int
    start_ns: int
    end_ns: int
    release: int | None


def holds(operations: list[Operation]) -> list[Hold]:
    """Every hold of a history's client operations, by start time."""
    by_process: dict[Any, list[Operation]] = defaultdict(list)
    for operation in operations:
        by_process[operation.process].append(operation)
    out: list[Hold] = []
    for process, ops in by_process.items():
        start: Operation | None = None
        last_ns = 0
        for operation in ops:
            if start is not None:
                last_ns = operation.call_time
                if operation.f == "release":
                    out.append(_hold(process, start, last_ns, operation.index))
                    start = None
                    continue
            if operation.f == "acquire" and operation.type is OpType.OK:
                if start is not None:  # acquired twice without a release between
                    out.append(_hold(process, start, last_ns, None))
                start = operation
                last_ns = operation.completion.time  # type: ignore[union-attr]
        if start is not None:
            out.append(_hold(process, start, last_ns, None))
    return sorted(out, key=lambda h: h.start_ns)


def _hold(process: Any, acquire: Operation, end_ns: int, release: int | None) -> Hold:
    return Hold(process=process, acquire=acquire.index,
                start_ns=acquire.completion.time,  # type: ignore[union-attr]
                end_ns=end_ns, release=release)


def check_lock(history: History, options: CheckOptions) -> Verdict:
    """Check a lock history (see the module docstring).

    Returns:
        False with every overlapping pair of holds and every lost update; unknown when
        no acquire succeeded, or when nothing overlapped but there is no final read to
        judge the updates by; True otherwise.

    Raises:
        HistoryError: an update's result or a read's value is not of the shapes above.
    """
    operations = history.operations(clients_only=True)
    all_holds = holds(operations)
    if not all_holds:
        return nothing_to_judge("lock", "successful acquire of the lock")
    anomalies = _overlaps(all_holds)
    updates = [op for op in operations if op.f == "update" and op.type is OpType.OK]
    reads = [op for op in operations if op.f == "read" and op.type is OpType.OK]
    final = reads[-1] if reads else None
    if final is not None:
        anomalies += _lost_updates(updates, final)
    overlapping = sum(1 for a in anomalies if a.kind == "overlapping-holders")
    lost = sum(1 for a in anomalies if a.kind == "lost-update")
    details = {"holds": len(all_holds), "overlapping-pairs": overlapping,
               "ok-updates": len(updates), "lost-updates": lost if final else None,
               "final-read": None if final is None else final.index}
    if anomalies:
        shown = ([a for a in anomalies if a.kind == "overlapping-holders"][:_SHOWN]
                 + [a for a in anomalies if a.kind == "lost-update"][:_SHOWN])
        return Verdict(checker="lock", valid=False, anomalies=tuple(anomalies),
                       details=details, explanation=(
                           f"The lock did not give mutual exclusion: {overlapping} pairs of "
                           f"holds overlapped and {lost} of {len(updates)} updates made "
                           f"under it were lost. " + " ".join(a.explanation + "."
                                                              for a in shown)))
    if final is None:
        return Verdict(checker="lock", valid=UNKNOWN, details=details, explanation=(
            f"No two of {len(all_holds)} holds overlapped, but there is no final read, so "
            "the updates made under the lock cannot be judged."))
    return Verdict(checker="lock", valid=True, details=details, explanation=(
        f"No two of {len(all_holds)} holds overlapped, and all {len(updates)} updates "
        f"made under the lock are in the final read (op {final.index})."))


def _overlaps(all_holds: list[Hold]) -> list[Anomaly]:
    out = []
    for i, first in enumerate(all_holds):
        for second in all_holds[i + 1:]:
            if second.start_ns >= first.end_ns:
                break  # sorted by start: no later hold begins inside this one
            until = (f"invoked its release (op {first.release})" if first.release is not None
                     else "stopped (it never released)")
            ops = tuple(sorted({first.acquire, second.acquire}
                               | ({first.release} if first.release is not None else set())))
            out.append(Anomaly(
                kind="overlapping-holders", ops=ops,
                explanation=f"process {second.process} acquired the lock (op "
                f"{second.acquire}, at {second.start_ns / 1e9:.3f} s) while process "
                f"{first.process} held it: it had acquired it (op {first.acquire}, at "
                f"{first.start_ns / 1e9:.3f} s) and only at {first.end_ns / 1e9:.3f} s "
                f"{until}",
                data={"processes": [first.process, second.process],
                      "first": [first.start_ns, first.end_ns],
                      "second": [second.start_ns, second.end_ns]}))
    return out


def _lost_updates(updates: list[Operation], final: Operation) -> list[Anomaly]:
    if not isinstance(final.value, list):
        raise HistoryError(f"the final read's value must be a list, not {final.value!r}",
                           op_index=final.index)
    present = {repr(e) for e in final.value}
    by_length: dict[Any, list[Operation]] = defaultdict(list)
    for update in updates:
        by_length[_result(update).get("length")].append(update)
    out = []
    for update in updates:
        result = _result(update)
        element = result.get("element")
        if repr(element) in present:
            continue
        rivals = [u.index for u in by_length[result.get("length")] if u is not update]
        cause = (f"; op{'s' if len(rivals) > 1 else ''} {', '.join(map(str, rivals))} read "
                 f"the same {result.get('length')} elements, so wrote the list back "
                 "without it" if rivals else "")
        out.append(Anomaly(
            kind="lost-update", ops=tuple(sorted({update.index, final.index, *rivals})),
            explanation=f"update op {update.index} (process {update.process}) appended "
            f"{element!r} under the lock, and the final read (op {final.index}) lacks it"
            + cause,
            data={"element": element, "length": result.get("length"), "rivals": rivals}))
    return out


def _result(update: Operation) -> dict[str, Any]:
    value = update.value
    if not isinstance(value, dict) or "element" not in value:
        raise HistoryError(f"an update's result must be {{'element': E, 'length': n, …}}, "
                           f"not {value!r}", op_index=update.index)
    return value
