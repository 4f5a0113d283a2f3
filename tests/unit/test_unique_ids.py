"""The unique-ids checker on tiny literal histories, named by situation."""

from __future__ import annotations

from typing import Any

from labrys.checkers import CheckOptions
from labrys.checkers._unique_ids import check_unique_ids
from tests.unit.op_rows import Row, history, summary


def generate(p: int, result: Any, outcome: str = "ok") -> tuple[Row, Row]:
    return (p, "invoke", "generate", None), (p, outcome, "generate", result)


def test_distinct_ids() -> None:
    v = check_unique_ids(history(*generate(0, 3), *generate(1, 1), *generate(0, None, "info"),
                                 *generate(1, None, "fail")), CheckOptions())
    assert summary(v) == (True, [])
    assert v.details == {"attempted-count": 4, "acknowledged-count": 2,
                         "duplicated-count": 0, "duplicated": [], "range": [1, 3]}


def test_the_same_id_handed_out_twice() -> None:
    v = check_unique_ids(history(*generate(0, 1), *generate(1, 2), *generate(0, 1),
                                 *generate(1, 1), *generate(0, 2)), CheckOptions())
    assert summary(v) == (False, [("duplicated-id", (0, 2, 4, 6, 8))])
    assert v.details == {"attempted-count": 5, "acknowledged-count": 5,
                         "duplicated-count": 2, "duplicated": [[1, 3], [2, 2]],
                         "range": [1, 2]}
    assert v.anomalies[0].data == {"ids": [{"id": 1, "count": 3, "ops": [0, 4, 6]},
                                           {"id": 2, "count": 2, "ops": [2, 8]}]}
    assert "1 3 times (ops 0, 4, 6)" in v.explanation


def test_no_ids_at_all() -> None:
    v = check_unique_ids(history(*generate(0, None, "fail")), CheckOptions())
    assert summary(v) == ("unknown", [])
    assert v.details == {"attempted-count": 1, "nothing_to_judge": True}
