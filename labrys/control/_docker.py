"""The docker runtime: one container per node, on a bridge network labrys makes.

Layout of a 3-node cluster named ``ld3fa0`` (subnet ``10.63.160.0/24``, chosen from the
name as the local runtime does, and never overlapping a route of this machine):

    network ld3fa0 (bridge ld3fa0-br, 10.63.160.1 on this machine)
      container ld3fa0-n1  hostname n1  10.63.160.2
      container ld3fa0-n2  hostname n2  10.63.160.3
      container ld3fa0-n3  hostname n3  10.63.160.4

Every container and the network carry the labels ``labrys.cluster`` (the name) and
``labrys.owner`` (the PID and start time of the process that removes it, or ``none``
for a cluster made by ``labrys cluster up``): Docker itself is the record, so a cluster
is found, and removed, from its labels alone, by `remove`, by a run's guardian after a
SIGKILL, and by `labrys cluster down`. Removing a container kills every process in it,
whatever its parent, so nothing a database forked survives.

Choices that are not obvious:

- Containers run the node image for the target's packages (`_images`), with ``--init``
  (an init that reaps orphans, as Patroni's postmaster becomes one after a kill),
  ``NET_ADMIN`` (iptables and NFQUEUE inside, exactly as in a namespace), every node's
  name in ``/etc/hosts``, and the default route removed, so a node reaches the other
  nodes and the control machine and nothing else, like a namespace node.
- Commands and processes go through the Docker API's ``exec``: a process started by
  exec already leads its own session and process group, so group signals reach its
  children; its PID inside the container is written by a one-line wrapper before it
  execs the program; Docker reaps it and keeps its exit status, which `DockerProcess`
  reads. Signals are sent with ``kill`` inside the container, only while Docker says
  the process runs, so its PID cannot have been reused yet.
- Files go through the API rather than a bind-mounted folder: a node's paths and users
  are the container's own (PostgreSQL's data belongs to the image's ``postgres`` user,
  who need not exist on this machine with the same ID, and ``/proc/PID`` is the
  container's), and it works against any daemon. Writes are ``put_archive`` to a
  temporary name and a rename (so a reader never sees half a file: libfaketime reads
  its clock file continually), ``fetch`` is ``get_archive``, reads are ``cat`` (files
  in ``/proc`` report a size of 0 to the archive API).
- Bridged traffic crosses this machine's FORWARD chain; one ACCEPT rule for the bridge,
  commented ``labrys <name>``, keeps the nodes talking whatever that chain's policy.

Measured here (a shared machine): an exec costs about 90 ms, so a node's command is about
20 times dearer than in a namespace; `DockerCluster.up` of 3 nodes about 1.5 s, of 5
about 2.3 s, once the image exists (``bench/bench_runtimes.py``).
"""

from __future__ import annotations

import atexit
import io
import ipaddress
import os
import secrets
import shlex
import signal
import tarfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from labrys.control import _dockerd, _host, _images, _netfilter
from labrys.control._firewall import DELAY_SCRIPT, FirewalledCluster, on_every_node
from labrys.control._node import (
    CommandResult,
    Node,
    Process,
    ProcessHandle,
    RemoteNodeFiles,
    kill_command,
)
from labrys.control._registry import IPTABLES_COMMENT, Owner, subnet_of
from labrys.errors import ControlError, UsageError

CLUSTER_LABEL = _dockerd.LABEL
OWNER_LABEL = "labrys.owner"
NODE_LABEL = "labrys.node"
NODE_DIRECTORY = Path("/var/lib/labrys")
"""Each node's own directory, inside its container."""

_MAX_INPUT = 100_000
"""Standard input is handed to a command as an argument (the exec API has no simple
stdin), and one argument may not exceed 128 KiB on Linux."""

_SPAWN = 'echo $$ > "$1"; log=$2; shift 2; exec "$@" >>"$log" 2>&1 </dev/null'
_WITH_INPUT = 'printf %s "$1" | { shift; exec "$@"; }'


class DockerNode(RemoteNodeFiles):
    """A node that is a container (see the module docstring for how it is reached)."""

    __slots__ = ("_api", "address", "container", "directory", "name")

    def __init__(self, *, api: Any, container: str, name: str, address: str) -> None:
        self._api = api
        self.container = container
        self.name = name
        self.address = address
        self.directory = NODE_DIRECTORY

    def __repr__(self) -> str:
        return f"DockerNode({self.name!r}, {self.address}, container={self.container!r})"

    def run(self, argv: Sequence[str], *, input: str | None = None,
            env: Mapping[str, str] | None = None, timeout_s: float = 60.0) -> CommandResult:
        """Run a command in the container to completion (see `Node.run`).

        The node's own environment is the base, not the control process's.
        """
        argv = tuple(argv)
        command = ["timeout", "-s", "KILL", f"{timeout_s:g}", *argv]
        if input is not None:
            if len(input.encode()) > _MAX_INPUT:
                raise ControlError(f"{self.name}: standard input over {_MAX_INPUT} bytes "
                                   "cannot be passed to a container command; write a file")
            command = ["sh", "-c", _WITH_INPUT, "sh", input, *command]
        began = time.monotonic()
        exec_id = self._exec(command, env)
        try:
            stdout, stderr = self._api.exec_start(exec_id, demux=True)
        except Exception as e:  # the daemon or container went away mid-command
            raise ControlError(f"{self.name}: `{shlex.join(argv)}` could not run: {e}") from None
        code = self._api.exec_inspect(exec_id)["ExitCode"]
        if code == 128 + signal.SIGKILL and time.monotonic() - began >= timeout_s * 0.99:
            raise ControlError(f"{self.name}: `{shlex.join(argv)}` still running after "
                               f"{timeout_s} s")
        return CommandResult(node=self.name, argv=argv, exit_code=_status(code),
                             stdout=(stdout or b"").decode(errors="replace"),
                             stderr=(stderr or b"").decode(errors="replace"))

    def spawn(self, argv: Sequence[str], *, log_path: Path,
              env: Mapping[str, str] | None = None) -> DockerProcess:
        """Start a process in the container (see `Node.spawn`)."""
        log = self._resolve(log_path)
        pid_file = f"/run/labrys-spawn-{secrets.token_hex(6)}.pid"
        self.make_dir(log.parent)
        exec_id = self._exec(["sh", "-c", _SPAWN, "sh", pid_file, str(log), *argv], env)
        self._api.exec_start(exec_id, detach=True)
        deadline = time.monotonic() + 10
        while True:
            result = self.run(["sh", "-c", 'cat "$0" && rm -f "$0"', pid_file])
            if result.ok and result.stdout.strip():
                return DockerProcess(node=self.name, api=self._api, exec_id=exec_id,
                                     pid=int(result.stdout), run=self.run)
            state = self._api.exec_inspect(exec_id)
            if not state["Running"] or time.monotonic() > deadline:
                raise ControlError(f"{self.name}: `{shlex.join(argv)}` did not start (exit "
                                   f"{state['ExitCode']}; log: {log})")
            time.sleep(0.02)

    def read_file(self, path: str | Path) -> bytes:
        target = self._resolve(path)
        exec_id = self._exec(["cat", "--", str(target)], None)
        stdout, stderr = self._api.exec_start(exec_id, demux=True)
        if self._api.exec_inspect(exec_id)["ExitCode"] != 0:
            message = (stderr or b"").decode(errors="replace").strip()
            if "No such file" in message:
                raise FileNotFoundError(f"{self.name}:{target}")
            raise OSError(f"{self.name}: cannot read {target}: {message}")
        return stdout or b""

    def write_file(self, path: str | Path, data: bytes | str) -> None:
        """Replace a file in the container atomically (a temporary name, then a rename)."""
        target = self._resolve(path)
        payload = data.encode() if isinstance(data, str) else data
        temporary = target.with_name(f".{target.name}.labrys-tmp")
        self.make_dir(target.parent)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(temporary.name)
            info.size = len(payload)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
        if not self._api.put_archive(self.container, str(target.parent), buffer.getvalue()):
            raise ControlError(f"{self.name}: could not write {target}")
        self.run(["mv", "-f", str(temporary), str(target)]).check()

    def exists(self, path: str | Path) -> bool:
        return self.run(["test", "-e", str(self._resolve(path))]).ok

    def make_dir(self, path: str | Path, *, owner: str | None = None) -> None:
        target = str(self._resolve(path))
        if owner is None:
            self.run(["mkdir", "-p", target]).check()
        else:
            self.run(["sh", "-c", 'mkdir -p "$1" && chown "$2:" "$1"', "sh", target,
                      owner]).check()

    def fetch(self, path: str | Path, destination: Path) -> None:
        import docker

        target = self._resolve(path)
        try:
            stream, _ = self._api.get_archive(self.container, str(target))
        except docker.errors.NotFound:
            raise FileNotFoundError(f"{self.name}:{target}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(tar.getmembers()[0])
            if member is None:
                raise ControlError(f"{self.name}: {target} is not a file")
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(member.read())

    def _exec(self, command: Sequence[str], env: Mapping[str, str] | None) -> str:
        import docker

        try:
            return self._api.exec_create(self.container, list(command),
                                         environment=dict(env or {}))["Id"]
        except docker.errors.APIError as e:
            raise ControlError(f"{self.name}: cannot run a command in container "
                               f"{self.container}: {e.explanation or e}") from None


def _status(code: int | None) -> int:
    """An exec's exit code as `Process.returncode` has it: negative for a signal."""
    if code is None:
        return -1
    return -(code - 128) if 128 < code <= 128 + 64 else code


class DockerProcess(ProcessHandle):
    """A process started by `DockerNode.spawn`: signalled inside its container, its exit
    status read from Docker (see the module docstring)."""

    __slots__ = ("_api", "_exec_id", "_returncode", "_run", "node", "pid")

    def __init__(self, *, node: str, api: Any, exec_id: str, pid: int,
                 run: Callable[..., CommandResult]) -> None:
        self.node = node
        self.pid = pid
        self._api = api
        self._exec_id = exec_id
        self._run = run
        self._returncode: int | None = None

    def signal(self, sig: int, *, group: bool = True) -> bool:
        if not self.alive:
            return False
        return self._run(kill_command(self.pid, sig, group=group)).ok

    def wait(self, *, timeout_s: float | None = None) -> int | None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._returncode is None:
            try:
                state = self._api.exec_inspect(self._exec_id)
            except Exception:  # the container is gone, and the process with it
                self._returncode = -signal.SIGKILL
                break
            if not state["Running"]:
                self._returncode = _status(state["ExitCode"])
                break
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.05)
        return self._returncode


class DockerCluster(FirewalledCluster):
    """Containers on a bridge network; see the module docstring for the layout.

    Make one with `up`; reach one made by another process with `attach`.
    """

    __slots__ = ("_client", "_delayers", "_name", "_nodes", "_owner_pid", "subnet")

    def __init__(self, client: Any, name: str, subnet: str, nodes: Sequence[DockerNode]):
        self._client = client
        self._name = name
        self.subnet = subnet
        self._nodes = tuple(nodes)
        self._delayers: dict[str, Process] = {}
        self._owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"DockerCluster({self._name!r}, nodes={[n.name for n in self._nodes]})"

    @property
    def name(self) -> str:
        return self._name

    @property
    def nodes(self) -> tuple[DockerNode, ...]:
        return self._nodes

    @property
    def handle(self) -> dict[str, str]:
        """All `DockerRuntime.remove` needs: the name every object is labelled with."""
        return {"cluster": self._name}

    @classmethod
    def up(cls, nodes: int, *, packages: Collection[str] = (), mirror: str | None = None,
           persistent: bool = False,
           guard: Callable[[Mapping[str, str]], None] | None = None) -> DockerCluster:
        """Create a cluster of ``nodes`` containers named n1…nN (see `Runtime.up`).

        Raises:
            ControlError: no daemon could be had, an image could not be built, or
                Docker refused a container or the network.
        """
        if nodes < 1:
            raise UsageError(f"a cluster needs at least one node, not {nodes}")
        client = _dockerd.daemon()
        image = _images.node_image(client, packages, mirror=mirror)
        owner = "none" if persistent else _owner_label(Owner.current())
        name, subnet = _claim_network(client, owner, guard)
        cluster = cls(client, name, str(subnet), [])
        try:
            cluster._nodes = tuple(_start_nodes(client, name, subnet, nodes, image, owner))
            on_every_node(cluster._nodes, _prepare)
        except BaseException:
            _remove(client, name)
            raise
        cluster._tear_down_at_exit(persistent=persistent)
        return cluster

    @classmethod
    def attach(cls, name: str) -> DockerCluster:
        """The running cluster called ``name``.

        Raises:
            UsageError: there is no such cluster.
        """
        client = _dockerd.connect()
        found = [] if client is None else client.networks.list(
            filters={"label": f"{CLUSTER_LABEL}={name}"})
        if not found:
            raise UsageError(f"no docker cluster {name} is up")
        subnet = found[0].attrs["IPAM"]["Config"][0]["Subnet"]
        containers = client.containers.list(all=True,
                                            filters={"label": f"{CLUSTER_LABEL}={name}"})
        nodes = sorted(
            (DockerNode(api=client.api, container=c.name, name=c.labels[NODE_LABEL],
                        address=c.attrs["NetworkSettings"]["Networks"][name]["IPAddress"])
             for c in containers),
            key=lambda n: int(n.name[1:]))
        return cls(client, name, subnet, nodes)

    def _delay_program(self, node: Node) -> list[str]:
        """The image's Python, with the NetfilterQueue module copied in at build time."""
        if not node.run(["python3", "-c", "import netfilterqueue"]).ok:
            raise ControlError(
                f"{node.name}: the node image has no NetfilterQueue for packet delay (it is "
                f"copied from labrys's own Python, which must be "
                f"{'.'.join(map(str, _images.IMAGE_PYTHON))} and have it: `make setup`)")
        node.write_file("labrys-nfqdelay.py", DELAY_SCRIPT.read_bytes())
        return ["python3", str(node.directory / "labrys-nfqdelay.py")]

    def teardown(self) -> None:
        """Remove every container and the network (killing every process); idempotent."""
        from labrys.control._cleanup import deferred_signals

        with deferred_signals():
            atexit.unregister(self._teardown_at_exit)
            self._delayers = {}
            _remove(self._client, self._name)


def _owner_label(owner: Owner) -> str:
    return f"{owner.pid}:{owner.start_ticks}"


def owner_of(label: str) -> Owner | None:
    """The process an owner label names (None for ``none``: kept until down)."""
    pid, _, ticks = label.partition(":")
    return Owner(pid=int(pid), start_ticks=int(ticks)) if ticks else None


def _claim_network(client: Any, owner: str, guard: Callable[[Mapping[str, str]], None] | None
                   ) -> tuple[str, ipaddress.IPv4Network]:
    """Create the cluster's network under a fresh name whose subnet is free, each name
    handed to ``guard`` before its network is created (a name that turns out taken is
    guarded for nothing: removing what does not exist is a no-op)."""
    import docker

    local = os.environ.get("DOCKER_HOST") is None
    taken = [ipaddress.IPv4Network(n, strict=False) for n in (_host.routes() if local else [])]
    for _ in range(64):
        name = "ld" + secrets.token_hex(2)
        subnet = subnet_of(name)
        if any(subnet.overlaps(t) for t in taken) or client.networks.list(names=[name]):
            continue  # a name in use is never guarded: its cluster is another run's
        gateway = str(next(subnet.hosts()))
        if guard is not None:
            guard({"cluster": name})
        try:
            client.networks.create(
                name, driver="bridge", check_duplicate=True,
                ipam=docker.types.IPAMConfig(pool_configs=[
                    docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]),
                options={"com.docker.network.bridge.name": f"{name}-br"},
                labels={CLUSTER_LABEL: name, OWNER_LABEL: owner})
        except docker.errors.APIError as e:
            if "overlap" in str(e) or "already exists" in str(e):
                continue
            raise ControlError(f"docker refused the cluster's network: {e.explanation or e}"
                               ) from None
        if local:
            _host.run(["iptables", "-I", *_forward_rule(name)]).check()
        return name, subnet
    raise ControlError("no free docker cluster name after 64 tries: run `labrys cluster down`")


def _forward_rule(name: str) -> list[str]:
    bridge = f"{name}-br"
    return ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment",
            f"{IPTABLES_COMMENT} {name}", "-j", "ACCEPT"]


def _start_nodes(client: Any, name: str, subnet: ipaddress.IPv4Network, count: int,
                 image: str, owner: str) -> list[DockerNode]:
    api = client.api
    hosts = list(subnet.hosts())
    addresses = {f"n{i}": str(hosts[i]) for i in range(1, count + 1)}
    nodes = []
    for node, address in addresses.items():
        container = f"{name}-{node}"
        api.create_container(
            image, ["sleep", "infinity"], name=container, hostname=node, detach=True,
            labels={CLUSTER_LABEL: name, OWNER_LABEL: owner, NODE_LABEL: node},
            host_config=api.create_host_config(
                init=True, cap_add=["NET_ADMIN"], network_mode=name,
                extra_hosts={n: a for n, a in addresses.items() if n != node}),
            networking_config=api.create_networking_config(
                {name: api.create_endpoint_config(ipv4_address=address)}))
        nodes.append(DockerNode(api=api, container=container, name=node, address=address))
    on_every_node(nodes, lambda node: api.start(node.container))  # a container's start
    return nodes                                                   # is its slow part


def _prepare(node: Node) -> None:
    """No route off the cluster (as a namespace node), and labrys's iptables chains."""
    node.run(["ip", "route", "del", "default"])
    node.run(["iptables-restore", "--noflush"], input=_netfilter.base_layout()).check()


def _remove(client: Any, name: str) -> None:
    """Remove a cluster's containers (and every process in them) and its network."""
    import docker

    label = {"label": f"{CLUSTER_LABEL}={name}"}
    errors = []
    for container in client.containers.list(all=True, filters=label):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            errors.append(f"container {container.name}: {e.explanation or e}")
    for network in client.networks.list(filters=label):
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            errors.append(f"network {network.name}: {e.explanation or e}")
    if os.environ.get("DOCKER_HOST") is None:
        while _host.run(["iptables", "-D", *_forward_rule(name)]).ok:
            pass
    if errors:
        raise ControlError(f"docker cluster {name}: could not remove {'; '.join(errors)}")
    _dockerd.release()


def clusters(client: Any | None = None) -> dict[str, str]:
    """Every labrys docker cluster: name → owner label (none if no daemon runs)."""
    import docker
    import requests

    client = client or _dockerd.connect()
    try:
        networks = [] if client is None else client.networks.list(
            filters={"label": CLUSTER_LABEL})
    except (docker.errors.DockerException, requests.RequestException):
        return {}  # the daemon stopped meanwhile, and its containers with it
    return {n.attrs["Labels"][CLUSTER_LABEL]: n.attrs["Labels"].get(OWNER_LABEL, "none")
            for n in networks}


def remove(name: str) -> None:
    """Remove the cluster ``name`` from its labels alone (the guardian's and `down`'s
    way); nothing if no daemon runs, since containers do not outlive their daemon."""
    client = _dockerd.connect()
    if client is None:
        return
    _remove(client, name)


def down(*, name: str | None = None, everything: bool = False) -> tuple[list[str], list[str]]:
    """Remove docker clusters as `labrys cluster down` does: those made by ``cluster up``
    and those whose owner is gone (or, with ``everything``, all; with ``name``, that one).

    Returns:
        (removed, kept) cluster names.
    """
    client = _dockerd.connect()
    if client is None:
        return [], []
    removed, kept = [], []
    for cluster, owner in sorted(clusters(client).items()):
        if name is not None and cluster != name:
            continue
        alive = (found := owner_of(owner)) is not None and found.alive()
        if name is None and not everything and alive:
            kept.append(cluster)
            continue
        _remove(client, cluster)
        removed.append(cluster)
    # Stray containers (a crash between creating them and labelling the network cannot
    # happen, as the network comes first; but a network removed by hand can).
    strays = {c.labels[CLUSTER_LABEL] for c in client.containers.list(
        all=True, filters={"label": CLUSTER_LABEL})} - set(clusters(client)) - set(kept)
    for cluster in sorted(strays):
        if name is None or cluster == name:
            _remove(client, cluster)
            removed.append(cluster)
    _dockerd.release()
    return removed, kept

