"""Benchmark: the linearizable checker on the conformance corpora.

One row per corpus of ``../shared/conformance``: Porcupine's 102 etcd logs (cas-register
from nil), its 6 kv logs checked per key and then whole, and Knossos's 120 cas-register
histories (from 0). Histories are read first and not timed; each check is timed in
wall-clock and in CPU seconds (CPU is steadier on a shared machine; the checker is
single-threaded, so on an idle one they agree). The last column counts verdicts that
match ``expected.tsv``; the whole 50-client kv logs run with a time limit
(``--whole-timeout``) and count as unknown when they reach it.

For comparison, Porcupine (Go) takes about 1.1 s for the etcd logs, 0.3 s for the
50-client kv log per key, and 3.7 to 4.0 s for each 10-client kv log checked whole.

Usage:
    .venv/bin/python bench/bench_linearizable.py [--whole-timeout 10]
"""

from __future__ import annotations

import argparse
import csv
import gc
import time
from pathlib import Path

from labrys.checkers import CheckOptions, run_checker
from labrys.history import History, read_history

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def corpora(whole_timeout_s: float) -> list[tuple[str, list[tuple[str, CheckOptions, bool]]]]:
    """Each corpus: a name and its (path, options, expected verdict) rows."""
    rows = list(csv.DictReader((CONFORMANCE / "expected.tsv").open(encoding="utf-8"),
                               delimiter="\t"))
    lin = [r for r in rows if r["checker"] == "linearizable"]

    def pick(prefix: str, options: CheckOptions) -> list[tuple[str, CheckOptions, bool]]:
        return [(r["path"], options, r["expected_valid"] == "true") for r in lin
                if r["path"].startswith(prefix)]

    whole = [(path, CheckOptions(model="kv", extra={"partition": False},
                                 timeout_s=whole_timeout_s if "c50" in path else None), valid)
             for path, _, valid in pick("porcupine/kv/", CheckOptions(model="kv"))]
    return [
        ("etcd (102 logs)", pick("porcupine/jepsen/", CheckOptions(model="cas-register"))),
        ("kv per key (6 logs)", pick("porcupine/kv/", CheckOptions(model="kv"))),
        ("kv whole (6 logs)", whole),
        ("Knossos cas-register (120)",
         pick("knossos/cas-register/", CheckOptions(model="cas-register", init=0))),
    ]


def bench(rows: list[tuple[str, CheckOptions, bool]]) -> tuple[float, float, int, int, str]:
    """Wall and CPU seconds, matching verdicts, unknowns, and the slowest file."""
    histories: list[tuple[str, History, CheckOptions, bool]] = [
        (path, read_history(CONFORMANCE / path), options, valid) for path, options, valid in rows
    ]
    wall = cpu = 0.0
    matching = unknown = 0
    slowest = ("", 0.0)
    for path, history, options, valid in histories:
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        verdict = run_checker("linearizable", history, options)
        w, c = time.perf_counter() - w0, time.process_time() - c0
        wall += w
        cpu += c
        matching += verdict.valid is valid
        unknown += verdict.valid == "unknown"
        if w > slowest[1]:
            slowest = (f"{Path(path).name} {w:.2f} s", w)
    return wall, cpu, matching, unknown, slowest[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whole-timeout", type=float, default=10.0,
                        help="time limit for each 50-client kv log checked whole (s)")
    args = parser.parse_args()
    if not (CONFORMANCE / "expected.tsv").exists():
        print(f"no conformance data at {CONFORMANCE}; nothing to measure")
        return
    print(f"{'corpus':<28} {'wall s':>8} {'cpu s':>8} {'verdicts':>10} {'unknown':>8}  slowest")
    for name, rows in corpora(args.whole_timeout):
        wall, cpu, matching, unknown, slowest = bench(rows)
        print(f"{name:<28} {wall:>8.2f} {cpu:>8.2f} {f'{matching}/{len(rows)}':>10} "
              f"{unknown:>8}  {slowest}")


if __name__ == "__main__":
    main()
