"""Packet faults: random loss and fixed delay with jitter, on the packets nodes receive.

``start-loss`` and ``start-delay`` take a node spec (see `_select`) of the nodes to
afflict, or a mapping with ``nodes`` and the fault's parameters, or None for a random
spec and the defaults:

    {"f": "start-loss",  "value": {"nodes": "one", "probability": 0.3}}
    {"f": "start-delay", "value": {"nodes": "majority", "delay_ms": 100, "jitter_ms": 10}}

Each chosen node suffers the fault on every packet it receives from the other nodes,
as Jepsen's netem faults act on one side of each link: a round trip between a
delayed node and a healthy one is one delay longer, between two delayed nodes two.
The result names the links, ``{"loss": {"n2": ["n1", "n3"]}, "probability": 0.3}``.
A new fault of a kind replaces the previous one of that kind; ``stop-loss`` and
``stop-delay`` undo them. One nemesis may handle both kinds, or one (``kinds``), which
is how the fault table makes ``loss`` and ``delay`` separate faults.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from labrys.control import Cluster
from labrys.errors import UsageError
from labrys.nemesis._process import Primaries, node_specs_for
from labrys.nemesis._select import select_nodes

_LOSS_KEYS = {"nodes", "probability"}
_DELAY_KEYS = {"nodes", "delay_ms", "jitter_ms"}


class PacketNemesis:
    """Loses or delays packets arriving at chosen nodes; heals by removing its kinds."""

    __slots__ = (
        "_cluster",
        "_rng",
        "_target",
        "delay_ms",
        "fs",
        "jitter_ms",
        "kinds",
        "node_specs",
        "probability",
    )

    def __init__(
        self,
        cluster: Cluster,
        *,
        rng: random.Random,
        target: object | None = None,
        node_specs: Sequence[str] | None = None,
        probability: float = 0.5,
        delay_ms: float = 100.0,
        jitter_ms: float = 10.0,
        kinds: Sequence[str] = ("loss", "delay"),
    ):
        """Args:
        cluster: whose network to afflict.
        rng: the source of every random choice, the jitter's seed included.
        target: consulted for its primaries, if it implements `Primaries`.
        node_specs: what a ``start-*`` with no nodes picks from; by default all.
        probability: the default loss probability.
        delay_ms: the default delay.
        jitter_ms: the default jitter (each packet's delay is uniform in delay ± jitter).
        kinds: which faults it handles: ``loss``, ``delay`` or both.
        """
        unknown = set(kinds) - {"loss", "delay"}
        if unknown or not kinds:
            raise UsageError(f"packet fault kinds {list(kinds)} must be among loss, delay")
        self.kinds = tuple(kinds)
        self.fs = frozenset(f"{verb}-{kind}" for kind in self.kinds for verb in ("start", "stop"))
        self._cluster = cluster
        self._rng = rng
        self._target = target
        self.node_specs = node_specs_for(cluster, target, node_specs)
        self.probability = probability
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms

    def invoke(self, f: str, value: Any) -> dict[str, Any]:
        if f not in self.fs:
            raise UsageError(f"PacketNemesis does not handle f={f!r}")
        if f == "stop-loss":
            return {"loss": self._cluster.lose_packets({}, probability=0.0)}
        if f == "stop-delay":
            return {"delay": self._cluster.delay_packets({}, delay_ms=0.0)}
        if f == "start-loss":
            options = self._options(value, _LOSS_KEYS)
            probability = float(options.get("probability", self.probability))
            grudge = self._grudge(options.get("nodes"))
            links = self._cluster.lose_packets(grudge, probability=probability)
            return {"loss": links, "probability": probability}
        options = self._options(value, _DELAY_KEYS)  # start-delay, the last of self.fs
        delay_ms = float(options.get("delay_ms", self.delay_ms))
        jitter_ms = float(options.get("jitter_ms", self.jitter_ms))
        grudge = self._grudge(options.get("nodes"))
        links = self._cluster.delay_packets(
            grudge, delay_ms=delay_ms, jitter_ms=jitter_ms, seed=self._rng.getrandbits(32)
        )
        return {"delay": links, "delay_ms": delay_ms, "jitter_ms": jitter_ms}

    def heal(self) -> dict[str, Any]:
        return {kind: self.invoke(f"stop-{kind}", None)[kind] for kind in self.kinds}

    def teardown(self) -> None:
        self.heal()

    def _options(self, value: Any, keys: set[str]) -> Mapping[str, Any]:
        if value is None or isinstance(value, str | list | tuple):
            return {} if value is None else {"nodes": value}
        if not isinstance(value, Mapping) or not set(value) <= keys:
            raise UsageError(
                f"packet fault value {value!r} must be a node spec or a mapping with "
                f"keys among {', '.join(sorted(keys))}"
            )
        return value

    def _grudge(self, spec: Any) -> dict[str, list[str]]:
        spec = self._rng.choice(self.node_specs) if spec is None else spec
        primaries = None
        if spec == "primaries" and isinstance(self._target, Primaries):
            primaries = self._target.primaries()
        names = [n.name for n in self._cluster.nodes]
        chosen = select_nodes(spec, names, self._rng, primaries=primaries)
        return {node: [peer for peer in names if peer != node] for node in chosen}
