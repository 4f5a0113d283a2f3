"""Pictures for the workloads that count things: sets, counters, banks.

- **set** (``lost``, ``stale``): acknowledged adds per window of time and, over them, the
  adds whose element was lost (or stale), with the faults shaded. Lost writes cluster
  where the fault was, and this is where a reader sees it: Redis's lost adds fall inside
  the partition that isolated its primary.
- **counter** (``read-too-low``, ``read-too-high``…): every successful read's value over
  time, and each bad read in red with the range the increments allowed, as Jepsen's
  counter plot.
- **bank** (``wrong-total``, ``negative-value``…): the total of the balances each read
  saw, over time, the bad reads in red, as Jepsen's bank plot.

They are Bokeh figures on the page's shared time range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from numbers import Number
from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LegendItem, Range1d
from bokeh.plotting import figure

from labrys.history import History
from labrys.report._fault_intervals import FaultInterval
from labrys.report._findings import Finding
from labrys.report._ops import Operations, invocation_index, windows
from labrys.report._plots import WINDOWS, add_fault_bands, legend_below, time_figure
from labrys.report._style import ANOMALY_COLOUR, OUTCOME_COLOURS

_SET_KINDS = frozenset({"lost", "stale"})
_COUNTER_KEYS = frozenset({"lower", "upper", "value"})


def _element_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _named_elements(data: Mapping[str, Any]) -> set[str] | None:
    """The elements an anomaly names: plain values (``set``) or fates (``set-full``)."""
    elements = data.get("elements")
    if not isinstance(elements, list):
        return None
    return {_element_key(e["element"] if isinstance(e, Mapping) and "element" in e else e)
            for e in elements}


def is_set_anomaly(finding: Finding) -> bool:
    return finding.kind in _SET_KINDS and _named_elements(finding.data) is not None


def _reads(finding: Finding) -> list[Mapping[str, Any]]:
    reads = finding.data.get("reads")
    return [r for r in reads if isinstance(r, Mapping)] if isinstance(reads, list) else []


def is_counter_anomaly(finding: Finding) -> bool:
    reads = _reads(finding)
    return bool(reads) and all(r.keys() >= _COUNTER_KEYS for r in reads)


def is_bank_anomaly(finding: Finding) -> bool:
    reads = _reads(finding)
    return bool(reads) and all("type" in r and "op" in r for r in reads)


def set_figure(finding: Finding, operations: Operations, x_range: Range1d,
               faults: Sequence[FaultInterval]) -> figure:
    """Acknowledged adds per window, and those whose element the anomaly names."""
    named = _named_elements(finding.data) or set()
    adds = (operations.f == "add") & (operations.outcome == "ok")
    grid = windows(operations, WINDOWS)
    bucket = grid.of(operations.start[adds])
    hit = np.fromiter((_element_key(o.invocation.value) in named
                       for o, a in zip(operations.ops, adds, strict=True) if a), bool,
                      int(adds.sum()))
    per = "per second" if operations.axis.real else "per window"
    scale = grid.width if operations.axis.real else 1.0
    source = ColumnDataSource({
        "t": grid.centres,
        "acknowledged": np.bincount(bucket, minlength=grid.count) / scale,
        "named": np.bincount(bucket[hit], minlength=grid.count) / scale,
    })
    fig = time_figure(x_range, title=f"Acknowledged adds {per}, and those {finding.kind} "
                      "(by when each add was invoked)", x_label=operations.axis.label)
    fig.yaxis.axis_label = f"adds {per}"
    add_fault_bands(fig, faults)
    acknowledged = fig.vbar(x="t", top="acknowledged", width=grid.width * 0.9, source=source,
                            fill_color=OUTCOME_COLOURS["ok"], fill_alpha=0.5, line_color=None)
    named_bars = fig.vbar(x="t", top="named", width=grid.width * 0.9, source=source,
                          fill_color=ANOMALY_COLOUR, fill_alpha=0.85, line_color=None)
    legend_below(fig, [LegendItem(label="acknowledged", renderers=[acknowledged]),
                       LegendItem(label=finding.kind, renderers=[named_bars])], columns=2)
    fig.add_tools(HoverTool(tooltips=[("time", "@t{0.0}"), ("acknowledged", "@acknowledged"),
                                      (finding.kind, "@named")]))
    return fig


def _read_points(operations: Operations,
                 value_of: Any) -> tuple[list[float], list[float], list[int]]:
    """(time, value, op) of every successful read whose value ``value_of`` can read."""
    xs, ys, ops = [], [], []
    for s, o in zip(operations.start, operations.ops, strict=True):
        if o.f != "read" or o.type.value != "ok":
            continue
        y = value_of(o.value)
        if y is not None:
            xs.append(float(s))
            ys.append(float(y))
            ops.append(o.index)
    return xs, ys, ops


def _total(value: Any) -> float | None:
    if isinstance(value, Mapping) and value and all(
            isinstance(v, Number) or v is None for v in value.values()):
        return float(sum(v for v in value.values() if v is not None))
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, Number) and not isinstance(value, bool) else None


def _time_of(history: History, operations: Operations, index: int) -> float | None:
    """Where the operation an index belongs to was invoked, if it is a client's."""
    inv = invocation_index(history, index)
    if inv is None or inv not in operations.position:
        return None
    return float(operations.start[operations.position[inv]])


def counter_figure(finding: Finding, history: History, operations: Operations,
                   x_range: Range1d, faults: Sequence[FaultInterval]) -> figure:
    """Every read's value, and the bad ones with the range they had to fall in."""
    fig = time_figure(x_range, title="Counter reads: every value read, and the reads outside "
                      "the range the increments allow", x_label=operations.axis.label)
    fig.yaxis.axis_label = "value read"
    add_fault_bands(fig, faults)
    xs, ys, _ = _read_points(operations, _number)
    fig.scatter(xs, ys, size=3, color=OUTCOME_COLOURS["ok"], alpha=0.5, legend_label="read")
    bad = [(t, r) for r in _reads(finding)
           if (t := _time_of(history, operations, r["op"])) is not None]
    source = ColumnDataSource({
        "t": [t for t, _ in bad], "value": [r["value"] for _, r in bad],
        "lower": [r["lower"] for _, r in bad], "upper": [r["upper"] for _, r in bad],
        "op": [r["op"] for _, r in bad]})
    fig.segment(x0="t", y0="lower", x1="t", y1="upper", source=source, line_color=ANOMALY_COLOUR,
                line_width=2, legend_label="allowed range")
    dots = fig.scatter("t", "value", source=source, size=7, color=ANOMALY_COLOUR,
                       legend_label=finding.kind)
    fig.legend.location = "top_left"
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[
        ("op", "@op"), ("read", "@value"), ("allowed", "@lower to @upper")]))
    return fig


def bank_figure(finding: Finding, history: History, operations: Operations,
                x_range: Range1d, faults: Sequence[FaultInterval]) -> figure | None:
    """The total each read saw, the bad reads in red; None when reads are not balances."""
    xs, ys, ops = _read_points(operations, _total)
    if not xs:
        return None
    fig = time_figure(x_range, title="Bank reads: the total of the balances each read saw",
                      x_label=operations.axis.label)
    fig.yaxis.axis_label = "total"
    add_fault_bands(fig, faults)
    fig.scatter(xs, ys, size=3, color=OUTCOME_COLOURS["ok"], alpha=0.5, legend_label="read")
    bad = {invocation_index(history, r["op"]) for r in _reads(finding)}
    picked = [(x, y, op) for x, y, op in zip(xs, ys, ops, strict=True) if op in bad]
    source = ColumnDataSource({"t": [p[0] for p in picked], "total": [p[1] for p in picked],
                               "op": [p[2] for p in picked]})
    dots = fig.scatter("t", "total", source=source, size=7, color=ANOMALY_COLOUR,
                       legend_label=finding.kind)
    fig.legend.location = "top_left"
    fig.add_tools(HoverTool(renderers=[dots], tooltips=[("op", "@op"), ("total", "@total")]))
    return fig
