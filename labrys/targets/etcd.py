"""etcd: a Raft key-value store, one member per node, and its clients over HTTP.

Set-up. Every node runs one member listening on the node's own address (peers on
2380, clients on 2379), with a data directory the node gives it (`Node.data_dir`: on a
lazy disk when the run loses unsynced data), new for every cluster, so every run
starts from an empty store. etcd fsyncs its write-ahead log before it acknowledges a
write, so a power failure should lose nothing acknowledged. The member is a
direct child of labrys (`Node.spawn`), which is what lets a kill be followed by a
clean restart: the old process is reaped before the new one takes the data
directory's lock. A restart after a kill uses ``--initial-cluster-state existing``
and the same data directory, as etcd's operations guide says.

Readiness is ``GET /health`` on every member (``{"health":"true"}`` once the member
has a leader and has applied its entries); ``etcdctl endpoint health`` would do, but
waits on long dial timeouts.

Clients speak etcd's v3 API through its JSON gateway with httpx (`_etcd_gateway` says
why not gRPC, and which errors are definite): the key-value kinds in `_etcd_clients`
(register, set, counter, and list-append and rw-register as guarded transactions), the
watch workload's in `_etcd_watch`, the lock workload's in `_etcd_lock`. Reads are
linearizable by default (etcd's default: the read goes through the leader's read
index); ``--option read_mode=serializable`` makes them serializable: the member answers
from its own state at once, which under a partition is stale, and the checkers should
say so.

Membership (the ``member`` fault, `_etcd_members`): a member is removed through another
member, and added back as a new member, with a new ID and an emptied data directory,
started with ``--initial-cluster-state existing`` and the members as they are then, as
etcd's runtime reconfiguration guide describes for replacing a machine.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from labrys.client import Client
from labrys.control import Cluster, Node, Process
from labrys.errors import TargetError
from labrys.options import Option, choice, positive_float, positive_int
from labrys.targets._daemons import version_output
from labrys.targets._etcd_clients import KV_KINDS, KvClient
from labrys.targets._etcd_gateway import CLIENT_PORT, PEER_PORT
from labrys.targets._etcd_lock import GUARDS, LockClient
from labrys.targets._etcd_members import member_list, reconfigure
from labrys.targets._etcd_watch import WatchClient
from labrys.targets._target import TargetEntry, check_kind

CLIENT_KINDS = (*KV_KINDS, "watch", "lock")
_START_TIMEOUT_S = 30.0
_STOP_GRACE_S = 1.0
"""How long teardown waits after SIGTERM before SIGKILL. A leader asked to stop tries to
hand leadership over to peers that are stopping too, and can spend seconds at it; the
data directory is discarded anyway, so a short grace only costs the log its last lines."""

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="etcd_binary", default="/usr/bin/etcd", parse=str,
               expected="the path of an etcd executable",
               help="the etcd server to run (default: Debian's etcd-server)"),
        Option(name="read_mode", default="linearizable",
               parse=choice("linearizable", "serializable"),
               expected="linearizable or serializable",
               help="linearizable reads go through the leader; serializable reads are "
                    "local and may be stale"),
        Option(name="client_timeout_s", default=5.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="each request's timeout; past it a write is indeterminate (info)"),
        Option(name="watch_s", default=1.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="how long each op of the watch workload watches before it returns"),
        Option(name="lease_ttl_s", default=2, parse=positive_int,
               expected="a whole number of seconds > 0",
               help="the lease a lock is held with (lock workload; etcd raises it to "
                    "its minimum, 1.5 election timeouts, if lower)"),
        Option(name="lock_guard", default="none", parse=choice(*GUARDS),
               expected=" or ".join(GUARDS),
               help="lock workload: none (the lock alone protects the update) or "
                    "lock-key (the update's write requires the lock key: fencing)"),
    ]
}


@dataclass(frozen=True, slots=True)
class _Member:
    node: Node
    process: Process


class Etcd:
    """etcd on every node of a cluster (see the module docstring).

    Args:
        binary: the etcd executable.
        read_mode: ``linearizable`` or ``serializable``.
        client_timeout_s: per-request timeout of the clients it opens.
        watch_s: how long a watch op of the watch client watches.
        lease_ttl_s: the TTL of the lock client's leases.
        lock_guard: whether the lock client's updates are fenced by the lock key.
        store_only: etcd is another target's store (Patroni's), standing for machines of
            its own, so its data is never on a lazy disk.
    """

    def __init__(self, *, binary: str, read_mode: str, client_timeout_s: float,
                 watch_s: float = 1.0, lease_ttl_s: int = 2, lock_guard: str = "none",
                 store_only: bool = False) -> None:
        self.binary = binary
        self.read_mode = read_mode
        self.client_timeout_s = client_timeout_s
        self.watch_s = watch_s
        self.lease_ttl_s = lease_ttl_s
        self.lock_guard = lock_guard
        self.store_only = store_only
        self._cluster: Cluster | None = None
        self._members: dict[str, _Member] = {}
        self._lock = threading.Lock()

    # -- Target ------------------------------------------------------------------------

    def setup(self, cluster: Cluster) -> None:
        self._cluster = cluster
        for node in cluster.nodes:
            self._spawn(node, state="new")
        deadline = time.monotonic() + _START_TIMEOUT_S
        for node in cluster.nodes:
            self._wait_healthy(node, deadline)

    def teardown(self, cluster: Cluster) -> None:
        with self._lock:
            members, self._members = list(self._members.values()), {}
        # SIGTERM to every member first, then wait: stopped one by one, each member
        # would spend its grace period trying to reach peers that are already gone.
        for member in members:
            member.process.signal(signal.SIGTERM)
            member.process.signal(signal.SIGCONT)  # a paused member must see its SIGTERM
        for member in members:
            if member.process.wait(timeout_s=_STOP_GRACE_S) is None:
                member.process.kill()

    # -- capabilities ------------------------------------------------------------------

    def version(self, node: Node) -> str:
        out = version_output(node, [self.binary, "--version"],
                             fix=f"install etcd-server (make setup) or pass --option "
                             f"etcd_binary=PATH (now {self.binary})")
        match = re.search(r"etcd Version:\s*(\S+)", out)
        return match.group(1) if match else out.strip().splitlines()[0] if out.strip() else "?"

    def log_files(self, node: Node) -> list[Path]:
        return [node.directory / "etcd.log"]

    def client_kinds(self) -> tuple[str, ...]:
        return CLIENT_KINDS

    def open_client(self, kind: str, node: Node) -> Client:
        """A client of ``node``'s member, falling back on the others, in the cluster's
        order, while that member refuses connections (`_etcd_gateway` says why)."""
        check_kind("etcd", kind, CLIENT_KINDS)
        assert self._cluster is not None
        members = {node.name: node.address} | {n.name: n.address for n in self._cluster.nodes}
        serializable = self.read_mode == "serializable"
        if kind in KV_KINDS:
            return KvClient(kind, members=members, serializable=serializable,
                            timeout_s=self.client_timeout_s)
        if kind == "watch":
            return WatchClient(members=members, watch_s=self.watch_s,
                               timeout_s=self.client_timeout_s)
        return LockClient(members=members,
                          lease_ttl_s=self.lease_ttl_s, guard=self.lock_guard,
                          serializable=serializable, timeout_s=self.client_timeout_s)

    def start(self, node: str) -> None:
        """Start the member on ``node`` again with its data, if it is not running."""
        with self._lock:
            member = self._members.get(node)
            if member is not None and member.process.alive:
                return
        self._spawn(self._node(node), state="existing")

    def kill(self, node: str) -> None:
        """SIGKILL the member on ``node`` and reap it, so a restart finds no stale lock."""
        with self._lock:
            member = self._members.pop(node, None)
        if member is not None:
            member.process.kill()

    def remove_member(self, node: str) -> None:
        """Remove ``node``'s member from the cluster (asking another member), then make
        sure its process is gone: a removed member stops by itself once it hears of its
        removal, but one that is cut off never hears."""
        others = self._other_addresses(node)
        ids = [m["ID"] for m in member_list(others, node=node) if m.get("name") == node]
        if ids:
            reconfigure(others, "/v3/cluster/member/remove", {"ID": ids[0]}, node=node,
                        done=lambda now: all(m["ID"] != ids[0] for m in now))
        with self._lock:
            member = self._members.pop(node, None)
        if member is not None and member.process.wait(timeout_s=_STOP_GRACE_S) is None:
            member.process.kill()

    def add_member(self, node: str) -> None:
        """Add ``node`` as a new member (a new ID, an empty data directory), start it
        with ``--initial-cluster-state existing`` and the members as they are now, and
        wait until it serves."""
        target = self._node(node)
        peer = f"http://{target.address}:{PEER_PORT}"
        others = self._other_addresses(node)
        members = member_list(others, node=node)
        if not any(peer in m.get("peerURLs", []) for m in members):
            members = reconfigure(others, "/v3/cluster/member/add", {"peerURLs": [peer]},
                                  node=node,
                                  done=lambda now: any(peer in m.get("peerURLs", []) for m in now))
        peers = [f"{m['name']}={m['peerURLs'][0]}" for m in members
                 if m.get("name") and m.get("peerURLs") and peer not in m["peerURLs"]]
        data = self._data_dir(target)
        target.run(["find", str(data), "-mindepth", "1", "-delete"]).check()
        self._spawn(target, state="existing", peers=[*peers, f"{node}={peer}"])
        self._wait_healthy(target, time.monotonic() + _START_TIMEOUT_S)

    def pause(self, node: str) -> None:
        """SIGSTOP the member on ``node``."""
        self._signal(node, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        """SIGCONT the member on ``node``."""
        self._signal(node, signal.SIGCONT)

    def primaries(self) -> list[str]:
        """The nodes whose member is the leader, as far as reachable members say.

        Asked of every member with a short timeout; a member cut off from the leader
        may still name an old one, so the answer can hold two nodes mid-election.
        """
        assert self._cluster is not None
        ids: dict[str, int] = {}
        leaders: set[int] = set()
        for node in self._cluster.nodes:
            try:
                status = httpx.post(f"http://{node.address}:{CLIENT_PORT}/v3/maintenance/status",
                                    json={}, timeout=1.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            ids[node.name] = int(status.get("header", {}).get("member_id", 0))
            if status.get("leader"):
                leaders.add(int(status["leader"]))
        return sorted(name for name, member_id in ids.items() if member_id in leaders)

    # -- pieces ------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _data_dir(self, node: Node) -> Path:
        if not self.store_only:
            return node.data_dir("etcd-data")
        # Another target's store stands for machines of its own: a power failure of
        # this node's database does not reach it, so its data stays on a plain disk.
        node.make_dir("etcd-data")
        return node.directory / "etcd-data"

    def _other_addresses(self, node: str) -> dict[str, str]:
        """The running members other than ``node``'s: name to address."""
        with self._lock:
            return {name: m.node.address for name, m in self._members.items() if name != node}

    def _signal(self, node: str, sig: int) -> None:
        with self._lock:
            member = self._members.get(node)
        if member is not None and member.process.alive:
            member.process.signal(sig)

    def _spawn(self, node: Node, *, state: str, peers: list[str] | None = None) -> None:
        """Start the member on ``node``; ``peers`` (``name=url``) is the cluster it joins,
        every node by default (a restart on its old data ignores it)."""
        assert self._cluster is not None
        peers = peers or [f"{n.name}=http://{n.address}:{PEER_PORT}" for n in self._cluster.nodes]
        argv = [
            self.binary,
            "--name", node.name,
            "--data-dir", str(self._data_dir(node)),
            "--listen-peer-urls", f"http://{node.address}:{PEER_PORT}",
            "--initial-advertise-peer-urls", f"http://{node.address}:{PEER_PORT}",
            "--listen-client-urls", f"http://{node.address}:{CLIENT_PORT}",
            "--advertise-client-urls", f"http://{node.address}:{CLIENT_PORT}",
            "--initial-cluster", ",".join(peers),
            "--initial-cluster-state", state,
            "--initial-cluster-token", "labrys",
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]
        try:
            process = node.spawn(argv, log_path=node.directory / "etcd.log")
        except OSError as e:
            raise TargetError(f"cannot start etcd ({self.binary}): {e.strerror}; install "
                              "etcd-server or pass --option etcd_binary=PATH",
                              node=node.name) from None
        with self._lock:
            self._members[node.name] = _Member(node=node, process=process)

    def _wait_healthy(self, node: Node, deadline: float) -> None:
        url = f"http://{node.address}:{CLIENT_PORT}/health"
        log = node.directory / "etcd.log"
        while True:
            with self._lock:
                member = self._members.get(node.name)
            if member is not None and not member.process.alive:
                raise TargetError(f"etcd exited with status {member.process.returncode} "
                                  "while starting", node=node.name, log=log)
            try:
                if httpx.get(url, timeout=1.0).json().get("health") == "true":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TargetError(f"etcd not healthy after {_START_TIMEOUT_S:.0f} s",
                                  node=node.name, log=log)
            time.sleep(0.1)


def _make(options: Mapping[str, Any]) -> Etcd:
    return Etcd(binary=options["etcd_binary"], read_mode=options["read_mode"],
                client_timeout_s=options["client_timeout_s"], watch_s=options["watch_s"],
                lease_ttl_s=options["lease_ttl_s"], lock_guard=options["lock_guard"])


ENTRY = TargetEntry(name="etcd", summary="etcd (Raft key-value store), one member per node",
                    options=OPTIONS, make=_make,
                    packages=("etcd-server",),
                    # etcd's API guarantees: its transactions are strictly serializable.
                    workload_defaults={"isolation": "strict-serializable"})
