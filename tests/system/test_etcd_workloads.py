"""etcd as Jepsen tests it: transactions, watches, locks and membership changes, for real.

Each test is one short `labrys run` against three etcd members in namespace nodes
(8-10 s of workload with short client timeouts, a few seconds of set-up, final reads and
checking; the nightly suite runs the same at length): list-append and watch
under partitions and kills must be valid; the lock under pauses must show two holders
at once; register under membership changes must stay linearizable. Skipped without
root or without etcd.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import RunOutcome, run_test
from labrys.history import History, read_history
from tests.system._netns import ETCD, needs_etcd, needs_root

pytestmark = [pytest.mark.slow, *needs_root, needs_etcd]


def run(tmp_path: Path, **spec) -> tuple[RunOutcome, History]:
    options = {"etcd_binary": ETCD, "client_timeout_s": "2", **spec.pop("options", {})}
    outcome = run_test(TestSpec(store=str(tmp_path), concurrency=6, **spec, options=options),
                       console=Console(file=io.StringIO()), command=["pytest"])
    assert outcome.error is None, outcome.error
    return outcome, read_history(outcome.run.history)


def nemesis_results(history: History, f: str) -> list:
    """What each nemesis op ``f`` did (its completion's value)."""
    return [op.value for op in history if op.process == "nemesis" and op.f == f
            and isinstance(op.value, dict)]


def test_list_append_under_partitions_and_kills_is_strict_serializable(tmp_path: Path):
    outcome, history = run(tmp_path, workload="list-append", nemesis=("partition", "kill"),
                           nemesis_interval_s=2.0, time_limit_s=8.0, seed=5)
    assert outcome.verdict.valid is True, outcome.verdict.explanation
    assert "strict-serializable" in outcome.verdict.explanation
    assert nemesis_results(history, "start-partition") and nemesis_results(history, "kill")
    txns = [op for op in history if op.f == "txn" and op.type.value == "ok"]
    assert len(txns) > 100
    assert any(mop[0] == "r" and mop[2] for op in txns for mop in op.value)  # lists were read


def test_watches_under_partitions_and_kills_see_one_gap_free_order(tmp_path: Path):
    outcome, history = run(tmp_path, workload="watch", nemesis=("partition", "kill"),
                           nemesis_interval_s=2.0, time_limit_s=8.0, seed=25,
                           options={"writers": "2", "final_wait_s": "1"})
    verdict = outcome.verdict
    assert verdict.valid is True, verdict.explanation
    assert verdict.details["events"] > 300
    # Every watcher caught up at the end, so each saw every acknowledged write.
    assert verdict.details["final-watchers"] == 4, verdict.details
    assert verdict.details["final-watchers-caught-up"] == 4, verdict.details
    assert nemesis_results(history, "kill")
    resumed = [op for op in history if op.f == "watch" and op.type.value == "ok"
               and op.value["from"] > 1]
    assert resumed, "watchers resumed from the revision after the last they saw"


def test_the_lock_under_pauses_has_two_holders_at_once(tmp_path: Path):
    # Lease TTL 2 s, every member frozen for 2.5 s, twice: on resume the leader finds
    # the holder's lease past its TTL and revokes it, unless the holder's keep-alive
    # gets in first, so a waiter is granted the lock while the holder still believes
    # it holds it. Measured: overlapping holders in 6 of 7 runs of 10 s (seeds 1-7)
    # and in every 30 s nightly run (README, etcd's workloads), so up to three runs.
    tried = []
    for seed in (7, 8, 9):
        outcome, history = run(tmp_path / str(seed), workload="lock", nemesis=("pause",),
                               fault_targets=("all",), nemesis_interval_s=2.5,
                               time_limit_s=10.0, seed=seed,
                               options={"final_wait_s": "1", "client_timeout_s": "4"})
        verdict = outcome.verdict
        tried.append((seed, verdict.details))
        if verdict.valid is False:
            break
    assert {a.kind for a in verdict.anomalies} >= {"overlapping-holders"}, (
        f"no overlapping holders in {len(tried)} runs of 10 s, all members paused for "
        f"2.5 s every 5 s: {tried}")
    assert verdict.details["overlapping-pairs"] > 0
    assert "The lock did not give mutual exclusion" in verdict.explanation
    assert all(p["paused"] == ["n1", "n2", "n3"] for p in nemesis_results(history, "pause"))
    assert nemesis_results(history, "pause")


def test_membership_changes_under_load_keep_the_register_linearizable(tmp_path: Path):
    outcome, history = run(tmp_path, workload="register", nemesis=("member",),
                           nemesis_interval_s=2.0, time_limit_s=8.0, seed=8,
                           options={"ops_per_key": "40"})
    assert outcome.verdict.valid is True, outcome.verdict.explanation
    removed = [n for v in nemesis_results(history, "remove-member") for n in v["removed"]]
    added = [n for v in nemesis_results(history, "add-member") for n in v["added"]]
    assert removed and sorted(removed) == sorted(added), (removed, added)
    # The nodes came back as new members: their data directories were emptied, so the
    # member IDs in their logs changed.
    logs = {n: (outcome.run.path / "nodes" / n / "etcd.log").read_text() for n in set(removed)}
    for node, log in logs.items():
        ids = {json.loads(line).get("local-member-id") for line in log.splitlines()
               if line.startswith("{") and "local-member-id" in line}
        assert len(ids - {None}) >= 2, f"{node} rejoined with the same member ID"
