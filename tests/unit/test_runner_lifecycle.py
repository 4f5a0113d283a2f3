"""The whole runner lifecycle, on a test-only runtime: no root, real processes.

`FakeRuntime` makes nodes that are folders and child processes on this machine and a
network that records the grudges in force; `FakeTarget` runs one process per node and
keeps registers in memory. With them `run_test` goes through everything a real run
does (nodes up, version, target set up, workload with nemesis ops, final heal,
teardown, checks, store), and each test asserts the files the run wrote and that the
teardown happened, on success, on failure and on Ctrl-C.
"""

from __future__ import annotations

import io
import json
import os
import signal

import pytest
from rich.console import Console

from labrys.control import RUNTIMES
from labrys.errors import TargetError
from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from labrys.history import read_history
from labrys.targets import TARGETS, TargetEntry
from tests.unit.fake_runtime import FakeRuntime, FakeTarget

pytestmark = pytest.mark.slow


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """The fake runtime and target, registered as ``fake``; both returned."""
    runtime = FakeRuntime(tmp_path / "nodes")
    target = FakeTarget()
    monkeypatch.setitem(RUNTIMES, "fake", runtime)
    monkeypatch.setitem(TARGETS, "fake", TargetEntry(name="fake", summary="tests only",
                                                     options={}, make=lambda _: target))
    return runtime, target


def run(tmp_path, **overrides):
    spec = TestSpec(**{"runtime": "fake", "target": "fake", "nemesis": ("partition", "kill"),
                       "nemesis_interval_s": 0.2, "time_limit_s": 1.0, "concurrency": 3,
                       "rate": 300.0, "seed": 11, "store": str(tmp_path / "results"),
                       **overrides})
    return run_test(spec, console=Console(file=io.StringIO()), command=["pytest"])


def assert_torn_down(runtime, target):
    """The network healed, the database stopped, every process dead, the nodes gone."""
    (cluster,) = runtime.clusters
    assert cluster.torn_down
    assert ("heal",) in cluster.calls
    assert (cluster.partitioned, cluster.lost, cluster.delayed) == ({}, {}, {})
    assert not cluster.directory.exists()
    assert cluster.spawned and all(not p.alive for p in cluster.spawned)
    assert all(not p.alive for p in target.processes.values())


def test_a_run_brings_nodes_up_drives_heals_tears_down_checks_and_stores(tmp_path, fakes):
    runtime, target = fakes
    outcome = run(tmp_path)

    assert outcome.error is None and outcome.exit_code == 0
    assert outcome.verdict.valid is True, outcome.verdict.explanation
    run_dir = outcome.run.path
    assert run_dir.parent == tmp_path / "results" / "fake-register-partition+kill"
    test = json.loads((run_dir / "test.json").read_text())
    assert test["spec"]["runtime"] == "fake" and test["seed"] == 11
    assert test["versions"]["target"] == "1.0"  # asked of a node
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] is True and results["run"]["error"] is None
    log = (run_dir / "labrys.log").read_text()
    assert "nodes up: cluster fake0, n1=127.0.0.1" in log
    assert "teardown done" in log
    assert "watching run" in log and "guardian: " not in log  # started, released, idle
    for node in ("n1", "n2", "n3"):
        assert (run_dir / "nodes" / node / "fake.log").read_text().startswith("started")
        assert not (run_dir / "nodes" / node / "never-written.log").exists()

    history = read_history(run_dir / "history.jsonl")
    assert sum(op.is_client and op.type.value == "ok" for op in history) > 50
    # Nemesis ops are info twice, Jepsen's way: once when invoked, once when done.
    nemesis = [op.f for op in history if op.process == "nemesis"][::2]
    assert {"start-partition", "kill"} <= set(nemesis)
    assert nemesis[-2:] == ["stop-partition", "start"]  # the final heal, network first
    assert ("setup",) in target.calls and ("teardown",) in target.calls
    assert [c for c in target.calls if c[0] == "kill"]
    assert_torn_down(runtime, target)


def test_a_database_that_does_not_start_fails_the_run_and_still_tears_down(tmp_path, fakes):
    runtime, target = fakes
    target.setup_error = TargetError("would not start", node="n1")
    outcome = run(tmp_path)

    assert outcome.exit_code == 255
    assert outcome.error == "n1: would not start"
    assert outcome.verdict.valid == "unknown"
    run_dir = outcome.run.path
    assert json.loads((run_dir / "test.json").read_text())["versions"]["target"] == "1.0"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run"]["error"] == "n1: would not start"
    assert "nothing was recorded" in results["verdict"]["explanation"]
    assert "run failed: n1: would not start" in (run_dir / "labrys.log").read_text()
    assert_torn_down(runtime, target)


def test_a_bug_during_set_up_keeps_its_traceback_in_the_log_and_tears_down(tmp_path, fakes):
    runtime, target = fakes
    target.setup_error = RuntimeError("oops")
    outcome = run(tmp_path)

    assert outcome.exit_code == 255
    assert outcome.error.startswith("internal error (RuntimeError: oops)")
    log = (outcome.run.path / "labrys.log").read_text()
    assert "Traceback" in log and "RuntimeError: oops" in log
    assert_torn_down(runtime, target)


def test_ctrl_c_during_set_up_abandons_the_run_through_teardown(tmp_path, fakes):
    runtime, target = fakes
    target.setup_error = KeyboardInterrupt()
    outcome = run(tmp_path)

    assert outcome.exit_code == 255 and outcome.error == "interrupted during set-up"
    assert not (outcome.run.path / "history.jsonl").exists()
    assert_torn_down(runtime, target)


def test_ctrl_c_in_the_workload_stops_it_then_heals_checks_and_stores(tmp_path, fakes):
    runtime, target = fakes
    invocations = []

    def interrupt_after_a_while(invocation):
        # After enough calls that some cas succeeds: the stats checker calls a run
        # invalid when a function never did, which ~13 cas calls of 40 left to chance.
        invocations.append(invocation)
        if len(invocations) == 150:
            os.kill(os.getpid(), signal.SIGINT)

    target.on_invoke = interrupt_after_a_while
    outcome = run(tmp_path, time_limit_s=30.0)

    assert outcome.error is None and outcome.interrupted == 1
    assert outcome.exit_code == 0 and outcome.verdict.valid is True  # the verdict speaks
    results = json.loads((outcome.run.path / "results.json").read_text())
    assert results["run"]["interrupted"] == 1 and results["run"]["stopped_early"] is True
    assert results["verdict"]["checker"] == "register"  # the checks ran
    history = read_history(outcome.run.path / "history.jsonl")
    assert 150 <= sum(op.is_client and op.is_invoke for op in history) < 400
    assert_torn_down(runtime, target)
