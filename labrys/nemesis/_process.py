"""Process faults, done by the target: ``kill``/``start`` and ``pause``/``resume``.

Only the target knows which processes are its database and how to start them again
(etcd restarts with ``--initial-cluster-state existing``; PostgreSQL must first see
its old postmaster reaped), so these faults go through capability protocols that a
target implements if it can, as Jepsen's ``db/Kill`` and ``db/Pause``:

    class Etcd:                          # a target
        def kill(self, node): self.procs[node].kill()
        def start(self, node): self.procs[node] = self._spawn(node)
        def pause(self, node): self.procs[node].signal(signal.SIGSTOP)
        def resume(self, node): self.procs[node].signal(signal.SIGCONT)
        def primaries(self): return [self._leader()]

Which capability each fault needs is declared in the fault table (`_faults`), which
refuses a target that lacks it before any nemesis is built, and before any node exists
in a run. Values are node specs (see `_select`): ``kill`` with
``"minority"`` returns ``{"killed": ["n2"]}``. ``start`` and ``resume`` with no value
act on every node this nemesis killed or paused and not yet restored; with a spec,
on those it picks out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._select import NODE_SPECS, NodeSpec, select_nodes


@runtime_checkable
class Killable(Protocol):
    """A target whose database process can be killed and started again on a node."""

    def kill(self, node: str) -> None:
        """Kill the database on `node` at once (SIGKILL), and reap it."""
        ...

    def start(self, node: str) -> None:
        """Start the database on `node` again, with the data it had."""
        ...


@runtime_checkable
class Pausable(Protocol):
    """A target whose database process can be frozen and thawed on a node."""

    def pause(self, node: str) -> None:
        """Freeze the database on `node` (SIGSTOP to its process group)."""
        ...

    def resume(self, node: str) -> None:
        """Let it run again (SIGCONT)."""
        ...


@runtime_checkable
class Primaries(Protocol):
    """A target with a notion of primary (leader) nodes."""

    def primaries(self) -> Collection[str]:
        """The nodes that currently believe they lead; possibly none, mid-election."""
        ...


def node_specs_for(
    cluster: Cluster, target: object, requested: Sequence[str] | None
) -> tuple[str, ...]:
    """The node specs a fault may draw from: `requested`, or all that fit by default.

    ``primaries`` fits a target that implements `Primaries`; ``minority`` a cluster
    of 3 nodes or more.

    Raises:
        UsageError: if a requested spec does not fit, or none is left.
    """
    fits = tuple(
        s
        for s in NODE_SPECS
        if (s != "primaries" or isinstance(target, Primaries))
        and (s != "minority" or len(cluster.nodes) >= 3)
    )
    chosen = fits if requested is None else tuple(requested)
    unfit = [s for s in chosen if s not in fits]
    if unfit or not chosen:
        raise UsageError(
            f"node spec(s) {', '.join(unfit) or '(none)'} cannot be used with "
            f"{type(target).__name__} on {len(cluster.nodes)} node(s) (possible: {', '.join(fits)})"
        )
    return chosen


def choose_nodes(spec: NodeSpec, nodes: Sequence[str], target: object,
                 rng: random.Random) -> list[str]:
    """The nodes `spec` picks out now, asking the target for its primaries if need be.

    Raises:
        UsageError: as `select_nodes`.
    """
    primaries = None
    if spec == "primaries" and isinstance(target, Primaries):
        primaries = target.primaries()
    return select_nodes(spec, nodes, rng, primaries=primaries)


class _ProcessNemesis:
    """The shared shape of kill/start and pause/resume: a fault, its undo, and who is hit.

    A subclass names its four words: the fault and its undo (which are also the target's
    method names, so the target must have them), then how the result reports each.
    """

    __slots__ = ("_affected", "_do", "_nodes", "_rng", "_target", "_undo", "node_specs")

    _words: ClassVar[tuple[str, str, str, str]]

    def __init__(
        self,
        cluster: Cluster,
        *,
        target: object,
        rng: random.Random,
        node_specs: Sequence[str] | None = None,
    ):
        """Raises `UsageError` if a node spec is unusable."""
        fault, undo = self._words[:2]
        self._nodes = [n.name for n in cluster.nodes]
        self._target = target
        self._rng = rng
        self._do: Callable[[str], None] = getattr(target, fault)
        self._undo: Callable[[str], None] = getattr(target, undo)
        self.node_specs = node_specs_for(cluster, target, node_specs)
        self._affected: list[str] = []

    @property
    def fs(self) -> frozenset[str]:
        return frozenset(self._words[:2])

    def invoke(self, f: str, value: Any) -> dict[str, list[str]]:
        fault, undo, done, undone = self._words
        if f == fault:
            spec = self._rng.choice(self.node_specs) if value is None else value
            chosen = choose_nodes(spec, self._nodes, self._target, self._rng)
            for node in chosen:
                self._do(node)
                if node not in self._affected:
                    self._affected.append(node)
            return {done: chosen}
        if f == undo:
            if value is None:
                chosen = list(self._affected)
            else:
                chosen = select_nodes(value, self._nodes, self._rng)
            return {undone: self._restore(chosen)}
        raise UsageError(f"{type(self).__name__} does not handle f={f!r}")

    def heal(self) -> dict[str, list[str]]:
        return {self._words[3]: self._restore(list(self._affected))}

    def teardown(self) -> None:
        self.heal()

    def _restore(self, nodes: list[str]) -> list[str]:
        for node in nodes:
            self._undo(node)
            if node in self._affected:
                self._affected.remove(node)
        return [n for n in self._nodes if n in nodes]


class KillNemesis(_ProcessNemesis):
    """``kill`` (through the target) and ``start``; heals by starting every killed node."""

    __slots__ = ()

    _words = ("kill", "start", "killed", "started")


class PauseNemesis(_ProcessNemesis):
    """``pause`` (through the target) and ``resume``; heals by resuming every paused node."""

    __slots__ = ()

    _words = ("pause", "resume", "paused", "resumed")
