"""Stats: how many operations succeeded, failed or were left indeterminate, per function.

Problem. Every other checker judges what the operations that happened say about the
database. None of them notices a run in which nothing happened: a register test whose
writes all time out, or whose cas ops all fail, passes linearizability trivially. This
checker counts outcomes so that such a run is called out instead of passing quietly.

Central abstraction: one tally of ``ok``, ``fail`` and ``info`` completions of client
ops, overall and per ``f``, as Jepsen's ``jepsen.checker/stats`` keeps it (nemesis ops
are not counted). Following Jepsen, a function with no ``ok`` at all makes the history
invalid: a workload whose operations never succeed tested nothing, and says so.

Example:
    invoke cas; fail cas; invoke cas; info cas; invoke read; ok read
    → read 1/0/0, cas 0/1/1 (ok/fail/info): invalid, "no cas ever succeeded".

Non-obvious choices:

- Jepsen counts completions, so an invocation the history never completes is not in
  ``count``; labrys counts it apart as ``pending-count``. An ``f`` with only pending
  ops still has no ``ok``, and is reported like any other.
- A history with no client operations is ``unknown``, not valid: there is nothing to
  count, which is not evidence that the workload ran well.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._verdict import Anomaly, Verdict, nothing_to_judge
from labrys.history import History, OpType

_OPS_SHOWN = 10
"""How many op indices a never-succeeded anomaly lists; its data has the total."""


def _tally(counts: Counter[OpType], pending: int) -> dict[str, Any]:
    ok, fail, info = counts[OpType.OK], counts[OpType.FAIL], counts[OpType.INFO]
    return {"valid": ok > 0, "count": ok + fail + info, "ok-count": ok, "fail-count": fail,
            "info-count": info, "pending-count": pending}


def check_stats(history: History, options: CheckOptions) -> Verdict:
    """Counts of ok, fail and info completions of client ops, overall and per ``f``.

    Returns:
        Invalid with one ``never-succeeded`` anomaly per ``f`` that has operations but no
        ``ok`` among them (their first few op indices, the counts in ``data``); unknown
        when there are no client operations; valid otherwise. ``details`` holds Jepsen's
        fields (``count``, ``ok-count``, ``fail-count``, ``info-count``, ``by-f``) plus
        ``pending-count``.
    """
    overall: Counter[OpType] = Counter()
    by_f: dict[str, Counter[OpType]] = {}
    pending: Counter[str] = Counter()
    ops_of: dict[str, list[int]] = {}
    for operation in history.operations(clients_only=True):
        f = operation.f
        by_f.setdefault(f, Counter())
        ops_of.setdefault(f, []).append(operation.index)
        if operation.completion is None:
            pending[f] += 1
            continue
        overall[operation.completion.type] += 1
        by_f[f][operation.completion.type] += 1
    per_f = {f: _tally(by_f[f], pending[f]) for f in sorted(by_f)}
    details = {**_tally(overall, sum(pending.values())), "by-f": per_f}
    del details["valid"]
    anomalies = []
    for f, t in per_f.items():
        if t["valid"]:
            continue
        total = t["count"] + t["pending-count"]
        outcomes = ", ".join(f"{n} {what}" for n, what in (
            (t["fail-count"], "failed"),
            (t["info-count"], "was indeterminate" if t["info-count"] == 1 else
             "were indeterminate"),
            (t["pending-count"], "never completed")) if n)
        anomalies.append(Anomaly(
            kind="never-succeeded", ops=tuple(ops_of[f][:_OPS_SHOWN]),
            explanation=f"None of the {total} {f} operations succeeded ({outcomes}); a "
                        "workload whose operations never succeed tests nothing.",
            data={"f": f, "operations": total, **{k: t[k] for k in (
                "fail-count", "info-count", "pending-count")}}))
    summary = "; ".join(f"{f} {t['ok-count']}/{t['fail-count']}/{t['info-count']}"
                        for f, t in per_f.items())
    if not per_f:
        return nothing_to_judge("stats", "client operation to count", details=details)
    if anomalies:
        explanation = " ".join(a.explanation for a in anomalies)
        explanation += f" Counts (ok/fail/info): {summary}."
        return Verdict(checker="stats", valid=False, explanation=explanation,
                       anomalies=tuple(anomalies), details=details)
    return Verdict(checker="stats", valid=True, details=details,
                   explanation=f"Every function succeeded at least once. Counts "
                               f"(ok/fail/info): {summary}.")
