"""The matrix as text: a terminal table, Markdown, and JSON.

All three say the same thing in the same words (`cell_text`), so a cell reads the
same in the README, on the terminal and in ``compare.json``. A cell names what the
claims say (``claimed`` / ``disclaimed`` / ``not claimed`` for guarantees;
``prevented`` / ``allowed`` for anomaly kinds), then what the runs showed, with
counts of runs: ``claimed · held 3/3``, ``disclaimed · violated 3/3``. A claim that
was violated is a finding: it is marked, numbered, and listed under the table with
its witness and its run.

Markdown is written either beside the runs (links to each run folder, relative) or
for a document outside the store such as the README (no links; a run is named by its
test and seed, which the suite reproduces).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labrys.claims import Observation, Stance
from labrys.compare._matrix import AnomalyTable, Cell, CellKind, Matrix, Row

# What the claims say (holds, does not hold, nothing), then what the runs showed (not
# broken, broken): a guarantee is held or violated, an anomaly is not seen or seen.
_GUARANTEE_WORDS = ("claimed", "disclaimed", "not claimed", "held", "violated")
_ANOMALY_WORDS = ("prevented", "allowed", "not claimed", "not seen", "seen")
_STYLE = {CellKind.CLAIMED_HELD: "green", CellKind.CLAIMED_VIOLATED: "bold red reverse",
          CellKind.UNCLAIMED_VIOLATED: "yellow", CellKind.UNCLAIMED_NOT_OBSERVED: "dim",
          CellKind.UNDECIDED: "magenta", CellKind.NOT_TESTED: "dim"}
_FOUND_SHOWN = 3


def cell_text(cell: Cell, *, words: tuple[str, ...] = _GUARANTEE_WORDS,
              finding: int | None = None) -> str:
    """One cell in words (empty when not tested); ``finding`` numbers a violated claim."""
    if cell.kind is CellKind.NOT_TESTED:
        return ""
    claim = words[2] if cell.stance is None else words[0] if cell.stance.holds else words[1]
    if cell.kind is CellKind.CLAIMED_VIOLATED:
        text = f"{claim} · {words[4].upper()} {cell.violated}/{cell.decided}"
    elif cell.kind is CellKind.UNCLAIMED_VIOLATED:
        text = f"{claim} · {words[4]} {cell.violated}/{cell.decided}"
    elif cell.kind in (CellKind.CLAIMED_HELD, CellKind.UNCLAIMED_NOT_OBSERVED):
        count = cell.decided if words[3] == "held" else 0
        text = f"{claim} · {words[3]} {count}/{cell.decided}"
    else:
        text = f"{claim} · undecided ({cell.undecided})"
    if cell.found and cell.kind in (CellKind.CLAIMED_VIOLATED, CellKind.UNCLAIMED_VIOLATED):
        top = sorted(cell.found.items(), key=lambda kv: (-kv[1], kv[0]))[:_FOUND_SHOWN]
        text += " (" + ", ".join(f"{k} ×{n}" for k, n in top) + ")"
    if finding is not None:
        text += f" [{finding}]"
    return text


def runs_text(row: Row) -> str:
    workloads = row.workloads()
    return f"{len(row.observations)}: " + ", ".join(f"{w} {n}" for w, n in workloads.items())


def anomalies_text(row: Row) -> str:
    """The kinds the row's runs found (with how many runs), then its notes."""
    found = row.kinds_found()
    text = ", ".join(f"{k} ({n} run{'s' if n > 1 else ''})" for k, n in sorted(found.items()))
    notes = "; ".join(f"{what}: {', '.join(values)}" for what, values in row.notes().items())
    return "; ".join(filter(None, (text or "none", notes)))


def _numbered(matrix: Matrix) -> dict[tuple[int, str, str], int]:
    """Finding number by (row id, table or '', column)."""
    out: dict[tuple[int, str, str], int] = {}
    for row in matrix.rows:
        for g in matrix.guarantees:
            if row.guarantees[g.name].kind is CellKind.CLAIMED_VIOLATED:
                out[(id(row), "", g.name)] = len(out) + 1
    for table in matrix.tables:
        for row, cells in table.rows:
            for kind, cell in cells.items():
                if cell.kind is CellKind.CLAIMED_VIOLATED:
                    out[(id(row), table.source.id, kind)] = len(out) + 1
    return out


# -- terminal ---------------------------------------------------------------------------


def print_matrix(console: Console, matrix: Matrix) -> None:
    """The matrix, each anomaly table, and the findings, on the terminal."""
    if not matrix.rows:
        console.print("no runs to compare")
        return
    numbers = _numbered(matrix)
    table = Table(title="claims against observations", title_justify="left", show_lines=True)
    for heading in ("system", "configuration", "faults", "runs",
                    *(g.title for g in matrix.guarantees), "anomalies found"):
        table.add_column(escape(heading), overflow="fold")
    for row in matrix.rows:
        cells = [_styled(row.guarantees[g.name], numbers.get((id(row), "", g.name)))
                 for g in matrix.guarantees]
        table.add_row(escape(row.system), escape(row.configuration), escape(row.faults),
                      escape(runs_text(row)), *cells, escape(anomalies_text(row)))
    console.print(table)
    for t in matrix.tables:
        grid = Table(title=escape(t.source.title), title_justify="left", show_lines=True)
        for heading in ("system", "configuration", "faults", "runs", *t.kinds):
            grid.add_column(escape(heading), overflow="fold")
        for row, cells in t.rows:
            grid.add_row(escape(row.system), escape(row.configuration), escape(row.faults),
                         str(_txn_runs(cells)),
                         *(_styled(cells[k], numbers.get((id(row), t.source.id, k)),
                                   words=_ANOMALY_WORDS) if k in cells else "" for k in t.kinds))
        console.print(grid)
    for number, row, column, cell in _findings(matrix, numbers):
        console.print(f"[bold red][{number}] {escape(row.label)}: {escape(column)}[/bold red] "
                      f"{escape(_finding_text(cell, None))}")


def _styled(cell: Cell, finding: int | None, *,
            words: tuple[str, ...] = _GUARANTEE_WORDS) -> str:
    text = cell_text(cell, words=words, finding=finding)
    style = _STYLE[cell.kind]
    return f"[{style}]{escape(text)}[/{style}]" if text else ""


def _txn_runs(cells: Mapping[str, Cell]) -> int:
    return max((c.decided + c.undecided for c in cells.values()), default=0)


def _findings(matrix: Matrix, numbers: Mapping[tuple[int, str, str], int]
              ) -> list[tuple[int, Row, str, Cell]]:
    by_id = {id(r): r for r in matrix.rows}
    out = []
    for (row_id, table, column), number in numbers.items():
        row = by_id[row_id]
        cell = row.guarantees[column] if not table else next(
            cells[column] for t in matrix.tables if t.source.id == table
            for r, cells in t.rows if r is row)
        out.append((number, row, column, cell))
    return out


def _finding_text(cell: Cell, links_from: Path | None) -> str:
    stance = cell.stance
    claim = "" if stance is None else f"{_claim_text(stance)}. "
    runs = "; ".join(f"{_run_ref(o, links_from)}: {o.witness or o.explanation}"
                     for o in cell.witnesses[:_FOUND_SHOWN])
    more = len(cell.witnesses) - _FOUND_SHOWN
    return f"{claim}Found in {runs}" + (f" (and {more} more runs)" if more > 0 else "")


def _claim_text(stance: Stance) -> str:
    how = f", implied by {stance.implied_by}" if stance.implied_by else ""
    return f"{stance.source.title}{how}: {stance.says.rstrip('.')}"


def _run_ref(o: Observation, links_from: Path | None) -> str:
    name = f"{o.spec.test_name} seed {o.spec.seed}"
    if links_from is None:
        return name
    return f"[{name}]({_relative(o.path, links_from)}/)"


def _relative(path: Path, base: Path) -> str:
    return os.path.relpath(path.resolve(), base.resolve())


# -- Markdown -----------------------------------------------------------------------------


def render_markdown(matrix: Matrix, *, links_from: Path | None = None) -> str:
    """The matrix, the anomaly tables, the findings and the sources, as Markdown;
    with ``links_from`` (the folder the file will be in), runs are linked."""
    if not matrix.rows:
        return "No runs to compare.\n"
    numbers = _numbered(matrix)
    lines = ["| system | configuration | faults | runs | "
             + " | ".join(g.title for g in matrix.guarantees) + " | anomalies found |",
             "|---|---|---|---|" + "---|" * len(matrix.guarantees) + "---|"]
    for row in matrix.rows:
        cells = [_md(cell_text(row.guarantees[g.name], finding=numbers.get((id(row), "", g.name))))
                 for g in matrix.guarantees]
        lines.append(f"| {_md(row.system)} | {_md(row.configuration)} | {_md(row.faults)} | "
                     f"{_md(runs_text(row))} | " + " | ".join(cells)
                     + f" | {_md(anomalies_text(row))} |")
    for t in matrix.tables:
        lines += ["", f"**{_md(t.source.title)}** ([source]({t.source.url})): what it says each "
                  "configuration prevents or allows, beside what labrys observed in its "
                  "transactional runs (runs showing the anomaly / runs).", "",
                  "| system | configuration | faults | runs | " + " | ".join(t.kinds) + " |",
                  "|---|---|---|---|" + "---|" * len(t.kinds)]
        for row, cells in t.rows:
            texts = [_md(cell_text(cells[k], words=_ANOMALY_WORDS,
                                   finding=numbers.get((id(row), t.source.id, k))))
                     if k in cells else "" for k in t.kinds]
            lines.append(f"| {_md(row.system)} | {_md(row.configuration)} | {_md(row.faults)} | "
                         f"{_txn_runs(cells)} | " + " | ".join(texts) + " |")
    findings = _findings(matrix, numbers)
    lines += ["", "Findings (a claim violated: a bug in the system, or in labrys, to "
              "investigate): " + ("none." if not findings else "")]
    for number, row, column, cell in findings:
        lines.append(f"{number}. {_md(row.label)}, {_md(column)}: "
                     f"{_md(_finding_text(cell, links_from))}")
    sources = matrix.sources()
    if sources:
        lines += ["", "Sources: " + "; ".join(f"[{_md(s.title)}]({s.url})" for s in sources)
                  + "."]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def splice(document: str, generated: str, *, marker: str = "labrys compare") -> str:
    """``document`` with the lines between the line ``<!-- {marker} -->`` and the line
    ``<!-- end {marker} -->`` replaced by ``generated``. Markers count only on lines of
    their own, so a document may mention them in its prose.

    Raises:
        ValueError: the marker lines are missing or out of order.
    """
    start, end = f"<!-- {marker} -->", f"<!-- end {marker} -->"
    lines = document.splitlines(keepends=True)
    stripped = [line.strip() for line in lines]
    if start not in stripped or end not in stripped[stripped.index(start):]:
        raise ValueError(f"no '{start}' … '{end}' lines")
    i = stripped.index(start)
    j = stripped.index(end, i)
    return "".join(lines[:i + 1]) + generated + "".join(lines[j:])


# -- JSON -------------------------------------------------------------------------------


def matrix_json(matrix: Matrix, *, base: Path) -> dict[str, Any]:
    """Everything in the matrix as plain data, run paths relative to ``base``."""
    return {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "cell_kinds": [k.value for k in CellKind],
        "guarantees": [{"name": g.name, "title": g.title, "means": g.means}
                       for g in matrix.guarantees],
        "anomalies": list(matrix.anomalies),
        "rows": [_row_json(row, base) for row in matrix.rows],
        "tables": [_table_json(t, matrix.rows, base) for t in matrix.tables],
        "sources": [{"id": s.id, "title": s.title, "url": s.url} for s in matrix.sources()],
        "findings": [{"number": n, "row": matrix.rows.index(row), "column": column,
                      "text": _finding_text(cell, None)}
                     for n, row, column, cell in _findings(matrix, _numbered(matrix))],
    }


def _row_json(row: Row, base: Path) -> dict[str, Any]:
    return {
        "system": row.system, "target": row.target, "options": dict(row.options),
        "configuration": row.configuration, "faults": row.faults,
        "runs": [{"path": _relative(o.path, base), "test": o.spec.test_name,
                  "workload": o.spec.workload, "seed": o.spec.seed, "valid": o.valid,
                  "error": o.error, "anomalies": dict(o.kinds), "notes": dict(o.notes)}
                 for o in row.observations],
        "claims": {name: _stance_json(s) for name, s in row.claims.guarantees.items()},
        "guarantees": {name: _cell_json(c, base) for name, c in row.guarantees.items()},
        "anomalies": {kind: _cell_json(c, base) for kind, c in row.anomalies.items()},
    }


def _table_json(t: AnomalyTable, rows: Sequence[Row], base: Path) -> dict[str, Any]:
    return {"source": t.source.id, "title": t.source.title, "kinds": list(t.kinds),
            "rows": [{"row": rows.index(row),
                      "cells": {k: _cell_json(c, base) for k, c in cells.items()}}
                     for row, cells in t.rows]}


def _stance_json(s: Stance | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"holds": s.holds, "source": s.source.id, "says": s.says, "implied_by": s.implied_by}


def _cell_json(c: Cell, base: Path) -> dict[str, Any]:
    return {"kind": c.kind.value, "claim": _stance_json(c.stance), "decided": c.decided,
            "violated": c.violated, "undecided": c.undecided, "found": dict(c.found),
            "witnesses": [{"path": _relative(o.path, base), "witness": o.witness}
                          for o in c.witnesses]}
