"""When each fault was in force, read back from the nemesis's ops in the history.

Every plot and the timeline shade these intervals, as Jepsen's plots shade its
nemesis's: a reader sees at once whether latencies rose, throughput fell or an
anomaly happened while a partition, a kill or a pause was on.

An interval opens with the invocation of an op that starts a fault
(`labrys.nemesis.FAULTS` declares them: ``start-partition``, ``kill``, ``pause``…) and
closes with the completion of that fault's heal, so it covers all the time the fault
may have been in effect. A fault never healed runs to the end of the history. What the nemesis did
(which nodes it cut, killed or paused) comes from the start op's completion, where
labrys records it; the invocation only says what was asked (``"primaries"``).

Histories from Jepsen name faults more loosely: a plain ``start``/``stop`` pair is read
as one unnamed fault, unless ``start`` heals a kill as it does in labrys. A nemesis op
that neither starts nor heals a fault (``bump-clock`` when clocks are not tracked,
anything unknown) becomes an instant marker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.history import History, Op, Operation
from labrys.nemesis import FAULTS

_STARTS = {f: fault.name for fault in FAULTS.values() for f in fault.starts}
_HEALS = {fault.heal: fault.name for fault in FAULTS.values()}
_JEPSEN_FAULT = "nemesis"
"""The name given to a fault started by Jepsen's generic ``start`` op."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultInterval:
    """One fault, from its start to its heal.

    Attributes:
        fault: the fault's name (``partition``, ``kill``…, ``nemesis`` for Jepsen's
            generic one, or the op's own ``f`` for an instant marker).
        start: where it began on the time axis.
        end: where its heal completed (the end of the history if never healed).
        label: a few words for the plot (``partition n1 | n2,n3``).
        detail: one sentence for the legend and the hover.
        ops: the indices of the ops that began and ended it.
        healed: False when the history ended first.
    """

    fault: str
    start: float
    end: float
    label: str
    detail: str
    ops: tuple[int, ...]
    healed: bool


def _nodes(value: Any) -> list[str]:
    """Node names in what a nemesis recorded: ``{"killed": ["n1"]}``, ``{"nodes": …}``."""
    if isinstance(value, Mapping):
        for key in ("killed", "paused", "started", "resumed", "nodes"):
            found = value.get(key)
            if isinstance(found, list) and all(isinstance(n, str) for n in found):
                return found
    if isinstance(value, list) and all(isinstance(n, str) for n in value):
        return value
    return []


def _grudge_text(grudge: Mapping[str, Any], known: frozenset[str]) -> str:
    """``n1 | n2,n3`` when the grudge splits the nodes into groups, else who is cut from
    whom (``n2 cut from n3; n3 cut from n2`` for a bridge, where n1 reaches both).

    ``known`` are the nodes clients spoke to: a grudge names only the nodes it cuts.
    """
    nodes = set(known) | set(grudge) | {str(p) for peers in grudge.values() for p in peers}
    group = {n: frozenset(nodes - {str(p) for p in grudge.get(n, ())}) for n in nodes}
    if all(group[m] == group[n] for n in nodes for m in group[n]):
        components = sorted({g for g in group.values()}, key=sorted)
        return " | ".join(",".join(sorted(g)) for g in components)
    return "; ".join(f"{node} cut from {','.join(map(str, peers))}"
                     for node, peers in sorted(grudge.items()) if peers)


def _describe(fault: str, asked: Any, done: Any, nodes: frozenset[str]) -> tuple[str, str]:
    """The plot label and the sentence for one fault, from what was asked and done."""
    if fault == "partition" and isinstance(done, Mapping) and isinstance(
            done.get("partition"), Mapping):
        topology = done.get("topology") or (asked if isinstance(asked, str) else "")
        cuts = _grudge_text(done["partition"], nodes)
        named = f"partition ({topology})" if topology else "partition"
        label = f"partition {cuts}" if "cut from" not in cuts else named
        return label, f"{named}: {cuts}"
    hit = _nodes(done) or _nodes(asked)
    if hit:
        return f"{fault} {','.join(hit)}", f"{fault}: {', '.join(hit)}"
    shown = done if done is not None else asked
    if shown is None:
        return fault, fault
    text = json.dumps(shown, default=str, separators=(",", ":"))
    return fault, f"{fault}: {text if len(text) <= 120 else text[:119] + '…'}"


def fault_intervals(history: History, at: Callable[[Op], float]) -> list[FaultInterval]:
    """The faults of ``history`` in the order they began.

    Args:
        history: any history; only its non-client ops are read.
        at: an op's position on the time axis (seconds, or the history position).
    """
    if not len(history):
        return []
    end_of_history = at(history[len(history) - 1])
    nemesis_ops = [Operation(op, history.completion(op)) for op in history
                   if not op.is_client and history.is_invocation(op)]
    nodes = frozenset(op.node for op in history if op.node is not None)
    uses_kill = any(o.f in FAULTS["kill"].starts for o in nemesis_ops)
    open_: dict[str, tuple[Operation, str, str]] = {}
    out: list[FaultInterval] = []

    def close(fault: str, end: float, by: int | None, note: str = "") -> None:
        start, label, detail = open_.pop(fault)
        out.append(FaultInterval(
            fault=fault, start=at(start.invocation), end=end, label=label,
            detail=detail + note, ops=(start.index,) + (() if by is None else (by,)),
            healed=not note))

    for op in nemesis_ops:
        done = op.completion.value if op.completion is not None else None
        finished = at(op.completion or op.invocation)
        fault = _HEALS.get(op.f)
        if op.f == "start" and not uses_kill:
            fault = None  # Jepsen's generic start: a beginning, not a restart
        if fault is not None:
            if fault in open_:
                close(fault, finished, op.index)
            continue
        fault = _STARTS.get(op.f)
        if fault is None and op.f == "start":
            fault = _JEPSEN_FAULT
        elif op.f == "stop" and _JEPSEN_FAULT in open_:
            close(_JEPSEN_FAULT, finished, op.index)
            continue
        if fault is None:
            label, detail = _describe(op.f, op.invocation.value, done, nodes)
            t = at(op.invocation)
            out.append(FaultInterval(fault=op.f, start=t, end=t, label=label, detail=detail,
                                     ops=(op.index,), healed=True))
            continue
        if fault in open_:  # started again before any heal: the new one replaces it
            close(fault, at(op.invocation), op.index)
        label, detail = _describe(fault, op.invocation.value, done, nodes)
        open_[fault] = (op, label, detail)
    for fault in list(open_):
        close(fault, end_of_history, None, " (never healed before the history ends)")
    return sorted(out, key=lambda i: (i.start, i.end))
