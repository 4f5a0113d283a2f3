"""The online checks: what each judges on a prefix, when, and what it must not claim.

Each test feeds a tiny history op by op, calling ``check`` after every op as the online
worker does, and asserts at which op the first anomaly shows and what it says; the
scenarios of `labrys.checkers._online`'s soundness notes (a pending write, a garbage read
of a later write, a thin-air read) have a test each showing the online check stays silent
where a longer history can still refute the prefix.
"""

from __future__ import annotations

import json

import pytest

from labrys.checkers import (
    CheckOptions,
    OnlineCheck,
    OnlineFinding,
    make_online_checker,
    online_check,
    run_checker,
)
from labrys.checkers._online import PrefixChecker
from labrys.history import History
from tests.unit import txn_notation as txn
from tests.unit.op_rows import fail, history, info, inv, ok

SECOND = 10**9


def feed(check: OnlineCheck, h: History, *,
         final: bool = False) -> tuple[int, OnlineFinding] | None:
    """Feed ``h`` op by op, checking after each; (index of the op just fed, finding)."""
    checker = make_online_checker(check)
    if isinstance(checker, PrefixChecker):
        checker.min_interval_s = checker.pace = 0.0  # judge every prefix
    for op in h:
        checker.feed(op)
        found = checker.check()
        if found is not None:
            return op.index, found
    if final:
        found = checker.check(final=True)
        if found is not None:
            return len(h) - 1, found
    return None


def register_check(ops_per_key: int) -> OnlineCheck:
    check = online_check("register", CheckOptions(), ops_per_key=ops_per_key)
    assert check is not None
    return check


# -- linearizability, key by key ------------------------------------------------------

STALE = history(
    inv(0, "write", [0, 1]), ok(0, "write", [0, 1]),       # 0 1
    inv(1, "write", [0, 2]), ok(1, "write", [0, 2]),       # 2 3
    inv(2, "read", [0, None]), inv(0, "read", [0, None]),  # 4 5: key 0 is full
    ok(2, "read", [0, 1]),                                 # 6: 1 was overwritten by 2
    ok(0, "read", [0, 2]),                                 # 7
    inv(0, "write", [1, 3]), ok(0, "write", [1, 3]),       # 8 9: key 1
    tick_ns=SECOND)


def test_a_stale_read_is_found_when_it_completes_and_named_by_its_index_in_the_history():
    at, found = feed(register_check(4), STALE)
    assert at == 6  # the key was full at op 5 (read pending: fine), the read completed at 6
    assert (found.kind, found.label, found.op, found.time_ns) == (
        "nonlinearizable", "key 0: stale read", 4, 6 * SECOND)
    assert found.explanation.startswith(
        "Key 0: op 4 (process 2: read → 1) cannot be linearized: read returned 1, but the "
        "register held 2.")
    assert found.prefix_ops == 7
    assert found.to_json()["at_s"] == 6.0


def test_keys_are_judged_only_once_full_and_a_later_key_is_judged_on_its_own():
    # Declared 5 ops a key: key 0 never fills, so only the end judges it.
    assert feed(register_check(5), STALE) is None
    _, found = feed(register_check(5), STALE, final=True)
    assert found.label == "key 0: stale read"
    valid_key_1 = history(*[(p, t, f, [1, v] if v is not None else [1, None])
                            for p, t, f, v in [inv(0, "write", 3), ok(0, "write", 3),
                                               inv(1, "read", None), ok(1, "read", 3)]])
    assert feed(register_check(2), valid_key_1, final=True) is None


def test_a_pending_write_may_still_happen_so_a_read_of_its_value_is_no_anomaly_yet():
    pending = [inv(1, "write", [0, 3]), inv(2, "read", [0, None]), ok(2, "read", [0, 3])]
    assert feed(register_check(2), history(*pending), final=True) is None
    # Once the write fails, nothing wrote 3: now it is one.
    at, found = feed(register_check(2), history(*pending, fail(1, "write", [0, 3])))
    assert at == 3
    assert found.label == "key 0: read of 3, which nothing wrote"
    # A timed-out write may have happened: still none.
    assert feed(register_check(2), history(*pending, info(1, "write", [0, 3])),
                final=True) is None


def test_the_online_verdict_on_a_whole_history_is_the_offline_one():
    offline = run_checker("register", STALE, CheckOptions())
    assert offline.valid is False
    assert offline.children[0].anomalies[0].data["key"] == 0


# -- Elle ------------------------------------------------------------------------------

def elle(model: str = "serializable", checker: str = "list-append") -> OnlineCheck:
    check = online_check(checker, CheckOptions(consistency_models=(model,)))
    assert check is not None
    return check


def test_write_skew_is_found_as_soon_as_both_transactions_completed():
    # T0 reads y empty and appends to x; T1 reads x empty and appends to y: G2-item.
    h = txn.history(txn.T("rxay1"), txn.T("ryax1"), txn.T("rx1"), layout="0 1 0 1 2 2")
    at, found = feed(elle(), h)
    assert at == 3  # both completions are in; T2 adds nothing the cycle needs
    assert found.kind == "G2-item"
    assert found.ops == (2, 3)
    assert found.op == 3 and found.label == "G2-item"


def test_a_garbage_read_is_not_an_online_finding_a_later_write_may_explain_it():
    # T0 reads x = [5] before anyone appended 5; T1, invoked after T0 completed, appends
    # it. Serializable allows this (no real time), so the prefix's garbage read was no
    # anomaly of the whole history.
    h = txn.history(txn.T("rx5"), txn.T("ax5"), layout=txn.SEQUENTIAL)
    prefix = History(list(h)[:2])
    verdict = run_checker("list-append", prefix, elle().options)
    assert verdict.valid is False and "garbage-read" in verdict.details["anomaly-types"]
    assert feed(elle(), h) is None
    assert run_checker("list-append", h, elle().options).valid is True


def test_claims_that_allow_aborted_reads_have_no_online_check():
    # A cycle through a pending transaction that later fails would vanish; only G1a
    # would show, and read uncommitted allows it.
    assert online_check("list-append", CheckOptions(
        consistency_models=("read-uncommitted",))) is None
    assert online_check("rw-register", CheckOptions(
        consistency_models=("read-committed",))) is not None


# -- session guarantees ---------------------------------------------------------------

def test_a_session_reading_before_its_own_write_is_found_online():
    h = history(inv(0, "write", 1), ok(0, "write", 1), inv(0, "read"), ok(0, "read", None))
    at, found = feed(online_check("session", CheckOptions()), h)
    assert at == 3 and found.kind == "session" and found.op == 2
    assert "process 0 wrote 1 (op 0) → (read-your-writes) read nil (op 2)" in found.explanation


def test_a_thin_air_read_is_not_an_online_finding_a_later_write_may_explain_it():
    h = history(inv(0, "read"), ok(0, "read", 7), inv(1, "write", 7), ok(1, "write", 7),
                inv(1, "read"), ok(1, "read", 7))
    check = online_check("session", CheckOptions())
    assert run_checker("session", History(list(h)[:2]), check.options).valid is False
    assert feed(check, h) is None
    assert run_checker("session", h, check.options).valid is True


# -- what is declared, and how it travels --------------------------------------------

def test_only_prefix_closed_checkers_have_an_online_form():
    assert [name for name in ("set", "counter", "bank", "stats", "register", "session")
            if online_check(name, CheckOptions()) is not None] == ["register", "session"]
    assert register_check(100).cheap and not elle().cheap


@pytest.mark.parametrize("check", [register_check(7), elle("repeatable-read"),
                                   online_check("session", CheckOptions(init=0))])
def test_a_declaration_crosses_to_the_worker_process_unchanged(check):
    assert OnlineCheck.from_json(json.loads(json.dumps(check.to_json()))) == check


def test_a_prefix_check_paces_itself_by_the_time_its_last_check_took():
    now = [0.0]
    checker = PrefixChecker(elle(), pace=3.0, min_interval_s=0.5, clock=lambda: now[0])
    ops = list(txn.history(txn.T("ax1"), txn.T("rx1"), layout=txn.SEQUENTIAL))
    checker.feed(ops[0])
    assert checker.check() is None and checker.progress() == "1 ops judged"
    checker.feed(ops[1])
    now[0] = 0.4
    assert checker.check() is None and checker.progress() == "1 ops judged"  # too soon
    now[0] = 0.5
    assert checker.check() is None and checker.progress() == "2 ops judged"
    checker.feed(ops[2])
    assert checker.check(final=True) is None and checker.progress() == "3 ops judged"
