"""The store: one folder per run, holding everything needed to understand and redo it.

Layout::

    results/
      latest -> etcd-register-partition+kill/20250101T120000
      etcd-register-partition+kill/
        20250101T120000/
          test.json        the spec (with its seed), versions, the command line
          history.jsonl    every op, appended as it happens
          results.json     every checker's verdict
          labrys.log       the run's own log
          nodes/n1/…       the database's logs from each node

The folder is created before anything starts, so even a run that dies while bringing
the cluster up leaves its log behind. ``latest`` is replaced atomically (a new link
renamed over the old), so a reader never sees it missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrys.checkers import Verdict
from labrys.errors import UsageError
from labrys.harness._spec import TestSpec


@dataclass(frozen=True, slots=True)
class RunDir:
    """The folder of one run and the names of its files."""

    path: Path

    @property
    def test_json(self) -> Path:
        return self.path / "test.json"

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def log(self) -> Path:
        return self.path / "labrys.log"

    def node_dir(self, node: str) -> Path:
        """``nodes/<node>/``, created on first use."""
        path = self.path / "nodes" / node
        path.mkdir(parents=True, exist_ok=True)
        return path


def create_run_dir(store: Path, test_name: str, *, now: dt.datetime) -> RunDir:
    """Make ``store/test_name/<YYYYmmddTHHMMSS>/`` and point ``store/latest`` at it.

    Two runs started within the same second get ``…T120000-1``, ``-2``… so no run ever
    overwrites another.

    Raises:
        UsageError: the store cannot be created (permissions, a file in the way).
    """
    stamp = now.strftime("%Y%m%dT%H%M%S")
    parent = store / test_name
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            path = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        else:
            raise UsageError(f"{parent}: too many runs named {stamp}; wait a second")
    except OSError as e:
        raise UsageError(f"cannot create the run folder under {store}: {e.strerror}; "
                         "choose another --store") from None
    _point_latest(store, path)
    return RunDir(path)


def _point_latest(store: Path, path: Path) -> None:
    link = store / "latest"
    tmp = store / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(path.relative_to(store), tmp)
    os.replace(tmp, link)


def write_test_json(run: RunDir, spec: TestSpec, *, versions: dict[str, str],
                    command: list[str], started: dt.datetime) -> None:
    """Write ``test.json``: what ``--replay`` reads back, and what a reader needs to know."""
    data = {
        "spec": spec.to_json(),
        "seed": spec.seed,
        "versions": versions,
        "command": command,
        "started": started.isoformat(timespec="seconds"),
    }
    _write_json(run.test_json, data)


def write_results(run: RunDir, verdict: Verdict, *, summary: dict[str, Any]) -> None:
    """Write ``results.json``: the composed verdict with every checker's, plus run facts."""
    _write_json(run.results, {"valid": verdict.valid, "verdict": verdict.to_json(),
                              "run": summary})


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
