"""A process that a local node started and owns: signalled safely, reaped for sure.

`NodeProcess` is the local runtime's `Process`. Two traps of Linux decide its shape:

- PIDs wrap at 32768, so a PID remembered from earlier may name a stranger by now.
  The handle keeps a pidfd, opened right after the fork, and signals the leader
  through it; the process group is signalled only while the leader is an unreaped
  child of ours, which is exactly when its PID (and so the group ID) cannot have been
  reused. One lock orders signalling against reaping.
- A process whose parent has gone is reaped by init, and init may take its time (a
  second or more was seen on the machines labrys is built on), so a killed daemon
  whose launcher went away can linger and hold a lock file. Every database process is
  therefore a direct child of the control process (`subprocess.Popen`), and `wait`
  reaps it before a restart.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
from pathlib import Path

from labrys.control._node import kill_and_reap, stop_gracefully


class NodeProcess:
    """A handle on one spawned process (and its process group).

    Attributes:
        node: the name of the node it runs on.
        argv: the command it runs.
        log_path: where its stdout and stderr go.
        pid: its process ID (also its process group ID).
    """

    __slots__ = ("_lock", "_pidfd", "_popen", "argv", "log_path", "node", "pid")

    def __init__(
        self, *, node: str, argv: tuple[str, ...], log_path: Path, popen: subprocess.Popen[bytes]
    ):
        self.node = node
        self.argv = argv
        self.log_path = log_path
        self.pid = popen.pid
        self._popen = popen
        # Opened before anyone can reap the child, so it names this process forever.
        self._pidfd = os.pidfd_open(popen.pid)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NodeProcess(node={self.node!r}, pid={self.pid}, argv={self.argv!r})"

    @property
    def returncode(self) -> int | None:
        """Its exit status once reaped (negative for a signal), else None."""
        return self._popen.returncode

    @property
    def alive(self) -> bool:
        """Whether the leader is still running (a stopped process counts as running)."""
        return self.wait(timeout_s=0) is None

    def signal(self, sig: int, *, group: bool = True) -> bool:
        """Send `sig` to the process group (or to the leader alone), never to a stranger.

        Returns:
            True if the signal was delivered to at least one process, False if they
            had all exited already.
        """
        with self._lock:
            if self._popen.returncode is not None:
                return False
            try:
                if group:
                    # Safe: the leader is unreaped, so its PID, which is the group ID,
                    # is still reserved for it.
                    os.killpg(self.pid, sig)
                else:
                    signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                return False
            return True

    def wait(self, *, timeout_s: float | None = None) -> int | None:
        """Wait for the leader to exit and reap it.

        Returns:
            its exit status, or None if it is still running after `timeout_s`.
        """
        if self._popen.returncode is not None:
            return self._popen.returncode
        # A pidfd becomes readable when the process exits; no polling loop needed.
        readable, _, _ = select.select([self._pidfd], [], [], timeout_s)
        if not readable:
            return None
        with self._lock:
            return self._popen.wait()

    def kill(self, *, timeout_s: float = 10.0) -> int | None:
        """SIGKILL the whole group and reap the leader; its exit status, or None if stuck."""
        return kill_and_reap(self, timeout_s=timeout_s)

    def stop(self, *, grace_s: float = 5.0) -> int | None:
        """SIGTERM the group, then SIGKILL it if it has not exited after `grace_s`."""
        return stop_gracefully(self, grace_s=grace_s)

    def __del__(self) -> None:
        # Closed only here: a pidfd closed on reaping could be pulled out from under
        # another thread still waiting on it.
        os.close(self._pidfd)


def spawn(
    *,
    node: str,
    argv: tuple[str, ...],
    prefix: tuple[str, ...],
    log_path: Path,
    env: dict[str, str],
) -> NodeProcess:
    """Start `prefix + argv` as a new session leader, output appended to `log_path`.

    `prefix` is what puts the process on its node (``ip netns exec NS``); it must
    exec the command in place, so the child's PID is the command's own.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            [*prefix, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return NodeProcess(node=node, argv=argv, log_path=log_path, popen=popen)
