"""Patroni managing PostgreSQL, with etcd as its store: ``--option ha=patroni``.

The claim: Patroni keeps one leader at a time by holding a leader key with a TTL in
a consistent store; a leader that cannot renew the key within ``retry_timeout``
demotes itself, and the others promote the most up-to-date standby once the key
expires (``ttl``). With asynchronous replication, what a cut-off leader acknowledged
before demoting itself and did not ship is gone when it rejoins (``pg_rewind``);
labrys measures that rather than assumes it.

Set-up: the etcd target (`labrys.targets.etcd`) runs a member on every node; Patroni
(Debian's 3.0) runs on every node as the ``postgres`` user, a direct child of labrys,
configured by a YAML file in the node's folder: the ``etcd3`` store on every node,
``ttl`` 10 s, ``loop_wait`` 2 s, ``retry_timeout`` 4 s (Patroni wants
``loop_wait + 2·retry_timeout <= ttl``), ``use_pg_rewind``, the same PostgreSQL
settings as without Patroni, and with ``sync`` on or remote_apply Patroni's
``synchronous_mode`` with every standby synchronous. Patroni bootstraps the cluster:
one node wins the initialize key and runs initdb, the others clone it.

Processes. Patroni starts the postmaster in a session of its own (so that restarting
Patroni leaves PostgreSQL running), so killing Patroni's process group does not kill
PostgreSQL, and the postmaster is not a process labrys spawned. A kill therefore kills
Patroni, then the postmaster's whole process group named by ``postmaster.pid`` (after
checking, in ``/proc`` on the node, that the PID still runs our data directory: PIDs
wrap), with ``kill`` run on the node, and waits until it is gone; a start removes a
``postmaster.pid`` whose process is gone and starts Patroni, which starts PostgreSQL as
a standby or leader as the store says. Pause freezes both.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from labrys.control import Cluster, Node, Process
from labrys.targets._daemons import start_error, wait_until
from labrys.targets._postgres_server import WAITS_FOR_STANDBYS, PgServers
from labrys.targets.etcd import CLIENT_PORT as ETCD_PORT
from labrys.targets.etcd import Etcd

REST_PORT = 8008
SCOPE = "labrys"
TTL_S = 10
LOOP_WAIT_S = 2
RETRY_TIMEOUT_S = 4
_START_TIMEOUT_S = 90.0


class Patroni:
    """Patroni and etcd on every node, running PostgreSQL as ``pg`` says (see the module
    docstring)."""

    def __init__(self, pg: PgServers) -> None:
        self.pg = pg
        self.etcd = Etcd(binary="/usr/bin/etcd", read_mode="linearizable", client_timeout_s=5.0,
                         store_only=True)
        self._cluster: Cluster | None = None
        self._agents: dict[str, Process] = {}
        self._lock = threading.Lock()

    def setup(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self.etcd.setup(cluster)
        for node in cluster.nodes:
            node.write_file(self.pg.pg_dir(node) / "patroni.yml", self._config(node))
            self._spawn(node)
        self._wait_cluster()
        leader = self._node(self.primaries()[0])
        self.pg.create_schema(leader)

    def teardown(self) -> None:
        with self._lock:
            agents, self._agents = list(self._agents.items()), {}
        for _, process in agents:
            # SIGINT: Patroni stops PostgreSQL (fast) and exits.
            process.signal(signal.SIGCONT)
            process.signal(signal.SIGINT)
        for name, process in agents:
            if process.wait(timeout_s=15.0) is None:
                process.kill()
            self._kill_postmaster(self._node(name))
        assert self._cluster is not None
        self.etcd.teardown(self._cluster)

    def log_files(self, node: Node) -> list[Path]:
        return self.etcd.log_files(node)

    def start(self, node: str) -> None:
        with self._lock:
            process = self._agents.get(node)
        if process is not None and process.alive:
            return
        self._spawn(self._node(node))

    def kill(self, node: str) -> None:
        with self._lock:
            process = self._agents.pop(node, None)
        if process is not None:
            process.kill()
        self._kill_postmaster(self._node(node))

    def signal_postgres(self, node: str, sig: int) -> None:
        with self._lock:
            process = self._agents.get(node)
        if process is not None and process.alive:
            process.signal(sig)
        self._signal_postmaster(self._node(node), sig)

    def primaries(self) -> list[str]:
        """Nodes whose Patroni says it is the leader (role master/primary)."""
        assert self._cluster is not None
        out = []
        for node in self._cluster.nodes:
            try:
                status = httpx.get(f"http://{node.address}:{REST_PORT}/patroni",
                                   timeout=1.0).json()
            except (httpx.HTTPError, ValueError):
                continue
            if status.get("role") in ("master", "primary") and status.get("state") == "running":
                out.append(node.name)
        return out

    # -- pieces ------------------------------------------------------------------------

    def _node(self, name: str) -> Node:
        assert self._cluster is not None
        return self._cluster.node(name)

    def _config(self, node: Node) -> str:
        assert self._cluster is not None
        pg = self.pg
        shared = pg.shared_settings(self._cluster.nodes)
        shared.pop("synchronous_standby_names")  # Patroni's to manage
        # Paths are this node's: they go in its local parameters, not in the store's
        # (bootstrap) ones, which every node would share.
        local = {"logging_collector": "on", "log_directory": str(pg.pg_dir(node)),
                 "log_filename": "postgres.log",
                 "unix_socket_directories": str(pg.socket_dir(node))}
        sync = pg.sync in WAITS_FOR_STANDBYS
        n_standbys = len(self._cluster.nodes) - 1
        hosts = ",".join(f"{n.address}:{ETCD_PORT}" for n in self._cluster.nodes)
        params = "".join(f"        {k}: '{v}'\n" for k, v in shared.items())
        local_params = "".join(f"    {k}: '{v}'\n" for k, v in local.items())
        address = node.address
        return f"""scope: {SCOPE}
name: {node.name}
log:
  level: INFO
restapi:
  listen: {address}:{REST_PORT}
  connect_address: {address}:{REST_PORT}
etcd3:
  hosts: {hosts}
bootstrap:
  dcs:
    ttl: {TTL_S}
    loop_wait: {LOOP_WAIT_S}
    retry_timeout: {RETRY_TIMEOUT_S}
    maximum_lag_on_failover: 1048576
    synchronous_mode: {'true' if sync else 'false'}
    synchronous_node_count: {max(1, n_standbys)}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
{params}  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - host all all 0.0.0.0/0 trust
    - host replication all 0.0.0.0/0 trust
postgresql:
  listen: {address}:5432
  connect_address: {address}:5432
  data_dir: {pg.data_dir(node)}
  bin_dir: {pg.bin}
  pgpass: {pg.pg_dir(node) / 'pgpass'}
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
    rewind:
      username: postgres
  parameters:
{local_params}  pg_hba:
    - host all all 0.0.0.0/0 trust
    - host replication all 0.0.0.0/0 trust
"""

    def _spawn(self, node: Node) -> None:
        if self._postmaster_group(node) is None:
            # Gone (we killed it and waited): its pid file is stale.
            node.remove(self.pg.data_dir(node) / "postmaster.pid")
        log = self.pg.pg_dir(node) / "patroni.log"
        argv = self.pg.as_postgres(["patroni", str(self.pg.pg_dir(node) / "patroni.yml")])
        try:
            process = node.spawn(argv, log_path=log)
        except OSError as e:
            raise start_error(f"cannot start patroni: {e.strerror}; install patroni "
                              "(make setup)", node=node, log=log) from None
        with self._lock:
            self._agents[node.name] = process

    def _postmaster_group(self, node: Node) -> int | None:
        """The process group of the live postmaster of this node's data directory, if any.

        The PID comes from ``postmaster.pid`` and is trusted only if that process's
        command line, read on the node, names this data directory, since PIDs wrap.
        """
        data = self.pg.data_dir(node)
        try:
            pid = int(node.read_file(data / "postmaster.pid").split()[0])
            cmdline = node.read_file(Path(f"/proc/{pid}/cmdline")).decode(errors="replace")
            stat = node.read_file(Path(f"/proc/{pid}/stat")).decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return None
        if str(data) not in cmdline:
            return None
        # /proc/PID/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces.
        return int(stat[stat.rindex(")") + 2:].split()[2])

    def _signal_postmaster(self, node: Node, sig: int) -> None:
        group = self._postmaster_group(node)
        if group is not None:
            # Run on the node: the postmaster is Patroni's child, not a Process of ours.
            node.run(["kill", "-s", signal.Signals(sig).name.removeprefix("SIG"), "--",
                      f"-{group}"])

    def _kill_postmaster(self, node: Node) -> None:
        self._signal_postmaster(node, signal.SIGKILL)
        # Init reaps it (it is not our child); wait until it is really gone.
        deadline = time.monotonic() + 10.0
        while self._postmaster_group(node) is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _wait_cluster(self) -> None:
        assert self._cluster is not None
        nodes = self._cluster.nodes
        first = nodes[0]

        def ready() -> bool:
            try:
                members = httpx.get(f"http://{first.address}:{REST_PORT}/cluster",
                                    timeout=1.0).json().get("members", [])
            except (httpx.HTTPError, ValueError):
                return False
            leaders = [m for m in members if m.get("role") in ("leader", "master", "primary")]
            running = [m for m in members if m.get("state") in ("running", "streaming")]
            return len(leaders) == 1 and len(running) == len(nodes)

        wait_until(ready, timeout_s=_START_TIMEOUT_S,
                   what="the Patroni cluster did not form (one leader, every member running)",
                   node=first, log=self.pg.pg_dir(first) / "patroni.log", poll_s=0.5)
        for node in nodes:
            self.pg.wait_accepting(node, self.pg.pg_dir(node) / "postgres.log")
