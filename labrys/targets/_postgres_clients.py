"""PostgreSQL clients for each workload kind, and the table of which errors are definite.

Each client holds at most two connections (psycopg 3), opened when first needed and
kept: one to the primary and, with ``read_from=replica``, one to a standby for reads
and read-only transactions. Under Patroni the primary's connection string lists every
node with ``target_session_attrs=read-write``, so libpq finds the current leader each
time it connects, as an application following the leader does.

Every operation is one explicit transaction, committed by `psycopg.Connection.commit`.
That fixes what an error means (the exception table, `ERRORS`):

- an error before COMMIT was sent (including failing to connect) leaves nothing
  behind: PostgreSQL aborts a transaction whose connection or statement failed, so
  the operation is ``fail``;
- at COMMIT, a serialization failure or deadlock is a rollback, ``fail``; anything
  else (the connection lost, the server shutting down, a timeout) may have come after
  the commit was durable, ``info``.

A standby refuses serializable transactions ("cannot use serializable mode in a hot
standby"), so connections to standbys run at repeatable read, the strongest a standby
offers: each read-only transaction sees one consistent snapshot of what it has
replayed.

Kinds and values (as the workloads define them):

- ``register``: read/write/cas ``[k, v]`` on table ``register``;
- ``set``: add ``e`` (INSERT), read → sorted list;
- ``counter``: add ``n`` (UPDATE … n = n + x), read → integer;
- ``bank``: init ``{"accounts": [...], "total": T}`` (creates the accounts once),
  transfer ``{"from", "to", "amount"}`` (refused, ``fail``, if it would overdraw),
  read → ``{account: balance}``. A transfer updates its two accounts in id order:
  taken in from-then-to order, two opposite transfers each held one row lock and
  waited for the other's, and PostgreSQL's deadlock detector (one second) aborted one
  of them; with ten clients such waits chained and held the workload near 10 ops/s.
  The order of two increments inside one transaction changes nothing else;
- ``list-append``: txn ``[["append", k, v], ["r", k, None]…]``, lists stored as text
  ``"1,2,3"`` in ``lists`` (appended with ``||`` in an upsert, as in Jepsen's test);
- ``rw-register``: txn ``[["w", k, v], ["r", k, None]…]`` on table ``rw``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.targets._errors import ErrorRule, classify, describe, only_reads
from labrys.targets._target import check_kind

CLIENT_KINDS = ("register", "set", "counter", "bank", "list-append", "rw-register")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS register (k int PRIMARY KEY, v int)",
    "CREATE TABLE IF NOT EXISTS set_elems (e int NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counter (id int PRIMARY KEY, n bigint NOT NULL)",
    "INSERT INTO counter VALUES (0, 0) ON CONFLICT DO NOTHING",
    "CREATE TABLE IF NOT EXISTS bank (id int PRIMARY KEY, balance bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lists (k int PRIMARY KEY, v text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS rw (k int PRIMARY KEY, v int)",
)
"""The tables every client kind uses, created on the primary before replicas copy it."""

ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=pgerrors.SerializationFailure, definite=True,
              why="40001: the transaction was rolled back"),
    ErrorRule(error=pgerrors.DeadlockDetected, definite=True,
              why="40P01: the transaction was rolled back"),
    ErrorRule(error=pgerrors.IntegrityError, definite=True,
              why="a constraint checked at commit failed: rolled back"),
    ErrorRule(error=pgerrors.ReadOnlySqlTransaction, definite=True,
              why="25006: a standby refused the write"),
    ErrorRule(error=psycopg.OperationalError, definite=False,
              why="connection lost or server shut down during COMMIT: it may have committed"),
)
"""psycopg errors raised *by COMMIT*, first match wins; errors before COMMIT are always
definite (see the module docstring)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PgClientConfig:
    """How a PostgreSQL client connects.

    Attributes:
        node: the node the client is bound to (recorded on its ops).
        primary_hosts: addresses to try for writes (all nodes when following a leader).
        replica_hosts: addresses to try for reads with ``read_from=replica``.
        port: the server port.
        user: the database user.
        read_from: ``primary`` or ``replica``.
        timeout_s: connect timeout and statement timeout.
        follow_leader: ask libpq for a read-write (or standby) session among the hosts.
    """

    node: str
    primary_hosts: Sequence[str]
    replica_hosts: Sequence[str]
    port: int
    user: str
    read_from: str
    timeout_s: float
    follow_leader: bool


class _Refused(Exception):
    """The client decided not to commit (cas mismatch, overdraft): certainly no effect."""


class PostgresClient:
    """One client of one kind (see the module docstring)."""

    def __init__(self, kind: str, config: PgClientConfig) -> None:
        self.kind = kind
        self.config = config
        self._conns: dict[str, psycopg.Connection[Any]] = {}

    def invoke(self, invocation: Invocation) -> Completion:
        read_only = only_reads(invocation)
        role = "replica" if read_only and self.config.read_from == "replica" else "primary"
        committing = False
        try:
            reused = role in self._conns
            conn = self._connect(role)
            try:
                value = self._perform(conn, invocation)
            except psycopg.OperationalError:
                if not reused:
                    raise
                # A kept connection the server has since closed (a restart, a
                # demotion). Nothing of this transaction took effect, as it never
                # reached COMMIT, so trying once more on a fresh connection is safe.
                self._drop(role)
                conn = self._connect(role)
                value = self._perform(conn, invocation)
            committing = True
            conn.commit()
        except _Refused as e:
            self._rollback(role)
            return self._done(OpType.FAIL, invocation.value, str(e))
        except psycopg.Error as e:
            self._drop(role)
            kind = classify(ERRORS, e, read_only=read_only) if committing else OpType.FAIL
            return self._done(kind, invocation.value, describe(e))
        return self._done(OpType.OK, value, None)

    def close(self) -> None:
        for role in list(self._conns):
            self._drop(role)

    # -- connections -------------------------------------------------------------------

    def _connect(self, role: str) -> psycopg.Connection[Any]:
        conn = self._conns.get(role)
        if conn is not None and not conn.closed:
            return conn
        c = self.config
        hosts = c.primary_hosts if role == "primary" else c.replica_hosts
        timeout_ms = int(c.timeout_s * 1000)
        options = f"-c statement_timeout={timeout_ms}"
        if role == "replica":
            options += " -c default_transaction_isolation=repeatable\\ read"
        attrs = {}
        if c.follow_leader:
            attrs["target_session_attrs"] = "read-write" if role == "primary" else "prefer-standby"
        conn = psycopg.connect(host=",".join(hosts), port=",".join([str(c.port)] * len(hosts)),
                               user=c.user, dbname="postgres",
                               connect_timeout=max(1, round(c.timeout_s)), options=options,
                               **attrs)
        self._conns[role] = conn
        return conn

    def _rollback(self, role: str) -> None:
        conn = self._conns.get(role)
        try:
            if conn is not None:
                conn.rollback()
        except psycopg.Error:
            self._drop(role)

    def _drop(self, role: str) -> None:
        conn = self._conns.pop(role, None)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _done(self, kind: OpType, value: Any, error: str | None) -> Completion:
        return Completion(type=kind, value=value, error=error, node=self.config.node)

    # -- one method per kind -----------------------------------------------------------

    def _perform(self, conn: psycopg.Connection[Any], inv: Invocation) -> Any:
        perform = {"register": _register, "set": _set, "counter": _counter, "bank": _bank,
                   "list-append": _list_append, "rw-register": _rw_register}.get(self.kind)
        if perform is None:
            raise UsageError(f"postgres has no {self.kind!r} client; it supports: "
                             f"{', '.join(CLIENT_KINDS)}")
        return perform(conn, inv)


def _register(conn: psycopg.Connection[Any], inv: Invocation) -> Any:
    key, value = inv.value
    if inv.f == "read":
        row = conn.execute("SELECT v FROM register WHERE k = %s", (key,)).fetchone()
        return [key, None if row is None else row[0]]
    if inv.f == "write":
        conn.execute("INSERT INTO register (k, v) VALUES (%s, %s) "
                     "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", (key, value))
        return [key, value]
    if inv.f == "cas":
        old, new = value
        cur = conn.execute("UPDATE register SET v = %s WHERE k = %s AND v = %s",
                           (new, key, old))
        if cur.rowcount != 1:
            raise _Refused("cas mismatch")
        return [key, value]
    raise UsageError(f"the postgres register client cannot do {inv.f!r}; it does read, "
                     "write, cas")


def _set(conn: psycopg.Connection[Any], inv: Invocation) -> Any:
    if inv.f == "add":
        conn.execute("INSERT INTO set_elems (e) VALUES (%s)", (inv.value,))
        return inv.value
    return sorted(row[0] for row in conn.execute("SELECT e FROM set_elems"))


def _counter(conn: psycopg.Connection[Any], inv: Invocation) -> Any:
    if inv.f == "add":
        conn.execute("UPDATE counter SET n = n + %s WHERE id = 0", (inv.value,))
        return inv.value
    row = conn.execute("SELECT n FROM counter WHERE id = 0").fetchone()
    return 0 if row is None else int(row[0])


def _bank(conn: psycopg.Connection[Any], inv: Invocation) -> Any:
    if inv.f == "init":
        accounts, total = inv.value["accounts"], inv.value["total"]
        share, rest = divmod(total, len(accounts))
        for i, account in enumerate(accounts):
            conn.execute("INSERT INTO bank (id, balance) VALUES (%s, %s) "
                         "ON CONFLICT DO NOTHING", (account, share + (rest if i == 0 else 0)))
        return inv.value
    if inv.f == "transfer":
        t = inv.value
        row = conn.execute("SELECT balance FROM bank WHERE id = %s", (t["from"],)).fetchone()
        if row is None or row[0] < t["amount"]:
            raise _Refused("insufficient funds")
        moves = sorted([(t["from"], -t["amount"]), (t["to"], t["amount"])])
        for account, delta in moves:
            conn.execute("UPDATE bank SET balance = balance + %s WHERE id = %s",
                         (delta, account))
        return t
    return {row[0]: int(row[1]) for row in conn.execute("SELECT id, balance FROM bank")}


def _list_append(conn: psycopg.Connection[Any], inv: Invocation) -> list[list[Any]]:
    out: list[list[Any]] = []
    for f, key, value in inv.value:
        if f == "append":
            conn.execute("INSERT INTO lists (k, v) VALUES (%s, %s) ON CONFLICT (k) "
                         "DO UPDATE SET v = lists.v || ',' || EXCLUDED.v", (key, str(value)))
            out.append([f, key, value])
        else:
            row = conn.execute("SELECT v FROM lists WHERE k = %s", (key,)).fetchone()
            out.append([f, key, [] if row is None else [int(x) for x in row[0].split(",")]])
    return out


def _rw_register(conn: psycopg.Connection[Any], inv: Invocation) -> list[list[Any]]:
    out: list[list[Any]] = []
    for f, key, value in inv.value:
        if f == "w":
            conn.execute("INSERT INTO rw (k, v) VALUES (%s, %s) "
                         "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", (key, value))
            out.append([f, key, value])
        else:
            row = conn.execute("SELECT v FROM rw WHERE k = %s", (key,)).fetchone()
            out.append([f, key, None if row is None else row[0]])
    return out


def open_postgres_client(kind: str, config: PgClientConfig) -> PostgresClient:
    """A client of ``kind``.

    Raises:
        UsageError: PostgreSQL has no client of that kind.
    """
    check_kind("postgres", kind, CLIENT_KINDS)
    return PostgresClient(kind, config)
