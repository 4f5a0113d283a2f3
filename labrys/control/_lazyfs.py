"""Directories that lose what was never fsynced, as a disk does when the power fails.

The problem: a database killed with SIGKILL keeps everything it wrote in the kernel's
page cache, so one that acknowledges writes before it fsyncs them looks durable under
``kill`` and loses them only when the machine loses power. To cause that for real, a
node's data directory lives on a file system that keeps what is written in its own
care until it is synced, and on command forgets everything that was not (the idea of
Jepsen's lazyfs; here a FUSE program of labrys's own, ``labrys-lazyfs``, built from
``native/lazyfs`` with the Rust ``fuser`` crate).

The central abstraction is `LazyDisk`: one directory of one node on that file system.
`mount` puts it there, `sync` syncs all of it as `sync(1)` would, `power_failure`
drops what is unsynced and mounts it again (one mount is one boot), `unmount` takes it
away for good. A node whose runtime can do this implements `LazyDisks`: told
`use_lazy_disks`, it puts every directory a target asks it for through `Node.data_dir`
on a lazy disk (`DataDisks` keeps them), so targets never know whether their data is
on one::

    disk = LazyDisk(node, node.directory / "etcd-data", launcher=prefix)
    disk.mount()
    ...                               # start etcd on it, write, kill etcd
    lost = disk.power_failure()       # Unsynced(files=1, bytes=4096, namespace_ops=0)
    ...                               # start etcd again: it finds what it synced
    disk.unmount()

What counts as synced (ext4's default ``data=ordered`` behaviour, its journal committed
by every fsync and never by its own timer; ``docs/disk-faults.md`` has the scenarios):

- a file's data and size: `fsync` or `fdatasync` of that file, or writes through a
  descriptor opened ``O_SYNC``/``O_DSYNC``; never `close`;
- names (create, mkdir, unlink, rmdir, rename, link, symlink, chmod, chown): all of
  them so far, in order, at the next fsync or fdatasync of any file or directory;
- ext4's ``auto_da_alloc``: renaming a file over an existing one, or closing a file that
  was truncated to zero, syncs that file's data at that moment;
- timestamps are not modelled; `sync(2)` and `syncfs(2)` reach no FUSE file system.

Choices that are not obvious: the program keeps a *visible* tree (what processes see)
and a *durable* tree (what a disk would hold after a power failure) under a state
directory beside the data, so syncing costs one extra write of the synced bytes and a
power failure costs copying back only the paths that changed since the last one; it
must be started in the mount namespace the node's processes are copied from (the
runtime gives the `launcher` prefix that does so); and it runs as a child of labrys on
the node, so the usual clean-up of a node's processes stops it, after which the
cluster's removal (its teardown, the guardian of a killed run, `labrys cluster down`)
detaches the node's dead mounts.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from labrys.control._node import Node, Process
from labrys.errors import ControlError

PROGRAM = "labrys-lazyfs"

STATE_DIR = ".lazyfs"
"""Where, in a node's directory, each lazy disk keeps its trees and its log."""

_STOP_TIMEOUT_S = 10.0


def lazyfs_program() -> str:
    """The path of the ``labrys-lazyfs`` program: beside this Python, or on the PATH.

    Raises:
        ControlError: it is not built, saying how to build it.
    """
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which(PROGRAM, path=path)
    if found is None:
        raise ControlError(
            f"{PROGRAM} is not installed: it is built from native/lazyfs by `make setup` "
            "when cargo (Rust) is installed"
        )
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsynced:
    """What a power failure lost: what was written or renamed and never synced.

    Attributes:
        files: files with unsynced data or size.
        bytes: the unsynced bytes of those files (ranges written, truncated or
            allocated since each was last synced).
        namespace_ops: names created, removed, renamed or re-permissioned since the
            last fsync of anything.
    """

    files: int
    bytes: int
    namespace_ops: int

    def to_json(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes, "namespace_ops": self.namespace_ops}


class LazyDisk:
    """One directory of one node, on the lazy file system (see the module docstring).

    Args:
        node: the node the directory is on.
        path: the directory, absolute or relative to the node's directory. What it
            holds when first mounted counts as synced.
        launcher: the command prefix that starts the program where it must run (for
            the local runtime, in the control process's mount namespace).
        threads: how many threads serve requests.
    """

    __slots__ = ("_launcher", "_log", "_node", "_offset", "_process", "_state", "path",
                 "threads")

    def __init__(
        self, node: Node, path: Path, *, launcher: Sequence[str] = (), threads: int = 2
    ) -> None:
        self._node = node
        self.path = node.directory / path
        if not self.path.is_relative_to(node.directory):
            raise ControlError(f"{node.name}: {self.path} is outside the node's directory "
                               f"{node.directory}; a lazy disk must be inside it")
        name = str(self.path.relative_to(node.directory)).replace("/", "-")
        self._state = node.directory / STATE_DIR / name
        self._log = node.directory / STATE_DIR / f"{name}.log"
        self._launcher = tuple(launcher)
        self.threads = threads
        self._process: Process | None = None
        self._offset = 0

    def __repr__(self) -> str:
        return f"LazyDisk(node={self._node.name!r}, path={str(self.path)!r})"

    @property
    def mounted(self) -> bool:
        return self._process is not None and self._process.alive

    def mount(self, *, timeout_s: float = 30.0) -> None:
        """Mount the directory (after restoring it to its durable state); idempotent.

        Raises:
            ControlError: the program is missing, or did not mount within `timeout_s`
                (quoting its complaint).
        """
        if self.mounted:
            return
        argv = [
            *self._launcher, lazyfs_program(),
            "--state", str(self._state),
            "--mountpoint", str(self.path),
            "--threads", str(self.threads),
        ]  # fmt: skip
        self._offset = len(self._read_log())
        self._process = self._node.spawn(argv, log_path=self._log)
        self._await("mounted", what="mount", timeout_s=timeout_s, seen=0)

    def sync(self, *, timeout_s: float = 60.0) -> Unsynced:
        """Sync everything now, as `sync(1)` would on a disk; what that was.

        Raises:
            ControlError: it is not mounted, or the sync failed or did not finish.
        """
        if self._process is None or not self._process.alive:
            raise self._error("cannot sync: the lazy file system is not mounted")
        seen = len(self._events())
        self._process.signal(signal.SIGUSR1, group=False)
        done = self._await("synced", what="sync", timeout_s=timeout_s, seen=seen)
        return Unsynced(files=done["files"], bytes=done["bytes"],
                        namespace_ops=done["namespace_ops"])

    def power_failure(self) -> Unsynced:
        """Lose everything unsynced, then mount the directory again as it was synced.

        Every process using the directory must be stopped first: one still running
        gets ENOTCONN from it, as from a machine without power.

        Raises:
            ControlError: it is not mounted, or could not be mounted again.
        """
        if not self.mounted:
            raise self._error("cannot lose unsynced data: the lazy file system is not mounted")
        lost = self._stop()
        self.mount()
        return lost

    def unmount(self) -> Unsynced | None:
        """Stop the file system (losing what is unsynced) and detach it for good.

        Idempotent. Returns what was lost, or None if it was not mounted.
        """
        lost = self._stop() if self.mounted else None
        self._process = None
        self._node.run([
            *self._launcher, lazyfs_program(), "--unmount", "--mountpoint", str(self.path),
        ]).check()  # fmt: skip
        return lost

    def _stop(self) -> Unsynced:
        process = self._process
        assert process is not None
        process.signal(signal.SIGTERM)
        if process.wait(timeout_s=_STOP_TIMEOUT_S) is None:
            process.kill()
            raise self._error(f"the lazy file system did not stop within {_STOP_TIMEOUT_S} s")
        for event in reversed(self._events()):
            if event.get("event") == "stopped":
                return Unsynced(
                    files=event["unsynced_files"],
                    bytes=event["unsynced_bytes"],
                    namespace_ops=event["uncommitted_namespace_ops"],
                )
        raise self._error("the lazy file system stopped without saying what it lost")

    def _await(self, name: str, *, what: str, timeout_s: float, seen: int) -> dict[str, Any]:
        """Wait for a `name` event after the first `seen` events of this start.

        Raises:
            ControlError: it reported an error, exited, or said nothing in time.
        """
        process = self._process
        assert process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self._events()[seen:]:
                if event.get("event") == name:
                    return event
                if event.get("event") == "error":
                    process.kill()
                    raise self._error(f"could not {what}: {event.get('message')}")
            if process.wait(timeout_s=0.02) is not None:
                raise self._error(f"the lazy file system exited before it could {what}")
            if time.monotonic() > deadline:
                process.kill()
                raise self._error(f"the lazy file system did not {what} within {timeout_s} s")

    def _read_log(self) -> bytes:
        try:
            return self._node.read_file(self._log)
        except FileNotFoundError:
            return b""

    def _events(self) -> list[dict[str, Any]]:
        """The JSON lines the program printed since it was last started."""
        events = []
        for line in self._read_log()[self._offset :].decode(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line of the program's stderr
            if isinstance(event, dict):
                events.append(event)
        return events

    def _error(self, what: str) -> ControlError:
        return ControlError(f"{self._node.name}: {self.path}: {what} (log: {self._log})")


@runtime_checkable
class LazyDisks(Protocol):
    """A node that can put its data directories on lazy disks (see the module docstring)."""

    def use_lazy_disks(self) -> None:
        """From now on, put every directory `Node.data_dir` makes on a lazy disk."""
        ...

    def lazy_disks(self) -> list[LazyDisk]:
        """The lazy disks this node has mounted, in the order they were made."""
        ...


class DataDisks:
    """Where one node's data directories live: plain, or, once `lazy`, each on a
    `LazyDisk` of its own (the shared part of every `LazyDisks` node).

    Args:
        launcher: the command prefix the node's lazy disks start their program with.
    """

    __slots__ = ("_disks", "_launcher", "_lock", "lazy")

    def __init__(self, *, launcher: Sequence[str] = ()) -> None:
        self._launcher = tuple(launcher)
        self._disks: dict[Path, LazyDisk] = {}
        self._lock = threading.Lock()
        self.lazy = False

    def place(self, node: Node, path: Path) -> Path:
        """Mount the directory `path` of `node` on its lazy disk if data is lazy; its path."""
        if not self.lazy:
            return path
        with self._lock:
            disk = self._disks.get(path)
            if disk is None:
                disk = self._disks[path] = LazyDisk(node, path, launcher=self._launcher)
        disk.mount()
        return disk.path

    def disks(self) -> list[LazyDisk]:
        with self._lock:
            return list(self._disks.values())
