"""The guardian: a process that removes a run's clusters if the run dies without doing so.

A run cleans up after itself on success, failure, Ctrl-C and SIGTERM, but nothing runs
in a process killed with SIGKILL (or by the kernel's out-of-memory killer): its nodes,
their network, the host's firewall rules and the database processes would stay until
someone ran ``labrys cluster down``. So before its first node exists, a run starts a
guardian, a small process of its own, which

- watches the run through a pidfd that the run opens on itself and hands down, so no
  recycled PID can be mistaken for the run;
- learns from a pipe what to guard: one JSON line per cluster, ``{"guard": RUNTIME,
  "handle": HANDLE}``, written by `labrys.control.Runtime.up` before anything of the
  cluster is created, and ``{"release": true}`` once the run has removed (or, with
  ``--leave-running``, deliberately kept) its clusters itself;
- when the run is gone and did not release it, removes each cluster with
  ``RUNTIMES[RUNTIME].remove(HANDLE)``, and says so in the run's log.

It knows runtimes only through `RUNTIMES` and handles, so every runtime whose ``remove``
works from a handle in another process is guarded the same way. It runs in a session of
its own, so the Ctrl-C or hang-up of the run's terminal does not reach it.

Finding the database processes. They are children of the run, and when the run dies
they are reparented to init. The local runtime's ``remove`` does not care: it finds
every process of a cluster by the network namespace it runs in (as ``ip netns pids``
does), pins each with a pidfd, checks the namespace again and SIGKILLs it, then waits
for each to exit. Namespace membership does not depend on the parent, nor on process
groups or sessions, which daemons leave (Patroni starts PostgreSQL in a session of its
own), nor on remembered PIDs, which wrap. A subreaper would not do: the guardian is not
an ancestor of the run's children. Init reaps the killed processes (about a second or
two on the machines labrys is built on).

The docker runtime's ``remove`` finds containers and network by their labels and
removes the containers with every process in them; the ssh runtime's connects to each
machine and kills every process carrying the cluster's mark in its environment (its
agents have already done so when their channels closed with the run's connection).

Commands the run had started on the host (an ``ip -batch`` building the network) may
still finish just after it died, so a removal that finds something left is retried a
few times, half a second apart.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrys.control._runtime import get_runtime
from labrys.errors import ControlError, LabrysError

_ATTEMPTS = 5
_RETRY_S = 0.5


class Guardian:
    """The run's end of a guardian process (see the module docstring).

    Make one with `start`; hand `guard` to `Runtime.up`; call `release` once the run's
    clusters are removed or deliberately kept.
    """

    def __init__(self, process: subprocess.Popen[bytes], pipe: int) -> None:
        self._process = process
        self._pipe = pipe

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    def start(cls, *, log_path: Path) -> Guardian:
        """Start a guardian of this process that reports to ``log_path``.

        Raises:
            ControlError: the guardian process could not be started.
        """
        read, write = os.pipe()
        me = os.pidfd_open(os.getpid())
        try:
            with open(log_path, "ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-c", _ENTRY, "--pidfd", str(me),
                     "--pipe", str(read), "--log", str(log_path)],
                    pass_fds=(me, read), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=log, start_new_session=True,
                )
        except OSError as e:
            os.close(write)
            raise ControlError(f"cannot start the guardian process: {e.strerror}") from None
        finally:
            os.close(read)
            os.close(me)
        return cls(process, write)

    def guard(self, runtime: str, handle: Mapping[str, Any]) -> None:
        """Have the guardian remove the cluster ``handle`` names should this process die."""
        self._send({"guard": runtime, "handle": dict(handle)})

    def release(self, *, timeout_s: float = 5.0) -> None:
        """Tell the guardian this run's clusters need it no more, and let it exit."""
        self._send({"release": True})
        os.close(self._pipe)
        self._pipe = -1
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _send(self, message: dict[str, Any]) -> None:
        if self._pipe < 0:
            raise ControlError("the guardian was already released")
        try:
            os.write(self._pipe, (json.dumps(message) + "\n").encode())
        except BrokenPipeError:
            raise ControlError("the guardian process is gone: a SIGKILL of this run would "
                               "leave its cluster until `labrys cluster down`") from None


@dataclass(slots=True)
class Watch:
    """What the guardian has been told so far: the clusters to guard, and whether the run
    released it. Fed the pipe's bytes as they come; lines may arrive in pieces."""

    guarded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    released: bool = False
    _partial: bytes = b""

    def feed(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            message = json.loads(line)
            if message.get("release"):
                self.released = True
            else:
                self.guarded.append((message["guard"], message["handle"]))


def _messages(pidfd: int, pipe: int) -> Iterator[bytes]:
    """The pipe's bytes as they come, until the run is gone (its pidfd is readable) and
    everything it wrote has been read."""
    while True:
        readable, _, _ = select.select([pidfd, pipe], [], [])
        if pipe in readable:
            data = os.read(pipe, 65536)
            if data:
                yield data
                continue
        if pidfd in readable or pipe in readable:  # the run is gone, or closed the pipe
            os.set_blocking(pipe, False)
            try:
                while data := os.read(pipe, 65536):
                    yield data
            except BlockingIOError:
                pass
            return


def _remove(runtime: str, handle: Mapping[str, Any], log: logging.Logger) -> None:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            get_runtime(runtime).remove(handle)
        except ControlError as e:  # something still there: retried
            error: LabrysError = e
            if attempt < _ATTEMPTS:
                time.sleep(_RETRY_S)
                continue
        except LabrysError as e:  # an unknown runtime, a handle it cannot read: not retried
            error = e
        else:
            log.warning("guardian: removed the %s cluster %s", runtime, json.dumps(dict(handle)))
            return
        log.error("guardian: could not remove the %s cluster %s: %s; run `labrys cluster "
                  "down`", runtime, json.dumps(dict(handle)), error)
        return


_ENTRY = "import sys; from labrys.control._guardian import main; sys.exit(main(sys.argv[1:]))"
"""How the guardian process starts: by importing this module, not running it with ``-m``,
which would load it twice (``labrys.control`` imports it) and warn so in every run's log."""


def main(argv: list[str]) -> int:
    """The guardian process: ``main(["--pidfd", N, "--pipe", N, "--log", P])``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pidfd", type=int, required=True)
    parser.add_argument("--pipe", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    log = logging.getLogger("labrys.guardian")
    handler = logging.FileHandler(args.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.info("guardian %d watching run %d", os.getpid(), os.getppid())
    watch = Watch()
    for data in _messages(args.pidfd, args.pipe):
        watch.feed(data)
        if watch.released:
            return 0
    if watch.guarded:
        log.warning("guardian: the run ended without removing its clusters (killed?); "
                    "removing them")
    for runtime, handle in watch.guarded:
        _remove(runtime, handle, log)
    return 0

