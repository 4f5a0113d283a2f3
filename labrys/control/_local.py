"""The local runtime: one network namespace per node, on one bridge, on this machine.

Layout of a 3-node cluster with prefix ``lb3fa0`` (subnet ``10.63.160.0/24``):

    host ── lb3fa0-br 10.63.160.1 ─┬─ lb3fa0-n1 ═ eth0 10.63.160.2  (netns lb3fa0-n1)
                                   ├─ lb3fa0-n2 ═ eth0 10.63.160.3  (netns lb3fa0-n2)
                                   └─ lb3fa0-n3 ═ eth0 10.63.160.4  (netns lb3fa0-n3)

Choices that are not obvious:

- Nodes get no default route. They reach each other and the control machine, and
  nothing else: a database that tries the outside world fails at once (no route)
  instead of sending traffic off the machine, and DNS lookups, which hang inside a
  namespace, fail fast the same way. Names resolve through ``/etc/netns/NS/hosts``,
  which `ip netns exec` mounts over ``/etc/hosts`` for every process of the node.
- Namespaces share the file system, so each node has its own directory,
  ``/tmp/labrys/<prefix>/<node>``, and a target keeps its data, configuration and
  logs there.
- Commands run through ``ip netns exec NS``, which execs in place (about 4 ms), so
  a spawned process is our direct child and can be reaped.
- Bridged traffic crosses the host's FORWARD chain (``br_netfilter``), whose policy
  dockerd sets to DROP; one ACCEPT rule for the bridge, first in FORWARD, keeps the
  nodes talking whatever else the host does.
- Network faults are iptables rules inside the nodes (see `_netfilter`); delay is a
  small process per delayed node holding packets from an NFQUEUE (see `_nfqdelay`),
  because this kernel has no netem.

Measured here: `LocalCluster.up(5)` takes about 0.06 s (one `ip -batch` for the host
side, then every node configured concurrently), teardown about 0.12 s.
"""

from __future__ import annotations

import atexit
import importlib.util
import ipaddress
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labrys.control import _cleanup, _host, _netfilter
from labrys.control._lazyfs import DataDisks
from labrys.control._machine import MachineNode
from labrys.control._node import Grudge
from labrys.control._registry import (
    BASE_DIR,
    ClusterRecord,
    Owner,
    claim_new,
    records,
)
from labrys.control._spawn import NodeProcess
from labrys.errors import ControlError, UsageError

_DELAY_SCRIPT = Path(__file__).with_name("_nfqdelay.py")


@dataclass(frozen=True, slots=True, eq=False)
class LocalNode(MachineNode):
    """A node that is a network namespace on this machine (see `MachineNode` for what it
    does).

    Attributes:
        name: its short name, resolvable on every node.
        address: its IPv4 address.
        namespace: the network namespace's name.
        directory: its own directory on the shared file system.
    """

    name: str
    address: str
    namespace: str
    directory: Path
    _processes: list[NodeProcess] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _data: DataDisks = field(default_factory=lambda: _data_disks(), repr=False)

    @property
    def exec_prefix(self) -> tuple[str, ...]:
        """The command prefix that runs a program inside this node."""
        return ("ip", "netns", "exec", self.namespace)


def _data_disks() -> DataDisks:
    # `ip netns exec` gives each process of a node a private copy of the mount table,
    # taken when it starts. A lazy disk must be mounted in this process's own table,
    # which the node's later processes copy, so its program enters that one first.
    return DataDisks(launcher=("nsenter", f"--mount=/proc/{os.getpid()}/ns/mnt", "--"))


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


class LocalCluster:
    """Nodes in network namespaces on a bridge; see the module docstring for the layout.

    Make one with `up` (or the `local_cluster` context manager, which also handles
    signals); reach one made by another process with `attach`. Every method that
    changes the network acts on all nodes at once, concurrently.
    """

    __slots__ = ("_delayers", "_nodes", "_owner_pid", "record")

    def __init__(self, record: ClusterRecord):
        self.record = record
        self._nodes = tuple(
            LocalNode(
                name=n.name,
                address=n.address,
                namespace=n.namespace,
                directory=record.node_directory(n.name),
            )
            for n in record.nodes
        )
        self._delayers: dict[str, NodeProcess] = {}
        self._owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"LocalCluster({self.prefix!r}, nodes={[n.name for n in self._nodes]})"

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    @classmethod
    def up(
        cls,
        nodes: int = 5,
        *,
        base_dir: Path = BASE_DIR,
        persistent: bool = False,
        guard: Callable[[Mapping[str, str]], None] | None = None,
    ) -> LocalCluster:
        """Create a cluster of `nodes` nodes named n1…nN.

        Args:
            nodes: how many nodes.
            base_dir: where the cluster's node directories go.
            persistent: if True the cluster has no owner and lives until
                `labrys cluster down`; otherwise it belongs to this process, is torn
                down at interpreter exit at the latest, and a later sweep removes it
                once this process is gone.
            guard: called with the cluster's `handle` once its names are claimed and
                before any of its objects exists (see `labrys.control.Runtime.up`).

        Raises:
            ControlError: without root, without `ip`/`iptables`, or if the kernel refuses.
        """
        if nodes < 1:
            raise UsageError(f"a cluster needs at least one node, not {nodes}")
        _host.require_root()
        _host.require_tools("ip", "iptables", "iptables-restore", "iptables-save")
        record = claim_new(
            node_names=[f"n{i}" for i in range(1, nodes + 1)],
            base_dir=base_dir,
            owner=None if persistent else Owner.current(),
            taken_networks=_host_networks(),
        )
        cluster = cls(record)
        try:
            if guard is not None:
                guard(cluster.handle)
            cluster._build()
        except BaseException:
            _cleanup.remove_prefix(record.prefix, directory=Path(record.directory))
            raise
        if not persistent:
            atexit.register(cluster._teardown_at_exit)
        return cluster

    @classmethod
    def attach(cls, prefix: str | None = None) -> LocalCluster:
        """The running cluster with this prefix, or the only one if `prefix` is None.

        Raises:
            UsageError: if there is no such cluster, or several and no prefix.
        """
        _host.require_root()
        found = records()
        if prefix is not None:
            found = [r for r in found if r.prefix == prefix]
        if not found:
            which = f"cluster {prefix}" if prefix else "cluster"
            raise UsageError(f"no {which} is up: start one with `labrys cluster up`")
        if len(found) > 1:
            raise UsageError(
                f"{len(found)} clusters are up ({', '.join(r.prefix for r in found)}): "
                "choose one with --cluster PREFIX"
            )
        return cls(found[0])

    @property
    def prefix(self) -> str:
        return self.record.prefix

    @property
    def name(self) -> str:
        """The prefix, which names the cluster in logs and in ``labrys cluster``."""
        return self.record.prefix

    @property
    def handle(self) -> dict[str, str]:
        """All `LocalRuntime.remove` needs to remove this cluster from another process."""
        return {"prefix": self.record.prefix, "directory": self.record.directory}

    @property
    def nodes(self) -> tuple[LocalNode, ...]:
        return self._nodes

    def node(self, name: str) -> LocalNode:
        for node in self._nodes:
            if node.name == name:
                return node
        raise UsageError(
            f"no node {name!r} in cluster {self.prefix} (nodes: "
            f"{', '.join(n.name for n in self._nodes)})"
        )

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
        if importlib.util.find_spec("netfilterqueue") is None:
            raise ControlError(
                "packet delay needs the NetfilterQueue package: `pip install NetfilterQueue` "
                "(it builds against Debian's libnetfilter-queue-dev; or `make setup`)"
            )
        rng = random.Random(seed)
        for name in normal:
            node = self.node(name)
            log_path = node.directory / "labrys-delay.log"
            log_path.unlink(missing_ok=True)
            self._delayers[name] = node.spawn(
                [
                    sys.executable, str(_DELAY_SCRIPT),
                    "--queue", str(_netfilter.DELAY_QUEUE),
                    "--delay-ms", str(delay_ms),
                    "--jitter-ms", str(jitter_ms),
                    "--seed", str(rng.getrandbits(32)),
                ],
                log_path=log_path,
            )  # fmt: skip
        for process in self._delayers.values():
            _wait_ready(process)
        self._replace(_netfilter.DELAY, normal, _netfilter.queue_from)
        return normal

    def heal(self) -> None:
        """Undo partitions, loss and delay on every node, in one commit per node.

        Delay processes started by another process (another `LocalCluster` object on
        the same cluster) are left idle, fed by no rule, until teardown or `down`.
        """
        empty = _netfilter.replace_chains({chain: () for chain in _netfilter.CHAINS})
        _host.run_all([(self._iptables_restore(node), empty) for node in self._nodes])
        self._stop_delayers()

    def faults(self) -> NetworkFaults:
        """The network faults in force now, read from every node's iptables."""
        by_address = {n.address: n.name for n in self._nodes}
        found: dict[str, dict[str, list[str]]] = {c: {} for c in _netfilter.CHAINS}
        probability = None
        for node in self._nodes:
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

    def keep(self) -> None:
        """Let the cluster outlive this process, as if made by `labrys cluster up`.

        For ``--leave-running``: nothing removes it at exit any more, and a later
        `labrys cluster down` does. Processes spawned through this object, packet delay
        helpers included, keep running when this process exits, until that `down`.
        """
        self.record = self.record.disown()
        atexit.unregister(self._teardown_at_exit)

    def teardown(self) -> None:
        """Kill every process of every node and remove all the cluster made; idempotent."""
        with _cleanup.deferred_signals():
            atexit.unregister(self._teardown_at_exit)
            self._stop_delayers()
            for node in self._nodes:
                node.kill_all()
            _cleanup.remove_prefix(self.prefix, directory=Path(self.record.directory))

    def _teardown_at_exit(self) -> None:
        # A forked child inherits atexit handlers; only the creator tears down.
        if os.getpid() == self._owner_pid:
            self.teardown()

    def _build(self) -> None:
        record = self.record
        etc = Path("/etc/netns")
        hosts = "127.0.0.1 localhost\n::1 localhost\n" + "".join(
            f"{n.address} {n.name}\n" for n in record.nodes
        )
        for node in record.nodes:
            record.node_directory(node.name).mkdir(parents=True, exist_ok=True)
            (etc / node.namespace).mkdir(parents=True, exist_ok=True)
            (etc / node.namespace / "hosts").write_text(hosts)
        prefix_len = ipaddress.IPv4Network(record.subnet).prefixlen
        batch = [
            f"link add {record.bridge} type bridge",
            f"addr add {record.bridge_address}/{prefix_len} dev {record.bridge}",
            f"link set {record.bridge} up",
        ]
        for node in record.nodes:
            batch += [
                f"netns add {node.namespace}",
                f"link add {node.veth} type veth peer name eth0 netns {node.namespace}",
                f"link set {node.veth} master {record.bridge} up",
            ]
        _host.run(["ip", "-batch", "-"], input="\n".join(batch) + "\n").check()
        jobs: list[tuple[Sequence[str], str | None]] = []
        for node in record.nodes:
            inside = (
                f"addr add {node.address}/{prefix_len} dev eth0\nlink set eth0 up\nlink set lo up\n"
            )
            jobs.append((["ip", "-n", node.namespace, "-batch", "-"], inside))
            jobs.append((self._iptables_restore(node), _netfilter.base_layout()))
        _host.run_all(jobs)
        chain, *rule = record.forward_rule
        _host.run(["iptables", "-t", "filter", "-I", chain, "1", *rule]).check()

    def _normalise(self, grudge: Grudge) -> dict[str, list[str]]:
        names = {n.name for n in self._nodes}
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
        by_name = {n.name: n.address for n in self._nodes}
        jobs = [
            (
                self._iptables_restore(node),
                _netfilter.replace_chains(
                    {chain: [rule(by_name[peer]) for peer in normal.get(node.name, ())]}
                ),
            )
            for node in self._nodes
        ]
        _host.run_all(jobs)

    @staticmethod
    def _iptables_restore(node: LocalNode) -> list[str]:
        return ["ip", "netns", "exec", node.namespace, "iptables-restore", "--noflush"]

    def _stop_delayers(self) -> None:
        delayers, self._delayers = self._delayers, {}
        for process in delayers.values():
            process.stop()


def _wait_ready(process: NodeProcess, *, timeout_s: float = 10.0) -> None:
    """Wait until a delay process says it is bound to its queue."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = process.log_path.read_text(errors="replace") if process.log_path.exists() else ""
        if "ready" in text.split():
            return
        if process.wait(timeout_s=0.01) is not None:
            tail = text.strip().splitlines()[-1:] or ["no output"]
            raise ControlError(
                f"{process.node}: the packet delay process exited: {tail[0]} "
                f"(log: {process.log_path})"
            )
    process.kill()
    raise ControlError(
        f"{process.node}: the packet delay process did not start within {timeout_s} s"
    )


def _host_networks() -> list[str]:
    """The machine's IPv4 routes, which a new cluster's subnet must not overlap."""
    routes = json.loads(
        _host.run(["ip", "-j", "-4", "route", "show", "table", "all"]).check().stdout
    )
    return [
        r["dst"] for r in routes if r.get("dst", "default") != "default" and ":" not in r["dst"]
    ]
