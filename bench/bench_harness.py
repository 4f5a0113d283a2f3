"""How many operations per second the harness itself sustains, with no database.

An in-process no-op client (it acknowledges every call at once; it stands for no
database and exists only to measure the harness) runs the register workload's own
generator (independent keys, a mix of read/write/cas) at concurrency 10, through the
real interpreter: worker threads, timeouts armed, every op written to history.jsonl
on disk as it happens. Jepsen's generator documentation claims over 20,000 ops/s.

    .venv/bin/python bench/bench_harness.py [seconds]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

from labrys.harness import (
    Completion,
    Context,
    Interpreter,
    Invocation,
    clients,
    time_limit,
)
from labrys.history import JsonlWriter, OpType, read_history
from labrys.workloads import get_workload


class NoOpClient:
    """Acknowledges every call immediately; measures the harness, not a database."""

    def invoke(self, invocation: Invocation) -> Completion:
        return Completion(type=OpType.OK, value=invocation.value)

    def close(self) -> None:
        pass


def measure(seconds: float, concurrency: int) -> tuple[int, float, float, int]:
    entry = get_workload("register")
    workload = entry.make({name: o.default for name, o in entry.options.items()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        with JsonlWriter(path, buffered=True) as writer:
            interp = Interpreter(generator=clients(time_limit(seconds, workload.generator())),
                                 concurrency=concurrency, open_client=lambda t: NoOpClient(),
                                 nemesis=None, record=writer.write, flush=writer.flush,
                                 rng=random.Random(1),
                                 call_timeout_s=5.0)
            t0, cpu0 = time.perf_counter(), time.process_time()
            summary = interp.run()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        size = path.stat().st_size
        assert len(read_history(path)) == summary.ops  # the file holds every op, well formed
    return summary.ops // 2, elapsed, cpu, size


def measure_generator(seconds: float, concurrency: int) -> tuple[int, float]:
    """The generator alone, asked in a loop with every thread free: no threads, no disk."""
    entry = get_workload("register")
    workload = entry.make({name: o.default for name, o in entry.options.items()})
    gen = clients(workload.generator())
    ctx = Context.initial(concurrency=concurrency, rng=random.Random(1), nemesis=False)
    ops, t0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            _, gen = gen.op(ctx)
        ops += 1000
    return ops, time.perf_counter() - t0, time.process_time() - cpu0


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(ops/s depends on it; ops per CPU-second much less)")
    print(f"{'what':<31} {'concurrency':>11} {'seconds':>7} {'ops':>8} {'ops/s':>7} "
          f"{'ops/cpu-s':>9} {'history MB':>10}")
    for concurrency in (1, 10):
        ops, elapsed, cpu, size = measure(seconds, concurrency)
        print(f"{'interpreter + history on disk':<31} {concurrency:>11} {elapsed:>7.2f} "
              f"{ops:>8} {ops / elapsed:>7.0f} {ops / cpu:>9.0f} {size / 1e6:>10.1f}")
    ops, elapsed, cpu = measure_generator(seconds, 10)
    print(f"{'generator alone':<31} {10:>11} {elapsed:>7.2f} {ops:>8} {ops / elapsed:>7.0f} "
          f"{ops / cpu:>9.0f} {'-':>10}")


if __name__ == "__main__":
    main()
