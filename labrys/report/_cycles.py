"""Cycles drawn as graphs: Elle's dependency cycles and the session checkers' version cycles.

An Elle-style anomaly is a cycle of transactions, each edge a reason one must come
before the next (``ww``, ``wr``, ``rw`` on a key, the same ``process``, ``realtime``);
a session-guarantee violation is a cycle among the versions of one key, each edge an
order a guarantee or the evidence demands (``read-your-writes``, ``monotonic-writes``,
``initial``…). Either way the proof is the cycle, and a drawing of it, nodes and
labelled edges, is what Elle's users look at.

Graphviz lays the cycle out and draws it as SVG (``dot``, from Debian's ``graphviz``;
the ``graphviz`` package writes the DOT text and runs it), and the SVG goes straight
into the page: no script, no network. Without ``dot`` the page lists the edges instead
and says how to get the drawing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import graphviz

from labrys.history import History
from labrys.report._findings import Finding

EDGE_COLOURS = {"ww": "#1f77b4", "wr": "#2ca02c", "rw": "#d62728", "process": "#8c564b",
                "realtime": "#9467bd", "read-your-writes": "#d62728",
                "monotonic-reads": "#ff7f0e", "monotonic-writes": "#1f77b4",
                "writes-follow-reads": "#2ca02c", "initial": "#7f7f7f", "rmw": "#8c564b"}
MISSING_DOT = ("Graphviz's dot is not installed, so this cycle is listed rather than "
               "drawn (apt-get install graphviz).")
_MOPS_PER_LINE = 2
_LABEL_LIMIT = 48


def svg(graph: graphviz.Digraph) -> str | None:
    """The graph as an inline ``<svg>`` element, or None when ``dot`` is missing."""
    try:
        text = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None
    return text[text.index("<svg"):]


def _fmt(value: Any) -> str:
    """A value as Elle prints it: ``[1 2 3]``, ``nil``."""
    if value is None:
        return "nil"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _cut(text: str) -> str:
    return text if len(text) <= _LABEL_LIMIT else text[: _LABEL_LIMIT - 1] + "…"


def _new_graph(name: str) -> graphviz.Digraph:
    graph = graphviz.Digraph(name=name)
    graph.attr(rankdir="LR", bgcolor="transparent", fontname="DejaVu Sans", fontsize="11")
    graph.attr("node", shape="box", style="rounded,filled", fillcolor="#f4f6f8",
               color="#8899aa", fontname="DejaVu Sans", fontsize="10")
    graph.attr("edge", fontname="DejaVu Sans", fontsize="9")
    return graph


def is_txn_cycle(finding: Finding) -> bool:
    return isinstance(finding.data.get("steps"), list) and isinstance(
        finding.data.get("cycle"), list)


def is_version_cycle(finding: Finding) -> bool:
    cycle = finding.data.get("cycle")
    return isinstance(cycle, list) and bool(cycle) and isinstance(cycle[0], Mapping)


def _txn_text(history: History, index: int) -> str:
    if not 0 <= index < len(history):
        return f"op {index}"
    op = history[index]
    mops = op.value if isinstance(op.value, list) else [op.value]
    lines = [" ".join(_cut(_fmt(m)) for m in mops[i:i + _MOPS_PER_LINE])
             for i in range(0, min(len(mops), 8), _MOPS_PER_LINE)]
    if len(mops) > 8:
        lines.append(f"… {len(mops) - 8} more")
    return f"op {index}, process {op.process}, {op.type.value}\\l" + "\\l".join(lines) + "\\l"


def _step_label(step: Mapping[str, Any]) -> str:
    kind = step.get("type", "?")
    if kind == "process":
        return f"process {step.get('process', '')}".strip()
    if kind == "realtime":
        return "realtime"
    key, value = _fmt(step.get("key")), _fmt(step.get("value"))
    if "value'" in step:
        after = _fmt(step["value'"])
        return f"{kind} key {key}: {value} → {after}"
    return f"{kind} key {key}: {value}"


def txn_cycle_graph(finding: Finding, history: History) -> graphviz.Digraph:
    """Transactions T1…Tn of an Elle cycle, with the edge that orders each pair."""
    cycle, steps = finding.data["cycle"], finding.data["steps"]
    order = list(dict.fromkeys(cycle))
    name = {op: f"T{i + 1}" for i, op in enumerate(order)}
    graph = _new_graph(f"anomaly-{finding.number}")
    for op in order:
        graph.node(name[op], label=f"{name[op]} = {_txn_text(history, op)}")
    for a, b, step in zip(cycle, cycle[1:], steps, strict=False):
        colour = EDGE_COLOURS.get(step.get("type", ""), "#333333")
        graph.edge(name[a], name[b], label=_step_label(step), color=colour, fontcolor=colour,
                   penwidth="1.6")
    return graph


def _version(value: Any, initial: bool) -> tuple[str, str]:
    """A node id and label for one version of a key."""
    shown = json.dumps(value, default=str)
    return ("initial" if initial else f"v{shown}",
            f"{_cut(shown)} (initial)" if initial else _cut(shown))


def version_cycle_graph(finding: Finding) -> graphviz.Digraph:
    """Versions of one key in a cycle, each edge the guarantee or evidence ordering them."""
    graph = _new_graph(f"anomaly-{finding.number}")
    first = True
    for edge in finding.data["cycle"]:
        a_id, a_label = _version(edge["from"], bool(edge.get("from-initial")))
        b_id, b_label = _version(edge["to"], False)
        graph.node(a_id, label=a_label)
        graph.node(b_id, label=b_label)
        kind = edge.get("kind", "")
        colour = EDGE_COLOURS.get(kind.removesuffix("-snapshot"), "#333333")
        ops = ", ".join(str(o) for o in edge.get("ops", ()))
        graph.edge(a_id, b_id, label=f"{kind}\\nops {ops}", color=colour, fontcolor=colour,
                   penwidth="2.4" if first else "1.4", style="bold" if first else "solid")
        first = False
    return graph


def edge_list(graph: graphviz.Digraph) -> Sequence[str]:
    """The graph's edges as lines of DOT, for the page when ``dot`` is missing."""
    return [line.strip() for line in graph.body if "->" in line]
