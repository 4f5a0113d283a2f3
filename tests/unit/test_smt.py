"""The SMT engine on literal histories: verdicts, orders, unsat cores, unsupported models."""

import time

import pytest

from labrys.checkers._native_engine import search_parts
from labrys.checkers._smt import search_smt, unsat_core
from labrys.checkers._wgl import Budget
from labrys.errors import UsageError
from labrys.models import get_model
from tests.unit.engine_histories import parts_of
from tests.unit.event_lines import history

BUDGET = Budget(deadline=None, memory_bytes=1 << 30)


def smt(h, model="cas-register", *, init=None, sequential=False):
    m = get_model(model, init) if init is not None else get_model(model)
    [part] = parts_of(m, h, split=False)
    return m, part.calls, search_smt(m, part.calls, sequential=sequential, budget=BUDGET)


STALE = history(
    "0 invoke write 1",
    "0 ok     write 1",
    "1 invoke read  null",
    "1 ok     read  0",
)


def test_a_stale_read_is_unsat_with_both_operations_in_the_core():
    m, calls, outcome = smt(STALE, init=0)
    assert outcome.valid is False and outcome.prefix == ()
    assert unsat_core(m, calls, sequential=False, budget=BUDGET) == [0, 1]


def test_the_same_history_is_sequentially_consistent_with_the_read_first():
    _, calls, outcome = smt(STALE, init=0, sequential=True)
    assert outcome.valid is True
    assert [calls[i].index for i in outcome.prefix] == [2, 0]


def test_a_valid_history_comes_back_with_an_order_z3_found():
    h = history(
        "0 invoke write 1",
        "1 invoke cas   [1, 2]",
        "0 ok     write 1",
        "1 ok     cas   [1, 2]",
        "2 invoke read  null",
        "2 ok     read  2",
    )
    _, calls, outcome = smt(h, init=0)
    assert outcome.valid is True
    assert [calls[i].index for i in outcome.prefix] == [0, 1, 4]


def test_a_crashed_write_may_have_happened_or_not():
    took_effect = history(
        "0 invoke write 1",
        "0 info   write 1",
        "1 invoke read  null",
        "1 ok     read  1",
    )
    assert smt(took_effect, init=0)[2].valid is True
    never = history(
        "0 invoke write 1",
        "0 info   write 1",
        "1 invoke read  null",
        "1 ok     read  0",
    )
    assert smt(never, init=0)[2].valid is True


def test_a_core_forgets_outcomes_rather_than_deleting_operations():
    # Deleting the write of 1 would leave its readers impossible on their own. Forgotten,
    # it may still have happened, but once only: the first read of 1 needs it before
    # op 3, the second after the write of 2. The core is read, write 2, read.
    h = history(
        "0 invoke write 1",
        "0 ok     write 1",
        "1 invoke read  null",
        "1 ok     read  1",
        "0 invoke write 2",
        "0 ok     write 2",
        "1 invoke read  null",
        "1 ok     read  1",
    )
    m, calls, outcome = smt(h, init=0)
    assert outcome.valid is False
    assert [calls[i].index for i in unsat_core(m, calls, sequential=False, budget=BUDGET)] \
        == [2, 4, 6]


def test_mutex_double_acquire_and_multi_register_transactions():
    double = history(
        "0 invoke acquire null",
        "0 ok     acquire null",
        "1 invoke acquire null",
        "1 ok     acquire null",
    )
    assert smt(double, "mutex")[2].valid is False
    txn = history(
        '0 invoke txn [["w", "x", 1], ["w", "y", 1]]',
        '0 ok     txn [["w", "x", 1], ["w", "y", 1]]',
        '1 invoke txn [["r", "x", null], ["r", "y", null]]',
        '1 ok     txn [["r", "x", 1], ["r", "y", 0]]',
    )
    assert smt(txn, "multi-register", init={"x": 0, "y": 0})[2].valid is False
    self_contradicting = history(
        '0 invoke txn [["w", "x", 1], ["r", "x", null]]',
        '0 ok     txn [["w", "x", 1], ["r", "x", 2]]',
    )
    assert smt(self_contradicting, "multi-register", init={"x": 0})[2].valid is False


def test_models_beyond_the_encoding_are_usage_errors():
    appends = history('0 invoke append ["k", "a"]', '0 ok append ["k", "a"]')
    with pytest.raises(UsageError, match="not append"):
        smt(appends, "kv")
    counter = history("0 invoke add 1", "0 ok add 1")
    with pytest.raises(UsageError, match="not counter"):
        smt(counter, "counter")


def test_an_exhausted_deadline_is_unknown():
    m, calls, _ = smt(STALE, init=0)
    past = Budget(deadline=time.monotonic() - 1, memory_bytes=1 << 30)
    assert search_smt(m, calls, sequential=False, budget=past).valid == "unknown"
    assert unsat_core(m, calls, sequential=False, budget=past) is None


def test_the_engine_switch_explains_smt_verdicts_with_a_search_prefix():
    m = get_model("cas-register", 0)
    parts = parts_of(m, STALE)
    [outcome] = search_parts(parts, sequential=False, budget=BUDGET, engine="smt")
    assert outcome.valid is False
    assert outcome.prefix == (0,) and outcome.states == (1,)
