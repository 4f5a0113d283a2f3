"""A checker that finds none of the operations it judges says unknown, never valid.

Every registered checker is run on histories with nothing for it: empty, the nemesis
alone, and its own operations that all failed (so certainly did not happen). A new
checker is covered the moment it is registered, because the cases are drawn from
`CHECKERS` itself.
"""

from __future__ import annotations

import json

import pytest

from labrys.checkers import CHECKERS, CheckOptions, run_checker
from labrys.history import History, parse_history
from tests.unit.event_lines import history

OPTIONS = {"linearizable": CheckOptions(model="cas-register"),
           "sequential": CheckOptions(model="cas-register")}

EMPTY = parse_history("")
NEMESIS_ONLY = history("nemesis info start-partition null",
                       "nemesis info start-partition {}",
                       "nemesis info stop-partition null", "nemesis info stop-partition {}")

# Each checker's own operations, every one of which failed.
SESSION_OPS = [("write", 1), ("read", None)]
OWN_OPS: dict[str, list[tuple[str, object]]] = {
    "linearizable": [("write", 1), ("cas", [1, 2]), ("read", None)],
    "sequential": [("write", 1), ("read", None)],
    "read-your-writes": SESSION_OPS, "monotonic-reads": SESSION_OPS,
    "monotonic-writes": SESSION_OPS, "writes-follow-reads": SESSION_OPS,
    "session": SESSION_OPS, "causal": SESSION_OPS,
    "set": [("add", 1), ("read", None)],
    "set-full": [("add", 1), ("read", None)],
    "counter": [("add", 1), ("read", None)],
    "bank": [("transfer", {"from": 0, "to": 1, "amount": 1}), ("read", None)],
    "queue": [("enqueue", 1), ("dequeue", None)],
    "unique-ids": [("generate", None)],
    "long-fork": [("txn", [["w", 0, 1]]), ("txn", [["r", 0, None], ["r", 1, None]])],
    "list-append": [("txn", [["append", "x", 1], ["r", "x", None]])],
    "rw-register": [("txn", [["w", "x", 1], ["r", "x", None]])],
}
# Where failing operations are themselves a finding: Jepsen's stats checker calls a
# workload whose operations never succeed invalid ("it tests nothing"), and the
# register checker includes stats.
FAILURE_IS_A_FINDING = {"stats", "register"}


def all_failed(ops: list[tuple[str, object]]) -> History:
    lines = []
    for process, (f, value) in enumerate(ops):
        for kind in ("invoke", "fail"):
            lines.append(json.dumps({"process": process, "type": kind, "f": f, "value": value}))
    return parse_history("\n".join(lines))


def check(name: str, h: History):
    return run_checker(name, h, OPTIONS.get(name, CheckOptions()))


@pytest.mark.parametrize("name", sorted(CHECKERS))
@pytest.mark.parametrize("h", [EMPTY, NEMESIS_ONLY], ids=["empty", "nemesis-only"])
def test_a_history_without_client_operations_is_unknown_with_the_reason(name, h):
    verdict = check(name, h)
    assert verdict.valid == "unknown", verdict.explanation
    assert "Nothing to judge: the history has no" in verdict.explanation
    nothing = [verdict, *verdict.children]
    assert any(v.details.get("nothing_to_judge") for v in nothing)


def test_every_checker_has_a_case_of_its_own_operations_all_failed():
    assert set(OWN_OPS) | FAILURE_IS_A_FINDING == set(CHECKERS)


@pytest.mark.parametrize("name", sorted(OWN_OPS))
def test_a_checkers_own_operations_that_all_failed_leave_it_unknown(name):
    verdict = check(name, all_failed(OWN_OPS[name]))
    assert verdict.valid == "unknown", verdict.explanation


def test_failed_operations_are_what_stats_reports():
    assert check("stats", all_failed([("add", 1)])).valid is False


def test_long_fork_on_a_register_history_with_many_reads_has_nothing_to_judge():
    """The newcomer's case: 'There were no successful reads', said as valid, about a
    history of a thousand successful reads of another shape."""
    lines = []
    for i in range(500):
        lines += [f"0 invoke write [{i}, 1]", f"0 ok write [{i}, 1]",
                  f"1 invoke read [{i}, null]", f"1 ok read [{i}, 1]"]
    verdict = check("long-fork", history(*lines))
    assert verdict.valid == "unknown" and verdict.details["nothing_to_judge"] is True
    assert "successful read of a group of keys in one transaction" in verdict.explanation
