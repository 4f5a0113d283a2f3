"""Set checkers: was every acknowledged add kept, and nothing invented?

Problem. A set workload adds distinct elements (``{f: add, value: 3}``) and reads the
whole set (``{f: read, value: [1, 2, 3]}``). Two questions, two checkers, both after
Jepsen's ``jepsen.checker`` (``set`` and ``set-full``):

- ``set`` looks only at the *last* successful read. An element whose add was
  acknowledged but which that read lacks is **lost**; an element in the read that
  nobody ever tried to add is **unexpected**; an element whose add was indeterminate
  (``info``) and which the read contains is **recovered**, which is fine. No
  successful read at all, or no add at all, gives ``unknown``: there is nothing to
  judge.

- ``set-full`` follows every element through every read. For an element *e*, the
  reads that count are those that completed after *e*'s add was invoked. *e* is
  **known** from the earlier of its add's acknowledgement and the first such read that
  saw it. Let *last present* be the latest-invoked read that saw *e* and *last absent*
  the latest-invoked read that did not. Then *e* is

  - **stable** when it was seen and no read invoked after the last sighting missed it;
  - **lost** when it was known, and a read invoked after both the last sighting and the
    moment it became known missed it;
  - **never read** otherwise (no read began after it was known, or the only reads
    that missed it overlapped its add and may have run before it).

  A stable element is **stale** when its stable time (just after the last read that
  missed it) comes after it was known: some read that began after the add was
  acknowledged did not see it. The verdict is false with any lost element, unknown
  when no element is stable, and, with ``linearizable`` (Jepsen's ``:linearizable?``,
  default false), false with any stale element. A read that lists one element twice is
  a **duplicated** element and makes the verdict false.

Example:
    add 0 ok; read → [0]; read → []    set-full: 0 is lost (known at the add, then
                                       missing from a read that began later)

Non-obvious choices:

- Elements are compared by value after turning lists into tuples, so ``[0, 1]`` from
  JSON and ``[0 1]`` from EDN are the same element, and neither equals the integer 0.
- If one element is added twice, labrys tracks it from its *first* add invocation.
  (Jepsen restarts tracking at each add invocation, forgetting what earlier reads saw.)
- Jepsen's ``set-full`` intends to flag an element listed more than once in one read,
  but its test compares the multiplicity the wrong way round and never fires; labrys
  does what the code's comment says.
- Jepsen recomputes every element's state at every read, O(elements × reads). Here
  each read touches only the elements it lists, plus one scan per element of the reads
  begun after its add that contain it, plus the reads in flight at its add (bounded by
  the number of processes): linear in the size of the history, reads included.

Element lists in ``details`` are compacted as Jepsen prints them (``#{0..4 7}``);
anomalies carry the full lists in ``data``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._verdict import UNKNOWN, Anomaly, Validity, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, Op, Operation, OpType

PREVIEW_LIMIT = 8
"""How many elements or ops an explanation names before saying "and N more"."""

QUANTILES = ("0", "0.5", "0.95", "0.99", "1")
"""The latency quantiles Jepsen reports, as JSON-ready keys."""

WORST_STALE_LIMIT = 8
"""How many of the stalest elements ``set-full`` describes in full, as Jepsen does."""

# -- elements: shared by the set, queue and unique-ids checkers -----------------------------


def freeze(value: Any) -> Any:
    """A hashable element equal to ``value``: lists become tuples, maps frozensets.

    Histories decode EDN vectors and JSON arrays as lists, which cannot be set
    members; the checkers compare elements by value, so they freeze them first.
    """
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, Mapping):
        return frozenset((freeze(k), freeze(v)) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


def element_key(value: Any) -> tuple[Any, ...]:
    """A sort key that orders any mix of elements: None, numbers, strings, tuples, rest."""
    if value is None:
        return (0,)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, tuple):
        return (3, tuple(element_key(v) for v in value))
    return (4, repr(value))


def thaw(value: Any) -> Any:
    """The JSON-ready form of a frozen element: tuples become lists again."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, frozenset):
        return sorted((thaw(v) for v in value), key=lambda v: element_key(freeze(v)))
    return value


def render(value: Any) -> str:
    """One element as a person reads it (JSON, so strings keep their quotes)."""
    return json.dumps(thaw(value), default=repr)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def compact(values: Iterable[Any]) -> str:
    """Elements as Jepsen prints integer sets: ``#{0..4 7 9..12}``; lossless.

    Runs of three or more consecutive integers become ``lo..hi``; anything else is
    listed as it is.
    """
    items = sorted(set(values), key=element_key)
    parts: list[str] = []
    i = 0
    while i < len(items):
        j = i
        if _is_int(items[i]):
            while j + 1 < len(items) and _is_int(items[j + 1]) and items[j + 1] == items[j] + 1:
                j += 1
        if j - i >= 2:
            parts.append(f"{items[i]}..{items[j]}")
        else:
            parts.extend(render(x) for x in items[i : j + 1])
        i = j + 1
    return "#{" + " ".join(parts) + "}"


def preview(words: Sequence[str], *, total: int | None = None,
            limit: int = PREVIEW_LIMIT) -> str:
    """``a, b, c`` or ``a, b, c and 312 more``: a list an explanation can afford.

    Args:
        words: the items, or at least the first ``limit`` of them.
        total: how many items there are in all, when ``words`` holds only the first.
        limit: how many to name.
    """
    total = len(words) if total is None else total
    shown = ", ".join(words[:limit])
    rest = total - min(limit, len(words))
    return f"{shown} and {rest} more" if rest > 0 else shown


def preview_elements(values: Iterable[Any], limit: int = PREVIEW_LIMIT) -> str:
    """The first few elements in order, rendered, then how many more."""
    items = sorted(values, key=element_key)
    return preview([render(v) for v in items[:limit]], total=len(items), limit=limit)


def preview_ops(indices: Sequence[int], limit: int = PREVIEW_LIMIT) -> str:
    """``op 3`` or ``ops 3, 9 and 12 more``."""
    if len(indices) == 1:
        return f"op {indices[0]}"
    return "ops " + preview([str(i) for i in indices[:limit]], total=len(indices), limit=limit)


def elements_of(op: Op, what: str) -> list[Any]:
    """The frozen elements of a collection-valued completion (a set read, a drain).

    Raises:
        HistoryError: the value is not a collection.
    """
    value = op.value
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Collection):
        raise HistoryError(
            f"{what} returned {value!r}, but it should return a collection of elements; "
            "is this the right checker for this history?",
            op_index=op.index,
        )
    return [freeze(v) for v in value]


# -- set -------------------------------------------------------------------------------------


def check_set(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's ``set``: the last successful read against every add.

    Args:
        history: client ops ``add`` (value: the element) and ``read`` (value: every
            element present, as a list).
        options: unused; the signature every checker shares.

    Returns:
        False if an acknowledged element is missing from the final read (``lost``) or
        the final read holds an element never added (``unexpected``); unknown if no
        read succeeded or nothing was ever added (nothing to judge); True otherwise.
        ``details`` holds Jepsen's counts and the element sets, compacted.

    Raises:
        HistoryError: the final read's value is not a collection.
    """
    del options
    attempted: dict[Any, int] = {}  # element -> its first add's invocation index
    acknowledged: set[Any] = set()
    final_read: Operation | None = None
    for operation in history.operations():
        if operation.f == "add":
            element = freeze(operation.invocation.value)
            attempted.setdefault(element, operation.index)
            if operation.type is OpType.OK:
                acknowledged.add(element)
        elif operation.f == "read" and operation.type is OpType.OK:
            # "Final" means the last to complete, as Jepsen folds over completions.
            assert operation.completion is not None
            if final_read is None or (
                operation.completion.index > final_read.completion.index  # type: ignore[union-attr]
            ):
                final_read = operation
    if final_read is None or final_read.value is None:
        return nothing_to_judge(
            "set", "successful read of the set, so nothing can be said about which adds "
            "took effect", details={"attempt-count": len(attempted),
                                    "acknowledged-count": len(acknowledged)})
    assert final_read.completion is not None
    read = set(elements_of(final_read.completion, f"the final read (op {final_read.index})"))
    if not attempted:
        # Reads of lists and not one add: another workload's reads (a register's
        # [key value]), far likelier than a set inventing every element it holds.
        return nothing_to_judge("set", "add of an element to the set")
    ok = read & attempted.keys()
    unexpected = read - attempted.keys()
    lost = acknowledged - read
    recovered = ok - acknowledged
    anomalies: list[Anomaly] = []
    if lost:
        adds = sorted(attempted[e] for e in lost)
        anomalies.append(Anomaly(
            kind="lost",
            ops=tuple(sorted({*adds, final_read.index})),
            explanation=f"{len(lost)} element(s) whose add was acknowledged are missing "
            f"from the final read (op {final_read.index}): {preview_elements(lost)}.",
            data={"elements": [thaw(e) for e in sorted(lost, key=element_key)],
                  "final-read": final_read.index},
        ))
    if unexpected:
        anomalies.append(Anomaly(
            kind="unexpected",
            ops=(final_read.index,),
            explanation=f"The final read (op {final_read.index}) holds {len(unexpected)} "
            f"element(s) that no one ever tried to add: {preview_elements(unexpected)}.",
            data={"elements": [thaw(e) for e in sorted(unexpected, key=element_key)]},
        ))
    valid = not anomalies
    if valid:
        explanation = (f"The final read (op {final_read.index}) holds all {len(acknowledged)} "
                       "acknowledged element(s) and nothing unexpected")
        explanation += (f"; {len(recovered)} whose add was indeterminate also made it."
                        if recovered else ".")
    else:
        explanation = " ".join(a.explanation for a in anomalies)
    return Verdict(
        checker="set",
        valid=valid,
        explanation=explanation,
        anomalies=tuple(anomalies),
        details={
            "attempt-count": len(attempted),
            "acknowledged-count": len(acknowledged),
            "ok-count": len(ok),
            "lost-count": len(lost),
            "recovered-count": len(recovered),
            "unexpected-count": len(unexpected),
            "ok": compact(ok),
            "lost": compact(lost),
            "unexpected": compact(unexpected),
            "recovered": compact(recovered),
            "final-read": final_read.index,
        },
    )


# -- set-full --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Read:
    """One successful read: its invocation, its completion, and what it saw."""

    invocation: Op
    completion: Op
    elements: frozenset[Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fate:
    """What became of one element (Jepsen's per-element set-full result).

    ``known`` is the op from which the element certainly existed (an add's
    acknowledgement or a read's completion); ``last_present`` and ``last_absent`` are
    read *invocations*, because a read could have run at any moment after it began.
    """

    element: Any
    add: int
    outcome: str  # "stable", "lost" or "never-read"
    known: Op | None
    known_via: int | None  # the invocation of the operation that made it known
    last_present: Op | None
    last_absent: Op | None
    stable_latency_ms: int | None
    lost_latency_ms: int | None

    def to_json(self) -> dict[str, Any]:
        def idx(op: Op | None) -> int | None:
            return None if op is None else op.index

        return {"element": thaw(self.element), "outcome": self.outcome, "add": self.add,
                "known": idx(self.known), "known-via": self.known_via,
                "last-present": idx(self.last_present),
                "last-absent": idx(self.last_absent),
                "stable-latency": self.stable_latency_ms, "lost-latency": self.lost_latency_ms}


def _ns_to_ms(ns: int) -> int:
    """Whole milliseconds, truncated, never negative (Jepsen's ``nanos->ms`` then long)."""
    return max(0, ns) // 1_000_000


def _fate(
    element: Any, add: int, known: Op | None, known_via: int | None, present: Op | None,
    absent: Op | None
) -> _Fate:
    stable = present is not None and (absent is None or absent.index < present.index)
    # Absence means something only once the element is known, and only for a read that
    # began after the last sighting and after the element became known: a read that
    # overlapped the add may simply have run before it.
    lost = (
        known is not None
        and absent is not None
        and (present is None or present.index < absent.index)
        and known.index < absent.index
    )
    stable_ms = lost_ms = None
    if stable:
        assert known is not None  # a sighting makes an element known
        stable_time = absent.time + 1 if absent is not None else 0
        stable_ms = _ns_to_ms(stable_time - known.time)
    elif lost:
        assert known is not None
        lost_time = present.time + 1 if present is not None else 0
        lost_ms = _ns_to_ms(lost_time - known.time)
    outcome = "stable" if stable else "lost" if lost else "never-read"
    return _Fate(element=element, add=add, outcome=outcome, known=known, known_via=known_via,
                 last_present=present, last_absent=absent,
                 stable_latency_ms=stable_ms, lost_latency_ms=lost_ms)


def quantiles(values: Sequence[int]) -> dict[str, int]:
    """Jepsen's ``frequency-distribution`` at 0, 0.5, 0.95, 0.99 and 1."""
    ordered = sorted(values)
    n = len(ordered)
    return {q: ordered[min(n - 1, math.floor(n * float(q)))] for q in QUANTILES}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Observations:
    """What one pass over a set history gathers for set-full.

    Attributes:
        first_add: each element's first add invocation index.
        acked: each element's first acknowledged add completion.
        reads: every successful read.
        duplicated: elements some read listed more than once, with the largest count.
        duplicate_reads: the reads (invocation indices) that listed an element twice.
        in_flight_at_add: for each element, the successful reads in flight when its
            first add was invoked (invoked before, completed after).
    """

    first_add: dict[Any, int]
    acked: dict[Any, Op]
    reads: list[_Read]
    duplicated: dict[Any, int]
    duplicate_reads: list[int]
    in_flight_at_add: dict[Any, tuple[_Read, ...]]


def _collect(history: History) -> _Observations:
    """Gather adds, acknowledgements, reads and duplicates, and the reads in flight at
    each element's first add (a sweep that keeps the set of reads in flight)."""
    first_add: dict[Any, int] = {}
    acked: dict[Any, Op] = {}
    reads: list[_Read] = []
    duplicated: dict[Any, int] = {}
    duplicate_reads: list[int] = []
    in_flight_at_add: dict[Any, tuple[_Read, ...]] = {}
    in_flight: dict[int, _Read] = {}
    by_completion: dict[int, _Read] = {}
    for operation in history.operations():
        if operation.f == "read" and operation.type is OpType.OK:
            assert operation.completion is not None
            listed = elements_of(operation.completion, f"read op {operation.index}")
            elements = frozenset(listed)
            if len(elements) < len(listed):
                duplicate_reads.append(operation.index)
                for e, n in Counter(listed).items():
                    if n > 1:
                        duplicated[e] = max(n, duplicated.get(e, 0))
            read = _Read(invocation=operation.invocation, completion=operation.completion,
                         elements=elements)
            reads.append(read)
            by_completion[operation.completion.index] = read
    read_by_invocation = {r.invocation.index: r for r in reads}
    for op in history:
        if not op.is_client:
            continue
        if op.index in read_by_invocation:
            in_flight[op.index] = read_by_invocation[op.index]
        elif op.index in by_completion:
            del in_flight[by_completion[op.index].invocation.index]
        elif op.f == "add":
            element = freeze(op.value)
            if op.type is OpType.INVOKE and element not in first_add:
                first_add[element] = op.index
                in_flight_at_add[element] = tuple(in_flight.values())
            elif op.type is OpType.OK and element in first_add and element not in acked:
                acked[element] = op
    return _Observations(first_add=first_add, acked=acked, reads=reads, duplicated=duplicated,
                         duplicate_reads=duplicate_reads, in_flight_at_add=in_flight_at_add)


def _fates(history: History) -> tuple[list[_Fate], dict[Any, int], list[int]]:
    obs = _collect(history)
    first_add, acked, reads = obs.first_add, obs.acked, obs.reads
    # First sighting (by completion) and latest sighting (by invocation) of each element,
    # counting only reads that completed after the element's first add was invoked.
    first_seen: dict[Any, Op] = {}
    last_present: dict[Any, Op] = {}
    for read in sorted(reads, key=lambda r: r.completion.index):
        for e in read.elements:
            add = first_add.get(e)
            if add is None or add > read.completion.index:
                continue
            first_seen.setdefault(e, read.completion)
            seen = last_present.get(e)
            if seen is None or seen.index < read.invocation.index:
                last_present[e] = read.invocation
    newest_first = sorted(reads, key=lambda r: -r.invocation.index)
    fates: list[_Fate] = []
    for e in sorted(first_add, key=element_key):
        add = first_add[e]
        # The latest-invoked read that missed e. Reads begun after the add all count;
        # walk them newest first, past those that saw e (each such step is paid for by
        # an element listed in a read). Failing that, only the reads in flight at the
        # add can still count.
        absent: Op | None = None
        for read in newest_first:
            if read.invocation.index < add:
                break
            if e not in read.elements:
                absent = read.invocation
                break
        if absent is None:
            for read in obs.in_flight_at_add[e]:
                if e not in read.elements and (
                    absent is None or absent.index < read.invocation.index
                ):
                    absent = read.invocation
        candidates = [op for op in (acked.get(e), first_seen.get(e)) if op is not None]
        known = min(candidates, key=lambda op: op.index) if candidates else None
        via = None if known is None else history.invocation(known).index
        fates.append(_fate(e, add, known, via, last_present.get(e), absent))
    return fates, obs.duplicated, obs.duplicate_reads


def _proof_ops(fates: Iterable[_Fate]) -> list[int]:
    """The operations that prove each fate: the add, the operation that made the
    element known, and the last reads that saw and missed it (invocation indices)."""
    ops: set[int] = set()
    for f in fates:
        ops.add(f.add)
        ops.update(op.index for op in (f.last_present, f.last_absent) if op is not None)
        if f.known_via is not None:
            ops.add(f.known_via)
    return sorted(ops)


def check_set_full(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's ``set-full``: each element's fate across every read.

    Args:
        history: client ops ``add`` (value: the element) and ``read`` (value: every
            element present, as a list).
        options: ``options.extra["linearizable"]`` (default False) makes stale
            elements, ones a read missed after their add was acknowledged, invalid.

    Returns:
        False with any lost or duplicated element (or stale one, if linearizable);
        unknown if no element was ever stable; True otherwise. ``details`` holds
        Jepsen's counts, element sets, the eight stalest elements and latency
        quantiles in milliseconds.

    Raises:
        HistoryError: a read's value is not a collection.
    """
    linearizable = bool(options.extra.get("linearizable", False))
    fates, duplicated, duplicate_reads = _fates(history)
    by_outcome: dict[str, list[_Fate]] = {"stable": [], "lost": [], "never-read": []}
    for fate in fates:
        by_outcome[fate.outcome].append(fate)
    stable, lost, never_read = by_outcome["stable"], by_outcome["lost"], by_outcome["never-read"]
    stale = [f for f in stable if f.stable_latency_ms]
    worst_stale = sorted(stale, key=lambda f: (-(f.stable_latency_ms or 0),
                                               element_key(f.element)))[:WORST_STALE_LIMIT]

    anomalies: list[Anomaly] = []
    if lost:
        ops = _proof_ops(lost)
        first = lost[0]
        assert first.known is not None and first.last_absent is not None
        seen = ("" if first.last_present is None else
                f", was last seen by the read invoked at op {first.last_present.index}")
        anomalies.append(Anomaly(
            kind="lost",
            ops=tuple(ops),
            explanation=f"{len(lost)} element(s) were lost: "
            f"{preview_elements(f.element for f in lost)}. For example "
            f"{render(first.element)} was known to be present from op {first.known.index}"
            f"{seen}, and the read invoked at op {first.last_absent.index}, later than "
            f"{'both' if seen else 'that'}, missed it; no read saw it again.",
            data={"elements": [f.to_json() for f in lost]},
        ))
    if duplicated:
        anomalies.append(Anomaly(
            kind="duplicated",
            ops=tuple(duplicate_reads),
            explanation=f"{len(duplicated)} element(s) appear more than once in a single "
            f"read ({preview_ops(duplicate_reads)}): "
            f"{preview_elements(duplicated)}; a set holds each element once.",
            data={"elements": [[thaw(e), n] for e, n in
                               sorted(duplicated.items(), key=lambda kv: element_key(kv[0]))]},
        ))
    if linearizable and stale:
        ops = _proof_ops(stale)
        worst = worst_stale[0]
        anomalies.append(Anomaly(
            kind="stale",
            ops=tuple(ops),
            explanation=f"{len(stale)} element(s) were missing from a read that began after "
            f"they were known to be present: {preview_elements(f.element for f in stale)}. "
            f"The worst, {render(worst.element)}, took {worst.stable_latency_ms} ms to "
            "become stable; a linearizable set shows an element to every later read.",
            data={"elements": [f.to_json() for f in stale]},
        ))

    valid: Validity
    if lost or duplicated or (linearizable and stale):
        valid = False
        explanation = " ".join(a.explanation for a in anomalies)
    elif not stable:
        valid = UNKNOWN
        explanation = (f"None of the {len(fates)} attempted element(s) was ever seen stably "
                       "by a read, so there is no evidence either way.")
    else:
        valid = True
        explanation = f"All {len(stable)} element(s) that reads could judge were stable"
        explanation += (f"; {len(stale)} of them showed up late (stale), which a set "
                        "that is not required to be linearizable may do."
                        if stale else ".")
    details: dict[str, Any] = {
        "linearizable": linearizable,
        "attempt-count": len(fates),
        "stable-count": len(stable),
        "lost-count": len(lost),
        "lost": compact(f.element for f in lost),
        "never-read-count": len(never_read),
        "never-read": compact(f.element for f in never_read),
        "stale-count": len(stale),
        "stale": compact(f.element for f in stale),
        "worst-stale": [f.to_json() for f in worst_stale],
        "duplicated-count": len(duplicated),
        "duplicated": [[thaw(e), n] for e, n in
                       sorted(duplicated.items(), key=lambda kv: element_key(kv[0]))],
    }
    stable_latencies = [f.stable_latency_ms for f in fates if f.stable_latency_ms is not None]
    lost_latencies = [f.lost_latency_ms for f in fates if f.lost_latency_ms is not None]
    if stable_latencies:
        details["stable-latencies"] = quantiles(stable_latencies)
    if lost_latencies:
        details["lost-latencies"] = quantiles(lost_latencies)
    if not fates:
        return nothing_to_judge("set-full", "element that anyone tried to add",
                                details=details)
    return Verdict(checker="set-full", valid=valid, explanation=explanation,
                   anomalies=tuple(anomalies), details=details)
