"""The run store: folder layout, collision-free names, the latest link, the JSON files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from labrys.checkers import Verdict
from labrys.harness import TestSpec, create_run_dir
from labrys.harness._store import write_results, write_test_json

NOW = dt.datetime(2025, 1, 2, 3, 4, 5)


def test_a_run_folder_is_named_by_test_and_time_and_latest_points_at_it(tmp_path: Path):
    run = create_run_dir(tmp_path, "etcd-register", now=NOW)
    assert run.path == tmp_path / "etcd-register" / "20250102T030405"
    assert (tmp_path / "latest").resolve() == run.path.resolve()
    assert not (tmp_path / "latest").readlink().is_absolute()  # survives moving the store
    assert run.node_dir("n1") == run.path / "nodes" / "n1" and run.node_dir("n1").is_dir()


def test_two_runs_in_the_same_second_never_share_a_folder(tmp_path: Path):
    a = create_run_dir(tmp_path, "t", now=NOW)
    b = create_run_dir(tmp_path, "t", now=NOW)
    assert b.path.name == "20250102T030405-1" and a.path != b.path
    assert (tmp_path / "latest").resolve() == b.path.resolve()


def test_test_json_holds_the_spec_seed_versions_and_command(tmp_path: Path):
    run = create_run_dir(tmp_path, "t", now=NOW)
    spec = TestSpec(seed=9, nemesis=("kill",))
    write_test_json(run, spec, versions={"labrys": "0.1.0", "target": "3.4.23"},
                    command=["labrys", "run"], started=NOW)
    data = json.loads(run.test_json.read_text())
    assert data["seed"] == 9 and data["spec"]["seed"] == 9
    assert data["spec"]["nemesis"] == ["kill"] and data["spec"]["time_limit"] == 60.0
    assert data["versions"] == {"labrys": "0.1.0", "target": "3.4.23"}
    assert data["command"] == ["labrys", "run"]


def test_results_json_keeps_the_verdict_as_data(tmp_path: Path):
    run = create_run_dir(tmp_path, "t", now=NOW)
    verdict = Verdict(checker="linearizable", valid=False, explanation="a stale read")
    write_results(run, verdict, summary={"ops": 10})
    data = json.loads(run.results.read_text())
    assert data == {"valid": False, "verdict": verdict.to_json(), "run": {"ops": 10}}
