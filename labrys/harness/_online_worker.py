"""The online check's own process: it reads the history as it is written, and judges it.

Started by `labrys.harness._online.OnlineMonitor` as
``python -m labrys.harness._online_worker HISTORY CHECK_JSON``, where CHECK_JSON is an
`labrys.checkers.OnlineCheck` as JSON. A process of its own rather than a thread: a
search is CPU work, and in a thread it would hold the interpreter's lock against the
thread that schedules the workload; a process runs on another core, at a lower priority
(`NICENESS`), so the workload goes on at its pace.

It reads ``history.jsonl`` itself (`HistoryTail`), line by line as the runner writes and
flushes it, with the same reader function the offline check uses, so the online check
sees exactly the ops the final one will. Reading the file rather than being sent the ops
costs the runner nothing at all.

Protocol, one JSON object per line on stdout:

- ``{"progress": "12 keys judged", "ops": 1200, "cpu_s": 0.4}`` about once a second,
  and once more when told to stop (``cpu_s``: the CPU time this process has used so
  far);
- ``{"finding": {...}, "progress": …, "ops": …, "cpu_s": …}`` the first anomaly
  (`OnlineFinding.to_json` plus ``time_ns``), after which the process ends: the first is
  what the run acts on;
- ``{"error": "..."}`` when it cannot go on (a traceback goes to stderr).

It stops when stdin says ``stop`` or closes, which is also what happens when the runner
dies, however it dies; and it asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``), which also ends a search in progress: no process outlives its
run. Ctrl-C reaches it too (the terminal signals the whole process group) and is
ignored: the runner decides when it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from labrys.checkers import OnlineCheck, OnlineChecker, make_online_checker
from labrys.errors import HistoryError
from labrys.history import Op, op_from_dict

NICENESS = 5
"""Added to the process's nice value: under contention the workload and the database
come first, and the online check takes what CPU is left."""

POLL_S = 0.1
"""How long to wait for more history when there is none to read."""

PROGRESS_EVERY_S = 1.0
CHUNK_BYTES = 4 * 2**20
"""Read at most this much history per round, so that ``stop`` and progress are never
held up long by a backlog."""


class HistoryTail:
    """The ops of a JSON Lines history that is still being written, as they appear.

    Only complete lines are read (the writer flushes each line as a whole); a partial
    last line waits for its end. Ops are numbered by position, as the offline reader
    numbers them.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[bytes] | None = None
        self._partial = b""
        self._count = 0
        self._line = 0

    def read(self, limit: int = CHUNK_BYTES) -> list[Op]:
        """The ops written since the last call (none if the file does not exist yet).

        Raises:
            HistoryError: a line is not an op (the same error the offline reader gives).
        """
        if self._file is None:
            try:
                self._file = self._path.open("rb")
            except FileNotFoundError:
                return []
        chunk = self._file.read(limit)
        if not chunk:
            return []
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        ops = []
        for line in lines:
            self._line += 1
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError(f"not JSON ({e.msg}, column {e.colno})",
                                   line=self._line) from None
            ops.append(op_from_dict(record, index=self._count, line=self._line))
            self._count += 1
        return ops

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def watch(checker: OnlineChecker, tail: HistoryTail, *, stopped: Callable[[float], bool],
          emit: Callable[[dict[str, Any]], None], clock: Callable[[], float] = time.monotonic,
          ) -> None:
    """Feed ``checker`` the history as it grows until a finding or ``stopped``.

    Args:
        checker: the online check.
        tail: the history being written.
        stopped: waits up to the given seconds for a request to stop; True once asked.
        emit: sends one message to the runner.
        clock: seconds, monotonic.
    """
    fed = 0
    last_progress = clock() - PROGRESS_EVERY_S
    while True:
        ops = tail.read()
        for op in ops:
            checker.feed(op)
        fed += len(ops)
        finding = checker.check()
        if finding is not None:
            emit({"finding": finding.to_json() | {"time_ns": finding.time_ns}}
                 | _progress(checker, fed))
            return
        if clock() - last_progress >= PROGRESS_EVERY_S:
            emit(_progress(checker, fed))
            last_progress = clock()
        if stopped(0.0 if ops else POLL_S):
            emit(_progress(checker, fed))  # the last word: what results.json keeps
            return


def _progress(checker: OnlineChecker, fed: int) -> dict[str, Any]:
    return {"progress": checker.progress(), "ops": fed, "cpu_s": time.process_time()}


def _stdin_stopped(timeout_s: float) -> bool:
    """True once stdin says ``stop`` or is closed (the runner is done, or gone)."""
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    if not ready:
        return False
    line = sys.stdin.readline()
    return not line or line.strip() == "stop"


def _emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the process that started it dies.

    Linux means the *thread* that started it: `OnlineMonitor` is entered on the thread
    that runs the workload (the runner's main thread), which outlives it. A parent gone
    before this call is caught by stdin's end instead."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # not allowed here: run at the runner's priority
        os.nice(NICENESS)
    if len(argv) != 2:
        _emit({"error": "usage: python -m labrys.harness._online_worker HISTORY CHECK_JSON"})
        return 2
    tail = HistoryTail(Path(argv[0]))
    try:
        checker = make_online_checker(OnlineCheck.from_json(json.loads(argv[1])))
        watch(checker, tail, stopped=_stdin_stopped, emit=_emit)
    except Exception as e:  # say it in one line to the runner, the traceback to its log
        _emit({"error": f"{type(e).__name__}: {e}"})
        traceback.print_exc()
        return 1
    finally:
        tail.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
