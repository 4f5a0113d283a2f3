"""``--minimize``: minimal invalid sets, checked independently of the minimiser.

The oracle is the ``linearizable``/``sequential`` checker itself, on plain histories
built here: the minimal set's operations as recorded, every other operation turned into
a crash (its completion rewritten as ``info``). The set must be invalid that way, and
also on its own; forgetting any one of its operations as well must make it valid.
"""

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers import CheckOptions
from labrys.checkers._linearizable import check_linearizable, check_sequential
from labrys.checkers._minimize import Minimal, ddmin, minimal_anomaly, minimize
from labrys.history import History, OpType
from labrys.models import get_model
from tests.unit.engine_histories import simulate
from tests.unit.event_lines import history


def forgetting(h: History, keep: set[int]) -> History:
    """``h`` with every operation outside ``keep`` (invocation indices) made a crash."""
    ops = []
    for op in h:
        if op.is_client and not h.is_invocation(op) and h.invocation(op).index not in keep \
                and op.type is OpType.OK:
            op = replace(op, type=OpType.INFO, value=h.invocation(op).value)
        ops.append(op)
    return History(ops)


def python_validity(h: History, options: CheckOptions, *, sequential: bool):
    """The verdict, with nothing left to judge counted as valid: forgetting an operation
    that leaves no contradiction, not even an operation, is what 1-minimal means."""
    check = check_sequential if sequential else check_linearizable
    verdict = check(h, replace(options, engine="python", timeout_s=30))
    return True if verdict.details.get("nothing_to_judge") else verdict.valid


def assert_minimal(h: History, m: Minimal, options: CheckOptions, *, sequential=False):
    keep = set(m.ops)
    assert python_validity(forgetting(h, keep), options, sequential=sequential) is False
    assert python_validity(m.history, options, sequential=sequential) is False
    for x in m.ops:
        assert python_validity(forgetting(h, keep - {x}), options,
                               sequential=sequential) is True, x
    assert m.one_minimal
    # The sub-history is whole operations, renumbered, with their original indices.
    assert [op.index for op in m.history] == list(range(len(m.history)))
    sources = [op.extra["source_index"] for op in m.history]
    assert sources == sorted(sources)
    assert {o.index for o in h.operations() if o.index in keep} == \
        {op.extra["source_index"] for op in m.history if m.history.is_invocation(op)}


STALE_IN_A_CROWD = history(
    "0 invoke write 1",
    "0 ok     write 1",
    "1 invoke read  null",
    "1 ok     read  1",
    "3 invoke read  null",
    "0 invoke write 2",
    "0 ok     write 2",
    "3 ok     read  2",
    "2 invoke read  null",
    "2 ok     read  1",
    "1 invoke cas   [2, 3]",
    "1 fail   cas   [2, 3]",
)


def test_a_stale_read_in_a_crowd_comes_down_to_read_write_read():
    options = CheckOptions(model="cas-register", init=0)
    m = minimize(STALE_IN_A_CROWD, options)
    assert m is not None
    assert m.ops == (2, 5, 8)
    assert_minimal(STALE_IN_A_CROWD, m, options)
    anomaly = minimal_anomaly(m, get_model("cas-register", 0))
    assert anomaly.kind == "minimal-counterexample"
    assert anomaly.ops == (2, 5, 8)
    assert anomaly.explanation == (
        "These 3 operations, as they ended, are not linearizable whatever the other "
        "operations did (forget how any one of them ended and the history is "
        "linearizable): op 2 (process 1, ok: read → 1); op 5 (process 0, ok: write 2); "
        "op 8 (process 2, ok: read → 1).")


def test_a_valid_history_has_nothing_to_minimise():
    h = history("0 invoke write 1", "0 ok write 1", "1 invoke read null", "1 ok read 1")
    assert minimize(h, CheckOptions(model="register")) is None


def test_a_kv_history_is_minimised_within_its_failing_key():
    h = history(
        '0 invoke put ["a", "1"]',
        '0 ok     put ["a", "1"]',
        '1 invoke put ["b", "1"]',
        '1 ok     put ["b", "1"]',
        '2 invoke get ["b", null]',
        '2 ok     get ["b", ""]',
        '3 invoke get ["a", null]',
        '3 ok     get ["a", "1"]',
    )
    options = CheckOptions(model="kv")
    m = minimize(h, options)
    assert m is not None and m.ops == (2, 4)
    assert_minimal(h, m, options)


def test_sequential_minimisation_keeps_process_order_as_the_constraint():
    h = history(
        "0 invoke write 1",
        "0 ok     write 1",
        "0 invoke read  null",
        "0 ok     read  0",
        "1 invoke read  null",
        "1 ok     read  0",
    )
    options = CheckOptions(model="register", init=0)
    m = minimize(h, options, sequential=True)
    assert m is not None and m.ops == (0, 2)
    assert_minimal(h, m, options, sequential=True)


def test_ddmin_finds_the_two_culprits_among_ten():
    calls = []

    def fails(items):
        calls.append(list(items))
        return {3, 7} <= set(items)

    assert ddmin(range(10), fails) == [3, 7]
    assert len(calls) < 30


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_minimal_sets_of_random_invalid_histories_are_invalid_and_1_minimal(seed):
    rng = random.Random(seed)
    name = rng.choice(["register", "cas-register", "mutex"])
    h = simulate(rng, name, max_steps=30, crash=0.2, corrupt=0.3)
    options = CheckOptions(model=name)
    if python_validity(h, options, sequential=False) is not False:
        assert minimize(h, options) is None
        return
    m = minimize(h, options)
    assert m is not None
    assert_minimal(h, m, options)
