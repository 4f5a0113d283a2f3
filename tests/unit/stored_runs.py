"""Run folders written by the real store code, for tests that read runs back.

`store_run` writes ``test.json`` and ``results.json`` exactly as ``labrys run`` does
(through `labrys.harness._store`), for a spec and a verdict made in the test, so the
readers of stored runs (claims, suites, compare) are tested on real files without a
cluster. `elle_verdict` runs the real transactional checker on Elle's notation.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from labrys.checkers import Anomaly, CheckOptions, Verdict, compose, run_checker
from labrys.harness import TestSpec, create_run_dir
from labrys.harness._store import write_results, write_test_json
from tests.unit.txn_notation import T, history

NOW = dt.datetime(2025, 1, 2, 3, 4, 5)

WRITE_SKEW = (T("ax1ry"), T("ay1rx"))
"""Two transactions that each read what the other appends to: G2-item (write skew)."""

CLEAN = (T("ax1"), T("rx1"))


def store_run(store: Path, spec: TestSpec, verdict: Verdict, *, error: str | None = None,
              now: dt.datetime = NOW) -> Path:
    """Write one run of ``spec`` ending in ``verdict`` under ``store``; its folder."""
    spec = spec if spec.seed is not None else spec.with_seed(1)
    run = create_run_dir(store, spec.test_name, now=now)
    write_test_json(run, spec, versions={"labrys": "test"}, command=["pytest"], started=now)
    write_results(run, verdict, summary={"seed": spec.seed, "error": error})
    return run.path


def elle_verdict(*txns: T, claim: str, workload: str = "list-append") -> Verdict:
    """The real list-append/rw-register checker's verdict on these transactions."""
    return run_checker(workload, history(*txns),
                       CheckOptions(consistency_models=(claim,), timeout_s=5.0))


def anomaly_verdict(checker: str, kind: str, *, valid: bool | str = False,
                    details: dict | None = None) -> Verdict:
    """A verdict of ``checker`` naming one anomaly of ``kind`` (composed with stats, as
    a workload's verdict is)."""
    anomalies = () if kind is None else (Anomaly(kind=kind, ops=(1, 2), explanation="seen"),)
    leaf = Verdict(checker=checker, valid=valid, explanation=f"{kind} found",
                   anomalies=anomalies, details=details or {})
    return compose([leaf, Verdict(checker="stats", valid=True)])


def valid_verdict(checker: str) -> Verdict:
    return compose([Verdict(checker=checker, valid=True), Verdict(checker="stats", valid=True)])


ETCD = TestSpec(target="etcd", workload="register", nemesis=("partition",))
REDIS = TestSpec(target="redis", workload="set", nemesis=("partition",),
                 topologies=("primaries",), nemesis_interval_s=12)
PG_REPLICA = TestSpec(target="postgres", workload="register", nemesis=(),
                      options={"read_from": "replica"})


def pg_txn(level: str) -> TestSpec:
    return TestSpec(target="postgres", workload="list-append", nemesis=(),
                    options={"isolation": level})


def comparison_store(tmp_path: Path) -> Path:
    """Stored runs of five configurations, each chosen for the cells `labrys compare`
    makes of it: claimed and held (etcd), not claimed and violated (Redis, PostgreSQL's
    read committed), claimed and violated (serializable), undecided (replica reads)."""
    for seed in (1, 2):
        store_run(tmp_path, ETCD.with_seed(seed), valid_verdict("linearizable"))
        store_run(tmp_path, REDIS.with_seed(seed), anomaly_verdict(
            "set", "lost", details={"lost-count": 10 * seed, "acknowledged-count": 100}))
        store_run(tmp_path, pg_txn("read-committed").with_seed(seed),
                  elle_verdict(*(WRITE_SKEW if seed == 1 else CLEAN), claim="read-committed"))
    store_run(tmp_path, pg_txn("serializable").with_seed(1),
              elle_verdict(*WRITE_SKEW, claim="serializable"))
    store_run(tmp_path, pg_txn("serializable").with_seed(2),
              elle_verdict(*CLEAN, claim="serializable"))
    store_run(tmp_path, PG_REPLICA.with_seed(1),
              anomaly_verdict("linearizable", None, valid="unknown"))
    return tmp_path
