"""Redis and PostgreSQL targets without servers: options, exception tables, client logic.

The clients' error handling decides verdicts (a write called ``fail`` that may have
happened hides a lost update), so each table row and each phase of a transaction is
pinned here with fake connections; the servers themselves are in tests/system.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import errors as pgerrors
from rich.console import Console

from labrys.errors import UsageError
from labrys.harness import Invocation, TestSpec
from labrys.harness._runner import run_test
from labrys.history import OpType
from labrys.options import check_known, parse_options
from labrys.targets import TARGETS, postgres
from labrys.targets import redis as redis_target
from labrys.targets._errors import classify
from labrys.targets._postgres_clients import ERRORS as PG_ERRORS
from labrys.targets._postgres_clients import PgClientConfig, PostgresClient
from labrys.targets._redis_clients import ERRORS as REDIS_ERRORS
from labrys.targets._redis_clients import ClientConfig, RedisClient

# -- options ---------------------------------------------------------------------------------


def _refusal(tmp_path: Path, **spec: Any) -> str:
    with pytest.raises(UsageError) as caught:
        run_test(TestSpec(store=str(tmp_path), nemesis=(), **spec), console=Console(),
                 command=["pytest"])
    assert not any(tmp_path.iterdir()), "refused before creating anything"
    return str(caught.value)


def test_an_option_redis_does_not_have_is_refused_with_the_list_of_those_it_has(tmp_path):
    message = _refusal(tmp_path, target="redis", workload="set", options={"sync": "on"})
    assert message.startswith("unknown --option 'sync'; known options are (target redis: ")
    for name in redis_target.OPTIONS:
        assert name in message
    assert "workload set: final_wait_s" in message


def test_an_option_postgres_does_not_have_is_refused_with_the_list_of_those_it_has(tmp_path):
    message = _refusal(tmp_path, target="postgres", workload="bank",
                       options={"min_replicas_to_write": "1"})
    assert "unknown --option 'min_replicas_to_write'" in message
    for name in ("sync", "isolation", "read_from", "ha", "pg_bin", "client_timeout_s"):
        assert name in message
    assert "workload bank: accounts, max_transfer, total" in message


def test_a_workload_whose_client_the_target_lacks_is_refused(tmp_path):
    message = _refusal(tmp_path, target="redis", workload="bank")
    assert message == "target redis has no 'bank' client, which workload bank needs"


@pytest.mark.parametrize(("target", "key", "value", "expected"), [
    ("postgres", "sync", "maybe", "expected off, local, remote_write, on or remote_apply"),
    ("postgres", "isolation", "snapshot", "expected read-committed, repeatable-read or "
                                          "serializable"),
    ("postgres", "ha", "pacemaker", "expected none or patroni"),
    ("redis", "read_from", "anywhere", "expected primary or replica"),
    ("redis", "min_replicas_to_write", "-1", "expected a whole number >= 0"),
    ("redis", "quorum", "0", "expected a whole number of sentinels > 0"),
])
def test_a_bad_option_value_is_refused_saying_what_is_expected(target, key, value, expected):
    with pytest.raises(UsageError) as caught:
        parse_options(TARGETS[target].options, {key: value})
    assert str(caught.value) == f"--option {key}={value!r} is not valid; {expected}"


def test_the_isolation_option_is_shared_by_postgres_and_the_transactional_workloads():
    from labrys.workloads import WORKLOADS

    given = {"isolation": "serializable"}
    check_known(given, ("target", postgres.OPTIONS), ("workload", WORKLOADS["bank"].options))
    assert parse_options(postgres.OPTIONS, given)["isolation"] == "serializable"
    workload = WORKLOADS["list-append"].make(parse_options(WORKLOADS["list-append"].options,
                                                           given))
    assert workload.isolation == "serializable"


# -- the Redis exception table ---------------------------------------------------------------

E = redis.exceptions


@pytest.mark.parametrize(("error", "expected"), [
    (E.ConnectionError("Error 111 connecting to 10.0.0.2:6379. Connection refused."),
     OpType.FAIL),
    (E.TimeoutError("Timeout connecting to server"), OpType.FAIL),
    (redis.sentinel.MasterNotFoundError("No master found for 'labrys'"), OpType.FAIL),
    (E.ConnectionError("The previous master is now a slave"), OpType.FAIL),
    (E.ResponseError("NOREPLICAS Not enough good replicas to write."), OpType.FAIL),
    (E.ReadOnlyError("You can't write against a read only replica."), OpType.FAIL),
    (E.BusyLoadingError("Redis is loading the dataset in memory"), OpType.FAIL),
    (E.ConnectionError("Connection closed by server."), OpType.INFO),
    (E.TimeoutError("Timeout reading from socket"), OpType.INFO),
    (E.ResponseError("ERR something unforeseen"), OpType.INFO),
])
def test_redis_errors_are_definite_only_when_the_command_certainly_did_not_run(error, expected):
    assert classify(REDIS_ERRORS, error, read_only=False) is expected


def test_a_read_that_failed_in_any_way_is_a_fail():
    for error in (E.ConnectionError("Connection closed by server."),
                  E.TimeoutError("Timeout reading from socket")):
        assert classify(REDIS_ERRORS, error, read_only=True) is OpType.FAIL


class FakeRedis:
    """Answers ``execute_command`` from a queue of results or errors."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *command: Any) -> Any:
        self.commands.append(command)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def smembers(self, name: str) -> Any:
        return self.execute_command("SMEMBERS", name)

    def get(self, name: str) -> Any:
        return self.execute_command("GET", name)

    def close(self) -> None:
        pass


def _redis_client(kind: str, primary: FakeRedis, reader: FakeRedis | None = None,
                  wait: int = 0) -> RedisClient:
    client = RedisClient(kind, ClientConfig(node="n1", sentinels=[("127.0.0.1", 1)],
                                            service="labrys", read_from="primary", wait=wait,
                                            wait_timeout_ms=100, timeout_s=1.0))
    client._primary = primary  # type: ignore[assignment]
    client._reader = reader or primary  # type: ignore[assignment]
    return client


def test_redis_set_adds_and_reads_and_an_add_whose_connection_broke_is_info():
    client = _redis_client("set", FakeRedis(1, E.ConnectionError("Connection closed by server."),
                                            {"3", "1"}))
    ok = client.invoke(Invocation(f="add", value=1))
    broken = client.invoke(Invocation(f="add", value=2))
    read = client.invoke(Invocation(f="read"))
    assert (ok.type, ok.value) == (OpType.OK, 1)
    assert (broken.type, broken.error) == (OpType.INFO,
                                           "ConnectionError: Connection closed by server.")
    assert (read.type, read.value) == (OpType.OK, [1, 3])


def test_redis_cas_that_did_not_match_is_a_fail():
    client = _redis_client("register", FakeRedis(0))
    done = client.invoke(Invocation(f="cas", value=[4, [1, 2]]))
    assert (done.type, done.error) == (OpType.FAIL, "cas mismatch")


def test_redis_list_append_txn_is_one_script_and_reads_come_back_as_lists():
    primary = FakeRedis([0, ["1", "2"], 0])
    done = _redis_client("list-append", primary).invoke(
        Invocation(f="txn", value=[["append", 1, 2], ["r", 1, None], ["append", 3, 4]]))
    assert done.type is OpType.OK
    assert done.value == [["append", 1, 2], ["r", 1, [1, 2]], ["append", 3, 4]]
    assert primary.commands[0][0] == "EVAL" and primary.commands[0][2:4] == (1, "la")


# -- the PostgreSQL exception table and transaction phases ---------------------------------


@pytest.mark.parametrize(("error", "expected"), [
    (pgerrors.SerializationFailure("could not serialize access"), OpType.FAIL),
    (pgerrors.DeadlockDetected("deadlock detected"), OpType.FAIL),
    (pgerrors.UniqueViolation("duplicate key"), OpType.FAIL),
    (pgerrors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
     OpType.FAIL),
    (pgerrors.AdminShutdown("terminating connection due to administrator command"),
     OpType.INFO),
    (psycopg.OperationalError("server closed the connection unexpectedly"), OpType.INFO),
    (psycopg.InternalError("something else"), OpType.INFO),
])
def test_postgres_errors_at_commit_are_definite_only_for_rollbacks(error, expected):
    assert classify(PG_ERRORS, error, read_only=False) is expected


class FakeCursor:
    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int = 1) -> None:
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Any:
        return iter(self.rows)


class FakeConn:
    """Executes nothing; raises ``statement_error`` on execute, ``commit_error`` on commit."""

    def __init__(self, *, statement_error: Exception | None = None,
                 commit_error: Exception | None = None,
                 rows: list[tuple[Any, ...]] | None = None) -> None:
        self.statement_error, self.commit_error = statement_error, commit_error
        self.rows = rows or []
        self.closed = False
        self.committed = False

    def execute(self, sql: str, params: Any = None) -> FakeCursor:
        if self.statement_error is not None:
            raise self.statement_error
        return FakeCursor(self.rows)

    def commit(self) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.committed = True

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _pg_client(kind: str, *conns: FakeConn, reuse: bool = False) -> PostgresClient:
    client = PostgresClient(kind, PgClientConfig(node="n1", primary_hosts=["10.0.0.2"],
                                                 replica_hosts=["10.0.0.3"], port=5432,
                                                 user="postgres", read_from="primary",
                                                 timeout_s=1.0, follow_leader=False))
    queue = list(conns)

    def connect(role: str) -> FakeConn:
        conn = queue.pop(0)
        client._conns[role] = conn  # type: ignore[assignment]
        return conn

    client._connect = connect  # type: ignore[method-assign]
    if reuse:
        client._conns["primary"] = conns[0]  # type: ignore[assignment]
    return client


def test_a_postgres_write_that_failed_before_commit_is_a_fail_even_if_the_link_broke():
    lost_link = psycopg.OperationalError("server closed the connection unexpectedly")
    done = _pg_client("set", FakeConn(statement_error=lost_link)).invoke(
        Invocation(f="add", value=7))
    assert done.type is OpType.FAIL


def test_a_postgres_commit_that_lost_its_connection_is_info_and_a_rollback_is_a_fail():
    lost = _pg_client("set", FakeConn(commit_error=psycopg.OperationalError("gone"))).invoke(
        Invocation(f="add", value=7))
    serial = _pg_client("set", FakeConn(commit_error=pgerrors.SerializationFailure("no"))).invoke(
        Invocation(f="add", value=7))
    assert (lost.type, lost.error) == (OpType.INFO, "OperationalError: gone")
    assert serial.type is OpType.FAIL


def test_a_kept_connection_the_server_closed_is_reopened_once_before_commit():
    dead = FakeConn(statement_error=pgerrors.AdminShutdown("terminating connection"))
    fresh = FakeConn(rows=[(1,), (2,)])
    client = _pg_client("set", dead, fresh, reuse=True)
    done = client.invoke(Invocation(f="read"))
    assert (done.type, done.value) == (OpType.OK, [1, 2])
    assert dead.closed


def test_a_bank_transfer_that_would_overdraw_is_refused_as_a_fail():
    conn = FakeConn(rows=[(2,)])
    done = _pg_client("bank", conn).invoke(
        Invocation(f="transfer", value={"from": 0, "to": 1, "amount": 5}))
    assert (done.type, done.error) == (OpType.FAIL, "insufficient funds")
    assert not conn.committed


# -- configuration files ---------------------------------------------------------------------


class FakeNode:
    def __init__(self, name: str, address: str, directory: Path) -> None:
        self.name, self.address, self.directory = name, address, directory


class FakeCluster:
    def __init__(self, tmp_path: Path) -> None:
        self.nodes = tuple(FakeNode(f"n{i}", f"10.0.0.{i + 1}", tmp_path / f"n{i}")
                           for i in (1, 2, 3))


def test_synchronous_replication_names_every_standby(tmp_path):
    pg = postgres.Postgres(parse_options(postgres.OPTIONS, {"sync": "remote_apply"}))
    settings = pg.pg.shared_settings(FakeCluster(tmp_path).nodes)
    assert settings["synchronous_standby_names"] == "ANY 2 (n2, n3)"
    assert settings["synchronous_commit"] == "remote_apply"
    async_pg = postgres.Postgres(parse_options(postgres.OPTIONS, {}))
    assert async_pg.pg.shared_settings(FakeCluster(tmp_path).nodes)[
        "synchronous_standby_names"] == ""


@pytest.mark.parametrize("sync", ["off", "local"])
def test_sync_off_and_local_are_synchronous_commit_with_asynchronous_replicas(tmp_path, sync):
    pg = postgres.Postgres(parse_options(postgres.OPTIONS, {"sync": sync}))
    settings = pg.pg.shared_settings(FakeCluster(tmp_path).nodes)
    assert (settings["synchronous_commit"], settings["synchronous_standby_names"]) == (sync, "")
    assert postgres.OPTIONS["sync"].default == "local"


def test_patroni_keeps_node_paths_out_of_the_shared_settings(tmp_path):
    pg = postgres.Postgres(parse_options(postgres.OPTIONS, {"ha": "patroni", "sync": "on"}))
    cluster = FakeCluster(tmp_path)
    pg._patroni._cluster = cluster
    config = pg._patroni._config(cluster.nodes[1])
    shared, local = config.split("\npostgresql:\n")
    assert f"log_directory: '{tmp_path / 'n2' / 'pg'}'" in local
    assert "log_directory" not in shared and "synchronous_standby_names" not in config
    assert "synchronous_mode: true" in shared and "synchronous_node_count: 2" in shared
    assert "hosts: 10.0.0.2:2379,10.0.0.3:2379,10.0.0.4:2379" in shared


@pytest.mark.parametrize(("options", "expected"), [
    ({}, ["appendonly yes", "appendfsync everysec"]),
    ({"appendfsync": "always"}, ["appendonly yes", "appendfsync always"]),
    ({"appendonly": "no", "appendfsync": "no"}, ["appendonly no", "appendfsync no"]),
])
def test_redis_persistence_options_reach_the_server_configuration(tmp_path, options, expected):
    target = redis_target.Redis(parse_options(redis_target.OPTIONS, options))
    cluster = FakeCluster(tmp_path)
    conf = target._server_conf(cluster.nodes[1], cluster.nodes[0], tmp_path / "data")
    lines = conf.splitlines()
    assert [line for line in lines if line.startswith("append")] == expected
    assert f"dir {tmp_path / 'data'}" in lines and "replicaof 10.0.0.2 6379" in lines


def test_redis_sentinels_know_each_other_and_the_replicas_from_the_start(tmp_path):
    target = redis_target.Redis(parse_options(redis_target.OPTIONS, {"quorum": "3"}))
    cluster = FakeCluster(tmp_path)
    target._cluster = cluster  # type: ignore[assignment]
    conf = target._sentinel_conf(cluster.nodes[0], cluster.nodes[0]).splitlines()
    assert "sentinel monitor labrys 10.0.0.2 6379 3" in conf
    assert "sentinel announce-ip 10.0.0.2" in conf
    assert sum(line.startswith("sentinel known-replica") for line in conf) == 2
    assert sum(line.startswith("sentinel known-sentinel") for line in conf) == 2
