"""The verdict as the page lists it: every checker's verdict, and every anomaly once.

A composed verdict repeats its children's anomalies (``compose`` keeps them all at the
top), and the session checker's four guarantees share the reads no version order can
explain. The page shows each anomaly once, under the first checker that reported it,
numbered so the timeline and the text can point at each other.

Anomalies name operations by index, some by the invocation and some by the completion
(Elle names a transaction by the op that completed it). The page names an operation by
its invocation, so every index is mapped to one here; an index outside the history
(a checker of another history, or a damaged file) is dropped rather than drawn wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.history import History
from labrys.report._ops import invocation_index

MINIMAL = "minimal-counterexample"
"""The kind ``--minimize`` reports its minimal set of operations under."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckerRow:
    """One checker's verdict, at its depth in the tree of composed verdicts."""

    depth: int
    checker: str
    valid: bool | str
    explanation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One anomaly, ready for the page.

    Attributes:
        number: its number on the page, from 1.
        checker: the checker that reported it.
        kind: the anomaly's kind (``nonlinearizable``, ``G-single-item``, ``lost``…).
        explanation: its English explanation.
        ops: the invocation indices of the operations it names, in history order.
        data: the checker's structured details.
    """

    number: int
    checker: str
    kind: str
    explanation: str
    ops: tuple[int, ...]
    data: Mapping[str, Any]

    @property
    def minimal(self) -> bool:
        return self.kind == MINIMAL


def checker_rows(verdict: Mapping[str, Any], depth: int = 0) -> list[CheckerRow]:
    """The verdict and its children, depth first."""
    rows = [CheckerRow(depth=depth, checker=verdict["checker"], valid=verdict["valid"],
                       explanation=verdict.get("explanation", ""))]
    for child in verdict.get("children", ()):
        rows.extend(checker_rows(child, depth + 1))
    return rows


def _reported(verdict: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(checker, anomaly) pairs, the most specific checker first."""
    for child in verdict.get("children", ()):
        yield from _reported(child)
    for anomaly in verdict.get("anomalies", ()):
        yield verdict["checker"], anomaly


def _distinct(verdict: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each anomaly once, with the first checker that reported it."""
    seen: set[tuple[str, tuple[int, ...], str]] = set()
    for checker, anomaly in _reported(verdict):
        key = (anomaly["kind"], tuple(anomaly.get("ops", ())), anomaly.get("explanation", ""))
        if key not in seen:
            seen.add(key)
            yield checker, anomaly


def anomaly_counts(verdict: Mapping[str, Any]) -> dict[str, int]:
    """How many distinct anomalies of each kind ``verdict`` reports."""
    counts: dict[str, int] = {}
    for _, anomaly in _distinct(verdict):
        counts[anomaly["kind"]] = counts.get(anomaly["kind"], 0) + 1
    return counts


def findings(verdict: Mapping[str, Any], history: History) -> list[Finding]:
    """Every distinct anomaly of ``verdict``, numbered, with its ops mapped to invocations."""
    out: list[Finding] = []
    for checker, anomaly in _distinct(verdict):
        mapped = {invocation_index(history, i) for i in anomaly.get("ops", ())}
        out.append(Finding(number=len(out) + 1, checker=checker, kind=anomaly["kind"],
                           explanation=anomaly.get("explanation", ""),
                           ops=tuple(sorted(i for i in mapped if i is not None)),
                           data=anomaly.get("data", {})))
    return out
