"""etcd: a Raft key-value store, one member per node, and a register client over HTTP.

Set-up. Every node runs one member listening on the node's own address (peers on
2380, clients on 2379), with a data directory the node gives it (`Node.data_dir`: on a
lazy disk when the run loses unsynced data), new for every cluster, so every run
starts from an empty store. etcd fsyncs its write-ahead log before it acknowledges a
write, so a power failure should lose nothing acknowledged. The member is a
direct child of labrys (`Node.spawn`), which is what lets a kill be followed by a
clean restart: the old process is reaped before the new one takes the data
directory's lock. A restart after a kill uses ``--initial-cluster-state existing``
and the same data directory, as etcd's operations guide says.

Readiness is ``GET /health`` on every member (``{"health":"true"}`` once the member
has a leader and has applied its entries); ``etcdctl endpoint health`` would do, but
waits on long dial timeouts.

The client speaks etcd's v3 API through its JSON gateway (``/v3/kv/range``,
``/v3/kv/put``, ``/v3/kv/txn``) with httpx. Why not gRPC: the Python ``etcd3``
package no longer works with current protobuf, and the gateway is the same v3 API
(same linearizable and serializable reads, same transactions) with keys and values
in base64, so an HTTP client with per-request timeouts is all a register needs.

Errors decide verdicts, so they are a table (Maelstrom's ``errors.edn`` idea): a
request that never reached etcd (connection refused, connect timeout) certainly did
not happen, ``fail``; a read that failed for any reason changed nothing, ``fail``; a
write or cas that was sent and not answered, or answered with an error, may have been
applied, ``info``. A cas whose comparison was false is a definite ``fail``.

Reads are linearizable by default (etcd's default: the read goes through the
leader's read index). ``--option read_mode=serializable`` makes them serializable:
the member answers from its local state at once, which under a partition is stale,
and the register workload's checker should say so.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from labrys.client import Client, Completion
from labrys.control import Cluster, Node, Process
from labrys.errors import TargetError, UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.options import Option, choice, positive_float
from labrys.targets._daemons import version_output
from labrys.targets._target import TargetEntry, check_kind

CLIENT_PORT = 2379
PEER_PORT = 2380
_START_TIMEOUT_S = 30.0
_STOP_GRACE_S = 1.0
"""How long teardown waits after SIGTERM before SIGKILL. A leader asked to stop tries to
hand leadership over to peers that are stopping too, and can spend seconds at it; the
data directory is discarded anyway, so a short grace only costs the log its last lines."""

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="etcd_binary", default="/usr/bin/etcd", parse=str,
               expected="the path of an etcd executable",
               help="the etcd server to run (default: Debian's etcd-server)"),
        Option(name="read_mode", default="linearizable",
               parse=choice("linearizable", "serializable"),
               expected="linearizable or serializable",
               help="linearizable reads go through the leader; serializable reads are "
                    "local and may be stale"),
        Option(name="client_timeout_s", default=5.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="each request's timeout; past it a write is indeterminate (info)"),
    ]
}


@dataclass(frozen=True, slots=True)
class _Member:
    node: Node
    process: Process


class Etcd:
    """etcd on every node of a cluster (see the module docstring).

    Args:
        binary: the etcd executable.
        read_mode: ``linearizable`` or ``serializable``.
        client_timeout_s: per-request timeout of the clients it opens.
        store_only: etcd is another target's store (Patroni's), standing for machines of
            its own, so its data is never on a lazy disk.
    """

    def __init__(self, *, binary: str, read_mode: str, client_timeout_s: float,
                 store_only: bool = False) -> None:
        self.binary = binary
        self.read_mode = read_mode
        self.client_timeout_s = client_timeout_s
        self.store_only = store_only
        self._cluster: Cluster | None = None
        self._members: dict[str, _Member] = {}
        self._lock = threading.Lock()

    # -- Target ------------------------------------------------------------------------

    def setup(self, cluster: Cluster) -> None:
        self._cluster = cluster
        for node in cluster.nodes:
            self._spawn(node, state="new")
        deadline = time.monotonic() + _START_TIMEOUT_S
        for node in cluster.nodes:
            self._wait_healthy(node, deadline)

    def teardown(self, cluster: Cluster) -> None:
        with self._lock:
            members, self._members = list(self._members.values()), {}
        # SIGTERM to every member first, then wait: stopped one by one, each member
        # would spend its grace period trying to reach peers that are already gone.
        for member in members:
            member.process.signal(signal.SIGTERM)
            member.process.signal(signal.SIGCONT)  # a paused member must see its SIGTERM
        for member in members:
            if member.process.wait(timeout_s=_STOP_GRACE_S) is None:
                member.process.kill()

    # -- capabilities ------------------------------------------------------------------

    def version(self, node: Node) -> str:
        out = version_output(node, [self.binary, "--version"],
                             fix=f"install etcd-server (make setup) or pass --option "
                             f"etcd_binary=PATH (now {self.binary})")
        match = re.search(r"etcd Version:\s*(\S+)", out)
        return match.group(1) if match else out.strip().splitlines()[0] if out.strip() else "?"

    def log_files(self, node: Node) -> list[Path]:
        return [node.directory / "etcd.log"]

    def client_kinds(self) -> tuple[str, ...]:
        return ("register",)

    def open_client(self, kind: str, node: Node) -> Client:
        check_kind("etcd", kind, ("register",))
        return RegisterClient(node=node.name, address=node.address,
                              serializable=self.read_mode == "serializable",
                              timeout_s=self.client_timeout_s)

    def start(self, node: str) -> None:
        """Start the member on ``node`` again with its data, if it is not running."""
        with self._lock:
            member = self._members.get(node)
            if member is not None and member.process.alive:
                return
        self._spawn(self._node(node), state="existing")

    def kill(self, node: str) -> None:
        """SIGKILL the member on ``node`` and reap it, so a restart finds no stale lock."""
        with self._lock:
            member = self._members.pop(node, None)
        if member is not None:
            member.process.kill()

    def pause(self, node: str) -> None:
        """SIGSTOP the member on ``node``."""
        self._signal(node, signal.SIGSTOP)

    def resume(self, node: str) -> None:
        """SIGCONT the member on ``node``."""
        self._signal(node, signal.SIGCONT)

    def primaries(self) -> list[str]:
        """The nodes whose member is the leader, as far as reachable members say.

        Asked of every member with a short timeout; a member cut off from the leader
        may still name an old one, so the answer can hold two nodes mid-election.
        """
        assert self._cluster is not None
        ids: dict[str, int] = {}
        leaders: set[int] = set()
        for node in self._cluster.nodes:
            try:
                status = httpx.post(f"http://{node.address}:{CLIENT_PORT}/v3/maintenance/status",
                                    json={}, timeout=1.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            ids[node.name] = int(status.get("header", {}).get("member_id", 0))
            if status.get("leader"):
                leaders.add(int(status["leader"]))
        return sorted(name for name, member_id in ids.items() if member_id in leaders)

    # -- pieces ------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _data_dir(self, node: Node) -> Path:
        if not self.store_only:
            return node.data_dir("etcd-data")
        # Another target's store stands for machines of its own: a power failure of
        # this node's database does not reach it, so its data stays on a plain disk.
        node.make_dir("etcd-data")
        return node.directory / "etcd-data"

    def _signal(self, node: str, sig: int) -> None:
        with self._lock:
            member = self._members.get(node)
        if member is not None and member.process.alive:
            member.process.signal(sig)

    def _spawn(self, node: Node, *, state: str) -> None:
        assert self._cluster is not None
        peers = ",".join(f"{n.name}=http://{n.address}:{PEER_PORT}" for n in self._cluster.nodes)
        argv = [
            self.binary,
            "--name", node.name,
            "--data-dir", str(self._data_dir(node)),
            "--listen-peer-urls", f"http://{node.address}:{PEER_PORT}",
            "--initial-advertise-peer-urls", f"http://{node.address}:{PEER_PORT}",
            "--listen-client-urls", f"http://{node.address}:{CLIENT_PORT}",
            "--advertise-client-urls", f"http://{node.address}:{CLIENT_PORT}",
            "--initial-cluster", peers,
            "--initial-cluster-state", state,
            "--initial-cluster-token", "labrys",
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]
        try:
            process = node.spawn(argv, log_path=node.directory / "etcd.log")
        except OSError as e:
            raise TargetError(f"cannot start etcd ({self.binary}): {e.strerror}; install "
                              "etcd-server or pass --option etcd_binary=PATH",
                              node=node.name) from None
        with self._lock:
            self._members[node.name] = _Member(node=node, process=process)

    def _wait_healthy(self, node: Node, deadline: float) -> None:
        url = f"http://{node.address}:{CLIENT_PORT}/health"
        log = node.directory / "etcd.log"
        while True:
            with self._lock:
                member = self._members.get(node.name)
            if member is not None and not member.process.alive:
                raise TargetError(f"etcd exited with status {member.process.returncode} "
                                  "while starting", node=node.name, log=log)
            try:
                if httpx.get(url, timeout=1.0).json().get("health") == "true":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TargetError(f"etcd not healthy after {_START_TIMEOUT_S:.0f} s",
                                  node=node.name, log=log)
            time.sleep(0.1)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode()


class RegisterClient:
    """Read, write and cas of ``[key, value]`` over etcd's JSON gateway.

    Keys are ``labrys/<key>``; values are integers stored as their JSON text.
    """

    def __init__(self, *, node: str, address: str, serializable: bool, timeout_s: float):
        self.node = node
        self.serializable = serializable
        self._http = httpx.Client(base_url=f"http://{address}:{CLIENT_PORT}",
                                  timeout=httpx.Timeout(timeout_s, connect=1.0))

    def invoke(self, invocation: Invocation) -> Completion:
        key, value = invocation.value
        path, body = self._request(invocation.f, key, value)
        try:
            response = self._http.post(path, json=body)
            data = response.json()
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            return self._fail(invocation, f"not sent: {type(e).__name__}")
        except (httpx.HTTPError, ValueError) as e:
            return self._unknown(invocation, f"{type(e).__name__}: {e}".rstrip(": "))
        if response.status_code != 200 or "error" in data:
            return self._unknown(invocation, str(data.get("error") or data.get("message")
                                                 or f"HTTP {response.status_code}"))
        return self._result(invocation, key, value, data)

    def close(self) -> None:
        self._http.close()

    def _request(self, f: str, key: Any, value: Any) -> tuple[str, dict[str, Any]]:
        k = _b64(f"labrys/{key}")
        if f == "read":
            return "/v3/kv/range", {"key": k, "serializable": self.serializable}
        if f == "write":
            return "/v3/kv/put", {"key": k, "value": _b64(json.dumps(value))}
        if f == "cas":
            old, new = value
            return "/v3/kv/txn", {
                "compare": [{"key": k, "target": "VALUE", "result": "EQUAL",
                             "value": _b64(json.dumps(old))}],
                "success": [{"requestPut": {"key": k, "value": _b64(json.dumps(new))}}],
            }
        raise UsageError(f"the etcd register client cannot do {f!r}; it does read, write, cas")

    def _result(self, invocation: Invocation, key: Any, value: Any,
                data: Mapping[str, Any]) -> Completion:
        if invocation.f == "read":
            kvs = data.get("kvs") or []
            read = json.loads(_unb64(kvs[0]["value"])) if kvs else None
            return Completion(type=OpType.OK, value=[key, read], node=self.node)
        if invocation.f == "cas" and not data.get("succeeded", False):
            return Completion(type=OpType.FAIL, value=[key, value], error="cas mismatch",
                              node=self.node)
        return Completion(type=OpType.OK, value=[key, value], node=self.node)

    def _fail(self, invocation: Invocation, error: str) -> Completion:
        return Completion(type=OpType.FAIL, value=invocation.value, error=error, node=self.node)

    def _unknown(self, invocation: Invocation, error: str) -> Completion:
        # A read changes nothing, so a read that went wrong is as if it never happened.
        kind = OpType.FAIL if invocation.f == "read" else OpType.INFO
        return Completion(type=kind, value=invocation.value, error=error, node=self.node)


def _make(options: Mapping[str, Any]) -> Etcd:
    return Etcd(binary=options["etcd_binary"], read_mode=options["read_mode"],
                client_timeout_s=options["client_timeout_s"])


ENTRY = TargetEntry(name="etcd", summary="etcd (Raft key-value store), one member per node",
                    options=OPTIONS, make=_make)
