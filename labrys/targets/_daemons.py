"""Helpers shared by targets that run daemons on nodes: waiting, and saying why not.

A database that does not come up must be reported with what a user needs to act:
which node, and the last lines of its log, so the user sees the server's own
complaint (a port in use, a bad configuration line) without opening the run folder.
Logs are read through the node, wherever it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from labrys.control import Node
from labrys.errors import TargetError

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
