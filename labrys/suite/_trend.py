"""Trends: each test's verdicts across the stored runs of a suite, changes flagged.

A nightly suite is worth little if nobody notices the night a verdict changes: valid
yesterday and invalid today is a regression (or a newly found bug), invalid yesterday
and valid today is a known bug that stopped reproducing. Every suite run keeps its
``summary.json`` under ``<store>/suites/<suite>/``; `load_trend` reads them back in
time order and `print_trend` shows one row per test and seed, one column per suite
run (the newest `MAX_COLUMNS`), with every change of verdict marked and listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labrys.errors import UsageError
from labrys.suite._report import SUMMARY_JSON

MAX_COLUMNS = 10
"""Suite runs shown side by side; older ones still count for the change list."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One test and seed in one suite run."""

    verdict: str       # valid, invalid, unknown or failed
    outcome: str       # met, not met, unknown, run failed

    def __str__(self) -> str:
        mark = "✓" if self.outcome == "met" else "✗"
        return f"{self.verdict} {mark}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    test: str
    seed: int
    before: str        # the suite run (folder name) before the change
    after: str         # the suite run that changed
    was: Cell
    now: Cell


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    suite: str
    runs: tuple[str, ...]                                   # folder names, oldest first
    rows: dict[tuple[str, int], dict[str, Cell]]            # (test, seed) -> run -> cell
    changes: tuple[Change, ...]                             # oldest first


def load_trend(store: Path, suite: str) -> Trend:
    """The trend of suite ``suite`` from ``store/suites/suite/*/summary.json``.

    Raises:
        UsageError: the suite has no stored runs, or a summary does not parse.
    """
    folder = store / "suites" / suite
    summaries = sorted(folder.glob(f"*/{SUMMARY_JSON}")) if folder.is_dir() else []
    if not summaries:
        raise UsageError(f"no stored runs of suite {suite!r} under {folder}; run `labrys suite` "
                         "first, or pass the --store it used")
    runs: list[str] = []
    rows: dict[tuple[str, int], dict[str, Cell]] = {}
    for path in summaries:
        run = path.parent.name
        runs.append(run)
        for result in _results(path):
            key = (str(result["test"]), int(result["seed"]))
            rows.setdefault(key, {})[run] = _cell(result)
    changes = []
    for (test, seed), cells in sorted(rows.items()):
        previous: tuple[str, Cell] | None = None
        for run in runs:
            if run not in cells:
                continue
            if previous is not None and previous[1].verdict != cells[run].verdict:
                changes.append(Change(test=test, seed=seed, before=previous[0], after=run,
                                      was=previous[1], now=cells[run]))
            previous = (run, cells[run])
    changes.sort(key=lambda c: c.after)
    return Trend(suite=suite, runs=tuple(runs), rows=rows, changes=tuple(changes))


def _results(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        results = data["results"]
        if not isinstance(results, list):
            raise TypeError
        return results
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(f"{path}: not a suite summary; remove it or the folder it is in") \
            from None


def _cell(result: dict[str, Any]) -> Cell:
    outcome = str(result.get("outcome"))
    valid = result.get("valid")
    verdict = "failed" if outcome == "run failed" else {True: "valid", False: "invalid"}.get(
        valid, "unknown")
    return Cell(verdict=verdict, outcome=outcome)


def print_trend(console: Console, trend: Trend) -> None:
    """The table of verdicts (changed cells in reverse video) and the list of changes."""
    shown = trend.runs[-MAX_COLUMNS:]
    changed = {(c.test, c.seed, c.after) for c in trend.changes}
    stored = f"{len(trend.runs)} stored run{'s' if len(trend.runs) != 1 else ''}"
    table = Table(title=f"suite {trend.suite}: {stored}"
                  + (f", the last {len(shown)} shown" if len(shown) < len(trend.runs) else ""),
                  title_justify="left")
    table.add_column("test")
    table.add_column("seed")
    for run in shown:
        table.add_column(run.replace("T", "\n", 1))
    for (test, seed), cells in sorted(trend.rows.items()):
        row = []
        for run in shown:
            cell = cells.get(run)
            text = "" if cell is None else escape(str(cell))
            if cell is not None and (test, seed, run) in changed:
                text = f"[reverse]{text}[/reverse]"
            row.append(text)
        table.add_row(escape(test), str(seed), *row)
    console.print(table)
    if not trend.changes:
        console.print("no verdict changed across these runs")
        return
    newest = trend.runs[-1]
    for c in reversed(trend.changes):
        flag = "[bold red]CHANGED in the newest run[/bold red]" if c.after == newest else "changed"
        what = escape(f"{c.test} [seed {c.seed}]: {c.was.verdict} in {c.before} → "
                      f"{c.now.verdict} in {c.after}")
        console.print(f"{flag}: {what}")
