"""The timeline: one lane per process, each operation a bar from invocation to completion.

As Jepsen's ``timeline.html`` and Porcupine's visualisation, but on the same time range
as the plots, so a latency spike, a fault and the operations around an anomaly line up.
Bars are coloured by outcome (ok, fail, info; an operation that never completed runs
to the end of the history); the nemesis has its own lane where each fault interval is a
bar with its label. The operations anomalies name are outlined in red. Hovering a bar
shows its operation; clicking selects it and the page prints it in full below; clicking
an anomaly on the page selects its operations here and zooms to them.

Bokeh draws it: hundreds of thousands of bars on a canvas, zoom and pan, hover and tap,
and a selection that the latency plot shares because both draw from one
`ColumnDataSource` (named ``ops``, which the page's script looks up). A hand-written
SVG timeline would need its own zoom, pan, hit testing and a DOM node per bar; that is
the plotting engine this project does not write.
"""

from __future__ import annotations

from collections.abc import Sequence

from bokeh.models import (
    CDSView,
    ColumnDataSource,
    CustomJS,
    FixedTicker,
    HoverTool,
    Range1d,
    TapTool,
)
from bokeh.plotting import figure

from labrys.report._fault_intervals import FaultInterval
from labrys.report._ops import Operations
from labrys.report._ops_source import column_filter, decoded, op_tooltips
from labrys.report._plots import add_fault_bands, time_figure
from labrys.report._style import ANOMALY_COLOUR, fault_colour, outcome_colours

LANE_PX = 15
def timeline_figure(source: ColumnDataSource, operations: Operations, lane_names: Sequence[str],
                    faults: Sequence[FaultInterval], x_range: Range1d) -> figure:
    """The timeline over ``source`` (see the module docstring).

    Args:
        source: from `ops_source`.
        operations: every operation (for the axis).
        lane_names: from `lanes`, the same as given to `ops_source`.
        faults: the fault intervals, drawn in the nemesis lane and shaded.
        x_range: the page's shared time range.
    """
    n = len(lane_names)
    height = min(max(LANE_PX * n + 80, 220), 900)
    fig = time_figure(x_range, title="Timeline: each operation from invocation to completion",
                      x_label=operations.axis.label, height=height,
                      y_range=Range1d(-0.6, n - 0.4, bounds=(-0.6, n - 0.4)))
    fig.yaxis.axis_label = "process"
    fig.yaxis.ticker = FixedTicker(ticks=list(range(n)))
    fig.yaxis.major_label_overrides = {n - 1 - k: name for k, name in enumerate(lane_names)}
    fig.ygrid.grid_line_color = None
    add_fault_bands(fig, faults, labels=False)
    bars = fig.hbar(y="lane", left="start", right="end", height=0.72, source=source,
                    fill_color=outcome_colours(), line_color=None,
                    selection_line_color="#111111", selection_line_width=1.5,
                    nonselection_fill_alpha=0.12, name="op-bars")
    if source.data["named"].any():
        fig.hbar(y="lane", left="start", right="end", height=0.72, source=source,
                 view=CDSView(filter=column_filter("named", 1)),
                 fill_alpha=0, line_color=ANOMALY_COLOUR, line_width=1.5,
                 nonselection_fill_alpha=0, nonselection_line_alpha=0.35,
                 selection_fill_alpha=0, name="anomaly-outlines")
    if faults:
        fault_source = ColumnDataSource(name="faults", data={
            "lane": [n - 1] * len(faults),
            "start": [i.start for i in faults],
            "end": [max(i.end, i.start) for i in faults],
            "label": [i.label for i in faults],
            "detail": [i.detail for i in faults],
            "colour": [fault_colour(i.fault) for i in faults],
            "ops": [", ".join(map(str, i.ops)) for i in faults],
        })
        fault_bars = fig.hbar(y="lane", left="start", right="end", height=0.8,
                              source=fault_source, fill_color="colour", fill_alpha=0.55,
                              line_color="colour")
        fig.text(x="start", y="lane", text="label", source=fault_source, x_offset=3,
                 text_font_size="10px", text_baseline="middle", text_color="#222222")
        fig.add_tools(HoverTool(renderers=[fault_bars], tooltips=[
            ("fault", "@detail"), ("from", "@start{0.000}"), ("to", "@end{0.000}"),
            ("nemesis ops", "@ops")]))
    fig.add_tools(HoverTool(renderers=[bars], tooltips=op_tooltips(interval=True),
                            formatters=decoded(source)))
    fig.add_tools(TapTool(renderers=[bars]))
    source.selected.js_on_change("indices", CustomJS(
        args={"source": source}, code="window.labrysReport.showSelection(source);"))
    return fig
