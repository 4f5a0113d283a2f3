"""The stats checker: Jepsen's counts, and a workload that never succeeds called out."""

from __future__ import annotations

from typing import Any

from labrys.checkers import CheckOptions, Verdict
from labrys.checkers._stats import check_stats
from labrys.history import History


def history(*rows: tuple[Any, str, str]) -> History:
    """A history from ``(process, type, f)`` rows."""
    return History.from_records(
        (None, {"process": p, "type": t, "f": f, "value": None}) for p, t, f in rows)


def check(*rows: tuple[Any, str, str]) -> Verdict:
    return check_stats(history(*rows), CheckOptions())


def test_counts_by_function_when_every_function_succeeds() -> None:
    v = check((0, "invoke", "read"), (0, "ok", "read"),
              (1, "invoke", "write"), (1, "fail", "write"),
              (1, "invoke", "write"), (1, "ok", "write"),
              (2, "invoke", "write"), (2, "info", "write"))
    assert (v.valid, v.anomalies) == (True, ())
    assert v.details == {
        "count": 4, "ok-count": 2, "fail-count": 1, "info-count": 1, "pending-count": 0,
        "by-f": {
            "read": {"valid": True, "count": 1, "ok-count": 1, "fail-count": 0,
                     "info-count": 0, "pending-count": 0},
            "write": {"valid": True, "count": 3, "ok-count": 1, "fail-count": 1,
                      "info-count": 1, "pending-count": 0}}}
    assert v.explanation == (
        "Every function succeeded at least once. Counts (ok/fail/info): read 1/0/0; "
        "write 1/1/1.")


def test_a_function_that_never_succeeds_makes_the_history_invalid() -> None:
    v = check((0, "invoke", "read"), (0, "ok", "read"),
              (1, "invoke", "cas"), (1, "fail", "cas"),
              (1, "invoke", "cas"), (1, "info", "cas"),
              (2, "invoke", "cas"))
    assert v.valid is False
    assert [(a.kind, a.ops) for a in v.anomalies] == [("never-succeeded", (2, 4, 6))]
    assert v.anomalies[0].explanation == (
        "None of the 3 cas operations succeeded (1 failed, 1 was indeterminate, 1 never "
        "completed); a workload whose operations never succeed tests nothing.")
    assert v.anomalies[0].data == {"f": "cas", "operations": 3, "fail-count": 1,
                                   "info-count": 1, "pending-count": 1}
    assert v.details["by-f"]["cas"]["valid"] is False
    assert v.details["pending-count"] == 1


def test_nemesis_operations_are_not_counted() -> None:
    v = check(("nemesis", "info", "start"), ("nemesis", "info", "start"),
              (0, "invoke", "read"), (0, "ok", "read"))
    assert (v.valid, list(v.details["by-f"])) == (True, ["read"])


def test_a_history_without_client_operations_cannot_be_judged() -> None:
    v = check(("nemesis", "info", "start"), ("nemesis", "info", "start"))
    assert (v.valid, v.details["count"], v.details["nothing_to_judge"]) == ("unknown", 0, True)
    assert v.explanation.startswith("Nothing to judge: the history has no client operation "
                                    "to count")
