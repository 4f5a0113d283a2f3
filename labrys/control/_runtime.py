"""Runtimes: where nodes live, chosen by name, with options declared as data.

``labrys run --runtime NAME --runtime-option key=value`` (or ``runtime`` and a
``[runtime_options]`` table in a spec file) picks a `Runtime` from `RUNTIMES` and
turns into a `Cluster`: the run orchestration knows no runtime by name, and nothing
below it knows which runtime it runs on. A new runtime (containers, machines over SSH)
is one class implementing `Runtime`, with its `Cluster`, `Node` and `Process`, and one
line in `RUNTIMES`; targets, workloads and nemeses do not change.

A runtime must be able to remove a cluster it made from its *handle* alone, in another
process: a small JSON-ready mapping (for the local runtime, the prefix every name
carries and the node directories' parent). That is what lets a cluster be removed
when the process that made it was killed outright and ran no clean-up of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labrys.control import _cleanup
from labrys.control._local import LocalCluster
from labrys.control._node import Cluster
from labrys.control._registry import BASE_DIR
from labrys.errors import lookup
from labrys.options import Option

Handle = Mapping[str, Any]
"""What a runtime needs to remove one cluster, and nothing else: JSON-ready."""


@runtime_checkable
class Runtime(Protocol):
    """Where nodes live: makes clusters, and removes them again from their handles."""

    @property
    def name(self) -> str:
        """The name ``--runtime`` takes."""
        ...

    @property
    def summary(self) -> str:
        """One line for ``--help``: what a node is under this runtime."""
        ...

    @property
    def options(self) -> Mapping[str, Option]:
        """The ``--runtime-option`` keys it understands."""
        ...

    def up(self, nodes: int, options: Mapping[str, Any], *, persistent: bool = False,
           guard: Callable[[Handle], None] | None = None) -> Cluster:
        """Make a cluster of ``nodes`` nodes named n1…nN, ready to use.

        Args:
            nodes: how many nodes.
            options: the typed values of `options`.
            persistent: keep the cluster when this process exits (until ``labrys
                cluster down``), rather than removing it at exit at the latest.
            guard: called with the cluster's handle before anything of it exists, so
                that whoever keeps it can remove the cluster however this process ends.

        Raises:
            ControlError: the nodes could not be made (missing tool, no permission…).
        """
        ...

    def remove(self, handle: Handle) -> None:
        """Remove every process, node and network object of the cluster ``handle``
        names, from the handle alone and in any process. Idempotent.

        Raises:
            ControlError: something could not be removed (saying what is left).
        """
        ...


class LocalRuntime:
    """Nodes as network namespaces on this machine (`LocalCluster`)."""

    name = "local"
    summary = "network namespaces on this machine (needs root)"
    options: Mapping[str, Option] = {
        "base_dir": Option(name="base_dir", default=BASE_DIR, parse=Path,
                           expected="a folder on this machine",
                           help="where each cluster's node directories go "
                                f"(default: {BASE_DIR})"),
    }

    def up(self, nodes: int, options: Mapping[str, Any], *, persistent: bool = False,
           guard: Callable[[Handle], None] | None = None) -> LocalCluster:
        return LocalCluster.up(nodes, base_dir=options["base_dir"], persistent=persistent,
                               guard=guard)

    def remove(self, handle: Handle) -> None:
        _cleanup.remove_prefix(handle["prefix"], directory=Path(handle["directory"]))


RUNTIMES: dict[str, Runtime] = {runtime.name: runtime for runtime in [LocalRuntime()]}
"""Every runtime by the name ``--runtime`` takes."""


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name``.

    Raises:
        UsageError: there is none; the message lists those there are.
    """
    return lookup(RUNTIMES, name, what="runtime")
