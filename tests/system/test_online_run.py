"""Issue 18's acceptance test: etcd's stale reads found online, and the run stopped there.

etcd with serializable reads serves a read from the member it reaches, from its own
copy: a follower a few milliseconds behind the leader answers stale, and a member cut off
from it answers staler still (and goes on doing so for a moment after it rejoins). One
member is cut off at a time, 5 s in every 10; its clients' writes time out after 1 s
(not 5), so they go on reading through the partition instead of waiting in writes (the
settings that give `test_report_browser` its stale reads; up to three seeds are tried).
With ``--stop-on-anomaly`` the run must stop at the online check's first anomaly,
seconds after the first stale read and long before its time limit, heal, and store the
run whole: the history, an offline verdict that names the same key, and a report that
says why the run ended early (read in Chromium); ``labrys check`` on the stored run
then agrees with it. About 30 s.

Skipped without root (network namespaces), iptables or etcd.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from labrys.history import OpType, read_history
from tests.system._netns import ETCD, needs_etcd, needs_root
from tests.system.test_recheck_runs import labrys

pytestmark = [pytest.mark.slow, *needs_root, needs_etcd]

TIME_LIMIT_S = 30.0
"""Three partitions; the first stale read comes within the first (5 s in), the stop well
before the limit."""

SEEDS = (11, 12, 13)
"""A stale read needs a read served by the cut-off member after a write it missed; under
a loaded machine one run may see none, so up to three seeds are tried (one, usually)."""


def test_serializable_etcd_stops_at_the_first_stale_read_and_the_verdict_names_it(
        tmp_path: Path, browser):
    for seed in SEEDS:
        spec = TestSpec(nemesis=("partition",), topologies=("one",), nemesis_interval_s=5.0,
                        time_limit_s=TIME_LIMIT_S, concurrency=10, rate=150.0, seed=seed,
                        stop_on_anomaly=True, store=str(tmp_path / "results"),
                        options={"etcd_binary": ETCD, "read_mode": "serializable",
                                 "client_timeout_s": "1"})
        out = io.StringIO()
        outcome = run_test(spec, console=Console(file=out, width=200), command=["pytest"])
        assert outcome.error is None, outcome.error
        if outcome.online_stop is not None:
            break
    run = outcome.run.path
    results = json.loads((run / "results.json").read_text())
    online = results["run"]["online"]
    first = online["first_anomaly"]
    assert first is not None, online
    # Stopped by the finding, long before the time limit; nothing invoked after the stop.
    assert results["run"]["stopped_early"] is True
    assert online["stopped_workload_at_s"] >= first["found_at_s"] >= first["at_s"]
    history = read_history(run / "history.jsonl")
    invoked = [op.time for op in history if op.type is OpType.INVOKE and op.is_client]
    assert max(invoked) / 1e9 <= online["stopped_workload_at_s"] < TIME_LIMIT_S
    # The first anomaly is a stale read (by a member cut off, or one a few milliseconds
    # behind the leader: serializable reads are stale on a healthy cluster too).
    stuck = history[first["op"]]
    key = stuck.value[0]
    assert first["label"] == f"key {key}: stale read" and stuck.f == "read"
    # The stored verdict is the offline one, and it names that key.
    assert results["valid"] is False
    linear = next(c for c in results["verdict"]["children"] if c["checker"] == "linearizable")
    assert key in linear["details"]["invalid_keys"]
    assert outcome.online_stop == online["note"]
    assert "first anomaly at" in out.getvalue()
    # The report says why the run ended early, and what the check read and used.
    page = browser.open((run / "report.html").as_uri()).page
    assert page.text_content("#verdict") == "INVALID"
    notes = page.eval_on_selector_all("p.note", "ps => ps.map(p => p.textContent)")
    assert online["note"] in notes
    facts = page.eval_on_selector_all(
        "table.facts tr", "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])")
    assert any(label == "online check" and value.startswith("linearizability, key by key")
               for label, value in facts), facts
    # `labrys check` on the stored run gives the stored verdict, in full.
    assert labrys("check", "--json", str(run)) == (1, results["verdict"])
    print(f"stale read at {first['at_s']:.2f} s, found at {first['found_at_s']:.2f} s, "
          f"workload stopped at {online['stopped_workload_at_s']:.2f} s, last op at "
          f"{history[len(history) - 1].time / 1e9:.2f} s")
