"""Benchmark: labrys beside Porcupine, end to end, file to verdict (issue 17's table).

Every row runs whole processes, as users do, and gives the median of ``--repeat`` runs:
wall seconds, CPU seconds (user + system; steadier than wall on a shared machine) and
peak memory (the largest resident set). Rows:

- Porcupine's 103 etcd logs, and its 6 kv logs checked per key, each set in one process.
- start-up: ``labrys check`` of a 10-op history, and ``import labrys._check`` alone.
- generated cas-register histories (10 processes, 1 % crashed, unique values) of 10k,
  100k and 1M operations; the 1M one again with one stale read near the end; and 20k
  operations on one key from 50 and 100 processes. They are written as Porcupine's etcd
  logs (Jepsen's log lines), so both tools read the very same file.
- list-append, 100,000 transactions checked (in this process: `bench_txn.generate`).
- the harness with a no-op client at concurrency 10, history written (`bench_harness`).

labrys runs twice per row where it matters: as the ``labrys check`` command, and as its
checking path alone (the same `labrys._check.check_files` call without the command
line's own start-up), so the command's start-up cost can be told apart.

Porcupine runs where ``--porcupine PROGRAM`` (or ``$LABRYS_PORCUPINE``) names a program
that reads the files given after ``etcd`` or ``kv`` with Porcupine's own test-suite
parsers and checks them with its ``CheckEvents`` (a 200-line Go ``main`` against
``github.com/anishathalye/porcupine``, built beside the project, never part of it).
Without one, the Porcupine column quotes issue 17's figures, measured on this machine
kind. Rows whose Porcupine run ran out of memory there (100k and more, 100 processes)
run it only with ``--full``. ``--quick`` leaves out the million-operation rows.

Usage:
    .venv/bin/python bench/bench_end_to_end.py [--porcupine PROGRAM] [--repeat 3]
        [--quick] [--full]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CONFORMANCE = BENCH.parent.parent / "shared" / "conformance"

QUOTED = {
    "etcd": "0.87 s", "kv": "0.27 s", "10k": "0.41 s, 210 MB", "100k": "out of memory",
    "1M": "out of memory", "1M invalid": "out of memory", "50 procs": "-",
    "100 procs": "out of memory", "list-append": "Elle: 100-160k txn/s (24 cores)",
    "harness": "Jepsen: > 20k ops/s",
}
"""Issue 17's Porcupine (or other anchor) figures, measured on this machine kind."""

CHECK_PATH = (
    "import sys\n"
    "from pathlib import Path\n"
    "from labrys._check import CheckRequest, check_files, overall_status\n"
    "from labrys.checkers import CheckOptions\n"
    "rs = check_files([Path(p) for p in sys.argv[2:]], CheckRequest("
    "checker='linearizable', options=CheckOptions(model=sys.argv[1])))\n"
    "for r in rs:\n"
    "    v = r.verdict\n"
    "    print(r.path, v.valid if v else r.error, sep='\\t')\n"
    "    if v and v.valid is False and len(rs) == 1:\n"
    "        print(v.anomalies[0].explanation)\n"
    "sys.exit(overall_status(rs))\n"
)
"""What ``labrys check --model M FILES`` does, without its command-line layer."""

PORCUPINE_TIMEOUT_S = 60.0
"""How long a Porcupine run may take before it is stopped (it may run for hours)."""


@dataclass(frozen=True, slots=True)
class Run:
    wall: float
    cpu: float
    peak_mb: float
    status: int
    output: str
    timed_out: bool = False


def run(cmd: Sequence[str], repeat: int, *, timeout_s: float = 300.0) -> Run:
    """The median of ``repeat`` runs of a whole process (output of the last one); a run
    past ``timeout_s`` is killed and reported as such (no more runs are made).

    Python runs as users run it, with its bytecode cache (an environment that turns the
    cache off, as some sandboxes do, makes every start-up compile labrys again).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.perf_counter() - began > timeout_s:
                    p.kill()
                    _, status, usage = os.wait4(p.pid, 0)
                    return Run(timeout_s, usage.ru_utime + usage.ru_stime,
                               usage.ru_maxrss / 1024, -9, "", timed_out=True)
                time.sleep(0.005)
            wall = time.perf_counter() - began
            out.seek(0)
            text = out.read().decode(errors="replace")
        runs.append(Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                        os.waitstatus_to_exitcode(status), text))
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
               statistics.median(r.peak_mb for r in runs), runs[-1].status, runs[-1].output)


# -- generated histories, as Jepsen log lines ----------------------------------------------


def register_log(path: Path, n_ops: int, processes: int, *, crash: float = 0.01,
                 stale_near: int | None = None, seed: int = 1) -> None:
    """A simulated cas-register run (`bench_engines.register_events`: unique values,
    ``crash`` of the ops crashed, optionally one stale read), written as Porcupine's
    etcd logs are, so that Porcupine and labrys read the very same file."""
    sys.path.insert(0, str(BENCH))
    from bench_engines import register_events

    def text(f: str, value: object) -> str:
        if value is None:
            return "nil"
        return f"[{value[0]} {value[1]}]" if f == "cas" else str(value)  # type: ignore[index]

    events = register_events(n_ops, processes, crash, random.Random(seed),
                             stale_near=stale_near)
    with path.open("w", encoding="ascii") as out:
        out.writelines(f"INFO  jepsen.util - {p}\t:{kind}\t:{f}\t{text(f, value)}\n"
                       for p, kind, f, value in events)


# -- the table -------------------------------------------------------------------------------


def row(name: str, ops: str, labrys: str, porcupine: str, ratio: str = "",
        note: str = "") -> None:
    print(f"{name:<34} {ops:>9}  {labrys:<34} {porcupine:<28} {ratio:>6}  {note}", flush=True)


def figure(r: Run) -> str:
    if r.timed_out:
        return f"gave up after {r.wall:.0f} s ({r.peak_mb:.0f} MB)"
    return f"{r.wall:.2f} s ({r.cpu:.2f} cpu), {r.peak_mb:.0f} MB"


def compare(name: str, ops: str, files: list[Path], model: str, porcupine: str | None,
            quoted: str, repeat: int, *, run_porcupine: bool = True,
            command: bool = True) -> None:
    """One row: labrys's checking path, the ``labrys check`` command, and Porcupine."""
    args = [model, *map(str, files)]
    path = run([sys.executable, "-c", CHECK_PATH, *args], repeat)
    verdict = _verdict(path.output)
    theirs = quoted
    ratio = ""
    if porcupine and run_porcupine:
        p = run([porcupine, "etcd" if model == "cas-register" else "kv", *map(str, files)],
                repeat, timeout_s=PORCUPINE_TIMEOUT_S)
        theirs = figure(p)
        ratio = "" if p.timed_out else f"{path.wall / p.wall:.2f}x"
    row(name, ops, figure(path), theirs, ratio, verdict)
    if command:
        labrys = shutil.which("labrys", path=str(Path(sys.executable).parent))
        if labrys:
            c = run([labrys, "check", "--model", model, *map(str, files)], repeat)
            row("  the same as `labrys check`", "", figure(c), "", "",
                f"start-up {max(0.0, c.wall - path.wall):.2f} s more")


def _verdict(output: str) -> str:
    lines = output.strip().splitlines()
    words = [line.split("\t")[-1] for line in lines if "\t" in line]
    if not words:
        return "failed: " + (lines[-1][:100] if lines else "no output")
    counts = {w: words.count(w) for w in sorted(set(words))}
    text = ", ".join(f"{n} {w}" for w, n in counts.items())
    if len(words) == 1 and len(lines) > 1:
        text += ": " + lines[1][:90]
    return text


def startup(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "h.log"
        register_log(small, 5, 2, crash=0.0)
        labrys = shutil.which("labrys", path=str(Path(sys.executable).parent))
        if labrys:
            c = run([labrys, "check", "--model", "cas-register", str(small)], repeat)
            row("start-up: `labrys check` 10 ops", "10", figure(c), "~0", "",
                "goal < 0.15 s wall")
        i = run([sys.executable, "-c", "import labrys._check, labrys.checkers._linearizable"],
                repeat)
        row("  `import labrys._check` + checker", "", figure(i), "", "")
        b = run([sys.executable, "-c", "pass"], repeat)
        row("  python itself", "", figure(b), "", "")


def transactions() -> None:
    sys.path.insert(0, str(BENCH))
    import gc

    from bench_txn import generate

    from labrys.checkers import CheckOptions, run_checker

    history = generate(100_000, 10, 1)
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    verdict = run_checker("list-append", history, CheckOptions())
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    row("list-append, 100k transactions", "100000",
        f"{100_000 / wall:,.0f} txn/s ({100_000 / cpu:,.0f}/cpu s)", QUOTED["list-append"],
        "", f"valid {verdict.valid}")


def harness() -> None:
    sys.path.insert(0, str(BENCH))
    from bench_harness import measure

    ops, elapsed, cpu, _ = measure(5.0, 10)
    row("harness, no-op client, 10 workers", str(ops),
        f"{ops / elapsed:,.0f} ops/s ({ops / cpu:,.0f}/cpu s)", QUOTED["harness"], "",
        "history written")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--porcupine", default=os.environ.get("LABRYS_PORCUPINE"),
                    help="a program checking Porcupine's etcd/kv logs with Porcupine")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="leave out the 1M-op rows")
    ap.add_argument("--full", action="store_true",
                    help="also run Porcupine where it ran out of memory in issue 17")
    args = ap.parse_args(argv)
    porcupine = args.porcupine if args.porcupine and Path(args.porcupine).exists() else None
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians of "
          f"{args.repeat}; Porcupine: {porcupine or 'quoted from issue 17'}")
    row("row", "ops", "labrys (checking path)", "Porcupine", "ratio", "verdicts")
    if CONFORMANCE.exists():
        etcd = sorted((CONFORMANCE / "porcupine/jepsen").glob("*.log"))
        compare(f"etcd logs ({len(etcd)}), one process", "", etcd, "cas-register",
                porcupine, QUOTED["etcd"], args.repeat)
        kv = sorted((CONFORMANCE / "porcupine/kv").glob("*.txt"))
        compare(f"kv logs ({len(kv)}) per key, one process", "", kv, "kv", porcupine,
                QUOTED["kv"], args.repeat)
    else:
        print(f"(no conformance data at {CONFORMANCE}: Porcupine's logs skipped)")
    startup(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        sized = [("10k", 10_000, 10, None, True), ("100k", 100_000, 10, None, args.full)]
        if not args.quick:
            sized += [("1M", 1_000_000, 10, None, args.full),
                      ("1M invalid", 1_000_000, 10, 990_000, args.full)]
        sized += [("50 procs", 20_000, 50, None, True),
                  ("100 procs", 20_000, 100, None, args.full)]
        for name, n, procs, stale, with_porcupine in sized:
            path = Path(tmp) / f"{name.replace(' ', '-')}.log"
            register_log(path, n, procs, stale_near=stale)
            label = {"1M invalid": "1M invalid (a stale read at 990k)",
                     "50 procs": "one key, 50 processes, 20k ops",
                     "100 procs": "one key, 100 processes, 20k ops"}.get(
                         name, f"cas-register {name}, 10 procs")
            big = n >= 1_000_000
            compare(label, str(n), [path], "cas-register", porcupine, QUOTED[name],
                    1 if big else args.repeat, run_porcupine=with_porcupine, command=not big)
            path.unlink()
    transactions()
    harness()
    return 0


if __name__ == "__main__":
    sys.exit(main())
