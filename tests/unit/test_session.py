"""Session guarantees on tiny literal histories, one situation per test.

Histories are written one op per string, each op invoked and completed at once, so the
op on line k has index 2k (real time plays no part in these checkers):

    "p0 w 1"            process 0 writes 1 to the register (ok)
    "p1 r nil"          process 1 reads the initial value
    "p2 cas 1 2"        compare-and-set from 1 to 2
    "p0 w x 1"          with `kv`: write 1 to key x
    "p1 txn r:y:2 r:x:nil"   a transaction: read y = 2 and x = nil in one state
    "p3 w 5 info"       a trailing ``info`` or ``fail`` sets the completion's type
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from labrys.checkers import CheckOptions, Verdict
from labrys.checkers._session import (
    MR,
    MW,
    RYW,
    WFR,
    check_monotonic_reads,
    check_monotonic_writes,
    check_read_your_writes,
    check_session,
    check_writes_follow_reads,
)
from labrys.errors import HistoryError
from labrys.history import History

_TYPES = ("ok", "info", "fail")


def _value(token: str) -> Any:
    if token == "nil":
        return None
    try:
        return int(token)
    except ValueError:
        return token


def _op(line: str, *, keyed: bool) -> list[dict[str, Any]]:
    words = line.split()
    type_ = words.pop() if words[-1] in _TYPES else "ok"
    process, f, args = int(words[0][1:]), words[1], words[2:]
    if f == "txn":
        mops = [[m.split(":")[0], m.split(":")[1], _value(m.split(":")[2])] for m in args]
        invoked: Any = [[m[0], m[1], None if m[0] == "r" else m[2]] for m in mops]
        completed: Any = mops if type_ == "ok" else invoked
    else:
        key = args.pop(0) if keyed else None
        vals = [_value(a) for a in args]
        if f == "r":
            invoked, completed = None, (vals[0] if type_ == "ok" else None)
        elif f == "w":
            invoked = completed = vals[0]
        elif f == "cas":
            invoked = completed = vals
        else:
            invoked = completed = vals[0] if vals else None
        if keyed:
            invoked, completed = [key, invoked], [key, completed]
        f = {"r": "read", "w": "write"}.get(f, f)
    return [{"process": process, "type": "invoke", "f": f, "value": invoked},
            {"process": process, "type": type_, "f": f, "value": completed}]


def reg(*lines: str) -> History:
    """A single-register history in the notation of this module's docstring."""
    return History.from_records(
        (None, r) for line in lines for r in _op(line, keyed=False))


def kv(*lines: str) -> History:
    """A key-value history (Jepsen's ``[key value]`` ops, and transactions)."""
    return History.from_records(
        (None, r) for line in lines for r in _op(line, keyed=True))


Result = dict[str, tuple[Any, list[tuple[str, tuple[int, ...]]]]]

CHECKS = {RYW: check_read_your_writes, MR: check_monotonic_reads,
          MW: check_monotonic_writes, WFR: check_writes_follow_reads}


def verdicts(h: History, **options: Any) -> Result:
    """Each guarantee's validity and ``(kind, ops)`` anomalies."""
    out = {}
    for name, check in CHECKS.items():
        v = check(h, CheckOptions(**options))
        assert json.loads(json.dumps(v.to_json())) == v.to_json()
        out[name] = (v.valid, [(a.kind, a.ops) for a in v.anomalies])
    return out


def only(guarantee: str, *ops: int) -> Result:
    """The expected result: ``guarantee`` violated once with ``ops``, the others hold."""
    return {g: ((False, [(g, ops)]) if g == guarantee else (True, [])) for g in CHECKS}


ALL_HOLD = {g: (True, []) for g in CHECKS}


def explanation(check: Any, h: History, **options: Any) -> str:
    v: Verdict = check(h, CheckOptions(**options))
    return v.anomalies[0].explanation


# -- read your writes ----------------------------------------------------------------


def test_reading_the_initial_value_after_ones_own_write_breaks_only_read_your_writes() -> None:
    h = reg("p0 w 1", "p0 r nil")
    assert verdicts(h) == only(RYW, 0, 2)
    assert explanation(check_read_your_writes, h) == (
        "process 0 wrote 1 (op 0) and then read nil (op 2), the initial value, as if its "
        "write had never happened.")


def test_reading_another_processs_write_after_ones_own_holds() -> None:
    # Nothing orders 1 before 2, so 2 may be the newer version.
    assert verdicts(reg("p0 w 1", "p1 w 2", "p0 r 2")) == ALL_HOLD


def test_reading_an_older_own_write_implicates_read_your_writes_and_monotonic_writes() -> None:
    # The example: 5 precedes 7 because process 3 wrote them in that order.
    h = reg("p3 w 5", "p3 w 7", "p3 r 5")
    result = verdicts(h)
    assert result[RYW] == (False, [(RYW, (0, 2, 4))])
    assert result[MW] == (False, [(MW, (0, 2, 4))])
    assert result[MR] == result[WFR] == (True, [])
    assert explanation(check_read_your_writes, h) == (
        "process 3 wrote 7 (op 2) and then read 5 (op 4), a value older than its own write: "
        "process 3 wrote 5 (op 0) and then wrote 7 (op 2).")


def test_a_cas_orders_the_value_it_replaced_before_the_one_it_wrote() -> None:
    h = reg("p0 w 1", "p1 cas 1 2", "p1 r 1")
    assert verdicts(h) == only(RYW, 2, 4)
    assert explanation(check_read_your_writes, h).endswith(
        "a value older than its own write: op 2 (process 1) read 1 and replaced it with 2.")


# -- monotonic reads -----------------------------------------------------------------


def test_reading_the_initial_value_after_a_write_breaks_only_monotonic_reads() -> None:
    h = reg("p0 w 1", "p1 r 1", "p1 r nil")
    assert verdicts(h) == only(MR, 0, 2, 4)
    assert explanation(check_monotonic_reads, h) == (
        "process 1 read 1 (op 2) and then read nil (op 4), the initial value, after it had "
        "already seen a write.")


def test_reads_that_move_forward_hold() -> None:
    assert verdicts(reg("p0 w 1", "p0 w 2", "p1 r 1", "p1 r 2", "p1 r 2")) == ALL_HOLD


def test_reads_that_go_back_in_two_sessions_contradict_each_other() -> None:
    # Each session alone is monotonic under some order; together no order works.
    h = reg("p0 w 1", "p1 w 2", "p2 r 1", "p2 r 2", "p3 r 2", "p3 r 1")
    result = verdicts(h)
    assert result[MR][0] is False
    assert {kind for kind, _ in result[MR][1]} == {MR}
    assert result[RYW] == result[MW] == result[WFR] == (True, [])


def test_seeing_a_sessions_writes_out_of_order_implicates_both_monotonic_guarantees() -> None:
    # Either process 1's reads went back, or process 0's writes were applied out of
    # order: one register cannot tell, so both guarantees report the cycle.
    h = reg("p0 w 1", "p0 w 2", "p1 r 2", "p1 r 1")
    result = verdicts(h)
    assert result[MR] == (False, [(MR, (0, 2, 4, 6))])
    assert result[MW] == (False, [(MW, (0, 2, 4, 6))])
    assert explanation(check_monotonic_writes, h) == (
        "process 0 wrote 1 (op 0) and then wrote 2 (op 2), yet 2 is ordered before 1: "
        "process 1 read 2 (op 4) and then read 1 (op 6).")


# -- monotonic writes ----------------------------------------------------------------


def test_a_state_with_a_later_write_but_not_an_earlier_one_breaks_only_monotonic_writes() -> None:
    h = kv("p0 w x 1", "p0 w y 2", "p1 txn r:y:2 r:x:nil")
    assert verdicts(h) == only(MW, 0, 2, 4)
    assert explanation(check_monotonic_writes, h) == (
        "process 0 wrote 1 to x (op 0) and then wrote 2 to y (op 2), yet op 4 (process 1) "
        "read y = 2 together with x = nil, the initial value: it saw the later write "
        "without the write before it.")


def test_a_state_with_both_writes_holds() -> None:
    assert verdicts(kv("p0 w x 1", "p0 w y 2", "p1 txn r:y:2 r:x:1")) == ALL_HOLD


def test_separate_reads_are_separate_states() -> None:
    # Without one state holding both keys, y = 2 then x = nil may come from two servers.
    assert verdicts(kv("p0 w x 1", "p0 w y 2", "p1 r y 2", "p1 r x nil")) == ALL_HOLD


# -- writes follow reads -------------------------------------------------------------


def test_a_state_with_a_write_but_not_what_it_followed_breaks_only_writes_follow_reads() -> None:
    h = kv("p0 w x 1", "p1 r x 1", "p1 w y 2", "p2 txn r:y:2 r:x:nil")
    assert verdicts(h) == only(WFR, 0, 2, 4, 6)
    assert explanation(check_writes_follow_reads, h) == (
        "process 1 read x = 1 (op 2) and then wrote 2 to y (op 4), yet op 6 (process 2) "
        "read y = 2 together with x = nil, the initial value: it saw the later write "
        "without what it followed.")


def test_a_state_with_the_write_and_what_it_followed_holds() -> None:
    assert verdicts(kv("p0 w x 1", "p1 r x 1", "p1 w y 2", "p2 txn r:y:2 r:x:1")) == ALL_HOLD


def test_two_sessions_each_writing_after_reading_the_others_write() -> None:
    h = reg("p0 r 2", "p0 w 1", "p1 r 1", "p1 w 2")
    assert verdicts(h)[WFR][0] is False
    assert {g: r[0] for g, r in verdicts(h).items() if g != WFR} == {RYW: True, MR: True,
                                                                      MW: True}
    assert explanation(check_writes_follow_reads, h) == (
        "process 0 read 2 (op 0) and then wrote 1 (op 2), yet 1 is ordered before 2: "
        "process 1 read 1 (op 4) and then wrote 2 (op 6).")


def test_reading_ones_own_future_write() -> None:
    h = reg("p0 r 5", "p0 w 5")
    assert verdicts(h) == only(WFR, 0, 2)
    assert explanation(check_writes_follow_reads, h) == (
        "process 0 read 5 (op 0) before it wrote 5 (op 2) itself: it read its own future "
        "write.")


# -- all four ------------------------------------------------------------------------


def test_session_reports_each_guarantee_and_every_contradiction_once() -> None:
    v = check_session(reg("p0 w 1", "p0 w 2", "p1 r 2", "p1 r 1", "p1 r 9"),
                      CheckOptions())
    assert v.valid is False
    assert [c.checker for c in v.children] == [RYW, MR, MW, WFR]
    assert [c.valid for c in v.children] == [False, False, False, False]
    assert [(a.kind, a.ops) for a in v.anomalies] == [
        ("thin-air-read", (8,)), (MR, (0, 2, 4, 6)), (MW, (0, 2, 4, 6))]
    assert v.details == {"violated": [RYW, MR, MW, WFR],
                         "violations": {RYW: 0, MR: 1, MW: 1, WFR: 0}}


def test_session_holds_on_a_sequential_history() -> None:
    v = check_session(reg("p0 w 1", "p1 r 1", "p1 w 2", "p0 r 2", "p2 cas 2 3", "p2 r 3"),
                      CheckOptions())
    assert (v.valid, v.anomalies, [c.valid for c in v.children]) == (True, (), [True] * 4)


# -- what counts ---------------------------------------------------------------------


def test_repeated_values_make_a_key_unjudgeable() -> None:
    h = reg("p0 w 1", "p1 w 1", "p0 r nil")
    v = check_read_your_writes(h, CheckOptions())
    assert (v.valid, v.anomalies, v.details["unjudged-keys"]) == ("unknown", (), [None])
    assert v.explanation == (
        "Written values are not unique, so reads of them cannot be attributed to one write "
        "and these keys were not judged: the register: value 1 is written by ops 0, 2.")


def test_a_violation_on_another_key_beats_an_unjudgeable_one() -> None:
    h = kv("p0 w x 1", "p1 w x 1", "p0 w y 5", "p0 r y nil")
    assert verdicts(h)[RYW] == (False, [(RYW, (4, 6))])


def test_a_write_of_the_initial_value_is_ambiguous() -> None:
    v = check_read_your_writes(reg("p0 w 0", "p1 r 0"), CheckOptions(init=0))
    assert v.valid == "unknown"


def test_the_initial_value_comes_from_options() -> None:
    assert verdicts(reg("p0 w 1", "p0 r 0"), init=0) == only(RYW, 0, 2)


def test_reads_of_values_nobody_wrote_fit_no_order() -> None:
    h = reg("p0 w 1 fail", "p1 r 1", "p2 r 7")
    for check in CHECKS.values():
        v = check(h, CheckOptions())
        assert v.valid is False
        assert [(a.kind, a.ops) for a in v.anomalies] == [("thin-air-read", (4,)),
                                                          ("aborted-read", (2,))]
    assert v.anomalies[1].explanation == (
        "process 1 read 1 (op 2), which only a failed write wrote (op 0 failed): no order of "
        "versions can explain such a read.")
    assert v.anomalies[1].data["failed-writes"] == [0]


def test_an_indeterminate_write_that_was_read_happened() -> None:
    assert verdicts(reg("p0 w 1 info", "p1 r 1", "p1 r nil")) == only(MR, 0, 2, 4)


def test_an_indeterminate_write_ends_its_session() -> None:
    # The write may take effect after the read, so the read may miss it.
    h = reg("p0 w 1 info", "p0 r nil", "p0 w 2", "p0 r 2")
    assert verdicts(h) == ALL_HOLD


def test_a_process_carrying_on_after_an_indeterminate_op_is_a_new_session() -> None:
    h = reg("p0 w 1 info", "p1 r 1", "p0 w 2", "p0 r nil")
    v = check_read_your_writes(h, CheckOptions())
    assert v.anomalies[0].explanation.startswith(
        "process 0 (after op 0 was left indeterminate) wrote 2 (op 4) and then read nil")


def test_an_indeterminate_cas_that_was_read_also_read_its_old_value() -> None:
    # Op 4 happened (op 6 read 3), so it read 2 after process 1 had written 5.
    h = reg("p1 w 2", "p1 w 5", "p1 cas 2 3 info", "p2 r 3")
    assert verdicts(h)[MW] == (False, [(MW, (0, 2, 4))])


def test_failed_and_unfinished_reads_say_nothing() -> None:
    assert verdicts(reg("p0 w 1", "p0 r 7 fail", "p0 r 8 info", "p0 w 2", "p0 r 2")) == ALL_HOLD


def test_keys_are_independent() -> None:
    assert verdicts(kv("p0 w x 1", "p0 w y 1", "p1 r x 1", "p1 r y nil")) == ALL_HOLD


def test_an_op_that_is_not_a_register_op_is_refused() -> None:
    with pytest.raises(HistoryError, match=r"op 0 \(add 1\) is neither a read"):
        check_read_your_writes(reg("p0 add 1"), CheckOptions())


def test_anomaly_data_spells_out_the_cycle() -> None:
    v = check_read_your_writes(reg("p3 w 5", "p3 w 7", "p3 r 5"), CheckOptions())
    assert v.anomalies[0].data == {
        "key": None, "process": 3,
        "cycle": [{"kind": RYW, "from": 7, "to": 5, "ops": [2, 4]},
                  {"kind": MW, "from": 5, "to": 7, "ops": [0, 2]}]}
    assert v.details == {"guarantee": RYW, "violations": 1, "sessions": 1, "reads": 1,
                         "writes": 2}


def test_compare_and_set_loops_break_monotonic_writes_alone_on_one_register() -> None:
    # Process 0's cas read 3, which process 1 wrote after reading the 2 that process 0
    # wrote after its cas: versions 1 < 2 (MW) < 3 < 1 (each cas), a causal loop.
    h = reg("p0 cas 3 1", "p0 w 2", "p1 cas 2 3")
    assert verdicts(h) == only(MW, 0, 2, 4)
    assert explanation(check_monotonic_writes, h) == (
        "process 0 wrote 1 (op 0) and then wrote 2 (op 2), yet 2 is ordered before 1: "
        "op 4 (process 1) read 2 and replaced it with 3; op 0 (process 0) read 3 and "
        "replaced it with 1.")


def test_transaction_histories_name_their_keys() -> None:
    h = kv("p0 txn w:x:1", "p0 txn w:y:2", "p1 txn r:y:2 r:x:nil")
    assert verdicts(h) == only(MW, 0, 2, 4)
    assert explanation(check_monotonic_writes, h).startswith(
        "process 0 wrote 1 to x (op 0) and then wrote 2 to y (op 2), yet op 4")


def test_get_and_put_are_key_value_reads_and_writes() -> None:
    h = History.from_records((None, r) for r in [
        {"process": 0, "type": "invoke", "f": "put", "value": ["k", 1]},
        {"process": 0, "type": "ok", "f": "put", "value": ["k", 1]},
        {"process": 0, "type": "invoke", "f": "get", "value": ["k", None]},
        {"process": 0, "type": "ok", "f": "get", "value": ["k", None]}])
    assert verdicts(h) == only(RYW, 0, 2)
    assert explanation(check_read_your_writes, h).startswith(
        "process 0 wrote 1 to k (op 0) and then read k = nil (op 2)")
