"""Benchmark: the linearizability engines (python, native, smt) side by side.

Workloads:

- the three corpora of ``../shared/conformance``: Porcupine's 102 etcd logs
  (``cas-register`` from nil), its kv logs (per key, and c10 whole, as Porcupine's
  suite checks them), Knossos's 120 histories (``cas-register`` from 0, multi-register,
  mutex). Porcupine (Go), run on the same files on a machine of this kind, took about
  1.1 s for all etcd logs, 0.3 s for kv c50-ok per key and 3.7-4.0 s for each of kv
  c10-ok and c10-bad whole: the "porcupine" column.
- generated histories growing in length (1k to 1M ops on one key of a cas-register, ten
  processes) and in concurrency (2 to 100 processes, 20k ops, one key), each without
  and with crashed operations (``--crash``, 2% by default). They are simulated against
  a real register with unique written values, so they are linearizable and every
  engine must search to the end.

By default the quick rows only, a couple of minutes: no smt, generated histories up to
100k ops and 10 processes, and the python engine given ``--python-limit`` 10 s and
histories up to 10k ops. ``--full`` adds the long rows (smt on every etcd log, about
four minutes alone; 1M ops; 20 to 100 processes) and gives python 60 s and 100k ops:
``make bench-full``.

A row gives the time to check already-parsed histories (prepare, partition, reduce,
search: what `labrys check` spends after reading the file), the part of it spent in the
engine's search alone, and the peak memory the check added, measured in a forked child
(high-water RSS minus RSS at the start). The
python engine gets ``--python-limit`` seconds per history and is skipped on generated
histories past ``--python-max`` ops; smt runs on the etcd logs only (it is the
cross-check, not the fast path). ``unknown`` means the budget ran out.

With ``--minimize`` it instead runs ``--minimize`` on every invalid linearizability
history of the corpora (Knossos's and Porcupine's) and prints, for each, the operations
before and after, whether 1-minimality was proven within the budget, and the time.

Usage:
    .venv/bin/python bench/bench_engines.py [--full] [--crash 0.02] [--seed 1]
        [--python-limit S] [--python-max OPS]
    .venv/bin/python bench/bench_engines.py --minimize
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labrys.checkers import NOT_GIVEN
from labrys.checkers import _native_engine as engine
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._verdict import Validity, worst
from labrys.checkers._wgl import Budget
from labrys.history import History, Op, OpType, read_history
from labrys.models import Part, Partitionable, call_from_operation, get_model

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _parts(history: History, model_name: str, init: Any, *, whole: bool) -> list[Part]:
    model = get_model(model_name, init)
    calls = model.prepare([c for c in map(call_from_operation, history.operations())
                           if c is not None])
    if not whole and isinstance(model, Partitionable):
        return model.partition(calls)
    return [Part(key=None, calls=calls, model=model)]


Result = tuple[Validity, float]
"""A check's verdict, and the seconds spent in the engine's search alone."""


def _check(histories: Sequence[History], model_name: str, init: Any, *, whole: bool,
           engine_name: str, limit_s: float) -> Result:
    results = []
    searching = 0.0
    for h in histories:
        parts, _ = reduce_parts(_parts(h, model_name, init, whole=whole), sequential=False)
        budget = Budget(deadline=time.monotonic() + limit_s, memory_bytes=16 << 30)
        began = time.perf_counter()
        outcomes = engine.search_parts(parts, sequential=False, budget=budget,
                                       engine=engine_name)
        searching += time.perf_counter() - began
        results.append(worst(o.valid for o in outcomes))
    return worst(results), searching


def _child(conn: Any, job: Callable[[], Result]) -> None:
    start = _rss_kb("VmRSS:")
    began = time.perf_counter()
    verdict, searching = job()
    elapsed = time.perf_counter() - began
    conn.send((verdict, elapsed, searching, max(0, _rss_kb("VmHWM:") - start) / 1024))
    conn.close()


def measure(job: Callable[[], Result]) -> tuple[Validity, float, float, float]:
    """(verdict, seconds, of which searching, peak MB added) of ``job``, in a forked child."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, job))
    p.start()
    child.close()
    result = parent.recv()
    p.join()
    return result


def simulate_register(n_ops: int, processes: int, crash: float, rng: random.Random) -> History:
    """A linearizable cas-register history of about ``n_ops`` operations, from nil.

    Each process invokes, takes effect at a random later event, and completes; written
    values are unique; a crashed operation ends ``info`` (its effect may or may not
    have happened) and its process continues under a new id.
    """
    ops: list[Op] = []
    state: Any = None
    serial = 0
    ids = list(range(processes))
    fresh = processes
    flight: list[list[Any] | None] = [None] * processes  # [f, value, applied, result]
    started = 0
    while started < n_ops or any(flight):
        s = rng.randrange(processes)
        current = flight[s]
        if current is None:
            if started >= n_ops:
                continue
            started += 1
            serial += 1
            r = rng.random()
            if r < 0.5:
                f, value = "read", None
            elif r < 0.8:
                f, value = "write", serial
            else:
                f, value = "cas", [state if rng.random() < 0.7 else -1, serial]
            flight[s] = [f, value, False, None]
            ops.append(Op(index=len(ops), time=len(ops), type=OpType.INVOKE,
                          process=ids[s], f=f, value=value))
        elif not current[2]:
            f, value = current[0], current[1]
            if f == "read":
                current[3] = state
            elif f == "write":
                state = value
            elif state == value[0]:
                state = value[1]
            else:
                current[3] = "fail"
            current[2] = True
        else:
            f, value, _, result = current
            if rng.random() < crash:
                kind, out = OpType.INFO, value
            elif result == "fail":
                kind, out = OpType.FAIL, value
            else:
                kind, out = OpType.OK, result if f == "read" else value
            ops.append(Op(index=len(ops), time=len(ops), type=kind, process=ids[s], f=f,
                          value=out))
            flight[s] = None
            if kind is OpType.INFO:
                ids[s] = fresh
                fresh += 1
    return History(ops)


def _row(label: str, ops: int, engine_name: str,
         result: tuple[Validity, float, float, float] | str, porcupine: str = "") -> None:
    if isinstance(result, str):
        print(f"{label:<38} {ops:>9} {engine_name:>7} {result:>8} {'':>8} {'':>8} {'':>8} "
              f"{porcupine:>9}", flush=True)
        return
    verdict, seconds, searching, mb = result
    print(f"{label:<38} {ops:>9} {engine_name:>7} {str(verdict).lower():>8} {seconds:>8.3f} "
          f"{searching:>8.3f} {mb:>8.1f} {porcupine:>9}", flush=True)


def minimize_corpus() -> int:
    """--minimize on every invalid linearizability history of the corpora."""
    import csv

    from labrys.checkers import CheckOptions
    from labrys.checkers._minimize import minimize

    if not CONFORMANCE.exists():
        print(f"no conformance data at {CONFORMANCE}")
        return 0
    print(f"{'history':<52} {'ops':>5} {'minimal':>7} {'1-minimal':>9} {'time s':>7}")
    total = 0.0
    with (CONFORMANCE / "expected.tsv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["checker"] == "linearizable" and r["expected_valid"] == "false"]
    for row in rows:
        path = row["path"]
        model, init = (("kv", NOT_GIVEN) if "/kv/" in path else ("mutex", NOT_GIVEN)
                       if "mutex" in path else ("cas-register", 0) if "knossos" in path
                       else ("cas-register", NOT_GIVEN))
        history = read_history(CONFORMANCE / path)
        began = time.perf_counter()
        m = minimize(history, CheckOptions(model=model, init=init))
        elapsed = time.perf_counter() - began
        total += elapsed
        size = "-" if m is None else str(len(m.ops))
        proven = "-" if m is None else "yes" if m.one_minimal else "budget"
        print(f"{path:<52} {len(history.operations()):>5} {size:>7} {proven:>9} "
              f"{elapsed:>7.2f}", flush=True)
    print(f"{len(rows)} histories in {total:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true",
                    help="also the long rows: smt, 1M ops, 20-100 processes")
    ap.add_argument("--crash", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python-limit", type=float, default=None,
                    help="seconds per history for python (10; 60 with --full)")
    ap.add_argument("--python-max", type=int, default=None,
                    help="longest generated history python checks (10k; 100k with --full)")
    ap.add_argument("--minimize", action="store_true", help="minimise the invalid corpus")
    args = ap.parse_args(argv)
    if args.minimize:
        return minimize_corpus()
    if args.python_limit is None:
        args.python_limit = 60.0 if args.full else 10.0
    if args.python_max is None:
        args.python_max = 100_000 if args.full else 10_000

    have_native = engine.native_module() is not None
    engines = ["python", "native"] if have_native else ["python"]
    if not have_native:
        print("native core not installed (scripts/build-native.sh): python only")
    if not args.full:
        print("quick rows only; --full (make bench-full) adds smt, 1M ops and 20-100 "
              "processes")
    print(f"{'workload':<38} {'ops':>9} {'engine':>7} {'verdict':>8} {'check s':>8} "
          f"{'search s':>8} {'peak MB':>8} {'porcupine':>9}")

    if CONFORMANCE.exists():
        etcd = [read_history(p) for p in sorted(glob.glob(str(CONFORMANCE /
                                                                "porcupine/jepsen/*.log")))]
        n = sum(len(h.operations()) for h in etcd)
        for e in [*engines, "smt"] if args.full else engines:
            _row(f"porcupine etcd, {len(etcd)} logs", n, e, measure(
                lambda e=e: _check(etcd, "cas-register", NOT_GIVEN, whole=False,
                                   engine_name=e, limit_s=args.python_limit)), "1.1")
        kv = CONFORMANCE / "porcupine/kv"
        for name, whole, target in [("c50-ok", False, "0.3"), ("c50-bad", False, ""),
                                    ("c10-ok", True, "3.7-4.0"), ("c10-bad", True, "3.7-4.0"),
                                    ("c10-ok", False, ""), ("c10-bad", False, "")]:
            h = read_history(kv / f"{name}.txt")
            for e in engines:
                _row(f"kv {name} {'whole' if whole else 'per key'}", len(h.operations()), e,
                     measure(lambda e=e, h=h, whole=whole: _check(
                         [h], "kv", NOT_GIVEN, whole=whole, engine_name=e,
                         limit_s=args.python_limit)), target)
        knossos = sorted(glob.glob(str(CONFORMANCE / "knossos/cas-register/*/*.edn")))
        cas = [read_history(p) for p in knossos]
        multi = [read_history(CONFORMANCE / "knossos/multi-register/good/multi-register.edn")]
        mutex = [read_history(CONFORMANCE / "knossos/mutex/bad/etcd.edn")]
        n = sum(len(h.operations()) for h in cas + multi + mutex)
        for e in engines:
            def knossos_job(e: str = e) -> Result:
                results = [
                    _check(cas, "cas-register", 0, whole=False, engine_name=e,
                           limit_s=args.python_limit),
                    _check(multi, "multi-register", {"x": 0, "y": 0}, whole=False,
                           engine_name=e, limit_s=args.python_limit),
                    _check(mutex, "mutex", NOT_GIVEN, whole=False, engine_name=e,
                           limit_s=args.python_limit)]
                return worst(v for v, _ in results), sum(t for _, t in results)
            _row(f"knossos, {len(cas) + 2} histories", n, e, measure(knossos_job))
    else:
        print(f"(no conformance data at {CONFORMANCE}: corpora skipped)")

    rng = random.Random(args.seed)
    sizes = [1_000, 10_000, 100_000, *([1_000_000] if args.full else [])]
    for crash in (0.0, args.crash):
        for n_ops in sizes:
            h = simulate_register(n_ops, 10, crash, rng)
            for e in engines:
                label = f"length, 10 procs, crash {crash:g}"
                if e == "python" and n_ops > args.python_max:
                    _row(label, n_ops, e, "skipped")
                    continue
                _row(label, n_ops, e, measure(lambda e=e, h=h: _check(
                    [h], "cas-register", NOT_GIVEN, whole=False, engine_name=e,
                    limit_s=args.python_limit)))
            del h
    for crash in (0.0, args.crash):
        for procs in (2, 5, 10, *((20, 50, 100) if args.full else ())):
            h = simulate_register(20_000, procs, crash, rng)
            for e in engines:
                _row(f"concurrency {procs} procs, crash {crash:g}", 20_000, e, measure(
                    lambda e=e, h=h: _check([h], "cas-register", NOT_GIVEN, whole=False,
                                            engine_name=e, limit_s=args.python_limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
