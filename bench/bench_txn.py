"""Benchmark: the list-append checker on a generated valid history.

Ten clients (``--concurrency``) run list-append transactions against a simulated
strict-serializable store: at each step a random client either invokes a transaction,
has the store apply its pending one atomically (reads see everything applied before),
or completes an applied one. Every transaction takes effect between its invocation and
its completion, so the history is valid under every model, and a correct checker must
say so. Transactions are Elle's defaults scaled up as Jepsen's list-append workload
uses them: 1 to 4 micro-ops, reads or appends, over 10 active keys drawn
exponentially (key i twice as likely as key i + 1), each key retired after 32 appends.

The check runs with the default options (strict-serializable, so realtime edges are
inferred too), timed once after a full garbage collection, twice: on the history in
memory (as the harness checks a run), and from a JSON Lines file (as ``labrys check``
does: the native reader, then the check). The table gives transactions per second of
wall-clock time and of CPU time (the latter is steadier on a shared machine).
``--profile`` prints where the time goes (cProfile, the top functions by own time).

Usage:
    .venv/bin/python bench/bench_txn.py [--txns 100000] [--concurrency 10] [--seed 1]
        [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from labrys.checkers import CheckOptions, run_checker
from labrys.history import History, Op, OpType, read_history, write_jsonl

KEY_COUNT = 10
MAX_WRITES_PER_KEY = 32
MIN_LENGTH, MAX_LENGTH = 1, 4


class TxnSource:
    """Elle's ``wr-txns`` for list-append: random transactions over a pool of keys."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.active = list(range(KEY_COUNT))
        self.next_key = KEY_COUNT
        self.appended: dict[int, int] = {}
        # Key i is twice as likely as key i + 1.
        self.weights = [2.0 ** -i for i in range(KEY_COUNT)]

    def txn(self) -> list[list[Any]]:
        mops = []
        for _ in range(self.rng.randint(MIN_LENGTH, MAX_LENGTH)):
            slot = self.rng.choices(range(KEY_COUNT), self.weights)[0]
            k = self.active[slot]
            if self.rng.random() < 0.5:
                mops.append(["r", k, None])
                continue
            n = self.appended.get(k, 0) + 1
            if n > MAX_WRITES_PER_KEY:
                self.active[slot] = k = self.next_key
                self.next_key += 1
                n = 1
            self.appended[k] = n
            mops.append(["append", k, n])
        return mops


def generate(txns: int, concurrency: int, seed: int) -> History:
    """A valid list-append history of ``txns`` transactions (see module notes)."""
    rng = random.Random(seed)
    source = TxnSource(rng)
    store: dict[int, list[int]] = {}
    ops: list[Op] = []
    pending: dict[int, list[list[Any]]] = {}   # invoked, not yet applied
    applied: dict[int, list[list[Any]]] = {}   # applied, not yet completed
    invoked = 0

    def emit(process: int, type_: OpType, value: list[list[Any]]) -> None:
        ops.append(Op(index=len(ops), time=len(ops) * 1_000_000, type=type_,
                      process=process, f="txn", value=value))

    while invoked < txns or pending or applied:
        p = rng.randrange(concurrency)
        if p in applied:
            emit(p, OpType.OK, applied.pop(p))
        elif p in pending:
            done = []
            for f, k, v in pending.pop(p):
                if f == "append":
                    store.setdefault(k, []).append(v)
                    done.append([f, k, v])
                else:
                    done.append([f, k, list(store.get(k, ()))])
            applied[p] = done
        elif invoked < txns:
            txn = source.txn()
            pending[p] = txn
            invoked += 1
            emit(p, OpType.INVOKE, txn)
    return History(ops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txns", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    history = generate(args.txns, args.concurrency, args.seed)
    generated = time.perf_counter() - t0

    gc.collect()
    profiler = cProfile.Profile() if args.profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    verdict = run_checker("list-append", history, CheckOptions())
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0

    print(f"{'txns':>8} {'ops':>8} {'concurrency':>11} {'generate s':>10} {'from':>7} "
          f"{'check s':>8} {'cpu s':>6} {'txn/s':>8} {'txn/cpu s':>9}  valid")

    def line(source: str, wall: float, cpu: float, valid: object) -> None:
        print(f"{args.txns:>8} {len(history):>8} {args.concurrency:>11} {generated:>10.2f} "
              f"{source:>7} {wall:>8.2f} {cpu:>6.2f} {args.txns / wall:>8.0f} "
              f"{args.txns / cpu:>9.0f}  {valid}")

    line("memory", wall, cpu, verdict.valid)
    if verdict.valid is not True:
        raise SystemExit(f"the generated history should be valid: {verdict.explanation}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        write_jsonl(history, path)
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        verdict = run_checker("list-append", read_history(path), CheckOptions())
        line("file", time.perf_counter() - t0, time.process_time() - c0, verdict.valid)
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())


if __name__ == "__main__":
    main()
