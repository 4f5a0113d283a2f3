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
