"""Grudges, and the partition topologies that make them.

A grudge maps each node to the nodes it drops packets from. Most topologies are
*complete* grudges built from components: every node drops every node outside its
own component, so ``n1|n2,n3`` becomes ``{n1: {n2, n3}, n2: {n1}, n3: {n1}}``. The
topologies are Jepsen's (``jepsen.nemesis`` and ``jepsen.nemesis.combined``):

=================  ============================================================
halves             the nodes in order, cut in two, smaller half first:
                   ``n1,n2 | n3,n4,n5``
random-halves      the same on a shuffled order: a random minority and majority
one                one random node alone
primaries          each primary alone, the other nodes together (needs a target
                   that knows its primaries)
majorities-ring    every node sees a majority, and no two see the same one;
                   for up to 5 nodes a ring where each node sees its neighbours,
                   for more a random graph in which every node has a majority
bridge             two halves, and one node that both halves still see
minority-third     fewer than a third of the nodes cut off from the rest (what a
                   Byzantine-tolerant system must survive)
=================  ============================================================

An explicit spec names the components: ``n1|n2,n3``. A node it does not mention
stays connected to everyone, as in Jepsen's `complete-grudge`, so ``n1|n2`` on
three nodes leaves n3 as a bridge.

Randomness comes only from the `random.Random` passed in, so a seed replays the
same partitions. A topology that cannot be built on this many nodes (halves of one
node, a third of three) raises `UsageError` rather than quietly cutting nothing.
Majorities rings on 3 nodes are one-way (n1 drops n2 but n2 hears n1): no
symmetric cut of 3 nodes gives each a distinct majority.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence

from labrys.errors import UsageError

Components = list[list[str]]

TOPOLOGIES = (
    "halves",
    "random-halves",
    "one",
    "primaries",
    "majorities-ring",
    "bridge",
    "minority-third",
)

MIN_NODES = {
    "halves": 2,
    "random-halves": 2,
    "one": 2,
    "primaries": 2,
    "majorities-ring": 3,
    "bridge": 3,
    "minority-third": 4,
}
"""The fewest nodes on which each topology cuts anything."""


def majority(n: int) -> int:
    """The smallest number of nodes that is more than half of `n`."""
    return n // 2 + 1


def minority_third(n: int) -> int:
    """The most nodes that stay under a third of `n` (Jepsen's `minority-third`)."""
    return (n - 1) // 3


def complete_grudge(components: Sequence[Collection[str]]) -> dict[str, frozenset[str]]:
    """Every node drops every node of the other components."""
    universe = frozenset().union(*components)
    grudge = {}
    for component in components:
        others = universe - frozenset(component)
        for node in component:
            grudge[node] = others
    return grudge


def bisect(nodes: Sequence[str]) -> Components:
    """The nodes cut in two, smaller half first (Jepsen's `bisect`)."""
    middle = len(nodes) // 2
    return [list(nodes[:middle]), list(nodes[middle:])]


def bridge(nodes: Sequence[str]) -> dict[str, frozenset[str]]:
    """Two halves, with the first node of the larger half seen by, and seeing, all."""
    halves = bisect(nodes)
    middle = halves[1][0]
    grudge = complete_grudge(halves)
    del grudge[middle]
    return {node: peers - {middle} for node, peers in grudge.items()}


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> dict[str, frozenset[str]]:
    """A grudge in which every node sees a majority, but no two nodes the same one.

    Up to 5 nodes: shuffle into a ring; each node sees the majority-sized window of
    the ring centred on it. Above 5 no such ring exists for every size (7 nodes), so,
    like Jepsen's stochastic variant, repeatedly link a least-connected node to
    another least-connected node it cannot yet see, until all see a majority.
    """
    order = list(nodes)
    rng.shuffle(order)
    n, m = len(order), majority(len(order))
    universe = frozenset(order)
    if n <= 5:
        grudge = {}
        for i in range(n):
            window = [order[(i + j) % n] for j in range(m)]
            grudge[window[m // 2]] = universe - frozenset(window)
        return grudge
    sees = {node: {node} for node in order}
    while True:
        # Stable sort on a fresh shuffle: least connected first, ties broken at random.
        rng.shuffle(order)
        order.sort(key=lambda node: len(sees[node]))
        a = order[0]
        if len(sees[a]) >= m:
            return {node: universe - frozenset(seen) for node, seen in sees.items()}
        b = next(node for node in order if node not in sees[a])
        sees[a].add(b)
        sees[b].add(a)


def parse_components(spec: str, nodes: Sequence[str]) -> Components:
    """Read an explicit partition such as ``n1|n2,n3`` into its components.

    Raises:
        UsageError: for an unknown node, a node named twice, an empty component,
            or fewer than two components.
    """
    components = [[name.strip() for name in part.split(",")] for part in spec.split("|")]
    known = set(nodes)
    seen: set[str] = set()
    for component in components:
        for name in component:
            if not name:
                raise UsageError(f"empty node name in partition {spec!r}; write e.g. n1|n2,n3")
            if name not in known:
                raise UsageError(
                    f"unknown node {name!r} in partition {spec!r} (nodes: {', '.join(nodes)})"
                )
            if name in seen:
                raise UsageError(f"node {name!r} is in two components of partition {spec!r}")
            seen.add(name)
    if len(components) < 2:
        raise UsageError(f"partition {spec!r} has one component; separate them with |")
    return components


def grudge_from_spec(
    spec: str | Mapping[str, Collection[str]],
    nodes: Sequence[str],
    rng: random.Random,
    *,
    primaries: Collection[str] | None = None,
) -> dict[str, frozenset[str]]:
    """The grudge a partition spec means on these nodes.

    Args:
        spec: a topology name, an explicit spec such as ``n1|n2,n3``, or a grudge.
        nodes: the cluster's node names, in order.
        rng: the source of every random choice.
        primaries: the target's current primaries, for the ``primaries`` topology;
            None when the target has no notion of a primary.

    Raises:
        UsageError: for an unknown topology, a malformed spec, or a topology that
            cannot cut this many nodes.
    """
    if isinstance(spec, Mapping):
        unknown = sorted(({*spec} | {p for peers in spec.values() for p in peers}) - set(nodes))
        if unknown:
            raise UsageError(f"unknown node(s) {', '.join(unknown)} in grudge")
        return {node: frozenset(peers) for node, peers in spec.items()}
    if "|" in spec:
        return complete_grudge(parse_components(spec, nodes))
    if spec not in MIN_NODES:
        raise UsageError(
            f"unknown partition {spec!r}: use one of {', '.join(TOPOLOGIES)}, "
            "or name the components, e.g. n1|n2,n3"
        )
    if len(nodes) < MIN_NODES[spec]:
        raise UsageError(
            f"partition {spec!r} needs at least {MIN_NODES[spec]} nodes, not {len(nodes)}"
        )
    if spec != "primaries":
        return _BUILDERS[spec](list(nodes), rng)
    if primaries is None:
        raise UsageError("partition 'primaries' needs a target that knows its primaries")
    if not primaries:
        raise UsageError("partition 'primaries': the target reports no primary right now")
    rest = [n for n in nodes if n not in primaries]
    return complete_grudge([*([p] for p in sorted(primaries)), rest])


def _shuffled(nodes: list[str], rng: random.Random) -> list[str]:
    rng.shuffle(nodes)
    return nodes


def _one(nodes: list[str], rng: random.Random) -> dict[str, frozenset[str]]:
    loner = rng.choice(nodes)
    return complete_grudge([[loner], [n for n in nodes if n != loner]])


def _minority_third(nodes: list[str], rng: random.Random) -> dict[str, frozenset[str]]:
    third = minority_third(len(nodes))
    nodes = _shuffled(nodes, rng)
    return complete_grudge([nodes[:third], nodes[third:]])


_BUILDERS: dict[str, Callable[[list[str], random.Random], dict[str, frozenset[str]]]] = {
    "halves": lambda nodes, rng: complete_grudge(bisect(nodes)),
    "random-halves": lambda nodes, rng: complete_grudge(bisect(_shuffled(nodes, rng))),
    "one": _one,
    "majorities-ring": majorities_ring,
    "bridge": lambda nodes, rng: bridge(_shuffled(nodes, rng)),
    "minority-third": _minority_third,
}


def grudge_to_json(grudge: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """A grudge as sorted JSON data, nodes with no grudge left out."""
    return {node: sorted(peers) for node, peers in sorted(grudge.items()) if peers}
