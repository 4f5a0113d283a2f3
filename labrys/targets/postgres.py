"""PostgreSQL: a primary and streaming replicas, optionally managed by Patroni.

The claims under test. Streaming replication is asynchronous by default, so a hot
standby serves reads that lag the primary. ``synchronous_commit`` with
``synchronous_standby_names`` makes the primary wait for standbys: ``on`` until they
have flushed the WAL, ``remote_apply`` until they have applied it, which the
documentation says makes a committed transaction visible on those standbys
("remote_apply ... causes each commit to wait until the current synchronous standbys
report that they have replayed the transaction, making it visible to user queries").
``synchronous_commit=off`` trades durability for speed and says how much: a crash may
lose the commits of the last three ``wal_writer_delay`` (600 ms by default), without
leaving the database inconsistent ("the database will be restored to a consistent state
... the most recent transactions might be lost"); the ``lose-unsynced`` fault tests it.
The isolation levels are the documented ones: read committed, repeatable read
(implemented as snapshot isolation) and serializable (SSI, Cahill et al. 2008; Ports
and Grittner 2012). With ``ha=patroni``, Patroni promotes a standby when the leader
loses its lease in the store, and says a leader cut off from the store demotes itself.

Set-up without Patroni. n1 runs ``initdb`` and starts as primary; the schema every
client kind needs is created there; every other node copies it with
``pg_basebackup -R -X stream`` and starts as a hot standby streaming from n1. Node
specific settings (address, port, socket directory, ``cluster_name``, which is the
name a standby reports to its primary and so the name ``synchronous_standby_names``
lists) go on the ``postgres`` command line; shared ones in ``postgresql.conf``. The
socket directory is outside the data directory, or ``pg_basebackup`` would copy its
lock file and the standby would refuse to start. Every server runs as
the ``postgres`` user (``setpriv``) and is a direct child of labrys, so a kill is
followed by reaping it and removing its now stale ``postmaster.pid`` before a restart.

With ``ha=patroni`` (``_patroni``), etcd runs on every node as Patroni's store and
Patroni runs PostgreSQL; clients list every node and let libpq find the one that
accepts writes (``target_session_attrs=read-write``), as an application following
the leader would.

Example::

    labrys run --target postgres --workload register --option read_from=replica
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from labrys.client import Client
from labrys.control import Cluster, Node, Process
from labrys.errors import TargetError
from labrys.options import Option, choice, positive_float
from labrys.targets._daemons import start_error, version_output, wait_until
from labrys.targets._patroni import Patroni
from labrys.targets._postgres_clients import CLIENT_KINDS, PgClientConfig, open_postgres_client
from labrys.targets._postgres_server import (
    ISOLATION,
    PORT,
    START_TIMEOUT_S,
    SYNC,
    USER,
    PgServers,
    probe,
)
from labrys.targets._target import TargetEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="pg_bin", default="/usr/lib/postgresql/15/bin", parse=str,
               expected="the folder holding initdb, postgres and pg_basebackup",
               help="PostgreSQL's programs (default: Debian's PostgreSQL 15)"),
        Option(name="sync", default="local", parse=choice(*SYNC),
               expected="off, local, remote_write, on or remote_apply",
               help="synchronous_commit: off (no wait even for the local flush), local "
                    "(asynchronous replicas), or every replica a synchronous standby that "
                    "commits wait for: remote_write, on (its flush), remote_apply"),
        Option(name="isolation", default="read-committed", parse=choice(*ISOLATION),
               expected="read-committed, repeatable-read or serializable",
               help="default_transaction_isolation of every transaction"),
        Option(name="read_from", default="primary", parse=choice("primary", "replica"),
               expected="primary or replica",
               help="where reads and read-only transactions go"),
        Option(name="ha", default="none", parse=choice("none", "patroni"),
               expected="none or patroni",
               help="patroni: Patroni manages PostgreSQL (with etcd on every node) and fails "
                    "over; none: n1 is the primary for good"),
        Option(name="client_timeout_s", default=5.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="connect and statement timeout of each client"),
    ]
}


class Postgres:
    """PostgreSQL on every node of a cluster (see the module docstring).

    Args:
        options: the typed values of `OPTIONS`.
    """

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        self.pg = PgServers(bin=Path(self.options["pg_bin"]), sync=self.options["sync"],
                            isolation=self.options["isolation"])
        self._cluster: Cluster | None = None
        self._servers: dict[str, Process] = {}
        self._lock = threading.Lock()
        self._patroni = Patroni(self.pg) if self.options["ha"] == "patroni" else None

    # -- Target ------------------------------------------------------------------------

    def setup(self, cluster: Cluster) -> None:
        self._cluster = cluster
        for node in cluster.nodes:
            self._prepare_dirs(node)
        if self._patroni is not None:
            self._patroni.setup(cluster)
            return
        primary, replicas = cluster.nodes[0], cluster.nodes[1:]
        self._initdb(primary)
        self._spawn(primary)
        self._wait_accepting(primary)
        self.pg.create_schema(primary)
        for node in replicas:
            self._basebackup(node, primary)
            self._spawn(node)
        for node in replicas:
            self._wait_accepting(node)
        self._wait_streaming(primary, len(replicas))

    def teardown(self, cluster: Cluster) -> None:
        if self._patroni is not None:
            self._patroni.teardown()
        with self._lock:
            procs, self._servers = list(self._servers.values()), {}
        for process in procs:
            # SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) waits for sessions.
            process.signal(signal.SIGINT)
            process.signal(signal.SIGCONT)
        for process in procs:
            if process.wait(timeout_s=10.0) is None:
                process.kill()

    # -- capabilities ------------------------------------------------------------------

    def version(self, node: Node) -> str:
        out = version_output(node, [str(self.pg.bin / "postgres"), "--version"],
                             fix="install postgresql-15 (make setup) or pass --option "
                             f"pg_bin=DIR (now {self.pg.bin})")
        return out.strip().split()[-1] if out.strip() else "?"

    def log_files(self, node: Node) -> list[Path]:
        logs = [self.pg.pg_dir(node) / name for name in ("postgres.log", "patroni.log")]
        return logs + (self._patroni.log_files(node) if self._patroni is not None else [])

    def client_kinds(self) -> tuple[str, ...]:
        return CLIENT_KINDS

    def open_client(self, kind: str, node: Node) -> Client:
        assert self._cluster is not None
        nodes = list(self._cluster.nodes)
        if self._patroni is not None:
            # Every node, and libpq picks the one that takes writes (or a standby).
            primary = [n.address for n in nodes]
            replica = primary
        else:
            primary = [nodes[0].address]
            replica = [node.address if node is not nodes[0] else nodes[1 % len(nodes)].address]
        config = PgClientConfig(node=node.name, primary_hosts=primary, replica_hosts=replica,
                                port=PORT, user=USER, read_from=self.options["read_from"],
                                timeout_s=self.options["client_timeout_s"],
                                follow_leader=self._patroni is not None)
        return open_postgres_client(kind, config)

    def start(self, node: str) -> None:
        """Start PostgreSQL (or Patroni) on ``node`` again, once the old one is gone."""
        if self._patroni is not None:
            self._patroni.start(node)
            return
        with self._lock:
            process = self._servers.get(node)
        if process is not None and process.alive:
            return
        self._spawn(self._node(node))

    def kill(self, node: str) -> None:
        """SIGKILL the server on ``node`` with all its backends, and reap it."""
        if self._patroni is not None:
            self._patroni.kill(node)
            return
        with self._lock:
            process = self._servers.pop(node, None)
        if process is not None and process.kill() is None:
            raise TargetError("the postmaster survived SIGKILL for 10 s", node=node)

    def pause(self, node: str) -> None:
        """SIGSTOP PostgreSQL's whole process group on ``node``."""
        self._signal(node, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        self._signal(node, signal.SIGCONT)

    def primaries(self) -> list[str]:
        """The nodes whose server is not in recovery (accepts writes), as they answer."""
        assert self._cluster is not None
        if self._patroni is not None:
            return self._patroni.primaries()
        out = []
        for node in self._cluster.nodes:
            try:
                with probe(node.address) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            except psycopg.Error:
                continue
            if row is not None and not row[0]:
                out.append(node.name)
        return out

    # -- pieces ------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _prepare_dirs(self, node: Node) -> None:
        node.remove(self.pg.pg_dir(node))
        for path in (self.pg.pg_dir(node), self.pg.socket_dir(node)):
            node.make_dir(path, owner=USER)
        # Empty, and on a lazy disk if the run loses unsynced data: initdb and
        # pg_basebackup fill an empty directory as they would a new one, but only
        # initdb gives it the mode the server insists on.
        data = node.data_dir(self.pg.data_dir(node), owner=USER)
        self._run(node, ["chmod", "0700", str(data)], "chmod of the data directory")

    def _run(self, node: Node, argv: list[str], what: str, *, input: str | None = None) -> None:
        result = node.run(self.pg.as_postgres(argv), input=input, timeout_s=120)
        if not result.ok:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise TargetError(f"{what} failed (exit {result.exit_code}): "
                              f"{' | '.join(detail[-3:]) or 'no output'}", node=node.name)

    def _initdb(self, node: Node) -> None:
        data = self.pg.data_dir(node)
        self._run(node, [str(self.pg.bin / "initdb"), "-D", str(data), "-U", USER,
                         "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], "initdb")
        assert self._cluster is not None
        settings = self.pg.shared_settings(self._cluster.nodes)
        conf = "".join(f"{k} = '{v}'\n" for k, v in settings.items())
        hba = "host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n"
        # Appended as the postgres user, so the files keep the owner initdb gave them.
        for name, text in (("postgresql.conf", conf), ("pg_hba.conf", hba)):
            self._run(node, ["sh", "-c", 'cat >> "$0"', str(data / name)], f"writing {name}",
                      input=text)

    def _basebackup(self, node: Node, primary: Node) -> None:
        self._run(node, [str(self.pg.bin / "pg_basebackup"), "-h", primary.address, "-p",
                         str(PORT), "-U", USER, "-D", str(self.pg.data_dir(node)), "-R",
                         "-X", "stream", "--no-sync", "--checkpoint=fast"], "pg_basebackup")

    def _spawn(self, node: Node) -> None:
        data = self.pg.data_dir(node)
        # We reaped the old postmaster ourselves, so its pid file is stale: a reused
        # PID could otherwise make the new postmaster refuse to start.
        node.remove(data / "postmaster.pid")
        argv = [str(self.pg.bin / "postgres"), "-D", str(data)]
        for key, value in self.pg.node_settings(node).items():
            argv += ["-c", f"{key}={value}"]
        log = self.pg.pg_dir(node) / "postgres.log"
        try:
            process = node.spawn(self.pg.as_postgres(argv), log_path=log)
        except OSError as e:
            raise start_error(f"cannot start postgres: {e.strerror}", node=node,
                              log=log) from None
        with self._lock:
            self._servers[node.name] = process

    def _wait_accepting(self, node: Node) -> None:
        process = self._servers[node.name]
        self.pg.wait_accepting(node, self.pg.pg_dir(node) / "postgres.log",
                            alive=lambda: process.alive)

    def _wait_streaming(self, primary: Node, replicas: int) -> None:
        def ready() -> bool:
            try:
                with probe(primary.address) as conn:
                    row = conn.execute("SELECT count(*) FROM pg_stat_replication "
                                       "WHERE state = 'streaming'").fetchone()
            except psycopg.Error:
                return False
            return row is not None and row[0] >= replicas

        wait_until(ready, timeout_s=START_TIMEOUT_S, what="the replicas did not stream",
                   node=primary, log=self.pg.pg_dir(primary) / "postgres.log", poll_s=0.2)

    def _signal(self, node: str, sig: int) -> None:
        if self._patroni is not None:
            self._patroni.signal_postgres(node, sig)
            return
        with self._lock:
            process = self._servers.get(node)
        if process is not None and process.alive:
            process.signal(sig)


def _make(options: Mapping[str, Any]) -> Postgres:
    return Postgres(options)


ENTRY = TargetEntry(name="postgres", summary="PostgreSQL 15 primary with streaming replicas "
                    "(sync/async), optionally managed by Patroni", options=OPTIONS, make=_make)
