"""What the lazy file system costs: a write-ahead log's pattern, then each database.

First a write-ahead log's pattern: small appends (128 bytes), each followed by
``fdatasync``, from 1 and from 4 threads on their own files, and plain 4 KiB writes
without any sync. Each runs in a child process on a plain directory of this machine's
disk and then on a mounted ``labrys-lazyfs``; the table shows operations per second and
the file system program's CPU time per operation (wall times are disturbed by whatever
else the machine runs; CPU time much less). On the plain disk each fdatasync is a real
flush; on the lazy file system it is a copy into the durable tree, so synced appends can
be faster there, and unsynced writes are slower (one FUSE round trip each).

Then each target as a run drives it: the same workload at full speed (``--rate 0``),
without faults and with its data on lazy disks (``--nemesis lose-unsynced`` with an
interval longer than the run, so the fault never fires), runs interleaved, each pair
repeated; the table gives acknowledged operations per second.

    .venv/bin/python bench/bench_lazyfs.py [operations] [seconds per run] [repeats]

Needs root, /dev/fuse and the program (`make setup` builds it when cargo is installed);
says so and does nothing otherwise.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from labrys.control._lazyfs import lazyfs_program
from labrys.errors import ControlError
from labrys.harness import TestSpec
from labrys.harness._runner import run_test

WRITER = """
import os, sys, threading, time
directory, count, size, threads, sync = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
    int(sys.argv[4]), sys.argv[5] == "sync"
data = b"x" * size
def work(i):
    fd = os.open(os.path.join(directory, f"log{i}"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for _ in range(count):
        os.write(fd, data)
        if sync:
            os.fdatasync(fd)
    os.close(fd)
start = time.perf_counter()
workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(threads * count / (time.perf_counter() - start))
"""

PATTERNS = [
    ("128 B append + fdatasync, 1 thread", 128, 1, True),
    ("128 B append + fdatasync, 4 threads", 128, 4, True),
    ("4 KiB append, no sync, 1 thread", 4096, 1, False),
]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_rate(directory: Path, count: int, size: int, threads: int, sync: bool) -> float:
    argv = [sys.executable, "-c", WRITER, str(directory), str(count), str(size), str(threads),
            "sync" if sync else "nosync"]
    return float(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


TARGETS = [
    ("etcd", "register", {}, "/usr/bin/etcd"),
    ("redis", "set", {"appendfsync": "everysec"}, "/usr/bin/redis-server"),
    ("redis", "set", {"appendfsync": "always"}, "/usr/bin/redis-server"),
    ("postgres", "set", {"sync": "local"}, "/usr/lib/postgresql/15/bin/postgres"),
]


def acknowledged_rate(target: str, workload: str, options: dict[str, str], *, lazy: bool,
                      seconds: float, store: str) -> float:
    """Acknowledged client operations per second of one run at full speed."""
    spec = TestSpec(target=target, workload=workload, options=options, time_limit_s=seconds,
                    rate=0.0, concurrency=10, seed=1, store=store,
                    nemesis=("lose-unsynced",) if lazy else (),
                    nemesis_interval_s=seconds + 1)
    outcome = run_test(spec, console=Console(file=io.StringIO()), command=["bench_lazyfs"])
    if outcome.error is not None:
        raise RuntimeError(outcome.error)
    ok = sum(1 for line in outcome.run.history.read_text().splitlines()
             if '"type":"ok"' in line and '"process":"nemesis"' not in line)
    return ok / seconds


def bench_targets(seconds: float, repeats: int) -> None:
    print(f"\n{'target (workload, options)':44} {'plain ops/s':>12} {'lazyfs ops/s':>13} "
          f"{'ratio':>6}")
    with tempfile.TemporaryDirectory() as store:
        for target, workload, options, binary in TARGETS:
            if not Path(binary).exists():
                print(f"{target}: skipped ({binary} is not installed)")
                continue
            rates: dict[bool, list[float]] = {False: [], True: []}
            for _ in range(repeats):
                for lazy in (False, True):
                    rates[lazy].append(acknowledged_rate(target, workload, options, lazy=lazy,
                                                         seconds=seconds, store=store))
            plain, lazy = statistics.mean(rates[False]), statistics.mean(rates[True])
            name = f"{target} ({workload}, {', '.join(f'{k}={v}' for k, v in options.items())})"
            print(f"{name.replace(', )', ')'):44} {plain:12.0f} {lazy:13.0f} {lazy / plain:6.2f}")


def main(count: int, seconds: float, repeats: int) -> None:
    try:
        program = lazyfs_program()
    except ControlError as e:
        print(f"skipped: {e}")
        return
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        print("skipped: the lazy file system needs root and /dev/fuse")
        return
    print(f"{'pattern':40} {'plain ops/s':>12} {'lazyfs ops/s':>13} {'lazyfs CPU µs/op':>17}")
    for name, size, threads, sync in PATTERNS:
        with tempfile.TemporaryDirectory() as tmp:
            plain, mount = Path(tmp) / "plain", Path(tmp) / "mount"
            plain.mkdir()
            mount.mkdir()
            server = subprocess.Popen([program, "--state", f"{tmp}/state", "--mountpoint",
                                       str(mount)], stdout=subprocess.PIPE, text=True)
            try:
                while json.loads(server.stdout.readline()).get("event") != "mounted":
                    pass
                plain_rate = write_rate(plain, count, size, threads, sync)
                before = cpu_s(server.pid)
                lazy_rate = write_rate(mount, count, size, threads, sync)
                ops = count * threads
                cpu_per_op = (cpu_s(server.pid) - before) / ops * 1e6
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait()
                subprocess.run([program, "--unmount", "--mountpoint", str(mount)],
                               capture_output=True, check=False)
        print(f"{name:40} {plain_rate:12.0f} {lazy_rate:13.0f} {cpu_per_op:17.1f}")
    if shutil.which("iptables") is None:
        print("targets: skipped (iptables is not installed)")
        return
    bench_targets(seconds, repeats)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 5000, float(args[1]) if len(args) > 1 else 15.0,
         int(args[2]) if len(args) > 2 else 2)
