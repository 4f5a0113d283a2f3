"""Nemesis packages: deterministic schedules that alternate fault and heal, and a final heal."""

import itertools
import random

import pytest

from labrys.errors import UsageError
from labrys.nemesis import FAULTS, NemesisOp, NemesisOptions, package
from tests.unit._nemesis_fakes import FakeCluster, FaketimeTarget, NoCapabilities, ProcessTarget

HEAL_OF = {
    "start-partition": "stop-partition",
    "kill": "start",
    "pause": "resume",
    "start-loss": "stop-loss",
    "start-delay": "stop-delay",
    "bump-clock": "reset-clock",
    "strobe-clock": "reset-clock",
    "scramble-clock": "reset-clock",
    "lose-unsynced": None,  # over when its op returns
}


class EverythingTarget(ProcessTarget, FaketimeTarget):
    def __init__(self, cluster):
        ProcessTarget.__init__(self)
        FaketimeTarget.__init__(self, cluster)


def first(pkg, n):
    return list(itertools.islice(pkg.schedule(), n))


def make(faults, seed=7, **options):
    cluster = FakeCluster(5)
    return package(
        cluster,
        NemesisOptions(faults=faults, **options),
        rng=random.Random(seed),
        target=EverythingTarget(cluster),
    )


def test_the_same_seed_draws_the_same_schedule():
    assert first(make(FAULTS, seed=7), 40) == first(make(FAULTS, seed=7), 40)
    assert first(make(FAULTS, seed=7), 40) != first(make(FAULTS, seed=8), 40)


def test_schedule_is_the_same_on_every_call():
    pkg = make(("partition", "kill"))
    assert first(pkg, 20) == first(pkg, 20)


def test_schedule_alternates_each_fault_with_its_own_heal():
    ops = iter(first(make(FAULTS), 200))
    for fault in ops:
        if HEAL_OF[fault.f] is None:
            continue
        heal = next(ops, None)
        if heal is not None:
            assert (heal.f, heal.value) == (HEAL_OF[fault.f], None)


def test_schedule_uses_every_requested_fault_and_no_other():
    ops = first(make(("pause", "loss")), 100)
    assert {op.f for op in ops} == {"pause", "resume", "start-loss", "stop-loss"}
    kinds = {op.f for op in first(make(FAULTS), 400)}
    assert kinds == set(HEAL_OF) | set(HEAL_OF.values()) - {None}


def test_schedule_values_come_from_the_configured_choices():
    pkg = make(("partition", "kill"), topologies=("halves", "one"), node_specs=("one",))
    for op in first(pkg, 60):
        if op.f == "start-partition":
            assert op.value in ("halves", "one")
        elif op.f == "kill":
            assert op.value == "one"


def test_the_first_ops_of_a_pinned_seed():
    # Pinned so that a change to how schedules are drawn is a deliberate one.
    assert first(make(("partition", "kill"), seed=1), 4) == [
        NemesisOp(f="start-partition", value="minority-third"),
        NemesisOp(f="stop-partition"),
        NemesisOp(f="kill", value="minority"),
        NemesisOp(f="start"),
    ]


def test_final_ops_heal_the_network_before_bringing_nodes_back():
    assert [op.f for op in make(FAULTS).final_ops] == [
        "stop-partition",
        "stop-loss",
        "stop-delay",
        "reset-clock",
        "resume",
        "start",
    ]
    assert [op.f for op in make(("kill", "partition")).final_ops] == ["stop-partition", "start"]


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_each_fault_arms_a_nemesis_answering_exactly_the_ops_it_declares(name):
    pkg = make((name,))
    assert pkg.nemesis.fs == FAULTS[name].fs
    heal = FAULTS[name].heal
    assert pkg.final_ops == ((NemesisOp(f=heal),) if heal else ())
    assert {op.f for op in first(pkg, 40)} == FAULTS[name].fs


def test_fault_options_reach_the_nemesis_and_default_to_their_declaration():
    pkg = make(("loss",), settings={"loss_probability": 0.2})
    assert pkg.nemesis.invoke("start-loss", "one")["probability"] == 0.2
    pkg = make(("delay",))
    result = pkg.nemesis.invoke("start-delay", "one")
    assert (result["delay_ms"], result["jitter_ms"]) == (
        FAULTS["delay"].options["delay_ms"].default, FAULTS["delay"].options["jitter_ms"].default)


def test_every_scheduled_op_is_one_the_nemesis_handles():
    pkg = make(FAULTS)
    assert {op.f for op in first(pkg, 400)} | {op.f for op in pkg.final_ops} <= pkg.nemesis.fs


def test_no_faults_is_an_empty_schedule():
    pkg = make(())
    assert first(pkg, 5) == []
    assert pkg.final_ops == ()


def test_unknown_faults_and_incapable_targets_are_refused_up_front():
    with pytest.raises(UsageError, match="unknown fault 'meteor'; choose one of: partition"):
        make(("partition", "meteor"))
    cluster = FakeCluster(3)
    with pytest.raises(UsageError, match="does not implement Killable"):
        package(
            cluster, NemesisOptions(faults=("kill",)), rng=random.Random(0), target=NoCapabilities()
        )
    with pytest.raises(UsageError, match="libfaketime"):
        package(
            cluster, NemesisOptions(faults=("clock",)), rng=random.Random(0), target=ProcessTarget()
        )
    with pytest.raises(UsageError, match="interval"):
        make(("partition",), interval_s=0)
