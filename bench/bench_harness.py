"""How many operations per second the harness itself sustains, with no database.

An in-process no-op client (it acknowledges every call at once; it stands for no
database and exists only to measure the harness) runs the register workload's own
generator (independent keys, a mix of read/write/cas) at concurrency 10, through the
real interpreter: worker threads, timeouts armed, every op written to history.jsonl
on disk as it happens. Jepsen's generator documentation claims over 20,000 ops/s.

Then with the online check beside it (the register workload's, key by key, as ``labrys
run`` runs it by default): its process reads history.jsonl as it grows and judges each
key once its 100 invocations are in. A no-op client's reads all return nil, which the
check rightly finds stale at the first key and stops; so these two rows use an in-memory
register (a dict under a lock: still no database) and give a linearizable history, once
without the check and once with it. They say what the harness keeps of its pace, how
much CPU the check's process took, and how far it got.

Last, the time to detection: the in-memory register's first client starts reading
stale values (the first value each key had) at a given second, at a database-like
rate (1,000 ops/s, ten times a default run's); with ``--stop-on-anomaly``'s wiring,
how long after the first stale read the check found it, and how long after that the
workload had stopped.

    .venv/bin/python bench/bench_harness.py [seconds]
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from labrys.harness import (
    Completion,
    Context,
    Interpreter,
    Invocation,
    clients,
    stagger,
    time_limit,
)
from labrys.harness._online import OnlineMonitor
from labrys.history import JsonlWriter, OpType, read_history
from labrys.workloads import HasOnlineCheck, get_workload


class NoOpClient:
    """Acknowledges every call immediately; measures the harness, not a database."""

    def invoke(self, invocation: Invocation) -> Completion:
        return Completion(type=OpType.OK, value=invocation.value)

    def close(self) -> None:
        pass


class MemoryRegisterClient(NoOpClient):
    """Reads, writes and compare-and-sets of ``[key value]`` on one shared dict: a
    linearizable register without a database, to measure the online check's cost."""

    def __init__(self, registers: dict[object, object], lock: threading.Lock) -> None:
        self.registers = registers
        self.lock = lock

    def invoke(self, invocation: Invocation) -> Completion:
        key, value = invocation.value
        with self.lock:
            if invocation.f == "read":
                return Completion(type=OpType.OK, value=[key, self.registers.get(key)])
            if invocation.f == "write":
                self.registers[key] = value
                return Completion(type=OpType.OK, value=invocation.value)
            if self.registers.get(key) != value[0]:
                return Completion(type=OpType.FAIL, value=invocation.value)
            self.registers[key] = value[1]
            return Completion(type=OpType.OK, value=invocation.value)


class StaleRegisterClient(MemoryRegisterClient):
    """From ``stale_from`` (monotonic seconds) on, reads return the first value each key
    had: a replica that stopped applying writes."""

    def __init__(self, registers: dict[object, object], lock: threading.Lock,
                 first: dict[object, object], stale_from: float) -> None:
        super().__init__(registers, lock)
        self.first, self.stale_from = first, stale_from

    def invoke(self, invocation: Invocation) -> Completion:
        key = invocation.value[0]
        if invocation.f == "read" and time.monotonic() >= self.stale_from:
            with self.lock:
                return Completion(type=OpType.OK, value=[key, self.first.get(key)])
        done = super().invoke(invocation)
        if invocation.f == "write" and done.type is OpType.OK:
            with self.lock:
                self.first.setdefault(key, invocation.value[1])
        return done


def measure_detection(stale_after_s: float, rate: float,
                      limit_s: float = 30.0) -> tuple[float, float, float, float]:
    """(first stale read's time, then found after s, then workload stopped after s, CPU s
    of the check's process), with the first client stale from ``stale_after_s``."""
    entry = get_workload("register")
    workload = entry.make({name: o.default for name, o in entry.options.items()})
    assert isinstance(workload, HasOnlineCheck)
    check = workload.online_check()
    assert check is not None
    registers: dict[object, object] = {}
    first: dict[object, object] = {}
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        with JsonlWriter(path) as writer:
            stale_from = time.monotonic() + 0.5 + stale_after_s  # after the check's start

            def open_client(thread: int) -> MemoryRegisterClient:
                if thread == 0:
                    return StaleRegisterClient(registers, lock, first, stale_from)
                return MemoryRegisterClient(registers, lock)

            generator = stagger(1.0 / rate, workload.generator())
            interp = Interpreter(generator=clients(time_limit(limit_s, generator)),
                                 concurrency=10, open_client=open_client, nemesis=None,
                                 record=writer.write, rng=random.Random(1),
                                 call_timeout_s=5.0)
            with OnlineMonitor(check, history=path, clock_ns=interp.clock_ns,
                               stop_workload=interp.stop) as monitor:
                time.sleep(0.5)
                interp.run()
    online = monitor.summary()
    found = online["first_anomaly"]
    assert found is not None and online["stopped_workload_at_s"] is not None, online
    at_s = found["time_ns"] / 1e9
    return (at_s, found["found_at_s"] - at_s,
            online["stopped_workload_at_s"] - found["found_at_s"], online["cpu_s"])


def measure(seconds: float, concurrency: int, *, memory: bool = False,
            online: bool = False) -> tuple[int, float, float, int, str]:
    """(ops, wall s, CPU s of this process, history bytes, what the online check did).

    ``memory``: the in-memory register client instead of the no-op one; ``online``: with
    the online check beside the run.
    """
    entry = get_workload("register")
    workload = entry.make({name: o.default for name, o in entry.options.items()})
    assert isinstance(workload, HasOnlineCheck)
    check = workload.online_check()
    assert check is not None
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        with JsonlWriter(path) as writer:
            registers: dict[object, object] = {}
            lock = threading.Lock()
            interp = Interpreter(generator=clients(time_limit(seconds, workload.generator())),
                                 concurrency=concurrency,
                                 open_client=lambda t: (MemoryRegisterClient(registers, lock)
                                                        if memory else NoOpClient()),
                                 nemesis=None, record=writer.write, rng=random.Random(1),
                                 call_timeout_s=5.0)
            monitor = (OnlineMonitor(check, history=path, clock_ns=interp.clock_ns)
                       if online else contextlib.nullcontext())
            with monitor:
                time.sleep(0.5 if online else 0.0)  # the check's process has started
                t0, cpu0 = time.perf_counter(), time.process_time()
                summary = interp.run()
                elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                time.sleep(0.5 if online else 0.0)  # let it read the end
        size = path.stat().st_size
        assert len(read_history(path)) == summary.ops  # the file holds every op, well formed
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    did = "-"
    if isinstance(monitor, OnlineMonitor):
        child_cpu = (children.ru_utime + children.ru_stime
                     - children0.ru_utime - children0.ru_stime)
        got = monitor.summary()
        did = f"{child_cpu:.2f} CPU s, read {got['ops']} of {summary.ops} ops, {got['progress']}"
    return summary.ops // 2, elapsed, cpu, size, did


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
    rows = (("interpreter + history on disk", 1, False, False),
            ("interpreter + history on disk", 10, False, False),
            ("in-memory register", 10, True, False),
            ("in-memory register + online", 10, True, True))
    for what, concurrency, memory, online in rows:
        ops, elapsed, cpu, size, did = measure(seconds, concurrency, memory=memory,
                                               online=online)
        print(f"{what:<31} {concurrency:>11} {elapsed:>7.2f} {ops:>8} {ops / elapsed:>7.0f} "
              f"{ops / cpu:>9.0f} {size / 1e6:>10.1f}" + (f"  online: {did}" if online else ""))
    ops, elapsed, cpu = measure_generator(seconds, 10)
    print(f"{'generator alone':<31} {10:>11} {elapsed:>7.2f} {ops:>8} {ops / elapsed:>7.0f} "
          f"{ops / cpu:>9.0f} {'-':>10}")
    print("time to detection (--stop-on-anomaly; one client of 10 stale from 2 s, "
          "1,000 ops/s):")
    for _ in range(3):
        at_s, found_s, stopped_s, check_cpu = measure_detection(2.0, 1000.0)
        print(f"  first stale read at {at_s:.2f} s, found {found_s:.2f} s later, workload "
              f"stopped {stopped_s:.3f} s after that; the check used {check_cpu:.2f} CPU s")


if __name__ == "__main__":
    main()
