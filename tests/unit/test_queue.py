"""The total-queue checker on tiny literal histories, named by situation as Jepsen's
``checker_test.clj`` names its queue cases; "sane" and "pathological" are Jepsen's."""

from __future__ import annotations

from labrys.checkers import UNKNOWN, CheckOptions, Verdict
from labrys.checkers._queue import check_queue
from tests.unit.op_rows import Row, history, inv, ok, summary


def check(*rows: Row) -> Verdict:
    return check_queue(history(*rows), CheckOptions())


COUNTS = ("attempt-count", "acknowledged-count", "ok-count", "unexpected-count",
          "duplicated-count", "lost-count", "recovered-count")


def counts(v: Verdict) -> list[int]:
    return [v.details[k] for k in COUNTS]


def test_empty() -> None:
    v = check()
    assert summary(v) == ("unknown", [])
    assert v.details == {"nothing_to_judge": True}


def test_possible_enqueue_but_no_dequeue() -> None:
    v = check(inv(1, "enqueue", 1))
    assert summary(v) == (True, [])
    assert counts(v) == [1, 0, 0, 0, 0, 0, 0]


def test_definite_enqueue_but_no_dequeue() -> None:
    v = check(inv(1, "enqueue", 1), ok(1, "enqueue", 1))
    assert summary(v) == (False, [("lost", (0,))])
    assert v.details["lost"] == [[1, 1]]


def test_dequeue_but_no_enqueue() -> None:
    v = check(inv(1, "dequeue"), ok(1, "dequeue", 1))
    assert summary(v) == (False, [("unexpected", (0,))])


def test_sane() -> None:
    v = check(
        inv(1, "enqueue", 1), inv(2, "enqueue", 2), ok(2, "enqueue", 2),
        inv(3, "dequeue"), ok(3, "dequeue", 1), inv(3, "dequeue"), ok(3, "dequeue", 2),
    )
    assert summary(v) == (True, [])
    assert dict(v.details) == {
        "attempt-count": 2, "acknowledged-count": 1, "ok-count": 2, "unexpected-count": 0,
        "duplicated-count": 0, "lost-count": 0, "recovered-count": 1,
        "lost": [], "unexpected": [], "duplicated": [], "recovered": [[1, 1]],
    }


def test_pathological() -> None:
    v = check(
        inv(1, "enqueue", "hung"),
        inv(2, "enqueue", "enqueued"), ok(2, "enqueue", "enqueued"),
        inv(3, "enqueue", "dup"), ok(3, "enqueue", "dup"),
        inv(4, "dequeue"),
        inv(5, "dequeue"), ok(5, "dequeue", "wtf"),
        inv(6, "dequeue"), ok(6, "dequeue", "dup"),
        inv(7, "dequeue"), ok(7, "dequeue", "dup"),
    )
    assert summary(v) == (False, [("lost", (1,)), ("unexpected", (6,))])
    assert dict(v.details) == {
        "attempt-count": 3, "acknowledged-count": 2, "ok-count": 1, "unexpected-count": 1,
        "duplicated-count": 1, "lost-count": 1, "recovered-count": 0,
        "lost": [["enqueued", 1]], "unexpected": [["wtf", 1]], "duplicated": [["dup", 1]],
        "recovered": [],
    }


def test_duplicates_alone_are_allowed() -> None:
    v = check(inv(1, "enqueue", 1), ok(1, "enqueue", 1),
              inv(2, "dequeue"), ok(2, "dequeue", 1), inv(2, "dequeue"), ok(2, "dequeue", 1))
    assert summary(v) == (True, [])
    assert v.details["duplicated"] == [[1, 1]]
    assert "more often than they went in" in v.explanation


def test_drain_counts_each_value_it_removed() -> None:
    v = check(inv(1, "enqueue", 1), ok(1, "enqueue", 1), inv(1, "enqueue", 2),
              ok(1, "enqueue", 2), inv(2, "drain"), ok(2, "drain", [2]))
    assert summary(v) == (False, [("lost", (0,))])


def test_drain_that_timed_out_is_unknown() -> None:
    v = check(inv(1, "enqueue", 1), ok(1, "enqueue", 1), inv(2, "drain"),
              (2, "info", "drain", None))
    assert summary(v) == (UNKNOWN, [])
    assert v.details == {"indeterminate-drain": 2}


def test_dequeue_of_an_empty_queue_removes_nothing() -> None:
    assert summary(check(inv(1, "dequeue"), ok(1, "dequeue", None))) == (True, [])
