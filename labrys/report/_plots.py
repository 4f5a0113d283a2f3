"""Latency and throughput over time, with the faults shaded: Jepsen's three plots.

- **latency, every operation** (Jepsen's ``latency-raw``): one point per operation at
  its invocation, its latency on a log scale, the marker by function and the colour by
  outcome (ok, fail, info);
- **latency quantiles** (``latency-quantiles``): the 0.5, 0.95, 0.99 and 1 quantiles of
  successful operations' latency per function, over windows of time;
- **throughput** (``rate``): completions per second, by function and outcome.

All three share one time range with the timeline, so zooming or panning any of them
moves all, and every fault interval is shaded and labelled on each
(`add_fault_bands`). They are Bokeh figures: drawn in the browser from compact binary
columns, with zoom, pan and hover, and no JavaScript beyond Bokeh's own (inlined once
by the page).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.models import (
    BoxAnnotation,
    CDSView,
    ColumnDataSource,
    HoverTool,
    Label,
    Legend,
    LegendItem,
    Range1d,
    Span,
)
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from labrys.report._fault_intervals import FaultInterval
from labrys.report._ops import Operations, windows
from labrys.report._ops_source import column_filter, decoded, op_tooltips
from labrys.report._style import fault_colour, outcome_colours

MARKERS = ("circle", "square", "triangle", "diamond", "inverted_triangle", "hex", "star",
           "plus")
QUANTILES = (0.5, 0.95, 0.99, 1.0)
_QUANTILE_COLOURS = ("#1f77b4", "#ff7f0e", "#d62728", "#111111")
_DASHES = ("solid", "dashed", "dotted", "dotdash", "dashdot")
TOOLS = "xpan,xbox_zoom,xwheel_zoom,reset,save"
PLOT_HEIGHT = 250
WINDOWS = 120
"""About how many windows quantiles and throughput are computed over."""


def time_figure(x_range: Range1d, *, title: str, x_label: str, height: int = PLOT_HEIGHT,
                **kwargs: object) -> figure:
    """A figure on the page's shared time range, with the tools every time plot has."""
    fig = figure(title=title, x_range=x_range, height=height, sizing_mode="stretch_width",
                 tools=TOOLS, active_drag="xpan", toolbar_location="right",
                 output_backend="canvas", **kwargs)
    fig.xaxis.axis_label = x_label
    fig.title.text_font_size = "13px"
    return fig


def add_fault_bands(fig: figure, faults: Sequence[FaultInterval], *, labels: bool = True) -> None:
    """Shade each fault interval on ``fig`` and label it at the top.

    Bands are named ``fault-band`` so a test (or a script) can find them in the page's
    Bokeh document.
    """
    for interval in faults:
        colour = fault_colour(interval.fault)
        if interval.end > interval.start:
            fig.add_layout(BoxAnnotation(left=interval.start, right=interval.end,
                                         fill_color=colour, fill_alpha=0.13, line_alpha=0,
                                         name="fault-band", tags=[interval.detail]))
        else:
            fig.add_layout(Span(location=interval.start, dimension="height",
                                line_color=colour, line_dash="dotted", line_width=1.5,
                                name="fault-band", tags=[interval.detail]))
        if labels:
            fig.add_layout(Label(x=interval.start, y=4, x_units="data", y_units="screen",
                                 x_offset=3, text=interval.label, text_font_size="10px",
                                 text_color=colour, background_fill_color="white",
                                 background_fill_alpha=0.75, name="fault-label"))


def latency_figure(ops_source: ColumnDataSource, operations: Operations,
                   functions: Sequence[str], x_range: Range1d,
                   faults: Sequence[FaultInterval]) -> figure:
    """Every drawn operation's latency at its invocation, log scale.

    ``ops_source`` is the timeline's (`labrys.report._ops_source.ops_source`): selecting
    operations there selects their points here.
    """
    fig = time_figure(x_range, title="Latency of each operation (log scale)",
                      x_label=operations.axis.label, y_axis_type="log")
    fig.yaxis.axis_label = "latency (ms)"
    add_fault_bands(fig, faults)
    names = ops_source.tags[0]["f"]
    items = []
    for i, f in enumerate(functions):
        renderer = fig.scatter(
            "start", "latency", source=ops_source,
            view=CDSView(filter=column_filter("f", list(names).index(f))),
            marker=MARKERS[i % len(MARKERS)], size=4, fill_color=outcome_colours(),
            line_color=outcome_colours(), fill_alpha=0.6, line_alpha=0.6,
            selection_line_color="#111111", selection_fill_alpha=1.0,
            nonselection_fill_alpha=0.08, nonselection_line_alpha=0.08)
        items.append(LegendItem(label=f, renderers=[renderer]))
    if items:
        fig.add_layout(Legend(items=items, click_policy="hide", location="top_right",
                              label_text_font_size="11px"), "right")
    fig.add_tools(HoverTool(renderers=fig.renderers, tooltips=op_tooltips(interval=False),
                            formatters=decoded(ops_source)))
    return fig


def legend_below(fig: figure, items: list[LegendItem], *, columns: int) -> None:
    """A legend under the plot, ``columns`` entries a row; click an entry to hide it."""
    if items:
        fig.add_layout(Legend(items=items, click_policy="hide", label_text_font_size="11px",
                              orientation="horizontal", ncols=columns, spacing=14,
                              margin=4, padding=4), "below")


def quantile_figure(operations: Operations, functions: Sequence[str], x_range: Range1d,
                    faults: Sequence[FaultInterval]) -> figure:
    """Latency quantiles of successful operations per function, window by window."""
    fig = time_figure(x_range, title="Latency quantiles of successful operations (log scale)",
                      x_label=operations.axis.label, y_axis_type="log",
                      height=PLOT_HEIGHT + 60)
    fig.yaxis.axis_label = "latency (ms)"
    add_fault_bands(fig, faults, labels=False)
    grid = windows(operations, WINDOWS)
    centres, bucket = grid.centres, grid.of(operations.start)
    items = []
    for fi, f in enumerate(functions):
        mask = ((operations.outcome == "ok") & (operations.f == f)
                & ~np.isnan(operations.latency_ms))
        if not mask.any():
            continue
        # NaN where a window has no successful operation: the line breaks there
        # instead of drawing a slope across a time when nothing succeeded.
        values = np.full((grid.count, len(QUANTILES)), np.nan)
        b, lat = bucket[mask], operations.latency_ms[mask]
        order = np.argsort(b, kind="stable")
        b, lat = b[order], lat[order]
        edges = np.flatnonzero(np.diff(b)) + 1
        for window, group in zip(b[np.concatenate(([0], edges))], np.split(lat, edges),
                                 strict=True):
            values[window] = np.quantile(group, QUANTILES)
        for qi, q in enumerate(QUANTILES):
            source = ColumnDataSource({"t": centres, "latency": values[:, qi]})
            line = fig.line("t", "latency", source=source, line_color=_QUANTILE_COLOURS[qi],
                            line_dash=_DASHES[fi % len(_DASHES)], line_width=1.6)
            items.append(LegendItem(label=f"{f} p{q * 100:g}" if q < 1 else f"{f} max",
                                    renderers=[line]))
    legend_below(fig, items, columns=len(QUANTILES))
    fig.add_tools(HoverTool(tooltips=[("time", "@t{0.0}"), ("latency", "@latency{0.000} ms")]))
    return fig


def rate_figure(operations: Operations, functions: Sequence[str], x_range: Range1d,
                faults: Sequence[FaultInterval]) -> figure:
    """Completions per second by function and outcome."""
    fig = time_figure(x_range, title="Throughput: completed operations per second",
                      x_label=operations.axis.label, height=PLOT_HEIGHT + 60)
    fig.yaxis.axis_label = "operations per second"
    add_fault_bands(fig, faults, labels=False)
    grid = windows(operations, WINDOWS)
    done = np.fromiter((o.completion is not None for o in operations.ops), bool,
                       len(operations.ops))
    bucket = grid.of(operations.end)
    items = []
    for fi, f in enumerate(functions):
        colour = Category10_10[fi % 10]
        for ti, outcome in enumerate(("ok", "fail", "info")):
            mask = done & (operations.f == f) & (operations.outcome == outcome)
            if not mask.any():
                continue
            counts = np.bincount(bucket[mask], minlength=grid.count) / grid.width
            source = ColumnDataSource({"t": grid.centres, "rate": counts})
            line = fig.line("t", "rate", source=source, line_color=colour,
                            line_dash=_DASHES[ti], line_width=1.6)
            items.append(LegendItem(label=f"{f} {outcome}", renderers=[line]))
    legend_below(fig, items, columns=3)
    fig.add_tools(HoverTool(tooltips=[("time", "@t{0.0}"), ("rate", "@rate{0.0}")]))
    return fig
