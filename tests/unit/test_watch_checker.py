"""The watch checker on tiny literal histories: one sequence per key, or the first break.

Writes of 1, 2, 3 to key a land at revisions 2, 3, 4 (their answers say so), and one of
10 to key b at revision 5; watchers then report what their watches delivered.
"""

from __future__ import annotations

import pytest

from labrys.checkers import UNKNOWN, CheckOptions, run_checker
from labrys.errors import HistoryError
from labrys.history import History
from tests.unit.op_rows import Row, inv, ok, summary
from tests.unit.op_rows import history as rows_history

WRITES: tuple[Row, ...] = (
    inv(0, "write", {"key": "a", "value": 1}), ok(0, "write", {"key": "a", "value": 1,
                                                              "revision": 2}),
    inv(0, "write", {"key": "a", "value": 2}), ok(0, "write", {"key": "a", "value": 2,
                                                              "revision": 3}),
    inv(0, "write", {"key": "a", "value": 3}), ok(0, "write", {"key": "a", "value": 3,
                                                              "revision": 4}),
    inv(0, "write", {"key": "b", "value": 10}), ok(0, "write", {"key": "b", "value": 10,
                                                               "revision": 5}),
)
"""Ops 0-7."""


def watch(process: int, start: int, *events: list, f: str = "watch", **extra) -> list[Row]:
    return [inv(process, f), ok(process, f, {"from": start, "events": list(events), **extra})]


def check(*rows: Row) -> tuple:
    verdict = run_checker("watch", rows_history(*WRITES, *rows), CheckOptions())
    return verdict


def test_watchers_that_saw_every_change_in_order_are_valid():
    v = check(*watch(1, 1, ["a", 2, 1], ["a", 3, 2]),
              *watch(1, 4, ["a", 4, 3], ["b", 5, 10]),
              *watch(2, 3, ["a", 3, 2], ["a", 4, 3]),
              *watch(3, 1, ["a", 2, 1], ["a", 3, 2], ["a", 4, 3], ["b", 5, 10],
                     f="final-watch", caught_up_to=5))
    assert summary(v) == (True, [])
    assert v.details["events"] == 10 and v.details["keys"] == 2
    assert v.details["final-watchers-caught-up"] == 1
    assert "in revision order, without gaps" in v.explanation


def test_a_missed_revision_is_a_gap_naming_the_op_the_revision_and_its_write():
    # The watch from revision 2 delivered revisions 2 and 4 of key a, not 3.
    v = check(*watch(1, 2, ["a", 2, 1], ["a", 4, 3]))
    assert summary(v) == (False, [("gap", (2, 8))])
    assert ("watch op 8 (process 1) started at revision 2 and saw up to revision 4, but "
            "missed revision 3 of key a (value 2, written by op 2)") in v.explanation


def test_a_gap_in_one_key_counts_up_to_the_last_revision_seen_of_any_key():
    # Revision 5 (key b) was delivered, so every change of key a before it is owed too.
    v = check(*watch(1, 3, ["a", 3, 2], ["b", 5, 10]))
    assert summary(v) == (False, [("gap", (4, 8))])
    assert v.anomalies[0].data == {"key": "a", "revision": 4, "missing": [4]}


def test_a_watch_may_stop_early_but_not_start_late():
    # Seeing only revision 2 is a prefix: no gap. Resuming at 4 after seeing up to 2
    # skips revision 3.
    assert summary(check(*watch(1, 1, ["a", 2, 1]))) == (True, [])
    v = check(*watch(1, 1, ["a", 2, 1]), *watch(1, 4, ["a", 4, 3]))
    assert summary(v) == (False, [("gap", (2, 10))])
    assert "resumed at revision 4 although its process had seen only up to revision 2" in (
        v.explanation)


def test_revisions_out_of_order_are_a_reordering():
    v = check(*watch(1, 2, ["a", 3, 2], ["a", 2, 1], ["a", 4, 3]))
    assert summary(v) == (False, [("reorder", (8,))])
    assert "watch op 8 delivered revision 2 of key a after revision 3 before it" in (
        v.explanation)


def test_an_event_older_than_the_start_revision_is_a_reordering():
    v = check(*watch(1, 3, ["a", 2, 1], ["a", 3, 2]))
    assert [a.kind for a in v.anomalies] == ["reorder"]
    assert "after the revision it started from, 3" in v.explanation


def test_watchers_disagreeing_on_a_revision_diverge():
    v = check(*watch(1, 2, ["a", 2, 1], ["a", 3, 2]),
              *watch(2, 2, ["a", 2, 1], ["a", 3, 3]))
    kinds = [a.kind for a in v.anomalies]
    assert v.valid is False and set(kinds) == {"divergence"}
    assert "revision 3 of key a is 2 to the write op 2 but 3 to watch op 10" in v.explanation


def test_a_value_nobody_wrote_is_unwritten():
    v = check(*watch(1, 5, ["b", 5, 10], ["b", 6, 99]))
    assert summary(v) == (False, [("unwritten", (8,))])
    assert "value 99 at revision 6 of key b, which no write wrote" in v.explanation


def test_without_a_successful_watch_there_is_nothing_to_judge():
    v = run_checker("watch", rows_history(*WRITES, inv(1, "watch")), CheckOptions())
    assert summary(v) == (UNKNOWN, [])


def test_a_malformed_watch_result_is_refused_naming_the_op():
    with pytest.raises(HistoryError, match="op 8: a watch event must be"):
        check(*watch(1, 2, ["a", "two", 1]))


def test_keys_read_back_as_text_match_keys_written_as_numbers():
    history = rows_history(
        inv(0, "write", {"key": 0, "value": 1}), ok(0, "write", {"key": 0, "value": 1,
                                                               "revision": 2}),
        inv(1, "watch"), ok(1, "watch", {"from": 1, "events": [["0", 2, 1]]}))
    assert isinstance(history, History)
    assert run_checker("watch", history, CheckOptions()).valid is True
