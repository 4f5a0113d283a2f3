"""Local clusters for real: namespaces, addresses, partitions, and clean-up that holds.

Skipped without root or without `ip`/`iptables`. Every test removes what it made and
checks that nothing of its prefix is left.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from labrys.control import LocalCluster, down, leftovers
from labrys.nemesis import grudge_from_spec
from tests.system._netns import (
    TCP_PORT,
    assert_nothing_left,
    gone,
    needs_root,
    reachable,
    start_server,
)

pytestmark = needs_root

CONTROL = [sys.executable, "-m", "labrys.cli", "cluster"]


def test_up_of_five_nodes_takes_well_under_a_second():
    began = time.monotonic()
    made = LocalCluster.up(5)
    elapsed = time.monotonic() - began
    try:
        assert len(made.nodes) == 5
        print(f"LocalCluster.up(5): {elapsed * 1000:.0f} ms")
        assert elapsed < 0.5
    finally:
        made.teardown()
    assert_nothing_left(made.prefix)


def test_every_node_has_its_own_address_name_and_directory(cluster):
    n1, n2, n3 = cluster.nodes
    assert len({n.address for n in cluster.nodes}) == 3
    shown = n1.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).check().stdout
    assert f" {n1.address}/24 " in shown
    resolve = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    assert n2.run([sys.executable, "-c", resolve, "n3"]).check().stdout.strip() == n3.address
    assert len({n.directory for n in cluster.nodes}) == 3
    n1.write_file("conf/x.txt", "from n1")
    assert n1.read_file("conf/x.txt") == b"from n1"
    assert not (n2.directory / "conf" / "x.txt").exists()


def test_nodes_have_no_route_off_the_cluster(cluster):
    n1 = cluster.nodes[0]
    routes = n1.run(["ip", "-4", "route"]).check().stdout
    assert "default" not in routes
    # So a name lookup fails at once instead of hanging on unreachable DNS.
    began = time.monotonic()
    n1.run([sys.executable, "-c", "import socket; socket.getfqdn()"]).check()
    assert time.monotonic() - began < 2.0


def test_a_tcp_server_on_one_node_is_reachable_from_every_node_and_the_host(cluster):
    n1, n2, n3 = cluster.nodes
    start_server(n1)
    assert reachable(n2, n1)
    assert reachable(n3, n1)
    assert reachable(n1, n1)
    with socket.create_connection((n1.address, TCP_PORT), timeout=1.0) as s:
        assert float(s.recv(64)) == pytest.approx(time.time(), abs=5)


@pytest.mark.slow
def test_partition_cuts_exactly_across_and_heal_restores(cluster):
    n1, n2, n3 = cluster.nodes
    for node in cluster.nodes:
        start_server(node)
    applied = cluster.partition(grudge_from_spec("n1|n2,n3", ["n1", "n2", "n3"], random.Random(0)))
    assert applied == {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}
    assert cluster.faults().partition == applied
    assert not reachable(n2, n1)
    assert not reachable(n3, n1)
    assert not reachable(n1, n2)
    assert not reachable(n1, n3)
    assert reachable(n2, n3)
    assert reachable(n3, n2)
    with socket.create_connection((n1.address, TCP_PORT), timeout=1.0):
        pass  # the host is in no grudge: the harness's clients still reach both sides
    cluster.heal()
    assert cluster.faults().partition == {}
    assert reachable(n2, n1)
    assert reachable(n1, n3)


def test_a_new_partition_replaces_the_old_one(cluster):
    cluster.partition({"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]})
    cluster.partition({"n3": ["n1"]})
    assert cluster.faults().partition == {"n3": ["n1"]}


def test_two_clusters_at_once_do_not_collide(cluster):
    other = LocalCluster.up(2)
    try:
        assert other.prefix != cluster.prefix
        assert other.record.subnet != cluster.record.subnet
        start_server(cluster.nodes[0])
        start_server(other.nodes[0])
        assert reachable(other.nodes[1], other.nodes[0])
        assert not reachable(other.nodes[1], cluster.nodes[0])
    finally:
        other.teardown()
    assert_nothing_left(other.prefix)
    assert reachable(cluster.nodes[1], cluster.nodes[0])


def test_teardown_kills_spawned_and_stray_processes(cluster):
    n1, n2, _ = cluster.nodes
    server = start_server(n1)
    # A daemon that detached itself from us: found by its namespace, not by parentage.
    n2.run(
        [
            "sh",
            "-c",
            f"setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > {n2.directory}/stray",
        ]
    )
    stray = int(n2.read_file("stray"))
    assert leftovers(cluster.prefix)[0].pids
    cluster.teardown()
    assert server.returncode == -signal.SIGKILL
    assert gone(stray)
    assert_nothing_left(cluster.prefix)


def test_down_keeps_a_cluster_whose_owner_is_running(cluster):
    report = down()
    assert cluster.prefix in [r.prefix for r in report.kept]
    assert cluster.prefix not in report.removed
    assert leftovers(cluster.prefix)


def _script(body: str) -> subprocess.Popen[str]:
    code = "import sys, time\nfrom labrys.control import *\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigterm_tears_the_cluster_down():
    proc = _script(
        """
        with local_cluster(2) as c:
            c.nodes[0].spawn(["sleep", "300"], log_path=c.nodes[0].directory / "log")
            print(c.prefix, flush=True)
            time.sleep(60)
        """
    )
    prefix = proc.stdout.readline().strip()
    assert leftovers(prefix)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert_nothing_left(prefix)


@pytest.mark.slow
def test_after_sigkill_cluster_down_leaves_nothing():
    proc = _script(
        """
        c = LocalCluster.up(3)
        pids = [n.spawn(["sleep", "300"], log_path=n.directory / "log").pid for n in c.nodes]
        c.partition({"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]})
        c.lose_packets({"n2": ["n3"]}, probability=0.5)
        c.delay_packets({"n3": ["n2"]}, delay_ms=50)
        print(c.prefix, *pids, flush=True)
        time.sleep(60)
        """
    )
    prefix, *pids = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (left,) = leftovers(prefix)
    assert len(left.namespaces) == 3 and left.rules and len(left.pids) >= 4  # delay helper too
    done = subprocess.run([*CONTROL, "down"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"removed {prefix}" in done.stderr
    assert_nothing_left(prefix)
    assert all(gone(int(pid)) for pid in pids)
    again = subprocess.run([*CONTROL, "down"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and prefix not in again.stderr


@pytest.mark.slow
def test_command_line_up_exec_partition_heal_down():
    up = subprocess.run(
        [*CONTROL, "up", "--nodes", "3"], capture_output=True, text=True, timeout=60
    )
    assert up.returncode == 0, up.stderr
    prefix = up.stderr.split()[1]
    try:
        lines = [line.split() for line in up.stdout.splitlines()]
        assert [name for name, _ in lines] == ["n1", "n2", "n3"]

        def cli(*args):
            return subprocess.run(
                [*CONTROL, *args[:1], "--cluster", prefix, *args[1:]],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip

        assert cli("exec", "n2", "--", "sh", "-c", "exit 3").returncode == 3
        shown = cli("exec", "n2", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        assert f" {lines[1][1]}/24 " in shown.stdout
        cut = cli("partition", "n1|n2,n3")
        assert cut.stdout.strip() == "n1 drops n2, n3; n2 drops n1; n3 drops n1"
        assert "partition: n1 drops n2, n3" in cli("status").stdout
        assert cli("heal").returncode == 0
        assert "network whole" in cli("status").stdout
        assert cli("partition", "n1|n9").returncode == 255
    finally:
        done = subprocess.run(
            [*CONTROL, "down", "--cluster", prefix], capture_output=True, text=True
        )
    assert done.returncode == 0, done.stderr
    assert_nothing_left(prefix)


def test_without_root_one_line_says_so():
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    try:
        usable = subprocess.run([*as_nobody, *CONTROL, "--help"], capture_output=True, env=env)
    except FileNotFoundError:
        pytest.skip("setpriv (util-linux) is not installed")
    if usable.returncode != 0:
        pytest.skip("user nobody cannot run this Python and labrys")
    done = subprocess.run(
        [*as_nobody, *CONTROL, "up"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 255
    assert done.stderr.count("\n") == 1
    assert "need root" in done.stderr and "sudo labrys cluster up" in done.stderr
