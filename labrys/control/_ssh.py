"""The ssh runtime: real machines, reached over SSH with paramiko, as Jepsen does.

The machines are listed in a TOML file, ``--runtime-option nodes_file=nodes.toml``::

    [defaults]                  # every key may also be set per node
    user = "root"               # not root: every command runs through `sudo -n`
    port = 22
    key_file = "~/.ssh/id_ed25519"   # omitted: the SSH agent's keys and ~/.ssh's
    directory = "/var/tmp/labrys"    # node folders go in DIRECTORY/<cluster>/<node>
    python = "python3"               # runs the agent (and the packet delay process)

    [[nodes]]
    host = "192.168.1.11"
    [[nodes]]
    host = "192.168.1.12"
    name = "db2"                # optional; nodes are n1, n2… by default

A run of ``--nodes N`` uses the first N machines. Each node is one SSH connection
(one paramiko transport), multiplexing two channels: the node's agent (`_ssh_agent`),
which runs every command and owns every process labrys starts there, and SFTP, for
files (through ``sudo -n`` too when the user is not root). The machine's own address as
the control machine reaches it is the node's address, and every node's name is written
into every node's ``/etc/hosts`` (between labrys markers, removed on teardown), so
databases configured with names resolve them.

When a cluster comes up, the packages the target declares and those labrys's faults
need (`NODE_PACKAGES`) are looked up with dpkg on every machine, and the missing ones
installed with apt (Debian and its derivatives; daemons are kept from starting on
their own). Network faults are iptables rules in labrys's chains of each machine's
filter table, as in a namespace; a machine therefore serves one labrys cluster at a time.

Clean-up holds without the control machine: the agent kills every process of the
cluster when its channel closes (see `_ssh_agent`), so a SIGKILLed run leaves nothing
running; the run's guardian and ``labrys cluster down`` then connect once more and remove
the rules, the ``/etc/hosts`` lines and the node folders (`remove`). Clusters are recorded
in ``/run/labrys/ssh/<name>.json`` on the control machine (machines, owner), which is how
``labrys cluster`` finds them.

Host keys: those in ``~/.ssh/known_hosts`` are checked; an unknown machine's key is
accepted (as ``StrictHostKeyChecking=accept-new`` would, without saving it), since test
machines are often fresh.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import shlex
import threading
import tomllib
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labrys.control import _netfilter
from labrys.control._firewall import (
    DELAY_SCRIPT,
    NODE_PACKAGES,
    FirewalledCluster,
    on_every_node,
)
from labrys.control._node import (
    CommandResult,
    Node,
    Process,
    ProcessHandle,
    RemoteNodeFiles,
)
from labrys.control._registry import Owner
from labrys.errors import ControlError, UsageError

STATE_DIR = Path("/run/labrys/ssh")
"""Where ssh clusters are recorded: ``<name>.json``, the machines and the owner."""

_AGENT_SOURCE = Path(__file__).with_name("_ssh_agent.py")
_SFTP_SERVER = "/usr/lib/openssh/sftp-server"
_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Machine:
    """How to reach one node's machine (a row of the nodes file, defaults applied)."""

    name: str
    host: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    directory: str = "/var/tmp/labrys"
    python: str = "python3"

    @property
    def sudo(self) -> list[str]:
        return [] if self.user == "root" else ["sudo", "-n"]


_KEYS = {"name", "host", "port", "user", "key_file", "directory", "python"}


def read_nodes_file(path: Path) -> list[Machine]:
    """The machines a nodes file lists, in order.

    Raises:
        UsageError: the file is missing or malformed (saying which key or row).
    """
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read the nodes file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"the nodes file {path} is not valid TOML: {e}") from None
    defaults = data.get("defaults", {})
    rows = data.get("nodes")
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"the nodes file {path} lists no [[nodes]] (each with a host)")
    machines = []
    for i, row in enumerate(rows, start=1):
        merged = {**defaults, **row}
        unknown = sorted(set(merged) - _KEYS)
        if unknown or "host" not in merged:
            what = f"unknown key {unknown[0]!r}" if unknown else "no host"
            raise UsageError(f"{path}: node {i} has {what}; keys are {', '.join(sorted(_KEYS))}")
        merged.setdefault("name", f"n{i}")
        if merged.get("key_file"):
            merged["key_file"] = str(Path(merged["key_file"]).expanduser())
        machines.append(Machine(**merged))
    names = [m.name for m in machines]
    if len(set(names)) != len(names):
        raise UsageError(f"{path}: node names repeat: {', '.join(names)}")
    return machines


class Connection:
    """One SSH connection to a machine: the agent's channel and SFTP, multiplexed."""

    def __init__(self, machine: Machine, cluster: str) -> None:
        import paramiko  # imported here: the CLI should not pay for it unless ssh is used

        self.machine = machine
        self._client = paramiko.SSHClient()
        self._client.load_system_host_keys()
        self._client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            self._client.connect(machine.host, port=machine.port, username=machine.user,
                                 key_filename=machine.key_file, timeout=_CONNECT_TIMEOUT_S,
                                 banner_timeout=_CONNECT_TIMEOUT_S,
                                 auth_timeout=_CONNECT_TIMEOUT_S)
        except (OSError, paramiko.SSHException) as e:
            raise ControlError(f"{machine.name}: cannot connect to {machine.user}@"
                               f"{machine.host}:{machine.port}: {e}") from None
        self._transport = self._client.get_transport()
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._ids = iter(range(1, 1 << 62))
        self._lock = threading.Lock()
        self._channel = self._open_agent(cluster)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.sftp = self._open_sftp()

    def command(self, argv: Sequence[str]) -> tuple[int, str]:
        """Run one command through the machine's shell (for what precedes the agent)."""
        channel = self._transport.open_session()
        channel.exec_command(shlex.join(argv))
        output = channel.makefile("rb").read().decode(errors="replace")
        output += channel.makefile_stderr("rb").read().decode(errors="replace")
        return channel.recv_exit_status(), output

    def call(self, op: str, *, timeout_s: float = 120.0, **fields: Any) -> dict[str, Any]:
        """Send one request to the agent and wait for its reply.

        Raises:
            ControlError: the agent answered with an error, or not within ``timeout_s``.
        """
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                self._channel.sendall((json.dumps({"id": request_id, "op": op, **fields})
                                       + "\n").encode())
            except OSError as e:
                del self._pending[request_id]
                raise ControlError(f"{self.machine.name}: the SSH connection is gone: {e}"
                                   ) from None
        try:
            reply = future.result(timeout=timeout_s)
        except TimeoutError:
            raise ControlError(f"{self.machine.name}: no answer to {op} within {timeout_s} s"
                               ) from None
        if "error" in reply:
            raise ControlError(f"{self.machine.name}: {op} failed: {reply['error']}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sftp.close()
        self._client.close()

    def _open_agent(self, cluster: str) -> Any:
        source = base64.b64encode(zlib.compress(_AGENT_SOURCE.read_bytes())).decode()
        code = f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{source}')))"
        channel = self._transport.open_session()
        # exec: the shell (and its rc files) is paid for once, then gone.
        channel.exec_command("exec " + shlex.join(
            [*self.machine.sudo, self.machine.python, "-u", "-c", code, cluster]))
        first = channel.makefile("rb").readline()
        try:
            json.loads(first)["ready"]
        except (ValueError, KeyError, TypeError):
            error = channel.makefile_stderr("rb").read().decode(errors="replace").strip()
            raise ControlError(
                f"{self.machine.name}: the labrys agent did not start with "
                f"`{self.machine.python}` (needs Python 3.9+"
                f"{' and passwordless sudo' if self.machine.sudo else ''}): "
                f"{error.splitlines()[-1] if error else 'no output'}") from None
        self._agent_file = channel.makefile("rb")
        return channel

    def _open_sftp(self) -> Any:
        import paramiko

        if not self.machine.sudo:
            return self._client.open_sftp()
        channel = self._transport.open_session()
        channel.exec_command(shlex.join([*self.machine.sudo, _SFTP_SERVER]))
        return paramiko.SFTPClient(channel)

    def _read(self) -> None:
        for line in self._agent_file:
            reply = json.loads(line)
            with self._lock:
                future = self._pending.pop(reply.get("id"), None)
            if future is not None:
                future.set_result(reply)
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_result({"error": "the SSH connection closed"})


class SshNode(RemoteNodeFiles):
    """A node that is a machine reached over SSH (see the module docstring)."""

    __slots__ = ("_connection", "address", "directory", "machine", "name")

    def __init__(self, machine: Machine, connection: Connection, cluster: str) -> None:
        self.machine = machine
        self.name = machine.name
        self.address = machine.host
        self.directory = Path(machine.directory) / cluster / machine.name
        self._connection = connection

    def __repr__(self) -> str:
        return f"SshNode({self.name!r}, {self.machine.user}@{self.address})"

    def run(self, argv: Sequence[str], *, input: str | None = None,
            env: Mapping[str, str] | None = None, timeout_s: float = 60.0) -> CommandResult:
        argv = tuple(argv)
        reply = self._connection.call("run", argv=list(argv), input=input, env=dict(env or {}),
                                      timeout=timeout_s, timeout_s=timeout_s + 30)
        if reply.get("timeout"):
            raise ControlError(f"{self.name}: `{shlex.join(argv)}` still running after "
                               f"{timeout_s} s")
        return CommandResult(node=self.name, argv=argv, exit_code=reply["code"],
                             stdout=reply["stdout"], stderr=reply["stderr"])

    def spawn(self, argv: Sequence[str], *, log_path: Path,
              env: Mapping[str, str] | None = None) -> SshProcess:
        reply = self._connection.call("spawn", argv=list(argv), log=str(self._resolve(log_path)),
                                      env=dict(env or {}))
        return SshProcess(node=self.name, pid=reply["pid"], connection=self._connection)

    def read_file(self, path: str | Path) -> bytes:
        with self._connection.sftp.open(str(self._resolve(path)), "rb") as f:
            return f.read()

    def write_file(self, path: str | Path, data: bytes | str) -> None:
        """Replace a file atomically: written under a temporary name, then renamed."""
        target = self._resolve(path)
        self.make_dir(target.parent)
        temporary = str(target.with_name(f".{target.name}.labrys-tmp"))
        with self._connection.sftp.open(temporary, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        self._connection.sftp.posix_rename(temporary, str(target))

    def exists(self, path: str | Path) -> bool:
        try:
            self._connection.sftp.stat(str(self._resolve(path)))
        except FileNotFoundError:
            return False
        return True

    def make_dir(self, path: str | Path, *, owner: str | None = None) -> None:
        target = str(self._resolve(path))
        self.run(["mkdir", "-p", target]).check()
        if owner is not None:
            self.run(["chown", f"{owner}:", target]).check()

    def fetch(self, path: str | Path, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self._connection.sftp.get(str(self._resolve(path)), str(destination))


class SshProcess(ProcessHandle):
    """A process the node's agent started and owns (signalled and reaped by it)."""

    __slots__ = ("_connection", "_returncode", "node", "pid")

    def __init__(self, *, node: str, pid: int, connection: Connection) -> None:
        self.node = node
        self.pid = pid
        self._connection = connection
        self._returncode: int | None = None

    def signal(self, sig: int, *, group: bool = True) -> bool:
        if self._returncode is not None:
            return False
        return self._connection.call("signal", pid=self.pid, sig=int(sig), group=group)["ok"]

    def wait(self, *, timeout_s: float | None = None) -> int | None:
        if self._returncode is None:
            wait_s = None if timeout_s is None else timeout_s + 30
            self._returncode = self._connection.call("wait", pid=self.pid, timeout=timeout_s,
                                                     timeout_s=wait_s or 1e9)["code"]
        return self._returncode


@dataclass(frozen=True, slots=True, kw_only=True)
class SshRecord:
    """A cluster as recorded on the control machine, and as its handle carries it."""

    cluster: str
    machines: tuple[Machine, ...]
    owner: Owner | None

    @property
    def path(self) -> Path:
        return STATE_DIR / f"{self.cluster}.json"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> SshRecord:
        owner = data.get("owner")
        return SshRecord(cluster=data["cluster"],
                         machines=tuple(Machine(**m) for m in data["machines"]),
                         owner=None if owner is None else Owner(**owner))


def records() -> list[SshRecord]:
    """Every recorded ssh cluster; unreadable records are skipped."""
    found = []
    for path in sorted(STATE_DIR.glob("*.json")) if STATE_DIR.is_dir() else []:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            found.append(SshRecord.from_json(json.loads(path.read_text())))
    return found


class SshCluster(FirewalledCluster):
    """Machines over SSH; see the module docstring."""

    __slots__ = ("_connections", "_delayers", "_nodes", "_owner_pid", "record")

    def __init__(self, record: SshRecord, connections: Sequence[Connection]) -> None:
        self.record = record
        self._connections = tuple(connections)
        self._nodes = tuple(SshNode(c.machine, c, record.cluster) for c in connections)
        self._delayers: dict[str, Process] = {}
        self._owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"SshCluster({self.name!r}, nodes={[n.name for n in self._nodes]})"

    @property
    def name(self) -> str:
        return self.record.cluster

    @property
    def nodes(self) -> tuple[SshNode, ...]:
        return self._nodes

    @property
    def handle(self) -> dict[str, Any]:
        """All `SshRuntime.remove` needs: the cluster's name and how to reach its machines."""
        return self.record.to_json()

    @classmethod
    def up(cls, machines: Sequence[Machine], *, packages: Collection[str] = (),
           persistent: bool = False,
           guard: Callable[[Mapping[str, Any]], None] | None = None) -> SshCluster:
        """Connect to every machine, install what is missing, prepare its firewall.

        Raises:
            ControlError: a machine cannot be reached, lacks Python, or apt failed.
        """
        record = SshRecord(cluster="ls" + secrets.token_hex(2), machines=tuple(machines),
                           owner=None if persistent else Owner.current())
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        record.path.write_text(json.dumps(record.to_json(), indent=1))
        if guard is not None:
            guard(record.to_json())
        connections: list[Connection] = []
        try:
            with ThreadPoolExecutor(max_workers=len(machines)) as pool:
                futures = [pool.submit(Connection, m, record.cluster) for m in machines]
            # Every connection that was made is kept for closing, even if another failed.
            connections = [f.result() for f in futures if f.exception() is None]
            for future in futures:
                if future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
            cluster = cls(record, connections)
            wanted = sorted({*NODE_PACKAGES, *packages})
            on_every_node(cluster.nodes, lambda node: _prepare(node, cluster, wanted))
        except BaseException:
            for connection in connections:
                connection.close()
            remove(record.to_json())
            raise
        cluster._tear_down_at_exit(persistent=persistent)
        return cluster

    @classmethod
    def attach(cls, name: str) -> SshCluster:
        """The recorded cluster ``name``, connected anew.

        Raises:
            UsageError: no such cluster is recorded.
        """
        found = [r for r in records() if r.cluster == name]
        if not found:
            raise UsageError(f"no ssh cluster {name} is up")
        return cls(found[0], [Connection(m, name) for m in found[0].machines])

    def _delay_program(self, node: Node) -> list[str]:
        """The node's configured Python, which must have NetfilterQueue."""
        assert isinstance(node, SshNode)
        python = node.machine.python
        if not node.run([python, "-c", "import netfilterqueue"]).ok:
            raise ControlError(f"{node.name}: packet delay needs the NetfilterQueue module in "
                               f"`{python}` there (`pip install NetfilterQueue`, which builds "
                               "on libnetfilter-queue-dev), or set python= in the nodes file")
        node.write_file("labrys-nfqdelay.py", DELAY_SCRIPT.read_bytes())
        return [python, str(node.directory / "labrys-nfqdelay.py")]

    def teardown(self) -> None:
        """Kill every process of the cluster on every machine, remove its rules, hosts
        lines and folders, and close the connections; idempotent."""
        from labrys.control._cleanup import deferred_signals

        with deferred_signals():
            atexit.unregister(self._teardown_at_exit)
            self._delayers = {}
            errors = []
            for node, connection in zip(self._nodes, self._connections, strict=True):
                try:
                    connection.call("cleanup", directory=str(node.directory.parent))
                except ControlError as e:
                    errors.append(str(e))
                connection.close()
            if errors:
                remove(self.handle)  # connects afresh to whatever could not be reached
            self.record.path.unlink(missing_ok=True)


def _prepare(node: SshNode, cluster: SshCluster, packages: Sequence[str]) -> None:
    _install_missing(node, packages)
    node.make_dir(".")
    node._connection.call("hosts", lines="".join(f"{n.address} {n.name}\n"
                                                for n in cluster.nodes))
    node.run(["iptables-restore", "--noflush"], input=_netfilter.base_layout()).check()


def _install_missing(node: SshNode, packages: Sequence[str]) -> None:
    """Install with apt whichever of ``packages`` the machine lacks."""
    query = node.run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", *packages])
    installed = {line.split()[0] for line in query.stdout.splitlines()
                 if line.endswith("install ok installed")}
    missing = [p for p in packages if p not in installed]
    if not missing:
        return
    script = ("printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && "
              "chmod +x /usr/sbin/policy-rc.d && apt-get update -qq; "
              "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
              "--no-install-recommends \"$@\"; status=$?; rm -f /usr/sbin/policy-rc.d; "
              "exit $status")
    result = node.run(["sh", "-c", script, "sh", *missing], timeout_s=1800)
    if not result.ok:
        raise ControlError(f"{node.name}: could not install {', '.join(missing)} with apt: "
                           f"{(result.stderr.strip() or result.stdout.strip())[-300:]}")


def remove(handle: Mapping[str, Any]) -> None:
    """Remove the cluster a handle names: on every machine at once, kill its processes,
    remove its rules, hosts lines and folder (one command each); then its record.

    Raises:
        ControlError: a machine could not be reached (the others are cleaned).
    """
    record = SshRecord.from_json(handle)
    with ThreadPoolExecutor(max_workers=max(1, len(record.machines))) as pool:
        errors = [e for e in pool.map(lambda m: _clean(m, record.cluster), record.machines)
                  if e is not None]
    if errors:
        raise ControlError(f"ssh cluster {record.cluster}: could not clean "
                           f"{'; '.join(errors)}")
    record.path.unlink(missing_ok=True)


def _clean(machine: Machine, cluster: str) -> str | None:
    """Run the agent's clean-up on one machine; what went wrong, or None."""
    import paramiko

    client = paramiko.SSHClient()
    client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    command = shlex.join([*machine.sudo, machine.python, "-c", _AGENT_SOURCE.read_text(),
                          "--cleanup", cluster, str(Path(machine.directory) / cluster)])
    try:
        client.connect(machine.host, port=machine.port, username=machine.user,
                       key_filename=machine.key_file, timeout=_CONNECT_TIMEOUT_S,
                       banner_timeout=_CONNECT_TIMEOUT_S, auth_timeout=_CONNECT_TIMEOUT_S)
        _, stdout, stderr = client.exec_command(command, timeout=60)
        if stdout.channel.recv_exit_status() != 0:
            return f"{machine.name}: {stderr.read().decode(errors='replace')[-200:]}"
    except (OSError, paramiko.SSHException) as e:
        return f"{machine.name}: {e}"
    finally:
        client.close()
    return None


def down(*, name: str | None = None, everything: bool = False) -> tuple[list[str], list[str]]:
    """Remove recorded ssh clusters as `labrys cluster down` does.

    Returns:
        (removed, kept) cluster names.
    """
    removed, kept = [], []
    for record in records():
        if name is not None and record.cluster != name:
            continue
        alive = record.owner is not None and record.owner.alive()
        if name is None and not everything and alive:
            kept.append(record.cluster)
            continue
        remove(record.to_json())
        removed.append(record.cluster)
    return removed, kept

