"""Network faults by iptables inside each node, for every runtime whose nodes run iptables.

A namespace, a container and a machine reached over SSH all have a filter table of their
own that labrys may change, so the faults are the same everywhere: rules in the chains
`_netfilter` lays out, installed with ``iptables-restore --noflush`` run *on the node*
(`Node.run`), and read back with ``iptables -S``. `FirewalledCluster` holds that logic
once; a runtime's cluster inherits it and says only how a node runs the packet delay
process (`FirewalledCluster._delay_program`), since where a Python with NetfilterQueue
lives differs: the control machine's own for namespaces, the image's for containers, a
configured one over SSH.

Every node is changed concurrently (a thread each), so a partition of five nodes costs
about one command's time on any runtime.
"""

from __future__ import annotations

import atexit
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from labrys.control import _netfilter
from labrys.control._node import Grudge, Node, Process
from labrys.errors import ControlError, UsageError

DELAY_SCRIPT = Path(__file__).with_name("_nfqdelay.py")
"""The packet delay process, a stand-alone script (it imports nothing of labrys)."""

DELAY_LOG = "labrys-delay.log"

NODE_PACKAGES = ("iptables", "iproute2", "procps", "util-linux", "python3", "libfaketime",
                 "libnetfilter-queue1")
"""The Debian packages every node needs for labrys itself, whatever the target: iptables
for the network faults, Python and libnetfilter-queue for the packet delay process (and
for signalling, see `kill_command`), ``ps``, ``setpriv``, and libfaketime for clock
faults. The docker runtime builds them into every image; the ssh runtime installs those
a machine lacks; this machine has them from ``make setup``."""


@dataclass(frozen=True, slots=True)
class NetworkFaults:
    """The network faults in force, read back from the nodes' iptables.

    Attributes:
        partition: node → peers it drops everything from.
        loss: node → peers it loses packets from.
        loss_probability: the loss rules' probability, if any.
        delay: node → peers whose packets it delays.
    """

    partition: dict[str, list[str]]
    loss: dict[str, list[str]]
    loss_probability: float | None
    delay: dict[str, list[str]]


def on_every_node(nodes: Sequence[Node], action: Callable[[Node], object]) -> None:
    """Run ``action`` on every node at once; the first error is raised once all are done."""
    with ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
        for future in [pool.submit(action, node) for node in nodes]:
            future.result()


def restore(node: Node, text: str) -> None:
    """Apply ``iptables-restore --noflush`` text on ``node``.

    Raises:
        ControlError: iptables refused it (naming the node and iptables's complaint).
    """
    node.run(["iptables-restore", "--noflush"], input=text).check()


class FirewalledCluster:
    """The `Cluster` network methods, by iptables on the nodes (see the module docstring).

    A subclass provides ``nodes``, ``name``, ``teardown`` and ``_delay_program``, and
    initialises ``_delayers`` to an empty dict and ``_owner_pid`` to its creator's PID.
    """

    __slots__ = ()

    _delayers: dict[str, Process]
    _owner_pid: int

    def teardown(self) -> None:
        raise NotImplementedError

    def _tear_down_at_exit(self, *, persistent: bool) -> None:
        """Unless the cluster is to outlive this process, tear it down when it exits."""
        if not persistent:
            atexit.register(self._teardown_at_exit)

    def _teardown_at_exit(self) -> None:
        # A forked child inherits atexit handlers; only the creator tears down.
        if os.getpid() == self._owner_pid:
            self.teardown()

    @property
    def nodes(self) -> Sequence[Node]:
        raise NotImplementedError

    @property
    def name(self) -> str:
        raise NotImplementedError

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise UsageError(
            f"no node {name!r} in cluster {self.name} (nodes: "
            f"{', '.join(n.name for n in self.nodes)})"
        )

    def _delay_program(self, node: Node) -> list[str]:
        """The command that runs the delay script on ``node`` (its arguments follow).

        Raises:
            ControlError: the node cannot delay packets, saying what it lacks.
        """
        raise NotImplementedError

    def partition(self, grudge: Grudge) -> dict[str, list[str]]:
        """Make each node drop every packet from the peers in its grudge (see `Cluster`)."""
        normal = self._normalise(grudge)
        self._replace(_netfilter.PARTITION, normal, _netfilter.drop_from)
        return normal

    def lose_packets(self, grudge: Grudge, *, probability: float) -> dict[str, list[str]]:
        """Make each node lose packets from the peers in its grudge with `probability`."""
        if not 0.0 <= probability <= 1.0:
            raise UsageError(f"loss probability must be within [0, 1], not {probability}")
        normal = self._normalise(grudge)
        self._replace(
            _netfilter.LOSS, normal, lambda address: _netfilter.lose_from(address, probability)
        )
        return normal

    def delay_packets(
        self, grudge: Grudge, *, delay_ms: float, jitter_ms: float = 0.0, seed: int = 0
    ) -> dict[str, list[str]]:
        """Delay packets from the peers in each node's grudge (see `Cluster`).

        One process per delayed node holds its packets; it is started and bound to
        the node's queue before the rules that feed it are installed.
        """
        if delay_ms < 0 or jitter_ms < 0:
            raise UsageError(f"delay and jitter must be >= 0 ms, not {delay_ms} and {jitter_ms}")
        normal = self._normalise(grudge)
        self._replace(_netfilter.DELAY, {}, _netfilter.queue_from)
        self._stop_delayers()
        if not normal:
            return normal
        rng = random.Random(seed)
        for name in normal:
            node = self.node(name)
            node.remove(DELAY_LOG)
            self._delayers[name] = node.spawn(
                [
                    *self._delay_program(node),
                    "--queue", str(_netfilter.DELAY_QUEUE),
                    "--delay-ms", str(delay_ms),
                    "--jitter-ms", str(jitter_ms),
                    "--seed", str(rng.getrandbits(32)),
                ],
                log_path=node.directory / DELAY_LOG,
            )  # fmt: skip
        for name, process in self._delayers.items():
            _wait_ready(self.node(name), process)
        self._replace(_netfilter.DELAY, normal, _netfilter.queue_from)
        return normal

    def heal(self) -> None:
        """Undo partitions, loss and delay on every node, in one commit per node.

        Delay processes started by another process (another cluster object on the same
        cluster) are left idle, fed by no rule, until teardown or `down`.
        """
        empty = _netfilter.replace_chains({chain: () for chain in _netfilter.CHAINS})
        on_every_node(self.nodes, lambda node: restore(node, empty))
        self._stop_delayers()

    def faults(self) -> NetworkFaults:
        """The network faults in force now, read from every node's iptables."""
        by_address = {n.address: n.name for n in self.nodes}
        found: dict[str, dict[str, list[str]]] = {c: {} for c in _netfilter.CHAINS}
        probability = None
        for node in self.nodes:
            listing = node.run(["iptables", "-S"]).check().stdout
            for chain in _netfilter.CHAINS:
                state = _netfilter.parse_chain(listing, chain)
                if state.sources:
                    found[chain][node.name] = sorted(by_address.get(a, a) for a in state.sources)
                if state.probability is not None:
                    probability = state.probability
        return NetworkFaults(
            partition=found[_netfilter.PARTITION],
            loss=found[_netfilter.LOSS],
            loss_probability=probability,
            delay=found[_netfilter.DELAY],
        )

    def _normalise(self, grudge: Grudge) -> dict[str, list[str]]:
        names = {n.name for n in self.nodes}
        normal = {}
        for node, peers in grudge.items():
            unknown = sorted(({node} | set(peers)) - names)
            if unknown:
                raise UsageError(
                    f"unknown node(s) {', '.join(unknown)} in grudge "
                    f"(nodes: {', '.join(sorted(names))})"
                )
            if node in peers:
                raise UsageError(f"{node} cannot hold a grudge against itself")
            if peers:
                normal[node] = sorted(set(peers))
        return dict(sorted(normal.items()))

    def _replace(
        self, chain: str, normal: Mapping[str, Sequence[str]], rule: Callable[[str], str]
    ) -> None:
        by_name = {n.name: n.address for n in self.nodes}

        def apply(node: Node) -> None:
            peers = normal.get(node.name, ())
            restore(node, _netfilter.replace_chains({chain: [rule(by_name[p]) for p in peers]}))

        on_every_node(self.nodes, apply)

    def _stop_delayers(self) -> None:
        delayers, self._delayers = self._delayers, {}
        for process in delayers.values():
            process.stop()


def _wait_ready(node: Node, process: Process, *, timeout_s: float = 10.0) -> None:
    """Wait until a delay process says it is bound to its queue."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            text = node.read_file(DELAY_LOG).decode(errors="replace")
        except FileNotFoundError:
            text = ""
        if "ready" in text.split():
            return
        if process.wait(timeout_s=0.02) is not None:
            tail = text.strip().splitlines()[-1:] or ["no output"]
            raise ControlError(
                f"{node.name}: the packet delay process exited: {tail[0]} "
                f"(log: {node.directory / DELAY_LOG})"
            )
    process.kill()
    raise ControlError(f"{node.name}: the packet delay process did not start within {timeout_s} s")
