"""The on-disk record of every local cluster, and the names its objects carry.

Clean-up must work after a SIGKILL, so nothing about a cluster may live only in
memory. Two rules make that possible:

1. Every kernel object of a cluster is named after a per-cluster prefix, ``lb`` and
   four hex digits: namespaces ``lb3fa0-n1``, host-side veths ``lb3fa0-n1``, the
   bridge ``lb3fa0-br``, iptables rules commented ``labrys lb3fa0``. Interface names
   are limited to 15 characters, and ``lb3fa0-n253`` fits. Anything named so is
   findable from names alone, with or without a record.
2. The record (``/run/labrys/clusters/<prefix>.json``) is written *before* any object
   is created, with the process that owns the cluster (PID and start time, since
   PIDs wrap). A sweep leaves a cluster alone while its owner lives and removes it
   otherwise, so `labrys cluster down` in one terminal cannot break a test running
   in another, and a half-built cluster of a crashed run is still found.

The record's file is created with ``O_EXCL``, which is how two processes starting a
cluster at the same moment are kept from choosing the same prefix. The prefix also
chooses the subnet, ``10.<byte>.<byte>.0/24`` from its two bytes, so distinct
clusters never share addresses; a prefix whose subnet overlaps a route the machine
already has is skipped.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labrys.errors import ControlError

STATE_DIR = Path("/run/labrys/clusters")
"""Where cluster records live: on tmpfs, so a reboot forgets them with the namespaces."""

BASE_DIR = Path("/tmp/labrys")
"""Where node directories live by default: ``BASE_DIR/<prefix>/<node>``."""

PREFIX_PATTERN = re.compile(r"^(lb[0-9a-f]{4})(?:-|$)")
"""Matches every name a local cluster gives an object (``lb3fa0-n1``, ``lb3fa0``)."""

IPTABLES_COMMENT = "labrys"
"""Every iptables rule on the host is commented ``labrys <prefix>``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Owner:
    """The process a cluster belongs to: PID plus start time, because PIDs wrap.

    Attributes:
        pid: the process ID.
        start_ticks: its start time in clock ticks since boot (/proc/PID/stat field 22).
    """

    pid: int
    start_ticks: int

    @staticmethod
    def current() -> Owner:
        return Owner.of(os.getpid())

    @staticmethod
    def of(pid: int) -> Owner:
        """The process ``pid`` names now (start time 0 if it is already gone)."""
        return Owner(pid=pid, start_ticks=_start_ticks(pid) or 0)

    def alive(self) -> bool:
        """Whether that very process still runs (not merely some process with its PID)."""
        return _start_ticks(self.pid) == self.start_ticks


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeRecord:
    """One node's names and address."""

    name: str
    namespace: str
    veth: str
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterRecord:
    """Everything needed to use or remove a cluster from another process.

    Attributes:
        prefix: the per-cluster prefix of every name.
        subnet: the cluster's /24, e.g. ``10.63.160.0/24``.
        bridge: the bridge's name.
        bridge_address: the control machine's address on the bridge.
        nodes: the nodes, in order.
        directory: the parent of the node directories.
        owner: the process that removes the cluster when it exits, or None for a
            cluster that lives until `labrys cluster down` (one made by `cluster up`).
        created_at: Unix time of creation.
    """

    prefix: str
    subnet: str
    bridge: str
    bridge_address: str
    nodes: tuple[NodeRecord, ...]
    directory: str
    owner: Owner | None
    created_at: float

    @property
    def path(self) -> Path:
        return STATE_DIR / f"{self.prefix}.json"

    @property
    def owned_by_live_process(self) -> bool:
        """Whether a running process will remove this cluster itself."""
        return self.owner is not None and self.owner.alive()

    @property
    def forward_rule(self) -> tuple[str, ...]:
        """The host FORWARD rule that lets bridged traffic through a DROP policy (dockerd's)."""
        return (
            "FORWARD", "-i", self.bridge, "-o", self.bridge,
            "-m", "comment", "--comment", f"{IPTABLES_COMMENT} {self.prefix}",
            "-j", "ACCEPT",
        )  # fmt: skip

    def node_directory(self, name: str) -> Path:
        return Path(self.directory) / name

    def claim(self) -> None:
        """Write the record, failing if the prefix is taken.

        Raises:
            FileExistsError: if another cluster holds the prefix.
        """
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(self.to_json(), f, indent=1)

    def disown(self) -> ClusterRecord:
        """Rewrite the record without an owner, so the cluster outlives its creator."""
        record = dataclasses.replace(self, owner=None)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record.to_json(), indent=1))
        os.replace(temporary, self.path)
        return record

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> ClusterRecord:
        owner = data.get("owner")
        return ClusterRecord(
            prefix=data["prefix"],
            subnet=data["subnet"],
            bridge=data["bridge"],
            bridge_address=data["bridge_address"],
            nodes=tuple(NodeRecord(**n) for n in data["nodes"]),
            directory=data["directory"],
            owner=None if owner is None else Owner(**owner),
            created_at=data["created_at"],
        )


def records() -> list[ClusterRecord]:
    """Every recorded cluster, oldest first; unreadable records are skipped."""
    found = []
    for path in sorted(STATE_DIR.glob("lb*.json")) if STATE_DIR.is_dir() else []:
        try:
            found.append(ClusterRecord.from_json(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda r: r.created_at)


def subnet_of(prefix: str) -> ipaddress.IPv4Network:
    """The /24 a prefix owns: ``lb3fa0`` → ``10.63.160.0/24``."""
    value = int(prefix[2:], 16)
    return ipaddress.IPv4Network(f"10.{value >> 8}.{value & 0xFF}.0/24")


def plan(
    *, prefix: str, node_names: list[str], base_dir: Path, owner: Owner | None
) -> ClusterRecord:
    """The record of a cluster not yet built: its names and addresses, decided up front."""
    subnet = subnet_of(prefix)
    hosts = list(subnet.hosts())
    if len(node_names) > len(hosts) - 1:
        raise ControlError(f"a local cluster holds at most {len(hosts) - 1} nodes")
    return ClusterRecord(
        prefix=prefix,
        subnet=str(subnet),
        bridge=f"{prefix}-br",
        bridge_address=str(hosts[0]),
        nodes=tuple(
            NodeRecord(
                name=name,
                namespace=f"{prefix}-{name}",
                veth=f"{prefix}-{name}",
                address=str(hosts[i + 1]),
            )
            for i, name in enumerate(node_names)
        ),
        directory=str(base_dir / prefix),
        owner=owner,
        created_at=time.time(),
    )


def claim_new(
    *, node_names: list[str], base_dir: Path, owner: Owner | None, taken_networks: list[str]
) -> ClusterRecord:
    """Choose a free prefix, and claim it by writing the cluster's record.

    Args:
        node_names: the nodes' names.
        base_dir: parent of the cluster's directory.
        owner: the owning process, or None for a cluster that outlives its creator.
        taken_networks: the machine's routes; a subnet overlapping one is skipped.

    Raises:
        ControlError: if no free prefix turns up (the machine is full of clusters).
    """
    taken = [ipaddress.IPv4Network(n, strict=False) for n in taken_networks]
    for _ in range(64):
        prefix = "lb" + secrets.token_hex(2)
        subnet = subnet_of(prefix)
        if any(subnet.overlaps(t) for t in taken) or names_in_use(prefix):
            continue
        record = plan(prefix=prefix, node_names=node_names, base_dir=base_dir, owner=owner)
        try:
            record.claim()
        except FileExistsError:
            continue
        return record
    raise ControlError(
        "no free cluster prefix after 64 tries: run `labrys cluster down` to remove old clusters"
    )


def names_in_use(prefix: str) -> bool:
    """Whether any namespace or interface still carries the prefix.

    Namespaces die asynchronously, so a prefix is reused only once all is gone.
    """
    netns = Path("/run/netns")
    links = Path("/sys/class/net")
    return any(
        d.is_dir() and any(p.name.startswith(prefix + "-") for p in d.iterdir())
        for d in (netns, links)
    )
