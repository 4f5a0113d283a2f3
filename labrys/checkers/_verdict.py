"""Verdicts: what a checker concluded, as data first and prose second.

A verdict's ``valid`` is ``True``, ``False`` or ``"unknown"``. Unknown is not a polite
false: it means the checker could not finish (out of time or memory, not enough
information), and a checker that did not finish never says ``True``.

Composition follows Jepsen's ``checker/merge-valid``: false beats unknown beats true.
A checker that raises becomes unknown with its error (Jepsen's ``check-safe``), so one
broken checker cannot take a run's other verdicts down with it.

A checker that finds none of the operations it judges says unknown too
(`nothing_to_judge`), never valid: "no successful reads, so no fork can show" about a
register history with a thousand reads of another shape is a true sentence and a
false verdict. Nothing contradicted is not the same as something confirmed.

Anomalies are data: a kind (``"stale-read"``, ``"G-single"``…), the indices of the
ops that prove it in time order, structured details, and one or two English
sentences. ``results.json`` keeps the data; the command line and the report show the
sentences.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from labrys.errors import LabrysError

UNKNOWN: Literal["unknown"] = "unknown"
Validity: TypeAlias = bool | Literal["unknown"]

_RANK = {True: 0, UNKNOWN: 1, False: 2}


def worst(validities: Iterable[Validity]) -> Validity:
    """False beats unknown beats true; an empty collection is true."""
    result: Validity = True
    for v in validities:
        if _RANK[v] > _RANK[result]:
            result = v
    return result


def exit_status(valid: Validity) -> int:
    """Jepsen's exit codes: 0 valid, 1 invalid, 2 unknown."""
    return {True: 0, False: 1, UNKNOWN: 2}[valid]


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """One thing that went wrong, with the ops that prove it.

    Attributes:
        kind: a short fixed name for the class of anomaly, as the literature names it.
        ops: indices of the ops involved, in time order.
        explanation: one or two sentences a person can check against the ops.
        data: structured details (values, keys, states) for ``--json`` and the report.
    """

    kind: str
    ops: tuple[int, ...]
    explanation: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        return f"{self.kind}: {self.explanation}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "ops": list(self.ops), "explanation": self.explanation,
                **({"data": dict(self.data)} if self.data else {})}


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A checker's conclusion about one history.

    Attributes:
        checker: the checker's name (``"linearizable"``, ``"set"``…).
        valid: True, False or ``"unknown"``.
        explanation: a short paragraph in English; empty only when valid is True and
            there is nothing worth saying.
        anomalies: what went wrong, most telling first.
        details: checker-specific data (counts, budgets used, partial orders…).
        children: the verdicts this one was composed from, if any.
    """

    checker: str
    valid: Validity
    explanation: str = ""
    anomalies: tuple[Anomaly, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[Verdict, ...] = ()

    def __post_init__(self) -> None:
        if self.valid not in _RANK:
            raise ValueError(f"valid must be True, False or 'unknown', not {self.valid!r}")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"checker": self.checker, "valid": self.valid,
                               "explanation": self.explanation,
                               "anomalies": [a.to_json() for a in self.anomalies]}
        if self.details:
            out["details"] = dict(self.details)
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out


def compose(verdicts: Iterable[Verdict], *, checker: str = "composed") -> Verdict:
    """One verdict from several: the worst validity, every anomaly, each child kept."""
    children = tuple(verdicts)
    valid = worst(v.valid for v in children)
    bad = [v for v in children if v.valid is not True]
    explanation = " ".join(f"{v.checker}: {v.explanation}" for v in bad if v.explanation)
    return Verdict(
        checker=checker,
        valid=valid,
        explanation=explanation,
        anomalies=tuple(a for v in children for a in v.anomalies),
        children=children,
    )


def nothing_to_judge(checker: str, missing: str, *,
                     details: Mapping[str, Any] | None = None) -> Verdict:
    """The verdict of a checker that found none of the operations it judges.

    Args:
        checker: the checker's name.
        missing: what the history lacks, as a noun phrase ("successful reads of a
            whole group of keys"); the explanation reads "The history has no …".
        details: the checker's own details, kept; ``nothing_to_judge`` is added.
    """
    return Verdict(checker=checker, valid=UNKNOWN,
                   explanation=f"Nothing to judge: the history has no {missing}, so the "
                   f"{checker} check can say nothing about it. Is this the right checker "
                   "for this history?",
                   details={**(details or {}), "nothing_to_judge": True})


def check_safe(name: str, check: Callable[[], Verdict]) -> Verdict:
    """Run ``check``; if it raises, an unknown verdict carrying the error instead.

    A `LabrysError` (a malformed history, a bad option) is the user's to fix and is
    raised as it is: turning it into a verdict would hide it.
    """
    try:
        return check()
    except LabrysError:
        raise
    except Exception as e:  # a checker bug must not cost the run its other verdicts
        return Verdict(
            checker=name,
            valid=UNKNOWN,
            explanation=f"the checker crashed ({type(e).__name__}: {e}); this is a bug in labrys",
            details={"error": "".join(traceback.format_exception(e))},
        )
