"""Judging independent keys one at a time, while the history is recorded.

The register workload gives each key ``ops_per_key`` invocations and then moves to a
fresh key for good (Jepsen's independent keys). Linearizability is local, so a key's
sub-history can be judged on its own, and the prefix argument of `labrys.checkers._online`
lets it be judged before its last operations complete. `PerKeyChecker` therefore holds
the ops of the keys still open, and judges a key

- once all its invocations are in, its pending operations as info: a stale read that
  has completed is found even while a write of the same key hangs in a partition;
- again whenever more of its operations complete, until all have (completions fed
  between two calls of ``check`` are judged together): a read that completes late may
  be the one that cannot be placed, and a pending write that fails may leave a read of
  its value unexplained;
- with ``check(final=True)``, whatever was fed of every key not judged to the end.

A key whose every operation has completed is judged for the last time and its ops are
dropped, so memory holds the open keys only; a key is searched at most once per call of
``check`` and at most as often as it had operations pending when it filled up. The sub-history is
renumbered from 0 (a `History` is indexed by position); findings are mapped back to the
indices of the whole history, and their explanation is rebuilt from the anomaly's data,
whose prose names the renumbered ones.

Example: with ``ops_per_key`` 3, key 0 gets ``write 1`` (ok), ``write 2`` (ok) and then
``read`` → 1 from a member cut off from the leader. When the read completes, key 0 has
its three invocations, all completed, and is judged: "key 0: stale read".
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from labrys.checkers._online_types import OnlineCheck, OnlineFinding, first_finding
from labrys.checkers._registry import run_checker
from labrys.checkers._verdict import Anomaly
from labrys.history import History, Op, OpType, Process
from labrys.models import freeze, show


@dataclass(slots=True)
class _Key:
    ops: list[Op] = field(default_factory=list)
    invoked: int = 0
    open: int = 0
    judged_pending: bool = False  # judged while some of its ops were pending


class PerKeyChecker:
    """Linearizability of ``[key value]`` histories, key by key (see the module notes)."""

    def __init__(self, online: OnlineCheck) -> None:
        if online.per_key_ops is None:
            raise ValueError("PerKeyChecker needs per_key_ops")
        self._online = online
        self._full = online.per_key_ops
        self._keys: dict[Hashable, _Key] = {}
        self._done: set[Hashable] = set()
        self._open: dict[Process, Hashable] = {}
        self._due: dict[Hashable, None] = {}  # keys to judge, in the order they became due
        self._fed = 0

    def feed(self, op: Op) -> None:
        self._fed += 1
        if not op.is_client:
            return
        if op.type is OpType.INVOKE:
            key = key_of(op.value)
            if key is None or key in self._done:
                return
            k = self._keys.setdefault(key, _Key())
            k.ops.append(op)
            k.invoked += 1
            k.open += 1
            self._open[op.process] = key
            if k.invoked == self._full:
                self._due[key] = None
            return
        key = self._open.pop(op.process, None)
        if key is None or key not in self._keys:
            return
        k = self._keys[key]
        k.ops.append(op)
        k.open -= 1
        if k.judged_pending:
            self._due[key] = None

    def check(self, *, final: bool = False) -> OnlineFinding | None:
        if final:
            self._due.update(dict.fromkeys(self._keys))
        while self._due:
            key = next(iter(self._due))
            del self._due[key]
            finding = self._judge(key)
            if finding is not None:
                return finding
        return None

    def progress(self) -> str:
        return f"{len(self._done)} keys judged"

    def _judge(self, key: Hashable) -> OnlineFinding | None:
        k = self._keys[key]
        if k.open == 0:
            del self._keys[key]
            self._done.add(key)
        else:
            k.judged_pending = True
        ops = k.ops
        history = History([replace(op, index=i) for i, op in enumerate(ops)])
        verdict = run_checker(self._online.checker, history, self._online.options)
        finding = first_finding(verdict, self._online, ops, prefix_ops=self._fed,
                                label=lambda a: f"key {show(key)}: {describe(a, ops)}",
                                index_of=lambda i: ops[i].index)
        if finding is None:
            return None
        return replace(finding, explanation=_explanation(verdict.anomalies[0], key, ops))


def key_of(value: Any) -> Hashable | None:
    """The key of a ``[key value]`` op value, frozen, or None if the value is not one
    (the offline check reports such values; here they are skipped)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return freeze(value[0])
    return None


def describe(anomaly: Anomaly, ops: Sequence[Op]) -> str:
    """A few words for the display about the operation that could not be linearized.

    A read that returned the initial value or a value some write had already written,
    before the read began, is a *stale read*: the register moved on and the read did not
    see it. Anything else is named by what it did.
    """
    stuck = anomaly.data.get("op")
    if not isinstance(stuck, int) or not 0 <= stuck < len(ops):
        return anomaly.kind
    invocation = ops[stuck]
    done = next((op for op in ops[stuck + 1:] if op.process == invocation.process), None)
    if invocation.f != "read" or done is None or done.type is not OpType.OK:
        return f"{invocation.f} cannot be linearized"
    read = _value(done.value)
    written_before = {_written(op) for op in ops[:stuck]
                      if op.type is OpType.OK and op.f in ("write", "cas")}
    if read is None or read in written_before:
        return "stale read"
    if any(_written(op) == read for op in ops if op.type is OpType.INVOKE
           and op.f in ("write", "cas") and not _failed(ops, op)):
        return "read cannot be linearized"
    return f"read of {show(read)}, which nothing wrote"


def _failed(ops: Sequence[Op], invocation: Op) -> bool:
    """Did this invocation complete with ``fail`` (it certainly did not happen)?"""
    start = ops.index(invocation)
    done = next((op for op in ops[start + 1:] if op.process == invocation.process), None)
    return done is not None and done.type is OpType.FAIL


def _explanation(anomaly: Anomaly, key: Hashable, ops: Sequence[Op]) -> str:
    """The anomaly's headline with the whole history's op indices (its own prose names
    the key's renumbered ones)."""
    data = anomaly.data
    candidates = data.get("candidates") or ()
    stuck = data.get("op")
    if not candidates or not isinstance(stuck, int) or not 0 <= stuck < len(ops):
        return f"Key {show(key)} is not linearizable."
    first = candidates[0]
    return (f"Key {show(key)}: op {ops[stuck].index} (process {first['process']}: "
            f"{first['description']}) cannot be linearized: {first['reason']}. Judged on "
            f"the {len(ops)} ops of the key recorded by then, any still pending as "
            "possibly happened.")


def _value(value: Any) -> Any:
    return freeze(value[1]) if isinstance(value, list | tuple) and len(value) == 2 else None


def _written(op: Op) -> Any:
    """What a write or cas op writes: ``[k v]`` → v, ``[k [old new]]`` → new."""
    v = _value(op.value)
    if op.f == "cas":
        return v[1] if isinstance(v, tuple) and len(v) == 2 else None
    return v
