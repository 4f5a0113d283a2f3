"""The long-fork checker on tiny literal histories, named by situation.

Reads are written as strings over one group: ``"1_"`` reads keys 0 and 1 with 0
inserted and 1 absent. Writes insert one key each, as Jepsen's workload does.
"""

from __future__ import annotations

import pytest

from labrys.checkers import UNKNOWN, CheckOptions
from labrys.checkers._long_fork import check_long_fork
from labrys.errors import HistoryError
from tests.unit.op_rows import Row, history, summary


def write(p: int, key: int) -> tuple[Row, Row]:
    txn = [["w", key, 1]]
    return (p, "invoke", "write", txn), (p, "ok", "write", txn)


def read(p: int, seen: str, first_key: int = 0) -> tuple[Row, Row]:
    """A read of keys first_key… in order; ``1`` marks a key seen inserted, ``_`` absent."""
    keys = range(first_key, first_key + len(seen))
    return ((p, "invoke", "read", [["r", k, None] for k in keys]),
            (p, "ok", "read", [["r", k, 1 if c == "1" else None] for k, c in zip(keys, seen,
                                                                                strict=True)]))


def test_reads_that_grow_one_insert_at_a_time() -> None:
    v = check_long_fork(history(
        *read(0, "__"), *write(1, 0), *read(0, "1_"), *write(1, 1), *read(0, "11"),
        *read(2, "1_"),
    ), CheckOptions(group_size=2))
    assert summary(v) == (True, [])
    assert v.details == {"reads-count": 4, "early-read-count": 1, "late-read-count": 1,
                         "group-size": 2, "group-size-inferred": False, "group-count": 1,
                         "fork-count": 0}


def test_two_reads_see_two_inserts_in_opposite_orders() -> None:
    # elle-cli's long-fork history: keys 0 1 2, one read sees 0 and 1, the other 0 and 2.
    v = check_long_fork(history(*read(0, "11_"), *read(0, "1_1")),
                        CheckOptions(group_size=3))
    assert summary(v) == (False, [("long-fork", (0, 2))])
    assert v.anomalies[0].data == {"forks": [
        {"reads": [0, 2], "only-first": [1], "only-second": [2], "read-pairs": 1}]}
    assert "saw key(s) 1 inserted but not 2" in v.explanation
    assert v.details["fork-count"] == 1


def test_forks_are_counted_per_pair_of_reads() -> None:
    v = check_long_fork(history(*read(0, "1_"), *read(1, "1_"), *read(0, "_1")),
                        CheckOptions(group_size=2))
    assert summary(v) == (False, [("long-fork", (0, 4))])
    assert v.details["fork-count"] == 2


def test_groups_are_judged_apart() -> None:
    # Each group alone is a chain; across groups nothing is compared.
    v = check_long_fork(history(*read(0, "1_", 0), *read(0, "_1", 2)), CheckOptions())
    assert summary(v) == (True, [])
    assert v.details["group-count"] == 2
    assert v.details["group-size-inferred"] is True


def test_one_key_written_twice_is_unknown() -> None:
    v = check_long_fork(history(*write(0, 5), *write(1, 5)), CheckOptions(group_size=2))
    assert summary(v) == (UNKNOWN, [])
    assert v.details == {"multiple-writes": 5}


def test_one_key_read_with_two_values_is_unknown() -> None:
    rows = (*read(0, "1_"), (0, "invoke", "read", [["r", 0, None], ["r", 1, None]]),
            (0, "ok", "read", [["r", 0, 2], ["r", 1, None]]))
    v = check_long_fork(history(*rows), CheckOptions(group_size=2))
    assert summary(v) == (UNKNOWN, [])
    assert "read as 1 (op 0) and as 2 (op 2)" in v.explanation


def test_a_read_of_the_wrong_number_of_keys_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="group size is 3"):
        check_long_fork(history(*read(0, "11")), CheckOptions(group_size=3))
