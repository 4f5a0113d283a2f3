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

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labrys.control import _cleanup, _docker, _registry, _ssh
from labrys.control._docker import DockerCluster
from labrys.control._local import LocalCluster
from labrys.control._node import Cluster
from labrys.control._registry import BASE_DIR, Owner
from labrys.control._ssh import SshCluster
from labrys.errors import UsageError, lookup
from labrys.options import Option

Handle = Mapping[str, Any]
"""What a runtime needs to remove one cluster, and nothing else: JSON-ready."""


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """A cluster that is up, as ``labrys cluster status`` lists it.

    Attributes:
        name: its name on its runtime (``lb3fa0``, ``ld3fa0``, ``ls3fa0``).
        runtime: the runtime's name.
        owner: the process that removes it when it exits, or None for one kept until
            ``labrys cluster down``.
    """

    name: str
    runtime: str
    owner: Owner | None


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

    def up(self, nodes: int, options: Mapping[str, Any], *, packages: Collection[str] = (),
           persistent: bool = False, guard: Callable[[Handle], None] | None = None) -> Cluster:
        """Make a cluster of ``nodes`` nodes named n1…nN, ready to use.

        Args:
            nodes: how many nodes.
            options: the typed values of `options`.
            packages: the Debian packages every node must have (the target's declared
                ``packages``): a runtime installs them where it can (an image, apt over
                SSH); on this machine ``make setup`` has.
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

    def clusters(self) -> list[ClusterSummary]:
        """The clusters of this runtime that are up now (starting nothing to find out)."""
        ...

    def attach(self, name: str) -> Cluster:
        """The cluster ``name``, made by another process, to use from this one.

        Raises:
            UsageError: there is no such cluster.
        """
        ...

    def down(self, *, name: str | None = None,
             everything: bool = False) -> tuple[list[str], list[str]]:
        """Remove clusters as ``labrys cluster down`` does: ``name`` whoever owns it; else
        every cluster kept until down and every one whose owner is gone (with
        ``everything``, also those whose owner runs), and any leftovers.

        Returns:
            (removed, kept): the names of the clusters removed and of those left alone.
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

    def up(self, nodes: int, options: Mapping[str, Any], *, packages: Collection[str] = (),
           persistent: bool = False,
           guard: Callable[[Handle], None] | None = None) -> LocalCluster:
        return LocalCluster.up(nodes, base_dir=options["base_dir"], persistent=persistent,
                               guard=guard)

    def remove(self, handle: Handle) -> None:
        _cleanup.remove_prefix(handle["prefix"], directory=Path(handle["directory"]))

    def clusters(self) -> list[ClusterSummary]:
        return [ClusterSummary(r.prefix, self.name, r.owner) for r in _registry.records()]

    def attach(self, name: str) -> LocalCluster:
        return LocalCluster.attach(name)

    def down(self, *, name: str | None = None,
             everything: bool = False) -> tuple[list[str], list[str]]:
        report = _cleanup.down(prefix=name, everything=everything)
        return list(report.removed), [r.prefix for r in report.kept]


class DockerRuntime:
    """Nodes as containers of a local Docker daemon (`DockerCluster`)."""

    name = "docker"
    summary = ("Docker containers from images built here (needs root or a running "
               "daemon; the first run builds the images)")
    options: Mapping[str, Option] = {
        "mirror": Option(name="mirror", default=None, parse=str,
                         expected="a Debian mirror URL",
                         help="where the base image's debootstrap fetches Debian 12 "
                              "(default: the bookworm source in /etc/apt)"),
    }

    def up(self, nodes: int, options: Mapping[str, Any], *, packages: Collection[str] = (),
           persistent: bool = False,
           guard: Callable[[Handle], None] | None = None) -> DockerCluster:
        return DockerCluster.up(nodes, packages=packages, mirror=options["mirror"],
                                persistent=persistent, guard=guard)

    def remove(self, handle: Handle) -> None:
        _docker.remove(handle["cluster"])

    def clusters(self) -> list[ClusterSummary]:
        return [ClusterSummary(name, self.name, _docker.owner_of(label))
                for name, label in _docker.clusters().items()]

    def attach(self, name: str) -> DockerCluster:
        return DockerCluster.attach(name)

    def down(self, *, name: str | None = None,
             everything: bool = False) -> tuple[list[str], list[str]]:
        return _docker.down(name=name, everything=everything)


class SshRuntime:
    """Nodes as machines reached over SSH (`SshCluster`), listed in a nodes file."""

    name = "ssh"
    summary = "machines over SSH, listed in --runtime-option nodes_file=nodes.toml"
    options: Mapping[str, Option] = {
        "nodes_file": Option(name="nodes_file", default=None, parse=Path,
                             expected="a TOML file of [[nodes]] with a host each",
                             help="the machines: host, and optionally port, user, key_file, "
                                  "directory, python, name (see the README)"),
    }

    def up(self, nodes: int, options: Mapping[str, Any], *, packages: Collection[str] = (),
           persistent: bool = False,
           guard: Callable[[Handle], None] | None = None) -> SshCluster:
        if options["nodes_file"] is None:
            raise UsageError("the ssh runtime needs its machines: --runtime-option "
                             "nodes_file=nodes.toml (see the README for the format)")
        machines = _ssh.read_nodes_file(options["nodes_file"])
        if nodes > len(machines):
            raise UsageError(f"{nodes} nodes asked for, but {options['nodes_file']} lists "
                             f"{len(machines)} machines")
        return SshCluster.up(machines[:nodes], packages=packages, persistent=persistent,
                             guard=guard)

    def remove(self, handle: Handle) -> None:
        _ssh.remove(handle)

    def clusters(self) -> list[ClusterSummary]:
        return [ClusterSummary(r.cluster, self.name, r.owner) for r in _ssh.records()]

    def attach(self, name: str) -> SshCluster:
        return SshCluster.attach(name)

    def down(self, *, name: str | None = None,
             everything: bool = False) -> tuple[list[str], list[str]]:
        return _ssh.down(name=name, everything=everything)


RUNTIMES: dict[str, Runtime] = {
    runtime.name: runtime for runtime in [LocalRuntime(), DockerRuntime(), SshRuntime()]
}
"""Every runtime by the name ``--runtime`` takes."""


def get_runtime(name: str) -> Runtime:
    """The runtime called ``name``.

    Raises:
        UsageError: there is none; the message lists those there are.
    """
    return lookup(RUNTIMES, name, what="runtime")
