"""Benchmark: Jepsen's workload checkers on generated histories of 10,000 and 100,000 ops.

Each workload is simulated with a few concurrent processes: a process either invokes
a new op or completes the one it has in flight, and the simulated database applies an
op when it completes, so histories are realistic in shape and valid. Timing covers the
check only (the history is built first). The last column compares the growth from
10,000 to 100,000 ops with n log n's (x12.5): a checker at or below it scales no worse
than linear-logarithmically. Each time is the best of ``--repeat`` runs, each after a
full garbage collection, through `run_checker` as users get it.

set-full's reads return the whole set, so its input grows with reads × set size; the
generator issues a fixed number of reads (40) so that the history's size, values
included, stays linear in its op count.

Usage:
    .venv/bin/python bench/bench_workload_checkers.py [--sizes 10000,100000] [--seed 1]
        [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers import CheckOptions, run_checker
from labrys.history import History

PROCESSES = 5
SET_FULL_READS = 40


@dataclass(slots=True, kw_only=True)
class Simulation:
    """A toy database and its clients: ``invoke`` picks an op, ``complete`` applies it."""

    invoke: Callable[[random.Random], tuple[str, Any]]
    complete: Callable[[random.Random, str, Any], tuple[str, Any]]
    finish: Callable[[], list[tuple[str, Any, Any]]] = field(default=lambda: [])


def interleave(n_ops: int, rng: random.Random, sim: Simulation) -> History:
    """About ``n_ops`` ops from ``PROCESSES`` concurrent clients, then final ops."""
    records: list[dict[str, Any]] = []
    in_flight: dict[int, tuple[str, Any]] = {}

    def emit(process: int, type_: str, f: str, value: Any) -> None:
        records.append({"process": process, "type": type_, "f": f, "value": value,
                        "time": len(records) * 1_000})

    while len(records) < n_ops:
        p = rng.randrange(PROCESSES)
        if p in in_flight:
            f, v = in_flight.pop(p)
            type_, out = sim.complete(rng, f, v)
            emit(p, type_, f, out)
        else:
            f, v = sim.invoke(rng)
            in_flight[p] = (f, v)
            emit(p, "invoke", f, v)
    for p, (f, v) in sorted(in_flight.items()):
        type_, out = sim.complete(rng, f, v)
        emit(p, type_, f, out)
    for f, invoke_value, ok_value in sim.finish():
        emit(PROCESSES, "invoke", f, invoke_value)
        emit(PROCESSES, "ok", f, ok_value)
    return History.from_records((None, r) for r in records)


def set_sim(n_ops: int, *, full: bool) -> Simulation:
    present: list[int] = []
    counter = iter(range(n_ops))
    read_chance = SET_FULL_READS / n_ops if full else 0.0

    def invoke(rng: random.Random) -> tuple[str, Any]:
        return ("read", None) if rng.random() < read_chance else ("add", next(counter))

    def complete(rng: random.Random, f: str, v: Any) -> tuple[str, Any]:
        if f == "read":
            return "ok", list(present)
        outcome = rng.choices(["ok", "info", "fail"], [90, 5, 5])[0]
        if outcome == "ok" or (outcome == "info" and rng.random() < 0.5):
            present.append(v)
        return outcome, v

    return Simulation(invoke=invoke, complete=complete,
                      finish=lambda: [("read", None, list(present))])


def counter_sim() -> Simulation:
    state = {"value": 0}

    def invoke(rng: random.Random) -> tuple[str, Any]:
        return ("read", None) if rng.random() < 0.5 else ("add", rng.randint(1, 5))

    def complete(rng: random.Random, f: str, v: Any) -> tuple[str, Any]:
        if f == "read":
            return "ok", state["value"]
        outcome = rng.choices(["ok", "info", "fail"], [90, 5, 5])[0]
        if outcome == "ok" or (outcome == "info" and rng.random() < 0.5):
            state["value"] += v
        return outcome, v

    return Simulation(invoke=invoke, complete=complete)


def bank_sim() -> Simulation:
    balances = {a: (100 if a == 0 else 0) for a in range(8)}

    def invoke(rng: random.Random) -> tuple[str, Any]:
        if rng.random() < 0.5:
            return "read", None
        src, dst = rng.sample(range(8), 2)
        return "transfer", {"from": src, "to": dst, "amount": rng.randint(1, 5)}

    def complete(rng: random.Random, f: str, v: Any) -> tuple[str, Any]:
        if f == "read":
            return "ok", dict(balances)
        if balances[v["from"]] < v["amount"]:
            return "fail", v
        balances[v["from"]] -= v["amount"]
        balances[v["to"]] += v["amount"]
        return "ok", v

    return Simulation(invoke=invoke, complete=complete)


def queue_sim(n_ops: int) -> Simulation:
    queue: deque[int] = deque()
    counter = iter(range(n_ops))

    def invoke(rng: random.Random) -> tuple[str, Any]:
        return ("dequeue", None) if rng.random() < 0.45 else ("enqueue", next(counter))

    def complete(rng: random.Random, f: str, v: Any) -> tuple[str, Any]:
        if f == "dequeue":
            return "ok", queue.popleft() if queue else None
        queue.append(v)
        return "ok", v

    return Simulation(invoke=invoke, complete=complete,
                      finish=lambda: [("drain", None, list(queue))])


def unique_ids_sim() -> Simulation:
    ids = iter(range(10**9))
    return Simulation(invoke=lambda rng: ("generate", None),
                      complete=lambda rng, f, v: ("ok", next(ids)))


def long_fork_sim(group_size: int) -> Simulation:
    inserted: set[int] = set()
    state = {"next": 0}

    def invoke(rng: random.Random) -> tuple[str, Any]:
        if state["next"] and rng.random() < 0.5:
            k = rng.randrange(max(0, state["next"] - 10), state["next"])
            start = k - k % group_size
            return "read", [["r", key, None] for key in range(start, start + group_size)]
        state["next"] += 1
        return "write", [["w", state["next"] - 1, 1]]

    def complete(rng: random.Random, f: str, v: Any) -> tuple[str, Any]:
        if f == "write":
            inserted.add(v[0][1])
            return "ok", v
        return "ok", [["r", k, 1 if k in inserted else None] for _, k, _ in v]

    return Simulation(invoke=invoke, complete=complete)


def workloads(n_ops: int) -> dict[str, tuple[Simulation, CheckOptions]]:
    none = CheckOptions()
    return {
        "set": (set_sim(n_ops, full=False), none),
        "set-full": (set_sim(n_ops, full=True), none),
        "counter": (counter_sim(), none),
        "bank": (bank_sim(), none),
        "queue": (queue_sim(n_ops), none),
        "unique-ids": (unique_ids_sim(), none),
        "long-fork": (long_fork_sim(3), CheckOptions(group_size=3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="comma-separated op counts (default: 10000,100000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; best is kept")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = list(workloads(sizes[0]))
    seconds: dict[str, list[float]] = {name: [] for name in names}
    verdicts: dict[str, list[str]] = {name: [] for name in names}
    for n in sizes:
        for name, (sim, options) in workloads(n).items():
            history = interleave(n, random.Random(args.seed), sim)
            best = math.inf
            for _ in range(args.repeat):
                gc.collect()
                started = time.perf_counter()
                verdict = run_checker(name, history, options)
                best = min(best, time.perf_counter() - started)
            seconds[name].append(best)
            verdicts[name].append(str(verdict.valid))
    header = f"{'checker':<11} {'valid':<6}" + "".join(f"{f'{n:,} ops':>14}" for n in sizes)
    if len(sizes) >= 2:
        bound = sizes[-1] * math.log(sizes[-1]) / (sizes[0] * math.log(sizes[0]))
        header += f"{'growth':>9}{f'n log n x{bound:.1f}':>16}"
    print(header)
    print("-" * len(header))
    for name in names:
        line = f"{name:<11} {'/'.join(sorted(set(verdicts[name]))):<6}"
        line += "".join(f"{t:>12.3f} s" for t in seconds[name])
        if len(sizes) >= 2:
            growth = seconds[name][-1] / seconds[name][0]
            line += f"{f'x{growth:.1f}':>9}{'within' if growth <= bound * 1.5 else 'ABOVE':>16}"
        print(line)


if __name__ == "__main__":
    main()
