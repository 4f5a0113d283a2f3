"""The read-mapping decides unique-value registers exactly as the search does.

Literal scenarios pin each kind of contradiction; random histories (hypothesis) demand
the same verdict from the read-mapping and the Python search wherever the read-mapping
applies, for read/write registers, compare-and-set registers (the chains of cas that
go beyond Gibbons and Korach's read/write case) and kv keys without appends.
"""

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers import CheckOptions, _decide
from labrys.checkers._linearizable import check_linearizable
from labrys.checkers._native_engine import search_parts
from labrys.checkers._read_mapping import INITIAL, Conflict, ReadMapping, read_mapping
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._wgl import Budget, Outcome
from labrys.history import History, Op, OpType
from labrys.models import get_model
from tests.unit.engine_histories import parts_of
from tests.unit.event_lines import history


def decide(h, model="cas-register", init=None):
    m = get_model(model) if init is None else get_model(model, init)
    [part] = reduce_parts(parts_of(m, h), sequential=False)[0] or [None]
    return part, read_mapping(part.model, part.calls)


def conflict(h, model="cas-register", **kw):
    _, result = decide(h, model, **kw)
    assert result is not None
    return result.conflict


def test_a_read_of_the_value_just_written_is_linearizable():
    assert conflict(history("0 invoke write 1", "0 ok write 1",
                            "1 invoke read null", "1 ok read 1")) is None


def test_the_classic_stale_read_is_a_chain_nested_in_another():
    h = history("0 invoke write 1", "0 ok write 1",      # ops 0-1
                "1 invoke write 2", "1 ok write 2",      # ops 2-3
                "2 invoke read null", "2 ok read 1")     # ops 4-5
    c = conflict(h)
    # Value 1 had to stay from op 0's completion until the read (call 2) began; value 2
    # (call 1) took effect entirely inside that stretch.
    assert c == Conflict(kind="nested", op=2, others=(0, 1, 1), chains=(0, 1))
    v = check_linearizable(h, CheckOptions(model="cas-register"))
    assert (v.valid, v.details["decided_by"]) == (False, ["read-mapping"])
    assert v.anomalies[0].data["op"] == 4


def test_two_values_that_had_to_stay_over_overlapping_stretches():
    h = history("0 invoke write 1", "0 ok write 1",
                "1 invoke write 2", "1 ok write 2",
                "2 invoke read null", "3 invoke read null",
                "2 ok read 1", "3 ok read 2",
                "4 invoke read null", "4 ok read 1",
                "5 invoke read null", "5 ok read 2")
    c = conflict(h)
    assert c is not None and c.kind in ("overlap", "nested")


def test_a_read_of_a_value_nobody_wrote():
    c = conflict(history("0 invoke read null", "0 ok read 7"), init=0)
    assert c == Conflict(kind="unwritten", op=0)


def test_two_cas_cannot_both_replace_one_value():
    h = history("0 invoke cas [0, 1]", "0 ok cas [0, 1]",
                "1 invoke cas [0, 2]", "1 ok cas [0, 2]")
    assert conflict(h, init=0) == Conflict(kind="reused", op=1, others=(0, INITIAL))


def test_cas_operations_that_only_feed_each_other():
    h = history("0 invoke cas [1, 2]", "0 ok cas [1, 2]",
                "1 invoke cas [2, 1]", "1 ok cas [2, 1]")
    assert conflict(h, init=0) == Conflict(kind="cycle", op=0, others=(1,))


def test_a_read_that_completed_before_its_write_began():
    h = history("0 invoke read null", "0 ok read 1", "1 invoke write 1", "1 ok write 1")
    assert conflict(h, init=0) == Conflict(kind="order", op=0, others=(1,), chains=(1,))


def test_a_chain_of_cas_is_one_stretch_in_its_own_order():
    good = history("0 invoke write 1", "0 ok write 1",
                   "1 invoke cas [1, 2]", "1 ok cas [1, 2]",
                   "2 invoke read null", "2 ok read 2",
                   "3 invoke cas [2, 3]", "3 ok cas [2, 3]")
    assert conflict(good) is None
    # A read of 1 that began after the cas to 3 completed: 1 never comes back.
    bad = history("0 invoke write 1", "0 ok write 1",
                  "1 invoke cas [1, 2]", "1 ok cas [1, 2]",
                  "2 invoke read null", "2 ok read 1")
    assert conflict(bad).kind == "order"


def test_a_write_inside_a_chain_breaks_it():
    # write 1, then write 5 completes, then cas 1→2 begins: 1 was gone by then.
    h = history("0 invoke write 1", "0 ok write 1",
                "1 invoke write 5", "1 ok write 5",
                "2 invoke cas [1, 2]", "2 ok cas [1, 2]")
    assert conflict(h).kind == "nested"


def test_it_does_not_apply_to_values_written_twice_or_the_initial_value():
    twice = history("0 invoke write 1", "0 ok write 1", "1 invoke write 1", "1 ok write 1")
    assert decide(twice)[1] is None
    initial = history("0 invoke write 0", "0 ok write 0")
    assert decide(initial, init=0)[1] is None


def test_it_does_not_apply_to_kv_appends_or_other_models():
    h = history('0 invoke append ["x", "a"]', '0 ok append ["x", "a"]')
    assert decide(h, model="kv")[1] is None
    m = history("0 invoke acquire null", "0 ok acquire null")
    assert decide(m, model="mutex")[1] is None


def test_a_crashed_write_someone_read_certainly_happened():
    h = history("0 invoke write 1", "0 info write 1",
                "1 invoke read null", "1 ok read 1")
    assert conflict(h) is None


def test_a_refuted_part_is_explained_by_the_read_mapping_when_the_search_runs_out(
        monkeypatch):
    h = history("0 invoke write 1", "0 ok write 1", "1 invoke write 2", "1 ok write 2",
                "2 invoke read null", "2 ok read 1")
    monkeypatch.setattr(_decide, "search_parts", lambda parts, **kw: [
        Outcome(valid="unknown", stopped="memory") for _ in parts])
    v = check_linearizable(h, CheckOptions(model="cas-register", engine="python"))
    assert v.valid is False
    [a] = v.anomalies
    assert a.data["algorithm"] == "read-mapping" and a.data["conflict"] == "nested"
    assert a.ops == (0, 2, 4)
    assert a.explanation == (
        "Op 4 (process 2: read → 1) cannot be linearized: 1 had to stay in the register "
        "from when op 0 (process 0: write 1) completed until op 4 began; but 2, written by "
        "op 2 (process 1: write 2), had to take effect entirely inside that time: the last "
        "operation on it to begin, op 2, began after it started, and the first to "
        "complete, op 2, completed before it ended.")


def test_a_disagreement_with_the_search_is_raised(monkeypatch):
    h = history("0 invoke write 1", "0 ok write 1", "1 invoke read null", "1 ok read 1")
    monkeypatch.setattr(_decide, "read_mapping",
                        lambda model, calls: ReadMapping(Conflict(kind="unwritten", op=1)))
    with pytest.raises(AssertionError, match="disagree"):
        check_linearizable(h, CheckOptions(model="cas-register"))


# -- random histories -------------------------------------------------------------------


def simulate_unique(rng: random.Random, model: str, steps: int, processes: int, *,
                    lie: float = 0.08) -> History:
    """A register (or kv key) history with unique written values: each op takes effect at
    a random moment inside its interval; some completions crash; some reads and cas lie."""
    ops: list[Op] = []
    state = None if model != "kv" else ""
    serial = 0
    ids = list(range(processes))
    fresh = processes
    flight: list[list | None] = [None] * processes
    written: list = [state, "never"]  # "never" is never written: reads of it are lies
    for _ in range(steps):
        s = rng.randrange(processes)
        cur = flight[s]
        if cur is None:
            serial += 1
            r = rng.random()
            if model == "kv":
                f, value = ("get", ["k", None]) if r < 0.5 else ("put", ["k", f"v{serial}"])
            elif r < 0.45 or (model == "register" and r < 0.6):
                f, value = "read", None
            elif r < 0.75 or model == "register":
                f, value = "write", serial
            else:
                old = state if rng.random() < 0.7 else rng.choice(written)
                f, value = "cas", [old, serial]
            flight[s] = [f, value, False, None]
            ops.append(Op(index=len(ops), time=0, type=OpType.INVOKE, process=ids[s], f=f,
                          value=value))
        elif not cur[2]:
            f, value = cur[0], cur[1]
            if f in ("read", "get"):
                cur[3] = state
            elif f == "cas":
                if state == value[0]:
                    state = value[1]
                    written.append(state)
                else:
                    cur[3] = "fail"
            else:
                state = value if f == "write" else value[1]
                written.append(state)
            cur[2] = True
        else:
            f, value, _, result = cur
            lies = rng.random() < lie
            if rng.random() < 0.1:
                kind, out = OpType.INFO, value
            elif result == "fail" and not lies:
                kind, out = OpType.FAIL, value
            elif f == "read":
                kind, out = OpType.OK, rng.choice(written) if lies else result
            elif f == "get":
                kind, out = OpType.OK, ["k", rng.choice(written) if lies else result]
            else:
                kind, out = OpType.OK, value
            ops.append(Op(index=len(ops), time=0, type=kind, process=ids[s], f=f, value=out))
            flight[s] = None
            if kind is OpType.INFO:
                ids[s] = fresh
                fresh += 1
    return History(ops)


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       model=st.sampled_from(["register", "cas-register", "kv"]),
       steps=st.integers(1, 80), processes=st.integers(1, 6),
       lie=st.sampled_from([0.01, 0.08]))
def test_the_read_mapping_agrees_with_the_search(seed, model, steps, processes, lie):
    h = simulate_unique(random.Random(seed), model, steps, processes, lie=lie)
    parts, _ = reduce_parts(parts_of(get_model(model), h), sequential=False)
    for part in parts:
        mapped = read_mapping(part.model, part.calls)
        if mapped is None:
            continue
        [searched] = search_parts([part], sequential=False, engine="python",
                                  budget=Budget(deadline=time.monotonic() + 60,
                                                memory_bytes=1 << 30))
        assert searched.valid is (mapped.conflict is None), (mapped, part.calls)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["register", "cas-register"]))
def test_the_verdict_is_the_same_with_and_without_the_read_mapping(seed, model):
    h = simulate_unique(random.Random(seed), model, 40, 4)
    on = check_linearizable(h, CheckOptions(model=model))
    off = check_linearizable(h, CheckOptions(model=model, extra={"read_mapping": False}))
    assert on.valid == off.valid
    if on.valid is False and "conflict" not in on.anomalies[0].data:
        assert on.explanation == off.explanation
