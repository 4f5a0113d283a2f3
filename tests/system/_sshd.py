"""Real sshds in namespace nodes, and a nodes file pointing at them: the ssh runtime's
machines for the system tests, without a second machine.

`sshd_machines` brings up a local cluster (network namespaces), generates a client key
and a host key per node, and starts Debian's ``/usr/sbin/sshd`` in every namespace,
listening on the node's address and accepting that key for root. The nodes file it
writes names the namespaces' addresses, so the ssh runtime reaches them exactly as it
would reach machines: over TCP, through sshd, with paramiko.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from labrys.control import LocalCluster

SSHD = Path("/usr/sbin/sshd")
def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True)


def _wait_listening(address: str, *, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((address, 22), timeout=0.5):
                return
        except OSError:
            assert time.monotonic() < deadline, f"sshd on {address} did not listen"
            time.sleep(0.05)


def sshd_machines(nodes: int, directory: Path) -> tuple[LocalCluster, Path]:
    """A local cluster of ``nodes`` namespaces, each running sshd, and a nodes file
    (``directory/nodes.toml``) that lists them for ``--runtime ssh``."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation
    key = directory / "client_key"
    _keygen(key)
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    cluster = LocalCluster.up(nodes)
    try:
        for node in cluster.nodes:
            host_key = node.directory / "ssh_host_ed25519_key"
            _keygen(host_key)
            config = node.directory / "sshd_config"
            config.write_text(
                f"ListenAddress {node.address}\nHostKey {host_key}\nPidFile none\n"
                f"UsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n"
                f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
                "Subsystem sftp /usr/lib/openssh/sftp-server\n")
            node.spawn([str(SSHD), "-D", "-e", "-f", str(config)],
                       log_path=node.directory / "sshd.log")
        for node in cluster.nodes:
            _wait_listening(node.address)
    except BaseException:
        cluster.teardown()
        raise
    nodes_file = directory / "nodes.toml"
    rows = "".join(f'[[nodes]]\nhost = "{n.address}"\n' for n in cluster.nodes)
    nodes_file.write_text(
        f'[defaults]\nuser = "root"\nkey_file = "{key}"\n'
        f'directory = "{cluster.record.directory}/ssh"\npython = "{sys.executable}"\n\n'
        + rows)
    return cluster, nodes_file
