"""Nemesis packages: the faults a test asked for, their nemesis, and their schedule.

As Jepsen's ``jepsen.nemesis.combined``, a package bundles three things the runner
needs: one composed nemesis able to do every requested fault, an endless schedule of
ops for it, and the final ops that heal everything before the last reads.

Every fault is an entry of the fault table (`_faults.FAULTS`), which says how to arm
its nemesis, which ops start and heal it, what it needs from the target and which
options it takes; this module only puts the requested entries together. The schedule
alternates: a fault chosen at random among the requested ones, then that fault's heal,
then another fault, and so on; the runner waits `interval_s` before each op. Values are
chosen when the schedule is drawn (a topology, a node spec), and resolved to nodes by
the nemesis when invoked, because only then is it known which node is the primary.
Everything random descends from the one `random.Random` given to `package`: the same
seed draws the same schedule, and the nemesis makes the same choices when handed the
same ops.

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
from dataclasses import dataclass, field
from typing import Any

from labrys.control import Cluster
from labrys.errors import UsageError, lookup
from labrys.nemesis._faults import FAULTS, Fault, FaultSetting
from labrys.nemesis._nemesis import Composed, NemesisOp, compose


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisOptions:
    """What faults a test wants, and how hard.

    Attributes:
        faults: names from `FAULTS`; empty for a run without faults.
        interval_s: seconds between consecutive nemesis ops.
        topologies: partitions to choose from; None for all that fit.
        node_specs: node specs for kill, pause, packet and clock faults; None for all
            that fit.
        settings: values of the faults' options by name (``loss_probability``,
            ``delay_ms``…, as each `Fault.options` declares them); the declared
            defaults for the rest.
    """

    faults: tuple[str, ...]
    interval_s: float = 10.0
    topologies: tuple[str, ...] | None = None
    node_specs: tuple[str, ...] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


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
            fault = FAULTS[rng.choice(self.faults)]
            yield fault.start_op(rng, self._choices[fault.name])
            if fault.heal is not None:
                yield NemesisOp(f=fault.heal)


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
    requested: list[Fault] = [lookup(FAULTS, name, what="fault")
                              for name in dict.fromkeys(options.faults)]
    if options.interval_s <= 0:
        raise UsageError(f"the nemesis interval must be > 0 s, not {options.interval_s}")
    for fault in requested:
        fault.require(target)
    nemesis_rng = random.Random(rng.getrandbits(64))
    seed = rng.getrandbits(64)
    armed = {
        fault.name: fault.arm(FaultSetting(
            cluster=cluster, target=target, rng=nemesis_rng,
            options=fault.settings(options.settings), topologies=options.topologies,
            node_specs=options.node_specs))
        for fault in requested
    }
    return Package(
        nemesis=compose(*(a.nemesis for a in armed.values())),
        faults=tuple(armed),
        interval_s=options.interval_s,
        final_ops=tuple(NemesisOp(f=f.heal) for f in FAULTS.values()
                        if f.name in armed and f.heal is not None),
        _choices={name: a.choices for name, a in armed.items()},
        _seed=seed,
    )
