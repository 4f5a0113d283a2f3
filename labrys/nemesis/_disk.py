"""Disk faults: a power failure that loses what was never synced (``lose-unsynced``).

A SIGKILL loses nothing a process wrote (the kernel keeps it); a power failure loses
whatever was not yet synced. When a run asks for this fault, every node's data
directories are put on lazy disks before the database is set up (`prepare_lazy_disks`,
which the fault table runs; see `labrys.control.LazyDisks`), and then the op
``lose-unsynced NODES``, NODES being a node spec as for ``kill``, does on those nodes
what a power cut does (what the database wrote while it was being set up is synced
first, `settle_lazy_disks`: a disk has long written back a set-up made minutes ago):

1. SIGKILL the database (the target's `Killable.kill`) on every chosen node;
2. cut the power of their lazy disks: everything not synced is lost;
3. start the database again (`Killable.start`) on what was synced.

All chosen nodes go down together, like machines on one power feed: all killed, then
all disks, then all started. The op returns what each node lost::

    nemesis.invoke("lose-unsynced", "primaries")
    # {"nodes": ["n1"], "lost": {"n1": {"files": 2, "bytes": 3120, "namespace_ops": 0}}}

The fault has no heal: by the time the op returns, the nodes run again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from labrys.control import Cluster, LazyDisk, LazyDisks, Unsynced
from labrys.control._lazyfs import lazyfs_program
from labrys.errors import ControlError, LabrysError, UsageError
from labrys.nemesis._process import Killable, choose_nodes, node_specs_for

LOSE_UNSYNCED = "lose-unsynced"


def prepare_lazy_disks(cluster: Cluster) -> None:
    """Before the database is set up: every node puts its data on lazy disks.

    Raises:
        UsageError: a node's runtime cannot do that.
        ControlError: the lazy file system's program is not installed.
    """
    lazyfs_program()
    for node in cluster.nodes:
        if not isinstance(node, LazyDisks):
            raise UsageError(
                f"node {node.name} ({type(node).__name__}) cannot put data directories on "
                f"a lazy file system, so the {LOSE_UNSYNCED} fault cannot run on this runtime"
            )
        node.use_lazy_disks()


def settle_lazy_disks(cluster: Cluster) -> None:
    """After the database is set up: sync every lazy disk, so that the set-up's own
    writes (initdb's, which asks for none) count as long written back.

    Raises:
        ControlError: a disk could not be synced.
    """
    for node in cluster.nodes:
        for disk in node.lazy_disks() if isinstance(node, LazyDisks) else []:
            disk.sync()


class LoseUnsyncedNemesis:
    """``lose-unsynced NODES`` (see the module docstring)."""

    __slots__ = ("_cluster", "_nodes", "_rng", "_target", "node_specs")

    fs = frozenset({LOSE_UNSYNCED})

    def __init__(
        self,
        cluster: Cluster,
        *,
        target: object,
        rng: random.Random,
        node_specs: Sequence[str] | None = None,
    ) -> None:
        """Raises `UsageError` if the target cannot be killed or a node spec is unusable."""
        if not isinstance(target, Killable):
            raise UsageError(f"target {type(target).__name__} cannot be killed and started, "
                             f"so it cannot take the {LOSE_UNSYNCED} fault")
        self._cluster = cluster
        self._nodes = [n.name for n in cluster.nodes]
        self._target = target
        self._rng = rng
        self.node_specs = node_specs_for(cluster, target, node_specs)

    def invoke(self, f: str, value: Any) -> dict[str, Any]:
        if f != LOSE_UNSYNCED:
            raise UsageError(f"{type(self).__name__} does not handle f={f!r}")
        spec = self._rng.choice(self.node_specs) if value is None else value
        chosen = choose_nodes(spec, self._nodes, self._target, self._rng)
        disks = {name: self._disks(name) for name in chosen}
        for name in chosen:
            self._target.kill(name)
        lost = {name: _total([disk.power_failure() for disk in disks[name]]) for name in chosen}
        failure: LabrysError | None = None
        for name in chosen:
            try:
                self._target.start(name)
            except LabrysError as e:  # start the others all the same; re-raised below
                failure = failure or e
        if failure is not None:
            raise failure
        return {"nodes": chosen, "lost": {name: u.to_json() for name, u in lost.items()}}

    def heal(self) -> dict[str, Any]:
        """Nothing to undo: every op ends with its nodes running again."""
        return {}

    def teardown(self) -> None:
        """Nothing held: the lazy disks belong to their nodes."""

    def _disks(self, name: str) -> list[LazyDisk]:
        node = self._cluster.node(name)
        disks = node.lazy_disks() if isinstance(node, LazyDisks) else []
        if not disks:
            raise ControlError(
                f"{name} has no data directory on a lazy disk: the target keeps its data "
                "outside Node.data_dir, so a power failure would lose nothing"
            )
        return disks


def _total(parts: list[Unsynced]) -> Unsynced:
    return Unsynced(files=sum(p.files for p in parts), bytes=sum(p.bytes for p in parts),
                    namespace_ops=sum(p.namespace_ops for p in parts))
