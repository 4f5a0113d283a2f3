"""The one seam between the parts of a run and its nodes: `Node` and `Process`.

Targets and nemeses reach a node only through these methods; here they run against a
node on this machine (`HostNode`, which is the local runtime's own code without a
namespace), so each is real: files are written and read, processes spawned and reaped,
versions asked of the node.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from labrys.control import Node, Process
from labrys.errors import ControlError, TargetError
from labrys.options import parse_options
from labrys.targets import etcd, postgres, redis
from labrys.targets._daemons import ServerTable, log_tail
from tests.unit.fake_runtime import HostNode


@pytest.fixture
def node(tmp_path):
    made = HostNode("n1", tmp_path / "n1")
    yield made
    made.kill_all()


def test_a_host_node_is_a_node_and_spawns_processes(node):
    assert isinstance(node, Node)
    process = node.spawn(["sleep", "30"], log_path=node.directory / "sleep.log")
    assert isinstance(process, Process)
    assert process.alive and process.node == "n1"
    assert process.kill() == -signal.SIGKILL
    assert not process.alive


def test_a_server_table_signals_the_live_process_and_stops_all_even_a_paused_one(node):
    table = ServerTable()
    sleeper = node.spawn(["sleep", "30"], log_path=node.directory / "a.log")
    stubborn = node.spawn(["sh", "-c", "trap '' TERM; echo ignoring; exec sleep 30"],
                          log_path=node.directory / "b.log")
    # Until the shell has set its trap, SIGTERM would still end it.
    deadline = time.monotonic() + 10
    while b"ignoring" not in node.read_file(node.directory / "b.log"):
        assert time.monotonic() < deadline, "the shell never set its trap"
        time.sleep(0.01)
    table.put("a", sleeper)
    table.put("b", stubborn)
    assert table.running("a") and table.get("b") is stubborn
    table.signal("a", signal.SIGSTOP)  # paused: SIGTERM alone would wait for SIGCONT
    table.stop_all(signal.SIGTERM, grace_s=1.0)
    assert sleeper.wait(timeout_s=0) == -signal.SIGTERM
    assert stubborn.wait(timeout_s=0) == -signal.SIGKILL  # ignored SIGTERM: killed
    assert table.get("a") is None and not table.running("b")


def test_a_killed_server_is_forgotten_and_later_signals_reach_nothing(node):
    table = ServerTable()
    process = node.spawn(["sleep", "30"], log_path=node.directory / "a.log")
    table.put("a", process)
    table.kill("a")
    assert not process.alive and table.get("a") is None
    table.signal("a", signal.SIGCONT)  # nothing to signal: no error
    table.kill("a")


def test_files_are_written_read_fetched_and_removed_on_the_node(node, tmp_path):
    node.write_file("conf/a.txt", "one")
    assert node.exists("conf/a.txt") and node.read_file("conf/a.txt") == b"one"
    node.fetch("conf/a.txt", tmp_path / "copy" / "a.txt")
    assert (tmp_path / "copy" / "a.txt").read_text() == "one"
    node.remove("conf")
    assert not node.exists("conf/a.txt") and not node.exists("conf")
    node.remove("conf")  # absent: nothing to do
    with pytest.raises(FileNotFoundError):
        node.read_file("conf/a.txt")
    with pytest.raises(FileNotFoundError):
        node.fetch("conf/a.txt", tmp_path / "copy" / "b.txt")


def test_a_node_on_this_machine_removes_nothing_outside_its_directory(node, tmp_path):
    (tmp_path / "precious").write_text("keep")
    with pytest.raises(ControlError, match="outside the node's directory"):
        node.remove(tmp_path / "precious")
    with pytest.raises(ControlError, match="outside the node's directory"):
        node.remove("../precious")
    assert (tmp_path / "precious").read_text() == "keep"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_make_dir_gives_the_directory_to_its_owner(node):
    node.make_dir("pg/run", owner="nobody")
    stat = (node.directory / "pg" / "run").stat()
    assert stat.st_uid == 65534
    with pytest.raises(ControlError, match="no user 'no-such-user'"):
        node.make_dir("x", owner="no-such-user")


def test_a_start_up_error_quotes_the_log_read_through_the_node(node):
    node.write_file("db.log", "starting\nport 5432 in use\n")
    assert log_tail(node, node.directory / "db.log") == "starting | port 5432 in use"
    assert log_tail(node, node.directory / "missing.log") == ""


@pytest.mark.parametrize(("target", "option"), [
    (etcd.Etcd(binary="/nonexistent/etcd", read_mode="linearizable", client_timeout_s=1.0),
     "--option etcd_binary=PATH (now /nonexistent/etcd)"),
    (redis.Redis(parse_options(redis.OPTIONS, {"redis_server": "/nonexistent/redis"})),
     "--option redis_server=PATH (now /nonexistent/redis)"),
    (postgres.Postgres(parse_options(postgres.OPTIONS, {"pg_bin": "/nonexistent"})),
     "--option pg_bin=DIR (now /nonexistent)"),
])
def test_a_version_is_asked_of_a_node_and_a_missing_binary_says_how_to_fix_it(node, target,
                                                                              option):
    with pytest.raises(TargetError) as e:
        target.version(node)
    message = str(e.value)
    assert message.startswith("n1: cannot run /nonexistent")
    assert message.endswith(option)
    assert "\n" not in message


def test_the_version_of_a_binary_the_node_has(node, tmp_path):
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'etcd Version: 3.4.23'\necho 'Git SHA: Not provided'\n")
    fake.chmod(0o755)
    target = etcd.Etcd(binary=str(fake), read_mode="linearizable", client_timeout_s=1.0)
    assert target.version(node) == "3.4.23"
