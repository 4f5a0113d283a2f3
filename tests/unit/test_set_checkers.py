"""The set and set-full checkers on tiny literal histories.

Cases follow Jepsen's ``checker_test.clj`` (``set-full-test``) by situation; ops are
1 ms apart, as Jepsen's test helper spaces them, so latencies come out in whole ms.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers import UNKNOWN, CheckOptions, Verdict
from labrys.checkers._set import _fates, check_set, check_set_full, compact
from labrys.errors import HistoryError
from labrys.history import History, Op, OpType
from tests.unit.op_rows import Row, fail, info, inv, ok, summary
from tests.unit.op_rows import history as _history


def history(*rows: Row) -> History:
    """Op i at time i ms, so latencies come out in whole milliseconds."""
    return _history(*rows, tick_ns=1_000_000)


# -- set -------------------------------------------------------------------------------


def test_set_never_read_is_unknown() -> None:
    v = check_set(history(inv(0, "add", 0), ok(0, "add", 0)), CheckOptions())
    assert summary(v) == (UNKNOWN, [])
    assert "no successful read of the set" in v.explanation
    assert v.details == {"attempt-count": 1, "acknowledged-count": 1, "nothing_to_judge": True}


def test_set_every_acknowledged_add_in_final_read() -> None:
    # 0 acknowledged, 1 indeterminate but present (recovered), 2 failed and absent.
    v = check_set(history(
        inv(0, "add", 0), ok(0, "add", 0),
        inv(1, "add", 1), info(1, "add", 1),
        inv(2, "add", 2), fail(2, "add", 2),
        inv(3, "read"), ok(3, "read", [0, 1]),
    ), CheckOptions())
    assert summary(v) == (True, [])
    assert v.details == {
        "attempt-count": 3, "acknowledged-count": 1, "ok-count": 2, "lost-count": 0,
        "recovered-count": 1, "unexpected-count": 0, "ok": "#{0 1}", "lost": "#{}",
        "unexpected": "#{}", "recovered": "#{1}", "final-read": 6,
    }


def test_set_acknowledged_add_missing_from_final_read_is_lost() -> None:
    v = check_set(history(
        inv(0, "add", 0), ok(0, "add", 0),
        inv(0, "add", 1), ok(0, "add", 1),
        inv(1, "read"), ok(1, "read", [1]),
    ), CheckOptions())
    assert summary(v) == (False, [("lost", (0, 4))])
    assert v.anomalies[0].data == {"elements": [0], "final-read": 4}
    assert v.details["lost"] == "#{0}"
    assert v.details["lost-count"] == 1


def test_set_element_never_added_is_unexpected() -> None:
    v = check_set(history(
        inv(0, "add", 0), ok(0, "add", 0),
        inv(1, "read"), ok(1, "read", [0, 9]),
    ), CheckOptions())
    assert summary(v) == (False, [("unexpected", (2,))])
    assert v.anomalies[0].data == {"elements": [9]}
    assert "no one ever tried to add" in v.explanation


def test_set_only_the_last_read_to_complete_counts() -> None:
    # Process 1's read misses 0 but completes before process 2's, which sees it.
    v = check_set(history(
        inv(0, "add", 0), ok(0, "add", 0),
        inv(2, "read"), inv(1, "read"), ok(1, "read", []), ok(2, "read", [0]),
    ), CheckOptions())
    assert summary(v) == (True, [])
    assert v.details["final-read"] == 2


def test_set_list_elements_compare_by_value() -> None:
    v = check_set(history(
        inv(0, "add", [0, 1]), ok(0, "add", [0, 1]),
        inv(1, "read"), ok(1, "read", [[0, 1]]),
    ), CheckOptions())
    assert summary(v) == (True, [])


def test_set_read_of_a_non_collection_is_a_history_error() -> None:
    with pytest.raises(HistoryError, match="collection"):
        check_set(history(inv(0, "read"), ok(0, "read", 3)), CheckOptions())


def test_compact_prints_runs_as_jepsen_does() -> None:
    assert compact([5, 0, 1, 2, 3, 7, 8]) == "#{0..3 5 7 8}"
    assert compact(["a", (0, 1)]) == '#{"a" [0, 1]}'
    assert compact([]) == "#{}"


# -- set-full: Jepsen's cases ---------------------------------------------------------------

A, A_OK = inv(0, "add", 0), ok(0, "add", 0)
R, R_SEEN, R_MISSED = inv(1, "read"), ok(1, "read", [0]), ok(1, "read", [])


def _outcomes(v: Verdict) -> dict[str, Any]:
    keys = ("stable-count", "lost-count", "lost", "never-read-count", "never-read",
            "stale-count", "stale", "duplicated-count")
    return {k: v.details[k] for k in keys}


NEVER_READ = {"stable-count": 0, "lost-count": 0, "lost": "#{}", "never-read-count": 1,
              "never-read": "#{0}", "stale-count": 0, "stale": "#{}", "duplicated-count": 0}


def test_set_full_never_read() -> None:
    v = check_set_full(history(A, A_OK), CheckOptions())
    assert summary(v) == (UNKNOWN, [])
    assert _outcomes(v) == NEVER_READ
    assert "stable-latencies" not in v.details


def test_set_full_never_confirmed_never_read() -> None:
    v = check_set_full(history(A, R, R_MISSED), CheckOptions())
    assert summary(v) == (UNKNOWN, [])
    assert _outcomes(v) == NEVER_READ


@pytest.mark.parametrize("rows", [
    pytest.param((R, A, R_SEEN, A_OK), id="concurrent read before"),
    pytest.param((R, A, A_OK, R_SEEN), id="concurrent read outside"),
    pytest.param((A, R, R_SEEN, A_OK), id="concurrent read inside"),
    pytest.param((A, R, A_OK, R_SEEN), id="concurrent read after"),
    pytest.param((A, A_OK, R, R_SEEN), id="subsequent read"),
])
def test_set_full_successful_read_either_concurrently_or_after(rows: tuple[Row, ...]) -> None:
    v = check_set_full(history(*rows), CheckOptions())
    assert summary(v) == (True, [])
    assert _outcomes(v) == {**NEVER_READ, "stable-count": 1, "never-read-count": 0,
                            "never-read": "#{}"}
    assert v.details["stable-latencies"] == {"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0}


def test_set_full_absent_read_after_is_lost() -> None:
    v = check_set_full(history(A, A_OK, R, R_MISSED), CheckOptions())
    assert summary(v) == (False, [("lost", (0, 2))])
    assert _outcomes(v) == {**NEVER_READ, "lost-count": 1, "lost": "#{0}",
                            "never-read-count": 0, "never-read": "#{}"}
    assert v.details["lost-latencies"] == {"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0}


@pytest.mark.parametrize("rows", [
    pytest.param((R, A, R_MISSED, A_OK), id="read before"),
    pytest.param((R, A, A_OK, R_MISSED), id="read outside"),
    pytest.param((A, R, R_MISSED, A_OK), id="read inside"),
    pytest.param((A, R, A_OK, R_MISSED), id="read after"),
])
def test_set_full_absent_read_concurrently_is_never_read(rows: tuple[Row, ...]) -> None:
    # A read that overlapped the add may have run before it: no evidence of loss.
    v = check_set_full(history(*rows), CheckOptions())
    assert summary(v) == (UNKNOWN, [])
    assert _outcomes(v) == NEVER_READ


A0, A0_OK, A1, A1_OK = inv(0, "add", 0), ok(0, "add", 0), inv(1, "add", 1), ok(1, "add", 1)
R2, R3 = inv(2, "read"), inv(3, "read")


def test_set_full_write_present_missing() -> None:
    # 0 and 1 added concurrently; 1 read before its add completes; then both, 0, nothing.
    v = check_set_full(history(
        A0, A1, R2, ok(2, "read", [1]), A0_OK, A1_OK, R2, ok(2, "read", [0, 1]),
        R2, ok(2, "read", [0]), R2, ok(2, "read", []),
    ), CheckOptions())
    assert summary(v) == (False, [("lost", (0, 1, 2, 6, 8, 10))])
    assert _outcomes(v) == {**NEVER_READ, "lost-count": 2, "lost": "#{0 1}",
                            "never-read-count": 0, "never-read": "#{}"}
    assert v.details["lost-latencies"] == {"0": 3, "0.5": 4, "0.95": 4, "0.99": 4, "1": 4}


def test_set_full_write_flutter_stable_and_lost() -> None:
    # 1 is known at op 4 (a read saw it before its add completed), missed by the read
    # begun at 6, seen by the one begun at 7: stable but stale by 2 ms. 0 is last seen
    # by the read begun at 6 and missed by the one begun at 7: lost.
    rows = (A0, A0_OK, A1, R2, ok(2, "read", [1]), A1_OK, R2, R3, ok(3, "read", [1]),
            ok(2, "read", [0]))
    v = check_set_full(history(*rows), CheckOptions())
    assert summary(v) == (False, [("lost", (0, 6, 7))])
    assert _outcomes(v) == {"stable-count": 1, "lost-count": 1, "lost": "#{0}",
                            "never-read-count": 0, "never-read": "#{}", "stale-count": 1,
                            "stale": "#{1}", "duplicated-count": 0}
    assert v.details["worst-stale"] == [{
        "element": 1, "outcome": "stable", "add": 2, "known": 4, "known-via": 3,
        "last-present": 7, "last-absent": 6, "stable-latency": 2, "lost-latency": None,
    }]
    assert v.details["stable-latencies"]["1"] == 2
    assert v.details["lost-latencies"]["1"] == 5
    assert v.anomalies[0].data["elements"][0]["lost-latency"] == 5


def test_set_full_stale_read_is_valid_unless_linearizable() -> None:
    rows = (A0, A0_OK, R2, ok(2, "read", []), R2, ok(2, "read", [0]))
    assert summary(check_set_full(history(*rows), CheckOptions())) == (True, [])
    v = check_set_full(history(*rows), CheckOptions(extra={"linearizable": True}))
    assert summary(v) == (False, [("stale", (0, 2, 4))])
    assert v.details["linearizable"] is True
    assert "linearizable" in v.explanation


def test_set_full_element_twice_in_one_read_is_duplicated() -> None:
    v = check_set_full(history(A0, A0_OK, R2, ok(2, "read", [0, 0])), CheckOptions())
    assert summary(v) == (False, [("duplicated", (2,))])
    assert v.details["duplicated"] == [[0, 2]]


# -- set-full against a direct transcription of Jepsen's reduction ---------------------------


def _reference_fates(h: History) -> dict[Any, tuple[str, int | None, int | None]]:
    """Jepsen's algorithm, element by read, O(elements × reads); tracking from each
    element's first add, as labrys documents."""
    state: dict[Any, dict[str, Op | None]] = {}
    for op in h:
        if op.f == "add":
            if op.type is OpType.INVOKE and op.value not in state:
                state[op.value] = {"known": None, "present": None, "absent": None}
            elif op.type is OpType.OK and state[op.value]["known"] is None:
                state[op.value]["known"] = op
        elif op.f == "read" and op.type is OpType.OK:
            invocation = h.invocation(op)
            for e, s in state.items():
                slot = "present" if e in op.value else "absent"
                if e in op.value and s["known"] is None:
                    s["known"] = op
                current = s[slot]
                if current is None or current.index < invocation.index:
                    s[slot] = invocation
    out = {}
    for e, s in state.items():
        known, present, absent = s["known"], s["present"], s["absent"]
        stable = present is not None and (absent is None or absent.index < present.index)
        lost = (known is not None and absent is not None
                and (present is None or present.index < absent.index)
                and known.index < absent.index)
        stable_ms = lost_ms = None
        if stable:
            assert known is not None
            stable_ms = max(0, (absent.time + 1 if absent else 0) - known.time) // 1_000_000
        if lost:
            assert known is not None
            lost_ms = max(0, (present.time + 1 if present else 0) - known.time) // 1_000_000
        out[e] = ("stable" if stable else "lost" if lost else "never-read", stable_ms, lost_ms)
    return out


@st.composite
def _set_histories(draw: st.DrawFn) -> History:
    """Random concurrent add/read histories over a few processes and elements."""
    rows: list[Row] = []
    open_ops: dict[int, Row] = {}
    next_element = 0
    for _ in range(draw(st.integers(0, 30))):
        p = draw(st.integers(0, 3))
        if p in open_ops:
            _, _, f, v = open_ops.pop(p)
            kind = draw(st.sampled_from(["ok", "ok", "info", "fail"]))
            if f == "read":
                seen = draw(st.lists(st.integers(0, max(next_element, 1)), unique=True))
                rows.append((p, "ok", "read", seen) if kind == "ok" else (p, kind, "read", None))
            else:
                rows.append((p, kind, "add", v))
        elif draw(st.booleans()):
            open_ops[p] = inv(p, "add", next_element)
            rows.append(open_ops[p])
            next_element += 1
        else:
            open_ops[p] = inv(p, "read")
            rows.append(open_ops[p])
    return history(*rows)


@settings(max_examples=300, deadline=None)
@given(_set_histories())
def test_set_full_agrees_with_jepsens_reduction(h: History) -> None:
    fates, _, _ = _fates(h)
    assert {f.element: (f.outcome, f.stable_latency_ms, f.lost_latency_ms)
            for f in fates} == _reference_fates(h)
