"""``labrys suite``: run a suite, or show its trend.

`execute_suite` is the whole job without the command line (``labrys compare
--suite`` runs suites through it too); `suite` is the typer command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from labrys.claims import Registry, default_registry
from labrys.errors import UsageError
from labrys.suite._file import load_suite_file
from labrys.suite._report import JUNIT_XML, print_summary, write_junit, write_summary
from labrys.suite._run import SuiteRun, run_suite
from labrys.suite._trend import load_trend, print_trend

LOG_WIDTH = 200


def output_console() -> Console:
    """Standard output for tables: the terminal's width, or, in a log or CI without
    one, wide enough that a table keeps one line per row."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else LOG_WIDTH)


def execute_suite(path: Path, *, store: Path, only: str | None = None, runs: int | None = None,
                  time_scale: float = 1.0, junit: Path | None = None,
                  registry: Registry | None = None, console: Console) -> SuiteRun:
    """Read the suite at ``path``, run it, write its summary and JUnit files, print
    the summary table.

    Raises:
        UsageError: a bad suite file or setting, before anything runs.
    """
    if runs is not None and runs < 1:
        raise UsageError(f"--runs {runs} is not valid; expected a count of runs >= 1")
    if not time_scale > 0:
        raise UsageError(f"--time-scale {time_scale} is not valid; expected a number > 0, "
                         "e.g. 0.5 for runs half as long")
    registry = registry or default_registry()
    suite = load_suite_file(path, registry)
    done = run_suite(suite, store=store, registry=registry, only=only, runs=runs,
                     time_scale=time_scale, console=console,
                     run_console=Console(stderr=True, highlight=False),
                     command=["labrys", *sys.argv[1:]], on_result=write_summary)
    write_junit(done, done.folder / JUNIT_XML)
    if junit is not None:
        write_junit(done, junit)
    console.print()
    print_summary(console, done)
    return done


def suite(
    suite_file: Annotated[Path, typer.Argument(
        help="The suite (TOML). With --trend: the suite file or its name.",
        show_default=False)],
    junit: Annotated[Path | None, typer.Option(
        help="Also write the results as JUnit XML to this file (for CI).",
        show_default=False)] = None,
    store: Annotated[Path, typer.Option(
        help="Where runs are stored; a suite run goes to STORE/suites/<suite>/<time>/.")]
    = Path("results"),
    only: Annotated[str | None, typer.Option(
        help="Only the tests whose names match: comma-separated globs or substrings.",
        show_default=False)] = None,
    runs: Annotated[int | None, typer.Option(
        help="Runs per test: its listed seeds, continued or cut to this many.",
        show_default=False)] = None,
    time_scale: Annotated[float, typer.Option(
        help="Multiply every test's time limit and fault interval by this.")] = 1.0,
    trend: Annotated[bool, typer.Option(
        "--trend", help="Show each test's verdicts across the stored runs of this suite, "
        "changes flagged, instead of running it.")] = False,
    list_tests: Annotated[bool, typer.Option(
        "--list", help="List the expanded tests and their seeds without running them.")]
    = False,
) -> None:
    """Run a suite of tests, each with what it must show (nightly CI).

    Exit 0 when every expectation is met, 1 when one is not, 2 when a verdict is
    unknown, 255 when a run failed or the suite could not run.

    Example:

        labrys suite suites/smoke.toml --junit out.xml
    """
    console = output_console()
    if trend:
        name = load_suite_file(suite_file).name if suite_file.is_file() else str(suite_file)
        print_trend(console, load_trend(store, name))
        raise typer.Exit(0)
    if list_tests:
        loaded = load_suite_file(suite_file)
        for test in loaded.select(only):
            seeds = ",".join(str(s) for s in test.seeds_for(runs))
            print(f"{test.name}\tseeds {seeds}\texpects {test.expectation.describe()}")
        raise typer.Exit(0)
    done = execute_suite(suite_file, store=store, only=only, runs=runs, time_scale=time_scale,
                         junit=junit, console=console)
    raise typer.Exit(done.exit_status)
