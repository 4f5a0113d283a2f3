"""``labrys report`` and ``labrys serve``, and the report ``labrys check --html`` writes.

Plain typer commands, mounted by ``labrys.cli`` with one line each. They import the
report's machinery (Bokeh, Starlette, uvicorn) only when they run, so every other
command starts as fast as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from labrys.checkers import Verdict
from labrys.errors import UsageError


def report(
    runs: Annotated[list[Path], typer.Argument(
        help="Run folders, e.g. results/latest.", show_default=False)],
) -> None:
    """Write (or rewrite) report.html in each run folder from its stored files alone.

    Example:

        labrys report results/latest
    """
    from labrys.report._page import write_run_report

    for run in runs:
        path = write_run_report(run)
        print(f"report: {path.resolve().as_uri()}", flush=True)


def serve(
    store: Annotated[Path, typer.Option(help="The store of runs to browse.")] = Path("results"),
    host: Annotated[str, typer.Option(
        help="The address to listen on; 127.0.0.1 keeps it to this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8080,
) -> None:
    """Browse a store of runs in a web browser: filter, open reports, compare two runs.

    Read-only; serves files from the store only. Runs stored while it runs appear on
    the next page load.

    Example:

        labrys serve --store results --port 8080
    """
    if not store.is_dir():
        raise UsageError(f"{store} is not a folder of runs; give --store (default: results)")
    from labrys.report._serve import serve as serve_store

    serve_store(store, host=host, port=port)


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value (``--html OUT`` or ``--html=OUT``)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def write_check_report(history_path: Path, verdict: Verdict, *, out: Path,
                       argv: Sequence[str], format: str | None = None) -> Path:
    """Write the report of a history ``labrys check`` judged, and return its path.

    The history is read again here rather than passed in, so that ``labrys check``
    stays as it is for every caller that wants no page.
    """
    from labrys.history import read_history
    from labrys.report._page import write_report
    from labrys.report._source import for_check

    history = read_history(history_path, format=format)
    command = ["labrys", *without_option(argv, "--html")]
    source = for_check(history_path, history, verdict.to_json(), out=out, command=command)
    return write_report(source, out)
