"""The lose-unsynced fault without root: the order of its steps, who it hits, what it says.

The fake nodes' lazy disks log into the same list as the fake target, so the tests see
the whole sequence: every chosen node killed, then every disk's power failure, then
every node started.
"""

from __future__ import annotations

import random

import pytest

from labrys.control import LazyDisks, Unsynced
from labrys.errors import ControlError, TargetError, UsageError
from labrys.nemesis import FAULTS, LoseUnsyncedNemesis
from labrys.nemesis._disk import prepare_lazy_disks, settle_lazy_disks
from tests.unit._nemesis_fakes import FakeCluster, LeaderTarget, NoCapabilities, ProcessTarget


class FakeDisk:
    def __init__(self, node, log, lost):
        self.node, self.log, self.lost = node, log, lost

    def power_failure(self):
        self.log.append(("power-failure", self.node))
        return self.lost

    def sync(self):
        self.log.append(("sync", self.node))
        return Unsynced(files=0, bytes=0, namespace_ops=0)


class LazyNode:
    """A fake node with the `LazyDisks` capability."""

    def __init__(self, node, log, disks=1):
        self.name, self.address, self.directory = node.name, node.address, node.directory
        self.lazy = False
        lost = Unsynced(files=1, bytes=100, namespace_ops=2)
        self._disks = [FakeDisk(node.name, log, lost) for _ in range(disks)]

    def use_lazy_disks(self):
        self.lazy = True

    def lazy_disks(self):
        return self._disks


def lazy_cluster(target, n=3, disks=1):
    cluster = FakeCluster(n)
    cluster.nodes = [LazyNode(node, target.calls, disks) for node in cluster.nodes]
    return cluster


def test_nodes_are_killed_then_lose_their_disks_then_start_all_together():
    target = ProcessTarget()
    nemesis = LoseUnsyncedNemesis(lazy_cluster(target), target=target, rng=random.Random(1))
    result = nemesis.invoke("lose-unsynced", ["n1", "n3"])
    assert target.calls == [
        ("kill", "n1"), ("kill", "n3"),
        ("power-failure", "n1"), ("power-failure", "n3"),
        ("start", "n1"), ("start", "n3"),
    ]  # fmt: skip
    lost = {"files": 1, "bytes": 100, "namespace_ops": 2}
    assert result == {"nodes": ["n1", "n3"], "lost": {"n1": lost, "n3": lost}}
    assert nemesis.heal() == {}


def test_what_a_node_lost_adds_up_over_its_disks():
    target = ProcessTarget()
    nemesis = LoseUnsyncedNemesis(lazy_cluster(target, disks=2), target=target,
                                  rng=random.Random(1))
    assert nemesis.invoke("lose-unsynced", ["n2"])["lost"] == {
        "n2": {"files": 2, "bytes": 200, "namespace_ops": 4}}


def test_targets_are_chosen_as_for_kill_primaries_asks_the_target():
    target = LeaderTarget(["n2"])
    nemesis = LoseUnsyncedNemesis(lazy_cluster(target), target=target, rng=random.Random(1))
    assert nemesis.invoke("lose-unsynced", "primaries")["nodes"] == ["n2"]
    assert nemesis.invoke("lose-unsynced", "all")["nodes"] == ["n1", "n2", "n3"]
    assert set(nemesis.node_specs) == {"one", "minority", "majority", "all", "primaries"}


def test_every_node_is_started_even_when_one_does_not_start():
    class FailsOnN1(ProcessTarget):
        def start(self, node):
            super().start(node)
            if node == "n1":
                raise TargetError("did not start", node=node)

    target = FailsOnN1()
    nemesis = LoseUnsyncedNemesis(lazy_cluster(target), target=target, rng=random.Random(1))
    with pytest.raises(TargetError, match="did not start"):
        nemesis.invoke("lose-unsynced", "all")
    assert [c for c in target.calls if c[0] == "start"] == [
        ("start", "n1"), ("start", "n2"), ("start", "n3")]


def test_a_node_without_lazy_disks_is_refused_before_anything_is_killed():
    target = ProcessTarget()
    cluster = lazy_cluster(target)
    cluster.nodes[1]._disks = []
    nemesis = LoseUnsyncedNemesis(cluster, target=target, rng=random.Random(1))
    with pytest.raises(ControlError, match="n2 has no data directory on a lazy disk"):
        nemesis.invoke("lose-unsynced", "all")
    assert target.calls == []


def test_a_target_that_cannot_be_killed_is_refused():
    with pytest.raises(UsageError, match="cannot take the lose-unsynced fault"):
        FAULTS["lose-unsynced"].require(NoCapabilities())
    with pytest.raises(UsageError, match="cannot be killed"):
        LoseUnsyncedNemesis(FakeCluster(3), target=NoCapabilities(), rng=random.Random(1))


def test_the_fault_puts_data_on_lazy_disks_before_set_up_and_syncs_it_after(monkeypatch):
    monkeypatch.setattr("labrys.nemesis._disk.lazyfs_program", lambda: "/bin/true")
    target = ProcessTarget()
    cluster = lazy_cluster(target)
    assert FAULTS["lose-unsynced"].prepare is prepare_lazy_disks
    assert FAULTS["lose-unsynced"].settle is settle_lazy_disks
    assert FAULTS["lose-unsynced"].heal is None
    prepare_lazy_disks(cluster)
    assert all(isinstance(n, LazyDisks) and n.lazy for n in cluster.nodes)
    settle_lazy_disks(cluster)
    assert target.calls == [("sync", "n1"), ("sync", "n2"), ("sync", "n3")]


def test_a_runtime_whose_nodes_have_no_lazy_disks_is_refused(monkeypatch):
    monkeypatch.setattr("labrys.nemesis._disk.lazyfs_program", lambda: "/bin/true")
    with pytest.raises(UsageError, match="cannot put data directories on a lazy file system"):
        prepare_lazy_disks(FakeCluster(3))
