"""The counter checker on tiny literal histories, named by situation as Jepsen's
``checker_test.clj`` (``counter-test``) names them; the bounds are Jepsen's."""

from __future__ import annotations

from typing import Any

import pytest

from labrys.checkers import CheckOptions, Verdict
from labrys.checkers._counter import check_counter
from labrys.errors import HistoryError
from tests.unit.op_rows import Row, history, inv, ok


def check(*rows: Row) -> Verdict:
    return check_counter(history(*rows), CheckOptions())


def result(v: Verdict) -> tuple[Any, list[tuple[str, tuple[int, ...]]], Any, Any]:
    return (v.valid, [(a.kind, a.ops) for a in v.anomalies], v.details["reads"],
            v.details["errors"])


def test_empty() -> None:
    v = check()
    assert (v.valid, v.anomalies, v.details) == ("unknown", (), {"nothing_to_judge": True})


def test_initial_read() -> None:
    assert result(check(inv(0, "read"), ok(0, "read", 0))) == (True, [], [[0, 0, 0]], [])


def test_ignore_failed_ops() -> None:
    v = check(inv(0, "add", 1), (0, "fail", "add", 1), inv(0, "read"), ok(0, "read", 0))
    assert result(v) == (True, [], [[0, 0, 0]], [])


def test_indeterminate_add_may_or_may_not_count() -> None:
    rows = [inv(0, "add", 1), (0, "info", "add", 1), inv(1, "read")]
    assert result(check(*rows, ok(1, "read", 0))) == (True, [], [[0, 0, 1]], [])
    assert result(check(*rows, ok(1, "read", 1))) == (True, [], [[0, 1, 1]], [])


def test_initial_invalid_read() -> None:
    v = check(inv(0, "read"), ok(0, "read", 1))
    assert result(v) == (False, [("read-too-high", (0,))], [[0, 1, 0]], [[0, 1, 0]])
    assert v.anomalies[0].data == {"reads": [{"op": 0, "lower": 0, "value": 1, "upper": 0}]}
    assert "returned 1, but it had to lie between 0 and 0" in v.explanation


def test_acknowledged_increment_missing_from_a_later_read() -> None:
    v = check(inv(0, "add", 2), ok(0, "add", 2), inv(1, "read"), ok(1, "read", 1))
    assert result(v) == (False, [("read-too-low", (2,))], [[2, 1, 2]], [[2, 1, 2]])
    assert v.details["error-ops"] == [2]


def test_interleaved_concurrent_reads_and_writes() -> None:
    v = check(
        inv(0, "read"), inv(1, "add", 1), inv(2, "read"), inv(3, "add", 2),
        inv(4, "read"), inv(5, "add", 4), inv(6, "read"), inv(7, "add", 8),
        inv(8, "read"),
        ok(0, "read", 6), ok(1, "add", 1), ok(2, "read", 0), ok(3, "add", 2),
        ok(4, "read", 3), ok(5, "add", 4), ok(6, "read", 100), ok(7, "add", 8),
        ok(8, "read", 15),
    )
    assert result(v) == (
        False, [("read-too-high", (6,))],
        [[0, 6, 15], [0, 0, 15], [0, 3, 15], [0, 100, 15], [0, 15, 15]], [[0, 100, 15]],
    )


def test_rolling_reads_and_writes() -> None:
    v = check(
        inv(0, "read"), inv(1, "add", 1), ok(0, "read", 0), inv(0, "read"),
        ok(1, "add", 1), inv(1, "add", 2), ok(0, "read", 3), inv(0, "read"),
        ok(1, "add", 2), ok(0, "read", 5),
    )
    assert result(v) == (False, [("read-too-high", (7,))],
                         [[0, 0, 1], [0, 3, 3], [1, 5, 3]], [[1, 5, 3]])


def test_decrements_mirror_the_bounds() -> None:
    # 10 acknowledged, then -3 pending: a read may return 7 or 10 (it may run before or
    # after the decrement), even one that ends after the decrement is acknowledged.
    rows = [inv(0, "add", 10), ok(0, "add", 10), inv(0, "add", -3), inv(1, "read")]
    assert result(check(*rows, ok(1, "read", 10))) == (True, [], [[7, 10, 10]], [])
    assert result(check(*rows, ok(0, "add", -3), ok(1, "read", 7))) == (
        True, [], [[7, 7, 10]], [])
    # A read begun after the decrement was acknowledged must see it.
    v = check(*rows, ok(0, "add", -3), ok(1, "read", 10), inv(1, "read"), ok(1, "read", 10))
    assert result(v) == (False, [("read-too-high", (6,))],
                         [[7, 10, 10], [7, 10, 7]], [[7, 10, 7]])
    assert result(check(*rows, ok(1, "read", 6))) == (
        False, [("read-too-low", (3,))], [[7, 6, 10]], [[7, 6, 10]])


def test_a_read_of_a_non_number_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="carries a number"):
        check(inv(0, "read"), ok(0, "read", [1]))
