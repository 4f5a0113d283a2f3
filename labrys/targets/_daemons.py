"""Helpers shared by targets that run daemons on nodes: waiting, and saying why not.

A database that does not come up must be reported as DESIGN.md asks: which node,
and the last lines of its log, so the user sees the server's own complaint (a port
in use, a bad configuration line) without opening the run folder.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from labrys.errors import TargetError

TAIL_LINES = 5
"""How many of a log's last lines a start-up error quotes."""


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of ``path`` joined by `` | ``; empty if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def start_error(what: str, *, node: str, log: Path) -> TargetError:
    """A `TargetError` naming the node and log and quoting the log's last lines."""
    tail = log_tail(log)
    return TargetError(f"{what}{'; its log ends: ' + tail if tail else ''}", node=node, log=log)


def wait_until(ready: Callable[[], bool], *, timeout_s: float, what: str, node: str,
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
