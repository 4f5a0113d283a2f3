"""The control machine's own tools (`ip`, `iptables`), and what they need.

Everything the local runtime does to the kernel goes through these commands rather
than through netlink bindings: they are what an operator would type, so a failure
can be shown as the command that failed and re-run by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence

from labrys.control._node import CommandResult
from labrys.errors import ControlError

_PACKAGES = {"ip": "iproute2", "iptables": "iptables", "iptables-restore": "iptables"}


def require_root() -> None:
    """Refuse, in one line, to do namespace work without root.

    Raises:
        ControlError: when not running as root.
    """
    if os.geteuid() != 0:
        raise ControlError(
            "local clusters need root (network namespaces, veths and iptables): "
            "run labrys as root, e.g. `sudo labrys cluster up`"
        )


def require_tools(*names: str) -> None:
    """Refuse, in one line, when a tool the runtime shells out to is missing.

    Raises:
        ControlError: naming the tool and the Debian package that provides it.
    """
    for name in names:
        if shutil.which(name) is None:
            package = _PACKAGES.get(name, name)
            raise ControlError(
                f"`{name}` is not installed: `apt-get install {package}` (or `make setup`)"
            )


def run(
    argv: Sequence[str], *, input: str | None = None, node: str = "host", timeout_s: float = 30.0
) -> CommandResult:
    """Run a command on the control machine and return how it ended.

    Raises:
        ControlError: if it cannot start or runs past `timeout_s`.
    """
    try:
        done = subprocess.run(
            list(argv),
            input=None if input is None else input.encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError:
        raise ControlError(f"{node}: `{argv[0]}` is not installed") from None
    except subprocess.TimeoutExpired:
        raise ControlError(
            f"{node}: `{' '.join(argv)}` still running after {timeout_s} s"
        ) from None
    return CommandResult(
        node=node,
        argv=tuple(argv),
        exit_code=done.returncode,
        stdout=done.stdout.decode(errors="replace"),
        stderr=done.stderr.decode(errors="replace"),
    )


def run_all(jobs: Sequence[tuple[Sequence[str], str | None]], *, timeout_s: float = 30.0) -> None:
    """Run independent commands concurrently, each with its stdin; all must succeed.

    Used to configure every node at once: five namespaces cost one command's time.

    Raises:
        ControlError: for the first command that failed.
    """
    procs = []
    for argv, stdin in jobs:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        procs.append((argv, stdin, proc))
    results = []
    for argv, stdin, proc in procs:
        try:
            out, err = proc.communicate(
                None if stdin is None else stdin.encode(), timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        results.append(
            CommandResult(
                node="host",
                argv=tuple(argv),
                exit_code=proc.returncode,
                stdout=out.decode(errors="replace"),
                stderr=err.decode(errors="replace"),
            )
        )
    for result in results:
        result.check()


def routes() -> list[str]:
    """The machine's IPv4 routes, which a new cluster's subnet must not overlap."""
    found = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).check().stdout)
    return [
        r["dst"] for r in found if r.get("dst", "default") != "default" and ":" not in r["dst"]
    ]
