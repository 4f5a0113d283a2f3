"""Reports: how verdicts and runs are shown to people.

Two ways, one verdict. On a terminal, `print_verdict` renders a `Verdict` with rich. On
a page, `write_run_report` turns a run folder into ``report.html``: one self-contained
HTML file (no network at all, also from ``file://``) with the verdict, the test, latency
and throughput plots with every fault shaded, a timeline of every operation, and each
anomaly with its explanation, its operations and the picture that fits it (the longest
linearization, a cycle graph, lost elements over time). `write_report` does the same
for any source (`for_check`: a history checked by ``labrys check --html``), and
``labrys serve`` browses a store of runs.

The page's machinery (Bokeh, Jinja2) is imported on first use of a name that needs it,
so a command that only prints a verdict does not pay for it.

The report reads only what a run stores (``test.json``, ``history.jsonl``,
``results.json``, logs) and the verdict's data: it never imports the runner, so a
report can be rewritten at any time from the files (``labrys report RUN_DIR``).

Example:
    >>> from pathlib import Path
    >>> write_run_report(Path("results/latest"))  # doctest: +SKIP
    PosixPath('results/latest/report.html')
"""

from __future__ import annotations

import importlib
from typing import Any

from labrys.report._source import REPORT_NAME, RawFile, ReportSource, for_check, load_run
from labrys.report._terminal import print_verdict, verdict_word

_LAZY = {"render_report": "labrys.report._page", "write_report": "labrys.report._page",
         "write_run_report": "labrys.report._page"}

__all__ = [
    "REPORT_NAME",
    "RawFile",
    "ReportSource",
    "for_check",
    "load_run",
    "print_verdict",
    "render_report",
    "verdict_word",
    "write_report",
    "write_run_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
