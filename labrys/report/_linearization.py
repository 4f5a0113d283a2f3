"""The picture of a linearizability failure: how far the search got, and what was stuck.

Knossos draws its "final paths": the operations a search managed to order, and the one
that could not go next. Porcupine draws the longest partial linearization over the
operations' intervals. This is the same picture for one key: every operation the
anomaly names as a bar over its real interval, one lane per process; the longest order
found as a numbered path through them (each step placed at the earliest moment it can
take effect after the one before); the operation that cannot be linearized in red,
with a dashed line where it completed, after which nothing that began later may come
before it; the other operations that could have come next in orange.

The checker puts all of it in the anomaly's data (``linearization``: op, process,
description, state after; ``candidates``: op, process, description, reason; ``op``:
the stuck one). When those op numbers do not name operations of this history with the
same process (a checker that numbered a reduced history), the picture falls back to
the order alone, one step per column, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Label, Range1d, Span
from bokeh.plotting import figure

from labrys.history import History
from labrys.report._findings import Finding
from labrys.report._ops import TimeAxis
from labrys.report._style import ANOMALY_COLOUR, OUTCOME_COLOURS

STUCK_COLOUR = ANOMALY_COLOUR
CANDIDATE_COLOUR = OUTCOME_COLOURS["info"]
PLACED_COLOUR = OUTCOME_COLOURS["ok"]


@dataclass(frozen=True, slots=True)
class _Entry:
    op: int
    process: str
    description: str
    note: str  # the state after it, or why it cannot come next
    step: int | None  # its place in the order found, from 1
    role: str  # placed, stuck, candidate


def _entries(data: Mapping[str, Any]) -> list[_Entry]:
    first = int(data.get("linearization_omitted", 0))
    out = [_Entry(s["op"], str(s["process"]), s["description"], f"state after: {s['state']}",
                  first + k + 1, "placed")
           for k, s in enumerate(data.get("linearization", ()))]
    stuck = data.get("op")
    out += [_Entry(c["op"], str(c["process"]), c["description"], c["reason"], None,
                   "stuck" if c["op"] == stuck else "candidate")
            for c in data.get("candidates", ())]
    return out


def _in_history(entries: Sequence[_Entry], history: History) -> bool:
    """Whether every entry's op is an invocation of this history by the same process."""
    for e in entries:
        if not 0 <= e.op < len(history):
            return False
        op = history[e.op]
        if not history.is_invocation(op) or str(op.process) != e.process:
            return False
    return True


def has_linearization(finding: Finding) -> bool:
    return bool(finding.data.get("linearization") or finding.data.get("candidates"))


def linearization_figure(finding: Finding, history: History, axis: TimeAxis) -> figure:
    """The picture for one linearizability (or sequential consistency) anomaly."""
    entries = _entries(finding.data)
    timed = _in_history(entries, history)
    end_of_history = axis.at(history[len(history) - 1])
    starts, ends = [], []
    last_step = max((e.step for e in entries if e.step is not None), default=0)
    for e in entries:
        if timed:
            op = history[e.op]
            done = history.completion(op)
            starts.append(axis.at(op))
            ends.append(axis.at(done) if done is not None and done.type.value != "info"
                        else end_of_history)
        else:  # one column per step; what could come next, in the column after the last
            column = e.step if e.step is not None else last_step + 1
            starts.append(column - 0.4)
            ends.append(column + 0.4)
    # The path: each placed step at the earliest moment it may take effect.
    points: list[float] = []
    for e, s, t in zip(entries, starts, ends, strict=True):
        if e.role == "placed":
            points.append(min(max(s, points[-1] if points else s), t))
    lanes = sorted({e.process for e in entries}, key=lambda p: (len(p), p))
    lo, hi = min(starts), max(ends)
    pad = (hi - lo) * 0.05 or 1.0
    key = finding.data.get("key")
    title = "Longest order found" + (f" for key {key}" if key is not None else "") + (
        "" if timed else " (the op numbers are not this history's: order only)")
    fig = figure(title=title, height=min(110 + 46 * len(lanes), 520),
                 sizing_mode="stretch_width", x_range=Range1d(lo - pad, hi + pad),
                 y_range=FactorRange(factors=list(reversed(lanes)), range_padding=0.6),
                 tools="xpan,xbox_zoom,reset,save", active_drag="xpan",
                 output_backend="canvas")
    fig.xaxis.axis_label = axis.label if timed else "step of the order found"
    fig.yaxis.axis_label = "process"
    fig.title.text_font_size = "13px"
    colours = {"placed": PLACED_COLOUR, "stuck": STUCK_COLOUR, "candidate": CANDIDATE_COLOUR}
    source = ColumnDataSource({
        "process": [e.process for e in entries], "start": starts, "end": ends,
        "op": [e.op for e in entries], "description": [e.description for e in entries],
        "note": [e.note for e in entries],
        "step": ["—" if e.step is None else str(e.step) for e in entries],
        "colour": [colours[e.role] for e in entries],
        "label": [f"{e.step}: {e.description}" if e.step is not None else
                  f"✗ {e.description}" for e in entries],
    })
    bars = fig.hbar(y="process", left="start", right="end", height=0.5, source=source,
                    fill_color="colour", fill_alpha=0.75, line_color="colour")
    fig.text(x="start", y="process", text="label", source=source, y_offset=-11,
             text_font_size="10px", text_color="#222222")
    fig.add_tools(HoverTool(renderers=[bars], tooltips=[
        ("op", "@op (process @process)"), ("operation", "@description"), ("step", "@step"),
        ("", "@note")]))
    placed = [(e, p) for e, p in zip([e for e in entries if e.role == "placed"], points,
                                     strict=True)]
    if timed and placed:
        path = ColumnDataSource({"x": [p for _, p in placed],
                                 "process": [e.process for e, _ in placed]})
        fig.line("x", "process", source=path, line_color="#333333", line_width=1.2,
                 line_dash="dashed")
        fig.scatter("x", "process", source=path, size=6, fill_color="#333333",
                    line_color="#333333")
    stuck = [(e, t) for e, t in zip(entries, ends, strict=True) if e.role == "stuck"]
    if timed and stuck and stuck[0][1] < end_of_history:
        deadline = stuck[0][1]
        fig.add_layout(Span(location=deadline, dimension="height", line_color=STUCK_COLOUR,
                            line_dash="dashed", line_width=1.5))
        fig.add_layout(Label(x=deadline, y=4, y_units="screen", x_offset=-4, text_align="right",
                             text=f"op {stuck[0][0].op} completed: anything invoked later "
                             "must come after it", text_font_size="10px",
                             text_color=STUCK_COLOUR))
    return fig
