"""Cassandra: a leaderless Dynamo-style store, every node a replica, clients at a chosen
consistency.

The claims under test. Cassandra replicates each partition to ``replication_factor``
nodes and lets each statement choose how many must answer (its consistency level);
its documentation says that when reads and writes both use QUORUM (R + W > N) a read
sees the latest acknowledged write. Conflicting writes are resolved cell by cell by
timestamp, last write wins, so a node whose clock runs ahead can silently overwrite
writes made after it: the anomaly Jepsen's Cassandra analyses are known for.
Lightweight transactions (``… IF …``, Paxos) are claimed linearizable per partition;
a logged ``BATCH`` is atomic (eventually all of it or none) but not isolated; counter
updates are not idempotent, so an increment that timed out may or may not count, and
the final count can only be bounded.

Set-up. No Debian package exists: ``make setup`` fetches ``cassandra-all`` and its
dependencies from Maven Central into a cache (`_cassandra_jars`), and labrys writes
each node's ``cassandra.yaml`` and logging configuration and starts
``CassandraDaemon`` itself (`_cassandra_config`). Every node is a seed, none
bootstraps, and all start together with a one-second ring delay, so three nodes serve
CQL within 17 to 27 s on a lightly loaded 2-core machine (about a minute when other
work keeps both cores busy), instead of four minutes one after another. The daemon
is a direct child of labrys (`Node.spawn`), in the foreground, its console (INFO) in
``cassandra/cassandra.log``. It runs under libfaketime from the start (its JVM reads
the wall clock through libc), so the clock nemesis can skew each node's clock: that
costs about a quarter more CPU at start-up and nothing noticeable after. On a
runtime whose nodes do not share the control machine's disk, the jars are copied to
each node on first use, through the node.

Readiness: every node accepts CQL, and ``nodetool status`` on n1 lists every node Up
and Normal (``UN``). Then the keyspace ``labrys`` (SimpleStrategy, the replication
factor) and its tables are created once, waiting for schema agreement, and a read at
consistency ALL must succeed through every node (each has heard from every replica).
``nodetool`` (JMX on the node's loopback) is run on the node itself (`Cassandra.nodetool`).

Clients (`_cassandra_clients`): the DataStax driver, pinned to the client's own node,
no retries, write timestamps taken by the coordinator (so clock skew reaches them).

Faults: partitions, ``kill``/``start`` (SIGKILL; ``start`` restarts the node on its
data and waits until it serves CQL again, since the final reads at ALL need it),
``pause``/``resume`` (SIGSTOP/SIGCONT), and clock skew (`ClockSkewable`). There is no
primary: Cassandra is leaderless.

Example::

    labrys run --target cassandra --workload register --option lwt=false \\
        --option cas=false --nemesis partition,clock
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.query import SimpleStatement

from labrys.client import Client
from labrys.control import Cluster, Node
from labrys.errors import LabrysError, TargetError, UsageError
from labrys.nemesis import faketime_env
from labrys.options import Option, boolean, choice, positive_float, positive_int
from labrys.targets._cassandra_clients import (
    CLIENT_KINDS,
    KEYSPACE,
    CassandraClient,
    CassandraClientConfig,
    connect,
    schema,
)
from labrys.targets._cassandra_config import (
    CQL_PORT,
    TOOLS_LOGBACK_XML,
    NodeFiles,
    cassandra_yaml,
    daemon_argv,
    logback_xml,
    nodetool_argv,
)
from labrys.targets._cassandra_jars import DEFAULT_VERSION, Jars, find_jars
from labrys.targets._daemons import ServerTable, start_error, version_output, wait_until
from labrys.targets._target import TargetEntry

_START_TIMEOUT_S = 180.0
"""How long set-up waits for every node to serve: about 30 s is usual here, several
times that on a machine other work keeps busy."""

_RESTART_TIMEOUT_S = 45.0
"""How long ``start`` waits for a restarted node to serve CQL again (under the
nemesis's 60 s deadline)."""

_STOP_GRACE_S = 3.0
"""SIGTERM's grace at teardown; the data is thrown away, so then SIGKILL."""

CONSISTENCIES = ("ONE", "QUORUM", "ALL")


OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="read_consistency", default="QUORUM", parse=choice(*CONSISTENCIES),
               expected="ONE, QUORUM or ALL",
               help="consistency of plain reads (sets, counters, transactions, registers "
                    "without LWT)"),
        Option(name="write_consistency", default="QUORUM", parse=choice(*CONSISTENCIES),
               expected="ONE, QUORUM or ALL",
               help="consistency of writes, batches, and of an LWT's commit"),
        Option(name="serial_consistency", default="SERIAL",
               parse=choice("SERIAL", "LOCAL_SERIAL"), expected="SERIAL or LOCAL_SERIAL",
               help="the Paxos quorum of lightweight transactions, and of LWT reads"),
        Option(name="lwt", default=True, parse=boolean, expected="true or false",
               help="register: writes and cas as lightweight transactions, reads at "
                    "serial consistency; false: plain writes and reads, no cas"),
        Option(name="timestamps", default="server", parse=choice("server", "client"),
               expected="server or client",
               help="who stamps writes: the coordinating node's (skewable) clock, or the "
                    "driver on the control machine"),
        Option(name="replication_factor", default=3, parse=positive_int,
               expected="a whole number of replicas > 0, at most the number of nodes",
               help="replicas of every partition (SimpleStrategy)"),
        Option(name="heap_mb", default=512, parse=positive_int,
               expected="a whole number of megabytes > 0",
               help="each node's JVM heap (about 450 MB more is resident besides)"),
        Option(name="version", default=DEFAULT_VERSION, parse=str,
               expected="a cassandra-all version on Maven Central",
               help="the Cassandra release (fetch others with scripts/fetch-cassandra.sh; "
                    "releases before 5.0 need Java 11)"),
        Option(name="java", default="/usr/bin/java", parse=str,
               expected="the path of a Java 17 executable on the nodes",
               help="the JVM that runs Cassandra and nodetool"),
        Option(name="client_timeout_s", default=6.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="the driver's per-request timeout, above the server's own (Cassandra's "
                    "defaults: 2 s for writes, 5 s for reads), so the server's errors, "
                    "which say more, come first"),
    ]
}


class Cassandra:
    """Cassandra on every node of a cluster (see the module docstring).

    Args:
        options: the typed values of `OPTIONS`.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self._cluster: Cluster | None = None
        self._jars: Jars | None = None
        self._servers = ServerTable()

    # -- Target ------------------------------------------------------------------------

    def setup(self, cluster: Cluster) -> None:
        rf, n = self.options["replication_factor"], len(cluster.nodes)
        if rf > n:
            raise UsageError(f"--option replication_factor={rf} is more than the {n} nodes; "
                             "use at most the number of nodes")
        self._cluster = cluster
        self._jars = find_jars(self.options["version"])
        seeds = [node.address for node in cluster.nodes]
        _each(cluster, lambda node: self._prepare(node, seeds))
        for node in cluster.nodes:
            self._spawn(node)
        deadline = time.monotonic() + _START_TIMEOUT_S
        for node in cluster.nodes:
            self._wait_cql(node, deadline)
        self._wait_ring(cluster.nodes[0], deadline)
        self._create_schema(cluster.nodes[0])
        for node in cluster.nodes:
            self._wait_all_replicas(node, deadline)

    def teardown(self, cluster: Cluster) -> None:
        # A short grace, then SIGKILL: the data is thrown away, and a clean stop (or a
        # `nodetool drain` first, which took 10 to 18 s for three nodes in parallel
        # here) only buys the log's last lines.
        self._servers.stop_all(signal.SIGTERM, grace_s=_STOP_GRACE_S)

    # -- capabilities ------------------------------------------------------------------

    def version(self, node: Node) -> str:
        """The Cassandra release and the Java that runs it on ``node`` (``5.0.9 on Java
        17.0.15``).

        Raises:
            TargetError: the node has no Java, or one older than 11 (Cassandra 5.0 runs
                on 11 and 17).
            UsageError: the release's jars have not been fetched.
        """
        java = self.options["java"]
        # `java --version` (two dashes) prints to stdout: "openjdk 17.0.15 2025-04-15".
        out = version_output(node, [java, "--version"],
                             fix=f"install openjdk-17-jre-headless (make setup) or pass "
                                 f"--option java=PATH (now {java})")
        words = out.split()
        java_version = words[1] if len(words) > 1 else "?"
        major = java_version.split(".")[0]
        if not major.isdigit() or int(major) < 11:
            raise TargetError(f"{java} is Java {java_version}; Cassandra 5.0 needs Java 11 "
                              "or 17: install openjdk-17-jre-headless (make setup) or pass "
                              "--option java=PATH", node=node.name)
        return f"{find_jars(self.options['version']).version} on Java {java_version}"

    def log_files(self, node: Node) -> list[Path]:
        return [Path(NodeFiles.under(node.directory).log)]

    def client_kinds(self) -> tuple[str, ...]:
        return CLIENT_KINDS

    def open_client(self, kind: str, node: Node) -> Client:
        o = self.options
        config = CassandraClientConfig(
            node=node.name, address=node.address, port=CQL_PORT,
            read_consistency=o["read_consistency"], write_consistency=o["write_consistency"],
            serial_consistency=o["serial_consistency"], lwt=o["lwt"],
            server_timestamps=o["timestamps"] == "server", timeout_s=o["client_timeout_s"])
        return CassandraClient(kind, config)

    def start(self, node: str) -> None:
        """Start the node again on its data, and wait until it serves CQL.

        Raises:
            TargetError: it did not serve within 45 s.
        """
        if self._servers.running(node):
            return
        target = self._node(node)
        self._spawn(target)
        self._wait_cql(target, time.monotonic() + _RESTART_TIMEOUT_S)

    def kill(self, node: str) -> None:
        """SIGKILL the node's JVM and reap it."""
        self._servers.kill(node)

    def pause(self, node: str) -> None:
        """SIGSTOP the node's JVM."""
        self._servers.signal(node, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        self._servers.signal(node, signal.SIGCONT)

    def clock_file(self, node: str) -> Path:
        """The libfaketime offset file the JVM on ``node`` reads its wall clock through."""
        return Path(NodeFiles.under(self._node(node).directory).clock)

    def nodetool(self, node: Node, *command: str, timeout_s: float = 60.0) -> str:
        """``nodetool COMMAND…`` run on ``node`` against its own JMX port; its output.

        Raises:
            TargetError: nodetool failed (its last line of error quoted).
        """
        assert self._jars is not None
        files = NodeFiles.under(node.directory)
        result = node.run(nodetool_argv(java=self.options["java"],
                                        lib=PurePosixPath(self._jars.lib), files=files,
                                        command=command), timeout_s=timeout_s)
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise TargetError(f"nodetool {' '.join(command)} failed: "
                              f"{detail[-1] if detail else f'exit {result.exit_code}'}",
                              node=node.name)
        return result.stdout

    # -- pieces ------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _prepare(self, node: Node, seeds: list[str]) -> None:
        """A fresh data folder, this node's configuration, and the jars on the node."""
        files = NodeFiles.under(node.directory)
        node.remove(files.data)
        node.write_file(files.config, cassandra_yaml(address=node.address, seeds=seeds,
                                                     files=files))
        node.write_file(files.logback, logback_xml())
        node.write_file(files.tools_logback, TOOLS_LOGBACK_XML)
        self._install_jars(node)

    def _install_jars(self, node: Node) -> None:
        """Copy the jars to ``node`` unless it already has them (a node on this machine
        shares the cache's disk and always has)."""
        assert self._jars is not None
        marker = self._jars.lib.parent / ".complete"
        if node.exists(marker):
            return
        for jar in sorted(self._jars.lib.iterdir()):
            node.write_file(jar, jar.read_bytes())
        node.write_file(marker, "")

    def _spawn(self, node: Node) -> None:
        assert self._jars is not None
        files = NodeFiles.under(node.directory)
        argv = daemon_argv(java=self.options["java"], lib=PurePosixPath(self._jars.lib),
                           jamm_jar=PurePosixPath(self._jars.jamm), files=files,
                           heap_mb=self.options["heap_mb"])
        env = faketime_env(node, Path(files.clock))
        self._servers.put(node.name, node.spawn(argv, log_path=Path(files.log), env=env))

    def _wait_cql(self, node: Node, deadline: float) -> None:
        process = self._servers.get(node.name)
        assert process is not None, "spawned before waited for"

        def listening() -> bool:
            try:
                socket.create_connection((node.address, CQL_PORT), timeout=1.0).close()
            except OSError:
                return False
            return True

        wait_until(listening, timeout_s=max(0.0, deadline - time.monotonic()),
                   what="Cassandra did not listen for CQL clients", node=node,
                   log=Path(NodeFiles.under(node.directory).log),
                   alive=lambda: process.alive, poll_s=0.5)

    def _wait_ring(self, node: Node, deadline: float) -> None:
        """Wait until ``nodetool status`` on ``node`` lists every node Up and Normal."""
        assert self._cluster is not None
        n = len(self._cluster.nodes)

        def all_up_and_normal() -> bool:
            try:
                status = self.nodetool(node, "status", timeout_s=60)
            except LabrysError:  # JMX not up yet, or a JVM slow to start on a busy machine
                return False
            return sum(line.startswith("UN ") for line in status.splitlines()) == n

        wait_until(all_up_and_normal, timeout_s=max(0.0, deadline - time.monotonic()),
                   what=f"nodetool status did not show all {n} nodes Up and Normal",
                   node=node, log=Path(NodeFiles.under(node.directory).log), poll_s=1.0)

    def _wait_all_replicas(self, node: Node, deadline: float) -> None:
        """Wait until a read at ALL through ``node`` succeeds: then ``node`` itself sees
        every replica up, and the first operations of a run are not refused as
        Unavailable because one node has not yet heard from another."""
        session = connect(node.address, CQL_PORT, timeout_s=10.0)
        probe = SimpleStatement(f"SELECT v FROM {KEYSPACE}.registers WHERE k = 0",
                                consistency_level=ConsistencyLevel.ALL)

        def answers_at_all() -> bool:
            try:
                session.execute(probe)
            except Exception:  # Unavailable, a timeout: not yet
                return False
            return True

        try:
            wait_until(answers_at_all, timeout_s=max(0.0, deadline - time.monotonic()),
                       what="a read at consistency ALL did not succeed", node=node,
                       log=Path(NodeFiles.under(node.directory).log), poll_s=0.5)
        finally:
            session.cluster.shutdown()

    def _create_schema(self, node: Node) -> None:
        session = None
        try:
            session = connect(node.address, CQL_PORT, timeout_s=30.0, metadata=True)
            keyspace, *tables = schema(self.options["replication_factor"])
            session.execute(keyspace, timeout=60.0)
            for future in [session.execute_async(t, timeout=60.0) for t in tables]:
                future.result()
            session.cluster.refresh_schema_metadata(max_schema_agreement_wait=60)
        except Exception as e:
            raise start_error(f"could not create the keyspace and tables: {e}", node=node,
                              log=Path(NodeFiles.under(node.directory).log)) from None
        finally:
            if session is not None:
                session.cluster.shutdown()



def _each(cluster: Cluster, action: Callable[[Node], None]) -> None:
    """``action`` on every node at once; the first error is raised once all are done."""
    with ThreadPoolExecutor(max_workers=len(cluster.nodes)) as pool:
        for future in [pool.submit(action, node) for node in cluster.nodes]:
            future.result()


def _make(options: Mapping[str, Any]) -> Cassandra:
    return Cassandra(options)


ENTRY = TargetEntry(name="cassandra", summary="Apache Cassandra 5.0 (jars from Maven), every "
                    "node a seed, clients at a chosen consistency", options=OPTIONS,
                    make=_make, packages=("openjdk-17-jre-headless",))
