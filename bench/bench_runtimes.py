"""How long it takes to get nodes on each runtime: cluster up and teardown, 3 and 5 nodes.

Needs root. For the docker runtime the images must exist or are built first (the build is
timed and reported apart: it happens once per machine); for the ssh runtime the machines
are sshds in namespace nodes, as in the system tests, so the figure is labrys's own cost
(connecting, starting the agent, checking packages, hosts and firewall) without a network
between machines. Prints a table; asserts nothing. Wall times: on a shared machine, read
them as orders of magnitude.

    python bench/bench_runtimes.py            # every runtime that can run here
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labrys.control import RUNTIMES
from labrys.control._dockerd import daemon
from labrys.control._images import node_image
from labrys.targets import TARGETS
from tests.system._sshd import sshd_machines

SIZES = (3, 5)
ROUNDS = 3


def _time_up(runtime: str, nodes: int, options: dict) -> tuple[float, float]:
    """Median seconds for up and for teardown over ROUNDS rounds."""
    ups, downs = [], []
    for _ in range(ROUNDS):
        began = time.monotonic()
        cluster = RUNTIMES[runtime].up(nodes, options, packages=TARGETS["etcd"].packages)
        ups.append(time.monotonic() - began)
        began = time.monotonic()
        cluster.teardown()
        downs.append(time.monotonic() - began)
    return sorted(ups)[ROUNDS // 2], sorted(downs)[ROUNDS // 2]


def main() -> int:
    if os.geteuid() != 0:
        print("bench_runtimes: needs root (namespaces, dockerd); skipped")
        return 0
    rows = []
    rows += [("local", n, *_time_up("local", n, {"base_dir": Path("/tmp/labrys")}))
             for n in SIZES]
    if shutil.which("dockerd") and shutil.which("debootstrap"):
        client = daemon()
        for name, entry in TARGETS.items():
            began = time.monotonic()
            tag = node_image(client, entry.packages)
            print(f"docker image for {name}: {tag}, {time.monotonic() - began:.1f} s "
                  "(0 if it existed)")
        rows += [("docker", n, *_time_up("docker", n, {"mirror": None})) for n in SIZES]
    if Path("/usr/sbin/sshd").exists():
        with tempfile.TemporaryDirectory() as scratch:
            machines, nodes_file = sshd_machines(max(SIZES), Path(scratch))
            try:
                rows += [("ssh", n, *_time_up("ssh", n, {"nodes_file": nodes_file}))
                         for n in SIZES]
            finally:
                machines.teardown()
    print(f"{'runtime':8} {'nodes':>5} {'up s':>7} {'teardown s':>11}   (median of {ROUNDS})")
    for runtime, nodes, up, down in rows:
        print(f"{runtime:8} {nodes:5d} {up:7.2f} {down:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
