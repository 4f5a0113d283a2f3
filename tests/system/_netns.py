"""Shared by the namespace system tests: the skip rule, a tiny server, and its clients.

The server runs inside a node: on TCP port 7000 it answers every connection with its
wall-clock time (so clock faults are visible), and on UDP port 7001 it echoes every
datagram (so loss and delay are measurable). The clients run inside other nodes,
through `Node.run`, so the traffic crosses exactly the links the faults act on, and
only between namespaces this test made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrys.control import LocalNode, NodeProcess, leftovers
from labrys.control._lazyfs import lazyfs_program
from labrys.errors import ControlError

missing = [tool for tool in ("ip", "iptables", "iptables-restore") if shutil.which(tool) is None]
needs_root = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}"),
]

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
needs_etcd = pytest.mark.skipif(not Path(ETCD).exists(),
                                reason="etcd is not installed (apt-get install etcd-server)")


def _lazyfs_missing() -> str:
    try:
        lazyfs_program()
    except ControlError as e:
        return str(e)
    return ""


_LAZYFS_MISSING = _lazyfs_missing()
needs_lazyfs = [
    pytest.mark.skipif(not Path("/dev/fuse").exists(), reason="no /dev/fuse (FUSE)"),
    pytest.mark.skipif(bool(_LAZYFS_MISSING), reason=_LAZYFS_MISSING),
]
"""The lazy file system's tests need FUSE and the labrys-lazyfs program (besides root)."""

TCP_PORT = 7000
UDP_PORT = 7001

SERVER = f"""
import socket, threading, time
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", {TCP_PORT})); tcp.listen(64)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("0.0.0.0", {UDP_PORT}))
def echo():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(data, peer)
threading.Thread(target=echo, daemon=True).start()
print("serving", flush=True)
while True:
    conn, _ = tcp.accept()
    conn.sendall(repr(time.time()).encode())
    conn.close()
"""

_ASK_TIME = f"""
import socket, sys
try:
    with socket.create_connection((sys.argv[1], {TCP_PORT}), timeout=float(sys.argv[2])) as s:
        s.settimeout(float(sys.argv[2]))
        print(s.recv(64).decode())
except OSError as e:
    print("unreachable", e)
    sys.exit(1)
"""

_PINGS = f"""
import select, socket, statistics, sys, time
address, count, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
sent, rtts = {{}}, []
def drain(until):
    # Read replies as they come, so none waits in (or overflows) the socket buffer.
    while len(rtts) < count:
        left = until - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return
        data, _ = s.recvfrom(64)
        rtts.append(time.monotonic() - sent[int(data)])
for i in range(count):
    sent[i] = time.monotonic()
    s.sendto(str(i).encode(), (address, {UDP_PORT}))
    drain(sent[i] + gap)
drain(time.monotonic() + 1.0)
print(len(rtts), statistics.median(rtts) * 1000 if rtts else -1)
"""


def start_server(node: LocalNode, *, env: dict[str, str] | None = None) -> NodeProcess:
    """Start the server on `node` and wait until it listens."""
    log_path = node.directory / "server.log"
    seen = log_path.stat().st_size if log_path.exists() else 0
    process = node.spawn([sys.executable, "-c", SERVER], log_path=log_path, env=env)
    deadline = time.monotonic() + 10
    while "serving" not in log_path.read_bytes()[seen:].decode():
        assert process.alive, log_path.read_text()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return process


def server_time(client: LocalNode, server: LocalNode, *, timeout_s: float = 0.5) -> float | None:
    """The server's wall-clock time as `client` gets it, or None if unreachable."""
    result = client.run([sys.executable, "-c", _ASK_TIME, server.address, str(timeout_s)])
    return float(result.stdout) if result.ok else None


def reachable(client: LocalNode, server: LocalNode) -> bool:
    return server_time(client, server) is not None


def pings(client: LocalNode, server: LocalNode, *, count: int, gap_s: float) -> tuple[int, float]:
    """UDP echoes from `client` to `server`: (replies received, median round trip in ms)."""
    result = client.run(
        [sys.executable, "-c", _PINGS, server.address, str(count), str(gap_s)]
    ).check()
    received, median = result.stdout.split()
    return int(received), float(median)


def state(pid: int) -> str | None:
    """A process's state letter (R, S, T, Z…), or None if it no longer exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat[stat.rindex(")") + 2]


def gone(pid: int) -> bool:
    return state(pid) in (None, "Z")


def assert_nothing_left(prefix: str) -> None:
    """No namespace, interface, host rule, process, file or record of `prefix` remains."""
    assert leftovers(prefix) == []
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith(prefix)]
    assert not [
        n
        for n in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else [])
        if n.startswith(prefix)
    ]
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    assert prefix not in rules
