"""What a node, a process on it and a cluster are, whatever runtime holds them.

A runtime (local namespaces today; containers or machines over SSH tomorrow)
implements these protocols, and they are the only way the rest of labrys touches a
node: targets talk to `Node` (write configuration, start daemons, read and fetch
files, run a command), nemeses to `Cluster` for the network and to the target for
processes, the runner to `Cluster` for everything. Nothing above this layer reads a
node's files through the control machine's file system or signals a PID of its own,
so a target written against the local runtime runs unchanged on another one, and a
runtime that cannot do a fault says so with a `ControlError` instead of pretending.

A grudge, in Jepsen's words, maps each node to the nodes it will not hear from: the
partition ``n1|n2,n3`` is the grudge ``{n1: {n2, n3}, n2: {n1}, n3: {n1}}``. Packet
faults reuse the same shape: ``{n2: {n1}}`` with a loss fault means packets from n1
to n2 are lost, and nothing else. A grudge is directional on purpose, so one-way
faults (Jepsen's majorities ring on 3 nodes, or a delay on one side of a link) are
expressible; the topologies build symmetric ones where that is what they mean.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from labrys.errors import ControlError

Grudge = Mapping[str, Collection[str]]
"""Node name → names of the nodes whose packets it drops (or loses, or delays)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResult:
    """How a command run to completion on a node ended.

    Attributes:
        node: the node it ran on (``"host"`` for the control machine itself).
        argv: the command as given.
        exit_code: its exit status; negative if a signal ended it.
        stdout: what it printed, decoded as UTF-8 with replacement.
        stderr: likewise.
    """

    node: str
    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> CommandResult:
        """Return self if the command succeeded, else raise `ControlError` saying why.

        Raises:
            ControlError: naming the node, the command and the first line of stderr.
        """
        if self.exit_code != 0:
            detail = (self.stderr.strip() or self.stdout.strip()).splitlines()
            why = detail[0] if detail else "no output"
            raise ControlError(
                f"{self.node}: `{shlex.join(self.argv)}` exited {self.exit_code}: {why}"
            )
        return self


@runtime_checkable
class Process(Protocol):
    """A long-running process a node started and owns, until it is reaped.

    Every runtime keeps the same promises: a signal never reaches a stranger (a PID
    recycled after the process ended), `wait` reaps the process, so a restart never
    meets its predecessor's lock files, and the process leads a process group that
    group signals reach, so the helpers a database forks go with it. `kill` and `stop`
    are `signal` and `wait` composed (see `kill_and_reap`, `stop_gracefully`).
    """

    @property
    def node(self) -> str:
        """The name of the node it runs on."""
        ...

    @property
    def pid(self) -> int:
        """Its process ID as the node sees it (also its process group's ID)."""
        ...

    @property
    def returncode(self) -> int | None:
        """Its exit status once reaped (negative for a signal), else None."""
        ...

    @property
    def alive(self) -> bool:
        """Whether it still runs (a stopped process counts as running)."""
        ...

    def signal(self, sig: int, *, group: bool = True) -> bool:
        """Send ``sig`` to its process group (or to it alone); False if all had exited."""
        ...

    def wait(self, *, timeout_s: float | None = None) -> int | None:
        """Wait for it to exit and reap it: its exit status, or None if still running."""
        ...

    def kill(self, *, timeout_s: float = 10.0) -> int | None:
        """SIGKILL the whole group and reap it; its exit status, or None if stuck."""
        ...

    def stop(self, *, grace_s: float = 5.0) -> int | None:
        """SIGTERM (and SIGCONT, should it be paused), then SIGKILL after ``grace_s``."""
        ...


def kill_and_reap(process: Process, *, timeout_s: float = 10.0) -> int | None:
    """`Process.kill` for any runtime: SIGKILL the group, then wait for the leader."""
    process.signal(signal.SIGKILL)
    return process.wait(timeout_s=timeout_s)


def stop_gracefully(process: Process, *, grace_s: float = 5.0) -> int | None:
    """`Process.stop` for any runtime: SIGTERM, then SIGKILL if it outlives ``grace_s``.

    A paused process gets SIGCONT too, or it could never act on the SIGTERM.
    """
    process.signal(signal.SIGTERM)
    process.signal(signal.SIGCONT)
    code = process.wait(timeout_s=grace_s)
    return code if code is not None else process.kill()


@runtime_checkable
class Node(Protocol):
    """One machine of a cluster, as a target sees it.

    A node owns the processes it spawns: it can signal and reap them, and it kills
    whatever is left when its cluster is torn down. Paths are paths *on the node*,
    relative to `directory` unless absolute; whether the node shares the control
    machine's file system is the runtime's business, never the caller's.
    """

    @property
    def name(self) -> str:
        """The short name (``n1``) that other nodes resolve through their hosts file."""
        ...

    @property
    def address(self) -> str:
        """The IPv4 address other nodes and the control machine reach it on."""
        ...

    @property
    def directory(self) -> Path:
        """A directory that belongs to this node alone: data, logs, configuration."""
        ...

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> CommandResult:
        """Run a command on the node to completion and return how it ended.

        A non-zero exit is a result, not an error; call `CommandResult.check` to
        make it one. So is a program the node does not have: a non-zero exit whose
        stderr says so. `env` adds to (and overrides) the control process's environment.

        Raises:
            ControlError: if the command runs past `timeout_s`, or the node cannot be
                reached at all.
        """
        ...

    def spawn(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> Process:
        """Start a long-running process on the node, stdout and stderr appended to
        `log_path` (a path on the node).

        The process leads its own process group, so signals sent through the handle
        reach the children it forks (PostgreSQL's backends, for instance).
        """
        ...

    def read_file(self, path: str | Path) -> bytes:
        """The contents of a file on the node.

        Raises:
            FileNotFoundError: if there is no such file.
        """
        ...

    def write_file(self, path: str | Path, data: bytes | str) -> None:
        """Replace a file on the node atomically, creating parent directories."""
        ...

    def exists(self, path: str | Path) -> bool:
        """Whether a file or directory exists on the node."""
        ...

    def make_dir(self, path: str | Path, *, owner: str | None = None) -> None:
        """Create a directory and its parents if missing.

        Args:
            owner: a user of the node to own the directory (with the user's group), for
                daemons that refuse to run from a directory root owns (PostgreSQL).
        """
        ...

    def data_dir(self, path: str | Path, *, owner: str | None = None) -> Path:
        """The directory a database keeps its data in, made as `make_dir` makes one.

        Plain, unless the node was told to put data on lazy disks (`LazyDisks`, for the
        ``lose-unsynced`` fault): then it is mounted on the lazy file system, which
        loses what was never synced when the power fails. Idempotent.

        Returns:
            its path on the node.
        """
        ...

    def remove(self, path: str | Path) -> None:
        """Remove a file or a whole directory tree on the node; nothing if absent."""
        ...

    def fetch(self, path: str | Path, destination: Path) -> None:
        """Copy a file from the node to ``destination`` on the control machine.

        Raises:
            FileNotFoundError: if the node has no such file.
        """
        ...


@runtime_checkable
class Cluster(Protocol):
    """Nodes and the network between them.

    Every network fault replaces the previous fault of the same kind (a new
    partition is the whole partition, not an addition), and returns the grudge now
    in force, so the nemesis can record exactly what was done. An empty grudge heals
    that kind of fault.
    """

    @property
    def name(self) -> str:
        """A short name that tells this cluster apart on its runtime, for logs and for
        ``labrys cluster --cluster NAME`` (the local runtime's prefix, ``lb3fa0``)."""
        ...

    @property
    def nodes(self) -> Sequence[Node]: ...

    def node(self, name: str) -> Node:
        """The node called `name`.

        Raises:
            UsageError: if there is no such node (the message lists the names).
        """
        ...

    def partition(self, grudge: Grudge) -> dict[str, list[str]]:
        """Make each node drop every packet from the nodes it holds a grudge against."""
        ...

    def lose_packets(self, grudge: Grudge, *, probability: float) -> dict[str, list[str]]:
        """Make each node lose packets from the given peers at random, with `probability`."""
        ...

    def delay_packets(
        self, grudge: Grudge, *, delay_ms: float, jitter_ms: float = 0.0, seed: int = 0
    ) -> dict[str, list[str]]:
        """Hold packets from the given peers for `delay_ms` ± `jitter_ms` before delivery.

        `seed` makes the jitter reproducible.
        """
        ...

    def heal(self) -> None:
        """Undo every network fault: partitions, loss and delay."""
        ...

    def teardown(self) -> None:
        """Kill every process of every node and remove the nodes and their network.

        Idempotent; after it the cluster cannot be used.
        """
        ...
