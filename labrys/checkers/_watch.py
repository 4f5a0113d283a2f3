"""Watches: did every watcher see one gap-free, identically ordered sequence per key?

Problem. A store with watches (etcd, ZooKeeper, Consul) promises that a watch
delivers the changes to the keys it covers in revision order, each once, none skipped,
and that a watch resumed from a revision picks up exactly there. Writers put unique
values on a few keys; watchers follow all of them, each ``watch`` op returning the
events one watch delivered from the revision it started at (a watcher resumes from
one past the last revision it saw). If the promise holds, every key has one sequence
of ``(revision, value)`` changes, and every watch op saw, for every key, exactly the
stretch of that sequence between the revision it started from and the last revision
it saw of any key.

Central abstraction: the sequence of each key is the union of what anyone saw and what
acknowledged writes were told (a put's answer carries its revision). Against it:

- ``reorder``: a watch op delivered a revision not above the one before it, or below
  the revision it started from;
- ``divergence``: two observations give one key and revision different values (two
  watchers, or a watcher and the write's own answer), or one written value shows up at
  two revisions: watchers disagree on the sequence;
- ``unwritten``: a watcher saw a value no write ever wrote;
- ``gap``: a watch op saw a key up to some revision but missed a change of that key
  between the revision it started from and there (also between one op of a process and
  the next, if a watcher resumed past what it had seen).

Ops (as ``labrys.targets._etcd_watch`` records them)::

    write {"key": k, "value": v} → ok {"key": k, "value": v, "revision": r}
    watch  → ok {"from": f, "events": [[k, r, v], …]}
    final-watch → the same, plus "caught_up_to": the newest revision it reached, or None

Example: writes of 1, 2, 3 to key a land at revisions 2, 3, 4; a watch from revision 2
that delivers ``[[a, 2, 1], [a, 4, 3]]`` has a gap: revision 3 (value 2) of key a is
missing, and the verdict names that op, the revision and the write that made it.

Keys are compared as text (a watcher reads keys back from the store as strings).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._verdict import Anomaly, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, Operation, OpType
from labrys.models import freeze

KINDS = ("gap", "reorder", "divergence", "unwritten")
"""Every anomaly this checker reports, most telling first."""

_WATCH_FS = ("watch", "final-watch")


@dataclass(frozen=True, slots=True)
class _Seen:
    """One observation of a change: a key's value at a revision, and who reported it."""

    value: Any
    op: int
    by_write: bool


@dataclass(frozen=True, slots=True)
class _Watch:
    """One ok watch op: where it started and what it delivered, in order."""

    operation: Operation
    start: int
    events: tuple[tuple[str, int, Any], ...]
    caught_up_to: int | None

    @property
    def last(self) -> int | None:
        return max((r for _, r, _ in self.events), default=None)


def check_watch(history: History, options: CheckOptions) -> Verdict:
    """Check a watch history (see the module docstring).

    Returns:
        False with every anomaly found (the first of each kind explained in the
        explanation); unknown when no watch op succeeded; True otherwise. ``details``
        counts watch ops, events, keys and the watchers that caught up at the end.

    Raises:
        HistoryError: an op's value is not of the shapes above.
    """
    operations = history.operations(clients_only=True)
    written_by: dict[Any, int] = {}
    told: list[tuple[str, int, Any, int]] = []
    watches: list[_Watch] = []
    for operation in operations:
        if operation.f == "write":
            key, value = _write_of(operation.invocation.value, operation.index)
            written_by.setdefault(freeze(value), operation.index)
            if operation.type is OpType.OK:
                result = operation.value
                told.append((key, _int(result, "revision", operation.index), value,
                             operation.index))
        elif operation.f in _WATCH_FS and operation.type is OpType.OK:
            watches.append(_watch_of(operation))
    if not watches:
        return nothing_to_judge("watch", "successful watch op")

    anomalies: list[Anomaly] = []
    seen: dict[tuple[str, int], list[_Seen]] = defaultdict(list)
    for key, rev, value, index in told:
        seen[(key, rev)].append(_Seen(value, index, by_write=True))
    for watch in watches:
        anomalies += _order_anomalies(watch)
        for key, rev, value in watch.events:
            seen[(key, rev)].append(_Seen(value, watch.operation.index, by_write=False))
            if freeze(value) not in written_by:
                anomalies.append(Anomaly(
                    kind="unwritten", ops=(watch.operation.index,),
                    explanation=f"watch op {watch.operation.index} saw value {value!r} at "
                    f"revision {rev} of key {key}, which no write wrote",
                    data={"key": key, "revision": rev, "value": value}))
    anomalies += _divergences(seen)
    sequences = {key: sorted(rev for k, rev in seen if k == key)
                 for key in {k for k, _ in seen}}
    anomalies += _gaps(watches, sequences, seen)

    caught_up = [w for w in watches if w.operation.f == "final-watch"
                 and w.caught_up_to is not None]
    details = {"watch-ops": len(watches), "events": sum(len(w.events) for w in watches),
               "keys": len(sequences), "revisions": len(seen),
               "final-watchers-caught-up": len(caught_up),
               "final-watchers": sum(1 for w in watches if w.operation.f == "final-watch"),
               "anomaly-counts": {kind: sum(1 for a in anomalies if a.kind == kind)
                                  for kind in KINDS if any(a.kind == kind for a in anomalies)}}
    if anomalies:
        anomalies.sort(key=lambda a: (KINDS.index(a.kind), a.data.get("revision", 0)))
        firsts = [next(a for a in anomalies if a.kind == kind) for kind in KINDS
                  if any(a.kind == kind for a in anomalies)]
        counts = ", ".join(f"{n} {kind}" for kind, n in details["anomaly-counts"].items())
        return Verdict(checker="watch", valid=False, anomalies=tuple(anomalies),
                       details=details,
                       explanation=f"Watchers did not all see one ordered, gap-free "
                       f"sequence per key ({counts}). First of each: "
                       + " ".join(a.explanation + "." for a in firsts))
    return Verdict(checker="watch", valid=True, details=details, explanation=(
        f"{len(watches)} watch ops saw {details['events']} events of {len(sequences)} "
        f"keys, every one in revision order, without gaps, and agreeing with each other "
        f"and with the writes; {len(caught_up)} of {details['final-watchers']} watchers "
        "caught up with the newest revision at the end."))


def _order_anomalies(watch: _Watch) -> list[Anomaly]:
    """A revision not above the one before it in one op, or below the op's start."""
    out = []
    previous = watch.start - 1
    for key, rev, _ in watch.events:
        if rev <= previous:
            where = ("the revision it started from, " + str(watch.start)
                     if previous == watch.start - 1 else f"revision {previous} before it")
            out.append(Anomaly(
                kind="reorder", ops=(watch.operation.index,),
                explanation=f"watch op {watch.operation.index} delivered revision {rev} of "
                f"key {key} after {where}",
                data={"key": key, "revision": rev, "after": previous}))
        previous = max(previous, rev)
    return out


def _divergences(seen: Mapping[tuple[str, int], list[_Seen]]) -> list[Anomaly]:
    """Different values at one key and revision; one value at two places."""
    out = []
    placed: dict[Any, tuple[str, int, int]] = {}
    for (key, rev), sightings in sorted(seen.items(), key=lambda item: item[0][1]):
        values = {freeze(s.value) for s in sightings}
        if len(values) > 1:
            first = sightings[0]
            other = next(s for s in sightings if freeze(s.value) != freeze(first.value))
            out.append(Anomaly(
                kind="divergence", ops=tuple(sorted({first.op, other.op})),
                explanation=f"revision {rev} of key {key} is {first.value!r} to "
                f"{_who(first)} but {other.value!r} to {_who(other)}",
                data={"key": key, "revision": rev,
                      "values": sorted({repr(s.value) for s in sightings})}))
        for sighting in sightings:
            value = freeze(sighting.value)
            where = placed.setdefault(value, (key, rev, sighting.op))
            if where[:2] != (key, rev):
                out.append(Anomaly(
                    kind="divergence", ops=tuple(sorted({where[2], sighting.op})),
                    explanation=f"value {sighting.value!r} is at revision {where[1]} of key "
                    f"{where[0]} to op {where[2]} but at revision {rev} of key {key} to "
                    f"{_who(sighting)}",
                    data={"key": key, "revision": rev, "value": sighting.value}))
                placed[value] = (key, rev, sighting.op)
    return out


def _gaps(watches: list[_Watch], sequences: Mapping[str, list[int]],
          seen: Mapping[tuple[str, int], list[_Seen]]) -> list[Anomaly]:
    """Changes a watch op (or a watcher between two ops) should have seen and did not."""
    out = []
    by_process: dict[Any, list[_Watch]] = defaultdict(list)
    for watch in watches:
        by_process[watch.operation.process].append(watch)
        last = watch.last
        if last is None:
            continue
        delivered = {(k, r) for k, r, _ in watch.events}
        for key, revisions in sequences.items():
            lo = bisect.bisect_left(revisions, watch.start)
            hi = bisect.bisect_right(revisions, last)
            missing = [r for r in revisions[lo:hi] if (key, r) not in delivered]
            if missing:
                out.append(_gap(watch, key, missing, seen,
                                f"started at revision {watch.start} and saw up to revision "
                                f"{last}"))
    for ops in by_process.values():
        for before, after in itertools.pairwise(ops):
            reached = before.last if before.last is not None else before.start - 1
            if after.start <= reached + 1:
                continue
            for key, revisions in sequences.items():
                lo = bisect.bisect_right(revisions, reached)
                hi = bisect.bisect_left(revisions, after.start)
                if hi > lo:
                    out.append(_gap(after, key, revisions[lo:hi], seen,
                                    f"resumed at revision {after.start} although its "
                                    f"process had seen only up to revision {reached}"))
    return out


def _gap(watch: _Watch, key: str, missing: list[int],
         seen: Mapping[tuple[str, int], list[_Seen]], context: str) -> Anomaly:
    rev = missing[0]
    witness = seen[(key, rev)][0]
    more = f" (and {len(missing) - 1} more of that key)" if len(missing) > 1 else ""
    return Anomaly(
        kind="gap", ops=tuple(sorted({watch.operation.index, witness.op})),
        explanation=f"watch op {watch.operation.index} (process {watch.operation.process}) "
        f"{context}, but missed revision {rev} of key {key} (value {witness.value!r}, "
        f"{_source(witness)}){more}",
        data={"key": key, "revision": rev, "missing": missing})


def _who(sighting: _Seen) -> str:
    """Who reported a sighting, as the object of "to": "the write op 7", "watch op 9"."""
    return f"the write op {sighting.op}" if sighting.by_write else f"watch op {sighting.op}"


def _source(sighting: _Seen) -> str:
    """Where a change is known from, as a clause: "written by op 7", "seen by watch op 9"."""
    return (f"written by op {sighting.op}" if sighting.by_write
            else f"seen by watch op {sighting.op}")


def _write_of(value: Any, index: int) -> tuple[str, Any]:
    if not isinstance(value, Mapping) or "key" not in value or "value" not in value:
        raise HistoryError(f"a write's value must be {{'key': k, 'value': v}}, not {value!r}",
                           op_index=index)
    return str(value["key"]), value["value"]


def _watch_of(operation: Operation) -> _Watch:
    value = operation.value
    index = operation.index
    if not isinstance(value, Mapping) or not isinstance(value.get("events"), list):
        raise HistoryError(f"a watch's result must be {{'from': f, 'events': [[k, r, v], …]}}, "
                           f"not {value!r}", op_index=index)
    events = []
    for event in value["events"]:
        if not (isinstance(event, list | tuple) and len(event) == 3
                and isinstance(event[1], int)):
            raise HistoryError(f"a watch event must be [key, revision, value], not {event!r}",
                               op_index=index)
        events.append((str(event[0]), event[1], event[2]))
    caught = value.get("caught_up_to")
    return _Watch(operation, _int(value, "from", index), tuple(events),
                  caught if isinstance(caught, int) else None)


def _int(value: Any, field: str, index: int) -> int:
    got = value.get(field) if isinstance(value, Mapping) else None
    if not isinstance(got, int) or isinstance(got, bool):
        raise HistoryError(f"{field!r} must be a whole number in {value!r}", op_index=index)
    return got
