"""What a report is made of: a history, a verdict, and what is known about the run.

A report is a view of stored files and nothing else. It never asks the runner: a run
folder holds everything (``test.json``, ``history.jsonl``, ``results.json``, the logs),
so `load_run` rebuilds the same page from it at any later time, and `for_check` makes
one from a history checked by ``labrys check`` (Jepsen's, Porcupine's, elle-cli's…),
where the verdict comes straight from the checker.

The verdict is taken as JSON (`Verdict.to_json`), the form ``results.json`` keeps, so
both ways in reach the page through one shape.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrys.errors import LabrysError, UsageError
from labrys.history import History, read_history

RUN_FILES = ("history.jsonl", "results.json", "test.json", "labrys.log")
"""The files every run folder holds, linked from its report in this order."""

REPORT_NAME = "report.html"


@dataclass(frozen=True, slots=True, kw_only=True)
class RawFile:
    """A file the report links to.

    Attributes:
        label: what the link says (the path inside the run folder, or the file name).
        href: the link, relative to the report's own folder.
        size: bytes.
    """

    label: str
    href: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportSource:
    """Everything one report shows.

    Attributes:
        title: the page's title (the test's name, or the history file's name).
        history: the recorded operations.
        verdict: the composed verdict, as ``Verdict.to_json`` gives it.
        test: ``test.json`` of a run (spec, seed, versions, command), or None.
        run: the run's own summary from ``results.json`` (ops, error, times), or None.
        command: the command that reproduces the verdict (rerun or recheck).
        files: the raw files to link.
        notes: things the reader must know that the data cannot say by itself (a
            history that is missing, a run that failed half way).
    """

    title: str
    history: History
    verdict: Mapping[str, Any]
    test: Mapping[str, Any] | None
    run: Mapping[str, Any] | None
    command: str | None
    files: tuple[RawFile, ...]
    notes: tuple[str, ...] = ()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise LabrysError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}); "
                          "the run folder is damaged") from None


def _raw_files(run: Path) -> tuple[RawFile, ...]:
    files = [RawFile(label=name, href=name, size=(run / name).stat().st_size)
             for name in RUN_FILES if (run / name).is_file()]
    nodes = run / "nodes"
    if nodes.is_dir():
        for path in sorted(p for p in nodes.rglob("*") if p.is_file()):
            rel = path.relative_to(run).as_posix()
            files.append(RawFile(label=rel, href=rel, size=path.stat().st_size))
    return tuple(files)


def load_run(run: Path) -> ReportSource:
    """A report's source from a run folder, as stored by ``labrys run``.

    A run that died before its checks has no ``results.json``; one that died before its
    first operation has an empty history. Both still get a report, which says so.

    Raises:
        UsageError: ``run`` is not a run folder.
        LabrysError: a file in it is damaged (malformed JSON or history).
    """
    if not run.is_dir() or not any((run / name).is_file() for name in RUN_FILES):
        raise UsageError(f"{run} is not a run folder (no test.json, history.jsonl or "
                         "results.json in it); give a folder such as results/latest")
    notes: list[str] = []
    test = _read_json(run / "test.json") if (run / "test.json").is_file() else None
    results = _read_json(run / "results.json") if (run / "results.json").is_file() else None
    if results is None:
        notes.append("This run has no results.json: it is still going, or it stopped "
                     "before its checks. The page shows what was recorded.")
        verdict: Mapping[str, Any] = {
            "checker": "run", "valid": "unknown", "anomalies": [],
            "explanation": "No verdict was stored for this run."}
        summary = None
    else:
        verdict, summary = results["verdict"], results.get("run")
        if summary and summary.get("error"):
            notes.append(f"The run failed: {summary['error']}")
        online = (summary or {}).get("online") or {}
        if online.get("note"):
            notes.append(online["note"])
    history_path = run / "history.jsonl"
    if history_path.is_file():
        history = read_history(history_path, format="jsonl")
    else:
        history = History([])
        notes.append("This run recorded no history.jsonl.")
    folder = run.resolve()  # results/latest names the run it points at, not itself
    name = (test or {}).get("spec", {}).get("name") or folder.parent.name
    replay = shlex.join(["labrys", "run", "--replay", str((run / "test.json").resolve())])
    return ReportSource(title=f"{name} · {folder.name}", history=history, verdict=verdict,
                        test=test, run=summary, command=replay if test else None,
                        files=_raw_files(run), notes=tuple(notes))


def for_check(history_path: Path, history: History, verdict: Mapping[str, Any], *,
              out: Path, command: Sequence[str]) -> ReportSource:
    """A report's source for a history checked by ``labrys check``.

    Args:
        history_path: the checked file, linked from the report.
        history: its operations, as read.
        verdict: the verdict as JSON.
        out: where the report will be written (links are made relative to it).
        command: the check command that gives this verdict again.
    """
    href = Path(os.path.relpath(history_path.resolve(), out.resolve().parent)).as_posix()
    files = (RawFile(label=history_path.name, href=href, size=history_path.stat().st_size),)
    return ReportSource(title=history_path.name, history=history, verdict=verdict,
                        test=None, run=None, command=shlex.join(command), files=files)
