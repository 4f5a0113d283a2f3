"""A test-only runtime: nodes that are plain folders and processes on this machine.

No namespaces and no root: a `HostNode` runs its commands as ordinary child processes
(the local runtime's own `MachineNode` code, with no prefix), so what the code under
test does to a node (spawn, signal, write, fetch) really happens, only without a
network of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from labrys.control._machine import MachineNode
from labrys.control._spawn import NodeProcess


@dataclass(frozen=True, slots=True, eq=False)
class HostNode(MachineNode):
    """A node that is a folder on this machine; commands run here, unprefixed."""

    name: str
    directory: Path
    address: str = "127.0.0.1"
    exec_prefix: tuple[str, ...] = ()
    _processes: list[NodeProcess] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
