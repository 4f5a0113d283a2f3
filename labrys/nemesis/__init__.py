"""Faults, done for real and undone for sure.

The problem: a distributed database shows its bugs when the network splits, nodes
die or freeze, packets go missing or arrive late, and clocks disagree. The fault
injector (Jepsen's *nemesis*) must do exactly that, record exactly what it did, and
undo all of it afterwards.

The central abstraction is the `Nemesis` protocol: ``fs`` (the op functions it
answers), ``invoke(f, value)`` returning a JSON-ready account of what was done, which
the runner stores as the value of a ``process: "nemesis"`` op, ``heal()`` and
``teardown()``. The nemeses:

=====================  =====================================  ============================
nemesis                ops                                    acts through
=====================  =====================================  ============================
`PartitionNemesis`     start-partition SPEC, stop-partition   `Cluster.partition`
`KillNemesis`          kill NODES, start                      the target's `Killable`
`PauseNemesis`         pause NODES, resume                    the target's `Pausable`
`PacketNemesis`        start-loss, stop-loss, start-delay,    `Cluster.lose_packets`,
                       stop-delay                             `Cluster.delay_packets`
`ClockNemesis`         bump-clock, strobe-clock,              the target's `ClockSkewable`
                       scramble-clock, reset-clock            (libfaketime)
`LoseUnsyncedNemesis`  lose-unsynced NODES (no heal: the      the target's `Killable`, the
                       nodes run again when it returns)       nodes' `LazyDisks`
=====================  =====================================  ============================

Every fault is declared once, in the table `FAULTS` (``_faults``): its name (what
``--nemesis`` takes), the ops that start and heal it, its ``--option`` keys, the
capability it needs from the target, and how to arm its nemesis. The package, the run
orchestration's fault plan, the test spec and the live display all read that table;
adding a fault is one entry there plus its nemesis. `compose` joins nemeses; `package`
builds the composed nemesis for a test's requested faults, with its schedule (fault,
heal, fault, heal… every ``interval_s``) and its final heal. Example::

    from labrys.nemesis import NemesisOptions, package

    pkg = package(cluster, NemesisOptions(faults=("partition", "pause"), interval_s=5),
                  target=db, rng=random.Random(seed))
    pkg.nemesis.invoke("start-partition", "n1|n2,n3")
    # {"topology": "n1|n2,n3", "partition": {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}}

Choices that are not obvious: process and clock faults go through capability
protocols the target implements, and a target that lacks one is refused before the
run starts, so no run records a fault that never happened; all randomness comes from
an explicit `random.Random`; topologies and node specs are Jepsen's, with the
differences written down in `_grudge` and `_select`.
"""

from __future__ import annotations

from labrys.control import Grudge
from labrys.nemesis._clock import ClockNemesis, ClockSkewable, faketime_env
from labrys.nemesis._disk import LoseUnsyncedNemesis
from labrys.nemesis._faults import FAULTS, Fault
from labrys.nemesis._grudge import (
    TOPOLOGIES,
    bisect,
    bridge,
    complete_grudge,
    grudge_from_spec,
    grudge_to_json,
    majorities_ring,
    majority,
    minority_third,
    parse_components,
)
from labrys.nemesis._nemesis import Composed, Nemesis, NemesisOp, compose
from labrys.nemesis._package import NemesisOptions, Package, package
from labrys.nemesis._packet import PacketNemesis
from labrys.nemesis._partition import PartitionNemesis
from labrys.nemesis._process import Killable, KillNemesis, Pausable, PauseNemesis, Primaries
from labrys.nemesis._select import NODE_SPECS, select_nodes

__all__ = [
    "FAULTS",
    "NODE_SPECS",
    "TOPOLOGIES",
    "ClockNemesis",
    "ClockSkewable",
    "Composed",
    "Fault",
    "Grudge",
    "KillNemesis",
    "Killable",
    "LoseUnsyncedNemesis",
    "Nemesis",
    "NemesisOp",
    "NemesisOptions",
    "Package",
    "PacketNemesis",
    "PartitionNemesis",
    "Pausable",
    "PauseNemesis",
    "Primaries",
    "bisect",
    "bridge",
    "complete_grudge",
    "compose",
    "faketime_env",
    "grudge_from_spec",
    "grudge_to_json",
    "majorities_ring",
    "majority",
    "minority_third",
    "package",
    "parse_components",
    "select_nodes",
]
