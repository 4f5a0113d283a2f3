"""Faults for real, measured from inside the nodes, and undone.

Skipped without root or without `ip`/`iptables`; the delay test also needs the
NetfilterQueue package and the clock tests libfaketime.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import random
import signal
import time

import pytest

from labrys.control import LocalCluster, leftovers
from labrys.nemesis import (
    ClockNemesis,
    KillNemesis,
    NemesisOptions,
    PacketNemesis,
    PauseNemesis,
    faketime_env,
    package,
)
from tests.system._netns import (
    needs_root,
    pings,
    reachable,
    server_time,
    start_server,
    state,
)

pytestmark = needs_root

needs_faketime = pytest.mark.skipif(
    not glob.glob("/usr/lib/*/faketime/libfaketime.so.1"), reason="libfaketime is not installed"
)
needs_nfqueue = pytest.mark.skipif(
    importlib.util.find_spec("netfilterqueue") is None, reason="NetfilterQueue is not installed"
)


class EchoTarget:
    """The test server on every node, as a target: Killable, Pausable, ClockSkewable."""

    def __init__(self, cluster: LocalCluster, *, faketime: bool = False):
        self.cluster = cluster
        self.faketime = faketime
        self.processes = {}

    def setup(self):
        for node in self.cluster.nodes:
            self.start(node.name)

    def clock_file(self, node):
        return self.cluster.node(node).directory / "clock"

    def start(self, node):
        on = self.cluster.node(node)
        env = faketime_env(on, self.clock_file(node)) if self.faketime else None
        self.processes[node] = start_server(self.cluster.node(node), env=env)

    def kill(self, node):
        self.processes[node].kill()

    def pause(self, node):
        self.processes[node].signal(signal.SIGSTOP)

    def resume(self, node):
        self.processes[node].signal(signal.SIGCONT)


@pytest.mark.slow
def test_loss_of_half_drops_roughly_half_of_300_datagrams(cluster):
    n1, n2, _ = cluster.nodes
    start_server(n2)
    received, _ = pings(n1, n2, count=300, gap_s=0.001)
    assert received >= 297
    cluster.lose_packets({"n2": ["n1"]}, probability=0.5)
    assert cluster.faults().loss == {"n2": ["n1"]}
    assert cluster.faults().loss_probability == pytest.approx(0.5)
    received, _ = pings(n1, n2, count=300, gap_s=0.001)
    print(f"50% loss: {received} of 300 datagrams came back")
    assert 110 <= received <= 190  # mean 150, standard deviation 8.7
    cluster.lose_packets({}, probability=0.0)
    received, _ = pings(n1, n2, count=300, gap_s=0.001)
    assert received >= 297


@needs_nfqueue
@pytest.mark.slow
def test_a_delay_of_100_ms_shows_in_round_trips_and_goes_away(cluster):
    n1, n2, n3 = cluster.nodes
    start_server(n2)
    _, before = pings(n1, n2, count=20, gap_s=0.01)
    assert before < 20
    applied = cluster.delay_packets({"n2": ["n1"]}, delay_ms=100)
    assert applied == cluster.faults().delay == {"n2": ["n1"]}
    received, during = pings(n1, n2, count=20, gap_s=0.01)
    _, unaffected = pings(n3, n2, count=20, gap_s=0.01)
    print(f"100 ms delay: median round trip {before:.1f} ms before, {during:.1f} ms during")
    assert received == 20
    assert 100 <= during < 150
    assert unaffected < 20
    cluster.heal()
    assert cluster.faults().delay == {}
    _, after = pings(n1, n2, count=20, gap_s=0.01)
    assert after < 20
    # The process that held the packets is gone with the fault.
    assert len(leftovers(cluster.prefix)[0].pids) == 1  # only the server


@needs_nfqueue
@pytest.mark.slow
def test_delay_with_jitter_spreads_round_trips(cluster):
    n1, n2, _ = cluster.nodes
    start_server(n2)
    nemesis = PacketNemesis(cluster, rng=random.Random(5))
    result = nemesis.invoke("start-delay", {"nodes": ["n2"], "delay_ms": 60, "jitter_ms": 30})
    assert result == {"delay": {"n2": ["n1", "n3"]}, "delay_ms": 60.0, "jitter_ms": 30.0}
    _, median = pings(n1, n2, count=30, gap_s=0.005)
    assert 40 <= median <= 90
    assert nemesis.heal() == {"loss": {}, "delay": {}}


def test_kill_and_start_act_on_the_real_process(cluster):
    n1, n2, _ = cluster.nodes
    target = EchoTarget(cluster)
    target.setup()
    victim = target.processes["n2"]
    nemesis = KillNemesis(cluster, target=target, rng=random.Random(0))
    assert nemesis.invoke("kill", ["n2"]) == {"killed": ["n2"]}
    assert victim.returncode == -signal.SIGKILL
    assert state(victim.pid) is None  # reaped, not a zombie
    assert not reachable(n1, n2)
    assert nemesis.invoke("start", None) == {"started": ["n2"]}
    assert target.processes["n2"].pid != victim.pid
    assert reachable(n1, n2)


@pytest.mark.slow
def test_pause_freezes_the_real_process_and_resume_thaws_it(cluster):
    n1, n2, _ = cluster.nodes
    target = EchoTarget(cluster)
    target.setup()
    nemesis = PauseNemesis(cluster, target=target, rng=random.Random(0))
    assert nemesis.invoke("pause", ["n2"]) == {"paused": ["n2"]}
    deadline = time.monotonic() + 5  # SIGSTOP lands asynchronously
    while state(target.processes["n2"].pid) != "T":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert server_time(n1, n2, timeout_s=0.3) is None
    assert reachable(n1, cluster.nodes[2])
    assert nemesis.heal() == {"resumed": ["n2"]}
    assert state(target.processes["n2"].pid) in ("S", "R")
    assert reachable(n1, n2)


@needs_faketime
def test_bump_moves_only_the_chosen_nodes_wall_clock(cluster):
    n1, n2, n3 = cluster.nodes
    target = EchoTarget(cluster, faketime=True)
    target.setup()
    assert server_time(n1, n2) == pytest.approx(time.time(), abs=2)
    nemesis = ClockNemesis(cluster, target=target, rng=random.Random(0))
    assert nemesis.invoke("bump-clock", {"n2": 60_000}) == {
        "bumped_ms": {"n2": 60_000},
        "offsets_ms": {"n2": 60_000},
    }
    assert server_time(n1, n2) - time.time() == pytest.approx(60, abs=2)
    assert server_time(n1, n3) - time.time() == pytest.approx(0, abs=2)
    assert nemesis.heal() == {"offsets_ms": {"n1": 0, "n2": 0, "n3": 0}}
    assert server_time(n1, n2) - time.time() == pytest.approx(0, abs=2)


@needs_faketime
def test_scramble_gives_each_node_its_own_clock(cluster):
    n1 = cluster.nodes[0]
    target = EchoTarget(cluster, faketime=True)
    target.setup()
    nemesis = ClockNemesis(cluster, target=target, rng=random.Random(2), max_offset_ms=600_000)
    offsets = nemesis.invoke("scramble-clock", None)["offsets_ms"]
    for node in cluster.nodes:
        seen = server_time(n1, node) - time.time()
        assert seen == pytest.approx(offsets[node.name] / 1000, abs=2)


@needs_nfqueue
@needs_faketime
@pytest.mark.slow
def test_a_package_schedule_and_its_final_heal_leave_the_cluster_whole(cluster):
    target = EchoTarget(cluster, faketime=True)
    target.setup()
    faults = ("partition", "kill", "pause", "loss", "delay", "clock")
    options = NemesisOptions(faults=faults, interval_s=1.0,
                             settings={"delay_ms": 20.0, "jitter_ms": 5.0})
    pkg = package(cluster, options, rng=random.Random(0), target=target)
    done = []
    # Faults and heals as scheduled, then more faults with their heals skipped, so that
    # only the final heal can undo them.
    schedule = pkg.schedule()
    for op in itertools.islice(schedule, 12):
        done.append((op.f, pkg.nemesis.invoke(op.f, op.value)))
    for op in itertools.islice(schedule, 12):
        if op.f.startswith(("start-", "kill", "pause", "bump", "strobe", "scramble")):
            done.append((op.f, pkg.nemesis.invoke(op.f, op.value)))
    for op in pkg.final_ops:
        done.append((op.f, pkg.nemesis.invoke(op.f, op.value)))
    # Seed 0 draws every kind of fault, a clock bump among those left to the final heal.
    assert {f for f, _ in done} >= {
        "start-partition", "kill", "pause", "start-loss", "start-delay", "bump-clock"
    }  # fmt: skip
    assert "bump-clock" in [f for f, _ in done[12:]]
    faults_now = cluster.faults()
    assert (faults_now.partition, faults_now.loss, faults_now.delay) == ({}, {}, {})
    n1 = cluster.nodes[0]
    for node in cluster.nodes:
        assert state(target.processes[node.name].pid) in ("S", "R")
        assert server_time(n1, node) - time.time() == pytest.approx(0, abs=2)
