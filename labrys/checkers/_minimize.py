"""``--minimize``: the few operations of an invalid history that already contradict.

A verdict of "not linearizable" over ten thousand operations is true and useless until
someone finds the handful that conflict. This module finds them: a set of operations
(whole operations, invocation and completion together, so the sub-history stays well
formed) whose recorded outcomes admit no valid order, and that is *1-minimal*: forget
the outcome of any one of them and a valid order exists. Not necessarily the smallest
such set (that is NP-hard), but one in which every operation is needed.

What "removing" an operation means decides whether the answer is worth reading.
Deleting it outright is wrong for registers: delete the write of 4 and a read of 4
becomes impossible on its own, so every history with a read would "minimise" to that
single read, which explains nothing. So an operation left out of the set is not
deleted but *forgotten*: treated as if it had crashed, free to have taken effect at
any time after its invocation, or never. The set's operations keep their recorded
outcomes and intervals. Then:

- the set is invalid even with every other operation free to help it, so it is also
  invalid as a sub-history on its own (deleting is one of the things a crashed
  operation may do); and
- forgetting any one of its operations makes it valid, with the rest of the history
  as possible help. So each is needed, and the set reads as a proof: "these completed
  as recorded, and no order of anything could explain it".

Forgotten operations invoked after every kept one completed can always go last or not
at all, so they are not searched. The steps, each checked by the fastest engine
available (native if installed, with its symmetry reduction for crashed operations):

1. Locality first. For a model that partitions (kv), an invalid history has an invalid
   key, and that key's operations alone are invalid (Herlihy and Wing); start there.
2. An unsat core, when the SMT engine models the history and it has at most
   `SMT_LIMIT` operations: z3 names a conflicting set (same meaning of "forgotten")
   directly. It is only a candidate, kept if the search confirms it.
3. Delta debugging (Zeller and Hildebrandt, "Simplifying and isolating
   failure-inducing input", 2002): try halves, then complements, then finer splits.
4. One at a time: forget each remaining operation whose outcome is not needed, until
   none can go. This pass is what *guarantees* 1-minimality; ddmin alone promises it
   only when every check answers.

A check that runs out of budget ("unknown") counts as not invalid: the result is always
a set proven invalid, and `Minimal.one_minimal` says whether forgetting each single
operation was proven valid.

Example: Knossos's ``cas-register/bad/mongodb-v0-ack-rollback-6.edn`` (746 operations,
from 0) comes down to four: process 331 reads 3 and then 4, and process 0 reads 4 after
a write of 0 that completed after process 331's second read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from labrys.checkers._native_engine import search_native, search_parts
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._registry import CheckOptions
from labrys.checkers._smt import Oracle
from labrys.checkers._verdict import Anomaly, Validity, worst
from labrys.checkers._wgl import Budget
from labrys.errors import UsageError
from labrys.history import History, Op, Operation
from labrys.models import Call, Model, Part, Partitionable, call_from_operation, get_model

SMT_LIMIT = 400
"""Largest part (in operations) for which an unsat core is asked for before ddmin."""

SEARCH_SLICE_S = 0.5
"""How long the search may take on one question before z3 is asked instead."""

SMT_CORE_TIMEOUT_S = 20.0
"""At most this long for z3's core; past it, ddmin starts from the whole part."""

DEFAULT_TIMEOUT_S = 120.0
"""Minimisation's own time budget when the check has none."""

_MEMORY_BYTES = 1 << 30


@dataclass(frozen=True, slots=True, kw_only=True)
class Minimal:
    """A minimal invalid sub-history.

    Attributes:
        ops: invocation indices, in the original history, of the operations kept.
        history: the sub-history on its own: those operations' invocations and
            completions, renumbered from 0, each with its original index in
            ``extra["source_index"]``.
        checks: how many sub-histories were checked to find it.
        one_minimal: every single removal was checked and found valid. False only when
            the budget ran out first; the sub-history is invalid either way.
    """

    ops: tuple[int, ...]
    history: History
    checks: int
    one_minimal: bool


class _Judge:
    """Checks sub-histories (sets of operations) with the checker's own pipeline."""

    def __init__(self, model: Model, units: dict[int, Call], options: CheckOptions,
                 *, sequential: bool, deadline: float):
        self.model = model
        self.units = units
        self.sequential = sequential
        self.partition = (not sequential and options.extra.get("partition", True) is not False
                          and isinstance(model, Partitionable))
        self.engine = "auto" if options.engine in ("smt", "auto") else options.engine
        self.deadline = deadline
        self.memo: dict[frozenset[int], Validity] = {}
        self.oracle: Oracle | None = None
        self.positions: dict[int, int] = {}

    def ask_z3(self, current: Sequence[int]) -> bool:
        """From now on, let one incremental z3 encoding of ``current`` answer what the
        search cannot quickly, if the SMT engine models it and it is small enough."""
        calls = self.model.prepare([self.units[i] for i in sorted(current)])
        if len(calls) > SMT_LIMIT:
            return False
        try:
            self.oracle = Oracle(self.model, calls, sequential=self.sequential)
        except UsageError:  # a model beyond the encoding: the search engines will do
            return False
        self.positions = {c.index: k for k, c in enumerate(calls)}
        return True

    def parts(self, keep: Sequence[int]) -> list[Part]:
        """The parts to search for ``keep``: those operations as recorded, the rest as if
        they had crashed (see the module docstring)."""
        kept = set(keep)
        # A weakened operation invoked after every kept one completed can always go
        # last, or not at all: it cannot matter, so it is not searched.
        horizon = max((self.units[i].return_index or 0 for i in kept
                       if self.units[i].known), default=-1)
        calls = self.model.prepare([
            c if i in kept else replace(c, known=False, return_index=None)
            for i, c in sorted(self.units.items())
            if i in kept or i < horizon])
        if self.partition:
            return self.model.partition(calls)  # type: ignore[attr-defined]
        return [Part(key=None, calls=calls, model=self.model)]

    def validity(self, keep: Sequence[int]) -> Validity:
        key = frozenset(keep)
        if key not in self.memo:
            if time.monotonic() > self.deadline:
                return "unknown"
            # The search answers most questions in milliseconds, but a few explode on
            # forgotten operations; z3 answers those in a second or two. So the search
            # gets a short slice first when z3 stands behind it.
            slice_end = self.deadline
            if self.oracle is not None:
                slice_end = min(slice_end, time.monotonic() + SEARCH_SLICE_S)
            found = self._search(keep, slice_end)
            if found == "unknown" and self.oracle is not None:
                budget = Budget(deadline=self.deadline, memory_bytes=_MEMORY_BYTES)
                found = self.oracle.validity(
                    [self.positions[i] for i in sorted(keep) if i in self.positions], budget)
            self.memo[key] = found
        return self.memo[key]

    def _search(self, keep: Sequence[int], deadline: float) -> Validity:
        parts, _ = reduce_parts(self.parts(keep), sequential=self.sequential)
        budget = Budget(deadline=deadline, memory_bytes=_MEMORY_BYTES)
        outcomes = None
        if self.engine != "python":
            outcomes = search_native(parts, sequential=self.sequential, budget=budget,
                                     symmetry=True)
        if outcomes is None:
            outcomes = search_parts(parts, sequential=self.sequential, budget=budget,
                                    engine=self.engine)
        return worst(o.valid for o in outcomes)

    def invalid_part(self, keep: Sequence[int]) -> list[int] | None:
        """The operations of one part of ``keep`` found invalid, searching all parts at
        once (the first invalid one stops the others); None if none is invalid."""
        parts = self.parts(keep)
        reduced = [reduce_parts([p], sequential=self.sequential)[0] for p in parts]
        budget = Budget(deadline=self.deadline, memory_bytes=_MEMORY_BYTES)
        flat = [q for pieces in reduced for q in pieces]
        outcomes = None
        if self.engine != "python":
            outcomes = search_native(flat, sequential=self.sequential, budget=budget,
                                     symmetry=True)
        if outcomes is None:
            outcomes = search_parts(flat, sequential=self.sequential, budget=budget,
                                    engine=self.engine)
        start = 0
        for part, pieces in zip(parts, reduced, strict=True):
            if any(o.valid is False for o in outcomes[start:start + len(pieces)]):
                return [c.index for c in part.calls]
            start += len(pieces)
        return None

    def invalid(self, keep: Sequence[int]) -> bool:
        return self.validity(keep) is False


def ddmin(items: Sequence[int], fails: Callable[[Sequence[int]], bool]) -> list[int]:
    """Zeller and Hildebrandt's ddmin: a smaller list on which ``fails`` still holds.

    ``fails(items)`` must hold on entry. Subsets keep the order of ``items``.
    """
    current = list(items)
    n = 2
    while len(current) >= 2:
        size = len(current)
        chunks = [current[size * k // n: size * (k + 1) // n] for k in range(n)]
        chunks = [c for c in chunks if c]
        for chunk in chunks:
            if fails(chunk):
                current, n = chunk, 2
                break
        else:
            # With two chunks, each complement is the other chunk: already tried.
            for chunk in chunks if len(chunks) > 2 else ():
                dropped = set(chunk)
                complement = [x for x in current if x not in dropped]
                if fails(complement):
                    current, n = complement, max(n - 1, 2)
                    break
            else:
                if n >= len(current):
                    break
                n = min(len(current), 2 * n)
    return current


def _one_at_a_time(items: list[int], judge: _Judge) -> tuple[list[int], bool]:
    """Remove single operations while the rest stays invalid; (result, all proven)."""
    changed = True
    while changed:
        changed = False
        for x in list(items):
            rest = [y for y in items if y != x]
            if judge.invalid(rest):
                items, changed = rest, True
                break
    proven = all(judge.validity([y for y in items if y != x]) is True for x in items)
    return items, proven


def _sub_history(history: History, operations: Sequence[Operation]) -> History:
    ops: list[Op] = []
    for operation in operations:
        ops.append(operation.invocation)
        if operation.completion is not None:
            ops.append(operation.completion)
    ops.sort(key=lambda op: op.index)
    return History(replace(op, index=k, extra={**op.extra, "source_index": op.index})
                   for k, op in enumerate(ops))


def minimize(history: History, options: CheckOptions, *, sequential: bool = False
             ) -> Minimal | None:
    """A 1-minimal invalid sub-history of ``history``, or None if it is not invalid.

    Args:
        history: the history, as checked.
        options: the check's options (model, init, engine, timeout_s, extra
            ``partition``). ``timeout_s`` bounds the whole minimisation
            (`DEFAULT_TIMEOUT_S` if None).
        sequential: minimise for sequential consistency instead of linearizability.

    Raises:
        UsageError: no model, or operations the model does not know.
    """
    model = get_model(options.model, options.init, independent=options.independent)
    timeout_s = options.timeout_s if options.timeout_s is not None else DEFAULT_TIMEOUT_S
    deadline = time.monotonic() + timeout_s
    operations = {o.index: o for o in history.operations()}
    units = {c.index: c for c in map(call_from_operation, operations.values())
             if c is not None}
    judge = _Judge(model, units, options, sequential=sequential, deadline=deadline)
    current = sorted(units)
    if judge.partition:
        found = judge.invalid_part(current)
        if found is None:
            return None
        current = found
    elif not judge.invalid(current):
        return None
    if judge.ask_z3(current):
        current = _core(judge, current) or current
    current = ddmin(current, judge.invalid)
    current, proven = _one_at_a_time(current, judge)
    minimal = Minimal(ops=tuple(current),
                      history=_sub_history(history, [operations[i] for i in current]),
                      checks=len(judge.memo), one_minimal=proven)
    _confirm(minimal, model, options, sequential=sequential, deadline=deadline)
    return minimal


def _confirm(minimal: Minimal, model: Model, options: CheckOptions, *, sequential: bool,
             deadline: float) -> None:
    """The search engine's word that the set is invalid on its own: a cross-check of z3
    (or of the search with forgotten operations), cheap because the set is small."""
    calls = model.prepare([c for c in map(call_from_operation, minimal.history.operations())
                           if c is not None])
    parts, _ = reduce_parts([Part(key=None, calls=calls, model=model)], sequential=sequential)
    engine = "auto" if options.engine == "smt" else options.engine
    budget = Budget(deadline=max(deadline, time.monotonic() + 10), memory_bytes=_MEMORY_BYTES)
    found = worst(o.valid for o in search_parts(parts, sequential=sequential, budget=budget,
                                                engine=engine))
    if found is True:
        raise AssertionError(f"minimisation found operations {list(minimal.ops)} "
                             "contradictory, but the search engine orders them: a bug")


def _core(judge: _Judge, current: list[int]) -> list[int] | None:
    """z3's unsat core of ``current``, as operation indices; None if there is none."""
    assert judge.oracle is not None
    budget = Budget(deadline=min(judge.deadline, time.monotonic() + SMT_CORE_TIMEOUT_S),
                    memory_bytes=_MEMORY_BYTES)
    positions = [judge.positions[i] for i in current if i in judge.positions]
    core = judge.oracle.core(positions, budget)
    if core is None:
        return None
    index = {k: i for i, k in judge.positions.items()}
    return sorted(index[k] for k in core)


def minimal_anomaly(minimal: Minimal, model: Model, *, sequential: bool = False) -> Anomaly:
    """The minimal sub-history as an anomaly: its operations, listed, and what it proves."""
    calls = {c.index: c for c in model.prepare(
        [c for c in map(call_from_operation, minimal.history.operations()) if c is not None])}
    lines = []
    for operation in minimal.history.operations():
        source = operation.invocation.extra.get("source_index", operation.index)
        call = calls.get(operation.index)
        what = model.describe_op(call) if call is not None else f"{operation.f} {operation.value}"
        lines.append(f"op {source} (process {operation.process}, {operation.type}: {what})")
    adjective = "sequentially consistent" if sequential else "linearizable"
    proof = (f"forget how any one of them ended and the history is {adjective}"
             if minimal.one_minimal
             else "the budget ran out before each of them was shown to be needed")
    data: dict[str, Any] = {"ops": list(minimal.ops), "checks": minimal.checks,
                            "one_minimal": minimal.one_minimal}
    return Anomaly(
        kind="minimal-counterexample",
        ops=minimal.ops,
        explanation=(f"These {len(minimal.ops)} operations, as they ended, are not "
                     f"{adjective} whatever the other operations did ({proof}): "
                     + "; ".join(lines) + "."),
        data=data,
    )
