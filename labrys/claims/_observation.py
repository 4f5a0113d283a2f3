"""What one stored run showed, reduced to what claims are judged by.

A run folder holds ``test.json`` (the spec) and ``results.json`` (the verdict tree).
Judging a claim needs less: which system and options ran, which workload, under which
faults, and which anomaly kinds the checkers found, how often. `observe_run` reads
that back from the files alone, so `labrys compare` works on runs stored months ago
and on runs a suite has just made, the same way.

Anomaly kinds are collected from the whole verdict tree, including the kinds a
checker found but the run's own claim allowed (Elle reports those as
``allowed-anomalies`` and counts every kind in ``anomaly-counts``): a run of
PostgreSQL's read committed that shows write skew is evidence about serializability
even though it claimed only read committed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrys.checkers import UNKNOWN, UNKNOWN_KINDS, Validity
from labrys.errors import UsageError
from labrys.harness import TestSpec, build_spec, load_spec_file

_WITNESS_CHARS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One run, as claims see it.

    Attributes:
        path: the run's folder.
        spec: the spec it ran (with its seed).
        valid: the verdict: True, False or ``"unknown"``.
        error: why the run failed, when it did (its verdict then covers what was
            recorded before the failure).
        kinds: every anomaly kind found anywhere in the verdict tree, with its count.
        claimed_models: the transactional models Elle was asked to check, which
            decide which orders (process, real time) it searched.
        explanation: the verdict's explanation.
        witness: the most telling anomaly in one line, or empty.
        notes: numbers worth showing beside the verdict, as (what, value) pairs:
            ``("lost/acknowledged adds", "3955/7433")``.
    """

    path: Path
    spec: TestSpec
    valid: Validity
    error: str | None
    kinds: Mapping[str, int]
    claimed_models: tuple[str, ...] = ()
    explanation: str = ""
    witness: str = ""
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def decided(self) -> bool:
        """False when the run failed or its verdict is unknown."""
        return self.error is None and self.valid != UNKNOWN

    @property
    def unfinished(self) -> bool:
        """True when a transactional search ran out of budget or had nothing to do."""
        return any(kind in UNKNOWN_KINDS for kind in self.kinds)


def observe_run(path: Path) -> Observation:
    """The observation of the run stored in the folder ``path``.

    Raises:
        UsageError: the folder lacks ``test.json`` or ``results.json``, or they do not
            parse.
    """
    spec = build_spec(load_spec_file(path / "test.json"))
    results = _read_json(path / "results.json")
    verdict = results.get("verdict")
    if not isinstance(verdict, Mapping) or results.get("valid") not in (True, False, UNKNOWN):
        raise UsageError(f"{path / 'results.json'}: no verdict; is this a labrys run folder?")
    run = results.get("run") if isinstance(results.get("run"), Mapping) else {}
    return Observation(
        path=path, spec=spec, valid=results["valid"], error=run.get("error"),
        kinds=dict(anomaly_counts(verdict)), claimed_models=_claimed_models(verdict),
        explanation=str(verdict.get("explanation", "")), witness=_witness(verdict),
        notes=_notes(verdict))


def find_runs(store: Path) -> Iterator[Path]:
    """Every run folder under ``store`` (``store`` itself included), in sorted order.

    A run folder is one holding both ``test.json`` and ``results.json``. Symbolic
    links (``latest``) are not followed, so no run is counted twice.
    """
    found = [Path(folder) for folder, _, files in os.walk(store)
             if "test.json" in files and "results.json" in files]
    yield from sorted(found)


def anomaly_counts(verdict: Mapping[str, Any]) -> Counter[str]:
    """Every anomaly kind of a verdict tree (``results.json``'s ``verdict``), counted.

    A composed verdict repeats its children's anomalies, so only leaves are counted.
    A transactional verdict's own tally (``anomaly-counts``) is used where present: it
    counts every kind found, the allowed ones included.
    """
    counts: Counter[str] = Counter()
    children = verdict.get("children") or ()
    if children:
        for child in children:
            counts.update(anomaly_counts(child))
        return counts
    tally = (verdict.get("details") or {}).get("anomaly-counts")
    if isinstance(tally, Mapping):
        counts.update({str(k): int(n) for k, n in tally.items()})
    # Anomalies the tally does not cover (all of them, for checkers without one).
    for anomaly in verdict.get("anomalies") or ():
        kind = str(anomaly.get("kind"))
        if not isinstance(tally, Mapping) or kind not in tally:
            counts[kind] += 1
    return counts


def _leaves(verdict: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    children = verdict.get("children") or ()
    if not children:
        yield verdict
    for child in children:
        yield from _leaves(child)


def _claimed_models(verdict: Mapping[str, Any]) -> tuple[str, ...]:
    for leaf in _leaves(verdict):
        models = (leaf.get("details") or {}).get("consistency-models")
        if isinstance(models, list):
            return tuple(str(m) for m in models)
    return ()


def _witness(verdict: Mapping[str, Any]) -> str:
    for anomaly in verdict.get("anomalies") or ():
        kind = anomaly.get("kind")
        if kind not in UNKNOWN_KINDS:
            text = f"{kind}: {anomaly.get('explanation', '')}".strip()
            return text if len(text) <= _WITNESS_CHARS else text[:_WITNESS_CHARS - 1] + "…"
    return ""


def _notes(verdict: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    notes = []
    for leaf in _leaves(verdict):
        details = leaf.get("details") or {}
        if "lost-count" in details and "acknowledged-count" in details:
            notes.append(("lost/acknowledged adds",
                          f"{details['lost-count']}/{details['acknowledged-count']}"))
    return tuple(notes)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}; is this a labrys run folder?") \
            from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data
