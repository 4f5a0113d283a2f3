"""``labrys compare``: run a suite (or read stored runs) and judge the claims.

Writes ``compare.md``, ``compare.json`` and ``compare.html`` into the output folder (the suite run's
folder, or the ``--from`` store, unless ``--out`` says otherwise), prints the matrix,
and with ``--into FILE`` replaces the generated part of a document (the README's claims
table) between the lines ``<!-- labrys compare -->`` and ``<!-- end labrys compare -->``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from labrys.claims import Observation, default_registry, find_runs, observe_run
from labrys.compare._html import COMPARE_HTML, render_html
from labrys.compare._matrix import Matrix, build_matrix
from labrys.compare._render import matrix_json, print_matrix, render_markdown, splice
from labrys.errors import LabrysError, UsageError
from labrys.suite import execute_suite, output_console

COMPARE_MD = "compare.md"
COMPARE_JSON = "compare.json"


def read_observations(store: Path, *, warn: Callable[[str], None]) -> list[Observation]:
    """Every readable run under ``store``; an unreadable one is skipped with a warning
    (a run still in progress has no ``results.json`` yet, a broken one gets one line).

    Raises:
        UsageError: ``store`` is not a folder.
    """
    if not store.is_dir():
        raise UsageError(f"--from {store}: not a folder; give a store such as results or a "
                         "suite run's folder")
    out = []
    for path in find_runs(store):
        try:
            out.append(observe_run(path))
        except LabrysError as e:
            warn(f"skipped {path}: {e}")
    return out


def write_outputs(matrix: Matrix, out: Path, *, source: Path | None = None) -> list[Path]:
    """Write the Markdown, JSON and HTML forms into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md = out / COMPARE_MD
    md.write_text(render_markdown(matrix, links_from=out), encoding="utf-8")
    data = out / COMPARE_JSON
    data.write_text(json.dumps(matrix_json(matrix, base=out), indent=2, default=str) + "\n",
                    encoding="utf-8")
    page = out / COMPARE_HTML
    page.write_text(render_html(matrix, base=out, source=str(source or out)), encoding="utf-8")
    return [md, data, page]


def compare(
    suite_file: Annotated[Path | None, typer.Option(
        "--suite", help="Run this suite, then compare its runs.", show_default=False)] = None,
    from_store: Annotated[Path | None, typer.Option(
        "--from", help="Compare the runs already stored under this folder (a store, a "
        "suite's folder, one suite run).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        help="Where to write compare.md, .json and .html. [default: the suite run's folder, "
        "or the --from folder]", show_default=False)] = None,
    into: Annotated[Path | None, typer.Option(
        help="Also replace the generated table in this document (between "
        "'<!-- labrys compare -->' and '<!-- end labrys compare -->').",
        show_default=False)] = None,
    store: Annotated[Path, typer.Option(help="With --suite: where runs are stored.")]
    = Path("results"),
    only: Annotated[str | None, typer.Option(
        help="With --suite: only the tests whose names match.", show_default=False)] = None,
    runs: Annotated[int | None, typer.Option(
        help="With --suite: runs per test.", show_default=False)] = None,
    time_scale: Annotated[float, typer.Option(
        help="With --suite: multiply every time limit and fault interval by this.")] = 1.0,
) -> None:
    """Compare what systems claim with what their runs showed.

    A matrix of configurations against guarantees and anomaly kinds, from stored runs
    or a suite run now. Exit 1 when a claim was violated.

    Example:

        labrys compare --from results/suites/latest --into README.md
    """
    if (suite_file is None) == (from_store is None):
        raise UsageError("give either --suite FILE (run it, then compare) or --from STORE "
                         "(compare stored runs)")
    console = output_console()
    registry = default_registry()
    if suite_file is not None:
        done = execute_suite(suite_file, store=store, only=only, runs=runs,
                             time_scale=time_scale, registry=registry, console=console)
        source = done.folder
    else:
        assert from_store is not None
        source = from_store
    matrix = build_matrix(read_observations(source, warn=_say), registry)
    console.print()
    print_matrix(console, matrix)
    written = write_outputs(matrix, out or source, source=source)
    if into is not None:
        _splice_into(into, render_markdown(matrix))
        written.append(into)
    _say(f"wrote {', '.join(str(p) for p in written)}")
    raise typer.Exit(1 if matrix.findings() else 0)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _splice_into(path: Path, generated: str) -> None:
    try:
        document = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--into {path}: cannot read it ({e.strerror})") from None
    try:
        path.write_text(splice(document, generated), encoding="utf-8")
    except ValueError as e:
        raise UsageError(f"--into {path}: {e}; add them where the table goes") from None
