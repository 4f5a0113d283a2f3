"""The nemesis package as harness generators: the schedule drawn up front, the final heal."""

from __future__ import annotations

import random

import pytest

from labrys.errors import ControlError, UsageError
from labrys.harness import Context, Invocation, TestSpec
from labrys.harness._faults import FaultTracker, NemesisClient, plan_faults
from labrys.nemesis import FAULTS
from tests.unit._nemesis_fakes import FakeCluster, NoCapabilities, ProcessTarget


def drain(gen) -> list[tuple]:
    """Every op of a nemesis-only generator, each thread freed at once (time stands still)."""
    ctx = Context.initial(concurrency=0, rng=random.Random(0))
    out = []
    while (step := gen.op(ctx)) is not None:
        inv, gen = step
        out.append(("sleep", inv.sleep_ns) if inv.sleep_ns is not None else (inv.f, inv.value))
    return out


def test_the_schedule_sleeps_an_interval_before_each_op_and_covers_the_run():
    spec = TestSpec(nemesis=("partition", "kill"), nemesis_interval_s=10, time_limit_s=30)
    plan = plan_faults(spec, ProcessTarget())
    _, schedule, final = plan.build(FakeCluster(3), ProcessTarget(), random.Random(4))
    ops = drain(schedule)
    assert len(ops) == 2 * (3 + 2)  # ceil(30 / 10) + 2 ops, each after a sleep
    assert ops[0::2] == [("sleep", 10_000_000_000)] * 5
    faults = [f for f, _ in ops[1::2]]
    heals = {"start-partition": "stop-partition", "kill": "start"}
    for fault, heal in zip(faults[0::2], faults[1::2], strict=False):
        assert heals[fault] == heal
    assert drain(final) == [("stop-partition", None), ("start", None)]


def test_the_same_seed_draws_the_same_schedule():
    spec = TestSpec(nemesis=("partition", "kill"), nemesis_interval_s=5, time_limit_s=60)

    def draw(seed: int) -> list[tuple]:
        _, schedule, _ = plan_faults(spec, ProcessTarget()).build(FakeCluster(5),
                                                                  ProcessTarget(),
                                                                  random.Random(seed))
        return drain(schedule)

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_no_faults_means_no_plan_and_unknown_faults_are_refused_by_the_spec():
    assert plan_faults(TestSpec(nemesis=()), NoCapabilities()) is None
    with pytest.raises(UsageError, match="unknown fault 'flood' in --nemesis; choose from "
                                         "partition, loss, delay, clock, pause, kill"):
        TestSpec(nemesis=("flood",))


def test_a_target_without_the_capability_is_refused_before_any_node_exists():
    with pytest.raises(UsageError, match="target NoCapabilities cannot take the kill fault: "
                                         "it does not implement Killable"):
        plan_faults(TestSpec(nemesis=("partition", "kill")), NoCapabilities())


def test_fault_options_are_parsed_from_the_spec_and_reach_the_nemesis():
    spec = TestSpec(nemesis=("loss", "delay"), options={"loss_probability": "0.25",
                                                         "delay_ms": "40"})
    plan = plan_faults(spec, NoCapabilities())
    assert plan.settings == {"loss_probability": 0.25, "delay_ms": 40.0, "jitter_ms": 10.0}
    cluster = FakeCluster(3)
    nemesis, _, _ = plan.build(cluster, NoCapabilities(), random.Random(0))
    assert nemesis.invoke("start-loss", "one")["probability"] == 0.25
    assert nemesis.invoke("start-delay", "one")["delay_ms"] == 40.0
    with pytest.raises(UsageError, match="--option loss_probability='2' is not valid; "
                                         "expected a probability in"):
        plan_faults(TestSpec(nemesis=("loss",), options={"loss_probability": "2"}),
                    NoCapabilities())


def test_the_display_knows_every_faults_start_and_heal_ops():
    tracker = FaultTracker()
    for fault in FAULTS.values():
        for start in fault.starts:
            tracker.update(start)
            # A fault without a heal is over when its op returns: never in force.
            assert tracker.names() == ([fault.name] if fault.heal else [])
            if fault.heal:
                tracker.update(fault.heal)
            assert tracker.names() == []


def test_the_display_tracks_faults_in_force_from_nemesis_ops():
    tracker = FaultTracker()
    for f in ("start-partition", "kill", "stop-partition"):
        tracker.update(f)
    assert tracker.names() == ["kill"]
    tracker.update("start")
    assert tracker.names() == []


class _Nemesis:
    def invoke(self, f, value):
        if f == "kill":
            raise ControlError("n2 did not answer")
        return {"topology": value, "partition": {"n1": ["n2"], "n2": ["n1"]}}


def test_each_nemesis_action_and_its_failure_is_logged_with_what_it_did():
    lines: list[str] = []
    faults = FaultTracker()
    client = NemesisClient(_Nemesis(), faults.update, log=lines.append)
    done = client.invoke(Invocation(f="start-partition", value="halves"))
    failed = client.invoke(Invocation(f="kill", value="one"))
    assert lines == [
        'nemesis start-partition: {"topology": "halves", "partition": '
        '{"n1": ["n2"], "n2": ["n1"]}}',
        "nemesis kill failed: n2 did not answer",
    ]
    assert done.error is None and failed.error == "n2 did not answer"
    assert faults.names() == ["partition"]
