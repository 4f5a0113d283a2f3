"""Network partitions: ``start-partition`` with a topology or spec, ``stop-partition``.

The value of ``start-partition`` is a topology name (see `_grudge`), an explicit
spec such as ``"n1|n2,n3"``, a grudge as a mapping, or None for a random choice among
the nemesis's topologies. The result is ``{"topology": spec, "partition": grudge}``
with the grudge actually installed; ``stop-partition`` returns ``{"partition": {}}``.
A new partition replaces the previous one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._grudge import MIN_NODES, TOPOLOGIES, grudge_from_spec
from labrys.nemesis._process import Primaries


def partition_topologies(cluster: Cluster, target: object | None) -> tuple[str, ...]:
    """The topologies that make sense for this cluster size and target."""
    n = len(cluster.nodes)
    return tuple(
        t
        for t in TOPOLOGIES
        if n >= MIN_NODES[t] and (t != "primaries" or isinstance(target, Primaries))
    )


class PartitionNemesis:
    """Cuts the network by grudge; heals by clearing every grudge."""

    __slots__ = ("_cluster", "_rng", "_target", "topologies")

    fs = frozenset({"start-partition", "stop-partition"})

    def __init__(
        self,
        cluster: Cluster,
        *,
        rng: random.Random,
        target: object | None = None,
        topologies: Sequence[str] | None = None,
    ):
        """Args:
        cluster: whose network to cut.
        rng: the source of every random choice.
        target: consulted for its primaries, if it implements `Primaries`.
        topologies: what a ``start-partition`` with no value picks from; by
            default every topology this cluster and target support.

        Raises:
            UsageError: if a topology is unknown or cannot cut this cluster.
        """
        self._cluster = cluster
        self._rng = rng
        self._target = target
        supported = partition_topologies(cluster, target)
        self.topologies = tuple(supported if topologies is None else topologies)
        for topology in self.topologies:
            if topology not in supported:
                raise UsageError(
                    f"partition {topology!r} cannot be used with {len(cluster.nodes)} nodes "
                    f"and this target (possible: {', '.join(supported) or 'none'})"
                )
        if not self.topologies:
            raise UsageError(f"no partition can cut {len(cluster.nodes)} node(s)")

    def invoke(self, f: str, value: Any) -> dict[str, Any]:
        if f == "stop-partition":
            return {"partition": self._cluster.partition({})}
        if f != "start-partition":
            raise UsageError(f"PartitionNemesis does not handle f={f!r}")
        spec = self._rng.choice(self.topologies) if value is None else value
        primaries = None
        if spec == "primaries" and isinstance(self._target, Primaries):
            primaries = self._target.primaries()
        names = [n.name for n in self._cluster.nodes]
        grudge = grudge_from_spec(spec, names, self._rng, primaries=primaries)
        topology = spec if isinstance(spec, str) else "grudge"
        return {"topology": topology, "partition": self._cluster.partition(grudge)}

    def heal(self) -> dict[str, Any]:
        return {"partition": self._cluster.partition({})}

    def teardown(self) -> None:
        self.heal()
