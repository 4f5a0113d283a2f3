"""PostgreSQL on the nodes, as both set-ups run it: files, user, settings, readiness.

Plain streaming replication (`labrys.targets.postgres`) and Patroni
(`labrys.targets._patroni`) lay PostgreSQL out on a node the same way: everything under
``<node directory>/pg``, the data directory in ``pg/data``, the socket directory in
``pg/run``, every program run as the ``postgres`` user. The socket directory is kept
outside the data directory because ``pg_basebackup`` would otherwise copy the primary's
socket lock file, and the standby would refuse to start. This module is what both share,
so that neither needs the other's class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from labrys.control import Node
from labrys.targets._daemons import wait_until
from labrys.targets._postgres_clients import SCHEMA

PORT = 5432
USER = "postgres"
START_TIMEOUT_S = 60.0

ISOLATION = {"read-committed": "read committed", "repeatable-read": "repeatable read",
             "serializable": "serializable"}
"""The ``isolation`` option's values, as PostgreSQL spells them."""

SYNC = ("off", "local", "remote_write", "on", "remote_apply")
"""The ``sync`` option: PostgreSQL's own ``synchronous_commit``, weakest first. ``off``:
a commit returns before its WAL is flushed, even locally (the documentation bounds what
a crash loses to three times ``wal_writer_delay``, 600 ms by default); ``local``: after
the local flush, replicas asynchronous; the others make every replica a synchronous
standby (`WAITS_FOR_STANDBYS`) and also wait until it has written, flushed or applied
the commit's WAL."""

WAITS_FOR_STANDBYS = ("remote_write", "on", "remote_apply")


@dataclass(frozen=True, slots=True, kw_only=True)
class PgServers:
    """How PostgreSQL runs on every node, for one set of options.

    Attributes:
        bin: the folder holding ``initdb``, ``postgres`` and ``pg_basebackup``.
        sync: the ``sync`` option (one of `SYNC`).
        isolation: the ``isolation`` option (``read-committed``…).
    """

    bin: Path
    sync: str
    isolation: str

    @staticmethod
    def pg_dir(node: Node) -> Path:
        return node.directory / "pg"

    def data_dir(self, node: Node) -> Path:
        return self.pg_dir(node) / "data"

    def socket_dir(self, node: Node) -> Path:
        return self.pg_dir(node) / "run"

    @staticmethod
    def as_postgres(argv: list[str]) -> list[str]:
        return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", *argv]

    def shared_settings(self, nodes: Sequence[Node]) -> dict[str, str]:
        """Settings every node shares (``postgresql.conf``, or Patroni's parameters).

        ``nodes`` are the cluster's, the first being the primary.
        """
        replicas = [n.name for n in nodes[1:]]
        names = ""
        if self.sync in WAITS_FOR_STANDBYS and replicas:
            # Every replica synchronous: the claim is that *any* replica is current.
            names = f"ANY {len(replicas)} ({', '.join(replicas)})"
        return {
            "wal_level": "replica", "max_wal_senders": "10", "max_replication_slots": "10",
            "hot_standby": "on", "wal_keep_size": "256MB",
            "synchronous_commit": self.sync,
            "synchronous_standby_names": names,
            "default_transaction_isolation": ISOLATION[self.isolation],
            "max_connections": "200", "shared_buffers": "32MB",
            "logging_collector": "off", "log_min_messages": "warning",
        }

    def node_settings(self, node: Node) -> dict[str, str]:
        """Settings of this node alone, given on the ``postgres`` command line."""
        return {"listen_addresses": node.address, "port": str(PORT),
                "unix_socket_directories": str(self.socket_dir(node)),
                "cluster_name": node.name}

    @staticmethod
    def create_schema(node: Node) -> None:
        """Create every table the client kinds use, on the primary ``node``."""
        with psycopg.connect(host=node.address, port=PORT, user=USER, dbname="postgres",
                             connect_timeout=5, autocommit=True) as conn:
            # Created before any standby exists: with synchronous standbys configured,
            # a commit that waited for them would wait forever.
            conn.execute("SET synchronous_commit TO local")
            for statement in SCHEMA:
                conn.execute(statement)  # type: ignore[arg-type]

    @staticmethod
    def wait_accepting(node: Node, log: Path, *, timeout_s: float = START_TIMEOUT_S,
                       alive: Callable[[], bool] | None = None) -> None:
        """Return once ``node``'s server accepts connections.

        Raises:
            TargetError: ``alive`` says it exited, or ``timeout_s`` passed (quoting ``log``).
        """
        def ready() -> bool:
            try:
                with probe(node.address) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error:
                return False
            return True

        wait_until(ready, timeout_s=timeout_s, what="PostgreSQL did not accept connections",
                   node=node, log=log, alive=alive, poll_s=0.2)


def probe(address: str, *, timeout_s: int = 1) -> psycopg.Connection[Any]:
    """An autocommit connection for labrys's own questions (is it up, is it primary).

    Read committed, whatever the server's default: a standby refuses every
    transaction while ``default_transaction_isolation`` is serializable.
    """
    return psycopg.connect(host=address, port=PORT, user=USER, dbname="postgres",
                           connect_timeout=timeout_s, autocommit=True,
                           options="-c default_transaction_isolation=read\\ committed")
