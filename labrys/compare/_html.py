"""The matrix as one HTML page: ``compare.html``, beside the runs it judges.

The same cells, words and findings as the Markdown (`_render`), with what a page adds:
each cell coloured by its kind and carrying the claim and its source as a tooltip, each
violated claim linked to its finding, and each finding linked to the run folders (and
their ``report.html``) that show it. The page is styled like ``labrys serve``'s (its
stylesheet is inlined) and, like the run report, needs no network at all.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2

from labrys.compare._matrix import Cell, CellKind, Matrix, Row
from labrys.compare._render import (
    _ANOMALY_WORDS,
    _GUARANTEE_WORDS,
    _claim_text,
    _findings,
    _numbered,
    _relative,
    _txn_runs,
    anomalies_text,
    cell_text,
    runs_text,
)
from labrys.report._page import static_text

COMPARE_HTML = "compare.html"

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("labrys.compare", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)


def render_html(matrix: Matrix, *, base: Path, source: str) -> str:
    """The page for ``matrix``; links to runs are relative to ``base``, the folder the
    page will be written to."""
    numbers = _numbered(matrix)

    def cells(row: Row, items: list[tuple[str, Cell]], table: str,
              words: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"column": column, "kind": _css(cell.kind),
                 "text": cell_text(cell, words=words,
                                   finding=numbers.get((id(row), table, column))),
                 "finding": numbers.get((id(row), table, column)),
                 "claim": "" if cell.stance is None else _claim_text(cell.stance)}
                for column, cell in items]

    rows = [{"system": r.system, "configuration": r.configuration, "faults": r.faults,
             "runs": runs_text(r), "anomalies": anomalies_text(r),
             "cells": cells(r, [(g.name, r.guarantees[g.name]) for g in matrix.guarantees],
                            "", _GUARANTEE_WORDS)}
            for r in matrix.rows]
    tables = [{"id": t.source.id, "title": t.source.title, "url": t.source.url,
               "kinds": t.kinds,
               "rows": [{"system": r.system, "configuration": r.configuration,
                         "faults": r.faults, "runs": _txn_runs(c),
                         "cells": cells(r, [(k, c[k]) for k in t.kinds if k in c], t.source.id,
                                        _ANOMALY_WORDS)}
                        for r, c in t.rows]}
              for t in matrix.tables]
    findings = [{"number": n, "row": row.label, "column": column,
                 "claim": "" if cell.stance is None else _claim_text(cell.stance),
                 "witnesses": [_witness(o, base) for o in cell.witnesses]}
                for n, row, column, cell in _findings(matrix, numbers)]
    return _ENV.get_template("compare.html.j2").render(
        css=static_text("serve.css"), source=source, rows=rows, tables=tables,
        findings=findings, sources=matrix.sources(), guarantees=matrix.guarantees,
        runs=sum(len(r.observations) for r in matrix.rows),
        generated=dt.datetime.now().isoformat(timespec="seconds"),
        legend=[(_css(k), k.value) for k in CellKind if k is not CellKind.NOT_TESTED])


def _witness(o: Any, base: Path) -> dict[str, Any]:
    report = o.path / "report.html"
    return {"name": f"{o.spec.test_name} seed {o.spec.seed}",
            "href": _relative(o.path, base) + "/",
            "report": _relative(report, base) if report.exists() else None,
            "text": o.witness or o.explanation}


def _css(kind: CellKind) -> str:
    return kind.value.replace(",", "").replace(" ", "-")
