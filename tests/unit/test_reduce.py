"""The reductions of `labrys.checkers._reduce`, each against the unmodified search.

Every literal scenario asserts what was done (dropped, bounded, split) *and* that the
verdict did not change; the property tests do the latter on random histories with
crashed operations, for every rule at once, and check that the rules really fired.
"""

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers._reduce import Reduction, reduce_calls, reduce_parts
from labrys.checkers._verdict import worst
from labrys.checkers._wgl import Budget, run, search_linearizable, search_sequential
from labrys.models import MultiRegister, get_model
from tests.unit.engine_histories import parts_of, simulate
from tests.unit.event_lines import history

BUDGET = Budget(deadline=None, memory_bytes=1 << 30)


def verdict(parts, *, sequential=False):
    search = search_sequential if sequential else search_linearizable
    return worst(o.valid for o in run([search(p.model, p.calls) for p in parts], BUDGET))


def reduced(model_name, h, *, sequential=False, init=None):
    model = get_model(model_name, init) if init is not None else get_model(model_name)
    parts = parts_of(model, h, split=not sequential)
    out, r = reduce_parts(parts, sequential=sequential)
    return parts, out, r


def test_a_crashed_write_nobody_read_is_dropped_and_the_verdict_stays():
    h = history(
        "0 invoke write 1",
        "1 invoke read  null",
        "0 info   write 1",
        "1 ok     read  null",
        "2 invoke write 2",
        "2 ok     write 2",
        "3 invoke read  null",
        "3 ok     read  2",
    )
    parts, out, r = reduced("register", h)
    assert r == Reduction(dropped=(0,))
    assert [c.index for c in out[0].calls] == [1, 4, 6]
    assert verdict(parts) is verdict(out) is True


def test_a_crashed_write_that_was_read_stays():
    h = history(
        "0 invoke write 1",
        "0 info   write 1",
        "1 invoke write 1",
        "1 ok     write 1",
        "2 invoke read  null",
        "2 ok     read  1",
    )
    _, out, r = reduced("register", h)
    assert r.dropped == ()
    assert [c.index for c in out[0].calls] == [0, 2, 4]


def test_a_crashed_cas_expecting_a_value_keeps_that_values_crashed_writer():
    # Nobody reads 1, but the crashed cas may have swapped 1 for 2, which is read.
    h = history(
        "0 invoke write 1",
        "0 info   write 1",
        "1 invoke cas   [1, 2]",
        "1 info   cas   [1, 2]",
        "2 invoke read  null",
        "2 ok     read  2",
    )
    parts, out, r = reduced("cas-register", h, init=0)
    assert r.dropped == ()
    assert [c.known for c in out[0].calls] == [True, True, True]  # both bounded by the read
    assert r.bounded == ((0, 5), (2, 5))
    assert verdict(parts) is verdict(out) is True


def test_the_window_of_a_uniquely_written_value_ends_at_its_first_reader():
    # The module docstring's scenario: write 7 crashed, read 7, then read 3 later.
    h = history(
        "0 invoke write 7",
        "0 info   write 7",
        "1 invoke read  null",
        "1 ok     read  7",
        "2 invoke read  null",
        "2 ok     read  3",
        "4 invoke write 3",
        "4 ok     write 3",
    )
    parts, out, r = reduced("register", h)
    assert r == Reduction(bounded=((0, 3),))
    [w] = [c for c in out[0].calls if c.index == 0]
    assert w.known and w.return_index == 3
    assert verdict(parts) is verdict(out) is False  # read 3 precedes the write of 3


def test_no_window_when_the_value_has_two_writers_or_is_the_initial_value():
    two_writers = history(
        "0 invoke write 7",
        "0 info   write 7",
        "1 invoke write 7",
        "1 ok     write 7",
        "2 invoke read  null",
        "2 ok     read  7",
    )
    assert reduced("register", two_writers)[2] == Reduction()
    initial = history(
        "0 invoke write 0",
        "0 info   write 0",
        "2 invoke read  null",
        "2 ok     read  0",
    )
    parts, out, r = reduced("register", initial, init=0)
    assert r == Reduction()
    assert verdict(parts) is verdict(out) is True


def test_no_window_for_sequential_consistency():
    h = history(
        "0 invoke write 7",
        "0 info   write 7",
        "1 invoke read  null",
        "1 ok     read  7",
    )
    assert reduced("register", h, sequential=True)[2] == Reduction()


def test_a_reader_that_returned_before_the_write_began_leaves_the_write_alone():
    h = history(
        "1 invoke read  null",
        "1 ok     read  7",
        "0 invoke write 7",
        "0 info   write 7",
    )
    parts, out, r = reduced("register", h)
    assert r == Reduction()
    assert verdict(parts) is verdict(out) is False


def test_kv_appends_count_as_observed_when_a_get_contains_them():
    h = history(
        '0 invoke append ["k", "x1y"]',
        '0 info   append ["k", "x1y"]',
        '1 invoke append ["k", "x2y"]',
        '1 info   append ["k", "x2y"]',
        '2 invoke put    ["k", "p"]',
        '2 info   put    ["k", "p"]',
        '3 invoke get    ["k", null]',
        '3 ok     get    ["k", "x2y"]',
    )
    parts, out, r = reduced("kv", h)
    # x1y is in no result, and no result begins with p; x2y is read.
    assert r == Reduction(dropped=(0, 4))
    assert [c.index for c in out[0].calls] == [2, 6]
    assert verdict(parts) is verdict(out) is True


def test_kv_puts_without_appends_are_bounded_like_register_writes():
    h = history(
        '0 invoke put ["k", "v"]',
        '0 info   put ["k", "v"]',
        '1 invoke get ["k", null]',
        '1 ok     get ["k", "v"]',
        '2 invoke get ["k", null]',
        '2 ok     get ["k", ""]',
    )
    parts, out, r = reduced("kv", h)
    assert r == Reduction(bounded=((0, 3),))
    assert verdict(parts) is verdict(out) is False


def test_multi_register_splits_into_groups_of_keys_that_transactions_connect():
    h = history(
        '0 invoke txn [["w", "x", 1]]',
        '0 ok     txn [["w", "x", 1]]',
        '1 invoke txn [["r", "y", null], ["w", "z", 2]]',
        '1 ok     txn [["r", "y", 0], ["w", "z", 2]]',
        '2 invoke txn [["r", "x", null]]',
        '2 ok     txn [["r", "x", 1]]',
    )
    model = get_model("multi-register", {"x": 0, "y": 0, "z": 0})
    parts = parts_of(model, h)
    out, r = reduce_parts(parts, sequential=False)
    assert r.split == 1
    assert sorted(p.key for p in out) == [("x",), ("y", "z")]
    assert {p.key: p.model for p in out}[("y", "z")] == MultiRegister(initial={"y": 0, "z": 0})
    assert verdict(parts) is verdict(out) is True
    seq_parts, r_seq = reduce_parts(parts, sequential=True)
    assert r_seq.split == 0 and len(seq_parts) == 1


def test_models_outside_the_register_family_are_left_alone():
    h = history("0 invoke add 1", "0 info add 1", "1 invoke read null", "1 ok read 0")
    model = get_model("counter")
    [part] = parts_of(model, h)
    calls, r = reduce_calls(model, part.calls, sequential=False)
    assert calls == list(part.calls) and r == Reduction()


def test_reduction_details_are_json_ready():
    r = Reduction(dropped=(1, 4), bounded=((0, 3),), split=2)
    assert r.to_json() == {"dropped": [1, 4], "bounded": [[0, 3]], "split": 2}


def _same_verdict(seed: int, sequential: bool) -> tuple[bool, Reduction]:
    rng = random.Random(seed)
    name = rng.choice(["register", "cas-register", "kv"])
    h = simulate(rng, name, max_steps=28, crash=0.3, unique=rng.random() < 0.5)
    parts = parts_of(get_model(name), h, split=not sequential)
    out, r = reduce_parts(parts, sequential=sequential)
    return verdict(parts, sequential=sequential) == verdict(out, sequential=sequential), r


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sequential=st.booleans())
def test_reductions_never_change_a_verdict(seed, sequential):
    same, _ = _same_verdict(seed, sequential)
    assert same


def test_on_a_seeded_sweep_the_rules_fire_and_verdicts_of_both_kinds_occur():
    fired: Counter[str] = Counter()
    for seed in range(300):
        same, r = _same_verdict(seed, sequential=seed % 2 == 1)
        assert same, seed
        fired["dropped"] += bool(r.dropped)
        fired["bounded"] += bool(r.bounded)
    assert fired["dropped"] > 30 and fired["bounded"] > 10
