"""The `labrys` command.

Exit status, as Jepsen's: 0 valid, 1 invalid, 2 unknown, 255 anything that is not a
verdict (a malformed history, an unknown option, a cluster that did not come up).
Click's own convention of exiting 2 on a usage error would read as "unknown", so
usage errors are caught here and exit 255 like every other non-verdict.

Errors that labrys raises on purpose (`LabrysError`) print as one line. Anything else
is a bug and keeps its traceback.

``run`` and ``cluster`` are `LazyCommand`s: their modules (the orchestration, every
target, the databases' clients) are imported only when they run, so ``labrys --help``
and ``labrys check`` load only what listing and checking need.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console

from labrys._check import CheckRequest, check_file, check_files, overall_status
from labrys._lazy import LazyCommand, lazy_group
from labrys.checkers import CHECKERS, NOT_GIVEN, CheckOptions
from labrys.checkers._verdict import exit_status
from labrys.errors import LabrysError, UsageError
from labrys.history import FORMATS, read_history, write_jepsen_edn, write_jsonl
from labrys.report import print_verdict
from labrys.report._cli import write_check_report

LAZY_COMMANDS = {command.name: command for command in [
    LazyCommand("run", "labrys.harness._cli:run", "Run a test: start a cluster, drive it "
                "under faults, check and store the history."),
    LazyCommand("cluster", "labrys.harness._cluster_cli:cluster_app", "Local clusters of "
                "network namespaces: bring up, poke, partition, heal, remove."),
    LazyCommand("suite", "labrys.suite:suite", "Run a suite of tests, each with what it "
                "must show (nightly CI)."),
    LazyCommand("compare", "labrys.compare:compare", "Compare what systems claim with what "
                "their runs showed."),
    LazyCommand("report", "labrys.report._cli:report", "Write (or rewrite) report.html in "
                "each run folder from its stored files alone."),
    LazyCommand("serve", "labrys.report._cli:serve", "Browse a store of runs in a web "
                "browser: filter, open reports, compare two runs."),
]}
"""Commands imported only when they run (see `labrys._lazy`)."""

app = typer.Typer(
    name="labrys",
    cls=lazy_group(LAZY_COMMANDS),
    help="Test what distributed databases promise: run real clusters under real faults, "
    "record what clients saw, and check it against consistency models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_stdout = Console(highlight=False)


def _say(message: str) -> None:
    """One line on stderr, never wrapped: scripts grep these lines."""
    print(message, file=sys.stderr, flush=True)


def _parse_init(text: str | None) -> object:
    if text is None:
        return NOT_GIVEN
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(
            f"--init must be a JSON literal such as 0, null or '{{\"x\": 0}}'; "
            f"{text!r} is not JSON ({e.msg})"
        ) from None


def _parse_models(text: str | None) -> tuple[str, ...]:
    """A comma-separated list of names; Jepsen's leading colons are allowed."""
    if text is None:
        return CheckOptions().consistency_models
    names = tuple(name.strip().lstrip(":") for name in text.split(",") if name.strip())
    if not names:
        raise UsageError(f"expected comma-separated names, got {text!r}")
    return names


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(
        help="History files or run folders to check.", show_default=False)],
    checker: Annotated[str | None, typer.Option(
        "--checker", "-c", help="Which checker; `labrys checkers` lists them. Default: a "
        "stored run's own checks (a run folder, or a history with test.json beside it), "
        "linearizable for any other history.", show_default=False)] = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="A stored run's workload option to change for this check, "
        "key=value (e.g. check_timeout_s=300); repeatable.", show_default=False)] = None,
    independent: Annotated[bool | None, typer.Option(
        "--independent/--no-independent",
        help="linearizable/sequential: values are [key value] pairs, each key its own "
        "object (Jepsen's independent keys). Recognised from the values when omitted.",
        show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        "--model", "-m",
        help="linearizable/sequential: the model (cas-register, kv, mutex…; "
        "`labrys checkers` lists them). Guessed from the operations when omitted.")] = None,
    init: Annotated[str | None, typer.Option(
        help="The model's initial value as JSON, e.g. 0 or '{\"x\": 0, \"y\": 0}'. "
        "Default: nil.")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help=f"History format: {', '.join(FORMATS)}. Guessed when omitted.")]
    = None,
    timeout: Annotated[float | None, typer.Option(
        help="Give up after this many seconds per history (verdict: unknown).")] = None,
    memory_limit: Annotated[int | None, typer.Option(
        help="Give up when the search's tables pass this many MiB (verdict: unknown).")]
    = None,
    group_size: Annotated[int | None, typer.Option(
        help="long-fork: how many keys each group of inserts spans.")] = None,
    consistency_models: Annotated[str | None, typer.Option(
        help="list-append/rw-register: the models the system claims, comma-separated "
        "(default strict-serializable).")] = None,
    negative_balances: Annotated[bool, typer.Option(
        "--negative-balances", "--allow-negative-balances",
        help="bank: allow balances below zero.")] = False,
    total_amount: Annotated[int | None, typer.Option(
        help="bank: the total every read must see (default: the first read's total).")]
    = None,
    whole: Annotated[bool, typer.Option(
        "--whole", help="linearizable/sequential: check the history as one, not per key.")]
    = False,
    linearizable_reads: Annotated[bool, typer.Option(
        "--linearizable-reads",
        help="set-full: reads must be linearizable, so a stale read is an error.")] = False,
    cycle_search_timeout: Annotated[float | None, typer.Option(
        help="list-append/rw-register: milliseconds of cycle search per component "
        "(elle-cli's option; --timeout in seconds means the same).")] = None,
    anomalies: Annotated[str | None, typer.Option(
        help="list-append/rw-register: anomalies to forbid as well, comma-separated.")]
    = None,
    wfr_keys: Annotated[bool, typer.Option(
        "--wfr-keys", help="rw-register: infer version orders from a write that follows a "
        "read of the same key in one transaction.")] = False,
    per_key: Annotated[bool, typer.Option(
        "--per-key", help="session guarantees: judge each key on its own, not the whole "
        "database at once (Terry's definition).")] = False,
    causal_model: Annotated[str | None, typer.Option(
        help="causal: the model claimed: cc (default), cm (causal memory) or ccv "
        "(causal convergence).")] = None,
    plot_options: Annotated[list[str] | None, typer.Option(
        "--plot-format", "--plot-timeout", "--max-plot-bytes", "--directory", hidden=True,
        help="Accepted for elle-cli compatibility; labrys draws no plots here.")] = None,
    engine: Annotated[str, typer.Option(
        help="linearizable/sequential: auto (the native core when installed), python, "
        "native or smt (z3).")] = "auto",
    minimize: Annotated[bool, typer.Option(
        "--minimize", help="linearizable/sequential: also find a minimal set of operations "
        "that is already invalid.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    html: Annotated[Path | None, typer.Option(
        help="Also write the HTML report of the history to this file (one history only).",
        show_default=False)] = None,
) -> None:
    """Check recorded histories and stored runs.

    A run folder, or a history with the run's test.json beside it, is checked with the
    run's own checks and options, unless --checker names another. With one file: the
    verdict, an explanation of any anomaly, and the exit status (0 valid, 1 invalid,
    2 unknown, 255 unreadable). With several: one line per file,
    `PATH<TAB>true|false|unknown`, a summary on stderr, and the worst exit status.

    Examples: labrys check results/latest (a stored run, judged as the run judged it);
    labrys check --model cas-register --init 0 history.edn
    """
    if cycle_search_timeout is not None:
        timeout = cycle_search_timeout / 1000
    extra: dict[str, object] = {}
    if total_amount is not None:
        extra["total_amount"] = total_amount
    if whole:
        extra["partition"] = False
    if linearizable_reads:
        extra["linearizable"] = True
    if anomalies:
        extra["anomalies"] = _parse_models(anomalies)
    if wfr_keys:
        extra["wfr_keys"] = True
    if causal_model is not None:
        extra["causal_model"] = causal_model
    if per_key:
        extra["per_key"] = True
    options = CheckOptions(
        model=model,
        init=_parse_init(init),
        timeout_s=timeout,
        memory_limit_mb=memory_limit,
        group_size=group_size,
        consistency_models=_parse_models(consistency_models),
        negative_balances=negative_balances,
        engine=engine,
        minimize=minimize,
        extra=extra,
    )
    request = CheckRequest(checker=checker, options=options, format=format,
                           independent=independent,
                           run_options=tuple(option or ()))
    if html is not None and len(files) != 1:
        raise UsageError("--html writes the report of one history; give one file")
    if len(files) == 1:
        verdict = check_file(files[0], request)
        if html is not None:
            page = write_check_report(files[0], verdict, out=html,
                                      argv=click.get_current_context().find_root().obj or [],
                                      format=format)
            _say(f"report: {page.resolve().as_uri()}")
        if as_json:
            print(json.dumps(verdict.to_json(), indent=2, default=str))
        else:
            print_verdict(_stdout, verdict, title=str(files[0]))
        raise typer.Exit(exit_status(verdict.valid))
    results = check_files(files, request)
    for result in results:
        if result.verdict is None:
            _say(f"labrys: {result.error}")
            continue
        word = result.verdict.valid if result.verdict.valid == "unknown" else (
            "true" if result.verdict.valid else "false")
        if as_json:
            print(json.dumps({"path": str(result.path), **result.verdict.to_json()},
                             default=str))
        else:
            print(f"{result.path}\t{word}")
    counts = {word: sum(1 for r in results if r.status == code)
              for word, code in (("valid", 0), ("invalid", 1), ("unknown", 2), ("unreadable", 255))}
    _say(", ".join(f"{n} {word}" for word, n in counts.items() if n)
         + f" ({len(results)} histories)")
    raise typer.Exit(overall_status(results))


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="The history to convert.", show_default=False)],
    target: Annotated[Path, typer.Argument(help="Where to write it.", show_default=False)],
    to: Annotated[str, typer.Option(help="Output format: jepsen-edn or jsonl.")] = "jepsen-edn",
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help="Input format; guessed when omitted.")] = None,
) -> None:
    """Convert a history between formats, e.g. to feed one recorded by labrys to Knossos
    or Elle.

    Example: labrys convert results/latest/history.jsonl history.edn --to jepsen-edn
    """
    history = read_history(source, format=format)
    if to == "jepsen-edn":
        write_jepsen_edn(history, target)
    elif to == "jsonl":
        write_jsonl(history, target)
    else:
        raise UsageError(f"--to must be jepsen-edn or jsonl, not {to!r}")
    _say(f"wrote {len(history)} ops to {target}")


@app.command("checkers")
def list_checkers() -> None:
    """List the checkers and the models that `check` knows.

    Example:

        labrys checkers
    """
    from labrys.models import MODELS  # imported here: only this listing needs them

    for entry in CHECKERS.values():
        _stdout.print(f"[bold]{entry.name:<20}[/bold] {entry.summary}")
    _stdout.print("\n[bold]models[/bold] (for linearizable and sequential): "
                  + ", ".join(MODELS))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the app, map errors to exit statuses."""
    args = sys.argv[1:] if argv is None else argv
    try:
        # The arguments ride along as the context's obj: --html quotes them as the command.
        status = app(args=args, prog_name="labrys", standalone_mode=False, obj=args)
    except click.UsageError as e:
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx is not None else ""
        _say(f"labrys: {e.format_message()}{hint}")
        sys.exit(255)
    except click.Abort:
        _say("labrys: interrupted")
        sys.exit(130)
    except LabrysError as e:
        _say(f"labrys: {e}")
        sys.exit(255)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
