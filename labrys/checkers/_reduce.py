"""Less work per history: exact simplifications applied before any engine searches.

The search is exponential in what may be reordered, and crashed operations are what
makes that large: an ``info`` write may take effect at any moment after its invocation,
*or never*, so every one doubles the choices and stays open to the end of the history.
Porcupine gives up on long histories full of them. Most of them, though, are decided by
the rest of the history, and this module decides them up front, on the prepared calls
of each part, before the search sees them. Every rule keeps the verdict exactly (the
argument is given with each, and ``tests/unit/test_reduce.py`` checks each against the
unmodified search, on literal scenarios and on random histories).

Rules, for the register family (``register``, ``cas-register``, one key of ``kv``):

1. **Crashed reads are dropped.** A read whose result is unknown changes nothing and
   constrains nothing. The models' ``prepare`` already leaves them out (a register's
   ``read``, a kv ``get``, a multi-register read of nil); nothing is left to do here.

2. **A crashed write whose value is never observed is dropped.** Say a crashed write
   ``w`` puts ``v`` (a ``write v``, a ``cas [o v]``, a ``put v``), and no read returns
   ``v`` and no ``cas`` expects ``v``. Take any valid order that places ``w``. From
   ``w`` until the next write, the register holds ``v``; an operation in that stretch
   would be a read of ``v`` or a ``cas`` from ``v``, and there are none. So the stretch
   is empty, removing ``w`` from the order changes no other operation's outcome, and the
   order without ``w`` is valid too. Conversely ``w`` may never have happened. No
   uniqueness is needed: the condition is about the values read, whoever wrote them.
   For kv with ``append``, "observed" widens: a crashed ``append a`` is dropped when no
   get's result contains ``a`` (every value from ``a`` up to the next put contains
   it), and a crashed ``put v`` when no get's result begins with ``v`` (every value from
   it up to the next put begins with it).

3. **The window of a crashed write ends at the first read that observes it** (real
   time only). Say a crashed write ``w`` is the *only* operation that puts ``v`` in the
   register, ``v`` is not the initial value, and some completed read returns ``v`` (or
   a completed ``cas`` expects it). Then in every valid order ``w`` comes before that
   read: something must have put ``v`` there, and only ``w`` does. So ``w`` certainly
   happened, no later than the earliest return among those observers; it becomes a
   completed operation with that return, which the search must place and may no longer
   defer to the end. Scenario::

       p0: write 7 ········(crashed)···················
       p1:            read → 7 ──ok
       p2:                             read → 3 ──ok   (p2 began after p1's read returned)

   With ``w`` open to the end, the search may try it anywhere, forever. Bounded by
   p1's read, it must sit before it, and the history is checked as if ``w`` had
   completed there. Uniqueness is essential: were ``7`` also written by another
   operation, p1 might have read that one, and ``w`` might never have happened. So is
   ``v`` not being the initial value, which a read can see with no write at all. The
   rule does not apply to kv keys with appends (concatenations can spell ``v`` without
   writing it) nor to sequential consistency (no real time to bound by, and a known
   operation would hold up its process's later ones).

4. **Per-key splitting.** Linearizability is local (Herlihy and Wing 1990): a history
   is linearizable iff each object's sub-history is. kv partitions itself per key;
   here a multi-register history also splits into the groups of keys that transactions
   connect (keys never touched by one transaction together are separate objects).
   Sequential consistency is not local, so nothing is split for it.

Rules 2 and 3 feed each other (a crashed cas made certain by rule 3 becomes an
observer of its expected value), so they repeat until nothing changes.

The reductions are part of the check's time budget: past the deadline, the parts not
reduced yet go to the engines as they are (every rule is optional, so the result is
still exact), and the engines, finding the deadline passed, answer unknown at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from labrys.models import KV, Call, CASRegister, Model, MultiRegister, Part, Register


@dataclass(frozen=True, slots=True, kw_only=True)
class Reduction:
    """What the reductions did, for a verdict's details.

    Attributes:
        dropped: indices of crashed operations left out (rule 2), in order.
        bounded: index of each crashed operation given a window (rule 3) → the index of
            the completion that now closes it.
        split: how many more parts there are than before (rule 4).
    """

    dropped: tuple[int, ...] = ()
    bounded: tuple[tuple[int, int], ...] = ()
    split: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"dropped": list(self.dropped), "bounded": [list(b) for b in self.bounded],
                "split": self.split}


def _family(model: Model) -> str | None:
    """"register" for a register or cas-register, "kv" for one kv key, else None."""
    if isinstance(model, Register | CASRegister):
        return "register"
    if model.name == KV.name and not isinstance(model, KV):
        return "kv"
    return None


def _unpack(family: str, call: Call) -> tuple[str, Any, Any]:
    """(role, expected, written) of a call: role is "read", "write" or "append".

    For a cas, ``expected`` is its old value; reads put their result in ``expected``.
    """
    if family == "kv":
        _, v = call.value
        return {"get": ("read", v, None), "put": ("write", None, v),
                "append": ("append", None, v)}[call.f]
    if call.f == "read":
        return "read", call.value, None
    if call.f == "write":
        return "write", None, call.value
    old, new = call.value
    return "write", old, new


Role = tuple[str, Any, Any]
"""A call's (role, expected, written), from `_unpack`."""


def _observed(calls: Sequence[Call], roles: Sequence[Role]) -> tuple[list[Any], set[Any]]:
    """Results of completed reads, and the values that some cas expects.

    A crashed cas counts as expecting its value too: it may have happened, and keeping
    a write it may depend on is always safe.
    """
    reads: list[Any] = []
    expected: set[Any] = set()
    for c, (role, want, _) in zip(calls, roles, strict=True):
        if role == "read":
            if c.known:
                reads.append(want)
        elif c.f == "cas":
            expected.add(want)
    return reads, expected


def _droppable(role: Role, reads: list[Any], read_set: set[Any], expected: set[Any],
               has_appends: bool) -> bool:
    kind, _, v = role
    if kind == "read":
        return False
    if kind == "append":
        return isinstance(v, str) and not any(isinstance(r, str) and v in r for r in reads)
    if has_appends:
        # A put's value may be extended by appends before anyone reads it.
        return isinstance(v, str) and not any(isinstance(r, str) and r.startswith(v)
                                              for r in reads)
    return v not in read_set and v not in expected


def _drop_unobserved(family: str, calls: list[Call], roles: list[Role],
                     dropped: list[int]) -> tuple[list[Call], list[Role]]:
    has_appends = family == "kv" and any(c.f == "append" for c in calls)
    while True:
        reads, expected = _observed(calls, roles)
        read_set = set(reads)
        drop = {i for i, c in enumerate(calls)
                if not c.known and _droppable(roles[i], reads, read_set, expected, has_appends)}
        if not drop:
            return calls, roles
        dropped.extend(calls[i].index for i in sorted(drop))
        calls = [c for i, c in enumerate(calls) if i not in drop]
        roles = [r for i, r in enumerate(roles) if i not in drop]


def _bound_observed(initial: Any, calls: list[Call], roles: list[Role],
                    bounded: list[tuple[int, int]]) -> list[Call]:
    writes = Counter(v for kind, _, v in roles if kind == "write")
    first_seen: dict[Hashable, int] = {}
    for c, (kind, want, _) in zip(calls, roles, strict=True):
        if c.return_index is not None and (kind == "read" or c.f == "cas"):
            seen = first_seen.get(want)
            if seen is None or c.return_index < seen:
                first_seen[want] = c.return_index
    out = calls
    for i, c in enumerate(calls):
        kind, _, value = roles[i]
        if c.known or kind != "write" or writes[value] != 1 or value == initial:
            continue
        seen = first_seen.get(value)
        # An observer that returned before the write began leaves no window at all:
        # the search finds that on its own, and says it in terms of the history.
        if seen is None or seen < c.index:
            continue
        if out is calls:
            out = list(calls)
        out[i] = replace(c, known=True, return_index=seen)
        bounded.append((c.index, seen))
    return out


def reduce_calls(model: Model, calls: Sequence[Call], *, sequential: bool
                 ) -> tuple[list[Call], Reduction]:
    """Rules 2 and 3 on one part's prepared calls (in invocation order).

    Returns:
        The calls to search, in invocation order, and what was done. Models outside
        the register family come back unchanged.
    """
    family = _family(model)
    result = list(calls)
    if family is None:
        return result, Reduction()
    dropped: list[int] = []
    bounded: list[tuple[int, int]] = []
    bound = not sequential and not (family == "kv" and any(c.f == "append" for c in result))
    roles = [_unpack(family, c) for c in result]
    while True:
        before = (len(result), len(bounded))
        result, roles = _drop_unobserved(family, result, roles, dropped)
        if bound:
            result = _bound_observed(model.init(), result, roles, bounded)
        if (len(result), len(bounded)) == before:
            break
    return result, Reduction(dropped=tuple(sorted(dropped)), bounded=tuple(sorted(bounded)))


def _split_multi_register(part: Part) -> list[Part]:
    """A multi-register part split into groups of keys that transactions connect."""
    model = part.model
    assert isinstance(model, MultiRegister)
    parent: dict[Hashable, Hashable] = {}

    def root(k: Hashable) -> Hashable:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for c in part.calls:
        keys = [k for _, k, _ in c.value]
        for k in keys[1:]:
            parent[root(k)] = root(keys[0])
    groups: dict[Hashable, list[Call]] = {}
    for c in part.calls:
        groups.setdefault(root(c.value[0][1]), []).append(c)
    if len(groups) <= 1:
        return [part]
    initial = model.initial if isinstance(model.initial, dict) else {}
    out = []
    for calls in groups.values():
        keys = {k for c in calls for _, k, _ in c.value}
        sub = MultiRegister(initial={k: v for k, v in initial.items() if k in keys})
        out.append(Part(key=tuple(sorted(map(str, keys))), calls=calls, model=sub))
    return out


def reduce_parts(parts: Sequence[Part], *, sequential: bool,
                 deadline: float | None = None) -> tuple[list[Part], Reduction]:
    """Every rule on every part: the parts to search instead, and what was done.

    The result is equivalent: the history is valid iff every returned part is. Parts
    met after ``deadline`` (a `time.monotonic` instant) are returned unreduced.
    """
    out: list[Part] = []
    dropped: list[int] = []
    bounded: list[tuple[int, int]] = []
    for position, part in enumerate(parts):
        if deadline is not None and time.monotonic() > deadline:
            out.extend(parts[position:])
            break
        pieces = [part]
        if not sequential and isinstance(part.model, MultiRegister) and part.calls:
            pieces = _split_multi_register(part)
        for piece in pieces:
            calls, r = reduce_calls(piece.model, piece.calls, sequential=sequential)
            dropped += r.dropped
            bounded += r.bounded
            out.append(piece if len(r.dropped) + len(r.bounded) == 0
                       else Part(key=piece.key, calls=calls, model=piece.model))
    return out, Reduction(dropped=tuple(sorted(dropped)), bounded=tuple(sorted(bounded)),
                          split=len(out) - len(parts))
