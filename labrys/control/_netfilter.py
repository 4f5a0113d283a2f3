"""The iptables layout inside each node, as text in and text out.

Each node's namespace has its own filter table, and labrys owns all of it. At start-up
three chains are created and jumped to from INPUT, in this order:

    INPUT → labrys-partition   DROP from peers the node holds a grudge against
          → labrys-loss        DROP from chosen peers with a probability (statistic)
          → labrys-delay       NFQUEUE from chosen peers to a process that holds them

Faults act on packets *arriving* at a node, which is what a grudge says ("n2 will not
hear from n1") and makes every fault one rule per (node, peer). A fault is applied by
`iptables-restore --noflush` with the chain's declaration, which flushes that chain
and refills it in one atomic commit, so the previous fault of the same kind is replaced
and the other kinds are untouched. State is read back from the kernel with
``iptables -S CHAIN``, so a fresh process (the command line) sees what is in force.

The NFQUEUE rule uses ``--queue-bypass``: should the delaying process die, packets
flow undelayed instead of vanishing, which would be a different fault than asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PARTITION = "labrys-partition"
LOSS = "labrys-loss"
DELAY = "labrys-delay"
CHAINS = (PARTITION, LOSS, DELAY)

DELAY_QUEUE = 0
"""Queue numbers are per network namespace, so every node can use the same one."""

_RULE = re.compile(
    r"^-A (?P<chain>\S+) -s (?P<source>[0-9.]+)/32"
    r"(?: -m statistic --mode random --probability (?P<probability>[0-9.]+))?"
)


def base_layout() -> str:
    """The restore text that creates the three chains and their jumps in a fresh namespace."""
    lines = ["*filter", *(f":{chain} - [0:0]" for chain in CHAINS)]
    lines += [f"-A INPUT -j {chain}" for chain in CHAINS]
    return "\n".join([*lines, "COMMIT", ""])


def replace_chains(rules: dict[str, Iterable[str]]) -> str:
    """The restore text that sets each given chain to exactly the given rules.

    Args:
        rules: chain name → rule specifications without the ``-A CHAIN`` part.
    """
    lines = ["*filter"]
    for chain, specs in rules.items():
        lines.append(f":{chain} - [0:0]")
        lines += [f"-A {chain} {spec}" for spec in specs]
    return "\n".join([*lines, "COMMIT", ""])


def drop_from(source: str) -> str:
    return f"-s {source}/32 -j DROP"


def lose_from(source: str, probability: float) -> str:
    return f"-s {source}/32 -m statistic --mode random --probability {probability:.6f} -j DROP"


def queue_from(source: str) -> str:
    return f"-s {source}/32 -j NFQUEUE --queue-num {DELAY_QUEUE} --queue-bypass"


@dataclass(frozen=True, slots=True)
class ChainState:
    """What one chain of one node does: the sources it matches, and loss's probability."""

    sources: tuple[str, ...]
    probability: float | None


def parse_chain(listing: str, chain: str) -> ChainState:
    """Read back `iptables -S CHAIN` output as written by the functions above."""
    sources = []
    probability = None
    for line in listing.splitlines():
        match = _RULE.match(line)
        if match is None or match["chain"] != chain:
            continue
        sources.append(match["source"])
        if match["probability"] is not None:
            probability = float(match["probability"])
    return ChainState(tuple(sources), probability)
