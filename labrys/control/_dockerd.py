"""The Docker daemon the docker runtime talks to: used if one runs, started if none does.

labrys needs a daemon only while it has containers, and a machine may have none running
(Debian's ``docker.io`` installed by ``make setup`` does not start one here: there is no
init system to). So `daemon` connects to the daemon at ``DOCKER_HOST`` or the default
socket, and when nothing answers it starts ``dockerd`` itself and records that in
``/run/labrys/dockerd.json`` (PID and start time, since PIDs wrap). `release` stops that
daemon again once no labrys network is left, and only that one: a daemon labrys did
not start is never stopped.

The daemon labrys starts touches nothing of the machine's network beyond its containers'
bridges: ``--iptables=false`` (a daemon managing iptables sets the host's FORWARD policy
to DROP, which silently cuts the local runtime's namespace nodes off from each other,
and leaves its chains behind when it stops), ``--bridge=none`` (no ``docker0``, which a
stopped daemon also leaves behind) and ``--ip-forward=false``. Labrys's containers need
none of it: they talk over their own bridge, the control machine reaches them on it, and
image builds use the host's network to reach the Debian mirror.

Starting and stopping are serialised by a lock file, so a run tearing down cannot stop
the daemon under another that is just starting its cluster.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labrys.control._registry import Owner
from labrys.errors import ControlError

STATE = Path("/run/labrys/dockerd.json")
"""Present while a daemon labrys started runs: its PID and start time."""

LOCK = Path("/run/labrys/dockerd.lock")
LOG = Path("/run/labrys/dockerd.log")
LABEL = "labrys.cluster"
"""The label every labrys container and network carries: the cluster's name."""

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 20.0


@contextlib.contextmanager
def locked(path: Path = LOCK, *, waiting: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing) for the block.

    Args:
        waiting: called once if another process holds it, before waiting for it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                waiting()
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def connect(timeout_s: float = 60.0) -> Any | None:
    """A client of the daemon that answers now, or None."""
    import docker  # imported here: the CLI should not pay for it unless docker is used
    import requests

    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except (docker.errors.DockerException, requests.RequestException):
        return None
    return client


def _ours() -> Owner | None:
    """The daemon labrys started, if it still runs."""
    try:
        owner = Owner(**json.loads(STATE.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return owner if owner.alive() else None


def daemon() -> Any:
    """A `docker.DockerClient` of a running daemon, starting ``dockerd`` if none answers.

    Raises:
        ControlError: the docker package or dockerd is missing, or the daemon did not
            start (quoting its log).
    """
    try:
        import docker  # noqa: F401
    except ImportError:
        raise ControlError("the docker runtime needs the docker package: "
                           "`pip install docker` (or `make setup`)") from None
    with locked():
        client = connect()
        if client is not None:
            return client
        if os.environ.get("DOCKER_HOST"):
            raise ControlError(f"no Docker daemon answers at DOCKER_HOST="
                               f"{os.environ['DOCKER_HOST']}: start it, or unset DOCKER_HOST "
                               "to let labrys start one here")
        return _start()


def _start() -> Any:
    if shutil.which("dockerd") is None:
        raise ControlError("no Docker daemon runs and dockerd is not installed: "
                           "`apt-get install docker.io` (or `make setup`)")
    if os.geteuid() != 0:
        raise ControlError("no Docker daemon runs, and starting one needs root: run labrys "
                           "as root, or start dockerd yourself")
    STATE.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "ab") as log:
        process = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip-forward=false", "--bridge=none"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    owner = Owner.of(process.pid)
    STATE.write_text(json.dumps({"pid": owner.pid, "start_ticks": owner.start_ticks}))
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        client = connect()
        if client is not None:
            return client
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    STATE.unlink(missing_ok=True)
    tail = LOG.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
    raise ControlError(f"dockerd did not start within {_START_TIMEOUT_S:.0f} s: {tail[0]} "
                       f"(log: {LOG})")


def release() -> bool:
    """Stop the daemon labrys started once no labrys network or container is left.

    Returns:
        True if a daemon was stopped.
    """
    with locked():
        owner = _ours()
        if owner is None:
            STATE.unlink(missing_ok=True)
            return False
        client = connect()
        if client is not None and (
            client.networks.list(filters={"label": LABEL})
            or client.containers.list(all=True, filters={"label": LABEL})
        ):
            return False
        with contextlib.suppress(ProcessLookupError):
            fd = os.pidfd_open(owner.pid)
            try:
                if owner.alive():  # still that very dockerd, checked after pinning it
                    signal.pidfd_send_signal(fd, signal.SIGTERM)
            finally:
                os.close(fd)
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while owner.alive():
            if time.monotonic() > deadline:
                raise ControlError(f"dockerd {owner.pid} did not stop within "
                                   f"{_STOP_TIMEOUT_S:.0f} s of SIGTERM (log: {LOG})")
            time.sleep(0.1)
        STATE.unlink(missing_ok=True)
        return True
