"""Benchmark: the session-guarantee, causal and stats checkers on 10,000 and 100,000 ops.

Histories are simulated Jepsen-style: ``PROCESSES`` worker threads each either invoke a
new op or complete the one they have in flight, against one store that applies an op
when it completes (so every history is linearizable, hence valid for every checker
here, and each checker does all its work). A completion is indeterminate (``info``)
with probability ``--crash``; the write may or may not have been applied, and the
worker carries on as a new process, as Jepsen's do, so the number of sessions grows
with the history: the hard case for vector clocks. Written values are unique.

Three shapes: one register (read, write, cas), Jepsen's independent keys (``[k v]``,
eight keys), and rw-register transactions of one to three micro-ops over eight keys.
Timing covers the check only, in CPU seconds of this process (so that other work on
the machine does not count). The last column compares the growth from 10,000 to
100,000 ops with n log n's (x12.5): a checker at or below it scales no worse than
linear-logarithmically. Each time is the best of ``--repeat`` runs, through
`run_checker` as users get it (with CPython's cyclic collector paused during the check).

Usage:
    .venv/bin/python bench/bench_consistency.py [--sizes 10000,100000] [--seed 1]
        [--repeat 1] [--crash 0.01]
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import time
from typing import Any

from labrys.checkers import CheckOptions, run_checker
from labrys.history import History

PROCESSES = 10
KEYS = 8
CHECKERS = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads",
            "session", "causal", "stats")


class Store:
    """The simulated database: invocations, and completions applied to one state."""

    def __init__(self, shape: str, rng: random.Random) -> None:
        self.shape = shape
        self.rng = rng
        self.state: dict[Any, Any] = {}
        self.next_value = 0

    def fresh(self) -> int:
        self.next_value += 1
        return self.next_value

    def key(self) -> Any:
        return None if self.shape == "register" else self.rng.randrange(KEYS)

    def invoke(self) -> tuple[str, Any]:
        rng = self.rng
        if self.shape == "txn":
            mops = []
            for _ in range(rng.randint(1, 3)):
                k = rng.randrange(KEYS)
                mops.append(["r", k, None] if rng.random() < 0.5 else ["w", k, self.fresh()])
            return "txn", mops
        k = self.key()
        roll = rng.random()
        if roll < 0.5:
            value: Any = None
            f = "read"
        elif roll < 0.85 or self.shape != "register":
            value, f = self.fresh(), "write"
        else:
            value, f = [self.state.get(k), self.fresh()], "cas"
        return f, (value if self.shape == "register" else [k, value])

    def complete(self, f: str, value: Any, *, crash: bool) -> tuple[str, Any]:
        """The completion's type and value; a crashed op may or may not take effect."""
        applies = not crash or self.rng.random() < 0.5
        if f == "txn":
            out = []
            for mop, k, v in value:
                if mop == "w":
                    if applies:
                        self.state[k] = v
                    out.append([mop, k, v])
                else:
                    out.append([mop, k, self.state.get(k)])
            return ("info", value) if crash else ("ok", out)
        k, arg = (None, value) if self.shape == "register" else value
        wrap = (lambda v: v) if self.shape == "register" else (lambda v: [k, v])
        if f == "read":
            return ("info", value) if crash else ("ok", wrap(self.state.get(k)))
        if f == "write":
            if applies:
                self.state[k] = arg
            return ("info" if crash else "ok"), value
        if self.state.get(k) != arg[0]:
            return ("info" if crash else "fail"), value
        if applies:
            self.state[k] = arg[1]
        return ("info" if crash else "ok"), value


def simulate(n_ops: int, shape: str, rng: random.Random, crash: float) -> History:
    store = Store(shape, rng)
    records: list[dict[str, Any]] = []
    process = list(range(PROCESSES))  # each worker's current process
    in_flight: dict[int, tuple[str, Any]] = {}
    while len(records) < n_ops:
        worker = rng.randrange(PROCESSES)
        p = process[worker]
        if worker in in_flight:
            f, v = in_flight.pop(worker)
            crashed = rng.random() < crash
            type_, out = store.complete(f, v, crash=crashed)
            records.append({"process": p, "type": type_, "f": f, "value": out})
            if type_ == "info":
                process[worker] += PROCESSES
        else:
            f, v = store.invoke()
            in_flight[worker] = (f, v)
            records.append({"process": p, "type": "invoke", "f": f, "value": v})
    for worker, (f, v) in sorted(in_flight.items()):
        type_, out = store.complete(f, v, crash=False)
        records.append({"process": process[worker], "type": type_, "f": f, "value": out})
    for i, r in enumerate(records):
        r["time"] = i * 1_000
    return History.from_records((None, r) for r in records)


def timed(name: str, history: History, repeat: int) -> tuple[float, Any]:
    best = math.inf
    verdict = None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        verdict = run_checker(name, history, CheckOptions())
        best = min(best, time.process_time() - start)
    return best, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--crash", type=float, default=0.01)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{PROCESSES} workers, crash probability {args.crash}, seed {args.seed}; "
          f"CPU seconds (best of {args.repeat}), verdict in brackets")
    header = f"{'checker':<22}{'shape':<10}" + "".join(f"{n:>18,}" for n in sizes)
    if len(sizes) == 2:
        header += f"{'growth':>9}{'n log n':>9}"
    print(header)
    for shape in ("register", "kv", "txn"):
        histories = [simulate(n, shape, random.Random(args.seed), args.crash) for n in sizes]
        sessions = []
        for h in histories:
            sessions.append(len({op.process for op in h}))
        for name in CHECKERS:
            row = f"{name:<22}{shape:<10}"
            times = []
            for h in histories:
                seconds, verdict = timed(name, h, args.repeat)
                times.append(seconds)
                row += f"{seconds:>11.3f} [{str(verdict.valid)[:5]:>5}]"
            if len(sizes) == 2:
                growth = times[1] / times[0] if times[0] > 0 else math.inf
                nlogn = sizes[1] * math.log(sizes[1]) / (sizes[0] * math.log(sizes[0]))
                row += f"{growth:>8.1f}x{nlogn:>8.1f}x"
            print(row, flush=True)
        print(f"{'':<22}{shape:<10}" + "".join(f"{s:>12} procs" for s in sessions))


if __name__ == "__main__":
    main()
