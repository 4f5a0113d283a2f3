"""Helpers shared by targets that run daemons on nodes: which process runs where,
waiting, and saying why not.

A database that does not come up must be reported with what a user needs to act:
which node, and the last lines of its log, so the user sees the server's own
complaint (a port in use, a bad configuration line) without opening the run folder.
Logs are read through the node, wherever it runs.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from labrys.control import Node, Process
from labrys.errors import TargetError


class ServerTable:
    """The server process of each node, by node name, safe to use from the nemesis and
    the runner at once.

    A fault acts on the process running now: ``kill`` forgets it (a later ``start``
    spawns a new one), ``signal`` reaches it only while it lives, so a SIGCONT for a
    node killed meanwhile does nothing.
    """

    def __init__(self) -> None:
        self._processes: dict[str, Process] = {}
        self._lock = threading.Lock()

    def put(self, node: str, process: Process) -> None:
        with self._lock:
            self._processes[node] = process

    def get(self, node: str) -> Process | None:
        with self._lock:
            return self._processes.get(node)

    def running(self, node: str) -> bool:
        process = self.get(node)
        return process is not None and process.alive

    def kill(self, node: str) -> None:
        """SIGKILL ``node``'s process, reap it, and forget it."""
        with self._lock:
            process = self._processes.pop(node, None)
        if process is not None:
            process.kill()

    def signal(self, node: str, sig: int) -> None:
        process = self.get(node)
        if process is not None and process.alive:
            process.signal(sig)

    def stop_all(self, sig: int, *, grace_s: float) -> None:
        """Send ``sig`` to every process at once, then SIGKILL those still running
        ``grace_s`` later; forget them all.

        At once, because servers stopped one by one spend their grace trying to reach
        peers that are already gone; SIGCONT with it, so a paused one sees ``sig``.
        """
        with self._lock:
            processes, self._processes = list(self._processes.values()), {}
        for process in processes:
            process.signal(sig)
            process.signal(signal.SIGCONT)
        deadline = time.monotonic() + grace_s
        for process in processes:
            if process.wait(timeout_s=max(0.0, deadline - time.monotonic())) is None:
                process.kill()


TAIL_LINES = 5
"""How many of a log's last lines a start-up error quotes."""


def log_tail(node: Node, path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``path`` on ``node``, joined by `` | ``; empty if it
    cannot be read."""
    try:
        text = node.read_file(path).decode("utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def start_error(what: str, *, node: Node, log: Path) -> TargetError:
    """A `TargetError` naming the node and log and quoting the log's last lines."""
    tail = log_tail(node, log)
    return TargetError(f"{what}{'; its log ends: ' + tail if tail else ''}", node=node.name,
                       log=log)


def wait_until(ready: Callable[[], bool], *, timeout_s: float, what: str, node: Node,
               log: Path, alive: Callable[[], bool] | None = None,
               poll_s: float = 0.1) -> None:
    """Poll ``ready`` until it is true.

    Raises:
        TargetError: ``alive`` says the process exited, or ``timeout_s`` passed;
            the message names ``node`` and quotes ``log``.
    """
    deadline = time.monotonic() + timeout_s
    while not ready():
        if alive is not None and not alive():
            raise start_error(f"{what}: the process exited", node=node, log=log)
        if time.monotonic() > deadline:
            raise start_error(f"{what}: not ready after {timeout_s:.0f} s", node=node, log=log)
        time.sleep(poll_s)


def version_output(node: Node, argv: list[str], *, fix: str) -> str:
    """What ``argv`` (a ``--version`` command) prints on ``node``.

    The version is asked of a node, not of the control machine: the database runs
    there, and there may be another version there, or none.

    Raises:
        TargetError: the command did not run; the message names it, quotes why, and
            ends with ``fix`` (how to install it, or the option that points elsewhere).
    """
    result = node.run(argv, timeout_s=10)
    if not result.ok:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        why = detail[-1] if detail else f"exit {result.exit_code}"
        raise TargetError(f"cannot run {argv[0]}: {why}; {fix}", node=node.name)
    return result.stdout
