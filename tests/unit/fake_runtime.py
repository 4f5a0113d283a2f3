"""A test-only runtime: nodes that are plain folders and processes on this machine.

No namespaces and no root: a `HostNode` runs its commands as ordinary child processes
(the local runtime's own `MachineNode` code, with no prefix), so what the code under
test does to a node (spawn, signal, write, fetch) really happens, only without a
network of its own. `FakeRuntime` makes clusters of them whose network faults are a
record of the grudges in force, and `FakeTarget` is a database of one ``sleep``
process per node with an in-memory register behind its clients: enough for the runner
to go through its whole lifecycle, and for a test to see everything it did.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrys.client import Completion
from labrys.control._lazyfs import DataDisks
from labrys.control._machine import MachineNode
from labrys.control._spawn import NodeProcess
from labrys.generator import Invocation
from labrys.history import OpType
from tests.unit._nemesis_fakes import FakeCluster


@dataclass(frozen=True, slots=True, eq=False)
class HostNode(MachineNode):
    """A node that is a folder on this machine; commands run here, unprefixed."""

    name: str
    directory: Path
    address: str = "127.0.0.1"
    exec_prefix: tuple[str, ...] = ()
    _processes: list[NodeProcess] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Commands run in this process's own mount namespace: a lazy disk needs no launcher.
    _data: DataDisks = field(default_factory=DataDisks, repr=False)


class HostCluster(FakeCluster):
    """`HostNode`s, a recorded network, and a teardown that kills and removes all."""

    def __init__(self, name: str, directory: Path, nodes: int) -> None:
        super().__init__(nodes=[HostNode(f"n{i}", directory / f"n{i}")
                                for i in range(1, nodes + 1)])
        self.name = name
        self.directory = directory
        self.spawned: list[NodeProcess] = []
        self.torn_down = False

    def teardown(self) -> None:
        for node in self.nodes:
            self.spawned += node._processes
            node.kill_all()
        shutil.rmtree(self.directory, ignore_errors=True)
        self.torn_down = True


class FakeRuntime:
    """Makes `HostCluster`s under ``base``, and remembers each."""

    name = "fake"
    summary = "folders and processes on this machine (tests only)"
    options: Mapping[str, Any] = {}

    def __init__(self, base: Path) -> None:
        self.base = base
        self.clusters: list[HostCluster] = []

    def up(self, nodes: int, options: Mapping[str, Any], *, persistent: bool = False,
           guard: Callable[[Mapping[str, Any]], None] | None = None) -> HostCluster:
        name = f"fake{len(self.clusters)}"
        handle = {"directory": str(self.base / name)}
        if guard is not None:
            guard(handle)
        cluster = HostCluster(name, self.base / name, nodes)
        self.clusters.append(cluster)
        return cluster

    def remove(self, handle: Mapping[str, Any]) -> None:
        shutil.rmtree(handle["directory"], ignore_errors=True)


class RegisterClient:
    """Read, write and cas of ``[key, value]`` on the target's in-memory registers."""

    def __init__(self, target: FakeTarget, node: str) -> None:
        self.target = target
        self.node = node

    def invoke(self, invocation: Invocation) -> Completion:
        if self.target.on_invoke is not None:
            self.target.on_invoke(invocation)
        key, value = invocation.value
        with self.target.lock:
            if not self.target.up(self.node):
                return Completion(type=OpType.FAIL, value=invocation.value, error="down")
            current = self.target.registers.get(key)
            if invocation.f == "read":
                return Completion(type=OpType.OK, value=[key, current])
            if invocation.f == "write":
                self.target.registers[key] = value
                return Completion(type=OpType.OK, value=[key, value])
            old, new = value
            if current != old:
                return Completion(type=OpType.FAIL, value=[key, value], error="mismatch")
            self.target.registers[key] = new
            return Completion(type=OpType.OK, value=[key, value])

    def close(self) -> None:
        pass


class FakeTarget:
    """One ``sleep`` per node as its database, registers in memory, Killable.

    Attributes:
        setup_error: raised by `setup` after the first node's process started.
        on_invoke: called with every client invocation (a test's hook into the workload).
    """

    def __init__(self) -> None:
        self.cluster: Any = None
        self.processes: dict[str, NodeProcess] = {}
        self.registers: dict[Any, Any] = {}
        self.lock = threading.Lock()
        self.calls: list[tuple[str, ...]] = []
        self.setup_error: BaseException | None = None
        self.on_invoke: Callable[[Invocation], None] | None = None

    def setup(self, cluster: Any) -> None:
        self.cluster = cluster
        for node in cluster.nodes:
            node.write_file("fake.conf", f"name {node.name}\n")
            self.start(node.name)
            if self.setup_error is not None:
                raise self.setup_error
        self.calls.append(("setup",))

    def teardown(self, cluster: Any) -> None:
        for process in self.processes.values():
            process.stop(grace_s=1.0)
        self.calls.append(("teardown",))

    def version(self, node: Any) -> str:
        return node.run(["sh", "-c", "echo fake 1.0"]).check().stdout.split()[-1]

    def log_files(self, node: Any) -> list[Path]:
        return [node.directory / "fake.log", node.directory / "never-written.log"]

    def client_kinds(self) -> tuple[str, ...]:
        return ("register",)

    def open_client(self, kind: str, node: Any) -> RegisterClient:
        return RegisterClient(self, node.name)

    def up(self, node: str) -> bool:
        process = self.processes.get(node)
        return process is not None and process.alive

    def start(self, node: str) -> None:
        on = self.cluster.node(node)
        self.processes[node] = on.spawn(["sh", "-c", "echo started; exec sleep 600"],
                                        log_path=on.directory / "fake.log")
        self.calls.append(("start", node))

    def kill(self, node: str) -> None:
        self.processes[node].kill()
        self.calls.append(("kill", node))

    def primaries(self) -> list[str]:
        return ["n1"]
