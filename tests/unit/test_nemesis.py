"""Nemeses against a fake cluster and fake targets: what they do, return, refuse and heal."""

import random

import pytest

from labrys.errors import ControlError, UsageError
from labrys.nemesis import (
    FAULTS,
    NODE_SPECS,
    ClockNemesis,
    ClockSkewable,
    Killable,
    KillNemesis,
    Nemesis,
    PacketNemesis,
    PartitionNemesis,
    Pausable,
    PauseNemesis,
    Primaries,
    compose,
    faketime_env,
    select_nodes,
)
from tests.unit._nemesis_fakes import (
    FakeCluster,
    FaketimeTarget,
    LeaderTarget,
    NoCapabilities,
    ProcessTarget,
)
from tests.unit.fake_runtime import HostNode

N5 = ["n1", "n2", "n3", "n4", "n5"]


# -- node specs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "size"), [("one", 1), ("minority", 2), ("majority", 3), ("all", 5)]
)
def test_node_specs_pick_the_right_number_in_cluster_order(spec, size):
    for seed in range(10):
        chosen = select_nodes(spec, N5, random.Random(seed))
        assert len(chosen) == size
        assert chosen == [n for n in N5 if n in chosen]


def test_a_minority_is_always_fewer_than_half():
    assert len(select_nodes("minority", ["a", "b", "c", "d"], random.Random(0))) == 1
    with pytest.raises(UsageError, match="minority of 2"):
        select_nodes("minority", ["a", "b"], random.Random(0))


def test_explicit_and_primary_node_specs():
    assert select_nodes(["n4", "n2"], N5, random.Random(0)) == ["n2", "n4"]
    assert select_nodes("primaries", N5, random.Random(0), primaries=["n3"]) == ["n3"]
    with pytest.raises(UsageError, match="unknown: n9"):
        select_nodes(["n9"], N5, random.Random(0))
    with pytest.raises(UsageError, match="unknown node spec 'some'"):
        select_nodes("some", N5, random.Random(0))
    with pytest.raises(UsageError, match="needs a target that knows its primaries"):
        select_nodes("primaries", N5, random.Random(0))
    assert set(NODE_SPECS) == {"one", "minority", "majority", "all", "primaries"}


# -- partitions ---------------------------------------------------------------------------


def test_partition_records_exactly_the_grudge_installed_and_heals():
    cluster = FakeCluster(3)
    nemesis = PartitionNemesis(cluster, rng=random.Random(0))
    assert isinstance(nemesis, Nemesis)
    assert nemesis.invoke("start-partition", "n1|n2,n3") == {
        "topology": "n1|n2,n3",
        "partition": {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]},
    }
    assert nemesis.invoke("stop-partition", None) == {"partition": {}}
    assert cluster.partitioned == {}


def test_partition_without_a_value_draws_from_its_topologies_reproducibly():
    def draw(seed):
        nemesis = PartitionNemesis(FakeCluster(5), rng=random.Random(seed))
        return nemesis.topologies, [nemesis.invoke("start-partition", None) for _ in range(8)]

    topologies, first = draw(1)
    assert draw(1) == (topologies, first)
    assert draw(2) != (topologies, first)
    assert {r["topology"] for r in first} <= set(topologies)


def test_partition_topologies_fit_the_cluster_and_the_target():
    assert PartitionNemesis(FakeCluster(3), rng=random.Random(0)).topologies == (
        "halves", "random-halves", "one", "majorities-ring", "bridge",
    )  # fmt: skip
    with_leader = PartitionNemesis(
        FakeCluster(5), rng=random.Random(0), target=LeaderTarget(["n2"])
    )
    assert "primaries" in with_leader.topologies
    assert with_leader.invoke("start-partition", "primaries")["partition"]["n2"] == [
        "n1", "n3", "n4", "n5",
    ]  # fmt: skip
    with pytest.raises(UsageError, match="'primaries' cannot be used"):
        PartitionNemesis(FakeCluster(5), rng=random.Random(0), topologies=["primaries"])
    with pytest.raises(UsageError, match="no partition can cut 1 node"):
        PartitionNemesis(FakeCluster(1), rng=random.Random(0))


# -- kill and pause -----------------------------------------------------------------------


def test_kill_and_pause_refuse_a_target_that_cannot_take_them():
    with pytest.raises(UsageError, match="does not implement Killable"):
        FAULTS["kill"].require(NoCapabilities())
    with pytest.raises(UsageError, match="does not implement Pausable"):
        FAULTS["pause"].require(NoCapabilities())
    FAULTS["kill"].require(ProcessTarget())
    FAULTS["partition"].require(NoCapabilities())  # needs nothing of the target
    assert not isinstance(NoCapabilities(), Killable | Pausable | Primaries | ClockSkewable)
    assert isinstance(ProcessTarget(), Killable) and isinstance(ProcessTarget(), Pausable)


def test_kill_then_start_restores_exactly_the_killed_nodes():
    target = ProcessTarget()
    nemesis = KillNemesis(FakeCluster(5), target=target, rng=random.Random(0))
    killed = nemesis.invoke("kill", "minority")["killed"]
    assert len(killed) == 2
    assert nemesis.invoke("start", None) == {"started": killed}
    assert target.calls == [("kill", n) for n in killed] + [("start", n) for n in killed]
    assert nemesis.heal() == {"started": []}


def test_heal_resumes_every_node_still_paused():
    target = ProcessTarget()
    nemesis = PauseNemesis(FakeCluster(5), target=target, rng=random.Random(0))
    assert nemesis.invoke("pause", ["n1", "n3"]) == {"paused": ["n1", "n3"]}
    assert nemesis.invoke("pause", ["n5"]) == {"paused": ["n5"]}
    assert nemesis.invoke("resume", ["n3"]) == {"resumed": ["n3"]}
    assert nemesis.heal() == {"resumed": ["n1", "n5"]}
    assert [c for c in target.calls if c[0] == "resume"] == [
        ("resume", "n3"), ("resume", "n1"), ("resume", "n5"),
    ]  # fmt: skip


def test_kill_the_primary_asks_the_target_who_leads():
    target = LeaderTarget(["n4"])
    nemesis = KillNemesis(FakeCluster(5), target=target, rng=random.Random(0))
    assert "primaries" in nemesis.node_specs
    assert nemesis.invoke("kill", "primaries") == {"killed": ["n4"]}
    target.leaders = []
    with pytest.raises(UsageError, match="no primary right now"):
        nemesis.invoke("kill", "primaries")


def test_node_specs_that_do_not_fit_are_refused_when_built():
    with pytest.raises(UsageError, match="primaries"):
        KillNemesis(
            FakeCluster(5), target=ProcessTarget(), rng=random.Random(0), node_specs=["primaries"]
        )
    assert (
        "minority"
        not in KillNemesis(FakeCluster(2), target=ProcessTarget(), rng=random.Random(0)).node_specs
    )


# -- packets ------------------------------------------------------------------------------


def test_loss_afflicts_packets_arriving_at_the_chosen_nodes():
    cluster = FakeCluster(3)
    nemesis = PacketNemesis(cluster, rng=random.Random(0))
    assert nemesis.invoke("start-loss", {"nodes": ["n2"], "probability": 0.3}) == {
        "loss": {"n2": ["n1", "n3"]},
        "probability": 0.3,
    }
    assert nemesis.invoke("stop-loss", None) == {"loss": {}}


def test_delay_takes_defaults_and_a_seed_from_the_rng():
    cluster = FakeCluster(3)
    nemesis = PacketNemesis(cluster, rng=random.Random(0), delay_ms=50, jitter_ms=5)
    assert nemesis.invoke("start-delay", ["n1", "n3"]) == {
        "delay": {"n1": ["n2", "n3"], "n3": ["n1", "n2"]},
        "delay_ms": 50.0,
        "jitter_ms": 5.0,
    }
    assert nemesis.heal() == {"loss": {}, "delay": {}}


def test_packet_values_with_unknown_keys_are_refused():
    nemesis = PacketNemesis(FakeCluster(3), rng=random.Random(0))
    with pytest.raises(UsageError, match="keys among nodes, probability"):
        nemesis.invoke("start-loss", {"nodes": "one", "percent": 30})


# -- clocks -------------------------------------------------------------------------------


def test_clock_faults_refuse_a_target_that_does_not_run_under_libfaketime():
    with pytest.raises(UsageError, match="does not run under libfaketime"):
        FAULTS["clock"].require(ProcessTarget())
    FAULTS["clock"].require(FaketimeTarget(FakeCluster(3)))


def test_bump_adds_to_the_offset_in_the_files_the_target_reads(tmp_path):
    cluster = FakeCluster(3, tmp_path)
    nemesis = ClockNemesis(cluster, target=FaketimeTarget(cluster), rng=random.Random(0))
    assert nemesis.invoke("bump-clock", {"n1": 1500, "n3": -250}) == {
        "bumped_ms": {"n1": 1500, "n3": -250},
        "offsets_ms": {"n1": 1500, "n3": -250},
    }
    assert nemesis.invoke("bump-clock", {"n1": 500})["offsets_ms"] == {"n1": 2000}
    assert cluster.node("n1").files[str(tmp_path / "n1" / "clock")] == "+2.000\n"
    assert cluster.node("n3").files[str(tmp_path / "n3" / "clock")] == "-0.250\n"
    assert nemesis.heal() == {"offsets_ms": {"n1": 0, "n2": 0, "n3": 0}}
    assert cluster.node("n1").files[str(tmp_path / "n1" / "clock")] == "+0.000\n"


def test_scramble_stays_within_the_maximum_offset(tmp_path):
    cluster = FakeCluster(5, tmp_path)
    nemesis = ClockNemesis(
        cluster, target=FaketimeTarget(cluster), rng=random.Random(3), max_offset_ms=100
    )
    offsets = nemesis.invoke("scramble-clock", None)["offsets_ms"]
    assert set(offsets) == set(N5)
    assert all(-100 <= v <= 100 for v in offsets.values())
    assert len(set(offsets.values())) > 1


def test_strobe_flips_every_period_and_ends_where_it_began(tmp_path):
    cluster = FakeCluster(3, tmp_path)
    seen = []
    node = cluster.node("n2")
    nemesis = ClockNemesis(
        cluster,
        target=FaketimeTarget(cluster),
        rng=random.Random(0),
        sleep=lambda s: seen.append((s, node.files[str(tmp_path / "n2" / "clock")])),
    )
    result = nemesis.invoke(
        "strobe-clock", {"nodes": ["n2"], "delta_ms": 200, "period_ms": 10, "duration_s": 0.04}
    )
    assert seen == [(0.01, "+0.200\n"), (0.01, "+0.000\n"), (0.01, "+0.200\n"), (0.01, "+0.000\n")]
    assert result == {
        "strobed": {"delta_ms": 200, "period_ms": 10.0, "duration_s": 0.04},
        "offsets_ms": {"n2": 0},
    }


def test_faketime_env_starts_processes_on_true_time(tmp_path):
    node = HostNode("n1", tmp_path / "n1")
    try:
        env = faketime_env(node, node.directory / "clock")
    except ControlError as e:
        assert "apt-get install libfaketime" in str(e)
        pytest.skip("libfaketime is not installed")
    assert (tmp_path / "n1" / "clock").read_text() == "+0.000\n"
    assert env["FAKETIME_TIMESTAMP_FILE"] == str(tmp_path / "n1" / "clock")
    assert env["FAKETIME_NO_CACHE"] == "1"
    assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"
    assert env["LD_PRELOAD"].endswith("libfaketime.so.1")


# -- composition --------------------------------------------------------------------------


def test_compose_routes_by_f_and_refuses_overlaps():
    cluster = FakeCluster(3)
    target = ProcessTarget()
    both = compose(
        PartitionNemesis(cluster, rng=random.Random(0)),
        KillNemesis(cluster, target=target, rng=random.Random(0)),
    )
    assert both.fs == {"start-partition", "stop-partition", "kill", "start"}
    assert both.invoke("kill", ["n2"]) == {"killed": ["n2"]}
    assert both.heal() == [{"partition": {}}, {"started": ["n2"]}]
    with pytest.raises(UsageError, match="no nemesis handles f='pause'"):
        both.invoke("pause", None)
    with pytest.raises(UsageError, match="two nemeses both handle"):
        compose(
            PacketNemesis(cluster, rng=random.Random(0)),
            PacketNemesis(cluster, rng=random.Random(0)),
        )


def test_compose_heals_every_nemesis_even_when_one_fails():
    class Broken:
        fs = frozenset({"break"})

        def invoke(self, f, value):
            return None

        def heal(self):
            raise ControlError("cannot heal")

        def teardown(self):
            self.heal()

    cluster = FakeCluster(3)
    cluster.partitioned = {"n1": ["n2"]}
    composed = compose(Broken(), PartitionNemesis(cluster, rng=random.Random(0)))
    with pytest.raises(ControlError, match="cannot heal"):
        composed.heal()
    assert cluster.partitioned == {}
