"""Checking a run online: the runner's side of it.

``labrys run --check-online`` judges the history while it is recorded, with the online
check the workload declares (`labrys.workloads.HasOnlineCheck`; why each is sound on a
prefix is written in `labrys.checkers._online`). Where that check is cheap (key by key:
the register workload) it runs unless ``--no-check-online`` says otherwise; where it
re-checks the whole prefix (Elle's workloads, session guarantees) it runs when asked.
``--stop-on-anomaly`` (which implies it) ends the workload at the first anomaly, as the
first Ctrl-C would: nothing new is invoked, calls in flight finish, then the run heals,
tears down, checks the whole history and stores it.

`OnlineMonitor` starts the check in a process of its own (`_online_worker`), which reads
``history.jsonl`` as the runner writes it, and listens to what it says on a thread of
its own; the live display asks it for one line (``first anomaly at 00:41 (key 7: stale
read)``), and ``results.json`` keeps its summary under ``run.online``. The online verdict
never replaces the offline one: it only says when the first anomaly was seen and found.
Times are those of the history (seconds since the workload began).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from labrys.checkers import OnlineCheck
from labrys.errors import UsageError
from labrys.harness._spec import TestSpec
from labrys.workloads import HasOnlineCheck

ONLINE_STOPPING = "stopping: the online check found an anomaly"
"""The phase the display shows once ``--stop-on-anomaly`` has ended the workload."""

STOP_GRACE_S = 2.0
"""How long the check's process has to end after being told to, before it is killed."""


def resolve_online(spec: TestSpec, workload: Any) -> OnlineCheck | None:
    """The online check this run makes, or None; bad combinations refused up front.

    Raises:
        UsageError: ``--check-online`` or ``--stop-on-anomaly`` for a workload with no
            online check, or ``--stop-on-anomaly`` with ``--no-check-online``.
    """
    declared = workload.online_check() if isinstance(workload, HasOnlineCheck) else None
    asked = spec.check_online is True or spec.stop_on_anomaly
    if declared is None:
        if asked:
            flag = "--stop-on-anomaly" if spec.stop_on_anomaly else "--check-online"
            raise UsageError(f"workload {spec.workload} has no online check with these "
                             "options (its verdict cannot be reached before the run ends); "
                             f"drop {flag}")
        return None
    if spec.stop_on_anomaly and spec.check_online is False:
        raise UsageError("--stop-on-anomaly stops at what the online check finds; drop "
                         "--no-check-online")
    wanted = declared.cheap if spec.check_online is None else spec.check_online
    return declared if wanted or spec.stop_on_anomaly else None


def clock_text(seconds: float) -> str:
    """``00:41`` for 41 s, ``12:05`` for 725 s."""
    whole = max(int(seconds), 0)
    return f"{whole // 60:02d}:{whole % 60:02d}"


class OnlineMonitor:
    """The online check in its own process, and what it has said so far.

    Use it as a context manager around the workload: entering starts the process,
    leaving stops it (and kills it if it does not stop). Thread-safe: the display reads
    `status` while the listener thread updates it.

    Args:
        online: the check to run.
        history: the ``history.jsonl`` being written.
        clock_ns: the history's clock (ns since the workload began), to date a finding.
        log: where to say what happened (a finding, an error).
        stop_workload: called once at the first finding (``--stop-on-anomaly``), or None.
        stderr: where the process's own errors go (the run's log), or None to inherit.
    """

    def __init__(self, online: OnlineCheck, *, history: Path, clock_ns: Callable[[], int],
                 log: Callable[[str], None] = lambda message: None,
                 stop_workload: Callable[[], None] | None = None,
                 stderr: Path | None = None) -> None:
        self.online = online
        self._history = history
        self._clock_ns = clock_ns
        self._log = log
        self._stop_workload = stop_workload
        self._stderr = stderr
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._listener: threading.Thread | None = None
        self._progress = ""
        self._ops = 0
        self._cpu_s = 0.0
        self.finding: dict[str, Any] | None = None
        self.error: str | None = None
        self.stopped_workload_at_s: float | None = None

    def __enter__(self) -> OnlineMonitor:
        with contextlib.ExitStack() as files:
            err: IO[bytes] | None = None
            if self._stderr is not None:
                err = files.enter_context(self._stderr.open("ab"))
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "labrys.harness._online_worker", str(self._history),
                     json.dumps(self.online.to_json())],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
            except OSError as e:  # the run goes on without it: the final check decides
                self.error = f"could not start: {e}"
                self._log(f"online check: {self.error}")
                return self
        self._listener = threading.Thread(target=self._listen, name="labrys-online",
                                          daemon=True)
        self._listener.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Tell the process to stop, wait `STOP_GRACE_S` for it, kill it if need be."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):  # it may have ended already
            assert process.stdin is not None
            process.stdin.write("stop\n")
            process.stdin.close()
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._listener is not None:
            self._listener.join(timeout=STOP_GRACE_S)

    def _listen(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue  # not ours (a stray print): the protocol is whole lines of JSON
            if "progress" in message:
                with self._lock:
                    self._progress, self._ops = str(message["progress"]), int(message["ops"])
                    self._cpu_s = float(message.get("cpu_s", 0.0))
            if "finding" in message:
                self._found(message["finding"])
            elif "error" in message:
                with self._lock:
                    self.error = str(message["error"])
                self._log(f"online check gave up: {self.error}; the final check decides")

    def _found(self, finding: dict[str, Any]) -> None:
        found_at_s = self._clock_ns() / 1e9
        with self._lock:
            self.finding = finding | {"found_at_s": found_at_s}
        self._log(f"online check: {self.status()}, found at {clock_text(found_at_s)}")
        if self._stop_workload is not None:
            self._stop_workload()
            # Read after the stop: nothing can have been invoked later than this.
            self.stopped_workload_at_s = self._clock_ns() / 1e9
            self._log("stopping the workload at the first anomaly (--stop-on-anomaly); the "
                      "run heals, checks the whole history and stores it")

    def status(self) -> str:
        """One line for the live display."""
        with self._lock:
            if self.finding is not None:
                return (f"first anomaly at {clock_text(self.finding['time_ns'] / 1e9)} "
                        f"({self.finding['label']})")
            if self.error is not None:
                return f"gave up ({self.error}); the final check decides"
            if not self._progress:
                return f"{self.online.what}: starting"
            return f"no anomaly in {self._ops} ops ({self.online.what}: {self._progress})"

    def summary(self) -> dict[str, Any]:
        """What ``results.json`` keeps under ``run.online``: the data, and a sentence
        (``note``) the report and the command line show as it is."""
        with self._lock:
            return {"check": self.online.what, "ops": self._ops, "progress": self._progress,
                    "cpu_s": round(self._cpu_s, 3), "first_anomaly": self.finding,
                    "error": self.error,
                    "stopped_workload_at_s": self.stopped_workload_at_s,
                    "note": self._note()}

    def _note(self) -> str | None:
        finding = self.finding
        if finding is None:
            return None
        at_s, found_s = finding["time_ns"] / 1e9, finding["found_at_s"]
        text = (f"The online check ({self.online.what}) found the first anomaly at "
                f"{clock_text(at_s)} ({finding['label']}, op {finding['op']}), "
                f"{max(found_s - at_s, 0.0):.1f} s after it happened")
        if self.stopped_workload_at_s is None:
            return text + "; the run went on."
        return (text + ", and ended the workload there (--stop-on-anomaly): the history "
                "and the verdict cover the run until then.")


def stopped_by(run_summary: Mapping[str, Any]) -> str | None:
    """Why the online check ended the workload early, from a run's summary, or None."""
    online = run_summary.get("online") or {}
    return online.get("note") if online.get("stopped_workload_at_s") is not None else None


@contextlib.contextmanager
def watching(online: OnlineCheck | None, *, history: Path, clock_ns: Callable[[], int],
             log: Callable[[str], None], stop_workload: Callable[[], None] | None,
             stderr: Path | None) -> Iterator[OnlineMonitor | None]:
    """An `OnlineMonitor` for the workload's duration, or None when there is no check."""
    if online is None:
        yield None
        return
    with OnlineMonitor(online, history=history, clock_ns=clock_ns, log=log,
                       stop_workload=stop_workload, stderr=stderr) as monitor:
        yield monitor
