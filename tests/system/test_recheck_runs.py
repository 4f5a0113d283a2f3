"""`labrys check` on what `labrys run` stored gives the run's own verdict.

Two real runs of the register workload against etcd on three namespace nodes, with
partitions: one with linearizable reads (valid), one with serializable reads, which a
member cut off from the leader serves from its own stale copy (invalid). Each is then
checked again, by the `labrys` command, from its ``history.jsonl``, from its run
folder, and from the EDN ``labrys convert`` makes of it, which has no ``test.json``
beside it and is recognised as independent keys. About a minute in all.

Skipped where it cannot run: without root (network namespaces), iptables or etcd.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import RunOutcome, run_test
from tests.system._netns import ETCD, needs_etcd, needs_root

pytestmark = [pytest.mark.slow, *needs_root, needs_etcd]


def record(store: Path, seconds: float, seed: int, **options: str) -> RunOutcome:
    """A register run under partitions that isolate one member every two seconds."""
    spec = TestSpec(nemesis=("partition",), nemesis_interval_s=2.0, topologies=("one",),
                    time_limit_s=seconds, rate=200.0, seed=seed, store=str(store),
                    options={"etcd_binary": ETCD, **options})
    outcome = run_test(spec, console=Console(file=io.StringIO(), width=120),
                       command=["pytest"])
    assert outcome.error is None, outcome.error
    return outcome


def labrys(*args: str) -> tuple[int, dict]:
    """Run the `labrys` command; its exit status and its --json verdict."""
    done = subprocess.run([sys.executable, "-m", "labrys.cli", *args], capture_output=True,
                          text=True, check=False)
    assert done.returncode in (0, 1, 2), done.stderr
    return done.returncode, json.loads(done.stdout)


def linearizable_child(verdict: dict) -> dict:
    return next(c for c in verdict["children"] if c["checker"] == "linearizable")


def without_effort(verdict: dict) -> dict:
    """``verdict`` without ``states_explored``: parts are searched in parallel and stop
    once one is known invalid, so how many states were explored varies between two checks
    of one history while the verdict, its explanation and its anomalies do not."""
    details = {k: v for k, v in verdict.get("details", {}).items() if k != "states_explored"}
    return {**verdict, "details": details,
            "children": [without_effort(c) for c in verdict.get("children", [])]}


def assert_rechecks_give_the_runs_verdict(outcome: RunOutcome, tmp_path: Path) -> None:
    run = outcome.run.path
    stored = json.loads((run / "results.json").read_text())["verdict"]
    assert stored["valid"] == outcome.verdict.valid
    for path in (run / "history.jsonl", run):
        status, verdict = labrys("check", "--json", str(path))
        assert status == outcome.exit_code, path
        # The same checks, so the same verdict, in full but for the search's effort.
        assert without_effort(verdict) == without_effort(stored), path
    edn = tmp_path / f"{run.parent.name}.edn"
    subprocess.run([sys.executable, "-m", "labrys.cli", "convert", str(run / "history.jsonl"),
                    str(edn)], check=True, capture_output=True)
    status, verdict = labrys("check", "--json", str(edn))
    # Without test.json, the EDN is checked for linearizability, key by key: the run's
    # linearizability verdict, naming the same operations by the same indices.
    linear = linearizable_child(stored)
    assert status == outcome.exit_code
    assert verdict["valid"] == stored["valid"] == linear["valid"]
    assert verdict["explanation"] == linear["explanation"]
    assert verdict["anomalies"] == linear["anomalies"]


def test_a_valid_and_an_invalid_run_check_again_as_they_were_judged(tmp_path: Path):
    valid = record(tmp_path / "store", 10, 11, read_mode="linearizable")
    # A client of the cut-off member blocks on each write until its timeout; a short one
    # lets it go on reading, so its stale reads come by the dozen, not by luck.
    invalid = record(tmp_path / "store", 15, 12, read_mode="serializable",
                     client_timeout_s="0.5")
    assert valid.verdict.valid is True, valid.verdict.explanation
    assert invalid.verdict.valid is False, (
        "serializable reads under partitions were expected to show a stale read: "
        + invalid.verdict.explanation)
    # Different options, different folders.
    assert valid.run.path.parent != invalid.run.path.parent
    assert invalid.run.path.parent.name.endswith("read_mode=serializable")
    for outcome in (valid, invalid):
        assert_rechecks_give_the_runs_verdict(outcome, tmp_path)
    # The invalid run's explanation names operations by their index in history.jsonl.
    anomaly = linearizable_child(
        json.loads((invalid.run.path / "results.json").read_text())["verdict"])["anomalies"][0]
    lines = (invalid.run.path / "history.jsonl").read_text().splitlines()
    stuck = json.loads(lines[anomaly["data"]["op"]])
    assert stuck["index"] == anomaly["data"]["op"]
    assert stuck["f"] == "read" and stuck["value"][0] == anomaly["data"]["key"]
