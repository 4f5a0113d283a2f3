"""Fakes of a cluster and of targets, for testing nemeses without root.

The fake cluster keeps the network state a real one would (the last grudge of each
kind) and a log of calls; the fake targets log what the nemesis asked of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FakeNode:
    name: str
    address: str
    directory: Path
    files: dict[str, str] = field(default_factory=dict)

    def write_file(self, path, data):
        self.files[str(path)] = data


class FakeCluster:
    """The network part of a `Cluster`, kept as a record of the grudges in force.

    Its nodes are `FakeNode`s (files in memory) unless others are given.
    """

    name = "fake"

    def __init__(self, n=0, tmp_path=Path("/nonexistent"), *, nodes=None):
        self.nodes = nodes if nodes is not None else [
            FakeNode(f"n{i}", f"10.0.0.{i + 1}", tmp_path / f"n{i}") for i in range(1, n + 1)
        ]
        self.calls = []
        self.partitioned = {}
        self.lost = {}
        self.delayed = {}

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def partition(self, grudge):
        self.calls.append(("partition", grudge))
        self.partitioned = {k: sorted(v) for k, v in sorted(grudge.items()) if v}
        return self.partitioned

    def lose_packets(self, grudge, *, probability):
        self.calls.append(("lose", grudge, probability))
        self.lost = {k: sorted(v) for k, v in sorted(grudge.items()) if v}
        return self.lost

    def delay_packets(self, grudge, *, delay_ms, jitter_ms=0.0, seed=0):
        self.calls.append(("delay", grudge, delay_ms, jitter_ms))
        self.delayed = {k: sorted(v) for k, v in sorted(grudge.items()) if v}
        return self.delayed

    def heal(self):
        self.calls.append(("heal",))
        self.partitioned, self.lost, self.delayed = {}, {}, {}


class NoCapabilities:
    """A target that can only be set up and torn down."""


class ProcessTarget:
    """Killable and Pausable, and logs every call."""

    def __init__(self):
        self.calls = []

    def kill(self, node):
        self.calls.append(("kill", node))

    def start(self, node):
        self.calls.append(("start", node))

    def pause(self, node):
        self.calls.append(("pause", node))

    def resume(self, node):
        self.calls.append(("resume", node))


class LeaderTarget(ProcessTarget):
    """Also knows its primaries."""

    def __init__(self, leaders):
        super().__init__()
        self.leaders = leaders

    def primaries(self):
        return self.leaders


class FaketimeTarget:
    """ClockSkewable: every node reads <node dir>/clock."""

    def __init__(self, cluster):
        self.cluster = cluster

    def clock_file(self, node):
        return self.cluster.node(node).directory / "clock"
