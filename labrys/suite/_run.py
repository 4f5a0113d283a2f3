"""Running a suite: every selected test with every seed, one after the other.

Runs are ordinary ``labrys run`` runs (`run_test`), stored inside the suite run's own
folder, ``<store>/suites/<suite>/<YYYYmmddTHHMMSS>/<test>/<timestamp>/``, so one
folder holds a night's work: its runs, ``summary.json``, ``summary.md`` and
``junit.xml``. ``<store>/suites/latest`` points at the newest. The summary is
rewritten after every run, so a suite that dies half way still says what it did.

Runs go one at a time: they share the machine's cores, and every run of a target
would otherwise compete for the same ports and binaries' CPU. A Ctrl-C is handled by
the run in progress (it stops its workload, heals, checks and stores, as ``labrys
run`` does); the suite then stops instead of starting the next run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from labrys.claims import Observation, Registry, observe_run
from labrys.errors import LabrysError
from labrys.harness import create_run_dir
from labrys.harness._runner import run_test
from labrys.suite._file import Suite, SuiteTest, scaled
from labrys.suite._judge import Outcome, judge

_EXIT = {Outcome.FAILED: 255, Outcome.NOT_MET: 1, Outcome.UNKNOWN: 2, Outcome.MET: 0}
_RANK = (Outcome.MET, Outcome.UNKNOWN, Outcome.NOT_MET, Outcome.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """One run of one test.

    Attributes:
        test: the test.
        seed: its seed.
        outcome: met, not met, unknown or run failed.
        reason: one sentence saying why.
        observation: what the run showed (None when not even its files were written).
        duration_s: wall time of the run, set-up and checks included.
    """

    test: SuiteTest
    seed: int
    outcome: Outcome
    reason: str
    observation: Observation | None
    duration_s: float

    @property
    def label(self) -> str:
        return f"{self.test.name} [seed {self.seed}]"


@dataclass(slots=True, kw_only=True)
class SuiteRun:
    """A suite run in progress or done."""

    suite: Suite
    folder: Path
    started: dt.datetime
    settings: dict[str, Any]
    plan: list[tuple[SuiteTest, int]]
    results: list[Result] = field(default_factory=list)
    ended: dt.datetime | None = None
    interrupted: bool = False

    @property
    def exit_status(self) -> int:
        """0 every expectation met, 1 one not met, 2 one unknown, 255 a run failed or
        the suite was stopped before its end (worst first)."""
        if self.interrupted:
            return 255
        worst = max((r.outcome for r in self.results), key=_RANK.index, default=Outcome.MET)
        return _EXIT[worst]


def run_suite(suite: Suite, *, store: Path, registry: Registry, only: str | None = None,
              runs: int | None = None, time_scale: float = 1.0, console: Console,
              run_console: Console, command: Sequence[str],
              on_result: Callable[[SuiteRun], None] = lambda _: None) -> SuiteRun:
    """Run the selected tests of ``suite``; ``on_result`` is called after each run
    (the caller writes the summary there).

    Raises:
        UsageError: ``--only`` matches nothing, or the store cannot be written.
    """
    tests = suite.select(only)
    plan = [(test, seed) for test in tests for seed in test.seeds_for(runs)]
    started = dt.datetime.now()
    folder = create_run_dir(store / "suites", suite.name, now=started).path
    done = SuiteRun(suite=suite, folder=folder, started=started, plan=plan,
                    settings={"only": only, "runs": runs, "time_scale": time_scale,
                              "store": str(store)})
    console.print(f"suite {suite.name}: {len(plan)} runs of {len(tests)} tests, stored in "
                  f"{folder}")
    try:
        for i, (test, seed) in enumerate(plan, 1):
            console.print(f"[{i}/{len(plan)}] {test.name} seed {seed} "
                          f"(expects {test.expectation.describe()})", markup=False,
                          soft_wrap=True)
            result, interrupted = _run_one(test, seed, folder, registry, time_scale,
                                           run_console, command)
            done.results.append(result)
            console.print(f"    {result.outcome}: {result.reason} ({result.duration_s:.0f} s)",
                          markup=False, highlight=False, soft_wrap=True)
            on_result(done)
            if interrupted:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        # A Ctrl-C during a run was handled by the run (it healed, checked and stored);
        # one between runs lands here. Either way, start no more runs.
        done.interrupted = True
        console.print("interrupted: the remaining runs were not started")
    done.ended = dt.datetime.now()
    on_result(done)
    return done


def _run_one(test: SuiteTest, seed: int, folder: Path, registry: Registry, time_scale: float,
             console: Console, command: Sequence[str]) -> tuple[Result, bool]:
    spec = dataclasses.replace(scaled(test.spec, time_scale), seed=seed, store=str(folder))
    t0 = time.monotonic()
    outcome = run_test(spec, console=console, command=list(command))
    elapsed = time.monotonic() - t0
    interrupted = bool(outcome.interrupted) or (outcome.error or "").startswith(
        ("terminated by a signal", "interrupted"))
    try:
        observation = observe_run(outcome.run.path)
    except LabrysError as e:
        return Result(test=test, seed=seed, outcome=Outcome.FAILED, observation=None,
                      reason=f"the run left no readable results: {e}",
                      duration_s=elapsed), interrupted
    verdict, reason = judge(test.expectation, observation, registry)
    return Result(test=test, seed=seed, outcome=verdict, reason=reason,
                  observation=observation, duration_s=elapsed), interrupted
