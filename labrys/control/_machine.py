"""A node on this very machine: its files are the machine's own, under its directory.

The local runtime's nodes are network namespaces, which share the machine's file system,
users and process table; only their network is their own. So everything a node does is
done here, directly: a command runs through a prefix that puts it on the node (``ip
netns exec NS``, which execs in place, so a spawned process is our direct child and can
be reaped), and a file on the node is a file on the machine. `MachineNode` holds that
behaviour once, for every node kind that lives on this machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from labrys.control._lazyfs import DataDisks, LazyDisk
from labrys.control._node import CommandResult
from labrys.control._spawn import NodeProcess, spawn
from labrys.errors import ControlError


class MachineNode:
    """The `Node` methods of a node on this machine.

    A subclass provides ``name``, ``directory``, ``exec_prefix`` (the command prefix that
    runs a program on the node, which must exec it in place) and three private fields,
    the list of processes it spawned, the lock that guards it, and its data directories
    (`DataDisks`, which know how the node starts a lazy disk).
    """

    __slots__ = ()

    name: str
    directory: Path
    exec_prefix: tuple[str, ...]
    _processes: list[NodeProcess]
    _lock: threading.Lock
    _data: DataDisks

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float = 60.0,
    ) -> CommandResult:
        """Run a command inside the node to completion (see `Node.run`)."""
        argv = tuple(argv)
        try:
            done = subprocess.run(
                [*self.exec_prefix, *argv],
                input=None if input is None else input.encode(),
                capture_output=True,
                env=_merged_env(env),
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ControlError(
                f"{self.name}: `{' '.join(argv)}` still running after {timeout_s} s"
            ) from None
        except OSError as e:  # only without a prefix: `ip netns exec` reports it itself
            return CommandResult(node=self.name, argv=argv, exit_code=127, stdout="",
                                 stderr=f"{argv[0]}: {e.strerror}")
        return CommandResult(
            node=self.name,
            argv=argv,
            exit_code=done.returncode,
            stdout=done.stdout.decode(errors="replace"),
            stderr=done.stderr.decode(errors="replace"),
        )

    def spawn(
        self, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None
    ) -> NodeProcess:
        """Start a process inside the node, owned by this node (see `Node.spawn`)."""
        process = spawn(
            node=self.name,
            argv=tuple(argv),
            prefix=self.exec_prefix,
            log_path=self._resolve(log_path),
            env=_merged_env(env),
        )
        with self._lock:
            self._processes[:] = [p for p in self._processes if p.returncode is None]
            self._processes.append(process)
        return process

    def read_file(self, path: str | Path) -> bytes:
        return self._resolve(path).read_bytes()

    def write_file(self, path: str | Path, data: bytes | str) -> None:
        target = self._resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.labrys-tmp")
        temporary.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(temporary, target)

    def exists(self, path: str | Path) -> bool:
        return self._resolve(path).exists()

    def make_dir(self, path: str | Path, *, owner: str | None = None) -> None:
        target = self._resolve(path)
        target.mkdir(parents=True, exist_ok=True)
        if owner is not None:
            # The node's users are the machine's: namespaces share /etc/passwd.
            try:
                user = pwd.getpwnam(owner)
            except KeyError:
                raise ControlError(f"{self.name}: no user {owner!r} to own {target}") from None
            os.chown(target, user.pw_uid, user.pw_gid)

    def data_dir(self, path: str | Path, *, owner: str | None = None) -> Path:
        self.make_dir(path, owner=owner)
        return self._data.place(self, self._resolve(path))

    def use_lazy_disks(self) -> None:
        """Put every data directory made from now on on a lazy disk (see `LazyDisks`)."""
        self._data.lazy = True

    def lazy_disks(self) -> list[LazyDisk]:
        return self._data.disks()

    def remove(self, path: str | Path) -> None:
        """Remove a file or directory tree; only inside this node's directory, because
        the file system here is the machine's own."""
        target = self._resolve(path)
        if not target.resolve().is_relative_to(self.directory.resolve()):
            raise ControlError(f"{self.name}: refusing to remove {target}, which is outside "
                               f"the node's directory {self.directory}")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)

    def fetch(self, path: str | Path, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self._resolve(path), destination)

    def kill_all(self) -> None:
        """SIGKILL and reap every process this node spawned."""
        with self._lock:
            processes, self._processes[:] = list(self._processes), []
        for process in processes:
            process.kill()

    def _resolve(self, path: str | Path) -> Path:
        return self.directory / path


def _merged_env(env: Mapping[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}
