"""Cassandra clients for each workload kind, and the tables of which errors are definite.

Every client is a DataStax ``cassandra-driver`` session pinned to the one node its
worker is bound to (a white-list load-balancing policy naming that node alone, for
the control connection as for requests), so a client beside a partitioned node keeps
talking to it, as an application server on that machine would. The session is opened
on the first operation, not when the client is made: opening runs on the harness's
scheduling thread and must not wait on a node that is down.

The driver never retries (`FallthroughRetryPolicy`) and never speculates: a retried
counter increment that had in fact been applied would count twice, and a retry hides
that an operation's fate was open. Reconnection to a node that went down is tried
every second, so a restarted node is used again at once.

Timestamps. By default every write is stamped by the node that coordinates it
(``timestamps=server``), from that node's wall clock, which the clock nemesis skews:
this is how last-write-wins loses acknowledged writes, the anomaly Jepsen's Cassandra
tests are known for. With ``timestamps=client`` the driver stamps writes from the
control machine's clock, which no fault reaches.

Statements, by kind (values as the workloads define them):

- ``register`` with ``lwt=true``: ``cas`` is ``UPDATE … IF v = old``; ``write`` is a
  Paxos round too (``UPDATE … IF EXISTS``, else ``INSERT … IF NOT EXISTS``, a few
  tries), because mixing plain writes with lightweight transactions on one row voids
  their guarantee; ``read`` is a ``SELECT`` at the serial consistency (``SERIAL``),
  which completes any Paxos round in flight first. Without LWT, writes and reads are
  plain statements at the chosen consistencies, and ``cas`` is refused (``fail``: it
  was never sent). The two modes use separate tables, so they never share a row.
- ``set``: ``UPDATE sets SET elems = elems + {e}``, a CQL set collection in one row;
  ``read`` returns the sorted elements.
- ``counter``: ``UPDATE counters SET n = n + d``; ``read`` returns the count.
- ``list-append`` and ``rw-register``: a transaction's writes go in one logged
  ``BATCH`` (atomic: all of it is eventually applied, or none), its reads in one
  ``SELECT … WHERE k IN …`` taken before the batch; a read of a key the transaction
  already wrote sees the transaction's own write, as in any transaction that buffers
  its writes. A batch is not isolated: other clients can see part of it. Within one
  transaction only the last write to a register is sent, because statements of one
  batch share a timestamp and Cassandra breaks such ties by value, not by order.

Errors (`PLAIN_ERRORS`, `LWT_ERRORS`): Unavailable means the coordinator saw too few
live replicas and sent nothing (``fail``), except in a lightweight transaction's
commit phase, which follows a proposal a quorum has already accepted: the value will
be committed by the next Paxos round, so there it is ``info``. The consistency level
in the error tells the phases apart (``SERIAL``/``LOCAL_SERIAL`` for Paxos's prepare).
Timeouts, failures reported by replicas, a connection lost mid-request and the
driver's own timeout leave the outcome open (``info``); requests refused before they
ran (overloaded, bootstrapping, invalid) and ``NoHostAvailable`` (the driver could not
send the request anywhere) are ``fail``. Reads are ``fail`` on any error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from cassandra import (
    ConsistencyLevel,
    CoordinationFailure,
    DriverException,
    OperationTimedOut,
    RequestExecutionException,
    RequestValidationException,
    Timeout,
    Unavailable,
)
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.policies import (
    ConstantReconnectionPolicy,
    FallthroughRetryPolicy,
    WhiteListRoundRobinPolicy,
)
from cassandra.protocol import ErrorMessage, IsBootstrappingErrorMessage, OverloadedErrorMessage
from cassandra.protocol import RequestValidationException as RejectedByServer
from cassandra.query import BatchStatement, BatchType, SimpleStatement, ValueSequence

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.targets._errors import ErrorRule, classify, describe, only_reads
from labrys.targets._target import check_kind

CLIENT_KINDS = ("register", "set", "counter", "list-append", "rw-register")
KEYSPACE = "labrys"

_WRITE_TRIES = 3
"""Paxos rounds an LWT ``write`` tries (update if the row exists, insert if not) before
giving up as ``fail``: each round that did not apply certainly wrote nothing."""


def schema(replication_factor: int) -> list[str]:
    """The keyspace and tables every client kind uses."""
    return [
        f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {replication_factor}}}",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.registers (k int PRIMARY KEY, v int)",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.lwt_registers (k int PRIMARY KEY, v int)",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.sets (k int PRIMARY KEY, elems set<int>)",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.counters (k int PRIMARY KEY, n counter)",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.lists (k int PRIMARY KEY, l list<int>)",
        f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.rw (k int PRIMARY KEY, v int)",
    ]


_COMMON_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=NoHostAvailable, definite=True,
              why="the driver could not send the request to the node at all"),
    ErrorRule(error=Timeout, definite=False,
              why="the coordinator gave up waiting for replicas, some of which may have "
                  "applied the write"),
    ErrorRule(error=CoordinationFailure, definite=False,
              why="some replicas reported a failure; others may have applied the write"),
    ErrorRule(error=OverloadedErrorMessage, definite=True,
              why="the coordinator refused the request before running it"),
    ErrorRule(error=IsBootstrappingErrorMessage, definite=True,
              why="the coordinator refused the request before running it"),
    ErrorRule(error=RequestValidationException, definite=True,
              why="the statement was rejected before it ran (invalid, unauthorized)"),
    ErrorRule(error=RejectedByServer, definite=True,
              why="the statement was rejected before it ran (syntax, configuration)"),
    ErrorRule(error=OperationTimedOut, definite=False,
              why="the driver's own timeout: the request may have been applied"),
    ErrorRule(error=ConnectionException, definite=False,
              why="the connection broke after the request may have been sent"),
)

PLAIN_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=Unavailable, definite=True,
              why="too few live replicas: the coordinator sent the write to none"),
    *_COMMON_ERRORS,
)
"""Errors of plain statements (and batches), first match wins (see `labrys.targets._errors`)."""

LWT_ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=Unavailable, contains="'consistency': 'SERIAL'", definite=True,
              why="too few live replicas for Paxos's prepare phase: nothing was proposed"),
    ErrorRule(error=Unavailable, contains="'consistency': 'LOCAL_SERIAL'", definite=True,
              why="too few live replicas for Paxos's prepare phase: nothing was proposed"),
    ErrorRule(error=Unavailable, definite=False,
              why="raised in the commit phase, after a quorum accepted the proposal: the "
                  "next Paxos round will commit it"),
    ErrorRule(error=ErrorMessage, contains="code=1700", definite=False,
              why="CAS_WRITE_UNKNOWN (protocol v5, which the driver has no class for): "
                  "some acceptors took the proposal, so a later round may commit it"),
    *_COMMON_ERRORS,
)
"""Errors of lightweight transactions (``… IF …``), first match wins."""

_UNANSWERED = (DriverException, RequestExecutionException, ErrorMessage, ConnectionException,
               NoHostAvailable)
"""What the driver raises for a request that did not come back with a result."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CassandraClientConfig:
    """How a Cassandra client connects and what its statements ask for.

    Attributes:
        node: the node the client is bound to (recorded on its ops).
        address: that node's address; the only one the driver may use.
        port: the CQL port.
        read_consistency: ``ONE``, ``QUORUM`` or ``ALL`` for plain reads.
        write_consistency: likewise for writes, and for the commit of an LWT.
        serial_consistency: ``SERIAL`` or ``LOCAL_SERIAL``: Paxos's quorum, and the
            consistency of reads in LWT mode.
        lwt: register writes and cas as lightweight transactions, reads at serial
            consistency.
        server_timestamps: let the coordinator stamp writes (see the module docstring).
        timeout_s: the driver's per-request timeout.
    """

    node: str
    address: str
    port: int
    read_consistency: str
    write_consistency: str
    serial_consistency: str
    lwt: bool
    server_timestamps: bool
    timeout_s: float


def connect(address: str, port: int, *, timeout_s: float, metadata: bool = False) -> Any:
    """A driver session pinned to the node at ``address``; retries off (see the module
    docstring).

    Args:
        metadata: fetch schema and token metadata (slow; only labrys's own set-up
            session needs it, to wait for schema agreement once, after all its DDL
            statements, rather than after each).

    Raises:
        NoHostAvailable: the node did not answer.
    """
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([address]),
                               retry_policy=FallthroughRetryPolicy(), request_timeout=timeout_s)
    cluster = Cluster([address], port=port, protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      reconnection_policy=ConstantReconnectionPolicy(1.0),
                      connect_timeout=min(timeout_s, 5.0), control_connection_timeout=timeout_s,
                      schema_metadata_enabled=metadata, token_metadata_enabled=metadata,
                      max_schema_agreement_wait=0)
    try:
        return cluster.connect()
    except BaseException:
        cluster.shutdown()
        raise


class CassandraClient:
    """One client of one kind (see the module docstring); it connects on its first
    operation.

    Raises:
        UsageError: Cassandra has no client of that kind.
    """

    def __init__(self, kind: str, config: CassandraClientConfig) -> None:
        check_kind("cassandra", kind, CLIENT_KINDS)
        self.kind = kind
        self.config = config
        self._session: Any = None
        self._lock = threading.Lock()

    def invoke(self, invocation: Invocation) -> Completion:
        read_only = only_reads(invocation)
        lwt = self.kind == "register" and self.config.lwt and not read_only
        if self.kind == "register" and invocation.f == "cas" and not self.config.lwt:
            return self._done(OpType.FAIL, invocation.value, "cas needs lightweight "
                              "transactions (--option lwt=true); it was not sent")
        try:
            value = self._perform(self._open(), invocation)
        except _NotApplied as e:
            return self._done(OpType.FAIL, invocation.value, str(e))
        except _UNANSWERED as e:
            kind = classify(LWT_ERRORS if lwt else PLAIN_ERRORS, e, read_only=read_only)
            return self._done(kind, invocation.value, describe(e))
        return self._done(OpType.OK, value, None)

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.cluster.shutdown()

    def _open(self) -> Any:
        with self._lock:
            if self._session is None:
                c = self.config
                session = connect(c.address, c.port, timeout_s=c.timeout_s)
                session.use_client_timestamp = not c.server_timestamps
                self._session = session
            return self._session

    def _done(self, kind: OpType, value: Any, error: str | None) -> Completion:
        return Completion(type=kind, value=value, error=error, node=self.config.node)

    # -- statements --------------------------------------------------------------------

    def _statement(self, cql: str, *, read: bool = False, serial: bool = False) -> Any:
        c = self.config
        if serial:
            level = c.serial_consistency
        else:
            level = c.read_consistency if read else c.write_consistency
        return SimpleStatement(cql, consistency_level=_level(level),
                               serial_consistency_level=_level(c.serial_consistency))

    def _perform(self, session: Any, inv: Invocation) -> Any:
        if self.kind == "register":
            return self._lwt_register(session, inv) if self.config.lwt \
                else self._plain_register(session, inv)
        if self.kind == "set":
            if inv.f == "add":
                session.execute(self._statement(
                    f"UPDATE {KEYSPACE}.sets SET elems = elems + %s WHERE k = 0"), ({inv.value},))
                return inv.value
            row = session.execute(self._statement(
                f"SELECT elems FROM {KEYSPACE}.sets WHERE k = 0", read=True)).one()
            return sorted(row.elems) if row is not None and row.elems else []
        if self.kind == "counter":
            if inv.f == "add":
                session.execute(self._statement(
                    f"UPDATE {KEYSPACE}.counters SET n = n + %s WHERE k = 0"), (inv.value,))
                return inv.value
            row = session.execute(self._statement(
                f"SELECT n FROM {KEYSPACE}.counters WHERE k = 0", read=True)).one()
            return 0 if row is None or row.n is None else int(row.n)
        return self._txn(session, inv)  # list-append and rw-register

    def _plain_register(self, session: Any, inv: Invocation) -> Any:
        key, value = inv.value
        if inv.f == "read":
            row = session.execute(self._statement(
                f"SELECT v FROM {KEYSPACE}.registers WHERE k = %s", read=True), (key,)).one()
            return [key, None if row is None else row.v]
        if inv.f == "write":
            session.execute(self._statement(
                f"UPDATE {KEYSPACE}.registers SET v = %s WHERE k = %s"), (value, key))
            return [key, value]
        raise UsageError(f"the cassandra register client cannot do {inv.f!r}; "
                         "it does read, write and (with lwt=true) cas")

    def _lwt_register(self, session: Any, inv: Invocation) -> Any:
        key, value = inv.value
        table = f"{KEYSPACE}.lwt_registers"
        if inv.f == "read":
            row = session.execute(self._statement(
                f"SELECT v FROM {table} WHERE k = %s", serial=True), (key,)).one()
            return [key, None if row is None else row.v]
        if inv.f == "cas":
            old, new = value
            if not _applied(session.execute(self._statement(
                    f"UPDATE {table} SET v = %s WHERE k = %s IF v = %s"), (new, key, old))):
                raise _NotApplied("cas mismatch")
            return [key, value]
        if inv.f == "write":
            for _ in range(_WRITE_TRIES):
                if _applied(session.execute(self._statement(
                        f"UPDATE {table} SET v = %s WHERE k = %s IF EXISTS"), (value, key))):
                    return [key, value]
                if _applied(session.execute(self._statement(
                        f"INSERT INTO {table} (k, v) VALUES (%s, %s) IF NOT EXISTS"),
                        (key, value))):
                    return [key, value]
            raise _NotApplied(f"no Paxos round applied the write in {_WRITE_TRIES} tries "
                              "(the row was created and deleted in between)")
        raise UsageError(f"the cassandra register client cannot do {inv.f!r}; "
                         "it does read, write, cas")

    def _txn(self, session: Any, inv: Invocation) -> list[list[Any]]:
        """Reads first (one SELECT), then every write in one logged batch."""
        lists = self.kind == "list-append"
        table, column = (f"{KEYSPACE}.lists", "l") if lists else (f"{KEYSPACE}.rw", "v")
        read_keys = sorted({k for f, k, _ in inv.value if f == "r"})
        stored: dict[int, Any] = {}
        if read_keys:
            rows = session.execute(self._statement(
                f"SELECT k, {column} FROM {table} WHERE k IN %s", read=True),
                (ValueSequence(read_keys),))
            stored = {row.k: getattr(row, column) for row in rows}
        out: list[list[Any]] = []
        own: dict[int, list[Any]] = {}  # this transaction's writes so far, per key
        for f, key, value in inv.value:
            if f == "r":
                if lists:
                    out.append([f, key, list(stored.get(key) or []) + own.get(key, [])])
                else:
                    out.append([f, key, own[key][-1] if key in own else stored.get(key)])
            else:
                own.setdefault(key, []).append(value)
                out.append([f, key, value])
        if own:
            batch = BatchStatement(batch_type=BatchType.LOGGED,
                                   consistency_level=_level(self.config.write_consistency))
            for key, values in own.items():
                if lists:
                    for v in values:
                        batch.add(SimpleStatement(
                            f"UPDATE {table} SET l = l + %s WHERE k = %s"), ([v], key))
                else:
                    batch.add(SimpleStatement(f"UPDATE {table} SET v = %s WHERE k = %s"),
                              (values[-1], key))
            session.execute(batch)
        return out


class _NotApplied(Exception):
    """A lightweight transaction whose condition was false: it certainly wrote nothing."""


def _applied(result: Any) -> bool:
    """Whether a lightweight transaction applied (its ``[applied]`` column)."""
    return bool(result.was_applied)


def _level(name: str) -> int:
    return int(getattr(ConsistencyLevel, name))

