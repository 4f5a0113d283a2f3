"""The lifecycle of one run: up, set up, drive, heal, tear down, check, store.

The flow of a run, in one function, `run_test`, whose whole job is ordering and the
guarantee that teardown happens:

1. resolve the spec (seed drawn if absent), the runtime, the target, the workload and
   their options, and the nemesis: every bad input is refused here, before any node
   exists;
2. create the run folder and its log, write ``test.json``;
3. bring the nodes up (the spec's `labrys.control.Runtime`; from then on only the
   `Cluster` protocol), ask a node for the database's version, set the target up;
4. run the generator (clients for ``time_limit`` at ``rate``, the nemesis's schedule
   beside them, then the nemesis's final heal) through the `Interpreter`, the history
   streaming to ``history.jsonl``;
5. teardown, always (``finally``): heal every fault, copy the database's logs into
   ``nodes/<node>/``, stop the database, remove the nodes;
6. read the history back from disk (what a crash would have left is what gets
   checked) and run the workload's checkers; write ``results.json``.

SIGKILL. A killed process runs no clean-up, so before the first node exists the run
starts a `labrys.control.Guardian`, a process of its own that removes the run's cluster
if the run dies without having removed it (or deliberately kept it, with
``--leave-running``), whatever the runtime.

Interrupts. The first Ctrl-C stops new operations; calls in flight finish or time
out, then steps 5 and 6 run as usual, so the run keeps its history and a verdict on
it. A second Ctrl-C abandons calls in flight and skips the checks, but teardown still
runs: a run never leaves a namespace, a process or a rule behind. A Ctrl-C while the
checks run (after teardown) skips them; the history stays for ``labrys check``. SIGTERM and SIGHUP
leave through the same teardown (as `SystemExit`). During set-up, where nothing is
recorded yet, Ctrl-C abandons the run at once (still through teardown).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import platform
import random
import signal
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from labrys.checkers import UNKNOWN, OnlineCheck, Verdict, exit_status
from labrys.control import Cluster, Guardian, Runtime, exit_on_signals, get_runtime
from labrys.errors import LabrysError, UsageError
from labrys.generator import Generator, any_of, clients, nemesis, phases, stagger, time_limit
from labrys.harness._display import RunDisplay
from labrys.harness._faults import (
    FaultPlan,
    FaultTracker,
    NemesisClient,
    fault_options,
    plan_faults,
)
from labrys.harness._interpreter import Interpreter
from labrys.harness._online import (
    ONLINE_STOPPING,
    resolve_online,
    stopped_by,
    watching,
)
from labrys.harness._spec import TestSpec
from labrys.harness._store import RunDir, create_run_dir, write_results, write_test_json
from labrys.history import JsonlWriter, read_history
from labrys.options import check_known, parse_options
from labrys.targets import ClientSource, HasLogs, HasVersion, get_target
from labrys.workloads import HasFinalGenerator, get_workload

CALL_TIMEOUT_S = 10.0
"""The interpreter's deadline for one client call. Clients have their own, shorter
timeouts (etcd's default is 5 s); this one catches a client that hangs regardless."""

NEMESIS_TIMEOUT_S = 60.0
"""The deadline of one nemesis action (a kill and restart can take seconds)."""

STOPPING = "stopping: Ctrl-C again to skip the checks"
"""The phase the display shows after the first Ctrl-C. Said there, because a log line
on stderr is drawn over by the live panel and would be seen only in labrys.log."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """What a run ended with.

    Attributes:
        run: the run's folder.
        verdict: the composed verdict (unknown when the checks were skipped or the
            run failed before recording anything).
        exit_code: 0 valid, 1 invalid, 2 unknown, 255 the run itself failed.
        error: why the run failed, when it did.
        interrupted: how many times the user pressed Ctrl-C.
        online_stop: why the online check ended the workload early
            (``--stop-on-anomaly``), or None.
    """

    run: RunDir
    verdict: Verdict
    exit_code: int
    error: str | None
    interrupted: int
    online_stop: str | None = None


class _Interrupts:
    """Counts Ctrl-C and does what each press means at the current phase."""

    def __init__(self, log: logging.Logger) -> None:
        self.count = 0
        self.phase = "set-up"
        self.interpreter: Interpreter | None = None
        self._log = log

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.phase in ("set-up", "checking"):
            # Nothing recorded yet to save, or the workload is over and only the
            # (possibly long) checks remain: either way, leave the blocking call now.
            raise KeyboardInterrupt
        if self.count == 1:
            self._log.warning("Ctrl-C: stopping the workload; the run will heal, tear down, "
                              "check and store. Ctrl-C again to skip the checks.")
            if self.interpreter is not None:
                self.interpreter.stop()
        else:
            self._log.warning("Ctrl-C again: abandoning calls in flight and skipping the "
                              "checks; tearing down.")
            if self.interpreter is not None:
                self.interpreter.abort()

    @property
    def skip_checks(self) -> bool:
        return self.count >= 2


def _versions() -> dict[str, str]:
    """The versions known before any node exists; the target's is asked of a node later."""
    try:
        labrys_version = importlib.metadata.version("labrys")
    except importlib.metadata.PackageNotFoundError:
        labrys_version = "unknown"
    return {"labrys": labrys_version, "python": platform.python_version()}


def _run_logger(run: RunDir, *, echo: bool) -> logging.Logger:
    """A logger writing to the run's ``labrys.log``, and to stderr: everything when
    ``echo``, warnings and errors otherwise."""
    log = logging.getLogger(f"labrys.run.{run.path}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(run.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    # Without a terminal, the log is the display; with one, only warnings and errors
    # (Ctrl-C acknowledged, a teardown step that failed) join the live panel.
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    stream.setLevel(logging.INFO if echo else logging.WARNING)
    log.addHandler(stream)
    return log


def _close_logger(log: logging.Logger) -> None:
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)


def build_generator(*, workload_gen: Generator, spec: TestSpec,
                    nemesis_gen: Generator | None, final_gen: Generator | None,
                    final_client_gen: Generator | None = None) -> Generator:
    """Clients for ``time_limit`` at ``rate`` beside the nemesis schedule, then the final
    heal, then the workload's final client ops (its final reads), if it has any.

    The nemesis schedule is cut at the same time limit as the clients, so the final
    heal comes after every fault.
    """
    client_gen = workload_gen if spec.rate == 0 else stagger(1.0 / spec.rate, workload_gen)
    main = clients(time_limit(spec.time_limit_s, client_gen))
    if nemesis_gen is not None:
        main = any_of(main, nemesis(time_limit(spec.time_limit_s, nemesis_gen)))
    after = ([] if final_gen is None else [nemesis(final_gen)]) + (
        [] if final_client_gen is None else [clients(final_client_gen)])
    return phases(main, *after) if after else main


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a spec resolves to before any node exists."""

    runtime: Runtime
    runtime_settings: Mapping[str, Any]
    target: Any
    workload: Any
    fault_plan: FaultPlan | None
    online: OnlineCheck | None


def prepare(spec: TestSpec) -> Prepared:
    """Resolve the spec's runtime, target, workload, options and faults, touching nothing.

    ``run_test`` starts with this; a suite calls it for every test before the first
    run, so a typo in the last test is refused before an hour of runs.

    Raises:
        UsageError: an unknown runtime, target, workload, option or fault, a bad option
            value, a workload the target has no client for, or an online check the
            workload cannot make.
    """
    runtime = get_runtime(spec.runtime)
    check_known(spec.runtime_options, (f"runtime {spec.runtime}", runtime.options),
                flag="--runtime-option")
    runtime_settings = parse_options(runtime.options, spec.runtime_options,
                                     flag="--runtime-option")
    target_entry = get_target(spec.target)
    workload_entry = get_workload(spec.workload)
    check_known(spec.options, (f"target {spec.target}", target_entry.options),
                (f"workload {spec.workload}", workload_entry.options), *fault_options(spec))
    target = target_entry.make(parse_options(target_entry.options, spec.options))
    workload = workload_entry.make(parse_options(workload_entry.options, spec.options))
    if not isinstance(target, ClientSource) or workload.client_kind not in target.client_kinds():
        raise UsageError(f"target {spec.target} has no {workload.client_kind!r} client, which "
                         f"workload {spec.workload} needs")
    return Prepared(runtime=runtime, runtime_settings=runtime_settings, target=target,
                    workload=workload, fault_plan=plan_faults(spec, target),
                    online=resolve_online(spec, workload))


def run_test(spec: TestSpec, *, console: Console, command: Sequence[str]) -> RunOutcome:
    """Run the test ``spec`` describes, end to end (see the module docstring).

    Raises:
        LabrysError: bad input, found before any node was created. Failures after
            that point are reported in the outcome (exit code 255), not raised, because
            the run folder exists and must be completed.
    """
    seed = spec.seed if spec.seed is not None else random.SystemRandom().randrange(2**31)
    spec = spec.with_seed(seed)
    prepared = prepare(spec)
    runtime, runtime_settings = prepared.runtime, prepared.runtime_settings
    target, workload, fault_plan = prepared.target, prepared.workload, prepared.fault_plan
    online = prepared.online
    versions = _versions()
    started = dt.datetime.now()
    run = create_run_dir(Path(spec.store), spec.test_name, now=started)
    log = _run_logger(run, echo=not console.is_terminal)

    def write_test(target_version: str | None = None) -> None:
        known = versions if target_version is None else versions | {"target": target_version}
        write_test_json(run, spec, versions=known, command=list(command), started=started)

    write_test()
    log.info("run %s: %s on %d nodes, workload %s, nemesis %s, %.0f s, seed %d", run.path,
             spec.target, spec.nodes, spec.workload, ",".join(spec.nemesis) or "none",
             spec.time_limit_s, seed)

    interrupts = _Interrupts(log)
    previous_sigint = signal.signal(signal.SIGINT, interrupts)
    error: str | None = None
    summary: dict[str, Any] = {"seed": seed}
    try:
        with exit_on_signals():
            # A cluster left running must outlive this process: no owner, no exit hook.
            summary |= _lifecycle(
                spec, run, log, target, workload, fault_plan, online, interrupts, console,
                write_test,
                lambda guardian: runtime.up(
                    spec.nodes, runtime_settings, persistent=spec.leave_running,
                    guard=lambda handle: guardian.guard(runtime.name, handle)))
    except KeyboardInterrupt:
        error = "interrupted during set-up"
        log.warning("%s; the cluster was torn down", error)
    except SystemExit as e:
        error = f"terminated by a signal (exit {e.code})"
        log.warning("%s; the cluster was torn down", error)
    except LabrysError as e:
        error = str(e)
        log.error("run failed: %s", error)
    except Exception as e:  # a bug: keep the traceback in the log, end the run cleanly
        error = f"internal error ({type(e).__name__}: {e}); the traceback is in {run.log}"
        log.error("run failed with a bug:\n%s", traceback.format_exc())

    interrupts.phase = "checking"
    verdict = _check(run, workload, interrupts, log, error)
    interrupts.phase = "storing"  # from here on a Ctrl-C is counted, never raised
    summary |= {"error": error, "interrupted": interrupts.count,
                "ended": dt.datetime.now().isoformat(timespec="seconds")}
    write_results(run, verdict, summary=summary)
    _write_report(run, log)
    signal.signal(signal.SIGINT, previous_sigint)
    log.info("verdict: %s; results in %s", verdict.valid, run.results)
    _close_logger(log)
    # A run that failed (set-up, a crash, a signal) is 255 whatever was recorded; a run
    # stopped by Ctrl-C ended normally and its verdict speaks.
    code = 255 if error is not None else exit_status(verdict.valid)
    return RunOutcome(run=run, verdict=verdict, exit_code=code, error=error,
                      interrupted=interrupts.count, online_stop=stopped_by(summary))


def _write_report(run: RunDir, log: logging.Logger) -> None:
    """``report.html`` beside ``results.json``, made from the stored files alone."""
    from labrys.report import write_run_report  # Bokeh loads only when a run ends

    try:
        write_run_report(run.path)
    except Exception as e:  # the page is a view: its failure must not cost the verdict
        log.error("could not write report.html (`labrys report %s` retries): %s", run.path, e)


def _history_exists(run: RunDir) -> bool:
    return run.history.exists() and run.history.stat().st_size > 0


def _lifecycle(spec: TestSpec, run: RunDir, log: logging.Logger, target: Any, workload: Any,
               plan: FaultPlan | None, online: OnlineCheck | None, interrupts: _Interrupts,
               console: Console,
               record_version: Callable[[str], None],
               make_cluster: Callable[[Guardian], Cluster]) -> dict[str, Any]:
    cluster: Cluster | None = None
    guardian: Guardian | None = None
    nemesis_obj: Any = None
    faults = FaultTracker()
    out: dict[str, Any] = {}
    try:
        t0 = time.monotonic()
        guardian = Guardian.start(log_path=run.log)
        cluster = make_cluster(guardian)
        log.info("nodes up: cluster %s, %s (%.1f s)", cluster.name,
                 ", ".join(f"{n.name}={n.address}" for n in cluster.nodes),
                 time.monotonic() - t0)
        if isinstance(target, HasVersion):
            # Asked of a node, where the database runs, before it is set up: a binary
            # that is missing there is reported in one line, with how to install it.
            version = target.version(cluster.nodes[0])
            log.info("%s %s on %s", spec.target, version, cluster.nodes[0].name)
            record_version(version)
        if plan is not None:
            plan.prepare(cluster)
        target.setup(cluster)
        if plan is not None:
            plan.settle(cluster)
        log.info("%s is up on every node (%.1f s)", spec.target, time.monotonic() - t0)
        rng = random.Random(spec.seed)
        nemesis_gen = final_gen = None
        if plan is not None:
            nemesis_obj, nemesis_gen, final_gen = plan.build(cluster, target, rng)
        generator = build_generator(
            workload_gen=workload.generator(), spec=spec, nemesis_gen=nemesis_gen,
            final_gen=final_gen,
            final_client_gen=(workload.final_generator()
                              if isinstance(workload, HasFinalGenerator) else None))
        nodes = list(cluster.nodes)
        with JsonlWriter(run.history) as writer:
            interpreter = Interpreter(
                generator=generator,
                concurrency=spec.concurrency,
                open_client=lambda t: target.open_client(workload.client_kind,
                                                         nodes[t % len(nodes)]),
                nemesis=None if nemesis_obj is None else NemesisClient(
                    nemesis_obj, faults.update, log=log.info),
                record=writer.write,
                rng=rng,
                call_timeout_s=CALL_TIMEOUT_S,
                nemesis_timeout_s=NEMESIS_TIMEOUT_S,
                node_of=lambda t: nodes[t % len(nodes)].name,
                on_error=log.error,
            )
            interrupts.interpreter = interpreter
            interrupts.phase = "workload"

            def phase() -> str:
                if interrupts.count:
                    return STOPPING
                stopped = monitor is not None and monitor.stopped_workload_at_s is not None
                return ONLINE_STOPPING if stopped else "workload"

            with watching(online, history=run.history, clock_ns=interpreter.clock_ns,
                          log=log.warning, stderr=run.log,
                          stop_workload=interpreter.stop if spec.stop_on_anomaly else None,
                          ) as monitor, \
                    RunDisplay(console, interpreter.progress, time_limit_s=spec.time_limit_s,
                               clock_ns=interpreter.clock_ns, faults=faults.names, phase=phase,
                               online=None if monitor is None else monitor.status):
                result = interpreter.run()
        out |= {"ops": result.ops, "stopped_early": result.stopped,
                "completed": dict(interpreter.progress.completed)}
        if monitor is not None:
            out["online"] = monitor.summary()
        log.info("workload ended: %d ops recorded%s", result.ops,
                 " (stopped early)" if result.stopped else "")
    finally:
        interrupts.phase = "teardown"
        clean = _teardown(spec, run, log, cluster, target, nemesis_obj, faults)
        if guardian is not None and clean:
            guardian.release()
        elif guardian is not None:
            log.warning("the guardian %d removes what is left of the cluster when this run "
                        "exits", guardian.pid)
    return out


def _teardown(spec: TestSpec, run: RunDir, log: logging.Logger, cluster: Cluster | None,
              target: Any, nemesis_obj: Any, faults: FaultTracker) -> bool:
    """Heal, stop the database, keep its logs, remove the nodes: each step even if an
    earlier one failed, because each leaves its own debris otherwise. True if every
    step succeeded."""
    steps: list[tuple[str, Callable[[], object]]] = []
    if nemesis_obj is not None:
        steps.append(("heal the nemesis's faults", nemesis_obj.teardown))
    if cluster is not None:
        steps.append(("heal the network", cluster.heal))
        if not spec.leave_running:
            steps.append((f"stop {spec.target}", lambda: target.teardown(cluster)))
        # After the stop, so the logs end with the database's own account of it.
        steps.append(("copy the database's logs", lambda: _copy_logs(run, cluster, target)))
        if not spec.leave_running:
            steps.append(("remove the nodes", cluster.teardown))
    clean = True
    for what, step in steps:
        log.info("teardown: %s", what)
        try:
            step()
        except Exception as e:  # keep going: the next step cleans up something else
            log.error("teardown: could not %s: %s", what, e)
            clean = False
    faults.clear()
    if cluster is not None and spec.leave_running:
        log.warning("the cluster %s is left running (--leave-running); remove it with "
                    "`labrys cluster down`", cluster.name)
    elif cluster is not None:
        log.info("teardown done: faults healed, %s stopped, nodes removed", spec.target)
    return clean


def _copy_logs(run: RunDir, cluster: Cluster, target: Any) -> None:
    """Fetch every log the target names that exists into ``nodes/<node>/``."""
    if not isinstance(target, HasLogs):
        return
    for node in cluster.nodes:
        for path in target.log_files(node):
            if node.exists(path):
                node.fetch(path, run.node_dir(node.name) / path.name)


def _check(run: RunDir, workload: Any, interrupts: _Interrupts, log: logging.Logger,
           error: str | None) -> Verdict:
    skipped = Verdict(checker="run", valid=UNKNOWN,
                      explanation="the checks were skipped (Ctrl-C); the history is kept in "
                      f"{run.history} and `labrys check` can check it later")
    if interrupts.skip_checks:
        return skipped
    if not _history_exists(run):
        return Verdict(checker="run", valid=UNKNOWN,
                       explanation=f"nothing was recorded ({error or 'no operations'})")
    try:
        history = read_history(run.history)
        t0 = time.monotonic()
        verdict = workload.check(history)
        log.info("checked %d ops in %.1f s", len(history), time.monotonic() - t0)
        return verdict
    except KeyboardInterrupt:
        log.warning("Ctrl-C during the checks: skipping them")
        return skipped
    except LabrysError as e:
        log.error("could not check the history: %s", e)
        return Verdict(checker="run", valid=UNKNOWN, explanation=f"could not check: {e}")
    except Exception as e:  # a checker bug must not cost the run its stored history
        log.error("the checks crashed:\n%s", traceback.format_exc())
        return Verdict(checker="run", valid=UNKNOWN,
                       explanation=f"the checks crashed ({type(e).__name__}: {e}); this is a "
                       f"bug in labrys, the traceback is in {run.log}")
