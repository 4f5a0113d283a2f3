"""The report's colours, in one place: outcomes, faults, anomalies.

Outcomes keep Jepsen's reading (blue happened, pink did not, orange unknown), so a
Jepsen user reads labrys's plots at a glance. Each fault has its own colour, used for
its band on every plot, its bar in the nemesis lane and its line in the list.
"""

from __future__ import annotations

from bokeh.transform import linear_cmap

OUTCOME_COLOURS = {"ok": "#4e8fd0", "fail": "#e8588a", "info": "#f0a030"}
OUTCOME_CODES = {outcome: code for code, outcome in enumerate(OUTCOME_COLOURS)}
"""How an outcome is stored in a page's ``type`` column."""

FAULT_COLOURS = {"partition": "#e15759", "kill": "#8c564b", "pause": "#b07aa1",
                 "loss": "#17becf", "delay": "#59a14f", "clock": "#bcbd22"}
OTHER_FAULT_COLOUR = "#7f7f7f"
ANOMALY_COLOUR = "#b00020"
"""Outlines of the operations anomalies name, and bad reads in charts."""


def outcome_colours() -> object:
    """The colour of a bar or point by its ``type`` column (`OUTCOME_CODES`)."""
    return linear_cmap("type", palette=list(OUTCOME_COLOURS.values()), low=-0.5,
                       high=len(OUTCOME_COLOURS) - 0.5)


def fault_colour(fault: str) -> str:
    return FAULT_COLOURS.get(fault, OTHER_FAULT_COLOUR)
