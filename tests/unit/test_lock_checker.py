"""The lock checker on tiny literal histories: overlapping holds and lost updates.

Op i happens at i ms. A hold runs from its acquire's ok to its release's invocation.
"""

from __future__ import annotations

from labrys.checkers import UNKNOWN, CheckOptions, run_checker
from labrys.checkers._lock import Hold, holds
from tests.unit.op_rows import Row, info, inv, ok, summary
from tests.unit.op_rows import history as rows_history


def history(*rows: Row):
    return rows_history(*rows, tick_ns=1_000_000)


def check(*rows: Row):
    return run_checker("lock", history(*rows), CheckOptions())


def cycle(p: int, element: int, length: int, last) -> list[Row]:
    """A whole acquire, update, release of process p."""
    return [inv(p, "acquire"), ok(p, "acquire", {"lease": "1"}),
            inv(p, "update", element),
            ok(p, "update", {"element": element, "length": length, "last": last}),
            inv(p, "release"), ok(p, "release")]


def final_read(*elements: int) -> list[Row]:
    return [inv(9, "read"), ok(9, "read", list(elements))]


def test_holds_one_after_another_keeping_every_update_are_valid():
    v = check(*cycle(0, 0, 0, None), *cycle(1, 1, 1, 0), *final_read(0, 1))
    assert summary(v) == (True, [])
    assert v.details == {"holds": 2, "overlapping-pairs": 0, "ok-updates": 2,
                         "lost-updates": 0, "final-read": 12}


def test_an_acquire_completing_before_the_holder_invoked_its_release_overlaps():
    v = check(inv(0, "acquire"), ok(0, "acquire"),            # 0 holds from 1 ms
              inv(1, "acquire"), ok(1, "acquire"),            # 1 holds from 3 ms
              inv(0, "release"), ok(0, "release"),            # 0 lets go at 4 ms
              inv(1, "release"), ok(1, "release"), *final_read())
    assert summary(v) == (False, [("overlapping-holders", (0, 2, 4))])
    assert ("process 1 acquired the lock (op 2, at 0.003 s) while process 0 held it: it "
            "had acquired it (op 0, at 0.001 s) and only at 0.004 s invoked its release "
            "(op 4)") in v.explanation


def test_an_acquire_completing_after_the_release_was_invoked_does_not_overlap():
    # The release was invoked at 2 ms; the second acquire completed at 4 ms. Even with
    # the acquire invoked before the release, a correct lock allows this.
    v = check(inv(0, "acquire"), ok(0, "acquire"),
              inv(1, "acquire"), inv(0, "release"), ok(1, "acquire"), ok(0, "release"),
              *final_read())
    assert summary(v) == (True, [])


def test_a_holder_that_crashed_holds_until_its_last_invocation():
    v = check(inv(0, "acquire"), ok(0, "acquire"), inv(0, "update", 5),  # invoked at 2 ms
              inv(1, "acquire"), ok(1, "acquire"),                       # holds from 4 ms
              info(0, "update", 5), *final_read(5))
    assert summary(v) == (True, [])
    assert holds(history(inv(0, "acquire"), ok(0, "acquire"), inv(0, "update", 5),
                         info(0, "update", 5)).operations()) == [
        Hold(process=0, acquire=0, start_ns=1_000_000, end_ns=2_000_000, release=None)]


def test_an_update_missing_from_the_final_read_is_lost_and_names_who_read_the_same_list():
    # Both updates read the empty list; 1's write replaced 0's.
    v = check(*cycle(0, 0, 0, None), *cycle(1, 1, 0, None), *final_read(1))
    assert summary(v) == (False, [("lost-update", (2, 8, 12))])
    assert ("update op 2 (process 0) appended 0 under the lock, and the final read (op 12) "
            "lacks it; op 8 read the same 0 elements, so wrote the list back without it") in (
        v.explanation)


def test_without_a_final_read_updates_cannot_be_judged():
    v = check(*cycle(0, 0, 0, None))
    assert summary(v) == (UNKNOWN, [])
    assert "no final read" in v.explanation


def test_without_a_successful_acquire_there_is_nothing_to_judge():
    assert check(inv(0, "acquire"), info(0, "acquire")).valid == UNKNOWN
