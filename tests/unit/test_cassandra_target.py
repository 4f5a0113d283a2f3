"""Cassandra without servers: its generated configuration, its exception tables, and the
client logic that turns statements into operations.

The servers themselves are in tests/system/test_cassandra_run.py.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra import ConsistencyLevel, OperationTimedOut, ReadTimeout, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionShutdown
from cassandra.protocol import ErrorMessage, OverloadedErrorMessage, SyntaxException
from cassandra.query import BatchStatement

from labrys.errors import TargetError, UsageError
from labrys.harness import Invocation
from labrys.history import OpType
from labrys.options import parse_options
from labrys.targets._cassandra_clients import (
    LWT_ERRORS,
    PLAIN_ERRORS,
    CassandraClient,
    CassandraClientConfig,
    schema,
)
from labrys.targets._cassandra_config import (
    JAVA17_MODULE_FLAGS,
    TOOLS_LOGBACK_XML,
    NodeFiles,
    cassandra_yaml,
    daemon_argv,
    logback_xml,
    nodetool_argv,
)
from labrys.targets._cassandra_jars import Jars, find_jars
from labrys.targets._errors import classify
from labrys.targets.cassandra import OPTIONS, Cassandra
from tests.unit._nemesis_fakes import FakeCluster

FILES = NodeFiles.under("/tmp/labrys/lb0001/n2")

# -- configuration ---------------------------------------------------------------------------


def test_cassandra_yaml_sets_every_key_cassandra_needs_for_this_node():
    text = cassandra_yaml(address="10.0.0.3", seeds=["10.0.0.2", "10.0.0.3", "10.0.0.4"],
                          files=FILES)
    assert text.startswith("#")  # a YAML comment, then JSON (which is YAML)
    settings = json.loads(text.split("\n", 1)[1])
    assert settings["listen_address"] == settings["rpc_address"] == "10.0.0.3"
    assert settings["seed_provider"] == [{
        "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
        "parameters": [{"seeds": "10.0.0.2,10.0.0.3,10.0.0.4"}]}]
    assert settings["partitioner"] == "org.apache.cassandra.dht.Murmur3Partitioner"
    assert settings["endpoint_snitch"] == "SimpleSnitch"
    assert settings["commitlog_sync"] == "periodic"
    assert settings["auto_bootstrap"] is False
    data = "/tmp/labrys/lb0001/n2/cassandra/data"
    assert settings["data_file_directories"] == [f"{data}/data"]
    for key in ("commitlog", "hints", "saved_caches", "cdc_raw"):
        assert settings[f"{key}_directory"] == f"{data}/{key}"


def test_the_server_logs_info_to_its_console_and_nodetool_only_warnings_to_stderr():
    assert '<root level="INFO"><appender-ref ref="CONSOLE"/>' in logback_xml()
    assert "ConsoleAppender" in logback_xml()
    assert "<target>System.err</target>" in TOOLS_LOGBACK_XML
    assert '<root level="WARN">' in TOOLS_LOGBACK_XML


def test_the_daemon_runs_in_the_foreground_with_its_files_a_fixed_heap_and_a_short_ring_delay():
    argv = daemon_argv(java="/usr/bin/java", lib=PurePosixPath("/cache/5.0.9/lib"),
                       jamm_jar=PurePosixPath("/cache/5.0.9/lib/jamm-0.4.0.jar"), files=FILES,
                       heap_mb=384)
    assert argv[0] == "/usr/bin/java"
    assert argv[-3:] == ["-cp", "/cache/5.0.9/lib/*",
                         "org.apache.cassandra.service.CassandraDaemon"]
    assert {"-Xms384m", "-Xmx384m", "-Dcassandra-foreground=yes",
            "-javaagent:/cache/5.0.9/lib/jamm-0.4.0.jar",
            "-Dcassandra.config=file:///tmp/labrys/lb0001/n2/cassandra/cassandra.yaml",
            "-Dlogback.configurationFile=/tmp/labrys/lb0001/n2/cassandra/logback.xml",
            "-Dcassandra.ring_delay_ms=1000", "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.jmx.local.port=7199"} <= set(argv)
    assert set(JAVA17_MODULE_FLAGS) <= set(argv)
    assert "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED" in argv


def test_nodetool_speaks_jmx_on_the_nodes_loopback_with_the_tools_logging():
    argv = nodetool_argv(java="java", lib=PurePosixPath("/cache/lib"), files=FILES,
                         command=["status"])
    assert argv[-6:] == ["org.apache.cassandra.tools.NodeTool", "-h", "127.0.0.1", "-p",
                         "7199", "status"]
    assert "-Dlogback.configurationFile=/tmp/labrys/lb0001/n2/cassandra/logback-tools.xml" in argv
    assert set(JAVA17_MODULE_FLAGS) <= set(argv)


def test_missing_jars_are_one_line_saying_how_to_fetch_them(tmp_path):
    with pytest.raises(UsageError) as caught:
        find_jars("4.1.10", root=tmp_path)
    assert str(caught.value).startswith(
        f"Cassandra 4.1.10's jars are not in {tmp_path}/4.1.10/lib: fetch them with "
        "`bash scripts/fetch-cassandra.sh 4.1.10`")
    lib = tmp_path / "4.1.10" / "lib"
    lib.mkdir(parents=True)
    (lib / "jamm-0.4.0.jar").write_bytes(b"")
    with pytest.raises(UsageError):  # no .complete: the fetch was interrupted
        find_jars("4.1.10", root=tmp_path)
    (tmp_path / "4.1.10" / ".complete").touch()
    assert find_jars("4.1.10", root=tmp_path).jamm == lib / "jamm-0.4.0.jar"


def test_the_keyspace_replicates_as_asked():
    assert "'replication_factor': 2" in schema(2)[0]


def test_more_replicas_than_nodes_is_refused_before_anything_starts():
    target = Cassandra(parse_options(OPTIONS, {"replication_factor": "4"}))
    with pytest.raises(UsageError) as caught:
        target.setup(FakeCluster(3))
    assert str(caught.value) == ("--option replication_factor=4 is more than the 3 nodes; "
                                 "use at most the number of nodes")


class _RemoteNode:
    """A node that does not share the control machine's disk: files only by write_file."""

    def __init__(self, has: set[str]) -> None:
        self.files: dict[str, bytes | str] = {}
        self.has = has

    def exists(self, path: Any) -> bool:
        return str(path) in self.has or str(path) in self.files

    def write_file(self, path: Any, data: bytes | str) -> None:
        self.files[str(path)] = data


def test_jars_are_copied_through_the_node_only_to_a_node_that_lacks_them(tmp_path):
    lib = tmp_path / "5.0.9" / "lib"
    lib.mkdir(parents=True)
    (lib / "cassandra-all-5.0.9.jar").write_bytes(b"server")
    (lib / "jamm-0.4.0.jar").write_bytes(b"agent")
    target = Cassandra(parse_options(OPTIONS, {}))
    target._jars = Jars(version="5.0.9", lib=lib, jamm=lib / "jamm-0.4.0.jar")
    remote = _RemoteNode(has=set())
    target._install_jars(remote)  # type: ignore[arg-type]
    assert remote.files == {str(lib / "cassandra-all-5.0.9.jar"): b"server",
                            str(lib / "jamm-0.4.0.jar"): b"agent",
                            str(tmp_path / "5.0.9" / ".complete"): ""}
    local = _RemoteNode(has={str(tmp_path / "5.0.9" / ".complete")})
    target._install_jars(local)  # type: ignore[arg-type]
    assert local.files == {}


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("lwt", "yes", "expected true or false"),
    ("read_consistency", "TWO", "expected ONE, QUORUM or ALL"),
    ("serial_consistency", "QUORUM", "expected SERIAL or LOCAL_SERIAL"),
    ("timestamps", "ntp", "expected server or client"),
])
def test_a_bad_cassandra_option_says_what_is_expected(key, value, expected):
    with pytest.raises(UsageError) as caught:
        parse_options(OPTIONS, {key: value})
    assert str(caught.value) == f"--option {key}={value!r} is not valid; {expected}"


# -- the exception tables ----------------------------------------------------------------------

SERIAL, QUORUM = ConsistencyLevel.SERIAL, ConsistencyLevel.QUORUM


def _unavailable(level: int) -> Unavailable:
    return Unavailable("Cannot achieve consistency level", consistency=level,
                       required_replicas=2, alive_replicas=1)


def _write_timeout(write_type: int) -> WriteTimeout:
    return WriteTimeout("timed out", consistency=QUORUM, required_responses=2,
                        received_responses=1, write_type=write_type)


@pytest.mark.parametrize(("error", "plain", "lwt"), [
    (_unavailable(QUORUM), OpType.FAIL, OpType.INFO),  # an LWT's commit phase: accepted
    (_unavailable(SERIAL), OpType.FAIL, OpType.FAIL),  # Paxos could not even prepare
    (_unavailable(ConsistencyLevel.LOCAL_SERIAL), OpType.FAIL, OpType.FAIL),
    (_write_timeout(0), OpType.INFO, OpType.INFO),
    (_write_timeout(5), OpType.INFO, OpType.INFO),
    (NoHostAvailable("Unable to connect to any servers", {}), OpType.FAIL, OpType.FAIL),
    (OperationTimedOut(), OpType.INFO, OpType.INFO),
    (ConnectionShutdown("Connection to 10.0.0.2 was closed"), OpType.INFO, OpType.INFO),
    (OverloadedErrorMessage(0x1001, "overloaded", None), OpType.FAIL, OpType.FAIL),
    (SyntaxException(0x2000, "line 1: no viable alternative", None), OpType.FAIL, OpType.FAIL),
    (ErrorMessage(0x1700, "CAS operation result is unknown", None), OpType.INFO, OpType.INFO),
    (RuntimeError("something unforeseen"), OpType.INFO, OpType.INFO),
])
def test_cassandra_errors_are_definite_only_when_nothing_was_written(error, plain, lwt):
    assert classify(PLAIN_ERRORS, error, read_only=False) is plain
    assert classify(LWT_ERRORS, error, read_only=False) is lwt


# -- client logic, against a fake session ---------------------------------------------------


class FakeSession:
    """Records statements and answers each from a queue of results or errors."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.statements: list[tuple[Any, Any]] = []

    def execute(self, statement: Any, parameters: Any = None) -> Any:
        self.statements.append((statement, parameters))
        answer = self.answers.pop(0) if self.answers else _Result([])
        if isinstance(answer, BaseException):
            raise answer
        return answer


class _Result(list):  # type: ignore[type-arg]
    def __init__(self, rows: list[Any], applied: bool = True) -> None:
        super().__init__(rows)
        self.was_applied = applied

    def one(self) -> Any:
        return self[0] if self else None


def _client(kind: str, session: FakeSession, *, lwt: bool = True) -> CassandraClient:
    client = CassandraClient(kind, CassandraClientConfig(
        node="n1", address="10.0.0.2", port=9042, read_consistency="QUORUM",
        write_consistency="QUORUM", serial_consistency="SERIAL", lwt=lwt,
        server_timestamps=True, timeout_s=1.0))
    client._session = session
    return client


def _cql(session: FakeSession, i: int) -> str:
    return session.statements[i][0].query_string


def test_a_kind_cassandra_has_no_client_for_is_refused_with_the_kinds_it_has():
    with pytest.raises(UsageError) as caught:
        _client("bank", FakeSession())
    assert str(caught.value) == ("cassandra has no 'bank' client; it supports: register, set, "
                                 "counter, list-append, rw-register")


def test_lwt_reads_are_serial_and_a_cas_whose_condition_failed_is_a_fail():
    session = FakeSession(_Result([SimpleNamespace(v=3)]), _Result([], applied=False))
    client = _client("register", session)
    read = client.invoke(Invocation(f="read", value=[7, None]))
    cas = client.invoke(Invocation(f="cas", value=[7, [1, 2]]))
    assert (read.type, read.value) == (OpType.OK, [7, 3])
    assert session.statements[0][0].consistency_level == ConsistencyLevel.SERIAL
    assert (cas.type, cas.error) == (OpType.FAIL, "cas mismatch")
    assert _cql(session, 1).endswith("IF v = %s") and session.statements[1][1] == (2, 7, 1)


def test_an_lwt_write_inserts_when_the_row_is_missing_and_a_commit_unavailable_is_info():
    session = FakeSession(_Result([], applied=False), _Result([], applied=True),
                          _unavailable(QUORUM))
    client = _client("register", session)
    write = client.invoke(Invocation(f="write", value=[7, 4]))
    assert (write.type, write.value) == (OpType.OK, [7, 4])
    assert _cql(session, 0).endswith("IF EXISTS") and _cql(session, 1).endswith("IF NOT EXISTS")
    unknown = client.invoke(Invocation(f="write", value=[7, 5]))
    assert unknown.type is OpType.INFO and unknown.error.startswith("Unavailable: ")


def test_without_lwt_a_cas_is_refused_unsent_and_writes_are_plain():
    session = FakeSession(_Result([]))
    client = _client("register", session, lwt=False)
    cas = client.invoke(Invocation(f="cas", value=[7, [1, 2]]))
    assert cas.type is OpType.FAIL and "lwt=true" in cas.error
    assert session.statements == []
    assert client.invoke(Invocation(f="write", value=[7, 1])).type is OpType.OK
    assert " IF " not in _cql(session, 0)


def test_a_counter_add_that_timed_out_is_info_and_a_read_that_timed_out_is_a_fail():
    timeout = ReadTimeout("timed out", consistency=QUORUM, required_responses=2,
                          received_responses=1)
    session = FakeSession(_write_timeout(3), timeout)
    client = _client("counter", session)
    assert client.invoke(Invocation(f="add", value=1)).type is OpType.INFO
    assert client.invoke(Invocation(f="read")).type is OpType.FAIL


def test_a_transaction_reads_first_then_writes_one_logged_batch_seeing_its_own_writes():
    session = FakeSession(_Result([SimpleNamespace(k=1, v=10), SimpleNamespace(k=2, v=None)]))
    done = _client("rw-register", session).invoke(Invocation(f="txn", value=[
        ["r", 1, None], ["w", 1, 11], ["w", 1, 12], ["r", 1, None], ["r", 2, None],
        ["w", 3, 13]]))
    assert done.type is OpType.OK
    assert done.value == [["r", 1, 10], ["w", 1, 11], ["w", 1, 12], ["r", 1, 12],
                          ["r", 2, None], ["w", 3, 13]]
    select, params = session.statements[0]
    assert "WHERE k IN %s" in select.query_string and list(params[0]) == [1, 2]
    batch = session.statements[1][0]
    assert isinstance(batch, BatchStatement) and batch.batch_type.name == "LOGGED"
    # Only the last write to key 1 is sent: statements of one batch share a timestamp.
    assert len(batch._statements_and_parameters) == 2


def test_a_list_append_transaction_reads_the_stored_list_plus_its_own_appends():
    session = FakeSession(_Result([SimpleNamespace(k=1, l=[1, 2])]))
    done = _client("list-append", session).invoke(Invocation(f="txn", value=[
        ["append", 1, 3], ["r", 1, None], ["append", 1, 4], ["r", 1, None]]))
    assert done.value == [["append", 1, 3], ["r", 1, [1, 2, 3]], ["append", 1, 4],
                          ["r", 1, [1, 2, 3, 4]]]
    assert len(session.statements[1][0]._statements_and_parameters) == 2


class _JavaNode:
    """A node whose only program is a ``java --version`` printing ``banner``."""

    name = "n1"

    def __init__(self, banner: str, exit_code: int = 0) -> None:
        self.banner, self.exit_code = banner, exit_code

    def run(self, argv: Any, **_: Any) -> Any:
        from labrys.control import CommandResult

        return CommandResult(node="n1", argv=tuple(argv), exit_code=self.exit_code,
                             stdout=self.banner, stderr="" if self.exit_code == 0 else
                             "sh: 1: java: not found")


def test_the_version_names_the_release_and_the_java_on_the_node(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    lib = tmp_path / "labrys" / "cassandra" / "5.0.9" / "lib"
    lib.mkdir(parents=True)
    (lib / "jamm-0.4.0.jar").write_bytes(b"")
    (lib.parent / ".complete").touch()
    target = Cassandra(parse_options(OPTIONS, {}))
    node = _JavaNode("openjdk 17.0.15 2025-04-15\nOpenJDK Runtime Environment\n")
    assert target.version(node) == "5.0.9 on Java 17.0.15"  # type: ignore[arg-type]
    with pytest.raises(TargetError) as old:
        target.version(_JavaNode("openjdk 1.8.0_392\n"))  # type: ignore[arg-type]
    assert "Cassandra 5.0 needs Java 11 or 17" in str(old.value)
    with pytest.raises(TargetError) as missing:
        target.version(_JavaNode("", exit_code=127))  # type: ignore[arg-type]
    assert "install openjdk-17-jre-headless" in str(missing.value)
