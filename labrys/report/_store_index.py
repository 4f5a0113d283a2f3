"""The runs in a store, as rows of a table: what ``labrys serve`` lists and compares.

A store is ``<store>/<test name>/<timestamp>/`` folders (plus ``latest``, a link to the
newest, which is skipped here so no run is listed twice). Each row is read from the
run's ``test.json`` and ``results.json``; a run still going, or one that died before
its checks, has no ``results.json`` and is listed as ``incomplete``.

The index is read again on every request, so runs stored while the server runs appear
on the next page load; a row is cached until one of its files changes, so a store of
hundreds of runs (whose ``results.json`` can hold thousands of lost elements) is not
parsed again each time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrys.report._findings import CheckerRow, anomaly_counts, checker_rows
from labrys.report._source import REPORT_NAME, RUN_FILES

VERDICT_WORDS = {True: "valid", False: "invalid", "unknown": "unknown"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    """One run of the store.

    Attributes:
        path: the run folder relative to the store, with ``/``.
        started: when it started (ISO 8601), from ``test.json`` or the folder's name.
        test: the test's name (its folder).
        target, version, workload, nemesis, seed: from ``test.json``.
        duration_s: from start to the end recorded in ``results.json``, if both are known.
        verdict: ``valid``, ``invalid``, ``unknown`` or ``incomplete`` (no results.json).
        anomalies: distinct anomalies by kind.
        has_report: whether ``report.html`` is there.
        spec: the spec as stored, for comparisons.
        versions: labrys's and the database's versions.
        checkers: every checker's verdict.
        operations: how many operations the run recorded, if known.
    """

    path: str
    started: str
    test: str
    target: str = ""
    version: str = ""
    workload: str = ""
    nemesis: str = ""
    seed: str = ""
    duration_s: float | None = None
    verdict: str = "incomplete"
    anomalies: Mapping[str, int] = field(default_factory=dict)
    has_report: bool = False
    spec: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, Any] = field(default_factory=dict)
    checkers: tuple[CheckerRow, ...] = ()
    operations: int | None = None


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _started(run: Path, test: Mapping[str, Any]) -> str:
    if test.get("started"):
        return str(test["started"])
    try:
        return dt.datetime.strptime(run.name[:15], "%Y%m%dT%H%M%S").isoformat()
    except ValueError:
        return ""


def read_row(store: Path, run: Path) -> RunRow:
    """The row of one run folder (whatever of its files exist)."""
    test = _load(run / "test.json") or {}
    results = _load(run / "results.json")
    spec = test.get("spec", {})
    versions = test.get("versions", {})
    started = _started(run, test)
    row: dict[str, Any] = {
        "path": run.relative_to(store).as_posix(), "started": started, "test": run.parent.name,
        "target": str(spec.get("target", "")), "version": str(versions.get("target", "")),
        "workload": str(spec.get("workload", "")),
        "nemesis": ",".join(spec.get("nemesis", ())) or ("none" if spec else ""),
        "seed": "" if test.get("seed") is None else str(test["seed"]),
        "has_report": (run / REPORT_NAME).is_file(), "spec": spec, "versions": versions,
    }
    if isinstance(results, Mapping) and "verdict" in results:
        verdict = results["verdict"]
        summary = results.get("run") or {}
        row |= {"verdict": VERDICT_WORDS.get(verdict.get("valid"), "unknown"),
                "anomalies": anomaly_counts(verdict),
                "checkers": tuple(checker_rows(verdict)), "operations": summary.get("ops")}
        try:
            ended = dt.datetime.fromisoformat(summary["ended"])
            row["duration_s"] = (ended - dt.datetime.fromisoformat(started)).total_seconds()
        except (KeyError, TypeError, ValueError):
            pass
    return RunRow(**row)


def _signature(run: Path) -> tuple[int, ...]:
    """Changes whenever a file the row is read from changes."""
    out = []
    for name in (*RUN_FILES, REPORT_NAME):
        try:
            stat = (run / name).stat()
            out += [stat.st_mtime_ns, stat.st_size]
        except FileNotFoundError:
            out += [0, -1]
    return tuple(out)


class StoreIndex:
    """The runs of one store, re-read on every call, each row cached until it changes."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self._cache: dict[Path, tuple[tuple[int, ...], RunRow]] = {}

    def run_folders(self) -> list[Path]:
        """``<test>/<timestamp>`` folders holding any run file, never through a link."""
        out = []
        try:
            tests = list(os.scandir(self.store))
        except FileNotFoundError:
            return []
        for test in tests:
            if not test.is_dir(follow_symlinks=False):
                continue
            for run in os.scandir(test.path):
                path = Path(run.path)
                if run.is_dir(follow_symlinks=False) and any(
                        (path / name).is_file() for name in RUN_FILES):
                    out.append(path)
        return out

    def runs(self) -> list[RunRow]:
        """Every run, newest first."""
        rows = []
        folders = self.run_folders()
        for run in folders:
            signature = _signature(run)
            cached = self._cache.get(run)
            if cached is None or cached[0] != signature:
                cached = (signature, read_row(self.store, run))
                self._cache[run] = cached
            rows.append(cached[1])
        for gone in set(self._cache) - set(folders):
            del self._cache[gone]
        return sorted(rows, key=lambda r: (r.started, r.path), reverse=True)

    def row(self, path: str) -> RunRow | None:
        """The run at ``path`` (relative to the store), if it is one."""
        return next((r for r in self.runs() if r.path == path), None)
