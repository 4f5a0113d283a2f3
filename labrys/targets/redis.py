"""Redis: one primary, asynchronous replicas, and Sentinel to fail over, as deployed.

The claim under test. Redis replication is asynchronous: the primary acknowledges a
write before any replica has it, and Redis Sentinel promotes a replica when a quorum
of sentinels cannot reach the primary. Redis's own documentation says what follows:
a primary cut off from the others keeps accepting writes until it is demoted, and
those writes are thrown away when it rejoins as a replica ("Redis Sentinel ... is not
able to guarantee that acknowledged writes are retained during failures").
``min-replicas-to-write`` bounds the window (the primary refuses writes once it has
heard from too few replicas for ``min-replicas-max-lag`` seconds) and ``WAIT`` makes a
client wait for replicas, without making the system strongly consistent. labrys
measures what each knob buys.

Set-up. ``redis-server`` on every node (port 6379): n1 starts as primary, the others
as its replicas. ``redis-sentinel`` on every node (port 26379), monitoring the service
``labrys`` with the given quorum, ``down-after-milliseconds`` and ``failover-timeout``,
announcing the node's own address. Both are direct children of labrys (`Node.spawn`),
with config files in the node's directory that they may rewrite (Sentinel persists
its view of the topology there, and rewrites a demoted server's ``replicaof``), so a
server killed and started again comes back with whatever role Sentinel last gave it.
Append-only persistence (``appendonly yes``, the default here) keeps a restarted
server's data: an empty restarted primary that replicas resynchronised from would lose
everything. The data (the AOF) lives in a directory the node gives (`Node.data_dir`, on
a lazy disk when the run loses unsynced data), apart from the configuration and logs.
``appendfsync`` says when the AOF is fsynced, and Redis's documentation says what each
choice risks: ``always`` after every write, before replying; ``everysec`` once a
second ("you may lose 1 second of data if there is a disaster"); ``no`` when the kernel
pleases.

Readiness: every server answers PING, every replica's link to the primary is up, and
every sentinel knows the primary, the replicas and the other sentinels (discovery by
hello messages takes a few seconds).

Clients (``_redis_clients``) find the primary the way an application does, through
redis-py's Sentinel support, asking their own node's sentinel first; with
``read_from=replica`` reads go to a replica Sentinel lists. So a client near an
isolated primary keeps writing to it, exactly what an application server on that
machine would do.

Example::

    labrys run --target redis --workload set --nemesis partition --topologies primaries
"""

from __future__ import annotations

import hashlib
import re
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis

from labrys.client import Client
from labrys.control import Cluster, Node, Process
from labrys.errors import UsageError
from labrys.options import Option, choice, positive_float, positive_int
from labrys.targets._daemons import start_error, version_output, wait_until
from labrys.targets._redis_clients import CLIENT_KINDS, ClientConfig, open_redis_client
from labrys.targets._target import TargetEntry

PORT = 6379
SENTINEL_PORT = 26379
SERVICE = "labrys"
_START_TIMEOUT_S = 30.0


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="redis_server", default="/usr/bin/redis-server", parse=str,
               expected="the path of a redis-server executable",
               help="the Redis server to run (default: Debian's redis-server)"),
        Option(name="redis_sentinel", default="/usr/bin/redis-sentinel", parse=str,
               expected="the path of a redis-sentinel executable",
               help="the Sentinel to run (default: Debian's redis-sentinel)"),
        Option(name="quorum", default=2, parse=positive_int,
               expected="a whole number of sentinels > 0",
               help="sentinels that must agree the primary is down before a failover"),
        Option(name="down_after_ms", default=2000, parse=positive_int,
               expected="a whole number of milliseconds > 0",
               help="silence after which a sentinel thinks the primary is down"),
        Option(name="failover_timeout_ms", default=10000, parse=positive_int,
               expected="a whole number of milliseconds > 0",
               help="Sentinel's failover-timeout (also the wait before retrying one)"),
        Option(name="appendonly", default="yes", parse=choice("yes", "no"), expected="yes or no",
               help="keep an append-only file (AOF); without one, and with snapshots off, "
                    "a restarted server starts empty"),
        Option(name="appendfsync", default="everysec", parse=choice("always", "everysec", "no"),
               expected="always, everysec or no",
               help="when the AOF is fsynced: before each reply, once a second, or when the "
                    "kernel decides"),
        Option(name="min_replicas_to_write", default=0, parse=non_negative_int,
               expected="a whole number >= 0",
               help="the primary refuses writes unless this many replicas are in touch"),
        Option(name="min_replicas_max_lag", default=10, parse=positive_int,
               expected="a whole number of seconds > 0",
               help="a replica silent this long does not count for min_replicas_to_write"),
        Option(name="wait", default=0, parse=non_negative_int,
               expected="a whole number of replicas >= 0",
               help="after each write, WAIT for this many replicas (0: do not wait)"),
        Option(name="wait_timeout_ms", default=1000, parse=positive_int,
               expected="a whole number of milliseconds > 0",
               help="WAIT's timeout; a write that reached too few replicas is info"),
        Option(name="read_from", default="primary", parse=choice("primary", "replica"),
               expected="primary or replica",
               help="where reads go: the primary, or a replica Sentinel lists"),
        Option(name="client_timeout_s", default=2.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="each command's socket timeout; past it a write is info"),
    ]
}


class Redis:
    """Redis with Sentinel on every node of a cluster (see the module docstring).

    Args:
        options: the typed values of `OPTIONS`.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self._cluster: Cluster | None = None
        self._servers: dict[str, Process] = {}
        self._sentinels: dict[str, Process] = {}
        self._lock = threading.Lock()

    # -- Target ------------------------------------------------------------------------

    def setup(self, cluster: Cluster) -> None:
        quorum = self.options["quorum"]
        if quorum > len(cluster.nodes):
            raise UsageError(f"--option quorum={quorum} is more than the {len(cluster.nodes)} "
                             "sentinels; use at most the number of nodes")
        self._cluster = cluster
        primary = cluster.nodes[0]
        for node in cluster.nodes:
            data = node.data_dir(self._dir(node) / "data")
            node.write_file(self._dir(node) / "redis.conf",
                            self._server_conf(node, None if node is primary else primary, data))
            self._spawn_server(node)
        for node in cluster.nodes:
            node.write_file(self._dir(node) / "sentinel.conf", self._sentinel_conf(node, primary))
            self._spawn_sentinel(node)
        for node in cluster.nodes:
            self._wait_server(node, replica=node is not primary)
        for node in cluster.nodes:
            self._wait_sentinel(node)

    def teardown(self, cluster: Cluster) -> None:
        with self._lock:
            procs = [*self._sentinels.values(), *self._servers.values()]
            self._sentinels, self._servers = {}, {}
        for process in procs:
            process.stop(grace_s=5.0)

    # -- capabilities ------------------------------------------------------------------

    def version(self, node: Node) -> str:
        out = version_output(node, [self.options["redis_server"], "--version"],
                             fix="install redis-server (make setup) or pass --option "
                             f"redis_server=PATH (now {self.options['redis_server']})")
        match = re.search(r"v=(\S+)", out)
        return match.group(1) if match else out.strip() or "?"

    def log_files(self, node: Node) -> list[Path]:
        return [self._dir(node) / "redis.log", self._dir(node) / "sentinel.log"]

    def client_kinds(self) -> tuple[str, ...]:
        return CLIENT_KINDS

    def open_client(self, kind: str, node: Node) -> Client:
        assert self._cluster is not None
        # The client's own node's sentinel first: an application server asks the
        # sentinel nearest to it, and redis-py keeps asking the first that answers.
        others = [n for n in self._cluster.nodes if n.name != node.name]
        sentinels = [(n.address, SENTINEL_PORT) for n in [node, *others]]
        config = ClientConfig(node=node.name, sentinels=sentinels, service=SERVICE,
                              read_from=self.options["read_from"],
                              wait=self.options["wait"],
                              wait_timeout_ms=self.options["wait_timeout_ms"],
                              timeout_s=self.options["client_timeout_s"])
        return open_redis_client(kind, config)

    def start(self, node: str) -> None:
        """Start the server on ``node`` again with its data, if it is not running."""
        with self._lock:
            process = self._servers.get(node)
        if process is None or not process.alive:
            self._spawn_server(self._node(node))

    def kill(self, node: str) -> None:
        """SIGKILL the server on ``node`` (not its sentinel) and reap it."""
        with self._lock:
            process = self._servers.pop(node, None)
        if process is not None:
            process.kill()

    def pause(self, node: str) -> None:
        """SIGSTOP the server on ``node``; its sentinel keeps running."""
        self._signal(node, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        self._signal(node, signal.SIGCONT)

    def primaries(self) -> list[str]:
        """The nodes some reachable sentinel names as the primary.

        Mid-failover, or with a sentinel cut off, two nodes can be named.
        """
        assert self._cluster is not None
        by_address = {n.address: n.name for n in self._cluster.nodes}
        named: set[str] = set()
        for node in self._cluster.nodes:
            try:
                with redis.Redis(host=node.address, port=SENTINEL_PORT, socket_timeout=1.0,
                                 socket_connect_timeout=1.0, decode_responses=True) as s:
                    address = s.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
            except redis.RedisError:
                continue
            if address and address[0] in by_address:
                named.add(by_address[address[0]])
        return sorted(named)

    # -- pieces ------------------------------------------------------------------------

    @staticmethod
    def _dir(node: Node) -> Path:
        return node.directory / "redis"

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _signal(self, node: str, sig: int) -> None:
        with self._lock:
            process = self._servers.get(node)
        if process is not None and process.alive:
            process.signal(sig)

    def _server_conf(self, node: Node, primary: Node | None, data: Path) -> str:
        o = self.options
        lines = [
            f"bind {node.address}", f"port {PORT}", "protected-mode no", "daemonize no",
            f"dir {data}", 'logfile ""',
            f"appendonly {o['appendonly']}", f"appendfsync {o['appendfsync']}",
            'save ""',
            f"min-replicas-to-write {o['min_replicas_to_write']}",
            f"min-replicas-max-lag {o['min_replicas_max_lag']}",
        ]
        if primary is not None:
            lines.append(f"replicaof {primary.address} {PORT}")
        return "\n".join(lines) + "\n"

    def _sentinel_conf(self, node: Node, primary: Node) -> str:
        assert self._cluster is not None
        o = self.options
        # Sentinel learns replicas from the primary's INFO (every 10 s) and other
        # sentinels from hello messages; declaring both up front, with fixed IDs,
        # makes it ready at once instead of ~10 s later.
        known = [f"sentinel known-replica {SERVICE} {n.address} {PORT}"
                 for n in self._cluster.nodes if n is not primary]
        known += [f"sentinel known-sentinel {SERVICE} {n.address} {SENTINEL_PORT} "
                  f"{_sentinel_id(n)}" for n in self._cluster.nodes if n is not node]
        return "\n".join([
            f"bind {node.address}", f"port {SENTINEL_PORT}", "protected-mode no",
            "daemonize no", f"dir {self._dir(node)}", 'logfile ""',
            f"sentinel announce-ip {node.address}",
            f"sentinel monitor {SERVICE} {primary.address} {PORT} {o['quorum']}",
            f"sentinel down-after-milliseconds {SERVICE} {o['down_after_ms']}",
            f"sentinel failover-timeout {SERVICE} {o['failover_timeout_ms']}",
            f"sentinel parallel-syncs {SERVICE} 1",
            f"sentinel myid {_sentinel_id(node)}",
            *known,
        ]) + "\n"

    def _spawn(self, node: Node, argv: list[str], log: Path, table: dict[str, Process],
               what: str) -> None:
        try:
            process = node.spawn(argv, log_path=log)
        except OSError as e:
            raise start_error(f"cannot start {what} ({argv[0]}): {e.strerror}; install it "
                              "(make setup) or pass its path as an option",
                              node=node, log=log) from None
        with self._lock:
            table[node.name] = process

    def _spawn_server(self, node: Node) -> None:
        self._spawn(node, [self.options["redis_server"], str(self._dir(node) / "redis.conf")],
                    self._dir(node) / "redis.log", self._servers, "redis-server")

    def _spawn_sentinel(self, node: Node) -> None:
        self._spawn(node, [self.options["redis_sentinel"],
                           str(self._dir(node) / "sentinel.conf")],
                    self._dir(node) / "sentinel.log", self._sentinels, "redis-sentinel")

    def _wait_server(self, node: Node, *, replica: bool) -> None:
        def ready() -> bool:
            try:
                with redis.Redis(host=node.address, port=PORT, socket_timeout=1.0,
                                 socket_connect_timeout=1.0, decode_responses=True) as r:
                    info = r.info("replication")
            except redis.RedisError:
                return False
            return not replica or info.get("master_link_status") == "up"

        process = self._servers[node.name]
        wait_until(ready, timeout_s=_START_TIMEOUT_S, what="redis-server did not start",
                   node=node, log=self._dir(node) / "redis.log",
                   alive=lambda: process.alive)

    def _wait_sentinel(self, node: Node) -> None:
        assert self._cluster is not None
        n = len(self._cluster.nodes)

        def ready() -> bool:
            try:
                with redis.Redis(host=node.address, port=SENTINEL_PORT, socket_timeout=1.0,
                                 socket_connect_timeout=1.0, decode_responses=True) as s:
                    master = s.sentinel_master(SERVICE)
            except redis.RedisError:
                return False
            return (int(master.get("num-slaves", 0)) == n - 1
                    and int(master.get("num-other-sentinels", 0)) == n - 1)

        process = self._sentinels[node.name]
        wait_until(ready, timeout_s=_START_TIMEOUT_S,
                   what="redis-sentinel did not discover the replicas and other sentinels",
                   node=node, log=self._dir(node) / "sentinel.log",
                   alive=lambda: process.alive, poll_s=0.2)


def _sentinel_id(node: Node) -> str:
    """A fixed 40-hex-digit sentinel ID per node name, so others can be told it."""
    return hashlib.sha1(f"labrys-sentinel-{node.name}".encode()).hexdigest()


def _make(options: Mapping[str, Any]) -> Redis:
    return Redis(options)


ENTRY = TargetEntry(name="redis", summary="Redis primary with async replicas and Sentinel "
                    "failover, a sentinel on every node", options=OPTIONS, make=_make)
