"""The read-mapping's proofs of non-linearizability, in words.

When the read-mapping (`labrys.checkers._read_mapping`) refutes a part and the search
cannot explain it within its budget (long histories), the explanation is the
read-mapping's own proof: which value had to stay in the register over which stretch
of time, and which operation could not fit. A `Refutation` holds just the calls the
proof names and the values of the chains it concerns, so that the native core can
build one for a history of a million operations without turning the others into
Python objects.

Example, the classic stale read (``write 1``, then ``write 2``, then ``read → 1``)::

    Op 4 (process 2: read → 1) cannot be linearized: 1 had to stay in the register from
    when op 0 (process 0: write 1) completed until op 4 began; but 2, written by op 2
    (process 1: write 2), had to take effect entirely inside that time…
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._linearizable_explain import KIND, describe_call, json_key, keyed
from labrys.checkers._read_mapping import INITIAL, Conflict
from labrys.checkers._verdict import Anomaly
from labrys.models import Call, Model, Part, show


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    """One chain a proof concerns: its writer (None for the initial value) and values.

    Attributes:
        writer: the call that starts it.
        first, last: its first and last values.
        length: how many values it has (1 for a write no cas follows).
    """

    writer: Call | None
    first: Any
    last: Any
    length: int

    def shown(self) -> str:
        if self.length == 1:
            return show(self.first)
        if self.length == 2:
            return f"{show(self.first)} → {show(self.last)}"
        return (f"{show(self.first)} → … → {show(self.last)} ({self.length} values, one "
                "chain of cas)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Refutation:
    """A `Conflict` with its calls and chains resolved (see `Conflict` for the roles).

    Attributes:
        kind: the conflict's kind.
        op: the call that cannot be linearized.
        others: the other calls, None where the conflict names the initial value.
        chains: the chains concerned.
    """

    kind: str
    op: Call
    others: tuple[Call | None, ...]
    chains: tuple[Chain, ...]


def _written(call: Call) -> Any:
    return call.value[1] if call.f in ("cas", "put") else call.value


def _expected(call: Call) -> Any:
    if call.f == "cas":
        return call.value[0]
    return call.value[1] if call.f == "get" else call.value


def chain_values(calls: Sequence[Call], initial: Any, root: int) -> list[Any]:
    """The values of the chain ``root`` starts (`INITIAL`: the initial value): its written
    value, then the new value of each cas from the one before, in order."""
    value = initial if root == INITIAL else _written(calls[root])
    after = {c.value[0]: c.value[1] for c in calls if c.f == "cas"}
    out = [value]
    while value in after and len(out) <= len(calls):
        value = after[value]
        out.append(value)
    return out


def refutation(part: Part, conflict: Conflict) -> Refutation:
    """The `Refutation` of a conflict the read-mapping found in a whole part."""
    calls = part.calls
    chains = []
    for root in conflict.chains:
        values = chain_values(calls, part.model.init(), root)
        chains.append(Chain(writer=None if root == INITIAL else calls[root], first=values[0],
                            last=values[-1], length=len(values)))
    return Refutation(kind=conflict.kind, op=calls[conflict.op],
                      others=tuple(None if i == INITIAL else calls[i] for i in conflict.others),
                      chains=tuple(chains))


def _since(call: Call | None, model: Model) -> str:
    return "the start" if call is None else f"when {describe_call(call, model)} completed"


def _reason(r: Refutation, model: Model) -> str:
    op = r.op
    if r.kind == "unwritten":
        return (f"it expects {show(_expected(op))}, which no operation wrote and the "
                "register did not start with")
    if r.kind == "reused":
        first, source = r.others
        whose = ("the register started with" if source is None
                 else f"only op {source.index} wrote")
        return (f"{describe_call(first, model)} already replaced {show(op.value[0])}, "  # type: ignore[arg-type]
                f"which {whose}, and nothing writes it again")
    if r.kind == "cycle":
        others = ", ".join(f"op {c.index}" for c in r.others if c is not None)
        return (f"it and {others} each expect a value that another of them writes, and no "
                "other operation writes any of those values, so none of them can go first")
    if r.kind == "order":
        [before] = r.others
        assert before is not None
        return (f"{describe_call(before, model)} must take effect before it (every written "
                f"value is unique, so the values {r.chains[0].shown()} follow one another in "
                f"that order), but op {op.index} completed before op {before.index} began")
    first_done, b_last, b_first = r.others
    a, b = r.chains
    assert b_last is not None and b_first is not None
    stretch = (f"{a.shown()} had to stay in the register from {_since(first_done, model)} "
               f"until op {op.index} began")
    if r.kind == "overlap":
        return (f"{stretch}, and {b.shown()} from {_since(b_first, model)} until "
                f"{describe_call(b_last, model)} began: the two stretches overlap, and the "
                "register holds one value at a time")
    writer = "" if b.writer is None else f", written by {describe_call(b.writer, model)},"
    return (f"{stretch}; but {b.shown()}{writer} had to take effect entirely inside that "
            f"time: the last operation on it to begin, op {b_last.index}, began after it "
            f"started, and the first to complete, op {b_first.index}, completed before it "
            "ended")


def explain_refutation(model: Model, key: Hashable, operations: int,
                       r: Refutation) -> tuple[Anomaly, str]:
    """The anomaly for a part the read-mapping refuted, and its one-line headline."""
    headline = keyed(key, f"{describe_call(r.op, model)} cannot be linearized: "
                          f"{_reason(r, model)}")
    named = {r.op.index} | {c.index for c in r.others if c is not None} | {
        c.writer.index for c in r.chains if c.writer is not None}
    anomaly = Anomaly(
        kind=KIND[False],
        ops=tuple(sorted(named)),
        explanation=headline + ".",
        data={"key": json_key(key), "op": r.op.index, "operations": operations,
              "algorithm": "read-mapping", "conflict": r.kind,
              "others": [c.index for c in r.others if c is not None]},
    )
    return anomaly, headline
