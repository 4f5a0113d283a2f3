"""Clock faults through libfaketime: ``bump-clock``, ``strobe-clock``, ``scramble-clock``,
``reset-clock``.

Nodes in namespaces share the machine's one real clock, and `unshare --time` moves only
the monotonic clocks, so wall-clock skew is done per process: libfaketime, preloaded
into the database, reads an offset from a file on every call
(``FAKETIME_TIMESTAMP_FILE`` with ``FAKETIME_NO_CACHE=1``), and the nemesis rewrites
that file. The monotonic clock is left alone (``FAKETIME_DONT_FAKE_MONOTONIC=1``), as
on a real machine whose wall clock is stepped.

This only works for binaries that read the time through libc. Go binaries (etcd) read
it through the vDSO and never see the offset, and Debian's Redis 7 aborts at start-up
under libfaketime. So a target opts in by implementing `ClockSkewable`: it starts its
processes with `faketime_env` and says which file each node reads. Any other target is
refused (the fault table's ``clock`` entry needs `ClockSkewable`) before the run
starts, saying why, rather than recording clock faults that never happened. The
library is looked for, and the clock files written, on the node (`Node.run`,
`Node.write_file`), which is where the processes read them.

Values, all optional (None picks at random within ``max_offset_ms``):

    {"f": "bump-clock",     "value": {"n1": 5000, "n3": -250}}          # add ms
    {"f": "strobe-clock",   "value": {"nodes": "one", "delta_ms": 200,
                                      "period_ms": 10, "duration_s": 1}}
    {"f": "scramble-clock", "value": {"nodes": "all"}}                   # random offsets
    {"f": "reset-clock",    "value": None}                               # all to zero

Each returns ``{"offsets_ms": {node: offset}}`` for the nodes it touched, plus what it
was asked to do. ``strobe-clock`` flips the offset between its old value and old +
delta every period for the duration, and returns when done, as Jepsen's does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labrys.control import Cluster, Node
from labrys.errors import ControlError, UsageError
from labrys.nemesis._process import Primaries, node_specs_for
from labrys.nemesis._select import select_nodes

_LIBRARY_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"


@runtime_checkable
class ClockSkewable(Protocol):
    """A target whose processes read wall time through libfaketime.

    It starts every database process with ``env=faketime_env(clock_file)`` and its
    binaries take the time from libc (not Go's vDSO path).
    """

    def clock_file(self, node: str) -> Path:
        """The libfaketime timestamp file the processes on `node` read."""
        ...


def faketime_env(node: Node, clock_file: Path) -> dict[str, str]:
    """The environment that puts the wall clock of a process on ``node`` under
    ``clock_file``'s offset (a path on that node).

    Creates the file with a zero offset if it does not exist, so the process starts on
    true time.

    Raises:
        ControlError: if libfaketime is not installed on the node.
    """
    listing = node.run(["sh", "-c", f"ls {_LIBRARY_GLOB}"])
    found = sorted(listing.stdout.split()) if listing.ok else []
    if not found:
        raise ControlError(
            f"{node.name}: libfaketime is not installed: `apt-get install libfaketime`")
    if not node.exists(clock_file):
        node.write_file(clock_file, _format_offset(0))
    return {
        "LD_PRELOAD": found[0],
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        # With the monotonic clock left alone, libfaketime's "monotonic fix" for timed
        # waits must be off too: left on, a JVM's timed waits return at once and spin
        # (parkNanos(10 ms) came back 90,000 times a second here, and Cassandra never
        # finished starting).
        "FAKETIME_FORCE_MONOTONIC_FIX": "0",
    }


def _format_offset(offset_ms: int) -> str:
    # libfaketime reads "+1.500" as one and a half seconds ahead.
    return f"{offset_ms / 1000:+.3f}\n"


class ClockNemesis:
    """Skews the wall clocks a `ClockSkewable` target's processes see; heals to zero."""

    __slots__ = (
        "_cluster",
        "_nodes",
        "_offsets",
        "_rng",
        "_sleep",
        "_target",
        "max_offset_ms",
        "node_specs",
    )

    fs = frozenset({"bump-clock", "strobe-clock", "scramble-clock", "reset-clock"})

    def __init__(
        self,
        cluster: Cluster,
        *,
        target: object,
        rng: random.Random,
        node_specs: Sequence[str] | None = None,
        max_offset_ms: int = 30_000,
        sleep: Callable[[float], None] = time.sleep,
    ):
        """Args:
        cluster: whose nodes hold the clock files.
        target: the database; must implement `ClockSkewable` (the fault table refuses
            one that does not, before this is built).
        rng: the source of every random choice.
        node_specs: what a fault with no nodes picks from; by default all.
        max_offset_ms: the largest offset a random choice makes, either way.
        sleep: how a strobe waits between flips.
        """
        self._cluster = cluster
        self._target: ClockSkewable = target  # type: ignore[assignment]
        self._rng = rng
        self._sleep = sleep
        self._nodes = [n.name for n in cluster.nodes]
        self._offsets = dict.fromkeys(self._nodes, 0)
        self.node_specs = node_specs_for(cluster, target, node_specs)
        self.max_offset_ms = max_offset_ms

    def invoke(self, f: str, value: Any) -> dict[str, Any]:
        if f == "bump-clock":
            if isinstance(value, Mapping) and "nodes" not in value:
                deltas = {self._known(n): int(d) for n, d in value.items()}
            else:
                deltas = {n: self._random_offset() for n in self._choose(value)}
            for node, delta in deltas.items():
                self._set(node, self._offsets[node] + delta)
            return {"bumped_ms": deltas, "offsets_ms": self._report(deltas)}
        if f == "scramble-clock":
            chosen = self._choose(value if value is not None else "all")
            for node in chosen:
                self._set(node, self._random_offset())
            return {"offsets_ms": self._report(chosen)}
        if f == "strobe-clock":
            return self._strobe(value)
        if f == "reset-clock":
            chosen = self._choose(value if value is not None else "all")
            for node in chosen:
                self._set(node, 0)
            return {"offsets_ms": self._report(chosen)}
        raise UsageError(f"ClockNemesis does not handle f={f!r}")

    def heal(self) -> dict[str, Any]:
        for node in self._nodes:
            self._set(node, 0)
        return {"offsets_ms": self._report(self._nodes)}

    def teardown(self) -> None:
        self.heal()

    def _strobe(self, value: Any) -> dict[str, Any]:
        options = dict(value) if isinstance(value, Mapping) else {"nodes": value}
        chosen = self._choose(options)
        delta_ms = int(options.get("delta_ms", self._random_offset()))
        period_ms = float(options.get("period_ms", 10.0))
        duration_s = float(options.get("duration_s", 1.0))
        if period_ms <= 0 or duration_s < 0:
            raise UsageError(f"strobe period must be > 0 and duration >= 0, not {options}")
        base = {node: self._offsets[node] for node in chosen}
        flips = max(1, int(duration_s * 1000 / period_ms))
        for i in range(flips):
            for node in chosen:
                self._set(node, base[node] + (delta_ms if i % 2 == 0 else 0))
            self._sleep(period_ms / 1000)
        for node in chosen:
            self._set(node, base[node])
        return {
            "strobed": {"delta_ms": delta_ms, "period_ms": period_ms, "duration_s": duration_s},
            "offsets_ms": self._report(chosen),
        }

    def _choose(self, value: Any) -> list[str]:
        """The nodes a value names: a node spec, ``{"nodes": spec}``, or None for random."""
        spec = value.get("nodes") if isinstance(value, Mapping) else value
        spec = self._rng.choice(self.node_specs) if spec is None else spec
        primaries = None
        if spec == "primaries" and isinstance(self._target, Primaries):
            primaries = self._target.primaries()
        return select_nodes(spec, self._nodes, self._rng, primaries=primaries)

    def _known(self, node: str) -> str:
        if node not in self._offsets:
            raise UsageError(f"unknown node {node!r} (nodes: {', '.join(self._nodes)})")
        return node

    def _random_offset(self) -> int:
        return self._rng.randint(-self.max_offset_ms, self.max_offset_ms)

    def _set(self, node: str, offset_ms: int) -> None:
        path = self._target.clock_file(node)
        self._cluster.node(node).write_file(path, _format_offset(offset_ms))
        self._offsets[node] = offset_ms

    def _report(self, nodes: Sequence[str] | Mapping[str, Any]) -> dict[str, int]:
        return {node: self._offsets[node] for node in self._nodes if node in nodes}
