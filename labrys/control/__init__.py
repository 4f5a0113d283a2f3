"""Where nodes live and how commands and faults reach them.

The problem: a test needs several machines with their own addresses, a way to run
and kill processes on each, and a network it can cut, thin and slow down, and then
repair for sure, even when the run dies half-way. On one machine, Linux network
namespaces give each node its own interfaces, routes and iptables, for the cost of
a few milliseconds each.

The central abstractions are protocols that every runtime implements: `Node` (run a
command, spawn a `Process`, read, write, remove and fetch files; name, address,
directory), `Process` (signal, wait, kill, stop), `Cluster` (nodes; partition, lose
and delay packets by grudge; heal; teardown) and `Runtime` (make a cluster; remove one
from its handle alone). `RUNTIMES` holds the runtimes by name; today there is one,
``local``: `LocalCluster`, nodes as network namespaces. Targets use `Node`; nemeses
use `Cluster`; the run orchestration uses `Runtime` and `Cluster` and names no runtime.

Example::

    from labrys.control import local_cluster

    with local_cluster(nodes=3) as cluster:
        n1 = cluster.node("n1")
        server = n1.spawn(["python3", "-m", "http.server", "8000"],
                          log_path=n1.directory / "http.log")
        cluster.partition({"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}})
        print(cluster.node("n2").run(["curl", "-m1", "n1:8000"]).exit_code)  # 28
        cluster.heal()
    # every namespace, veth, bridge, rule and process is gone here

Choices that are not obvious: everything a local cluster creates is named after a
per-cluster prefix and recorded on disk before it is created (`_registry`), so that
it can be removed from names alone after a SIGKILL (`_cleanup`); a run's `Guardian`,
a process of its own, does that removal when the run is killed (`_guardian`); spawned
processes are direct children signalled through pidfds (`_spawn`); faults act on
packets arriving at a node (`_netfilter`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from labrys.control._cleanup import (
    DownReport,
    Leftovers,
    deferred_signals,
    down,
    exit_on_signals,
    leftovers,
)
from labrys.control._guardian import Guardian
from labrys.control._lazyfs import LazyDisk, LazyDisks, Unsynced
from labrys.control._local import LocalCluster, LocalNode, NetworkFaults
from labrys.control._node import Cluster, CommandResult, Grudge, Node, Process
from labrys.control._registry import BASE_DIR
from labrys.control._runtime import RUNTIMES, Handle, LocalRuntime, Runtime, get_runtime
from labrys.control._spawn import NodeProcess

__all__ = [
    "BASE_DIR",
    "RUNTIMES",
    "Cluster",
    "CommandResult",
    "DownReport",
    "Grudge",
    "Guardian",
    "Handle",
    "LazyDisk",
    "LazyDisks",
    "Leftovers",
    "LocalCluster",
    "LocalNode",
    "LocalRuntime",
    "NetworkFaults",
    "Node",
    "NodeProcess",
    "Process",
    "Runtime",
    "Unsynced",
    "deferred_signals",
    "down",
    "exit_on_signals",
    "get_runtime",
    "leftovers",
    "local_cluster",
]


@contextlib.contextmanager
def local_cluster(nodes: int = 5, *, base_dir: Path = BASE_DIR) -> Iterator[LocalCluster]:
    """A `LocalCluster` for the duration of a ``with`` block, removed however it ends.

    Normal exit, an exception, Ctrl-C, SIGTERM and SIGHUP all tear it down; after a
    SIGKILL, `labrys cluster down` does.
    """
    with exit_on_signals():
        cluster = LocalCluster.up(nodes, base_dir=base_dir)
        try:
            yield cluster
        finally:
            cluster.teardown()
