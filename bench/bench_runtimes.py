"""What each runtime costs: cluster up and teardown for 3 and 5 nodes, and a run's throughput.

Needs root. For the docker runtime the images must exist or are built first (the build is
timed and reported apart: it happens once per machine); for the ssh runtime the machines
are sshds in namespace nodes, as in the system tests, so the figure is labrys's own cost
(connecting, starting the agent, checking packages, hosts and firewall) without a network
between machines. The throughput row is a whole `labrys run` on 3 nodes (etcd, the
register workload, no faults, 10 clients unthrottled, THROUGHPUT_S seconds): completed
client operations per second of workload, and the run's wall time from set-up to stored
verdict. Prints tables; asserts nothing. Wall times: on a shared machine, read them as
orders of magnitude.

    python bench/bench_runtimes.py            # every runtime that can run here
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labrys.control import RUNTIMES
from labrys.control._dockerd import daemon
from labrys.control._images import node_image
from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from labrys.history import read_history
from labrys.targets import TARGETS
from tests.system._sshd import sshd_machines

SIZES = (3, 5)
ROUNDS = 3
THROUGHPUT_S = 10.0


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


def _throughput(runtime: str, options: dict) -> tuple[float, float]:
    """Completed client operations per second of workload, and the whole run's seconds."""
    with tempfile.TemporaryDirectory() as store:
        spec = TestSpec(target="etcd", workload="register", nemesis=(),
                        time_limit_s=THROUGHPUT_S, concurrency=10, rate=0.0, seed=1,
                        store=store, runtime=runtime,
                        runtime_options={key: str(value) for key, value in options.items()
                                         if value is not None})
        began = time.monotonic()
        outcome = run_test(spec, console=Console(file=io.StringIO()), command=["bench"])
        elapsed = time.monotonic() - began
        if outcome.error is not None:
            raise SystemExit(f"bench_runtimes: the {runtime} run failed: {outcome.error}")
        done = [op for op in read_history(outcome.run.path / "history.jsonl")
                if op.is_client and op.type.value != "invoke"]
    return len(done) / THROUGHPUT_S, elapsed


def main() -> int:
    if os.geteuid() != 0:
        print("bench_runtimes: needs root (namespaces, dockerd); skipped")
        return 0
    ups, throughputs = [], []

    def measure(runtime: str, options: dict) -> None:
        ups.extend((runtime, n, *_time_up(runtime, n, options)) for n in SIZES)
        throughputs.append((runtime, *_throughput(runtime, options)))

    measure("local", {"base_dir": Path("/tmp/labrys")})
    if shutil.which("dockerd") and shutil.which("debootstrap"):
        client = daemon()
        for name, entry in TARGETS.items():
            began = time.monotonic()
            tag = node_image(client, entry.packages)
            print(f"docker image for {name}: {tag}, {time.monotonic() - began:.1f} s "
                  "(0 if it existed)")
        measure("docker", {"mirror": None})
    if Path("/usr/sbin/sshd").exists():
        with tempfile.TemporaryDirectory() as scratch:
            machines, nodes_file = sshd_machines(max(SIZES), Path(scratch))
            try:
                measure("ssh", {"nodes_file": nodes_file})
            finally:
                machines.teardown()
    print(f"{'runtime':8} {'nodes':>5} {'up s':>7} {'teardown s':>11}   (median of {ROUNDS})")
    for runtime, nodes, up, down in ups:
        print(f"{runtime:8} {nodes:5d} {up:7.2f} {down:11.2f}")
    print(f"\n{'runtime':8} {'ops/s':>7} {'run s':>7}   (etcd register, 3 nodes, 10 clients, "
          f"{THROUGHPUT_S:.0f} s)")
    for runtime, rate, elapsed in throughputs:
        print(f"{runtime:8} {rate:7.0f} {elapsed:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
