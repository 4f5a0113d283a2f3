"""How large the HTML report of a long run is, and how long it takes to write.

A run folder is made with a generated set-workload history of 1,000,000 ops (500,000
operations at 1,000 per second over 10 processes, five partitions, a final read missing
the elements added during one of them, so the page carries one large anomaly), checked
by the real ``set`` checker. `write_run_report` then writes its page
from the folder, as ``labrys report`` does; the same is done for a history the size of
the default ``labrys run`` (about 6,000 operations). The page must stay under 25 MB
for the long one and 2 MB for the default-sized one.

With Debian's chromium and Playwright installed, each page is also opened in headless
Chromium: the time until every plot is drawn (``open ms``) and the CPU time its renderer
spent until then (``cpu ms``, which a machine busy with other work disturbs less).

    .venv/bin/python bench/bench_report.py [operations ...]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from labrys.checkers import CheckOptions, run_checker
from labrys.history import read_history
from labrys.report import write_run_report

PROCESSES = 10
RATE = 1000.0
FAULTS = 5


def _ops(operations: int) -> list[dict]:
    """Adds of 0, 1, 2… spread over the processes, then one final read."""
    ops: list[dict] = []
    dt = 1e9 / RATE
    every = operations / RATE / (FAULTS + 1)
    partition_s = every
    lost_from, lost_to = 2 * every, 2.5 * every
    present = []
    for i in range(operations - 1):
        t = int(i * dt)
        if t / 1e9 >= partition_s and partition_s < FAULTS * every + every / 2:
            start = partition_s
            ops.append({"time": t, "type": "info", "process": "nemesis",
                        "f": "start-partition", "value": "majority"})
            ops.append({"time": t + 1, "type": "info", "process": "nemesis",
                        "f": "start-partition",
                        "value": {"topology": "majority",
                                  "partition": {"n1": ["n2", "n3"], "n2": ["n1"],
                                                "n3": ["n1"]}}})
            ops.append({"time": int((start + every / 2) * 1e9), "type": "info",
                        "process": "nemesis", "f": "stop-partition", "value": None})
            ops.append({"time": int((start + every / 2) * 1e9) + 1, "type": "info",
                        "process": "nemesis", "f": "stop-partition",
                        "value": {"partition": {}}})
            partition_s += every
        p = i % PROCESSES
        ops.append({"time": t, "type": "invoke", "process": p, "f": "add", "value": i,
                    "node": f"n{p % 3 + 1}"})
        ops.append({"time": t + int(dt * 0.6), "type": "ok", "process": p, "f": "add",
                    "value": i, "node": f"n{p % 3 + 1}"})
        if not lost_from <= t / 1e9 < lost_to:
            present.append(i)
    end = int(operations * dt)
    ops.sort(key=lambda o: o["time"])
    ops.append({"time": end, "type": "invoke", "process": 0, "f": "read", "value": None})
    ops.append({"time": end + 1000, "type": "ok", "process": 0, "f": "read", "value": present})
    return ops


def make_run(folder: Path, operations: int) -> tuple[Path, int]:
    """A run folder with a generated history of about ``2 * operations`` ops."""
    run = folder / "bench-set-partition" / "20260101T000000"
    run.mkdir(parents=True)
    with (run / "history.jsonl").open("w") as f:
        for index, op in enumerate(_ops(operations)):
            f.write(json.dumps({"index": index, **op}, separators=(",", ":")) + "\n")
    history = read_history(run / "history.jsonl")
    verdict = run_checker("set", history, CheckOptions())
    (run / "test.json").write_text(json.dumps({
        "spec": {"target": "bench", "nodes": 3, "workload": "set", "nemesis": ["partition"],
                 "concurrency": PROCESSES, "rate": RATE,
                 "options": {}}, "seed": 0, "versions": {"labrys": "bench"}}))
    (run / "results.json").write_text(json.dumps({"valid": verdict.valid,
                                                  "verdict": verdict.to_json()}))
    return run, len(history)


def open_times_ms(page: Path) -> tuple[float, float] | None:
    """Milliseconds until the page has drawn every plot in headless Chromium, and the
    CPU time the page's renderer process spent until then (Chrome's ProcessTime: what
    the page cost, whatever else the machine was doing); the best of three loads."""
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.chromium import CHROMIUM, READY, chromium
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    best: tuple[float, float] | None = None
    with chromium() as browser:
        for _ in range(3):
            tab = browser.context.new_page()
            cdp = browser.context.new_cdp_session(tab)
            cdp.send("Performance.enable")
            tab.goto(page.as_uri())
            tab.wait_for_function(READY, timeout=120_000)
            metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
            times = (tab.evaluate("window.labrysReadyMs"), metrics["ProcessTime"] * 1000)
            tab.close()
            best = times if best is None or times[0] < best[0] else best
    return best


def main(sizes: list[int]) -> None:
    print(f"{'ops':>10} {'anomaly ops':>12} {'page MB':>8} {'write s':>8} {'cpu s':>7} "
          f"{'open ms':>8} {'cpu ms':>8}")
    for operations in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            run, ops = make_run(Path(tmp), operations)
            results = json.loads((run / "results.json").read_text())
            named = sum(len(a["ops"]) for a in results["verdict"]["anomalies"])
            t0, cpu0 = time.perf_counter(), time.process_time()
            page = write_run_report(run)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            opened = open_times_ms(page)
            shown = "       -        -" if opened is None else (
                f"{opened[0]:>8.0f} {opened[1]:>8.0f}")
            print(f"{ops:>10,} {named:>12,} {page.stat().st_size / 1e6:>8.2f} {wall:>8.1f} "
                  f"{cpu:>7.1f} {shown}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [5_700, 500_000])
