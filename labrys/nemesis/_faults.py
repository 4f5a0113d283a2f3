"""Every fault labrys can inject, declared once, as data: the table `FAULTS`.

A `Fault` says everything the rest of labrys needs to know about one kind of fault:
its name (what ``--nemesis`` takes), the ops that start it and the op that heals it,
its options (``--option`` keys, declared as `Option` data), the capability it needs
from the target (`Killable`, `Pausable`, `ClockSkewable`…, with why), and how to arm
its nemesis on a cluster. Each reader takes what it needs from the one table:

- `package` arms the nemeses, draws the schedule (`Fault.start_op`) and orders the
  final heal (the table's order);
- the run orchestration's fault plan refuses a target that lacks a capability, and
  parses the faults' options, before any node exists;
- the test spec refuses an unknown fault name;
- the live display names the faults in force from the ops that start and heal them.

Adding a fault is one entry here plus its nemesis (a class with ``fs``, ``invoke``,
``heal`` and ``teardown``, see `Nemesis`), e.g.::

    Fault(name="member", summary="remove a member from the cluster, then add it back",
          starts=("remove-member",), heal="add-member", needs=Membership,
          needs_why="remove and add members", arm=_arm_member)

The table's order is the order of the final heal: network faults first, so that nodes
resumed and restarted afterwards come back to a whole network.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._clock import ClockNemesis, ClockSkewable
from labrys.nemesis._disk import (
    LOSE_UNSYNCED,
    LoseUnsyncedNemesis,
    prepare_lazy_disks,
    settle_lazy_disks,
)
from labrys.nemesis._nemesis import Nemesis, NemesisOp
from labrys.nemesis._packet import PacketNemesis
from labrys.nemesis._partition import PartitionNemesis
from labrys.nemesis._process import Killable, KillNemesis, Pausable, PauseNemesis
from labrys.options import Option, positive_float, positive_int


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultSetting:
    """What a fault's nemesis is armed with.

    Attributes:
        cluster: the cluster the fault hits.
        target: the database, for its capabilities and its primaries.
        rng: the nemeses' shared source of randomness.
        options: the typed values of the fault's own `Fault.options`.
        topologies: the partitions to choose from; None for all that fit.
        node_specs: the node specs to choose from; None for all that fit.
    """

    cluster: Cluster
    target: object | None
    rng: random.Random
    options: Mapping[str, Any]
    topologies: Sequence[str] | None = None
    node_specs: Sequence[str] | None = None


class Armed(NamedTuple):
    """A fault's nemesis, and the values a scheduled start op draws from (topologies for
    a partition, node specs for the others)."""

    nemesis: Nemesis
    choices: tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One kind of fault (see the module docstring).

    Attributes:
        name: what ``--nemesis`` takes.
        summary: one line for ``--help`` and the README.
        starts: the ops that inject it; a scheduled start draws one of them.
        heal: the op that undoes it, with no value: everything of this kind; None for
            a fault that is over when its op returns (``lose-unsynced``).
        arm: builds its nemesis on a cluster.
        needs: the capability protocol the target must implement, if any.
        needs_why: what that capability lets the nemesis do, for the refusal.
        options: its ``--option`` keys.
        choice_key: None when a start op's value is the drawn choice itself (``kill
            "one"``); else the key it goes under (``start-loss {"nodes": "one"}``).
        prepare: what the cluster must do before the database is set up on it, if
            anything (``lose-unsynced``: put data directories on lazy disks).
        settle: what it must do once the database is set up, before the workload
            (``lose-unsynced``: sync the set-up's writes).
    """

    name: str
    summary: str
    starts: tuple[str, ...]
    heal: str | None
    arm: Callable[[FaultSetting], Armed]
    needs: type | None = None
    needs_why: str = ""
    options: Mapping[str, Option] = field(default_factory=dict)
    choice_key: str | None = None
    prepare: Callable[[Cluster], None] | None = None
    settle: Callable[[Cluster], None] | None = None

    @property
    def fs(self) -> frozenset[str]:
        """Every op of this fault: its starts and its heal."""
        return frozenset((*self.starts, *([self.heal] if self.heal else [])))

    def require(self, target: object) -> None:
        """Refuse a target that lacks the capability this fault needs.

        Raises:
            UsageError: naming the target, the fault and the capability, and why.
        """
        if self.needs is not None and not isinstance(target, self.needs):
            raise UsageError(
                f"target {type(target).__name__} cannot take the {self.name} fault: it does "
                f"not implement {self.needs.__name__} ({self.needs_why})"
            )

    def settings(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """This fault's option values: those in ``given``, defaults for the rest."""
        return {name: given.get(name, option.default) for name, option in self.options.items()}

    def start_op(self, rng: random.Random, choices: Sequence[Any]) -> NemesisOp:
        """A start op for the schedule: a choice drawn from ``choices``, then one of
        `starts` (drawn only when there are several)."""
        choice = rng.choice(choices)
        f = self.starts[0] if len(self.starts) == 1 else rng.choice(self.starts)
        return NemesisOp(f=f, value=choice if self.choice_key is None else
                         {self.choice_key: choice})


def _probability(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError(text)
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError(text)
    return value


def _table(*options: Option) -> dict[str, Option]:
    return {o.name: o for o in options}


def _arm_partition(s: FaultSetting) -> Armed:
    nemesis = PartitionNemesis(s.cluster, rng=s.rng, target=s.target, topologies=s.topologies)
    return Armed(nemesis, nemesis.topologies)


def _arm_loss(s: FaultSetting) -> Armed:
    nemesis = PacketNemesis(s.cluster, rng=s.rng, target=s.target, node_specs=s.node_specs,
                            kinds=("loss",), probability=s.options["loss_probability"])
    return Armed(nemesis, nemesis.node_specs)


def _arm_delay(s: FaultSetting) -> Armed:
    nemesis = PacketNemesis(s.cluster, rng=s.rng, target=s.target, node_specs=s.node_specs,
                            kinds=("delay",), delay_ms=s.options["delay_ms"],
                            jitter_ms=s.options["jitter_ms"])
    return Armed(nemesis, nemesis.node_specs)


def _arm_clock(s: FaultSetting) -> Armed:
    nemesis = ClockNemesis(s.cluster, target=s.target, rng=s.rng, node_specs=s.node_specs,
                           max_offset_ms=s.options["clock_max_offset_ms"])
    return Armed(nemesis, nemesis.node_specs)


def _arm_process(
    kind: type[KillNemesis | PauseNemesis | LoseUnsyncedNemesis],
) -> Callable[[FaultSetting], Armed]:
    def arm(s: FaultSetting) -> Armed:
        nemesis = kind(s.cluster, target=s.target, rng=s.rng, node_specs=s.node_specs)
        return Armed(nemesis, nemesis.node_specs)
    return arm


FAULTS: dict[str, Fault] = {fault.name: fault for fault in [
    Fault(name="partition", summary="cut the network into parts (halves, one, primaries, "
          "majorities-ring, bridge… see --topologies)",
          starts=("start-partition",), heal="stop-partition", arm=_arm_partition),
    Fault(name="loss", summary="lose a share of the packets some nodes receive",
          starts=("start-loss",), heal="stop-loss", choice_key="nodes",
          options=_table(Option(name="loss_probability", default=0.5, parse=_probability,
                                expected="a probability in (0, 1]",
                                help="the share of packets lost on each afflicted link")),
          arm=_arm_loss),
    Fault(name="delay", summary="hold the packets some nodes receive for a while",
          starts=("start-delay",), heal="stop-delay", choice_key="nodes",
          options=_table(Option(name="delay_ms", default=100.0, parse=positive_float,
                                expected="a number of milliseconds > 0",
                                help="how long each afflicted packet is held"),
                         Option(name="jitter_ms", default=10.0, parse=_non_negative_float,
                                expected="a number of milliseconds >= 0",
                                help="each packet's delay is uniform in delay ± jitter")),
          arm=_arm_delay),
    Fault(name="clock", summary="skew the wall clocks the database reads (libfaketime)",
          starts=("bump-clock", "strobe-clock", "scramble-clock"), heal="reset-clock",
          choice_key="nodes", needs=ClockSkewable,
          needs_why="it does not run under libfaketime, so clock faults would not reach "
                    "it; Go binaries such as etcd ignore libfaketime",
          options=_table(Option(name="clock_max_offset_ms", default=30_000,
                                parse=positive_int, expected="a whole number of ms > 0",
                                help="the largest offset a clock fault sets, either way")),
          arm=_arm_clock),
    Fault(name="pause", summary="freeze the database on some nodes (SIGSTOP), then resume it",
          starts=("pause",), heal="resume", needs=Pausable,
          needs_why="pause and resume the database on a node", arm=_arm_process(PauseNemesis)),
    Fault(name="kill", summary="kill the database on some nodes (SIGKILL), then start it",
          starts=("kill",), heal="start", needs=Killable,
          needs_why="kill and start the database on a node", arm=_arm_process(KillNemesis)),
    Fault(name=LOSE_UNSYNCED, summary="cut the power of some nodes: kill the database, lose "
          "what its disk never synced, start it again",
          starts=(LOSE_UNSYNCED,), heal=None, needs=Killable,
          needs_why="kill and start the database on a node",
          prepare=prepare_lazy_disks, settle=settle_lazy_disks,
          arm=_arm_process(LoseUnsyncedNemesis)),
]}
"""Every fault by the name ``--nemesis`` takes, in the order the final heal undoes them."""
