"""`labrys run` end to end: real etcd on three namespace nodes, partitions and kills.

About 15 s of workload (plus a few seconds of set-up, teardown and checking). Skipped
where it cannot run: without root (network namespaces) or without an etcd binary.
"""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from labrys.control import leftovers
from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from labrys.history import read_history
from tests.system._netns import ETCD, needs_etcd, needs_root

pytestmark = [pytest.mark.slow, *needs_root, needs_etcd]


def _cluster_prefix(run: Path) -> str:
    """The prefix of the cluster the run made, from its log."""
    match = re.search(r"nodes up: cluster (lb[0-9a-f]{4})", (run / "labrys.log").read_text())
    assert match, "the run's log names its cluster"
    return match.group(1)


def _assert_nothing_left(prefix: str) -> None:
    """No namespace, link, rule, process or path of the cluster, and no etcd of it."""
    assert leftovers(prefix) == []
    etcd = subprocess.run(["pgrep", "-f", f"/{prefix}/"], capture_output=True, text=True)
    assert etcd.stdout == ""


def test_a_short_run_against_real_etcd_records_checks_stores_and_cleans_up(tmp_path: Path):
    spec = TestSpec(nemesis=("partition", "kill"), nemesis_interval_s=3.0, time_limit_s=15.0,
                    concurrency=5, rate=100.0, seed=7, store=str(tmp_path),
                    options={"etcd_binary": ETCD, "ops_per_key": "50"})
    out = io.StringIO()
    outcome = run_test(spec, console=Console(file=out, width=120), command=["pytest"])

    assert outcome.error is None, outcome.error
    assert outcome.verdict.valid in (True, False, "unknown")
    assert outcome.exit_code == {True: 0, False: 1, "unknown": 2}[outcome.verdict.valid]

    run = outcome.run.path
    assert run.parent == tmp_path / "etcd-register-partition+kill-etcd_binary=etcd-ops_per_key=50"
    assert (tmp_path / "latest").resolve() == run.resolve()
    for name in ("test.json", "history.jsonl", "results.json", "labrys.log"):
        assert (run / name).stat().st_size > 0, name
    for node in ("n1", "n2", "n3"):
        assert (run / "nodes" / node / "etcd.log").stat().st_size > 0
    test = json.loads((run / "test.json").read_text())
    assert test["seed"] == 7 and test["versions"]["target"].startswith("3.")
    results = json.loads((run / "results.json").read_text())
    assert results["valid"] == outcome.verdict.valid

    history = read_history(run / "history.jsonl")
    oks = [op for op in history if op.is_client and op.type.value == "ok"]
    assert len(oks) > 200
    nemesis_fs = {op.f for op in history if op.process == "nemesis"}
    assert {"start-partition", "kill"} & nemesis_fs
    assert "stop-partition" in nemesis_fs  # the final heal is in the history

    _assert_nothing_left(_cluster_prefix(run))


def test_ctrl_c_stops_the_workload_and_still_heals_checks_stores_and_cleans_up(tmp_path: Path):
    command = [sys.executable, "-c", "import typer; from labrys.harness._cli import run; "
               "typer.run(run)", "--time-limit", "60", "--nemesis", "partition",
               "--nemesis-interval", "2", "--store", str(tmp_path), "--seed", "3",
               "--option", f"etcd_binary={ETCD}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        # Interrupt once the workload has visibly begun: a history with ops in it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            histories = list(tmp_path.glob("*/*/history.jsonl"))
            if histories and histories[0].stat().st_size > 5000:
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, 1, 2), output
    run = (tmp_path / "latest").resolve()
    results = json.loads((run / "results.json").read_text())
    assert results["run"]["interrupted"] == 1
    assert results["run"]["stopped_early"] is True
    assert results["verdict"]["checker"] != "run"  # the workload's checkers ran
    assert len(read_history(run / "history.jsonl")) > 0
    assert "interrupted by Ctrl-C" in output
    assert "Ctrl-C again to skip the checks" in output  # said where the user looks
    _assert_nothing_left(_cluster_prefix(run))
