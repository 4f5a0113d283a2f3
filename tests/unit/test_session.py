"""Session guarantees on tiny literal histories, one situation per test.

Each guarantee is judged alone (does a server order keep it?) and ``session`` all four
at once, as Terry et al. (1994) define them; see `labrys.checkers._session`.

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


SESSION = "session"
CHECKS = {RYW: check_read_your_writes, MR: check_monotonic_reads,
          MW: check_monotonic_writes, WFR: check_writes_follow_reads, SESSION: check_session}
Result = dict[str, tuple[Any, list[tuple[str, tuple[int, ...]]]]]
T, F, U = True, False, "unknown"


def verdicts(h: History, **options: Any) -> Result:
    """Each guarantee's and ``session``'s validity and ``(kind, ops)`` anomalies."""
    out = {}
    for name, check in CHECKS.items():
        v = check(h, CheckOptions(**options))
        assert json.loads(json.dumps(v.to_json())) == v.to_json()
        out[name] = (v.valid, [(a.kind, a.ops) for a in v.anomalies])
    return out


def validity(h: History, **options: Any) -> dict[str, Any]:
    return {name: result[0] for name, result in verdicts(h, **options).items()}


def explanation(check: Any, h: History, **options: Any) -> str:
    """The last anomaly's explanation (after any reads no state explains)."""
    v: Verdict = check(h, CheckOptions(**options))
    return v.anomalies[-1].explanation


# -- the two examples --------------------------------------------------------


def test_writes_seen_out_of_order_by_their_own_session_break_only_the_pair() -> None:
    # Read your writes alone holds: the order may put 2 before 1, the read's state
    # holding both. Monotonic writes alone holds: 1 before 2, the state holding only 1.
    h = reg("p0 w 1", "p0 w 2", "p0 r 1")
    assert validity(h) == {RYW: T, MR: U, MW: T, WFR: U, SESSION: F}
    assert verdicts(h)[SESSION][1] == [(SESSION, (0, 2, 4))]
    v = check_session(h, CheckOptions())
    assert v.anomalies[0].data["guarantees"] == [RYW, MW]
    assert v.explanation == (
        "Each guarantee holds on its own, but no server order keeps all four session "
        "guarantees at once (judged across the whole database): 1 independent contradiction. "
        "process 0 wrote 1 (op 0) and then wrote 2 (op 2), yet 2 is ordered before 1: op 4 "
        "(process 0) read 1 from a state that held process 0's write of 2 (op 2): process 0 "
        "wrote 2 (op 2) → (read-your-writes) read 1 (op 4). It takes read-your-writes and "
        "monotonic-writes.")


def test_monotonic_reads_carry_a_whole_state_across_keys() -> None:
    # Process 1's second read's state holds y = 2 (monotonic reads), so also x = 1, which
    # process 0 wrote before y = 2 (monotonic writes): reading x = nil is impossible.
    h = kv("p0 w x 1", "p0 w y 2", "p1 r y 2", "p1 r x nil")
    assert validity(h) == {RYW: U, MR: U, MW: T, WFR: U, SESSION: F}
    v = check_session(h, CheckOptions())
    assert [(a.kind, a.ops) for a in v.anomalies] == [(SESSION, (0, 2, 4, 6))]
    assert v.anomalies[0].explanation == (
        "op 6 (process 1) read x = nil, the initial value, although its state held process "
        "0's write of 1 to x (op 0): process 0 wrote 1 to x (op 0) → (monotonic-writes) "
        "wrote 2 to y (op 2) → process 1 read y = 2 (op 4) → (monotonic-reads) read x = nil "
        "(op 6).")
    assert v.anomalies[0].data["guarantees"] == [MR, MW]
    assert v.details["reading"] == "whole-database"


def test_per_key_the_same_history_has_nothing_to_judge() -> None:
    h = kv("p0 w x 1", "p0 w y 2", "p1 r y 2", "p1 r x nil")
    v = check_session(h, CheckOptions(extra={"per_key": True}))
    assert (v.valid, v.anomalies, v.details["reading"]) == (U, (), "per-key")
    assert v.explanation.startswith(
        "Nothing to judge: the history has no session that did any of what the guarantees "
        "are about (judged per key)")


# -- read your writes ----------------------------------------------------------------


def test_reading_the_initial_value_after_ones_own_write_breaks_read_your_writes() -> None:
    h = reg("p0 w 1", "p0 r nil")
    assert verdicts(h) == {RYW: (F, [(RYW, (0, 2))]), MR: (U, []), MW: (U, []),
                           WFR: (U, []), SESSION: (F, [(SESSION, (0, 2))])}
    assert explanation(check_read_your_writes, h) == (
        "process 0 wrote 1 (op 0) and then read nil (op 2), the initial value, as if its "
        "write had never happened.")


def test_reading_another_processs_write_after_ones_own_holds() -> None:
    # Nothing orders 1 before 2, so 2 may be the newer version.
    assert validity(reg("p0 w 1", "p1 w 2", "p0 r 2"))[RYW] is True


def test_a_cas_orders_the_value_it_replaced_before_the_one_it_wrote() -> None:
    h = reg("p0 w 1", "p0 cas 1 2", "p0 r 1")
    assert verdicts(h)[RYW] == (F, [(RYW, (2, 4))])
    assert explanation(check_read_your_writes, h) == (
        "process 0 wrote 2 (op 2) and then read 1 (op 4), a value older than its own write: "
        "op 2 (process 0) read 1 and replaced it with 2.")


# -- monotonic reads -----------------------------------------------------------------


def test_reading_the_initial_value_after_a_write_breaks_monotonic_reads() -> None:
    h = reg("p0 w 1", "p1 r 1", "p1 r nil")
    assert verdicts(h)[MR] == (F, [(MR, (0, 2, 4))])
    assert validity(h) == {RYW: U, MR: F, MW: U, WFR: U, SESSION: F}
    assert explanation(check_monotonic_reads, h) == (
        "process 1 read 1 (op 2) and then read nil (op 4), the initial value, after it had "
        "already seen a write.")


def test_reads_that_move_forward_hold() -> None:
    assert validity(reg("p0 w 1", "p0 w 2", "p1 r 1", "p1 r 2", "p1 r 2")) == {
        RYW: U, MR: T, MW: T, WFR: U, SESSION: T}


def test_reads_that_go_back_in_two_sessions_contradict_each_other() -> None:
    # Each session alone is monotonic under some order; together no order works.
    h = reg("p0 w 1", "p1 w 2", "p2 r 1", "p2 r 2", "p3 r 2", "p3 r 1")
    assert verdicts(h)[MR] == (F, [(MR, (4, 6, 8, 10))])
    assert explanation(check_monotonic_reads, h) == (
        "process 2 read 1 (op 4) and then read 2 (op 6), an older value: process 3 read 2 "
        "(op 8) and then read 1 (op 10).")


def test_seeing_a_sessions_writes_out_of_order_breaks_only_the_pair() -> None:
    # Reads may go back while writes are in order, or writes be out of order while reads
    # move forward: each guarantee alone holds, the two together do not.
    h = reg("p0 w 1", "p0 w 2", "p1 r 2", "p1 r 1")
    assert validity(h) == {RYW: U, MR: T, MW: T, WFR: U, SESSION: F}
    assert check_session(h, CheckOptions()).anomalies[0].data["guarantees"] == [MR, MW]


# -- monotonic writes ----------------------------------------------------------------


def test_a_state_with_a_later_write_but_not_an_earlier_one_breaks_monotonic_writes() -> None:
    h = kv("p0 w x 1", "p0 w y 2", "p1 txn r:y:2 r:x:nil")
    assert verdicts(h)[MW] == (F, [(MW, (0, 2, 4))])
    assert explanation(check_monotonic_writes, h) == (
        "process 0 wrote 1 to x (op 0) and then wrote 2 to y (op 2), yet op 4 (process 1) "
        "read y = 2 together with x = nil, the initial value: it saw the later write "
        "without the write before it.")


def test_per_key_one_state_of_two_keys_is_two_states() -> None:
    h = kv("p0 w x 1", "p0 w y 2", "p1 txn r:y:2 r:x:nil")
    assert validity(h, extra={"per_key": True})[MW] == U


def test_a_state_with_both_writes_holds() -> None:
    assert validity(kv("p0 w x 1", "p0 w y 2", "p1 txn r:y:2 r:x:1"))[MW] is True


def test_compare_and_set_loops_break_monotonic_writes_and_writes_follow_reads() -> None:
    # Versions 1 < 2 (process 0's writes) < 3 < 1 (each cas replaces what it read).
    h = reg("p0 cas 3 1", "p0 w 2", "p1 cas 2 3")
    assert verdicts(h)[MW] == (F, [(MW, (0, 2, 4))])
    assert verdicts(h)[WFR] == (F, [(WFR, (0, 2, 4))])
    assert explanation(check_monotonic_writes, h) == (
        "process 0 wrote 1 (op 0) and then wrote 2 (op 2), yet 2 is ordered before 1: "
        "op 4 (process 1) read 2 and replaced it with 3; op 0 (process 0) read 3 and "
        "replaced it with 1.")


# -- writes follow reads -------------------------------------------------------------


def test_a_state_with_a_write_but_not_what_it_followed_breaks_writes_follow_reads() -> None:
    h = kv("p0 w x 1", "p1 r x 1", "p1 w y 2", "p2 txn r:y:2 r:x:nil")
    assert verdicts(h)[WFR] == (F, [(WFR, (0, 2, 4, 6))])
    assert explanation(check_writes_follow_reads, h) == (
        "op 6 (process 2) read y = 2 together with x = nil, the initial value, although "
        "process 1's write of 2 to y (op 4) followed process 1's read of x = 1 (op 2): "
        "process 1 read x = 1 (op 2) → (writes-follow-reads) wrote 2 to y (op 4).")


def test_what_a_write_followed_is_followed_through_other_sessions() -> None:
    # y = 2 followed z = 3, which followed x = 1: a state holding y = 2 holds x = 1.
    h = kv("p0 w x 1", "p1 r x 1", "p1 w z 3", "p2 r z 3", "p2 w y 2",
           "p3 txn r:y:2 r:x:nil")
    assert verdicts(h)[WFR] == (F, [(WFR, (0, 2, 4, 6, 8, 10))])
    assert explanation(check_writes_follow_reads, h).endswith(
        "process 1 read x = 1 (op 2) → (writes-follow-reads) wrote 3 to z (op 4) → "
        "process 2 read z = 3 (op 6) → (writes-follow-reads) wrote 2 to y (op 8).")


def test_a_state_with_the_write_and_what_it_followed_holds() -> None:
    h = kv("p0 w x 1", "p1 r x 1", "p1 w y 2", "p2 txn r:y:2 r:x:1")
    assert validity(h)[WFR] is True


def test_two_sessions_each_writing_after_reading_the_others_write() -> None:
    h = reg("p0 r 2", "p0 w 1", "p1 r 1", "p1 w 2")
    assert validity(h) == {RYW: U, MR: U, MW: U, WFR: F, SESSION: F}
    assert explanation(check_writes_follow_reads, h) == (
        "process 0 read 2 (op 0) and then wrote 1 (op 2), yet 1 is ordered before 2: "
        "process 1 read 1 (op 4) and then wrote 2 (op 6).")


def test_reading_ones_own_future_write() -> None:
    h = reg("p0 r 5", "p0 w 5")
    assert verdicts(h)[WFR] == (F, [(WFR, (0, 2))])
    assert explanation(check_writes_follow_reads, h) == (
        "process 0 read 5 (op 0) before it wrote 5 (op 2) itself: it read its own future "
        "write.")


# -- all four ------------------------------------------------------------------------


def test_session_holds_on_a_sequential_history() -> None:
    h = reg("p0 w 1", "p0 r 1", "p1 r 1", "p1 w 2", "p0 w 3", "p0 r 3", "p1 r 3")
    v = check_session(h, CheckOptions())
    assert (v.valid, v.anomalies, [c.valid for c in v.children]) == (T, (), [T] * 4)
    assert v.explanation == (
        "Checked 4 reads and 3 writes in 2 sessions: a server order exists that keeps all "
        "four session guarantees at once (judged across the whole database).")


def test_session_names_the_guarantees_broken_on_their_own() -> None:
    v = check_session(reg("p0 w 1", "p1 r 1", "p1 r nil"), CheckOptions())
    assert [c.checker for c in v.children] == [RYW, MR, MW, WFR]
    assert v.details["violated"] == [MR]
    assert v.details["guarantees"] == {RYW: U, MR: F, MW: U, WFR: U}
    assert v.explanation.startswith("Violated on its own: monotonic-reads. No server order "
                                    "keeps all four session guarantees at once")


def test_contradictions_are_counted_and_the_first_to_show_comes_first() -> None:
    h = reg("p0 w 1", "p0 w 2", "p1 r 2", "p1 r 1", "p2 w 3", "p2 r nil")
    v = check_session(h, CheckOptions())
    assert v.details["violations"] == 2
    assert [a.ops for a in v.anomalies] == [(0, 2, 4, 6), (8, 10)]


def test_anomaly_data_spells_out_the_cycle() -> None:
    v = check_read_your_writes(reg("p0 w 1", "p0 cas 1 2", "p0 r 1"), CheckOptions())
    assert v.anomalies[0].data == {
        "key": None, "process": 0, "guarantees": [RYW],
        "reading": "judged across the whole database",
        "cycle": [{"kind": RYW, "from": 2, "to": 1, "ops": [2, 4]},
                  {"kind": "rmw", "from": 1, "to": 2, "ops": [2, 2]}]}
    assert v.details == {"guarantee": RYW, "reading": "whole-database", "violations": 1,
                         "constraints-on-cycles": 1, "sessions": 1, "reads": 2, "writes": 2}


# -- what counts ---------------------------------------------------------------------


def test_a_guarantee_with_nothing_to_judge_is_unknown() -> None:
    v = check_read_your_writes(reg("p0 w 1", "p1 r 1"), CheckOptions())
    assert (v.valid, v.anomalies) == (U, ())
    assert v.explanation.startswith(
        "Nothing to judge: the history has no session that read a key after writing it "
        "(judged across the whole database)")


def test_repeated_values_make_a_key_unjudgeable() -> None:
    h = reg("p0 w 1", "p1 w 1", "p0 r nil")
    v = check_read_your_writes(h, CheckOptions())
    assert (v.valid, v.anomalies, v.details["unjudged-keys"]) == (U, (), [None])
    assert v.explanation == (
        "Written values are not unique, so reads of them cannot be attributed to one write "
        "and these keys were not judged: the register: value 1 is written by ops 0, 2.")


def test_a_violation_on_another_key_beats_an_unjudgeable_one() -> None:
    h = kv("p0 w x 1", "p1 w x 1", "p0 w y 5", "p0 r y nil")
    assert verdicts(h)[RYW] == (F, [(RYW, (4, 6))])


def test_a_write_of_the_initial_value_is_ambiguous() -> None:
    assert validity(reg("p0 w 0", "p0 r 0"), init=0)[RYW] == U


def test_the_initial_value_comes_from_options() -> None:
    assert verdicts(reg("p0 w 1", "p0 r 0"), init=0)[RYW] == (F, [(RYW, (0, 2))])


def test_reads_of_values_nobody_wrote_fit_no_state() -> None:
    h = reg("p0 w 1 fail", "p1 r 1", "p2 r 7")
    for check in CHECKS.values():
        v = check(h, CheckOptions())
        assert v.valid is False
        assert [(a.kind, a.ops) for a in v.anomalies] == [("thin-air-read", (4,)),
                                                          ("aborted-read", (2,))]
    assert v.anomalies[1].explanation == (
        "process 1 read 1 (op 2), which only a failed write wrote (op 0 failed): no server "
        "state can explain such a read.")
    assert v.anomalies[1].data["failed-writes"] == [0]


def test_an_operation_that_does_not_see_its_own_write_fits_no_state() -> None:
    h = kv("p1 w x 2", "p0 txn w:x:1 r:x:2")
    assert verdicts(h) == {name: (F, [("internal", (2,))]) for name in CHECKS}
    assert explanation(check_session, h) == (
        "op 2 (process 0) wrote x = 1 and then read x = 2: an operation sees its own writes, "
        "so no server state explains this operation.")


def test_one_state_has_one_value_per_key() -> None:
    h = kv("p1 w x 2", "p0 txn r:x:2 r:x:nil")
    assert verdicts(h)[SESSION] == (F, [("internal", (2,))])


def test_an_indeterminate_write_that_was_read_happened() -> None:
    assert verdicts(reg("p0 w 1 info", "p1 r 1", "p1 r nil"))[MR] == (F, [(MR, (0, 2, 4))])


def test_an_indeterminate_write_ends_its_session() -> None:
    # The write may take effect after the read, so the read may miss it.
    h = reg("p0 w 1 info", "p0 r nil", "p0 w 2", "p0 r 2")
    assert validity(h) == {RYW: T, MR: T, MW: U, WFR: U, SESSION: T}


def test_a_process_carrying_on_after_an_indeterminate_op_is_a_new_session() -> None:
    h = reg("p0 w 1 info", "p1 r 1", "p0 w 2", "p0 r nil")
    assert explanation(check_read_your_writes, h).startswith(
        "process 0 (after op 0 was left indeterminate) wrote 2 (op 4) and then read nil")


def test_an_indeterminate_cas_that_was_read_also_read_its_old_value() -> None:
    # Op 4 happened (op 6 read 3), so it read 2 after process 1 had written 5: its state
    # held 5 (read your writes) and 2 precedes 5 (monotonic writes).
    h = reg("p1 w 2", "p1 w 5", "p1 cas 2 3 info", "p2 r 3")
    assert validity(h) == {RYW: T, MR: U, MW: T, WFR: T, SESSION: F}
    assert verdicts(h)[SESSION][1] == [(SESSION, (0, 2, 4))]


def test_failed_and_unfinished_reads_say_nothing() -> None:
    # The unfinished read ends process 0's first session; the second reads its own write.
    h = reg("p0 w 1", "p0 r 7 fail", "p0 r 8 info", "p0 w 2", "p0 r 2")
    assert validity(h) == {RYW: T, MR: U, MW: U, WFR: U, SESSION: T}


def test_a_session_reading_one_key_then_another_needs_nothing_ordered() -> None:
    # x = 1 was written first, so a state holding it need not hold y = 1.
    assert validity(kv("p0 w x 1", "p0 w y 1", "p1 r x 1", "p1 r y nil"))[SESSION] is True


def test_an_op_that_is_not_a_register_op_is_refused() -> None:
    with pytest.raises(HistoryError, match=r"op 0 \(add 1\) is neither a read"):
        check_read_your_writes(reg("p0 add 1"), CheckOptions())


def test_transaction_histories_name_their_keys() -> None:
    h = kv("p0 txn w:x:1", "p0 txn w:y:2", "p1 txn r:y:2 r:x:nil")
    assert verdicts(h)[MW] == (F, [(MW, (0, 2, 4))])
    assert explanation(check_monotonic_writes, h).startswith(
        "process 0 wrote 1 to x (op 0) and then wrote 2 to y (op 2), yet op 4")


def test_get_and_put_are_key_value_reads_and_writes() -> None:
    h = History.from_records((None, r) for r in [
        {"process": 0, "type": "invoke", "f": "put", "value": ["k", 1]},
        {"process": 0, "type": "ok", "f": "put", "value": ["k", 1]},
        {"process": 0, "type": "invoke", "f": "get", "value": ["k", None]},
        {"process": 0, "type": "ok", "f": "get", "value": ["k", None]}])
    assert verdicts(h)[RYW] == (F, [(RYW, (0, 2))])
    assert explanation(check_read_your_writes, h).startswith(
        "process 0 wrote 1 to k (op 0) and then read k = nil (op 2)")
