"""``labrys run``: the command that runs a test end to end.

The function `run` is a plain typer command (``app.command("run")(run)`` mounts it):
its flags are the spec's fields, each defaulting to None so that "not given" can be
told apart from "given the default", which is what lets a flag override a TOML file
or a replayed ``test.json`` only where it was actually given.

It raises `LabrysError` for bad input (printed as one line, exit 255, by the
caller) and ends with ``typer.Exit(code)``: 0 valid, 1 invalid, 2 unknown, 255 the run
itself failed.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from labrys.control import RUNTIMES
from labrys.errors import UsageError
from labrys.harness._runner import RunOutcome, run_test
from labrys.harness._spec import (
    build_spec,
    load_spec_file,
    parse_nemesis,
    parse_option,
    parse_topologies,
)
from labrys.nemesis import FAULTS
from labrys.report import REPORT_NAME, print_verdict
from labrys.targets import TARGETS
from labrys.workloads import WORKLOADS


def run(
    spec_file: Annotated[Path | None, typer.Argument(
        help="A TOML test spec; flags override its keys.", show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        help=f"The database: {', '.join(TARGETS)}. [default: etcd]", show_default=False)]
    = None,
    nodes: Annotated[int | None, typer.Option(
        help="How many nodes. [default: 3]", show_default=False)] = None,
    runtime: Annotated[str | None, typer.Option(
        help="Where nodes live: " + "; ".join(f"{r.name}: {r.summary}"
                                             for r in RUNTIMES.values())
        + ". [default: local]", show_default=False)] = None,
    runtime_option: Annotated[list[str] | None, typer.Option(
        "--runtime-option", help="A runtime option key=value (e.g. base_dir=/srv/labrys); "
        "repeatable.", show_default=False)] = None,
    workload: Annotated[str | None, typer.Option(
        help=f"What clients do: {', '.join(WORKLOADS)}. [default: register]",
        show_default=False)] = None,
    nemesis: Annotated[str | None, typer.Option(
        help=f"Faults, comma-separated ({', '.join(FAULTS)}), or none. "
        "[default: partition,kill]", show_default=False)] = None,
    nemesis_interval: Annotated[float | None, typer.Option(
        help="Seconds between a fault and its heal, and between faults. [default: 10]",
        show_default=False)] = None,
    topologies: Annotated[str | None, typer.Option(
        help="Partitions to choose from, comma-separated (primaries, halves, one…). "
        "[default: all that fit]", show_default=False)] = None,
    time_limit: Annotated[float | None, typer.Option(
        help="Seconds of workload. [default: 60]", show_default=False)] = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Client workers. [default: 10]", show_default=False)] = None,
    rate: Annotated[float | None, typer.Option(
        help="Client ops per second over all workers; 0 for as fast as possible. "
        "[default: 100]", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of every random choice; drawn and recorded when omitted.",
        show_default=False)] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="A target or workload option key=value "
        "(e.g. read_mode=serializable); repeatable.", show_default=False)] = None,
    store: Annotated[Path | None, typer.Option(
        help="Where runs are stored. [default: results]", show_default=False)] = None,
    leave_running: Annotated[bool | None, typer.Option(
        "--leave-running/--no-leave-running",
        help="Keep the cluster up after the run.", show_default=False)] = None,
    name: Annotated[str | None, typer.Option(
        help="The test's name (its folder in the store). [default: target-workload-faults]",
        show_default=False)] = None,
    replay: Annotated[Path | None, typer.Option(
        help="Run again with the spec and seed of an earlier run's test.json.",
        show_default=False)] = None,
    check_online: Annotated[bool | None, typer.Option(
        "--check-online/--no-check-online",
        help="Judge the history while it is recorded, where the workload allows it. "
        "[default: where it is cheap (register)]", show_default=False)] = None,
    stop_on_anomaly: Annotated[bool | None, typer.Option(
        "--stop-on-anomaly/--no-stop-on-anomaly",
        help="End the workload at the online check's first anomaly, then heal, check and "
        "store as usual.", show_default=False)] = None,
) -> None:
    """Run a test: start a cluster, drive it under faults, check and store the history.

    With no arguments: etcd on 3 local nodes, the register workload, partitions and
    kills every 10 s, for 60 s, with 10 clients.

    Example:

        labrys run --option read_mode=serializable --nemesis partition
    """
    if spec_file is not None and replay is not None:
        raise UsageError("give either a spec file or --replay, not both")
    base: dict[str, Any] = {}
    if spec_file is not None:
        base = load_spec_file(spec_file)
    elif replay is not None:
        if replay.suffix != ".json":
            raise UsageError(f"--replay takes a run's test.json, not {replay}")
        base = load_spec_file(replay)
    flags: dict[str, Any] = {
        "target": target, "nodes": nodes, "runtime": runtime, "workload": workload,
        "runtime_options": dict(parse_option(o, flag="--runtime-option",
                                             example="base_dir=/srv/labrys")
                                for o in runtime_option or []),
        "nemesis": None if nemesis is None else parse_nemesis(nemesis),
        "nemesis_interval_s": nemesis_interval, "time_limit_s": time_limit,
        "topologies": None if topologies is None else parse_topologies(topologies),
        "concurrency": concurrency, "rate": rate, "seed": seed,
        "options": dict(parse_option(o) for o in option or []),
        "store": None if store is None else str(store), "leave_running": leave_running,
        "name": name, "check_online": check_online, "stop_on_anomaly": stop_on_anomaly,
    }
    spec = build_spec(base, flags)
    console = Console(highlight=False)
    outcome = run_test(spec, console=console, command=["labrys", *sys.argv[1:]])
    _report(console, outcome)
    raise typer.Exit(outcome.exit_code)


def _report(console: Console, outcome: RunOutcome) -> None:
    console.print()
    print_verdict(console, outcome.verdict, title="verdict",
                  everything_in=str(outcome.run.results))
    if outcome.error is not None:
        console.print(f"[bold red]the run failed:[/bold red] {escape(outcome.error)}")
    if outcome.interrupted == 1:
        console.print("interrupted by Ctrl-C: the verdict covers the history recorded until then")
    if outcome.online_stop is not None:
        console.print(escape(outcome.online_stop))
    console.print(f"run stored in {escape(str(outcome.run.path))}")
    page = outcome.run.path / REPORT_NAME
    if page.is_file():
        console.print(f"report: {escape(page.resolve().as_uri())}", soft_wrap=True)
    if outcome.verdict.valid is not True:
        rerun = shlex.join(["labrys", "run", "--replay", str(outcome.run.test_json)])
        console.print(f"rerun this schedule with: {escape(rerun)}")
