"""The bank checker on tiny literal histories, named by situation.

Errors and their order follow Jepsen's ``jepsen.tests.bank`` (as elle-cli runs it:
the total and accounts inferred from the first read unless given).
"""

from __future__ import annotations

from typing import Any

import pytest

from labrys.checkers import UNKNOWN, CheckOptions
from labrys.checkers._bank import check_bank
from labrys.errors import HistoryError
from tests.unit.op_rows import Row, history, summary


def read(p: int, balances: Any) -> tuple[Row, Row]:
    return (p, "invoke", "read", None), (p, "ok", "read", balances)


def transfer(p: int, src: int, dst: int, amount: int, outcome: str = "ok") -> tuple[Row, Row]:
    value = {"from": src, "to": dst, "amount": amount}
    return (p, "invoke", "transfer", value), (p, outcome, "transfer", value)


def test_transfers_that_conserve_the_total() -> None:
    v = check_bank(history(
        *read(0, {0: 10, 1: 0}), *transfer(1, 0, 1, 4), *read(0, {0: 6, 1: 4}),
        *transfer(1, 1, 0, 9, "fail"), *read(0, {0: 6, 1: 4}),
    ), CheckOptions())
    assert summary(v) == (True, [])
    assert v.details == {"read-count": 3, "error-count": 0, "total": 10, "accounts": [0, 1],
                         "negative-balances": False, "errors": {}}


def test_a_read_that_sums_to_the_wrong_total() -> None:
    v = check_bank(history(
        *read(0, {0: 10, 1: 0}), *read(0, {0: 10, 1: 4}), *read(0, {0: 3, 1: 4}),
    ), CheckOptions())
    assert summary(v) == (False, [("wrong-total", (2, 4))])
    errors = v.details["errors"]["wrong-total"]
    assert errors["count"] == 2
    assert errors["first"] == {"type": "wrong-total", "op": 2, "value": {"0": 10, "1": 4},
                               "total": 14}
    assert errors["worst"]["op"] == errors["highest"]["op"] == 2  # 40% off beats 30%
    assert errors["lowest"]["op"] == errors["last"]["op"] == 4
    assert v.details["first-error"]["op"] == 2
    assert "sums to 14 instead of 10" in v.explanation


def test_negative_balance_is_invalid_unless_allowed() -> None:
    rows = (*read(0, {0: 10, 1: 0}), *read(0, {0: 11, 1: -1}))
    v = check_bank(history(*rows), CheckOptions())
    assert summary(v) == (False, [("negative-value", (2,))])
    assert v.details["errors"]["negative-value"]["first"]["negative"] == [-1]
    assert summary(check_bank(history(*rows), CheckOptions(negative_balances=True))) == (
        True, [])


def test_an_account_no_one_created() -> None:
    v = check_bank(history(*read(0, {0: 10, 1: 0}), *read(0, {0: 10, 1: 0, 2: 0})),
                   CheckOptions())
    assert summary(v) == (False, [("unexpected-key", (2,))])
    assert v.details["errors"]["unexpected-key"]["first"]["unexpected"] == [2]


def test_a_missing_balance_is_reported_before_the_total() -> None:
    v = check_bank(history(*read(0, {0: 10, 1: 0}), *read(0, {0: 10, 1: None})),
                   CheckOptions())
    assert summary(v) == (False, [("nil-balance", (2,))])


def test_json_string_keys_name_the_same_accounts() -> None:
    v = check_bank(history(*read(0, {"0": 10, "1": 0}), *read(0, {0: 5, "1": 5})),
                   CheckOptions())
    assert summary(v) == (True, [])
    assert v.details["accounts"] == [0, 1]


def test_given_total_and_accounts_override_the_first_read() -> None:
    options = CheckOptions(extra={"total_amount": 100, "accounts": [0, 1, 2]})
    v = check_bank(history(*read(0, {0: 10, 1: 0})), options)
    assert summary(v) == (False, [("wrong-total", (0,))])


def test_first_read_with_a_null_balance_leaves_the_total_unknown() -> None:
    v = check_bank(history(*read(0, {0: None, 1: 0})), CheckOptions())
    assert summary(v) == (UNKNOWN, [])
    assert "total" in v.explanation


def test_no_reads_leave_nothing_to_judge() -> None:
    v = check_bank(history(*transfer(0, 0, 1, 1)), CheckOptions())
    assert summary(v) == ("unknown", []) and v.details["nothing_to_judge"] is True


def test_a_read_that_is_not_a_map_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="map from account"):
        check_bank(history(*read(0, [10, 0])), CheckOptions())
