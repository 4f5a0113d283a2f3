"""Cassandra end to end: real Cassandra 5.0 nodes in namespaces, real faults, real verdicts.

What Jepsen found in Cassandra, checked again: lightweight transactions stay
linearizable when the network splits; plain QUORUM writes, resolved last-write-wins by
timestamp, lose writes once clocks disagree; a set written at QUORUM and read back at
ALL keeps every acknowledged element. And the thing the clock fault rests on: a node
under libfaketime reports the skewed time in CQL itself, and stamps writes with it.

Each run boots its own three nodes (about 20 s on an idle machine of this kind, a
minute on a busy one), then runs 16 s of workload; the clock test boots one node.
Skipped without root, without Java or without the jars `make setup` fetches.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from rich.console import Console

from labrys.control import LocalCluster, leftovers
from labrys.errors import UsageError
from labrys.harness import TestSpec
from labrys.harness._runner import RunOutcome, run_test
from labrys.history import read_history
from labrys.nemesis import ClockNemesis
from labrys.options import parse_options
from labrys.targets import cassandra
from labrys.targets._cassandra_clients import connect
from labrys.targets._cassandra_config import CQL_PORT
from labrys.targets._cassandra_jars import DEFAULT_VERSION, find_jars
from tests.system._netns import needs_root


def _jars_missing() -> str:
    try:
        find_jars(DEFAULT_VERSION)
    except UsageError as e:
        return str(e)
    return ""


pytestmark = [
    pytest.mark.slow,
    *needs_root,
    pytest.mark.skipif(shutil.which("java") is None,
                       reason="Java is not installed (apt-get install openjdk-17-jre-headless)"),
    pytest.mark.skipif(bool(_jars_missing()), reason=_jars_missing() or "jars present"),
]


def _run(tmp_path: Path, *, workload: str, nemesis: tuple[str, ...], seed: int,
         options: dict[str, str]) -> RunOutcome:
    """16 s of ``workload`` with a fault every 4 s, 6 clients at 100 ops/s."""
    spec = TestSpec(target="cassandra", workload=workload, nemesis=nemesis,
                    nemesis_interval_s=4.0, time_limit_s=16.0, concurrency=6, rate=100.0,
                    seed=seed, store=str(tmp_path), options=options)
    outcome = run_test(spec, console=Console(file=io.StringIO(), width=120),
                       command=["pytest"])
    assert outcome.error is None, outcome.error
    _assert_nothing_left(outcome.run.path)
    return outcome


def _assert_nothing_left(run: Path) -> None:
    """No namespace, link, rule or path of the run's cluster, and no JVM of it."""
    match = re.search(r"nodes up: cluster (lb[0-9a-f]{4})", (run / "labrys.log").read_text())
    assert match, "the run's log names its cluster"
    assert leftovers(match.group(1)) == []
    jvms = subprocess.run(["pgrep", "-f", f"/{match.group(1)}/"], capture_output=True,
                          text=True)
    assert jvms.stdout == ""


def _nemesis_fs(run: Path) -> set[str]:
    return {op.f for op in read_history(run / "history.jsonl") if op.process == "nemesis"}


def test_lightweight_transactions_stay_linearizable_when_the_network_splits(tmp_path):
    outcome = _run(tmp_path, workload="register", nemesis=("partition",), seed=1,
                   options={"lwt": "true"})

    assert outcome.verdict.valid is True, outcome.verdict.explanation
    run = outcome.run.path
    assert {"start-partition", "stop-partition"} <= _nemesis_fs(run)
    stats = json.loads((run / "results.json").read_text())["verdict"]
    assert "linearizable" in json.dumps(stats)
    history = read_history(run / "history.jsonl")
    assert sum(op.f == "cas" and op.type.value == "ok" for op in history) > 10
    # The three nodes came up and formed one ring: each says so in its own log.
    test = json.loads((run / "test.json").read_text())
    assert test["versions"]["target"].startswith(f"{DEFAULT_VERSION} on Java ")
    for node in ("n1", "n2", "n3"):
        log = (run / "nodes" / node / "cassandra.log").read_text()
        assert "Starting listening for CQL clients" in log
        assert "state jump to NORMAL" in log


def test_quorum_writes_without_lwt_lose_to_a_skewed_clock(tmp_path):
    # Seed 24's schedule: a clock bump on one node, its reset, then partitions.
    outcome = _run(tmp_path, workload="register", nemesis=("partition", "clock"), seed=24,
                   options={"lwt": "false", "cas": "false", "write_consistency": "QUORUM",
                            "read_consistency": "QUORUM"})

    assert outcome.verdict.valid is False, outcome.verdict.explanation
    assert outcome.exit_code == 1
    assert {"bump-clock", "start-partition"} <= _nemesis_fs(outcome.run.path)
    kinds = {a.kind for a in outcome.verdict.anomalies}
    assert "nonlinearizable" in kinds
    # The explanation names the stale value and the value the register should have held.
    assert re.search(r"read returned \d+, but the register held \d+",
                     outcome.verdict.explanation), outcome.verdict.explanation


def test_a_quorum_set_read_back_at_all_keeps_every_acknowledged_add(tmp_path):
    outcome = _run(tmp_path, workload="set", nemesis=("partition",), seed=4,
                   options={"write_consistency": "QUORUM", "read_consistency": "ALL"})

    verdict = outcome.verdict
    assert verdict.valid is True, verdict.explanation
    assert not [a for a in verdict.anomalies if a.kind == "lost"]
    assert "holds all" in verdict.explanation
    history = read_history(outcome.run.path / "history.jsonl")
    assert sum(op.f == "add" and op.type.value == "ok" for op in history) > 300


def test_a_skewed_node_reports_its_skewed_time_and_never_stamps_writes_backwards():
    cluster = LocalCluster.up(1)
    target = cassandra.Cassandra(parse_options(cassandra.OPTIONS, {"replication_factor": "1"}))
    session = None
    try:
        target.setup(cluster)
        node = cluster.nodes[0]
        assert "UN " in target.nodetool(node, "status")
        session = connect(node.address, CQL_PORT, timeout_s=10.0)
        session.use_client_timestamp = False  # the coordinator stamps the write

        def clock_s() -> float:
            """The node's wall clock (currentTimestamp()), minus ours."""
            row = session.execute("SELECT toUnixTimestamp(currentTimestamp()) AS t "
                                  "FROM system.local").one()
            return row.t / 1000 - time.time()

        def stamp_s() -> float:
            """The timestamp the node gives a write now, minus our clock."""
            session.execute("UPDATE labrys.registers SET v = 1 WHERE k = 0")
            row = session.execute("SELECT writetime(v) AS w FROM labrys.registers "
                                  "WHERE k = 0").one()
            return row.w / 1e6 - time.time()

        assert abs(clock_s()) < 2.0 and abs(stamp_s()) < 2.0
        clock = ClockNemesis(cluster, target=target, rng=random.Random(1))
        clock.invoke("bump-clock", {"n1": 60_000})
        assert 58.0 < clock_s() < 62.0
        assert 58.0 < stamp_s() < 62.0
        clock.heal()
        assert abs(clock_s()) < 2.0
        # Write timestamps never go backwards on a node (each is at least the last one
        # plus a microsecond), so once it ran ahead it keeps stamping ahead until real
        # time catches up: last write wins for it all that while.
        assert stamp_s() > 55.0
    finally:
        if session is not None:
            session.cluster.shutdown()
        target.teardown(cluster)
        cluster.teardown()
    assert leftovers(cluster.name) == []
