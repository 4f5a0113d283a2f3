"""The target protocol: a database on a cluster, and what else it can do.

Following Jepsen's ``jepsen.db``, the required protocol is tiny: `Target` is
``setup`` (install, configure, start, wait until it serves) and ``teardown`` (stop it
and keep its logs). Everything else is a separate capability that a target has or
has not, and the runner or nemesis asks ``isinstance(target, Killable)`` rather than
catching ``NotImplementedError``, so what a target can do is visible in its type:

- `ClientSource`: clients of the kinds workloads need (``"register"``…);
- `HasLogs`: the log files to copy into the run;
- `HasVersion`: the version string recorded in ``test.json``;
- process faults (``Killable``, ``Pausable``, primaries) are the nemesis package's
  protocols, implemented structurally by targets that support them.

Targets are chosen by name from `TARGETS`; each declares its ``--option`` keys as
data (`Option`), so an unknown key is refused with the list of known ones.

A target touches its nodes only through `labrys.control.Node` (run a command, spawn a
daemon, read, write and remove files): never through the control machine's own file
system or process table, so it runs unchanged on every runtime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labrys.client import Client
from labrys.control import Cluster, Node
from labrys.errors import UsageError
from labrys.options import Option


@runtime_checkable
class Target(Protocol):
    """A database that can be set up on a cluster and torn down again."""

    def setup(self, cluster: Cluster) -> None:
        """Install and start the database on every node; return once it serves.

        Raises:
            TargetError: it did not start or answer in time (naming node and log).
        """
        ...

    def teardown(self, cluster: Cluster) -> None:
        """Stop the database on every node. Idempotent; must not raise for a node
        that is already down."""
        ...


@runtime_checkable
class ClientSource(Protocol):
    """A target that supplies clients for workloads."""

    def client_kinds(self) -> tuple[str, ...]:
        """The kinds of client it supplies (``"register"``…)."""
        ...

    def open_client(self, kind: str, node: Node) -> Client:
        """A client of ``kind`` talking to ``node``. Opening must not change the data."""
        ...


def check_kind(target: str, kind: str, kinds: Sequence[str]) -> None:
    """The refusal every `ClientSource.open_client` makes for a kind it lacks.

    Raises:
        UsageError: ``kind`` is not one of ``kinds``; the message lists them.
    """
    if kind not in kinds:
        raise UsageError(f"{target} has no {kind!r} client; it supports: {', '.join(kinds)}")


@runtime_checkable
class HasLogs(Protocol):
    """A target whose nodes write logs worth keeping with the run."""

    def log_files(self, node: Node) -> list[Path]:
        """The log files ``node`` may hold (paths on the node); those that exist are
        copied into ``nodes/<node>/``."""
        ...


@runtime_checkable
class HasVersion(Protocol):
    """A target that can say which version of the database it runs."""

    def version(self, node: Node) -> str:
        """The version of the database installed on ``node``, asked of the node itself.

        Raises:
            TargetError: the database cannot be run there (saying how to install it).
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetEntry:
    """A target by name: its options, the Debian packages its nodes need, and how to make
    it from its options' typed values.

    ``packages`` is the one list of what the database needs on a node: ``make setup``
    installs it on this machine (whose namespaces are the local runtime's nodes), the
    docker runtime builds it into the target's image, and the ssh runtime installs what
    a machine lacks of it with apt.

    Attributes:
        workload_defaults: values this target gives workload options a user did not
            set, as ``--option`` text: what its database claims where a workload asks
            (etcd: ``isolation=strict-serializable`` for the transactional workloads).
    """

    name: str
    summary: str
    options: Mapping[str, Option]
    make: Callable[[Mapping[str, Any]], Target]
    packages: tuple[str, ...] = ()
    workload_defaults: Mapping[str, str] = field(default_factory=dict)

    def workload_options(self, given: Mapping[str, str]) -> dict[str, str]:
        """The ``--option`` text a workload is made from: ``given``, and this target's
        `workload_defaults` for what it leaves out."""
        return {**self.workload_defaults, **given}
