"""PostgreSQL end to end: async replicas serve stale reads (on every runtime);
serializable keeps the bank.

Each run is about 10 s of workload plus 5 s of set-up (initdb, two base backups).
Skipped without root or without PostgreSQL 15.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from tests.system._runtimes import CLUSTER_NAME, RuntimeCase

PG_BIN = Path("/usr/lib/postgresql/15/bin")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed"),
    pytest.mark.skipif(not (PG_BIN / "postgres").exists(),
                       reason="PostgreSQL 15 is not installed (apt-get install postgresql-15)"),
]


def _run(tmp_path: Path, workload: str, *, runtime: RuntimeCase | None = None,
         **options: str):
    spec = TestSpec(target="postgres", workload=workload, nemesis=(), time_limit_s=8.0,
                    concurrency=6, rate=300.0, seed=5, store=str(tmp_path), options=options,
                    runtime=runtime.name if runtime else "local",
                    runtime_options=runtime.options if runtime else {})
    return run_test(spec, console=Console(file=io.StringIO()), command=["pytest"])


def test_reads_from_async_replicas_are_stale(tmp_path: Path, runtime: RuntimeCase):
    outcome = _run(tmp_path, "register", runtime=runtime, read_from="replica", sync="off")

    assert outcome.error is None, outcome.error
    assert outcome.verdict.valid is False
    kinds = {a.kind for a in outcome.verdict.anomalies}
    assert kinds == {"nonlinearizable"}, kinds
    for node in ("n1", "n2", "n3"):
        assert (outcome.run.path / "nodes" / node / "postgres.log").exists()
    name = CLUSTER_NAME.search((outcome.run.path / "labrys.log").read_text())[1]
    assert runtime.left(name) == []


def test_serializable_transactions_conserve_the_bank(tmp_path: Path):
    outcome = _run(tmp_path, "bank", isolation="serializable")

    assert outcome.error is None, outcome.error
    assert outcome.verdict.valid is True, outcome.verdict.explanation
    assert outcome.verdict.details["read-count"] > 100


@pytest.mark.skipif(shutil.which("patroni") is None or not Path("/usr/bin/etcd").exists(),
                    reason="patroni or etcd is not installed (apt-get install patroni "
                           "etcd-server)")
def test_patroni_forms_a_cluster_that_clients_follow_and_keeps_every_log(tmp_path: Path):
    spec = TestSpec(target="postgres", workload="set", nemesis=(), time_limit_s=4.0,
                    concurrency=3, rate=100.0, seed=5, store=str(tmp_path),
                    options={"ha": "patroni", "final_wait_s": "0.5"})
    outcome = run_test(spec, console=Console(file=io.StringIO()), command=["pytest"])

    assert outcome.error is None, outcome.error
    assert outcome.verdict.valid is True, outcome.verdict.explanation
    assert outcome.verdict.details["acknowledged-count"] > 100
    for node in ("n1", "n2", "n3"):
        logs = {p.name for p in (outcome.run.path / "nodes" / node).iterdir()}
        assert {"patroni.log", "etcd.log", "postgres.log"} <= logs, (node, logs)
