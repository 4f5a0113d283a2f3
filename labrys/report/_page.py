"""The report page: one self-contained HTML file with everything a reader needs.

Top to bottom: the verdict and each checker's; the test (target, version, nodes,
workload, nemesis, seed, duration, labrys version) and the command that reproduces it;
latency and throughput with the faults shaded; the timeline; every anomaly with its
explanation, its operations and its picture; the ``--minimize`` result; links to the
raw files.

Self-contained means no network at all: the page inlines its stylesheet, its script
and Bokeh's own JavaScript (``bokeh.min.js`` from the Bokeh package, about 1.3 MB, once
per page), draws the plots from data embedded in it, and puts Graphviz's SVG in place.
It works from ``file://``, from ``labrys serve``, or attached to a bug report.

Jinja2 renders the page (``templates/report.html.j2``); this module gathers what it
shows. The picture an anomaly gets depends on the shape of its data, not on which
checker made it: a linearization when it has one, a graph when it is a cycle, a chart
of elements or reads when it names them.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from bokeh.embed import components
from bokeh.models import Range1d
from bokeh.resources import Resources

from labrys.history import History
from labrys.report import _cycles, _elements
from labrys.report._fault_intervals import FaultInterval, fault_intervals
from labrys.report._findings import Finding, checker_rows, findings
from labrys.report._linearization import has_linearization, linearization_figure
from labrys.report._ops import (
    ROW_LIMIT,
    Operations,
    TimeAxis,
    choose_rows,
    invocation_index,
    operations,
    show_value,
    time_axis,
)
from labrys.report._ops_source import lanes, ops_source
from labrys.report._plots import latency_figure, quantile_figure, rate_figure
from labrys.report._source import REPORT_NAME, ReportSource, load_run
from labrys.report._style import OUTCOME_COLOURS, fault_colour
from labrys.report._timeline import timeline_figure

OPS_SHOWN = 40
"""Rows of an anomaly's operations table; the rest are highlighted in the timeline."""
SESSION_CONTEXT = 30
ELEMENTS_SHOWN = 200
DETAIL_LIMIT = 600
"""Characters of a value in an anomaly's operations table."""

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("labrys.report", "templates"),
                          autoescape=jinja2.select_autoescape(["j2", "html"]),
                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)
_WORDS = {True: ("VALID", "valid"), False: ("INVALID", "invalid"),
          "unknown": ("UNKNOWN", "unknown")}
_ENV.globals.update(verdict_word=lambda valid: _WORDS[valid][0],
                    verdict_class=lambda valid: _WORDS[valid][1])


@dataclass(slots=True, kw_only=True)
class FindingView:
    """One anomaly as the template shows it."""

    finding: Finding
    rows: list[dict[str, Any]]
    more_ops: int
    plot: str | None = None  # the key of its Bokeh figure
    svg: str | None = None
    edges: Sequence[str] = ()
    tables: list[tuple[str, list[str], list[list[Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elements: tuple[str, str] | None = None


def _op_row(history: History, axis: TimeAxis, index: int, *, mark: str = "") -> dict[str, Any]:
    op = history[index]
    done = history.completion(op)
    latency = (f"{(done.time - op.time) / 1e6:.3f}" if done is not None and axis.real else "")
    return {
        "index": index, "process": op.process, "f": op.f,
        "type": done.type.value if done is not None else "info (never completed)",
        "invoked": show_value(op.value, DETAIL_LIMIT),
        "result": show_value(done.value, DETAIL_LIMIT) if done is not None else "",
        "node": op.node or "", "at": f"{axis.at(op):.3f}" if axis.real else str(op.index),
        "latency": latency,
        "error": show_value(done.error, DETAIL_LIMIT) if done and done.error is not None else "",
        "mark": mark,
    }


def _session_rows(finding: Finding, history: History, axis: TimeAxis) -> list[dict[str, Any]]:
    """The session's operations around the anomaly, the named ones marked and the read
    that broke the guarantee called out."""
    process = finding.data.get("process")
    indices = history.by_process().get(process, []) if process is not None else []
    invocations = [i for i in indices if history.is_invocation(history[i])]
    named = set(finding.ops)
    mine = [k for k, i in enumerate(invocations) if i in named]
    if not mine:
        return []
    lo, hi = mine[0], min(mine[-1], mine[0] + SESSION_CONTEXT - 1)
    # The contradiction shows at the cycle's latest operation: before it, every op the
    # cycle names still fitted some server order.
    cycle_ops = [op for edge in finding.data["cycle"] for op in edge.get("ops", ())]
    broke = invocation_index(history, max(cycle_ops)) if cycle_ops else None
    return [_op_row(history, axis, i, mark="broke it" if i == broke else
                    "named" if i in named else "") for i in invocations[lo:hi + 1]]


def _linearization_tables(finding: Finding) -> list[tuple[str, list[str], list[list[Any]]]]:
    data = finding.data
    steps = [[s["op"], s["process"], s["description"], s["state"]]
             for s in data.get("linearization", ())]
    omitted = data.get("linearization_omitted", 0)
    title = "Longest order found" + (f" (its last {len(steps)} steps; {omitted} before them)"
                                     if omitted else "")
    tables = [(title, ["op", "process", "operation", "state after"], steps)]
    candidates = [[c["op"], c["process"], c["description"], c["reason"]]
                  for c in data.get("candidates", ())]
    if candidates:
        more = data.get("candidates_omitted", 0)
        tables.append(("What could have come next, and why it cannot" +
                       (f" ({more} more not shown)" if more else ""),
                       ["op", "process", "operation", "why not"], candidates))
    return tables


def _element_table(finding: Finding) -> tuple[str, list[str], list[list[Any]]] | None:
    """A table of the elements' fates, for an anomaly that has them (``set-full``)."""
    elements = finding.data.get("elements")
    if not isinstance(elements, list) or not elements:
        return None
    shown = elements[:ELEMENTS_SHOWN]
    more = len(elements) - len(shown)
    if isinstance(shown[0], Mapping) and "element" in shown[0]:
        title = f"The {len(elements)} elements" + (f" ({more} not shown)" if more else "")
        columns = ["element", "outcome", "add", "known at", "last seen", "missed by"]
        rows = [[show_value(e["element"]), e.get("outcome", ""), e.get("add"), e.get("known"),
                 e.get("last-present"), e.get("last-absent")] for e in shown]
        return title, columns, rows
    return None


def _element_list(finding: Finding) -> tuple[str, str] | None:
    """A title and the elements, for an anomaly that names plain elements (``set``)."""
    elements = finding.data.get("elements")
    if not isinstance(elements, list) or not elements or (
            isinstance(elements[0], Mapping) and "element" in elements[0]):
        return None
    shown = elements[:ELEMENTS_SHOWN]
    more = len(elements) - len(shown)
    title = f"The {len(elements)} elements" + (f" (the first {len(shown)})" if more else "")
    final = finding.data.get("final-read")
    title += f", missing from the final read (op {final})" if final is not None else ""
    return title, ", ".join(show_value(e) for e in shown) + (f", … {more} more" if more else "")


@dataclass(slots=True)
class _Context:
    history: History
    axis: TimeAxis
    operations: Operations
    faults: list[FaultInterval]
    x_range: Range1d | None
    models: dict[str, Any]


def _view(finding: Finding, ctx: _Context) -> FindingView:
    shown = finding.ops[:OPS_SHOWN]
    view = FindingView(finding=finding, rows=[_op_row(ctx.history, ctx.axis, i) for i in shown],
                       more_ops=len(finding.ops) - len(shown))
    key = f"anomaly-{finding.number}"
    if has_linearization(finding):
        ctx.models[key] = linearization_figure(finding, ctx.history, ctx.axis)
        view.plot = key
        view.tables = _linearization_tables(finding)
    elif _cycles.is_txn_cycle(finding) or _cycles.is_version_cycle(finding):
        graph = (_cycles.txn_cycle_graph(finding, ctx.history) if _cycles.is_txn_cycle(finding)
                 else _cycles.version_cycle_graph(finding))
        view.svg = _cycles.svg(graph)
        if view.svg is None:
            view.edges = _cycles.edge_list(graph)
            view.notes.append(_cycles.MISSING_DOT)
        if _cycles.is_version_cycle(finding):
            key = finding.data.get("key")
            view.notes.append(
                f"Versions of {'the register' if key is None else f'key {key}'}: each arrow "
                "is an order a guarantee or the history's evidence demands; they form a "
                "cycle, so no order of the versions keeps them all (the thick arrow is the "
                "guarantee reported).")
            rows = _session_rows(finding, ctx.history, ctx.axis)
            if rows:
                view.rows, view.more_ops = rows, 0
                view.notes.append(f"Below, the operations of process "
                                  f"{finding.data['process']} around the anomaly; the read "
                                  "that broke the guarantee is marked.")
    elif ctx.x_range is not None and _elements.is_set_anomaly(finding):
        ctx.models[key] = _elements.set_figure(finding, ctx.operations, ctx.x_range,
                                               ctx.faults)
        view.plot = key
    elif ctx.x_range is not None and _elements.is_counter_anomaly(finding):
        ctx.models[key] = _elements.counter_figure(finding, ctx.history, ctx.operations,
                                                   ctx.x_range, ctx.faults)
        view.plot = key
    elif ctx.x_range is not None and _elements.is_bank_anomaly(finding):
        fig = _elements.bank_figure(finding, ctx.history, ctx.operations, ctx.x_range,
                                    ctx.faults)
        if fig is not None:
            ctx.models[key] = fig
            view.plot = key
    table = _element_table(finding)
    if table is not None:
        view.tables.append(table)
    view.elements = _element_list(finding)
    return view


def _facts(source: ReportSource, ops: Operations, axis: TimeAxis) -> list[tuple[str, str]]:
    """What the test was, for the table under the verdict."""
    facts: list[tuple[str, str]] = []
    test = source.test or {}
    spec = test.get("spec", {})
    versions = test.get("versions", {})

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            facts.append((label, value if isinstance(value, str) else
                          json.dumps(value, separators=(", ", ": "))))

    add("target", spec.get("target"))
    add("database version", versions.get("target"))
    add("nodes", spec.get("nodes"))
    add("runtime", spec.get("runtime"))
    add("workload", spec.get("workload"))
    nemesis = ", ".join(spec.get("nemesis", ())) or ("none" if spec else None)
    if nemesis and spec.get("nemesis"):
        nemesis += f" every {spec.get('nemesis_interval')} s"
        if spec.get("topologies"):
            nemesis += f" (topologies: {', '.join(spec['topologies'])})"
    add("nemesis", nemesis)
    add("options", ", ".join(f"{k}={v}" for k, v in spec.get("options", {}).items()))
    add("clients", f"{spec['concurrency']} at {spec['rate']} ops/s" if "concurrency" in spec
        else None)
    add("seed", test.get("seed"))
    add("started", test.get("started"))
    if axis.real and len(source.history):
        span = (source.history[len(source.history) - 1].time - source.history[0].time) / 1e9
        add("duration", f"{span:.1f} s of history" + (
            f" (time limit {spec['time_limit']} s)" if "time_limit" in spec else ""))
    counts = {t: sum(1 for o in ops.ops if o.type.value == t) for t in OUTCOME_COLOURS}
    add("operations", f"{len(ops.ops)} ({', '.join(f'{n} {t}' for t, n in counts.items())})"
        if ops.ops else "none recorded")
    online = (source.run or {}).get("online")
    if online:
        add("online check", f"{online['check']}: {online['progress'] or 'nothing judged'} "
            f"({online['ops']} ops read), {online.get('cpu_s', 0):.1f} s of CPU"
            + (f"; gave up: {online['error']}" if online.get("error") else ""))
    add("labrys version", versions.get("labrys") or _labrys_version())
    return facts


def _labrys_version() -> str:
    try:
        return importlib.metadata.version("labrys")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def static_text(name: str) -> str:
    """A stylesheet or script of the package's ``static`` folder, to inline in a page."""
    return (files("labrys.report") / "static" / name).read_text(encoding="utf-8")


def render_report(source: ReportSource, *, row_limit: int = ROW_LIMIT) -> str:
    """The report page for ``source``, as one HTML string.

    Args:
        source: what to show (`load_run`, `for_check`).
        row_limit: the most operations drawn one by one (see `labrys.report._ops`).
    """
    history = source.history
    axis = time_axis(history)
    ops = operations(history, axis)
    faults = fault_intervals(history, axis.at)
    found = findings(source.verdict, history)
    named = {i for f in found for i in f.ops}
    x_range = None
    models: dict[str, Any] = {}
    sampling = None
    if ops.ops:
        rows, stride = choose_rows(ops, named, row_limit)
        lane_names = lanes(ops, faults)
        src = ops_source(ops, rows, lane_names, named)
        lo = min(float(ops.start.min()), *(f.start for f in faults)) if faults else float(
            ops.start.min())
        hi = ops.end_of_history
        pad = (hi - lo) * 0.01 or 1.0
        x_range = Range1d(lo - pad, hi + pad, name="time-range")
        functions = list(dict.fromkeys(sorted(o.f for o in ops.ops)))
        if axis.real:  # positions are no time: without times there is no rate or latency
            models["latency"] = latency_figure(src, ops, functions, x_range, faults)
            models["quantiles"] = quantile_figure(ops, functions, x_range, faults)
            models["rate"] = rate_figure(ops, functions, x_range, faults)
        models["timeline"] = timeline_figure(src, ops, lane_names, faults, x_range)
        if stride > 1:
            sampling = (f"The latency plot and the timeline draw {len(rows):,} of the "
                        f"{len(ops.ops):,} operations: every {stride}th, and every one of the "
                        f"{len(named):,} that anomalies name. Quantiles and throughput count "
                        "every operation.")
    ctx = _Context(history=history, axis=axis, operations=ops, faults=faults, x_range=x_range,
                   models=models)
    views = [_view(f, ctx) for f in found]
    script, divs = components(models) if models else ("", {})
    template = _ENV.get_template("report.html.j2")
    return template.render(
        title=source.title,
        verdict=source.verdict,
        checkers=checker_rows(source.verdict),
        facts=_facts(source, ops, axis),
        command=source.command,
        notes=source.notes,
        faults=[(f, fault_colour(f.fault)) for f in faults],
        outcome_colours=OUTCOME_COLOURS,
        anomalies=[v for v in views if not v.finding.minimal],
        minimal=[v for v in views if v.finding.minimal],
        all_named=sorted(named),
        files=source.files,
        sampling=sampling,
        axis=axis,
        divs=divs,
        bokeh_js="".join(Resources(mode="inline", components=["bokeh"]).js_raw) if models
        else "",
        bokeh_script=script,
        css=static_text("report.css"),
        js=static_text("report.js"),
        generated=dt.datetime.now().isoformat(timespec="seconds"),
        version=_labrys_version(),
    )


def write_report(source: ReportSource, out: Path, *, row_limit: int = ROW_LIMIT) -> Path:
    """Render ``source`` into ``out`` (written whole, then renamed into place)."""
    html = render_report(source, row_limit=row_limit)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out


def write_run_report(run: Path) -> Path:
    """(Re)write ``report.html`` in a run folder from its stored files alone."""
    return write_report(load_run(run), run / REPORT_NAME)
