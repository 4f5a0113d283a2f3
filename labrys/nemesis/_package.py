"""Nemesis packages: the faults a test asked for, their nemesis, and their schedule.

As Jepsen's ``jepsen.nemesis.combined``, a package bundles three things the runner
needs: one composed nemesis able to do every requested fault, an endless schedule of
ops for it, and the final ops that heal everything before the last reads.

The schedule alternates: a fault chosen at random among the requested ones, then that
fault's heal, then another fault, and so on; the runner waits `interval_s` before each
op. Values are chosen when the schedule is drawn (a topology, a node spec, a loss
probability), and resolved to nodes by the nemesis when invoked, because only then is
it known which node is the primary. Everything random descends from the one
`random.Random` given to `package`: the same seed draws the same schedule, and the
nemesis makes the same choices when handed the same ops.

    pkg = package(cluster, NemesisOptions(faults=("partition", "kill")), target=db,
                  rng=random.Random(seed))
    for op in pkg.schedule():          # start-partition halves, stop-partition, kill one, start, …
        sleep(pkg.interval_s)
        record(op, pkg.nemesis.invoke(op.f, op.value))
    for op in pkg.final_ops: …         # stop-partition, start
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._clock import ClockNemesis
from labrys.nemesis._nemesis import Composed, Nemesis, compose
from labrys.nemesis._packet import PacketNemesis
from labrys.nemesis._partition import PartitionNemesis
from labrys.nemesis._process import KillNemesis, PauseNemesis

FAULTS = ("partition", "kill", "pause", "loss", "delay", "clock")

_CLOCK_FAULTS = ("bump-clock", "strobe-clock", "scramble-clock")


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisOp:
    """One op for the nemesis: the function and its value."""

    f: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class FaultOps:
    """The nemesis functions that begin one fault, and the one that heals it."""

    starts: tuple[str, ...]
    heal: str


FAULT_OPS: Mapping[str, FaultOps] = {
    "partition": FaultOps(("start-partition",), "stop-partition"),
    "loss": FaultOps(("start-loss",), "stop-loss"),
    "delay": FaultOps(("start-delay",), "stop-delay"),
    "clock": FaultOps(_CLOCK_FAULTS, "reset-clock"),
    "pause": FaultOps(("pause",), "resume"),
    "kill": FaultOps(("kill",), "start"),
}
"""Which recorded nemesis ops open and close each fault: what a report reads to shade
the time a fault was in force. In the order the final heal runs the heals."""

_HEALS = {fault: NemesisOp(f=ops.heal) for fault, ops in FAULT_OPS.items()}
"""Each fault's heal, in the order the final heal runs them: network first, so that
resumed and restarted nodes come back to a whole network."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisOptions:
    """What faults a test wants, and how hard.

    Attributes:
        faults: names from `FAULTS`; empty for a run without faults.
        interval_s: seconds between consecutive nemesis ops.
        topologies: partitions to choose from; None for all that fit.
        node_specs: node specs for kill, pause, packet and clock faults; None for all
            that fit.
        loss_probability: the probability of losing each afflicted packet.
        delay_ms: the delay of each afflicted packet.
        jitter_ms: the delay's spread either way.
        clock_max_offset_ms: the largest clock offset, either way.
    """

    faults: tuple[str, ...]
    interval_s: float = 10.0
    topologies: tuple[str, ...] | None = None
    node_specs: tuple[str, ...] | None = None
    loss_probability: float = 0.5
    delay_ms: float = 100.0
    jitter_ms: float = 10.0
    clock_max_offset_ms: int = 30_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Package:
    """A nemesis with its schedule and its final heal.

    Attributes:
        nemesis: one nemesis handling every op of the schedule.
        faults: the faults it injects.
        interval_s: seconds between consecutive ops.
        final_ops: the ops that heal every fault, in order.
    """

    nemesis: Composed
    faults: tuple[str, ...]
    interval_s: float
    final_ops: tuple[NemesisOp, ...]
    _choices: dict[str, tuple[Any, ...]]
    _seed: int

    def schedule(self) -> Iterator[NemesisOp]:
        """The endless alternation fault, heal, fault, heal…; the same on every call."""
        if not self.faults:
            return
        rng = random.Random(self._seed)
        while True:
            fault = rng.choice(self.faults)
            yield self._start(fault, rng)
            yield _HEALS[fault]

    def _start(self, fault: str, rng: random.Random) -> NemesisOp:
        choice = rng.choice(self._choices[fault])
        if fault == "partition":
            return NemesisOp(f="start-partition", value=choice)
        if fault in ("kill", "pause"):
            return NemesisOp(f=fault, value=choice)
        if fault == "clock":
            return NemesisOp(f=rng.choice(_CLOCK_FAULTS), value={"nodes": choice})
        return NemesisOp(f=f"start-{fault}", value={"nodes": choice})


def package(
    cluster: Cluster,
    options: NemesisOptions,
    *,
    rng: random.Random,
    target: object | None = None,
) -> Package:
    """Build the nemesis and schedule for the requested faults.

    Args:
        cluster: the cluster the faults hit.
        options: which faults, and their parameters.
        rng: the source of all randomness: two draws seed the nemesis and the schedule.
        target: the database, for process and clock faults and for primaries.

    Raises:
        UsageError: for an unknown fault, or one this target or cluster cannot take
            (the message says why).
    """
    unknown = [f for f in options.faults if f not in FAULTS]
    if unknown:
        raise UsageError(f"unknown fault(s) {', '.join(unknown)}: use {', '.join(FAULTS)}")
    if options.interval_s <= 0:
        raise UsageError(f"the nemesis interval must be > 0 s, not {options.interval_s}")
    nemesis_rng = random.Random(rng.getrandbits(64))
    seed = rng.getrandbits(64)
    faults = tuple(dict.fromkeys(options.faults))
    specs = options.node_specs
    nemeses: list[Nemesis] = []
    choices: dict[str, tuple[Any, ...]] = {}
    if "partition" in faults:
        partitioner = PartitionNemesis(
            cluster, rng=nemesis_rng, target=target, topologies=options.topologies
        )
        nemeses.append(partitioner)
        choices["partition"] = partitioner.topologies
    for fault, process_nemesis in (("kill", KillNemesis), ("pause", PauseNemesis)):
        if fault in faults:
            made = process_nemesis(cluster, target=target, rng=nemesis_rng, node_specs=specs)
            nemeses.append(made)
            choices[fault] = made.node_specs
    if "loss" in faults or "delay" in faults:
        packets = PacketNemesis(
            cluster,
            rng=nemesis_rng,
            target=target,
            node_specs=specs,
            probability=options.loss_probability,
            delay_ms=options.delay_ms,
            jitter_ms=options.jitter_ms,
        )
        nemeses.append(packets)
        choices["loss"] = choices["delay"] = packets.node_specs
    if "clock" in faults:
        clock = ClockNemesis(
            cluster,
            target=target,
            rng=nemesis_rng,
            node_specs=specs,
            max_offset_ms=options.clock_max_offset_ms,
        )
        nemeses.append(clock)
        choices["clock"] = clock.node_specs
    return Package(
        nemesis=compose(*nemeses),
        faults=faults,
        interval_s=options.interval_s,
        final_ops=tuple(op for fault, op in _HEALS.items() if fault in faults),
        _choices=choices,
        _seed=seed,
    )
