"""Membership changes: ``remove-member NODES``, and ``add-member`` to bring them back.

A consensus system changes its membership through its own log (Raft's configuration
changes), and a bug there loses data or splits the cluster as surely as a partition
does. Jepsen's etcd tests grow and shrink the cluster while clients run; this fault
does the same through a capability the target implements, `Membership`:

- ``remove-member SPEC`` picks nodes among the current members with a node spec
  (``one``, ``minority``, ``primaries``: the fault table allows no more), asks the
  cluster to remove each (through a member that stays), and stops what is left of it;
- ``add-member`` adds every removed node back as a *new* member: a new identity, an
  empty data directory, the whole state copied from the others, as an operator
  replacing a machine would. With a spec (or node names), only those.

It never shrinks the cluster below a majority of its original size: a removal that
would is refused (the op records why) and nothing is removed, so a correct system keeps
a quorum of its original members' worth and should stay available. The heal adds back
every node still removed, so a run ends with its full cluster. Results::

    nemesis.invoke("remove-member", "primaries")   # {"removed": ["n2"]}
    nemesis.invoke("add-member", None)             # {"added": ["n2"]}
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._process import choose_nodes, node_specs_for
from labrys.nemesis._select import select_nodes

MEMBER_TARGETS = ("one", "minority", "primaries")
"""The node specs a removal may draw from: never a majority, never all."""


@runtime_checkable
class Membership(Protocol):
    """A target whose cluster membership can be changed while it runs."""

    def remove_member(self, node: str) -> None:
        """Remove ``node``'s member from the cluster and stop its process.

        Raises:
            LabrysError: the cluster refused or did not answer.
        """
        ...

    def add_member(self, node: str) -> None:
        """Add ``node`` back as a new member with an empty data directory, start it,
        and return once it serves.

        Raises:
            LabrysError: the cluster refused, or the member did not start.
        """
        ...


class MemberNemesis:
    """Removes members and adds them back (see the module docstring)."""

    __slots__ = ("_nodes", "_removed", "_rng", "_target", "node_specs")

    fs = frozenset({"remove-member", "add-member"})

    def __init__(self, cluster: Cluster, *, target: object, rng: random.Random,
                 node_specs: Sequence[str] | None = None) -> None:
        """Raises `UsageError` if the target cannot change membership or a spec is unusable."""
        if not isinstance(target, Membership):
            raise UsageError(f"target {type(target).__name__} cannot remove and add members")
        self._target: Membership = target
        self._rng = rng
        self._nodes = [n.name for n in cluster.nodes]
        self._removed: list[str] = []
        self.node_specs = node_specs_for(cluster, target, node_specs, allowed=MEMBER_TARGETS)

    @property
    def members(self) -> list[str]:
        """The nodes that are members now, in the cluster's order."""
        return [n for n in self._nodes if n not in self._removed]

    def invoke(self, f: str, value: Any) -> dict[str, list[str]]:
        if f == "remove-member":
            spec = self._rng.choice(self.node_specs) if value is None else value
            chosen = choose_nodes(spec, self.members, self._target, self._rng)
            least = len(self._nodes) // 2 + 1
            if len(self.members) - len(chosen) < least:
                raise UsageError(
                    f"removing {', '.join(chosen)} would leave {len(self.members) - len(chosen)} "
                    f"of {len(self._nodes)} members, fewer than a majority ({least}); "
                    "nothing was removed")
            for node in chosen:
                self._target.remove_member(node)
                self._removed.append(node)
            return {"removed": chosen}
        if f == "add-member":
            chosen = (list(self._removed) if value is None
                      else [n for n in select_nodes(value, self._nodes, self._rng)
                            if n in self._removed])
            return {"added": self._add(chosen)}
        raise UsageError(f"{type(self).__name__} does not handle f={f!r}")

    def heal(self) -> dict[str, list[str]]:
        return {"added": self._add(list(self._removed))}

    def teardown(self) -> None:
        self.heal()

    def _add(self, nodes: list[str]) -> list[str]:
        for node in nodes:
            self._target.add_member(node)
            self._removed.remove(node)
        return [n for n in self._nodes if n in nodes]
