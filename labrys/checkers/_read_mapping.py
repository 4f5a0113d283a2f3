"""Linearizability of registers whose written values are unique, in O(n log n).

The problem in general is NP-complete (Gibbons and Korach, "Testing shared memories",
SIAM J. Computing 1997), which is why `labrys.checkers._wgl` searches. But when every
value is written at most once, each read names the one write it saw (a *read-mapping*),
and Gibbons and Korach show that a read/write register is then decided in O(n log n)
by looking at time intervals alone. labrys's own workloads write unique values, and so
do most Jepsen register tests, so this decides the histories that hurt the search most
(many processes on one key) in a blink.

The idea, for a read/write register. A *cluster* is one write and the reads that saw
its value. In any linearization a cluster is contiguous: after the write, only reads of
its value may come until the next write, and that value never returns. So a cluster
takes up one stretch of the linearization, and its operations' intervals say where:

- let ``f`` be the earliest completion among its operations and ``s`` the latest
  invocation. The operation that completed at ``f`` took effect before ``f``; the one
  invoked at ``s`` after ``s``.
- If ``f < s`` (a *forward zone*), the cluster's stretch covers all of ``[f, s]``: the
  value was in the register the whole time. Two forward zones may not overlap.
- If ``s < f`` (a *backward zone*), the whole cluster can take effect at any one
  instant of ``[s, f]``, and must: it may not lie inside another cluster's forward zone.

Those conditions, with "no read completes before its write begins", are necessary and
sufficient. Scenario, the classic stale read::

    p0: write 1 ──ok
    p1:              write 2 ──ok
    p2:                            read → 1 ──ok

Value 1's cluster (write 1, read → 1) has ``f`` at the write's completion and ``s`` at
the read's invocation: 1 was in the register the whole time between. Value 2's cluster
(write 2 alone) began and ended inside that stretch: no order exists.

Compare-and-set. A successful ``cas [a b]`` reads ``a`` and writes ``b``. With unique
values, ``a`` was written once, so at most one cas can replace it, and that cas must
come right after ``a``'s cluster: nothing else may change the register between. So a
plain write and the cas operations that follow from its value form a *chain*
``a → b → c …`` whose clusters are contiguous and in a fixed order. Treating a whole
chain as one cluster keeps the argument above intact (its ``f`` and ``s`` taken over
all its operations), plus one check inside the chain: its clusters in order (write,
its readers, the next cas, its readers…) must fit real time, which a greedy pass
decides (each layer goes as early as its operations allow). The initial value is a
chain rooted at a write that took effect before everything. Chains of cas that no
write starts, two cas from one value, a read of a value nobody wrote: each is a
contradiction of its own. The literature has the pieces: the cas chain is the
"write-order" of Gibbons and Korach's section on read-modify-write (with a total
write order the problem is again O(n log n)); Lee and Mathur ("Efficient
decrease-and-conquer linearizability monitoring", 2024/25) decide unambiguous
registers, sets, stacks and queues in log-linear time. labrys's cross-check of this
module against the search (``tests/unit/test_read_mapping.py``) is what stands behind
the extension to chains.

When it applies: a register, cas-register, or one key of kv without appends; every
written value distinct and different from the initial value; and every operation whose
outcome is unknown (crashed) must be one that certainly happened because some
completed operation saw its value or one derived from it (`labrys.checkers._reduce`
leaves only such ones, or none). Otherwise `read_mapping` returns None and the search
decides.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from labrys.models import KV, Call, CASRegister, Model, Register

INITIAL = -1
"""The position that stands for the write of the initial value, before everything."""

_INF = math.inf


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """Why no linearization exists, in terms of the calls of one part.

    Attributes:
        kind: ``unwritten`` (``op`` expects a value nobody wrote), ``reused`` (``op``
            is a second cas from one value; ``others`` = (the first cas, the writer of
            the value or `INITIAL`)), ``cycle`` (cas operations each expecting a value
            another of them writes; ``op`` the first, ``others`` the rest, by position),
            ``order`` (``op`` comes after ``others[0]`` in its chain's order but
            completed before it began), ``overlap`` (two chains whose values had to stay
            in the register over overlapping stretches), ``nested`` (a chain that must
            take effect inside another chain's stretch). For the last two, ``op`` is the
            first chain's latest-invoked operation, and ``others`` = (the first chain's
            earliest-completed operation or `INITIAL`, the second chain's
            latest-invoked, the second chain's earliest-completed).
        op: position (in the part's calls) of the operation that cannot be linearized.
        others: positions of the other operations that prove it, as above.
        chains: the writers (positions, `INITIAL` for the initial value) that start the
            chains concerned: one for ``order``, two for ``overlap`` and ``nested``.
    """

    kind: str
    op: int
    others: tuple[int, ...] = ()
    chains: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ReadMapping:
    """The decision: ``conflict`` is None when the part is linearizable."""

    conflict: Conflict | None


_READ, _WRITE, _CAS = 0, 1, 2


def _roles(model: Model, calls: Sequence[Call]) -> list[tuple[int, Any, Any]] | None:
    """(kind, expected, written) per call, or None when the model is outside the family."""
    if isinstance(model, Register | CASRegister):
        out = []
        for c in calls:
            if c.f == "read":
                out.append((_READ, c.value, None))
            elif c.f == "write":
                out.append((_WRITE, None, c.value))
            else:
                out.append((_CAS, c.value[0], c.value[1]))
        return out
    if model.name == KV.name and not isinstance(model, KV):
        out = []
        for c in calls:
            if c.f == "append":
                return None
            v = c.value[1]
            out.append((_READ, v, None) if c.f == "get" else (_WRITE, None, v))
        return out
    return None


def read_mapping(model: Model, calls: Sequence[Call]) -> ReadMapping | None:
    """Decide one part by its read-mapping, or None if the preconditions do not hold.

    Args:
        model: the part's model.
        calls: the part's prepared (and reduced) calls, in invocation order.
    """
    roles = _roles(model, calls)
    if roles is None:
        return None
    initial = model.init()
    writer: dict[Hashable, int] = {}
    for i, (kind, _, written) in enumerate(roles):
        if kind != _READ:
            if written == initial or written in writer:
                return None
            writer[written] = i
    if not _crashed_are_required(calls, roles, writer, initial):
        return None
    consumer: dict[Hashable, int] = {}
    readers: dict[Hashable, list[int]] = {}
    for i, (kind, expected, _) in enumerate(roles):
        if kind == _WRITE:
            continue
        if expected != initial and expected not in writer:
            return ReadMapping(Conflict(kind="unwritten", op=i))
        if kind == _READ:
            readers.setdefault(expected, []).append(i)
        elif expected in consumer:
            return ReadMapping(Conflict(kind="reused", op=i, others=(
                consumer[expected], writer.get(expected, INITIAL))))
        else:
            consumer[expected] = i
    return ReadMapping(_zones(calls, roles, initial, readers, consumer, writer))


def _crashed_are_required(calls: Sequence[Call], roles: Sequence[tuple[int, Any, Any]],
                          writer: dict[Hashable, int], initial: Hashable) -> bool:
    """Whether every crashed call certainly happened: a completed call, or a crashed one
    that certainly happened, expects the value it wrote."""
    required = [c.known for c in calls]
    pending = [i for i, c in enumerate(calls) if c.known]
    while pending:
        i = pending.pop()
        kind, expected, _ = roles[i]
        if kind == _WRITE or expected == initial:
            continue
        w = writer.get(expected)
        if w is not None and not required[w]:
            required[w] = True
            pending.append(w)
    return all(required)


@dataclass(slots=True)
class _Chain:
    root: int
    f: float = _INF
    f_op: int = INITIAL
    s: float = -_INF
    s_op: int = INITIAL


def _zones(calls: Sequence[Call], roles: Sequence[tuple[int, Any, Any]], initial: Hashable,
           readers: dict[Hashable, list[int]], consumer: dict[Hashable, int],
           writer: dict[Hashable, int]) -> Conflict | None:
    invoked = [c.index for c in calls]
    returned = [_INF if c.return_index is None else c.return_index for c in calls]
    roots = [INITIAL, *(i for i, (kind, _, _) in enumerate(roles) if kind == _WRITE)]
    chained = [False] * len(calls)
    chains: list[_Chain] = []
    for root in roots:
        chain = _Chain(root=root)
        if root == INITIAL:
            chain.f = -_INF
            layers: list[list[int]] = []
            value = initial
        else:
            layers = [[root]]
            value = roles[root][2]
        while True:
            layers.append(readers.get(value, []))
            nxt = consumer.get(value)
            if nxt is None:
                break
            layers.append([nxt])
            value = roles[nxt][2]
        latest, latest_op = -_INF, INITIAL
        for layer in layers:
            for o in layer:
                if returned[o] < latest:
                    return Conflict(kind="order", op=o, others=(latest_op,), chains=(root,))
            for o in layer:
                chained[o] = True
                if invoked[o] > latest:
                    latest, latest_op = invoked[o], o
                if returned[o] < chain.f:
                    chain.f, chain.f_op = returned[o], o
                if invoked[o] > chain.s:
                    chain.s, chain.s_op = invoked[o], o
        chains.append(chain)
    loose = [i for i, (kind, _, _) in enumerate(roles) if kind == _CAS and not chained[i]]
    if loose:
        return _cycle(loose[0], roles, writer)
    forward = sorted((c for c in chains if c.f < c.s), key=lambda c: c.f)
    for a, b in pairwise(forward):
        if b.f < a.s:
            return Conflict(kind="overlap", op=a.s_op, others=(a.f_op, b.s_op, b.f_op),
                            chains=(a.root, b.root))
    starts = [c.f for c in forward]
    for b in chains:
        if not b.s < b.f:
            continue
        k = bisect.bisect_left(starts, b.s) - 1
        if k >= 0 and b.f < forward[k].s:
            a = forward[k]
            return Conflict(kind="nested", op=a.s_op, others=(a.f_op, b.s_op, b.f_op),
                            chains=(a.root, b.root))
    return None


def _cycle(start: int, roles: Sequence[tuple[int, Any, Any]],
           writer: dict[Hashable, int]) -> Conflict:
    """The cycle of cas operations that ``start`` (reachable from no write) leads back to."""
    seen: list[int] = []
    at = start
    while at not in seen:
        seen.append(at)
        at = writer[roles[at][1]]
    members = sorted(seen[seen.index(at):])
    return Conflict(kind="cycle", op=members[0], others=tuple(members[1:]))
