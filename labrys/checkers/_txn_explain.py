"""Findings in English: every cycle as a story that ends in a contradiction.

Problem. "G-single-item in ops 3, 5, 7" convinces nobody; the user needs to check the
claim against the history with their own eyes. Elle's answer (Kingsbury & Alvaro,
VLDB 2020) is followed here: name the transactions, then give, for each edge, the
micro-ops that force one transaction before the next, until the last edge closes the
loop:

    Let:
      T1 = op 7, process 1, ok: [append 250 10] [r 253 [1 3 4]] [r 255 [2 3 4 5]] …
      T2 = op 3, process 1, ok: [append 255 8] [r 253 [1 3 4]]
      T3 = op 5, process 1, ok: [append 256 4] [r 255 [2 3 4 5 8]] …

    Then:
      - T1 < T2, because T1's read of key 255 (ending in 5) missed T2's append of 8.
      - T2 < T3, because T3 observed T2's append of 8 to key 255.
      - However, T3 < T1, because T1 appended 3 after T3 appended 4 to key 256:
        a contradiction!

Central function: `render`, from a finding (`_txn_anomalies`, `_txn_cycles`) to an
`Anomaly`: kind, the ops that prove it, the English, and the same facts as data.

Non-obvious choices:

- A transaction is named by the op that completed it (which carries what it read),
  or by its invocation if it never completed; ``Anomaly.ops`` lists those indices.
- Values print the way Jepsen's EDN does: lists as ``[1 2 3]``, None as ``nil``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._txn_anomalies import Finding, KeyAnomaly, ReadAnomaly
from labrys.checkers._txn_cycles import CycleAnomaly, CycleExists, CycleFinding, SearchTimeout
from labrys.checkers._txn_graph import (
    EDGE_NAMES,
    INIT,
    PROCESS,
    REALTIME,
    WR,
    WW,
    Step,
)
from labrys.checkers._txn_history import LIST_APPEND, Txn
from labrys.checkers._verdict import Anomaly

PREVIEW_LIMIT = 8
"""How many ops an explanation names before saying how many more there are."""


def fmt(value: Any) -> str:
    """A value as Jepsen prints it: ``[1 2 3]``, ``nil``, strings bare."""
    if value is None:
        return "nil"
    if value is INIT:
        return "the initial state"
    if isinstance(value, tuple | list):
        return "[" + " ".join(fmt(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return repr(value)


def _json(value: Any) -> Any:
    if value is INIT:
        return "init"
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _ops(txns: Sequence[Txn], ids: Sequence[int]) -> str:
    named = [f"op {txns[i].index}" for i in ids[:PREVIEW_LIMIT]]
    more = len(ids) - PREVIEW_LIMIT
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Renderer:
    """Turns findings into `Anomaly` values for one history.

    Attributes:
        workload: `LIST_APPEND` or `RW_REGISTER` (it decides how edges read).
        txns: the history's transactions, by id.
    """

    workload: str
    txns: Sequence[Txn]

    def render(self, finding: Finding | CycleFinding) -> Anomaly:
        if isinstance(finding, CycleAnomaly):
            return self._cycle(finding)
        if isinstance(finding, ReadAnomaly):
            return self._read(finding)
        if isinstance(finding, KeyAnomaly):
            return self._key(finding)
        if isinstance(finding, CycleExists):
            return self._exists(finding)
        return self._timeout(finding)

    def _ops_of(self, ids: Sequence[int]) -> tuple[int, ...]:
        return tuple(sorted({self.txns[i].index for i in ids}))

    def describe(self, t: Txn) -> str:
        """``op 7, process 1, ok: [append x 1] [r y [1]]``."""
        mops = " ".join("[" + " ".join(fmt(p) for p in mop) + "]" for mop in t.mops)
        return f"op {t.index}, process {t.process}, {t.type}: {mops}"

    # -- cycles ------------------------------------------------------------------------

    def _cycle(self, c: CycleAnomaly) -> Anomaly:
        order = list(dict.fromkeys(c.txns))
        name = {tid: f"T{i + 1}" for i, tid in enumerate(order)}
        lines = ["Let:"]
        lines += [f"  {name[tid]} = {self.describe(self.txns[tid])}" for tid in order]
        lines += ["", "Then:"]
        for i, s in enumerate(c.steps):
            last = i == len(c.steps) - 1
            reason = self.step_reason(s, name[s.a], name[s.b])
            if last:
                lines.append(f"  - However, {name[s.a]} < {name[s.b]}, because {reason}: "
                             "a contradiction!")
            else:
                lines.append(f"  - {name[s.a]} < {name[s.b]}, because {reason}.")
        return Anomaly(
            kind=c.kind,
            ops=self._ops_of(c.txns),
            explanation="\n".join(lines),
            data={"cycle": [self.txns[s.a].index for s in c.steps]
                  + [self.txns[c.steps[0].a].index],
                  "steps": [self._step_data(s) for s in c.steps]},
        )

    def _step_data(self, s: Step) -> dict[str, Any]:
        out: dict[str, Any] = {"type": EDGE_NAMES[s.kind]}
        if s.kind == PROCESS:
            out["process"] = self.txns[s.a].process
        elif s.kind == REALTIME:
            out["completed"] = self.txns[s.a].complete_index
            out["invoked"] = self.txns[s.b].invoke_index
        else:
            out["key"] = _json(s.key)
            out["value"] = _json(s.value)
            if s.kind != WR:
                out["value'"] = _json(s.next_value)
            out["a-mop-index"] = s.a_mop
            out["b-mop-index"] = s.b_mop
        return out

    def step_reason(self, s: Step, a: str, b: str) -> str:
        """Why a precedes b, in words (after "because")."""
        ta, tb = self.txns[s.a], self.txns[s.b]
        if s.kind == PROCESS:
            return f"process {ta.process} ran {a} before {b}"
        if s.kind == REALTIME:
            gap = ""
            if ta.complete_time is not None and tb.invoke_time > ta.complete_time:
                gap = f", {(tb.invoke_time - ta.complete_time) / 1e9:.3f} s"
            return (f"{a} completed (op {ta.complete_index}){gap} before {b} was invoked "
                    f"(op {tb.invoke_index})")
        k, v, v2 = fmt(s.key), fmt(s.value), fmt(s.next_value)
        if self.workload == LIST_APPEND:
            if s.kind == WW:
                return f"{b} appended {v2} after {a} appended {v} to key {k}"
            if s.kind == WR:
                return f"{b} observed {a}'s append of {v} to key {k}"
            if s.value is INIT:
                return f"{a} read key {k} empty, missing {b}'s append of {v2}"
            return f"{a}'s read of key {k} (ending in {v}) missed {b}'s append of {v2}"
        if s.kind == WW:
            return (f"{a} set key {k} to {v}, and {b} set it to {v2}, which came later in "
                    "the version order")
        if s.kind == WR:
            return f"{b} read key {k} = {v}, which {a} wrote"
        if s.value is INIT:
            return f"{a} read key {k}'s initial value nil, which {b} overwrote with {v2}"
        return (f"{a} read key {k} = {v}, and {b} set it to {v2}, which came later in the "
                "version order")

    # -- other findings ----------------------------------------------------------------

    def _read(self, r: ReadAnomaly) -> Anomaly:
        t = self.txns[r.reader]
        who = f"op {t.index} (process {t.process}) read key {fmt(r.key)} = {fmt(r.value)}"
        elements = ", ".join(fmt(e) for e in r.elements)
        verb = "appended" if self.workload == LIST_APPEND else "written"
        if r.kind == "G1a":
            text = (f"{who}, but {elements} was {verb} only by {_ops(self.txns, r.writers)}, "
                    "which failed: an aborted read")
        elif r.kind == "G1b":
            text = (f"{who}, whose last version {elements} {_ops(self.txns, r.writers)} "
                    f"overwrote later in the same transaction: an intermediate read")
        elif r.kind == "internal":
            expected = fmt(r.expected) if r.prefix_known else (
                "[... " + " ".join(fmt(e) for e in r.expected) + "]")
            text = (f"{who}, but its own earlier micro-ops imply {expected}: the transaction "
                    "is internally inconsistent")
        elif r.kind == "future-read":
            text = (f"{who}, which shows {elements}, {verb} by this same transaction only "
                    "later: a future read")
        else:
            text = (f"{who}, which lists {elements} more than once, though every value is "
                    "appended once")
        data: dict[str, Any] = {"op": t.index, "mop-index": r.mop, "key": _json(r.key),
                                "value": _json(r.value)}
        if r.elements:
            data["elements"] = _json(r.elements)
        if r.writers:
            data["writers"] = [self.txns[w].index for w in r.writers]
        if r.kind == "internal":
            data["expected"] = _json(r.expected)
            data["prefix-known"] = r.prefix_known
        return Anomaly(kind=r.kind, ops=self._ops_of((r.reader, *r.writers)),
                       explanation=text + ".", data=data)

    def _key(self, a: KeyAnomaly) -> Anomaly:
        k = fmt(a.key)
        ops = _ops(self.txns, a.txns)
        if a.kind == "incompatible-order":
            shorter, longer = a.values
            text = (f"key {k} was read as {fmt(shorter)} and as {fmt(longer)} ({ops}): "
                    "neither is a prefix of the other, so no one order of appends gave both")
        elif a.kind == "dirty-update":
            failed, committed = (self.txns[i] for i in a.txns)
            text = (f"in key {k}'s version order {fmt(a.values)}, op {failed.index} appended "
                    f"{fmt(a.values[0])} and failed, yet op {committed.index} committed its "
                    f"append of {fmt(a.values[-1])} on top of it")
        elif a.kind == "lost-update":
            text = (f"{ops} all read key {k} = {fmt(a.values[0])} and then wrote it, each "
                    "without seeing the others' writes: updates were lost")
        elif a.kind == "garbage-read":
            vals = ", ".join(fmt(v) for v in a.values)
            if self.workload == LIST_APPEND:
                text = f"reads of key {k} ({ops}) returned {vals}, which no transaction appended"
            else:
                text = (f"reads of key {k} ({ops}) returned {vals}, which no transaction "
                        "wrote; at most one of them can be the key's initial value")
        else:
            text = (f"writes-follow-reads orders key {k}'s versions {fmt(a.values)} in a "
                    "cycle")
        return Anomaly(kind=a.kind, ops=self._ops_of(a.txns), explanation=text + ".",
                       data={"key": _json(a.key), "values": _json(a.values),
                             "ops": [self.txns[i].index for i in a.txns]})

    def _exists(self, e: CycleExists) -> Anomaly:
        relations = "+".join(n for bit, n in EDGE_NAMES.items() if e.projection.edges & bit)
        if e.projection.extension:
            relations += " extended by one " + "+".join(
                n for bit, n in EDGE_NAMES.items() if e.projection.extension & bit) + " hop"
        text = (f"the {relations} dependencies among {len(e.txns)} transactions "
                f"({_ops(self.txns, e.txns)}) form a cycle, which {e.model} forbids; no "
                "single cycle was singled out to explain it")
        return Anomaly(kind=e.kind, ops=self._ops_of(e.txns), explanation=text + ".",
                       data={"not": e.model, "subgraph": relations,
                             "scc-size": len(e.txns),
                             "scc": [self.txns[i].index for i in e.txns]})

    def _timeout(self, t: SearchTimeout) -> Anomaly:
        absent = ", ".join(t.not_found) or "nothing"
        text = (f"searching a component of {t.size} transactions for a {t.searching} cycle "
                f"ran out of its {t.budget_s:g} s budget (searched completely and absent: "
                f"{absent}); a fallback cycle from it is reported instead")
        return Anomaly(kind=t.kind, ops=(), explanation=text + ".",
                       data={"anomaly-spec-type": t.searching,
                             "does-not-contain": list(t.not_found),
                             "scc-size": t.size, "budget-s": t.budget_s})


def empty_graph_anomaly() -> Anomaly:
    return Anomaly(kind="empty-transaction-graph", ops=(),
                   explanation="no transaction depends on any other, so the history says "
                               "nothing about the order they took effect in.")
