"""Verdicts on a terminal: the verdict word, the explanation, the anomalies.

Shared by `labrys check` and `labrys run`, so a verdict reads the same whichever
command produced it. Long lists are cut with a count of what was left out; the full
data is always in ``--json`` and ``results.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape

from labrys.checkers import UNKNOWN, Verdict

MAX_ANOMALIES_SHOWN = 10

_STYLE = {True: ("valid", "bold green"), False: ("INVALID", "bold red"),
          UNKNOWN: ("unknown", "bold yellow")}


def verdict_word(verdict: Verdict) -> str:
    """``valid``, ``INVALID`` or ``unknown``, styled with rich markup."""
    word, style = _STYLE[verdict.valid]
    return f"[{style}]{word}[/{style}]"


def print_verdict(console: Console, verdict: Verdict, *, title: str | None = None,
                  everything_in: str = "--json") -> None:
    """Print one verdict (and, for a composed one, each child that is not valid).

    ``everything_in`` says where the anomalies cut from the list can be read in full:
    ``--json`` for ``labrys check``, the run's ``results.json`` for ``labrys run``.
    """
    heading = f"{escape(title)}: " if title else ""
    console.print(f"{heading}{escape(verdict.checker)} {verdict_word(verdict)}")
    if verdict.children:
        for child in verdict.children:
            console.print(f"  {escape(child.checker)} {verdict_word(child)}")
        for child in verdict.children:
            if child.valid is not True:
                _print_body(console, child, everything_in)
        return
    _print_body(console, verdict, everything_in)


def _print_body(console: Console, verdict: Verdict, everything_in: str) -> None:
    if verdict.explanation:
        console.print(escape(verdict.explanation), soft_wrap=False)
    shown = verdict.anomalies[:MAX_ANOMALIES_SHOWN]
    for anomaly in shown:
        ops = ", ".join(str(i) for i in anomaly.ops[:12])
        more = f" …{len(anomaly.ops) - 12} more" if len(anomaly.ops) > 12 else ""
        # A single anomaly often is the explanation; say it once.
        said = "" if anomaly.explanation == verdict.explanation else (
            f": {escape(anomaly.explanation)}")
        console.print(f"  • [bold]{escape(anomaly.kind)}[/bold] (ops {ops}{more}){said}")
        _print_order(console, anomaly.data)
    if len(verdict.anomalies) > len(shown):
        console.print(f"  … and {len(verdict.anomalies) - len(shown)} more anomalies "
                      f"(all of them are in {escape(everything_in)})")


def _print_order(console: Console, data: Mapping[str, Any]) -> None:
    """The order a search got furthest with, and why each next step failed.

    Search checkers (linearizable, sequential) put these in an anomaly's data as
    ``linearization`` (op, process, description, state) and ``candidates`` (op,
    process, description, reason); a person debugging wants them as a list.
    """
    steps = data.get("linearization")
    if not steps:
        return
    omitted = data.get("linearization_omitted", 0)
    console.print("    longest order found" + (f" (its last {len(steps)} steps)" if omitted
                                                 else "") + ":")
    for step in steps:
        console.print(f"      op {step['op']:<6} process {escape(str(step['process'])):<5} "
                      f"{escape(step['description']):<28} → state {escape(step['state'])}")
    for candidate in data.get("candidates", ()):
        console.print(f"    ✗ op {candidate['op']} ({escape(candidate['description'])}): "
                      f"{escape(candidate['reason'])}")
