"""Run folders for the tests of the report and of ``labrys serve``, without a cluster.

A run folder is files (``test.json``, ``history.jsonl``, ``results.json``): these are
written here from a recorded history and the verdict a real checker gives it, in the
layout ``labrys run`` stores, so the report and the store browser can be tested where
no database can run. The browser tests of real runs live in ``tests/system``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from labrys.checkers import CheckOptions, run_checker
from labrys.history import read_history

EXAMPLES = Path(__file__).resolve().parents[1] / "labrys" / "examples"


def stored_run(store: Path, test: str, stamp: str, history: Path, *, checker: str,
               options: CheckOptions, spec: dict[str, Any] | None = None) -> Path:
    """``store/test/stamp/`` holding ``history`` and the verdict ``checker`` gives it."""
    run = store / test / stamp
    run.mkdir(parents=True)
    shutil.copy(history, run / "history.jsonl")
    verdict = run_checker(checker, read_history(run / "history.jsonl"), options)
    started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"
    (run / "test.json").write_text(json.dumps({
        "spec": {"target": "etcd", "nodes": 3, "workload": "register", "nemesis": [],
                 "time_limit": 1.0, "concurrency": 3, "rate": 100.0, "options": {},
                 **(spec or {})},
        "seed": 7, "versions": {"labrys": "0.1.0", "target": "3.4.23"},
        "command": ["labrys", "run"], "started": started}))
    (run / "results.json").write_text(json.dumps({
        "valid": verdict.valid, "verdict": verdict.to_json(),
        "run": {"ops": 10, "error": None, "ended": started}}, default=str))
    return run


def example_store(store: Path) -> dict[str, Path]:
    """A store of three runs: an invalid one, a valid one, and one with options."""
    register = CheckOptions(model="cas-register")
    return {
        "invalid": stored_run(store, "etcd-register", "20260101T120000",
                              EXAMPLES / "register-stale-read.jsonl", checker="linearizable",
                              options=register),
        "valid": stored_run(store, "etcd-register", "20260102T120000",
                            EXAMPLES / "register-valid.jsonl", checker="linearizable",
                            options=register),
        "serializable": stored_run(store, "etcd-register-serializable", "20260103T120000",
                                   EXAMPLES / "register-stale-read.jsonl",
                                   checker="linearizable", options=register,
                                   spec={"options": {"read_mode": "serializable"}}),
    }
