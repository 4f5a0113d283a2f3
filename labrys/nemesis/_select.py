"""Which nodes a fault hits: Jepsen's node specs.

=========  ===============================================================
one        one random node
minority   a random strict minority, as large as it can be: (n - 1) // 2
majority   a random majority, as small as it can be: n // 2 + 1
all        every node
primaries  the target's current primaries
[names]    exactly these nodes
=========  ===============================================================

Jepsen's ``:minority`` on an even cluster takes half the nodes, which is not a
minority; here a minority is always fewer than half, so killing a minority must
never cost a correct system its quorum. Random choices come from the passed
`random.Random` only. The result keeps the cluster's node order, so it reads the
same way in every history.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence

from labrys.errors import UsageError

NODE_SPECS = ("one", "minority", "majority", "all", "primaries")

NodeSpec = str | Sequence[str]
"""A spec name from `NODE_SPECS`, or a list of node names."""


def select_nodes(
    spec: NodeSpec,
    nodes: Sequence[str],
    rng: random.Random,
    *,
    primaries: Collection[str] | None = None,
) -> list[str]:
    """The nodes a spec picks out, in the cluster's order.

    Args:
        spec: a name from `NODE_SPECS`, or explicit node names.
        nodes: the cluster's node names, in order.
        rng: the source of every random choice.
        primaries: the target's current primaries, or None if it has no such notion.

    Raises:
        UsageError: for an unknown spec or node, a minority of fewer than 3 nodes,
            or ``primaries`` when there are none.
    """
    if not isinstance(spec, str):
        unknown = sorted(set(spec) - set(nodes))
        if unknown or not spec:
            raise UsageError(
                f"node list {list(spec)!r} must name some of {', '.join(nodes)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        chosen: Collection[str] = set(spec)
    elif spec == "one":
        chosen = {rng.choice(list(nodes))}
    elif spec == "minority":
        if len(nodes) < 3:
            raise UsageError(
                f"a minority of {len(nodes)} node(s) is nobody: use 'one' or more nodes"
            )
        chosen = set(rng.sample(list(nodes), (len(nodes) - 1) // 2))
    elif spec == "majority":
        chosen = set(rng.sample(list(nodes), len(nodes) // 2 + 1))
    elif spec == "all":
        chosen = set(nodes)
    elif spec == "primaries":
        if primaries is None:
            raise UsageError("node spec 'primaries' needs a target that knows its primaries")
        if not primaries:
            raise UsageError("node spec 'primaries': the target reports no primary right now")
        chosen = set(primaries)
    else:
        raise UsageError(
            f"unknown node spec {spec!r}: use one of {', '.join(NODE_SPECS)} or a list of nodes"
        )
    return [node for node in nodes if node in chosen]
