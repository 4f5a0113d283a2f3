"""Runs that check online, end to end on the test-only runtime (no root, real processes).

The fake target's node n2 starts serving stale reads a second into the workload (the
value each key first had): the online check must see it while the run goes on, say so in
``results.json`` and the report, and with ``--stop-on-anomaly`` end the workload there;
the final verdict is still the offline one, and it names the key the online check named.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from labrys.client import Completion
from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from labrys.history import OpType, read_history
from labrys.report import load_run
from tests.unit.fake_runtime import RegisterClient
from tests.unit.test_runner_lifecycle import assert_torn_down, fakes  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

STALE_AFTER_S = 1.0


class StaleReplicaClient(RegisterClient):
    """Reads on n2 return each key's first value once the target turns stale."""

    def invoke(self, invocation):
        target = self.target
        if (invocation.f == "read" and self.node == "n2" and target.stale_from is not None
                and time.monotonic() >= target.stale_from):
            key = invocation.value[0]
            with target.lock:
                return Completion(type=OpType.OK, value=[key, target.first.get(key)])
        done = super().invoke(invocation)
        if invocation.f == "write" and done.type is OpType.OK:
            with target.lock:
                target.first.setdefault(invocation.value[0], invocation.value[1])
        return done


@pytest.fixture
def stale(fakes):  # noqa: F811 (the fixture imported above)
    runtime, target = fakes
    target.first = {}
    target.stale_from = None
    target.open_client = lambda kind, node: StaleReplicaClient(target, node.name)

    def on_invoke(invocation):
        if target.stale_from is None:
            target.stale_from = time.monotonic() + STALE_AFTER_S

    target.on_invoke = on_invoke
    return runtime, target


def run(tmp_path, **overrides):
    spec = TestSpec(**{"runtime": "fake", "target": "fake", "nemesis": (),
                       "time_limit_s": 2.5, "concurrency": 3, "rate": 300.0, "seed": 5,
                       "store": str(tmp_path / "results"), "options": {"ops_per_key": "20"},
                       **overrides})
    return run_test(spec, console=Console(file=io.StringIO()), command=["pytest"])


def results(outcome) -> dict:
    return json.loads((outcome.run.path / "results.json").read_text())


def test_the_online_check_finds_the_stale_read_while_the_run_goes_on(tmp_path, stale):
    runtime, target = stale
    outcome = run(tmp_path)
    assert outcome.exit_code == 1 and outcome.online_stop is None
    summary = results(outcome)["run"]
    online = summary["online"]
    first = online["first_anomaly"]
    assert online["check"] == "linearizability, key by key"
    history = read_history(outcome.run.path / "history.jsonl")
    stuck = history[first["op"]]
    key = stuck.value[0]
    assert (stuck.f, stuck.node) == ("read", "n2")
    assert first["label"] == f"key {key}: stale read"
    assert first["at_s"] >= STALE_AFTER_S and first["found_at_s"] >= first["at_s"]
    assert summary["stopped_early"] is False and online["stopped_workload_at_s"] is None
    # The final verdict is the offline one, and the key the online check named fails it.
    linear = outcome.verdict.children[0]
    assert linear.valid is False and key in linear.details["invalid_keys"]
    assert online["note"] in load_run(outcome.run.path).notes
    assert online["cpu_s"] > 0
    page = (outcome.run.path / "report.html").read_text()
    assert ("<th>online check</th><td>linearizability, key by key: "
            f"{online['progress']} ({online['ops']} ops read)") in page
    assert_torn_down(runtime, target)


def test_stop_on_anomaly_ends_the_workload_heals_checks_and_stores(tmp_path, stale):
    runtime, target = stale
    outcome = run(tmp_path, time_limit_s=60.0, stop_on_anomaly=True)
    assert outcome.exit_code == 1 and outcome.error is None
    summary = results(outcome)["run"]
    online = summary["online"]
    assert summary["stopped_early"] is True
    assert online["stopped_workload_at_s"] >= online["first_anomaly"]["found_at_s"]
    assert outcome.online_stop == online["note"]
    assert "ended the workload there (--stop-on-anomaly)" in online["note"]
    history = read_history(outcome.run.path / "history.jsonl")
    # Stopped long before its minute: nothing was invoked after the stop, calls in flight
    # completed, and the history keeps everything recorded.
    last_invocation = max(op.time for op in history if op.type is OpType.INVOKE)
    assert last_invocation / 1e9 <= online["stopped_workload_at_s"]
    assert history[len(history) - 1].time / 1e9 < 60.0
    assert len(history) > online["first_anomaly"]["op"]
    assert outcome.verdict.valid is False
    log = (outcome.run.path / "labrys.log").read_text()
    assert "stopping the workload at the first anomaly (--stop-on-anomaly)" in log
    assert "teardown done" in log
    assert_torn_down(runtime, target)


def test_a_run_told_not_to_check_online_does_not(tmp_path, stale):
    outcome = run(tmp_path, check_online=False, time_limit_s=1.5)
    assert "online" not in results(outcome)["run"]
    assert "online check" not in (outcome.run.path / "labrys.log").read_text()
