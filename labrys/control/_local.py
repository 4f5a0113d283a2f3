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
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labrys.control import _cleanup, _host, _netfilter
from labrys.control._firewall import DELAY_SCRIPT, FirewalledCluster
from labrys.control._lazyfs import DataDisks
from labrys.control._machine import MachineNode
from labrys.control._node import Node, Process
from labrys.control._registry import (
    BASE_DIR,
    ClusterRecord,
    Owner,
    claim_new,
    records,
)
from labrys.control._spawn import NodeProcess
from labrys.errors import ControlError, UsageError


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


class LocalCluster(FirewalledCluster):
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
        self._delayers: dict[str, Process] = {}
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
            taken_networks=_host.routes(),
        )
        cluster = cls(record)
        try:
            if guard is not None:
                guard(cluster.handle)
            cluster._build()
        except BaseException:
            _cleanup.remove_prefix(record.prefix, directory=Path(record.directory))
            raise
        cluster._tear_down_at_exit(persistent=persistent)
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

    def _delay_program(self, node: Node) -> list[str]:
        """This machine's own Python, which `make setup` gives NetfilterQueue."""
        if importlib.util.find_spec("netfilterqueue") is None:
            raise ControlError(
                "packet delay needs the NetfilterQueue package: `pip install NetfilterQueue` "
                "(it builds against Debian's libnetfilter-queue-dev; or `make setup`)"
            )
        return [sys.executable, str(DELAY_SCRIPT)]

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

    @staticmethod
    def _iptables_restore(node: LocalNode) -> list[str]:
        return ["ip", "netns", "exec", node.namespace, "iptables-restore", "--noflush"]
