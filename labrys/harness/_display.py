"""What a person watching a run sees while it goes on.

On a terminal, one live panel (rich's ``Live``), redrawn twice a second: the phase,
elapsed and remaining time, ops/s over the last interval, ok/fail/info counts, the
nemesis's last action, the faults in force and, when the run checks online, what that
check has seen (``first anomaly at 00:41 (key 7: stale read)`` from the redraw after it
is found). When stdout is not a terminal (CI,
a pipe), a plain log line every few seconds instead, because a redrawn panel turns
into a wall of escape codes in a log file.

The display only reads: the interpreter's `Progress` counters, the clock, a function
naming the faults in force and one saying what the online check has seen. It can
neither slow down nor break a run; a display that fails to draw is a cosmetic problem
and is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from types import TracebackType

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from labrys.harness._interpreter import Progress

_PLAIN_INTERVAL_S = 5.0


class RunDisplay:
    """A context manager that shows the run's progress until it exits.

    Args:
        console: where to draw.
        progress: the interpreter's live counters.
        time_limit_s: the workload's length, for the remaining time.
        clock_ns: ns since the workload began.
        faults: names the faults in force now.
        phase: names what the run is doing now (workload, healing, checking…).
        online: says what the online check has seen, or None when there is none.
    """

    def __init__(self, console: Console, progress: Progress, *, time_limit_s: float,
                 clock_ns: Callable[[], int], faults: Callable[[], Sequence[str]],
                 phase: Callable[[], str], online: Callable[[], str] | None = None) -> None:
        self._console = console
        self._progress = progress
        self._time_limit_s = time_limit_s
        self._clock_ns = clock_ns
        self._faults = faults
        self._phase = phase
        self._online = online
        self._last = (0.0, 0)  # (elapsed s, completed ops) at the previous redraw
        self._rate = 0.0
        self._live: Live | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunDisplay:
        if self._console.is_terminal:
            self._live = Live(get_renderable=self._render, console=self._console,
                              refresh_per_second=2, transient=False)
            self._live.__enter__()
        else:
            self._thread = threading.Thread(target=self._plain_loop, name="labrys-display",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(kind, error, tb)
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        self._console.print(self.line(), soft_wrap=True, markup=False)

    def _numbers(self) -> tuple[float, int, float]:
        elapsed = max(self._clock_ns() / 1e9 - self._progress.started_ns / 1e9, 0.0)
        done = sum(self._progress.completed.values())
        last_elapsed, last_done = self._last
        if elapsed - last_elapsed >= 1.0:
            self._rate = (done - last_done) / (elapsed - last_elapsed)
            self._last = (elapsed, done)
        return elapsed, done, self._rate

    def line(self) -> str:
        """The progress as one plain line."""
        elapsed, _done, rate = self._numbers()
        c = self._progress.completed
        remaining = max(self._time_limit_s - elapsed, 0.0)
        faults = ", ".join(self._faults()) or "none"
        online = "" if self._online is None else f" | online: {self._online()}"
        return (f"[{self._phase()}] {elapsed:5.0f}s elapsed, {remaining:4.0f}s left | "
                f"{rate:7.0f} ops/s | ok {c['ok']} fail {c['fail']} info {c['info']} | "
                f"faults: {faults}{online}")

    def _render(self) -> RenderableType:
        elapsed, done, rate = self._numbers()
        c = self._progress.completed
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("phase", self._phase())
        table.add_row("time", f"{elapsed:.0f} s elapsed, "
                      f"{max(self._time_limit_s - elapsed, 0.0):.0f} s left")
        table.add_row("ops", f"{done} completed, {rate:.0f} ops/s")
        table.add_row("results", f"[green]ok {c['ok']}[/]  [red]fail {c['fail']}[/]  "
                      f"[yellow]info {c['info']}[/]")
        nemesis = self._progress.nemesis_ops
        table.add_row("nemesis", f"{len(nemesis)} actions, last: {nemesis[-1]}" if nemesis
                      else "no action yet")
        table.add_row("faults", ", ".join(self._faults()) or "none")
        if self._online is not None:
            seen = self._online()
            table.add_row("online", f"[bold red]{escape(seen)}[/]" if seen.startswith("first")
                          else escape(seen))
        return table

    def _plain_loop(self) -> None:
        while not self._stop.wait(_PLAIN_INTERVAL_S):
            try:
                print(self.line(), flush=True)
            except Exception:  # the display must never take the run down
                return
