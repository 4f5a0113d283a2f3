"""The drawn operations as one Bokeh source, shared by the timeline and the latency plot.

Sharing one `ColumnDataSource` (named ``ops``) is what links the plots: selecting
operations in the timeline (a click, or an anomaly's button on the page) selects their
points in the latency plot too, and the page's script finds the source by its name.

Each row is one operation: its index, its lane, its outcome, whether an anomaly names
it, where it starts and ends, its latency, and its text (process, function, value,
result, node) for the hover and the click panel.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
from bokeh.models import ColumnDataSource, CustomJSFilter, CustomJSHover

from labrys.history import Operation
from labrys.report._fault_intervals import FaultInterval
from labrys.report._ops import Operations, show_value
from labrys.report._style import OUTCOME_CODES

NEMESIS_LANE = "nemesis"
TEXT_COLUMNS = ("process", "f", "invoked", "result", "node")
"""Columns of text, each stored as integer codes into its own list of distinct values.

Bokeh sends numeric columns as compressed binary but text as plain JSON lists, which
made text three quarters of a page's data. Codes are numbers (compressed like the
rest), the distinct values are stored once in the source's ``tags``, and the hover and
the page's script decode them."""


def _result(o: Operation) -> str:
    """What the hover says after the outcome: the error of a failed or indeterminate call,
    else the value the completion carries (what a read returned)."""
    if o.completion is None:
        return "(never completed)"
    if o.completion.error is not None:
        return show_value(o.completion.error)
    return show_value(o.completion.value)


def _encode(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes into the distinct values, in order of first appearance."""
    names: dict[str, int] = {}
    codes = np.fromiter((names.setdefault(v, len(names)) for v in values), np.int32,
                        len(values))
    return codes, list(names)


def lanes(operations: Operations, faults: Sequence[FaultInterval]) -> list[str]:
    """Lanes from top to bottom: the nemesis first, then each client process in order."""
    processes = sorted({o.process for o in operations.ops},
                       key=lambda p: (isinstance(p, str), p if isinstance(p, int) else 0, str(p)))
    return ([NEMESIS_LANE] if faults else []) + [str(p) for p in processes]


def ops_source(operations: Operations, rows: np.ndarray, lane_names: Sequence[str],
               named: Collection[int]) -> ColumnDataSource:
    """The drawn operations as columns, shared by the timeline and the latency plot.

    Args:
        operations: every operation.
        rows: positions of the operations to draw (`choose_rows`).
        lane_names: from `lanes`; a lane's y is counted from the bottom.
        named: invocation indices that anomalies name (flagged in column ``named``).
    """
    chosen = [operations.ops[i] for i in rows]
    y_of = {name: len(lane_names) - 1 - k for k, name in enumerate(lane_names)}
    text = {
        "process": [str(o.process) for o in chosen],
        "f": [o.f for o in chosen],
        "invoked": [show_value(o.invocation.value) for o in chosen],
        "result": [_result(o) for o in chosen],
        "node": [o.invocation.node or "" for o in chosen],
    }
    data: dict[str, object] = {
        "idx": np.fromiter((o.index for o in chosen), np.int32, len(chosen)),
        "lane": np.fromiter((y_of[str(o.process)] for o in chosen), np.int32, len(chosen)),
        "type": np.fromiter((OUTCOME_CODES[o.type.value] for o in chosen), np.int8,
                            len(chosen)),
        "named": np.fromiter((o.index in named for o in chosen), np.int8, len(chosen)),
        "start": operations.start[rows],
        "end": operations.end[rows],
        "latency": operations.latency_ms[rows].astype(np.float32),
    }
    names: dict[str, object] = {"type": list(OUTCOME_CODES)}
    for column in TEXT_COLUMNS:
        data[column], distinct = _encode(text[column])
        # An array: Bokeh walks lists item by item, in search of models to serialise.
        names[column] = np.asarray(distinct, dtype=object)
    return ColumnDataSource(name="ops", data=data, tags=[names])


def decoded(source: ColumnDataSource) -> dict[str, CustomJSHover]:
    """Hover formatters that turn the coded columns back into text."""
    code = "return source.tags[0][column][value];"
    return {f"@{column}": CustomJSHover(args={"source": source, "column": column}, code=code)
            for column in (*TEXT_COLUMNS, "type")}


def op_tooltips(*, interval: bool) -> list[tuple[str, str]]:
    """The hover of one operation (with its interval on the timeline)."""
    rows = [("op", "@idx (process @process{custom})"), ("call", "@f{custom} @invoked{custom}"),
            ("outcome", "@type{custom} @result{custom}")]
    if interval:
        rows += [("from", "@start{0.000}"), ("to", "@end{0.000}")]
    return [*rows, ("latency", "@latency{0.000} ms"), ("node", "@node{custom}")]


def column_filter(column: str, value: int) -> CustomJSFilter:
    """The rows whose ``column`` holds ``value`` (worked out in the browser, so the page
    carries no list of indices)."""
    return CustomJSFilter(args={"column": column, "value": value}, code=(
        "const c = source.data[column]; const out = new Array(c.length);"
        " for (let i = 0; i < c.length; i++) out[i] = c[i] == value; return out;"))
